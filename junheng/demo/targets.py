"""What the demo city looks like: populations and the intended indicator values.

The generator first decides, for every district and year, the value each
indicator should take; the feed writers then create entity rows (schools,
institutions, persons, station-hours) whose aggregates realise those values.

Calibration: in 2020 the city value of every indicator with a Table 1 baseline,
pooled the way methodology.md pools it (ratio of sums, population-weighted means),
equals the baseline before rounding to whole rows.  Districts differ along two
axes a real city shows: an urban-core gradient (Gusu, SIP, Huqiu ahead on
hospitals and school groups) and a county-city effect (Changshu, Zhangjiagang,
Kunshan, Taicang ahead on township eldercare coverage and GPs, behind on others).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from junheng.reference import BASELINE_YEAR, FINAL_YEAR, YEARS, districts, indicators

# Urban-core gradient (1 = historic centre, negative = outer/rural).
CORE = {
    "320508": 1.0, "320505": 0.4, "320506": 0.0, "320507": -0.3, "320509": -0.2,
    "320571": 0.7, "320581": -0.3, "320582": -0.1, "320583": 0.2, "320585": -0.3,
}
# Annual resident growth: new towns grow, the old centre shrinks a little.
GROWTH = {
    "320508": -0.004, "320505": 0.015, "320506": 0.012, "320507": 0.015, "320509": 0.010,
    "320571": 0.025, "320581": 0.004, "320582": 0.005, "320583": 0.020, "320585": 0.010,
}
# Share of residents aged 60+ in 2020; rises by AGEING_PER_YEAR each year.
SHARE_60_PLUS = {
    "320508": 0.27, "320505": 0.14, "320506": 0.17, "320507": 0.16, "320509": 0.20,
    "320571": 0.10, "320581": 0.23, "320582": 0.21, "320583": 0.13, "320585": 0.22,
}
AGEING_PER_YEAR = 0.005
SHARE_0_2, SHARE_3_5, SHARE_6_14 = 0.024, 0.030, 0.092
TOWNSHIP_SIZE = 134_000  # residents per township: about 95 townships city-wide


@dataclass(frozen=True)
class Shape:
    """How an indicator varies across districts and where it heads."""

    core: float      # loading on the urban-core gradient
    county: float    # loading on the county-city effect
    spread: float    # relative size of district differences
    start: float     # city value in 2020 (the Table 1 baseline where there is one)
    goal: float      # city value the trend heads for by 2025
    cap: float | None = None


SHAPES: dict[str, Shape] = {
    "E1": Shape(0.5, -0.5, 0.06, 85.0, 91.0, 99.5),
    "E2": Shape(1.0, -0.8, 0.12, 82.0, 91.0, 100.0),
    "E3": Shape(-0.3, 0.2, 0.04, 100.0, 101.5, 108.0),
    "E4": Shape(-0.5, 0.6, 0.08, 15.0, 14.0),
    "H1": Shape(1.2, -0.3, 0.18, 2.92, 3.9),
    "H2": Shape(0.3, 0.5, 0.15, 3.82, 4.6),
    "H3": Shape(1.2, -0.2, 0.20, 5.86, 7.6),
    "H4": Shape(0.8, 0.1, 0.006, 84.04, 85.1),
    "H5": Shape(0.2, 0.2, 0.015, 95.0, 97.0, 99.8),
    "H6": Shape(-0.5, 0.6, 0.008, 98.0, 99.2, 99.9),
    "O1": Shape(0.3, -0.6, 0.08, 75.0, 79.0, 99.0),
    "O2": Shape(-0.6, 0.6, 0.15, 45.0, 50.0),
    "O3": Shape(-0.8, 1.0, 0.35, 50.5, 100.0, 100.0),
    "O4": Shape(0.6, -0.3, 0.20, 18.3, 20.5, 60.0),
    "P1": Shape(0.3, -0.2, 0.004, 99.0, 99.3, 99.95),
    "A1": Shape(0.0, 0.4, 0.04, 84.0, 87.0, 99.0),
    "A2": Shape(0.2, -0.3, 0.08, 36.0, 30.0),
    "W1": Shape(0.8, -0.6, 0.03, 94.2, 96.0, 99.5),
}


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """An independent, reproducible stream for one purpose (feed, year, ...)."""
    words = [seed] + [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.default_rng(words)


def split_integer(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total by weights, exactly (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    short = int(total - out.sum())
    if short:
        order = np.argsort(-(raw - out), kind="stable")
        out[order[:short]] += 1
    return out


@dataclass
class City:
    """Populations and intended indicator values for every district and year."""

    codes: list[str]
    groups: dict[str, str]
    years: tuple[int, ...]
    population: dict[tuple[str, int], int]
    share_60: dict[tuple[str, int], float]
    townships: dict[str, int]
    value: dict[tuple[str, str, int], float]   # (indicator, district, year) -> intended value

    def denominator_weight(self, ind: str, code: str, year: int) -> float:
        pop = self.population[code, year]
        if ind in ("E1", "E3"):
            return pop * SHARE_3_5
        if ind in ("E2", "E4"):
            return pop * SHARE_6_14
        if ind in ("O1", "O2", "O4"):
            return pop * self.share_60[code, year]
        if ind == "O3":
            return float(self.townships[code])
        return float(pop)


def build_city(seed: int, years: tuple[int, ...] = YEARS) -> City:
    ds = districts()
    codes = [d.code for d in ds]
    all_years = YEARS
    population = {
        (d.code, y): round(d.population_2020 * (1 + GROWTH[d.code]) ** (y - BASELINE_YEAR))
        for d in ds for y in all_years
    }
    share_60 = {
        (c, y): SHARE_60_PLUS[c] + AGEING_PER_YEAR * (y - BASELINE_YEAR)
        for c in codes for y in all_years
    }
    townships = {d.code: max(4, round(d.population_2020 / TOWNSHIP_SIZE)) for d in ds}
    city = City(codes, {d.code: d.group for d in ds}, years, population, share_60, townships, {})
    catalogue = {r["indicator_id"]: r for r in indicators()}
    for ind, shape in SHAPES.items():
        _intend(city, seed, ind, shape, catalogue[ind]["direction"], all_years)
    return city


def _intend(city: City, seed: int, ind: str, shape: Shape, direction: str, years) -> None:
    rng = rng_for(seed, "shape", ind)
    county = np.array([1.0 if city.groups[c] == "county_city" else 0.0 for c in city.codes])
    core = np.array([CORE[c] for c in city.codes])
    noise = rng.normal(0.0, 1.0, len(city.codes))
    dev = shape.spread * (shape.core * core + shape.county * county + 0.5 * noise)
    v0 = _calibrate(city, ind, shape.start * (1 + dev), shape.start, shape.cap, BASELINE_YEAR)
    sign = 1.0 if direction == "+" else -1.0
    goal = shape.goal * (1 + 0.5 * dev)
    # A district already beyond the city's goal still drifts a little further.
    goal = np.where(sign * (goal - v0) > 0, goal, v0 + sign * 0.02 * np.abs(v0))
    regress = rng.random(len(city.codes)) < 0.12
    pace = np.where(regress, rng.uniform(-0.5, -0.1, len(city.codes)),
                    rng.uniform(0.3, 1.5, len(city.codes)))
    for y in years:
        share = (y - BASELINE_YEAR) / (FINAL_YEAR - BASELINE_YEAR)
        wiggle = rng.normal(0.0, 0.15, len(city.codes)) * np.abs(goal - v0) / 5
        if y == BASELINE_YEAR:
            wiggle = 0.0
        v = v0 + (goal - v0) * pace * share + wiggle
        if shape.cap is not None:
            v = np.minimum(v, shape.cap)
        for c, value in zip(city.codes, v, strict=True):
            city.value[ind, c, y] = float(value)


def _calibrate(city: City, ind: str, v: np.ndarray, target: float, cap, year: int) -> np.ndarray:
    """Scale district values so their denominator-weighted mean is the city target."""
    w = np.array([city.denominator_weight(ind, c, year) for c in city.codes])
    for _ in range(20):
        v = v * target / (np.sum(w * v) / np.sum(w))
        if cap is not None:
            v = np.minimum(v, cap)
    return v
