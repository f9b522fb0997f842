"""The `submissions` feed (feeds.md section 7): the other departments' district figures.

One CSV per department and year, one row per (indicator, district); I3 also has the
city row.  What the rows should say is planned here, from the demo city's populations
(targets.City), the catalogue's targets and a few scenarios written out by hand:

- in 2020 the pooled city value of every indicator with a Table 1 baseline is that
  baseline (before rounding to whole numerators);
- districts that miss a target in 2020 move towards it at designed paces (a rotation of
  progress ratios R = pace, so methodology.md section 5 sees every progress class), with
  the urban-core and county-city loadings of targets.py for the levels;
- scenarios (`OVERRIDES`): a maintained target lost (S2, L1, C2, U2, S3), a unit below a
  maintain-type target at baseline, districts already past a threshold target in 2020,
  a survey change that is significant (I3, Xiangcheng) beside many that are not.

Defects: the classes the feed's rules catch, max(1, round(rate × rows of the year)) per
class, each class in every other year (half of the classes in even years, half in odd
ones), so the six demo years hold every class three times while the events spread over
the files (files of 20 rows or more first): at the default rate about 3 % of the rows,
at most 10 % of one file.  Damaged rows are rows of `ratio` indicators whose loss moves
the pooled city value by less than 1 % (flags hit E5 rows, incomplete estimates I3
district rows), in a third of the districts in turn; rows of `count` indicators and the
city's I3 row are never damaged, so the L2, I1 and I2 series stay whole.  Rows added
(unknown or other department's indicator, unknown district, city code) leave the real
rows untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from junheng.demo.targets import CORE, City, rng_for, split_integer
from junheng.reference import BASELINE_YEAR, CITY_CODE, FINAL_YEAR, YEARS, District, districts
from junheng.reference import indicators as catalogue

HEADER = ["指标编码", "区县", "分子", "分母", "数值", "标准误", "样本量", "备注"]
COLUMNS = dict(enumerate(HEADER))
IND, DIST, NUM, DEN, VAL, SE, N, NOTE = range(8)

# File prefixes in the order of feeds.md; each department's indicators come from the
# catalogue (`source` = submissions:<department>).
DEPARTMENTS = ("health", "civil_affairs", "education", "human_resources", "medical_security",
               "housing", "justice", "disabled_persons", "transport", "veterans", "culture",
               "sport", "emergency", "public_security")
COUNT_FACTOR = {"C1": 1000.0, "S2": 10000.0, "R1": 1.0, "R2": 1.0}

# Progress ratios of units that miss a target at baseline, rotated over districts and
# indicators: achieved early/late, substantial, moderate, limited, deterioration.
PACES = (1.3, 0.8, 1.06, 0.45, 0.98, -0.25, 0.7, 1.15, 0.3, 0.62)


@dataclass(frozen=True)
class Plan:
    """How a submitted indicator varies across districts (levels as in targets.Shape)."""

    start: float                 # pooled city value in 2020 (Table 1 baseline if printed)
    core: float = 0.0
    county: float = 0.0
    spread: float = 0.0
    cap: float | None = None
    drift: float = 0.006         # yearly relative improvement of units already on target


PLANS: dict[str, Plan] = {
    "C1": Plan(2.1, 0.3, -0.3, 0.18),
    "C2": Plan(100.0, cap=100.0),
    "F1": Plan(100.0, cap=100.0),
    "S1": Plan(90.0, -0.2, 0.3, 0.06, cap=100.0),
    "E6": Plan(15.47, 1.0, -0.4, 0.008),
    "L1": Plan(1.77, 0.2, -0.4, 0.18, drift=0.01),
    "H7": Plan(98.0, 0.4, 0.3, 0.006, cap=100.0, drift=0.002),
    "O5": Plan(72.0, 0.3, -0.3, 0.12, cap=100.0),
    "U1": Plan(23.0, 0.9, -0.5, 0.15, cap=100.0),
    "U2": Plan(100.0, cap=100.0),
    "S2": Plan(13.0, -0.3, 0.3, 0.12, drift=0.01),
    "S3": Plan(100.0, cap=100.0),
    "S4": Plan(98.0, 0.2, 0.2, 0.008, cap=100.0, drift=0.001),
    "T1": Plan(64.0, 0.8, -0.4, 0.15, cap=100.0),
    "T2": Plan(100.0, cap=100.0),
    "V1": Plan(100.0, cap=100.0),
    "R1": Plan(2.9, 0.8, -0.2, 0.2),
    "R2": Plan(3.75, -0.6, 0.7, 0.07, drift=0.004),
}

# Hand-written paths 2020..2025 for (indicator, district): the scenarios of the docstring.
OVERRIDES: dict[tuple[str, str], tuple[float, ...]] = {
    ("C2", "320583"): (100, 100, 100, 99.3, 99.6, 100),     # lost in 2023-24, regained
    ("F1", "320582"): (91, 91, 100, 100, 100, 100),          # one township short at baseline
    ("U2", "320585"): (96.5, 98.2, 100, 100, 100, 100),      # below a maintain target in 2020
    ("U2", "320509"): (100, 100, 100, 100, 100, 99.4),       # lost in the final year
    ("S3", "320506"): (100, 100, 99.7, 100, 100, 100),
    ("V1", "320581"): (98.0, 98.6, 99.1, 99.5, 100, 100),
    ("V1", "320507"): (99.0, 98.7, 99.1, 99.2, 99.4, 99.5),
    ("T2", "320509"): (5 / 6 * 100, 5 / 6 * 100, 100, 100, 100, 100),   # adjacent-unit bus links
    ("T2", "320581"): (5 / 6 * 100, 5 / 6 * 100, 5 / 6 * 100, 5 / 6 * 100, 100, 100),
    ("T2", "320585"): (75, 75, 75, 75, 75, 75),
    ("S2", "320585"): (10.8, 10.4, 10.1, 9.7, 9.5, 9.9),     # maintained target lost
    ("S2", "320507"): (8.9, 9.3, 9.6, 10.2, 10.6, 11.0),     # below 10 at baseline
    ("L1", "320582"): (2.7, 2.9, 3.2, 3.4, 2.9, 2.8),        # above the 3 % ceiling 2022-23
    ("L1", "320509"): (3.3, 3.2, 3.1, 2.9, 2.8, 2.7),        # above it at baseline
    ("U1", "320508"): (29.0, 29.4, 29.9, 30.2, 30.5, 31.0),  # past a threshold target in 2020
}
# Adjacent county-level units (inside and outside the city) each unit has a bus link to plan.
ADJACENT_PAIRS = {"320508": 4, "320505": 5, "320506": 6, "320507": 6, "320509": 6,
                  "320571": 5, "320581": 6, "320582": 4, "320583": 6, "320585": 4}
# Denominators per resident (ratio indicators), before a district factor.
PER_RESIDENT = {"C2": 4.5e-4, "E6": 0.011, "L1": 0.42, "H7": 0.40, "U1": 0.0, "U2": 1.5e-3,
                "S3": 5e-3, "S4": 4e-3, "V1": 3.5e-4}
# E5: year each unit is certified 优质均衡 (None: not by 2025).
CERTIFIED = {"320508": 2020, "320571": 2020, "320583": 2020, "320505": 2021, "320506": 2022,
             "320581": 2022, "320582": 2023, "320507": 2024, "320509": 2025, "320585": None}
# L2: subsidised-training person-times in the city per year (2020 is not counted).
L2_CITY = {2020: 210_000, 2021: 150_000, 2022: 180_000, 2023: 230_000, 2024: 250_000,
           2025: 265_000}
# I1, I2: decline of accidents and of deaths from 2020 to 2025 per district (rotated).
DECLINES = (0.25, 0.18, 0.12, 0.30, -0.10, 0.20, 0.08, 0.16, 0.22, 0.05)
NOTES = ("", "", "", "", "初步数", "含开发区", '口径："一网通办"平台, 年报', "已复核")


def _meets(x: float, rule: str, target: float) -> bool:
    return {">": x > target, ">=": x >= target, "<": x < target, "<=": x <= target,
            "~": x >= 0.95 * target}[rule]


# --------------------------------------------------------------------------- plan

@dataclass
class Submitted:
    """Numerators, denominators and estimates per (indicator, district, year)."""

    num: dict[tuple[str, str, int], float] = field(default_factory=dict)
    den: dict[tuple[str, str, int], float] = field(default_factory=dict)
    value: dict[tuple[str, str, int], float] = field(default_factory=dict)
    se: dict[tuple[str, str, int], float] = field(default_factory=dict)
    n: dict[tuple[str, str, int], int] = field(default_factory=dict)


def _denominators(city: City, seed: int, ind: str) -> dict[tuple[str, int], int]:
    rng = rng_for(seed, "submissions-denominator", ind)
    factor = dict(zip(city.codes, rng.lognormal(0.0, 0.15, len(city.codes)), strict=True))
    out = {}
    for c in city.codes:
        for y in YEARS:
            pop = city.population[c, y]
            if ind in ("F1", "S1", "T1"):
                out[c, y] = city.townships[c]
            elif ind == "T2":
                out[c, y] = ADJACENT_PAIRS[c]
            elif ind == "O5":
                out[c, y] = int(rng_for(seed, "new-estates", c, y).integers(4, 16))
            elif ind == "U1":
                urban = 0.92 if city.groups[c] == "urban_district" else 0.72
                out[c, y] = round(pop * urban)
            else:
                out[c, y] = max(20, round(pop * PER_RESIDENT[ind] * factor[c]))
    return out


def _weights(city: City, ind: str, den: dict | None, year: int) -> np.ndarray:
    if den is None:
        return np.array([float(city.population[c, year]) for c in city.codes])
    return np.array([float(den[c, year]) for c in city.codes])


def _paths(city: City, seed: int, k: int, ind: str, plan: Plan, row: dict[str, str],
           den: dict | None) -> dict[str, list[float]]:
    rng = rng_for(seed, "submissions-plan", ind)
    codes = city.codes
    county = np.array([1.0 if city.groups[c] == "county_city" else 0.0 for c in codes])
    core = np.array([CORE[c] for c in codes])
    dev = plan.spread * (plan.core * core + plan.county * county + 0.5 * rng.normal(0, 1, 10))
    v0 = plan.start * (1 + dev)
    fixed = np.array([(ind, c) in OVERRIDES for c in codes])
    for i, c in enumerate(codes):
        if fixed[i]:
            v0[i] = OVERRIDES[ind, c][0]
    w = _weights(city, ind, den, BASELINE_YEAR)
    for _ in range(30):  # scale the free districts until the pooled value is the start
        free = np.sum(w * v0 * ~fixed)
        want = plan.start * np.sum(w) - np.sum(w * v0 * fixed)
        if free <= 0:
            break
        v0 = np.where(fixed, v0, v0 * want / free)
        if plan.cap is not None:
            v0 = np.where(fixed, v0, np.minimum(v0, plan.cap))
    target, rule = float(row["target_2025"]), row["target_rule"]
    sign = 1.0 if row["direction"] == "+" else -1.0
    drift = rng.uniform(0.3, 1.0, 10) * plan.drift
    jitter = rng.uniform(-0.03, 0.03, 10)
    out: dict[str, list[float]] = {}
    for i, c in enumerate(codes):
        if fixed[i]:
            out[c] = [float(v) for v in OVERRIDES[ind, c]]
            continue
        path = []
        pace = PACES[(i + 3 * k) % len(PACES)] + jitter[i]
        for y in YEARS:
            share = (y - BASELINE_YEAR) / (FINAL_YEAR - BASELINE_YEAR)
            if _meets(v0[i], rule, target):
                v = v0[i] * (1 + sign * drift[i] * (y - BASELINE_YEAR))
            else:
                wiggle = 0.0 if y == BASELINE_YEAR else rng.normal(0, 0.02) * abs(target - v0[i])
                v = v0[i] + (target - v0[i]) * pace * share + wiggle
            if plan.cap is not None:
                v = min(v, plan.cap)
            path.append(max(float(v), 0.0))
        out[c] = path
    return out


def plan_submissions(city: City, seed: int) -> Submitted:
    """Every department's figures for every district and year 2020-2025."""
    cat = {r["indicator_id"]: r for r in catalogue()}
    s = Submitted()
    for k, (ind, plan) in enumerate(PLANS.items()):
        row = cat[ind]
        den = None if row["form"] == "count" else _denominators(city, seed, ind)
        for c, path in _paths(city, seed, k, ind, plan, row, den).items():
            for y, v in zip(YEARS, path, strict=True):
                pop = city.population[c, y]
                if den is None:
                    s.num[ind, c, y] = float(round(v * pop / COUNT_FACTOR[ind]))
                else:
                    f = 100.0 if row["unit"] == "%" else 1.0
                    num = round(v / f * den[c, y])
                    s.num[ind, c, y] = float(min(num, den[c, y]) if f == 100.0 else num)
                    s.den[ind, c, y] = float(den[c, y])
    _plan_flags(city, s)
    _plan_training(city, seed, s)
    _plan_safety(city, seed, s)
    _plan_survey(city, seed, s)
    return s


def _plan_flags(city: City, s: Submitted) -> None:
    for c in city.codes:
        for y in YEARS:
            s.num["E5", c, y] = float(CERTIFIED[c] is not None and y >= CERTIFIED[c])
            s.den["E5", c, y] = 1.0


def _plan_training(city: City, seed: int, s: Submitted) -> None:
    for y in YEARS:
        rng = rng_for(seed, "training", y)
        w = np.array([city.population[c, y] for c in city.codes]) * rng.uniform(0.7, 1.3, 10)
        for c, n in zip(city.codes, split_integer(L2_CITY[y], w), strict=True):
            s.num["L2", c, y] = float(n)


def _plan_safety(city: City, seed: int, s: Submitted) -> None:
    for k, (ind, per_10k) in enumerate((("I1", 1.6), ("I2", 0.13))):
        rng = rng_for(seed, "safety", ind)
        for i, c in enumerate(city.codes):
            n0 = city.population[c, BASELINE_YEAR] / 10_000 * per_10k * rng.uniform(0.7, 1.3)
            decline = DECLINES[(i + 4 * k) % len(DECLINES)]
            for y in YEARS:
                share = (y - BASELINE_YEAR) / (FINAL_YEAR - BASELINE_YEAR)
                noise = 0.0 if y == BASELINE_YEAR else rng.normal(0, 0.03)
                s.num[ind, c, y] = float(max(1, round(n0 * (1 - decline * share + noise))))


def _plan_survey(city: City, seed: int, s: Submitted) -> None:
    """I3: a sample survey per district; the city row pools the districts' samples."""
    rng = rng_for(seed, "survey")
    codes = city.codes
    level = {c: 98.84 + 0.35 * CORE[c] + rng.normal(0, 0.3) for c in codes}
    level["320507"] = 97.0     # Xiangcheng: below 98, then a significant rise
    level["320582"] = 98.3     # Zhangjiagang: slips under 98 in 2023, not significantly
    pop0 = {c: city.population[c, BASELINE_YEAR] for c in codes}
    free = [c for c in codes if c not in ("320507", "320582")]
    gap = 98.84 * sum(pop0.values()) - sum(level[c] * pop0[c] for c in codes)
    for c in free:  # calibrate: the population-weighted 2020 mean is the baseline
        level[c] += gap / sum(pop0[f] for f in free)
    for c in codes:
        trend = rng.uniform(-0.04, 0.08)
        for y in YEARS:
            t = y - BASELINE_YEAR
            if c == "320507":
                v = 97.0 + 0.38 * t
            elif c == "320582":
                v = (98.3, 98.2, 98.1, 97.9, 98.0, 98.2)[t]
            else:
                v = level[c] + trend * t + (0.0 if t == 0 else rng.normal(0, 0.12))
            v = round(min(v, 99.9), 2)
            n = int(500 + city.population[c, y] / 2500 + rng.integers(0, 60))
            s.value["I3", c, y] = v
            s.n["I3", c, y] = n
            s.se["I3", c, y] = round(100 * 1.3 * np.sqrt(v / 100 * (1 - v / 100) / n), 3)
    for y in YEARS:
        pop = {c: city.population[c, y] for c in codes}
        v = sum(s.value["I3", c, y] * pop[c] for c in codes) / sum(pop.values())
        n = sum(s.n["I3", c, y] for c in codes)
        s.value["I3", CITY_CODE, y] = round(v if y > BASELINE_YEAR else 98.84, 2)
        s.n["I3", CITY_CODE, y] = n
        s.se["I3", CITY_CODE, y] = round(100 * 1.3 * np.sqrt(v / 100 * (1 - v / 100) / n), 3)


# --------------------------------------------------------------------------- rows

def _label(rng: np.random.Generator, d: District) -> str:
    """The district as departments write it: mostly the name, else an alias, code or a
    form that matches only after NFKC and trimming."""
    r = rng.random()
    if r < 0.55:
        return d.name_zh
    if r < 0.65:
        return d.code
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in d.aliases[-1])
    forms = [*d.aliases, f"\u3000{d.name_zh}", f" {d.name_zh} ", f"{d.name_zh}\u3000", wide]
    return str(forms[int(rng.integers(0, len(forms)))])


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(round(float(x), 6))


def _value_text(x: float) -> str:
    """A value as a department prints it: two decimals, more where two would be off."""
    two = round(x, 2)
    return _fmt(two if abs(two - x) <= 1e-3 * abs(x) else round(x, 4))


@dataclass
class Row:
    fields: list[str]
    code: str | None                      # district code (None: not a district)
    ind: str
    defect: tuple[str, str, str] | None = None   # (defect, column, value)
    copy_of: int | None = None


def department_rows(city: City, s: Submitted, seed: int, dept: str, year: int) -> list[Row]:
    cat = {r["indicator_id"]: r for r in catalogue()}
    inds = [r["indicator_id"] for r in catalogue() if r["source"] == f"submissions:{dept}"]
    rng = rng_for(seed, "submissions-rows", dept, year)
    by_code = {d.code: d for d in districts()}
    rows: list[Row] = []
    for ind in inds:
        form = cat[ind]["form"]
        f = 100.0 if cat[ind]["unit"] == "%" else 1.0
        units = list(rng.permutation(city.codes))
        if form == "estimate":
            units = [CITY_CODE, *units]
        for c in units:
            c = str(c)
            key = (ind, c, year)
            label = c if c == CITY_CODE else _label(rng, by_code[c])
            note = str(NOTES[int(rng.integers(0, len(NOTES)))])
            if form == "estimate":
                fields = ["", "", _fmt(s.value[key]), _fmt(s.se[key]), str(s.n[key])]
            elif form in ("ratio", "flag"):
                given = form == "ratio" and rng.random() < 0.4
                value = _value_text(f * s.num[key] / s.den[key]) if given else ""
                fields = [_fmt(s.num[key]), _fmt(s.den[key]), value, "", ""]
            else:
                fields = [_fmt(s.num[key]), "", "", "", ""]
            if ind == "L2" and year == BASELINE_YEAR:
                note = "2020年培训，不计入累计"
            rows.append(Row([ind, label, *fields, note], c, ind))
    return rows


# --------------------------------------------------------------------------- defects

UNKNOWN_DISTRICTS = ("沧浪区", "平江区", "金阊区", "苏州新区开发区")
CLASSES = (
    "unknown_indicator", "other_department_indicator", "unknown_district",
    "city_code_not_estimate", "negative_numerator", "missing_numerator",
    "denominator_not_positive", "numerator_above_denominator", "flag_not_binary",
    "value_inconsistent", "estimate_incomplete", "standard_error_not_estimate",
    "duplicate_key", "non_numeric",
)


# Classes that add a row of their own (the district's real rows stay whole) and classes
# that damage a real row, whose indicator is then null for that district: the district's
# index is provisional on fewer indicators, and the year's ranks are withheld (methodology.md
# section 3: all ten must rest on the same indicators). The damaging classes appear in
# 2020 and 2021 only, so that the demo shows both: provisional years without ranks, and
# complete years with them. A rejected I3 row would leave the safety area (I3 is its one
# indicator in the index) unscored, so that class damages the city's row, which nulls only
# the city's own index that year.
EXTRA_ROW_CLASSES = ("unknown_indicator", "other_department_indicator", "unknown_district",
                     "city_code_not_estimate")


DAMAGING = {
    2020: ("negative_numerator", "denominator_not_positive", "flag_not_binary",
           "duplicate_key", "non_numeric"),
    # The city's I3 row is damaged after the baseline year (Table 1 prints 2020's).
    2021: ("missing_numerator", "numerator_above_denominator", "value_inconsistent",
           "estimate_incomplete", "standard_error_not_estimate"),
}


def classes_of_year(year: int) -> tuple[str, ...]:
    return (*EXTRA_ROW_CLASSES, *DAMAGING.get(year, ()))


def _breakable(row: Row, cat: dict, percent_only: bool = False,
               rows: list[Row] | None = None) -> bool:
    """A clean district row of a ratio indicator whose loss moves the city's pooled value
    by less than 1 % (so that defects never move a city value far from its plan)."""
    if row.defect is not None or row.copy_of is not None or row.code in (None, CITY_CODE):
        return False
    r = cat[row.ind]
    if r["form"] != "ratio" or (percent_only and r["unit"] != "%"):
        return False
    # A lost row nulls its indicator in that district: its service area must keep at least
    # half of its in-index indicators scored, or the year's index would be withheld.
    # Only areas with four or more, one damaged row per district and area, and one per
    # indicator.
    area = [i for i, c in cat.items() if c["area"] == r["area"] and c["in_index"] == "yes"]
    if r["in_index"] == "yes" and len(area) < 4:
        return False
    if any(x.defect is not None and (x.ind == row.ind or x.code == row.code and x.ind in area)
           for x in rows or []):
        return False
    same = [x for x in rows or [] if x.ind == row.ind and x.defect is None
            and x.code not in (None, CITY_CODE)]
    num = sum(float(x.fields[NUM]) for x in same)
    den = sum(float(x.fields[DEN]) for x in same)
    rest_num, rest_den = num - float(row.fields[NUM]), den - float(row.fields[DEN])
    return num > 0 and rest_den > 0 and abs(rest_num / rest_den / (num / den) - 1) < 0.01


def inject_defects(files: dict[str, list[Row]], rng: np.random.Generator, rate: float,
                   year: int) -> None:
    """Damage rows of the year's department files in place (see the module docstring)."""
    cat = {r["indicator_id"]: r for r in catalogue()}
    n = max(1, round(rate * sum(len(r) for r in files.values())))
    used: set[str] = set()
    big = [d for d, rows in files.items() if len(rows) >= 20]

    def file_for(ok) -> str | None:
        cands = [d for d in files if ok(d)]
        fresh = [d for d in cands if d not in used and d in big] or \
            [d for d in cands if d not in used] or cands
        if not fresh:
            return None
        d = str(fresh[int(rng.integers(0, len(fresh)))])
        used.add(d)
        return d

    codes = [d.code for d in districts()]

    def pick(dept: str, ok) -> Row | None:
        cands = [r for r in files[dept] if ok(r)]
        # A third of the districts in turn, so that no district loses the same
        # indicator year after year (each year's files stay independent of the others).
        turn = [r for r in cands if r.code in codes and (codes.index(r.code) + year) % 3 == 0]
        cands = turn or cands
        return cands[int(rng.integers(0, len(cands)))] if cands else None

    def has(pred):
        return lambda d: any(pred(r) for r in files[d])

    def insert(dept: str, row: Row) -> None:
        rows = files[dept]
        rows.insert(int(rng.integers(0, len(rows) + 1)), row)

    for defect in classes_of_year(year):
        for _ in range(n):
            if defect == "duplicate_key":
                d = file_for(lambda d: any(_breakable(r, cat, rows=files[d]) for r in files[d]))
                if d is None:  # at a high rate the harmless rows run out
                    break
                row = pick(d, lambda r, d=d: _breakable(r, cat, rows=files[d]))
                copy = Row(list(row.fields), row.code, row.ind, copy_of=id(row))
                copy.fields[NUM] = _fmt(max(0.0, float(row.fields[NUM]) - int(rng.integers(1, 4))))
                copy.fields[VAL] = ""
                row.defect = copy.defect = ("duplicate_key", "指标编码",
                                            f"{row.ind}|{row.code}")
                rows = files[d]
                rows.insert(int(rng.integers(rows.index(row) + 1, len(rows) + 1)), copy)
            elif defect in ("unknown_indicator", "other_department_indicator",
                            "unknown_district", "city_code_not_estimate"):
                _extra_row(defect, files, file_for, insert, rng, cat)
            else:
                _break_row(defect, files, file_for, pick, has, rng, cat)


def _extra_row(defect, files, file_for, insert, rng, cat) -> None:
    by_code = {d.code: d for d in districts()}
    # City code and another department's id need a template whose form allows them.
    forms = ("ratio", "count") if defect in ("city_code_not_estimate",
                                             "other_department_indicator") else None

    def usable(r: Row) -> bool:
        return (r.code not in (None, CITY_CODE) and r.defect is None and r.copy_of is None
                and (forms is None or cat[r.ind]["form"] in forms))

    d = file_for(lambda d: any(usable(r) for r in files[d]))
    if d is None:
        return
    template = next(r for r in files[d] if usable(r))
    fields = list(template.fields)
    code = str(rng.choice([c for c in by_code if c != template.code]))
    fields[DIST] = _label(rng, by_code[code])
    if defect == "unknown_indicator":
        fields[IND] = f"{template.ind[0]}{9 + int(rng.integers(0, 3))}"   # C9, S10, ...
        row = Row(fields, code, fields[IND], (defect, "指标编码", fields[IND]))
    elif defect == "other_department_indicator":
        own = cat[template.ind]["source"]
        other = [k for k, r in cat.items() if r["source"].startswith("submissions:")
                 and r["source"] != own and r["form"] == cat[template.ind]["form"]]
        fields[IND] = str(rng.choice(sorted(other)))
        row = Row(fields, code, fields[IND], (defect, "指标编码", fields[IND]))
    elif defect == "unknown_district":
        fields[DIST] = str(rng.choice(UNKNOWN_DISTRICTS))
        row = Row(fields, None, template.ind, (defect, "区县", fields[DIST]))
    else:
        fields[DIST] = CITY_CODE
        if cat[template.ind]["form"] == "ratio":
            same = [r for r in files[d] if r.ind == template.ind and r.defect is None]
            num = sum(float(r.fields[NUM]) for r in same)
            den = sum(float(r.fields[DEN]) for r in same)
            fields[NUM], fields[DEN], fields[VAL] = _fmt(num), _fmt(den), ""
        row = Row(fields, CITY_CODE, template.ind, (defect, "区县", CITY_CODE))
    insert(d, row)


def _break_row(defect, files, file_for, pick, has, rng, cat) -> None:
    if defect == "flag_not_binary":
        ok = lambda r: (r.defect is None and r.ind in cat and  # noqa: E731
                        cat[r.ind]["form"] == "flag" and r.code not in (None, CITY_CODE))
    elif defect == "estimate_incomplete":
        ok = lambda r: (r.defect is None and r.ind in cat and  # noqa: E731
                        cat[r.ind]["form"] == "estimate" and r.code == CITY_CODE)
    else:
        percent = defect == "numerator_above_denominator"
        ok = None
    if ok is None:
        d = file_for(lambda d: any(_breakable(r, cat, percent, files[d]) for r in files[d]))
        row = None if d is None else pick(d, lambda r: _breakable(r, cat, percent, files[d]))
    else:
        d = file_for(has(ok))
        row = None if d is None else pick(d, ok)
    if row is None:  # at a high rate the rows a class can damage run out
        return
    f = row.fields
    num = float(f[NUM]) if f[NUM] else 0.0
    if defect == "negative_numerator":
        f[NUM], f[VAL] = _fmt(-max(num, 1.0)), ""
        row.defect = (defect, "分子", f[NUM])
    elif defect == "missing_numerator":
        f[NUM], f[VAL] = "", ""
        row.defect = (defect, "分子", "")
    elif defect == "denominator_not_positive":
        f[DEN], f[VAL] = ("0" if rng.random() < 0.5 else ""), ""
        row.defect = (defect, "分母", f[DEN])
    elif defect == "numerator_above_denominator":
        f[NUM], f[VAL] = _fmt(float(f[DEN]) + int(rng.integers(1, 5))), ""
        row.defect = (defect, "分子", f[NUM])
    elif defect == "flag_not_binary":
        f[NUM] = str(rng.choice(["2", "0.5", "3"]))
        row.defect = (defect, "分子", f[NUM])
    elif defect == "value_inconsistent":
        # Off by 10 % and by at least one unit: caught whether 0.5 % is read as relative
        # or as percentage points.
        fac = 100.0 if cat[row.ind]["unit"] == "%" else 1.0
        right = fac * num / float(f[DEN])
        f[VAL] = _value_text(right * 1.1 + 1 if right < 50 else right * 0.9 - 1)
        row.defect = (defect, "数值", f[VAL])
    elif defect == "estimate_incomplete":
        col = VAL if rng.random() < 0.5 else SE
        f[col] = ""
        row.defect = (defect, COLUMNS[col], "")
    elif defect == "standard_error_not_estimate":
        f[SE] = _fmt(round(float(rng.uniform(0.2, 1.5)), 2))
        row.defect = (defect, "标准误", f[SE])
    elif defect == "non_numeric":
        f[NUM], f[VAL] = str(rng.choice(["约{}", "{}人", "{}余"])).format(_fmt(num)), ""
        row.defect = (defect, "分子", f[NUM])


# --------------------------------------------------------------------------- driver

def write_submissions(landing: Path, city: City, s: Submitted, seed: int, year: int,
                      rate: float, ledger, write_csv) -> int:
    """Write the 14 department files of one year; return the number of rows written."""
    files = {dept: department_rows(city, s, seed, dept, year) for dept in DEPARTMENTS}
    inject_defects(files, rng_for(seed, "submissions-defects", year), rate, year)
    total = 0
    for dept, rows in files.items():
        name = f"{dept}_{year}.csv"
        bom = rng_for(seed, "bom", dept, year).random() < 0.4
        write_csv(landing / "submissions" / str(year) / name, HEADER, [r.fields for r in rows],
                  bom=bom)
        for line, r in enumerate(rows, start=2):
            if r.defect is not None:
                ledger.add("submissions", year, name, line, r.defect[1], r.defect[0],
                           r.defect[2])
        total += len(rows)
    return total
