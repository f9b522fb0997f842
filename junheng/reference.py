"""The reference tables carried into the project (warehouse/seeds)."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache

from junheng import SEEDS_DIR

CITY_CODE = "320500"
BASELINE_YEAR = 2020
FINAL_YEAR = 2025
YEARS = tuple(range(BASELINE_YEAR, FINAL_YEAR + 1))


@dataclass(frozen=True)
class District:
    code: str
    name_zh: str
    name_en: str
    group: str
    aliases: tuple[str, ...]
    population_2020: int


def _rows(name: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def districts() -> tuple[District, ...]:
    return tuple(
        District(
            code=r["district_code"],
            name_zh=r["name_zh"],
            name_en=r["name_en"],
            group=r["group"],
            aliases=tuple(a for a in r["aliases"].split("|") if a),
            population_2020=int(r["resident_population_2020"]),
        )
        for r in _rows("districts.csv")
    )


@cache
def indicators() -> tuple[dict[str, str], ...]:
    return tuple(_rows("indicators.csv"))


def normalise_name(value: str) -> str:
    """NFKC, then trim white space (full-width spaces become spaces under NFKC)."""
    return unicodedata.normalize("NFKC", value).strip()


@cache
def alias_map() -> dict[str, str]:
    """Normalised name, alias or code -> district code."""
    out: dict[str, str] = {}
    for d in districts():
        for name in (d.code, d.name_zh, *d.aliases):
            out[normalise_name(name)] = d.code
    return out


def alias_rows() -> list[tuple[str, str, str, str]]:
    """reference.district_aliases: (district_code, alias, alias_normalised, alias_kind) of
    every code, name and alias in districts.csv, once each. An alias that names two
    districts after normalising is an error."""
    rows: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for d in districts():
        forms = [(d.code, "code"), (d.name_zh, "name")] + [(a, "alias") for a in d.aliases]
        for a, kind in forms:
            rows.setdefault((d.code, a), (d.code, a, normalise_name(a), kind))
    named: dict[str, str] = {}
    for code, _a, norm, _k in rows.values():
        if named.setdefault(norm, code) != code:
            raise ValueError("an alias names two districts in districts.csv")
    return list(rows.values())
