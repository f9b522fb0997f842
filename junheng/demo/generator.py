"""Write every file of feeds.md for a demo city into a landing zone.

Deterministic: the same options give byte-identical files (seeded streams per
feed and year, fixed gzip and zip timestamps, ordered writes).

Scale: aggregate feeds (population, schools, health, eldercare, sewage) are
always written at city scale, because they are small (thousands of rows) and
their ratios must stay real; `scale` shrinks the person- and station-level
volumes: pension records (about 9 million at 1.0) and the number of
air-quality stations (about 50 at 1.0, never fewer than one per district).

Defects are injected at `defect_rate` per class and file (at least one per class
and file) and written to a ledger, `<landing>/.demo/defects.csv`, so that tests
can check the ingest quarantines exactly those rows.  The ledger lives in a dot
folder, which the ingest never reads.  The `submissions` feed (submissions.py) has
files of a few dozen rows and its own, sparser defect scheme.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

from junheng.demo.marker import LEDGER_DIR  # the folder marking a demo landing zone
from junheng.demo.targets import SHARE_0_2, SHARE_3_5, SHARE_6_14, City, build_city, rng_for
from junheng.demo.targets import split_integer as split
from junheng.reference import YEARS, District, districts

log = logging.getLogger("junheng.demo")

LEDGER_COLUMNS = ["feed", "year", "file_name", "line", "column", "defect", "value"]
# Names departments still use for areas that are no district of districts.csv
# (merged or abolished): a row carrying one must be rejected, never guessed.
UNKNOWN_NAMES = ["沧浪区", "平江区", "金阊区", "苏州新区开发区"]
UNKNOWN_CODES = ["320503", "320504", "320502", "320584"]
PENSION_RECORDS_AT_SCALE_1 = 9_000_000
STATIONS_AT_SCALE_1 = 50


@dataclass
class Options:
    seed: int = 2020
    scale: float = 0.02
    years: tuple[int, ...] = YEARS
    defect_rate: float = 0.002
    dual_rate: float = 0.01
    missing_rate: float = 0.01
    broken: bool = False
    broken_year: int | None = None
    compresslevel: int = 6

    def __post_init__(self) -> None:
        if not 0 < self.defect_rate < 0.2:
            raise ValueError("defect_rate must be in (0, 0.2): defects are never zero")
        if not 0 < self.scale <= 10:
            raise ValueError("scale must be in (0, 10]")
        unknown = set(self.years) - set(YEARS)
        if unknown:
            raise ValueError(f"years outside {YEARS[0]}-{YEARS[-1]}: {sorted(unknown)}")


@dataclass
class Ledger:
    rows: list[list] = field(default_factory=list)

    def add(self, feed: str, year: int, file_name: str, line: int, column: str,
            defect: str, value: object) -> None:
        self.rows.append([feed, year, file_name, line, column, defect, value])


def defect_count(rate: float, n: int) -> int:
    """Rows of one defect class in a file of n clean rows: never zero."""
    return max(1, round(rate * n))


# --------------------------------------------------------------------------- helpers

def _short(d: District) -> str:
    return d.name_zh.removesuffix("区").removesuffix("市")


_NAME_CHARS = ("东南西北金银湖山塘桥浦泾港泽庄林阳春华新安盛丰溪横渡枫望亭陆墓浒墅渭通黄埭"
               "太平湘城光福木渎胥口临越")


def _township_names(seed: int, d: District, n: int) -> list[str]:
    rng = rng_for(seed, "township-names", d.code)
    names: list[str] = []
    while len(names) < n:
        a, b = rng.choice(len(_NAME_CHARS), 2, replace=False)
        suffix = "街道" if d.group == "urban_district" and rng.random() < 0.6 else "镇"
        name = _NAME_CHARS[a] + _NAME_CHARS[b] + suffix
        if name not in names:
            names.append(name)
    return names


def _district_label(rng: np.random.Generator, d: District, allow_code: bool) -> str:
    r = rng.random()
    if r < 0.75:
        return d.name_zh
    if allow_code and r < 0.82:
        return d.code
    return str(rng.choice(d.aliases))


def _variants(d: District) -> list[str]:
    """Every alias of a district, plus forms that only match after NFKC and trimming."""
    forms = [d.name_zh, *d.aliases, f"\u3000{d.name_zh}", f" {d.name_zh} "]
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in d.aliases[-1])
    if wide != d.aliases[-1]:
        forms.append(wide)
    return forms


def _spread_variants(rng: np.random.Generator, rows: list[list], col: int,
                     code_of_row: list[str]) -> None:
    """Make every alias form of every district appear at least once in a file."""
    by_code: dict[str, list[int]] = {}
    for i, c in enumerate(code_of_row):
        by_code.setdefault(c, []).append(i)
    for d in districts():
        idx = by_code.get(d.code, [])
        forms = _variants(d)
        picks = rng.choice(idx, size=min(len(forms), len(idx)), replace=False)
        for form, i in zip(forms, picks, strict=False):
            rows[int(i)][col] = form


def _write_csv(path: Path, header: list[str], rows: Iterable[list], encoding: str = "utf-8",
               bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if encoding == "gbk" else "\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode(encoding)  # strict: a character GBK lacks is a generator bug
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def _inject_duplicates(rng: np.random.Generator, rows: list[list], n: int,
                       mutate_col: int | None = None) -> list[int]:
    """Copy n rows (keys unchanged) and insert each copy right after a random later row."""
    picks = sorted(rng.choice(len(rows), size=min(n, len(rows)), replace=False).tolist(),
                   reverse=True)
    for i in picks:
        copy = list(rows[i])
        if mutate_col is not None and isinstance(copy[mutate_col], int):
            copy[mutate_col] = copy[mutate_col] + int(rng.integers(1, 5))
        rows.insert(int(rng.integers(i + 1, len(rows) + 1)), copy)
    return picks


def _pick(rng: np.random.Generator, rows: list[list], n: int, ok=lambda r: True) -> list[int]:
    candidates = [i for i, r in enumerate(rows) if ok(r)]
    return rng.choice(candidates, size=min(n, len(candidates)), replace=False).tolist()


def _ledger_duplicates(ledger: Ledger, feed: str, year: int, name: str, rows: list[list],
                       key_cols: list[int], column: str, line0: int) -> None:
    seen: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        seen.setdefault(tuple(r[k] for k in key_cols), []).append(i)
    for key, idx in seen.items():
        if len(idx) > 1:
            for i in idx:
                ledger.add(feed, year, name, i + line0, column, "duplicate_key", "|".join(key))


# --------------------------------------------------------------------------- population

@dataclass
class Township:
    district: str
    code: str
    name: str
    total: int
    age_0_2: int
    age_3_5: int
    age_6_14: int
    age_15_59: int
    age_60_plus: int


def make_population(city: City, seed: int, year: int) -> list[Township]:
    out: list[Township] = []
    rng = rng_for(seed, "population", year)
    for d in districts():
        n = city.townships[d.code]
        base = rng_for(seed, "township-weights", d.code).dirichlet(np.full(n, 8.0))
        weights = base * rng.uniform(0.98, 1.02, n)
        totals = split(city.population[d.code, year], weights)
        names = _township_names(seed, d, n)
        s60 = city.share_60[d.code, year]
        for k in range(n):
            jitter = rng.uniform(0.92, 1.08, 4)
            shares = np.array([SHARE_0_2 * jitter[0], SHARE_3_5 * jitter[1],
                               SHARE_6_14 * jitter[2], 0.0, s60 * jitter[3]])
            shares[3] = 1.0 - shares.sum()
            ages = split(int(totals[k]), shares)
            out.append(Township(d.code, f"{d.code}{k + 1:03d}", names[k], int(totals[k]),
                                *map(int, ages)))
    return out


POPULATION_HEADER = ["年份", "区县代码", "镇街代码", "镇街名称", "常住人口",
                     "0-2岁", "3-5岁", "6-14岁", "15-59岁", "60岁及以上"]


def write_population(path: Path, year: int, towns: list[Township]) -> None:
    rows = [[year, t.district, t.code, t.name, t.total, t.age_0_2, t.age_3_5, t.age_6_14,
             t.age_15_59, t.age_60_plus] for t in towns]
    _write_csv(path, POPULATION_HEADER, rows, bom=True)


def _sum_by_district(towns: list[Township], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in towns:
        out[t.district] = out.get(t.district, 0) + getattr(t, attr)
    return out


# --------------------------------------------------------------------------- schools

SCHOOLS_HEADER = ["学校标识码", "学校名称", "所在区县", "学段", "办学性质", "普惠性",
                  "集团化办学", "在校生数", "专任教师数"]


_SCHOOL_SUFFIX = {"幼儿园": "幼儿园", "小学": "小学", "初中": "中学", "九年一贯制": "实验学校",
                  "普通高中": "高级中学"}


def _school_row(rng, d: District, seq: int, level: str, ownership: str, inclusive: str,
                group: str, enrolled: int, teachers: int) -> list:
    return [f"3{d.code[2:6]}{seq:05d}", f"{_short(d)}第{seq}{_SCHOOL_SUFFIX[level]}",
            _district_label(rng, d, allow_code=False), level, ownership, inclusive, group,
            int(enrolled), int(teachers)]


def make_schools(city: City, seed: int, year: int,
                 towns: list[Township]) -> tuple[list[list], list[str]]:
    rng = rng_for(seed, "schools", year)
    age35 = _sum_by_district(towns, "age_3_5")
    age614 = _sum_by_district(towns, "age_6_14")
    rows: list[list] = []
    codes: list[str] = []
    for d in districts():
        c = d.code
        start = len(rows)

        def add(*fields, d=d, start=start):
            rows.append(_school_row(rng, d, len(rows) - start + 1, *fields))
            codes.append(d.code)

        # Kindergartens: E3 sets enrolment, E1 the inclusive share of it.
        kg_total = round(city.value["E3", c, year] / 100 * age35[c])
        n_kg = max(3, round(kg_total / 280))
        kg = split(kg_total, rng.gamma(4.0, size=n_kg))
        incl_target = city.value["E1", c, year] / 100 * kg_total
        order = rng.permutation(n_kg)
        public = np.zeros(n_kg, bool)
        inclusive = np.zeros(n_kg, bool)
        acc = 0
        for i in order:
            if acc >= 0.6 * incl_target:
                break
            public[i] = inclusive[i] = True
            acc += kg[i]
        for i in order:
            if not public[i] and acc + kg[i] <= incl_target + kg[i] / 2:
                inclusive[i] = True
                acc += kg[i]
        for i in range(n_kg):
            add("幼儿园", "公办" if public[i] else "民办", "是" if inclusive[i] else "否",
                "是" if rng.random() < 0.3 else "否", kg[i], max(1, round(kg[i] / 14)))

        # Compulsory schools: E4 sets teachers, E2 the share in school groups.
        comp_total = round(age614[c] * 0.985)
        parts = split(comp_total, np.array([0.62, 0.30, 0.08]))
        comp: list[tuple[str, int]] = []
        for level, total, size in zip(("小学", "初中", "九年一贯制"), parts, (1400, 1100, 1600),
                                      strict=True):
            n = max(2, round(total / size))
            comp += [(level, int(e)) for e in split(int(total), rng.gamma(6.0, size=n))]
        grouped = set(rng.choice(len(comp), round(city.value["E2", c, year] / 100 * len(comp)),
                                 replace=False).tolist())
        ratio = city.value["E4", c, year]
        for i, (level, e) in enumerate(comp):
            teachers = max(1, round(e / (ratio * rng.uniform(0.9, 1.1))))
            add(level, "公办" if rng.random() < 0.92 else "民办", "否",
                "是" if i in grouped else "否", e, teachers)

        high = round(city.population[c, year] * 0.018)
        n_high = max(2, round(high / 1800))
        for e in split(high, rng.gamma(6.0, size=n_high)):
            add("普通高中", "公办" if rng.random() < 0.85 else "民办", "否",
                "是" if rng.random() < 0.4 else "否", e, max(1, round(e / 11)))
    _spread_variants(rng, rows, 2, codes)
    return rows, codes


def defect_schools(rows: list[list], rng, rate: float, ledger: Ledger, year: int, name: str):
    n = defect_count(rate, len(rows))
    for i in _pick(rng, rows, n, lambda r: r[3] in ("小学", "初中", "九年一贯制")):
        rows[i][8] = 0
    zero = {id(rows[i]) for i in range(len(rows)) if rows[i][8] == 0 and rows[i][7] > 0}
    for i in _pick(rng, rows, n, lambda r: id(r) not in zero):
        rows[i][2] = str(rng.choice(UNKNOWN_NAMES))
    _inject_duplicates(rng, rows, n, mutate_col=7)
    for i, r in enumerate(rows):
        if r[8] == 0 and r[7] > 0:
            ledger.add("schools", year, name, i + 2, "专任教师数", "teachers_zero_with_pupils", 0)
        if r[2] in UNKNOWN_NAMES:
            ledger.add("schools", year, name, i + 2, "所在区县", "unknown_district", r[2])
    _ledger_duplicates(ledger, "schools", year, name, rows, [0], "学校标识码", 2)


# --------------------------------------------------------------------------- health

HEALTH_ORG_HEADER = ["机构代码", "机构名称", "区县", "机构类别", "实有床位数",
                     "执业（助理）医师数", "全科医生数", "注册护士数"]
HEALTH_DISTRICT_HEADER = ["区县代码", "人均预期寿命（岁）", "免疫规划疫苗接种率（%）",
                          "基本医疗保险参保率（%）"]
# category: (count rule, share of physicians, GP affinity, share of beds)
_CATEGORIES = {
    "医院": (0.66, 0.05, 0.84),
    "妇幼保健院": (0.03, 0.02, 0.03),
    "专科疾病防治院": (0.02, 0.02, 0.03),
    "社区卫生服务中心": (0.10, 0.45, 0.03),
    "乡镇卫生院": (0.05, 0.40, 0.07),
    "社区卫生服务站": (0.03, 0.35, 0.0),
    "门诊部": (0.05, 0.08, 0.0),
    "诊所": (0.06, 0.10, 0.0),
}
_CHECK = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _health_counts(d: District, pop: int, townships: int) -> dict[str, int]:
    rural = d.group == "county_city" or d.code in ("320506", "320507", "320509")
    return {
        "医院": max(3, round(pop / 45_000)),
        "妇幼保健院": 1,
        "专科疾病防治院": 1,
        "社区卫生服务中心": max(1, round(townships * (0.5 if rural else 1.3))),
        "乡镇卫生院": round(townships * 0.7) if rural else 0,
        "社区卫生服务站": townships * 5,
        "门诊部": round(pop / 40_000),
        "诊所": round(pop / 9_000),
    }


def _allocate(total: int, weights: np.ndarray, cap: np.ndarray | None = None) -> np.ndarray:
    out = split(total, weights) if weights.sum() > 0 else np.zeros(len(weights), np.int64)
    if cap is not None:
        for _ in range(50):
            over = np.maximum(out - cap, 0)
            if not over.any():
                break
            out -= over
            room = np.maximum(cap - out, 0)
            if room.sum() == 0:
                break
            out += split(int(over.sum()), room.astype(float))
        out = np.minimum(out, cap)
    return out


def make_health(city: City, seed: int, year: int, towns: list[Township]):
    rng = rng_for(seed, "health", year)
    pop = _sum_by_district(towns, "total")
    orgs: list[list] = []
    codes: list[str] = []
    sheet: list[list] = []
    for d in districts():
        c = d.code
        counts = _health_counts(d, pop[c], city.townships[c])
        cats = [k for k, n in counts.items() for _ in range(n)]
        cat_arr = np.array(cats)
        within = rng.gamma(2.0, size=len(cats))
        share = {k: v[0] for k, v in _CATEGORIES.items()}
        if counts["乡镇卫生院"] == 0:
            share["医院"] += share.pop("乡镇卫生院")
        phys_w = np.array([share.get(k, 0.0) for k in cats]) * within
        for k, n in counts.items():
            mask = cat_arr == k
            if n:
                phys_w[mask] /= within[mask].sum()
        small = np.isin(cat_arr, ["社区卫生服务站", "门诊部", "诊所"]).astype(np.int64)
        phys_total = round(city.value["H1", c, year] * pop[c] / 1000)
        physicians = small + _allocate(phys_total - int(small.sum()), phys_w)
        gp_w = physicians * np.array([_CATEGORIES[k][1] for k in cats])
        gps = _allocate(round(city.value["H2", c, year] * pop[c] / 10_000), gp_w, cap=physicians)
        bed_share = {k: v[2] for k, v in _CATEGORIES.items()}
        if counts["乡镇卫生院"] == 0:
            bed_share["医院"] += bed_share.pop("乡镇卫生院")
        bed_w = np.array([bed_share.get(k, 0.0) for k in cats]) * within
        for k in counts:
            mask = cat_arr == k
            if mask.any() and within[mask].sum() > 0:
                bed_w[mask] /= within[mask].sum()
        beds = _allocate(round(city.value["H3", c, year] * pop[c] / 1000), bed_w)
        nurses = np.round(physicians * rng.uniform(0.9, 1.5, len(cats))).astype(np.int64)
        for i, k in enumerate(cats):
            seq = i + 1
            orgs.append([f"12{c}{seq:09d}{_CHECK[seq % 31]}", f"{_short(d)}{k}{seq}",
                         _district_label(rng, d, allow_code=True), k, int(beds[i]),
                         int(physicians[i]), int(gps[i]), int(nurses[i])])
            codes.append(c)
        sheet.append([c, round(city.value["H4", c, year], 2), round(city.value["H5", c, year], 2),
                      round(city.value["H6", c, year], 2)])
    _spread_variants(rng, orgs, 2, codes)
    return orgs, sheet


def defect_health(rows: list[list], rng, rate: float, ledger: Ledger, year: int, name: str):
    n = defect_count(rate, len(rows))
    for i in _pick(rng, rows, n, lambda r: r[5] > 0):
        rows[i][6] = rows[i][5] + int(rng.integers(1, 4))
    bad = {id(r) for r in rows if r[6] > r[5]}
    for i in _pick(rng, rows, n, lambda r: id(r) not in bad):
        rows[i][2] = str(rng.choice(UNKNOWN_NAMES))
    _inject_duplicates(rng, rows, n, mutate_col=4)
    for i, r in enumerate(rows):
        if r[6] > r[5]:
            ledger.add("health", year, name, i + 2, "全科医生数", "gp_above_physicians", r[6])
        if r[2] in UNKNOWN_NAMES:
            ledger.add("health", year, name, i + 2, "区县", "unknown_district", r[2])
    _ledger_duplicates(ledger, "health", year, name, rows, [0], "机构代码", 2)


def write_health(path: Path, year: int, orgs: list[list], sheet: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False})
    # Fixed document dates keep the file byte-identical across runs.
    stamp = datetime(year + 1, 1, 15, 9, 0, 0)
    wb.set_properties({"title": f"卫生健康统计 {year}", "author": "苏州市卫生健康委员会",
                       "created": stamp})
    wb.set_custom_property("reporting_year", str(year))
    for title, header, rows in (("机构", HEALTH_ORG_HEADER, orgs),
                                ("区县指标", HEALTH_DISTRICT_HEADER, sheet)):
        ws = wb.add_worksheet(title)
        ws.write_row(0, 0, header)
        for r, row in enumerate(rows, start=1):
            ws.write_row(r, 0, row)
    wb.close()
    tmp.replace(path)


# --------------------------------------------------------------------------- eldercare

ELDER_INST_HEADER = ["机构编码", "机构名称", "区县代码", "镇街代码", "机构类型", "具备综合功能",
                     "床位数", "护理型床位数"]
HOME_CARE_HEADER = ["区县代码", "镇街代码", "接受上门服务老年人数"]


def _covered_townships(city: City, year: int) -> dict[str, int]:
    """Townships with a comprehensive facility, rounded so the city total is right."""
    want = np.array([city.value["O3", c, year] / 100 * city.townships[c] for c in city.codes])
    total = round(want.sum())
    out = split(total, np.maximum(want, 1e-9))
    return {c: int(min(v, city.townships[c])) for c, v in zip(city.codes, out, strict=True)}


def make_eldercare(city: City, seed: int, year: int, towns: list[Township]):
    rng = rng_for(seed, "eldercare", year)
    covered_n = _covered_townships(city, year)
    facilities: list[list] = []
    home: list[list] = []
    for d in districts():
        c = d.code
        mine = [t for t in towns if t.district == c]
        age60 = sum(t.age_60_plus for t in mine)
        covered = set(rng.choice(len(mine), covered_n[c], replace=False).tolist())
        plan: list[tuple[str, str, bool]] = []  # (township, type, comprehensive)
        n_inst = max(2, round(age60 / 12_000))
        for k in rng.integers(0, len(mine), n_inst):
            plan.append((mine[int(k)].code, "养老机构", False))
        for k, t in enumerate(mine):
            comp_here = k in covered
            has_regional = rng.random() < 0.5
            if has_regional:
                plan.append((t.code, "区域性养老服务中心", comp_here))
            for j in range(int(rng.integers(1, 4))):
                plan.append((t.code, "社区综合养老服务中心",
                             comp_here and not has_regional and j == 0))
            for _ in range(int(rng.integers(2, 7))):
                plan.append((t.code, "日间照料中心", False))
        types = np.array([p[1] for p in plan])
        share = {"养老机构": 0.70, "区域性养老服务中心": 0.18, "社区综合养老服务中心": 0.09,
                 "日间照料中心": 0.03}
        w = rng.gamma(3.0, size=len(plan))
        for k, s in share.items():
            mask = types == k
            w[mask] = s * w[mask] / w[mask].sum() if mask.any() else 0
        beds = _allocate(round(city.value["O2", c, year] * age60 / 1000), w)
        inst = np.isin(types, ["养老机构", "区域性养老服务中心"])
        nursing_total = round(city.value["O1", c, year] / 100 * beds[inst].sum())
        nw = np.where(inst, beds * rng.uniform(0.8, 1.2, len(plan)), 0.0)
        nursing = _allocate(nursing_total, nw, cap=beds)
        for i, (tcode, ftype, comp) in enumerate(plan):
            facilities.append([f"YL{c}{i + 1:05d}", f"{_short(d)}{ftype}{i + 1}", c, tcode, ftype,
                               "是" if comp else "否", int(beds[i]), int(nursing[i])])
        visits = round(city.value["O4", c, year] / 100 * age60)
        per_town = split(visits, np.array([t.age_60_plus for t in mine]) *
                         rng.uniform(0.85, 1.15, len(mine)))
        home += [[c, t.code, int(v)] for t, v in zip(mine, per_town, strict=True)]
    return facilities, home


def defect_eldercare(rows: list[list], rng, rate: float, ledger: Ledger, year: int, name: str):
    n = defect_count(rate, len(rows))
    for i in _pick(rng, rows, n, lambda r: r[6] > 0):
        rows[i][7] = rows[i][6] + int(rng.integers(1, 10))
    bad = {id(r) for r in rows if r[7] > r[6]}
    for i in _pick(rng, rows, n, lambda r: id(r) not in bad):
        rows[i][2] = str(rng.choice(UNKNOWN_CODES))
    _inject_duplicates(rng, rows, n, mutate_col=6)
    for i, r in enumerate(rows):
        if r[7] > r[6]:
            ledger.add("eldercare", year, name, i + 2, "护理型床位数", "nursing_above_beds", r[7])
        if r[2] in UNKNOWN_CODES:
            ledger.add("eldercare", year, name, i + 2, "区县代码", "unknown_district", r[2])
    _ledger_duplicates(ledger, "eldercare", year, name, rows, [0], "机构编码", 2)


# --------------------------------------------------------------------------- sewage

SEWAGE_HEADER = ["区县代码", "生活污水产生量（万吨）", "生活污水集中收集量（万吨）"]


def make_sewage(city: City, seed: int, year: int, towns: list[Township]) -> list[list]:
    rng = rng_for(seed, "sewage", year)
    pop = _sum_by_district(towns, "total")
    rows = []
    for c in city.codes:
        generated = round(pop[c] * 0.005475 * rng.uniform(0.95, 1.05), 2)
        collected = round(generated * city.value["W1", c, year] / 100, 2)
        rows.append([c, generated, collected])
    return rows


# --------------------------------------------------------------------------- air quality

AIR_COLUMNS = ["station_code", "station_name", "district_code", "time",
               "so2", "no2", "pm10", "o3", "pm25", "co"]


def _stations(scale: float) -> list[tuple[str, str, str]]:
    ds = districts()
    n = max(len(ds), round(STATIONS_AT_SCALE_1 * scale))
    per = 1 + split(n - len(ds), np.array([d.population_2020 for d in ds], float))
    out = []
    for d, k in zip(ds, per, strict=True):
        for j in range(int(k)):
            out.append((f"{1100 + len(out)}A", f"{_short(d)}监测站{j + 1}", d.code))
    return out


def _o3_shape() -> tuple[np.ndarray, float]:
    h = np.arange(24)
    shape = 0.35 + 1.2 * np.exp(-(((h - 14) / 3.5) ** 2))
    f8 = max(shape[s:s + 8].mean() for s in range(17))
    return shape, f8


def make_air(city: City, seed: int, year: int, scale: float, missing_rate: float) -> pa.Table:
    rng = rng_for(seed, "air", year)
    stations = _stations(scale)
    days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
    nd = len(days)
    doy = np.arange(nd)
    winter = 1 + np.cos(2 * np.pi * (doy - 15) / nd)      # peaks mid-January
    summer = 1 + np.cos(2 * np.pi * (doy - 196) / nd)     # peaks mid-July
    a1 = float(np.mean([city.value["A1", c, year] for c in city.codes]))
    a2 = float(np.mean([city.value["A2", c, year] for c in city.codes]))
    n_bad = round((1 - a1 / 100) * nd)
    n_pm_bad = round(0.6 * n_bad)
    pm_bad = rng.choice(nd, n_pm_bad, replace=False, p=winter ** 2 / (winter ** 2).sum())
    rest = np.setdiff1d(doy, pm_bad)
    sw = summer[rest] ** 3
    o3_bad = rng.choice(rest, n_bad - n_pm_bad, replace=False, p=sw / sw.sum())
    good_mean = (a2 - n_pm_bad / nd * 105.0) / (1 - n_pm_bad / nd)
    pm = np.clip(rng.gamma(5.0, good_mean / 5.0, nd) * (0.7 + 0.3 * winter), 6, 66)
    pm[pm_bad] = rng.uniform(82, 130, n_pm_bad)
    o3_8h = np.clip(45 + 45 * summer + rng.normal(0, 12, nd), 25, 148)
    o3_8h[o3_bad] = rng.uniform(168, 225, len(o3_bad))

    pm_factor = np.array([city.value["A2", s[2], year] / a2 for s in stations])
    pm_factor /= pm_factor.mean()
    shape, f8 = _o3_shape()
    diurnal_pm = 1 + 0.15 * np.cos(2 * np.pi * (np.arange(24) - 8) / 24)
    ns, nh = len(stations), nd * 24
    st_factor = rng.normal(1.0, 0.03, ns)
    day_noise = rng.normal(1.0, 0.04, (ns, nd))
    base_pm = (pm[None, :] * pm_factor[:, None] * st_factor[:, None] * day_noise)
    hourly = lambda: rng.lognormal(0.0, 0.08, (ns, nd, 24))  # noqa: E731
    pm25 = (base_pm[:, :, None] * diurnal_pm[None, None, :] * hourly()).reshape(ns, nh)
    pm10 = pm25 * 1.55 * rng.lognormal(0.0, 0.05, (ns, nh))
    o3_base = (o3_8h[None, :] * pm_factor[:, None] ** 0.3 * st_factor[:, None] / f8)
    o3 = (o3_base[:, :, None] * shape[None, None, :] * hourly()).reshape(ns, nh)
    no2 = (rng.uniform(18, 50, (ns, nd))[:, :, None] * hourly()).reshape(ns, nh)
    so2 = (rng.uniform(4, 12, (ns, nd))[:, :, None] * hourly()).reshape(ns, nh)
    co = (rng.uniform(0.4, 1.1, (ns, nd))[:, :, None] * hourly()).reshape(ns, nh)

    values = {"so2": so2, "no2": no2, "pm10": pm10, "o3": o3, "pm25": pm25, "co": co}
    for k, v in values.items():
        v = np.round(v, 3 if k == "co" else 1)
        v[rng.random(v.shape) < missing_rate] = np.nan
        values[k] = v
    # Outages: a station down for a whole day now and then (invalid station-days).
    outage = rng.random((ns, nd)) < missing_rate / 2
    for v in values.values():
        v.reshape(ns, nd, 24)[outage] = np.nan

    hours = (days.astype("datetime64[h]")[:, None] + np.arange(24)[None, :]).ravel()
    times = pc.strftime(pa.array(np.tile(hours, ns).astype("datetime64[s]")),
                        format="%Y-%m-%d %H:00")
    return pa.table({
        "station_code": pa.array(np.repeat([s[0] for s in stations], nh)),
        "station_name": pa.array(np.repeat([s[1] for s in stations], nh)),
        "district_code": pa.array(np.repeat([s[2] for s in stations], nh)),
        "time": times,
        **{k: pa.array(v.ravel(), from_pandas=True) for k, v in values.items()},
    })


def defect_air(table: pa.Table, rng, rate: float, ledger: Ledger, year: int, name: str) -> pa.Table:
    n = table.num_rows
    k = defect_count(rate, n)
    cols = {c: table.column(c).to_numpy(zero_copy_only=False).copy() for c in AIR_COLUMNS[4:]}
    rows = rng.choice(n, k, replace=False)
    which = rng.integers(0, len(cols), k)
    names = list(cols)
    for r, w in zip(rows, which, strict=True):
        cols[names[w]][r] = -99.0
    table = table.select(AIR_COLUMNS[:4])
    for c in names:
        table = table.append_column(c, pa.array(cols[c], from_pandas=True))
    dup = np.sort(rng.choice(n, k, replace=False))
    order = np.sort(np.concatenate([np.arange(n), dup]), kind="stable")
    table = table.take(pa.array(order))
    # Ledger: line = position + 2 (header is line 1).
    neg = np.zeros(table.num_rows, bool)
    for c in names:
        v = table.column(c).to_numpy(zero_copy_only=False)
        neg |= np.nan_to_num(v, nan=0.0) < 0
    for i in np.flatnonzero(neg):
        ledger.add("environment", year, name, int(i) + 2, "*", "sentinel_-99", -99)
    dup_pos = np.flatnonzero(np.r_[False, order[1:] == order[:-1]])
    codes = table.column("station_code").to_pylist()
    times = table.column("time").to_pylist()
    for p in dup_pos:
        for q in (p - 1, p):
            ledger.add("environment", year, name, int(q) + 2, "time", "duplicate_key",
                       f"{codes[q]}|{times[q]}")
    return table


def write_air(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 1})
    con.register("air", table)
    fmt = ", ".join(
        f"CASE WHEN {c} = -99 THEN '-99' ELSE CAST({c} AS VARCHAR) END AS {c}"
        for c in AIR_COLUMNS[4:]
    )
    tmp = path.with_suffix(".tmp")
    con.execute(
        f"COPY (SELECT station_code, station_name, district_code, time, {fmt} FROM air) "
        f"TO '{tmp}' (FORMAT csv, HEADER true)"
    )
    con.close()
    tmp.replace(path)


# --------------------------------------------------------------------------- pension

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def person_keys(ids: np.ndarray, secret: int) -> pa.StringArray:
    """64 lowercase hex characters per id: a keyed, vectorised 256-bit hash (splitmix64)."""
    ids = ids.astype(np.uint64)
    lanes = []
    with np.errstate(over="ignore"):
        for lane in range(4):
            z = ids * np.uint64(0x9E3779B97F4A7C15) + np.uint64((secret * 4 + lane) & 0xFFFFFFFF)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            lanes.append(z ^ (z >> np.uint64(31)))
    raw = np.stack(lanes, axis=1).astype(">u8").view(np.uint8).reshape(len(ids), 32)
    hexed = np.empty((len(ids), 64), np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, 64 * (len(ids) + 1), 64, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(len(ids), pa.py_buffer(offsets),
                                            pa.py_buffer(hexed.ravel()))


@dataclass
class Persons:
    district: np.ndarray   # index into codes
    birth_year: np.ndarray
    sex: np.ndarray        # 0 = M, 1 = F
    employee: np.ndarray   # bool: primary scheme is employee
    entry_year: np.ndarray
    first_id: int = 0      # global id of the first person (persons come in chunks)


# Persons are made, and their pension records written, one chunk of ids at a time, each
# chunk from its own seeded stream: memory is bounded by the chunk, not by the scale (a
# province year, 60 million records, is written in the memory one chunk needs). The first
# chunk uses the streams the generator always used, so scales up to 0.1 are unchanged.
PERSON_CHUNK = 1_000_000


def person_count(scale: float) -> int:
    return round(PENSION_RECORDS_AT_SCALE_1 * scale * 1.06)


def make_persons(city: City, seed: int, scale: float, chunk: int = 0) -> Persons:
    """The persons of one chunk of ids (the whole population when it fits in one)."""
    rng = rng_for(seed, "persons") if chunk == 0 else rng_for(seed, "persons", chunk)
    first = chunk * PERSON_CHUNK
    n = max(0, min(person_count(scale) - first, PERSON_CHUNK))
    w = np.array([city.population[c, 2025] for c in city.codes], float)
    district = rng.choice(len(city.codes), n, p=w / w.sum())
    old = rng.random(n) < 0.30
    age_2020 = np.where(old, rng.integers(60, 96, n), rng.integers(16, 60, n))
    entry = np.where(rng.random(n) < 0.94, 2020, rng.integers(2021, 2026, n))
    late = entry > 2020
    age_2020 = np.where(late, rng.integers(16, 26, n) - (entry - 2020), age_2020)
    return Persons(district.astype(np.int16), (2020 - age_2020).astype(np.int32),
                   (rng.random(n) < 0.5).astype(np.int8), rng.random(n) < 0.78, entry, first)


def make_pension(city: City, persons: Persons, seed: int, year: int, opts: Options,
                 ledger: Ledger, name: str, chunk: int = 0, k: int | None = None,
                 first_line: int = 1) -> pa.Table:
    """The pension records of one chunk of persons, in person order. `k` defects of each
    class fall in this chunk (all of them when it is the only one); `first_line` is the
    file line of its first record."""
    rng = rng_for(seed, "pension", year) if chunk == 0 else rng_for(seed, "pension", year, chunk)
    ids = np.flatnonzero(persons.entry_year <= year)
    n = len(ids)
    age = year - persons.birth_year[ids]
    dist = persons.district[ids]
    p1 = np.array([city.value["P1", c, year] for c in city.codes])[dist] / 100
    u = rng.random(n)
    working = (age >= 16) & (age <= 59)
    status = np.where(working, np.where(u < p1, 0, np.where(u < p1 + 0.005 * (1 - p1), 1, 2)),
                      np.where(u < 0.03, 0, 1))  # 0 contributing, 1 receiving, 2 suspended
    employee = persons.employee[ids] & (age < 75)
    # Dual enrolment: the same person also in the other scheme, often elsewhere and lapsed.
    dual = rng.random(n) < opts.dual_rate
    d_ids = ids[dual]
    d_dist = np.where(rng.random(len(d_ids)) < 0.7, dist[dual],
                      rng.integers(0, len(city.codes), len(d_ids)))
    d_status = np.where(rng.random(len(d_ids)) < 0.7, 2, status[dual])
    all_ids = np.concatenate([ids, d_ids])
    all_scheme = np.concatenate([employee, ~employee[dual]])
    all_dist = np.concatenate([dist, d_dist])
    all_status = np.concatenate([status, d_status])
    order = np.argsort(all_ids, kind="stable")
    all_ids, all_scheme, all_dist, all_status = (
        a[order] for a in (all_ids, all_scheme, all_dist, all_status))
    birth = persons.birth_year[all_ids].astype(np.int32)
    sex = persons.sex[all_ids]
    codes = np.array(city.codes, dtype=object)[all_dist]

    # Defects: duplicate (person_key, scheme), unknown district, birth year out of range.
    m = len(all_ids)
    k = min(defect_count(opts.defect_rate, n) if k is None else k, m // 3)
    unknown = rng.choice(m, k, replace=False)
    codes[unknown] = rng.choice(UNKNOWN_CODES, k)
    pool = np.setdiff1d(np.arange(m), unknown)
    bad_birth = rng.choice(pool, k, replace=False)
    birth[bad_birth] = np.where(rng.random(k) < 0.5, 1890, year + 1)
    pool = np.setdiff1d(pool, bad_birth)
    dup = np.sort(rng.choice(pool, k, replace=False))
    take = np.sort(np.concatenate([np.arange(m), dup]), kind="stable")
    is_copy = np.r_[False, take[1:] == take[:-1]]
    status_out = all_status[take].copy()
    status_out[is_copy] = rng.integers(0, 3, int(is_copy.sum()))

    lines = np.arange(len(take)) + first_line
    inv = np.empty(m, np.int64)
    inv[take[~is_copy]] = lines[~is_copy]
    for i in np.sort(unknown):
        ledger.add("pension", year, name, int(inv[i]), "district_code", "unknown_district",
                   codes[i])
    for i in np.sort(bad_birth):
        ledger.add("pension", year, name, int(inv[i]), "birth_year", "birth_year_out_of_range",
                   int(birth[i]))
    for p in np.flatnonzero(is_copy):
        for line in (lines[p - 1], lines[p]):
            ledger.add("pension", year, name, int(line), "person_key", "duplicate_key", "")

    return pa.table({
        "person_key": person_keys(all_ids[take] + persons.first_id, seed),
        "district_code": pa.array(codes[take].astype(str)),
        "scheme": pa.array(np.where(all_scheme[take], "employee", "resident")),
        "birth_year": pa.array(birth[take]),
        "sex": pa.array(np.where(sex[take] == 0, "M", "F")),
        "status": pa.array(np.array(["contributing", "receiving", "suspended"])[status_out]),
    })


def pension_tables(city: City, seed: int, year: int, opts: Options, ledger: Ledger,
                   name: str) -> Iterator[pa.Table]:
    """A year's pension records, one chunk of persons at a time, in file order. Each class
    of defect has defect_count(rate, persons enrolled) rows, spread over the chunks."""
    chunks = -(-person_count(opts.scale) // PERSON_CHUNK)
    enrolled = [int((make_persons(city, seed, opts.scale, c).entry_year <= year).sum())
                for c in range(chunks)]
    ks = split(defect_count(opts.defect_rate, sum(enrolled)), np.array(enrolled) + 1e-9)
    line = 1
    for c in range(chunks):
        persons = make_persons(city, seed, opts.scale, c)
        table = make_pension(city, persons, seed, year, opts, ledger, name, c, int(ks[c]), line)
        line += table.num_rows
        yield table


def write_pension(path: Path, tables: pa.Table | Iterable[pa.Table], compresslevel: int,
                  chunk: int = 500_000) -> int:
    """Write the records as gzip JSON Lines, a slice at a time; return how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect(config={"threads": 2})
    total = 0
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                               compresslevel=compresslevel, mtime=0) as gz:
        for table in [tables] if isinstance(tables, pa.Table) else tables:
            for start in range(0, table.num_rows, chunk):
                part = table.slice(start, chunk)
                con.register("part", part)
                lines = con.sql(
                    "SELECT to_json(struct_pack(person_key, district_code, scheme, birth_year, "
                    "sex, status)) || chr(10) AS line FROM part"
                ).to_arrow_table().column(0).combine_chunks()
                con.unregister("part")
                offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32 if
                                        lines.type == pa.string() else np.int64)
                data = lines.buffers()[2]
                gz.write(memoryview(data)[offsets[lines.offset]:
                                          offsets[lines.offset + len(lines)]])
                total += part.num_rows
            log.info("  pension %s: %s records", path.name, f"{total:,}")
    con.close()
    tmp.replace(path)
    return total


# --------------------------------------------------------------------------- broken deliveries

def break_deliveries(landing: Path, year: int) -> list[str]:
    """Damage four deliveries of one year, the ways departments have done it."""
    done = []
    p = landing / "pension" / str(year) / f"pension_{year}.jsonl.gz"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    done.append(f"{p.relative_to(landing)}: truncated gzip")
    s = landing / "schools" / str(year) / f"schools_{year}.csv"
    s.write_bytes(s.read_bytes().decode("gbk").encode("utf-8"))
    done.append(f"{s.relative_to(landing)}: UTF-8 where GBK is due")
    h = landing / "eldercare" / str(year) / f"home_care_{year}.csv"
    lines = h.read_text(encoding="utf-8").splitlines()
    h.write_text("\n".join(",".join(x.split(",")[:2]) for x in lines) + "\n", encoding="utf-8")
    done.append(f"{h.relative_to(landing)}: missing column 接受上门服务老年人数")
    r = landing / "submissions" / str(year) / f"sport_{year}.csv"
    r.write_bytes(r.read_bytes().decode("utf-8-sig").encode("gbk"))
    done.append(f"{r.relative_to(landing)}: GBK where UTF-8 is due")
    return done


# --------------------------------------------------------------------------- driver

def generate(landing: Path, opts: Options) -> dict:
    """Write the demo landing zone; return a summary (also written to .demo/manifest.json)."""
    landing = Path(landing)
    landing.mkdir(parents=True, exist_ok=True)
    city = build_city(opts.seed)
    ledger = Ledger()
    # Imported here: submissions.py uses this module's helpers (ledger, CSV writer).
    from junheng.demo.submissions import plan_submissions, write_submissions

    submitted = plan_submissions(city, opts.seed)
    counts: dict[str, dict[str, int]] = {}
    for year in opts.years:
        log.info("demo feeds %s (seed %s, scale %s)", year, opts.seed, opts.scale)
        rng = rng_for(opts.seed, "defects", year)
        folder = lambda feed, year=year: landing / feed / str(year)  # noqa: E731
        towns = make_population(city, opts.seed, year)
        write_population(folder("population") / f"population_{year}.csv", year, towns)

        name = f"schools_{year}.csv"
        rows, _ = make_schools(city, opts.seed, year, towns)
        defect_schools(rows, rng, opts.defect_rate, ledger, year, name)
        _write_csv(folder("schools") / name, SCHOOLS_HEADER, rows, encoding="gbk")

        name = f"health_{year}.xlsx"
        orgs, sheet = make_health(city, opts.seed, year, towns)
        defect_health(orgs, rng, opts.defect_rate, ledger, year, name)
        write_health(folder("health") / name, year, orgs, sheet)

        name = f"eldercare_institutions_{year}.csv"
        facilities, home = make_eldercare(city, opts.seed, year, towns)
        defect_eldercare(facilities, rng, opts.defect_rate, ledger, year, name)
        _write_csv(folder("eldercare") / name, ELDER_INST_HEADER, facilities)
        _write_csv(folder("eldercare") / f"home_care_{year}.csv", HOME_CARE_HEADER, home)

        _write_csv(folder("environment") / f"sewage_{year}.csv", SEWAGE_HEADER,
                   make_sewage(city, opts.seed, year, towns))
        name = f"air_quality_{year}.csv"
        air = make_air(city, opts.seed, year, opts.scale, opts.missing_rate)
        air = defect_air(air, rng, opts.defect_rate, ledger, year, name)
        write_air(folder("environment") / name, air)
        log.info("  air quality: %s station-hours", f"{air.num_rows:,}")

        submission_rows = write_submissions(landing, city, submitted, opts.seed, year,
                                            opts.defect_rate, ledger, _write_csv)

        name = f"pension_{year}.jsonl.gz"
        pension_records = write_pension(
            folder("pension") / name,
            pension_tables(city, opts.seed, year, opts, ledger, name), opts.compresslevel)
        counts[str(year)] = {
            "townships": len(towns), "schools": len(rows), "health_institutions": len(orgs),
            "eldercare_facilities": len(facilities), "air_rows": air.num_rows,
            "pension_records": pension_records, "submission_rows": submission_rows,
        }
        del air

    broken = []
    if opts.broken:
        broken = break_deliveries(landing, opts.broken_year or opts.years[-1])
    meta = landing / LEDGER_DIR
    meta.mkdir(exist_ok=True)
    _write_csv(meta / "defects.csv", LEDGER_COLUMNS, ledger.rows)
    summary = {"options": asdict(opts), "generator": GENERATOR_VERSION, "counts": counts,
               "broken": broken, "defects": _ledger_counts(ledger)}
    (meta / "manifest.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                        encoding="utf-8")
    return summary


# Bumped when the demo files change shape (2: the departments' submissions of feeds.md
# section 7); `demo-feeds --if-missing` rewrites demo feeds of another version.
GENERATOR_VERSION = 2


def if_missing(landing: Path, opts: Options) -> str | None:
    """`demo-feeds --if-missing`: None when demo feeds are to be written (the landing zone
    holds nothing yet), else the one line that says why nothing is written.

    Demo feeds already there are kept, whatever options made them (a user may have made
    them on purpose, e.g. `--broken`), unless an older generator wrote them; files that
    are not demo feeds (no manifest) are never touched."""
    landing = Path(landing)
    manifest = landing / LEDGER_DIR / "manifest.json"
    try:
        written = json.loads(manifest.read_text(encoding="utf-8"))
        old = written["options"]
        if written.get("generator") != GENERATOR_VERSION:
            # Written by an older generator (e.g. before the submissions feed existed):
            # the demo no longer matches the contract, so it is written again.
            return None
    except FileNotFoundError:
        old = None
    except (OSError, ValueError, KeyError, TypeError):
        return f"{landing} holds a demo manifest that cannot be read: left untouched"
    if old is None:
        if landing.is_dir() and any(not p.name.startswith(".") for p in landing.iterdir()):
            return (f"{landing} holds files that are not demo feeds: left untouched (demo "
                    "feeds are written only into an empty landing zone)")
        return None
    new = json.loads(json.dumps(asdict(opts)))
    if old == new:
        return f"demo feeds already in {landing} (same options): nothing to do"
    differ = ", ".join(f"{k} {old.get(k)} (not {v})" for k, v in new.items() if old.get(k) != v)
    return (f"demo feeds in {landing} were made with other options ({differ}): kept; "
            "`make demo` rewrites them")


def _ledger_counts(ledger: Ledger) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in ledger.rows:
        key = f"{r[0]}/{r[1]}/{r[5]}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))
