"""Independent readings of the landing-zone files, for tests.

Written from feeds.md and methodology.md alone, with pandas, and deliberately
sharing no code with the generator or the pipeline: if both agree, both are
more likely right.
"""

from __future__ import annotations

import csv
import gzip
import json
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS = Path(__file__).resolve().parents[1] / "warehouse" / "seeds"


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", str(s)).strip()


@cache
def district_lookup() -> dict[str, str]:
    out = {}
    with open(SEEDS / "districts.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            for name in [r["district_code"], r["name_zh"], *r["aliases"].split("|")]:
                out[_norm(name)] = r["district_code"]
    return out


def census() -> dict[str, int]:
    with open(SEEDS / "districts.csv", encoding="utf-8") as fh:
        return {r["district_code"]: int(r["resident_population_2020"]) for r in csv.DictReader(fh)}


def _drop_duplicate_keys(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df[~df.duplicated(keys, keep=False)]


def read_population(landing: Path, year: int) -> pd.DataFrame:
    df = pd.read_csv(landing / f"population/{year}/population_{year}.csv", encoding="utf-8-sig",
                     dtype={"区县代码": str, "镇街代码": str})
    return df.rename(columns={"区县代码": "district_code", "常住人口": "total", "0-2岁": "a02",
                              "3-5岁": "a35", "6-14岁": "a614", "15-59岁": "a1559",
                              "60岁及以上": "a60", "镇街代码": "township"})


def read_schools(landing: Path, year: int) -> pd.DataFrame:
    df = pd.read_csv(landing / f"schools/{year}/schools_{year}.csv", encoding="gbk",
                     dtype={"学校标识码": str})
    df["district_code"] = df["所在区县"].map(lambda s: district_lookup().get(_norm(s)))
    df = df[df["district_code"].notna()]
    df = df[~((df["专任教师数"] == 0) & (df["在校生数"] > 0))]
    return _drop_duplicate_keys(df, ["学校标识码"])


def read_health(landing: Path, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = landing / f"health/{year}/health_{year}.xlsx"
    orgs = pd.read_excel(path, sheet_name="机构", engine="calamine", dtype={"机构代码": str})
    orgs["district_code"] = orgs["区县"].map(lambda s: district_lookup().get(_norm(s)))
    orgs = orgs[orgs["district_code"].notna()]
    orgs = orgs[orgs["全科医生数"] <= orgs["执业（助理）医师数"]]
    orgs = _drop_duplicate_keys(orgs, ["机构代码"])
    sheet = pd.read_excel(path, sheet_name="区县指标", engine="calamine", dtype={"区县代码": str})
    return orgs, sheet


def read_eldercare(landing: Path, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    inst = pd.read_csv(landing / f"eldercare/{year}/eldercare_institutions_{year}.csv",
                       dtype={"区县代码": str, "镇街代码": str, "机构编码": str})
    inst = inst[inst["区县代码"].isin(census())]
    inst = inst[inst["护理型床位数"] <= inst["床位数"]]
    inst = _drop_duplicate_keys(inst, ["机构编码"])
    home = pd.read_csv(landing / f"eldercare/{year}/home_care_{year}.csv",
                       dtype={"区县代码": str, "镇街代码": str})
    return inst, home


def read_pension(landing: Path, year: int) -> pd.DataFrame:
    with gzip.open(landing / f"pension/{year}/pension_{year}.jsonl.gz", "rt",
                   encoding="utf-8") as fh:
        df = pd.DataFrame([json.loads(line) for line in fh])
    df = df[df["district_code"].isin(census())]
    df = df[(df["birth_year"] >= 1900) & (df["birth_year"] <= year)]
    return _drop_duplicate_keys(df, ["person_key", "scheme"])


def read_air(landing: Path, year: int) -> pd.DataFrame:
    df = pd.read_csv(landing / f"environment/{year}/air_quality_{year}.csv",
                     dtype={"district_code": str, "station_code": str})
    df = _drop_duplicate_keys(df, ["station_code", "time"])
    for c in ["so2", "no2", "pm10", "o3", "pm25", "co"]:
        df.loc[df[c] < 0, c] = np.nan
    return df


# Concentration at IAQI 100: with IAQI rounded up, AQI <= 100 exactly when every
# pollutant is at or below its breakpoint for 100 (HJ 633-2012 table).
GOOD_LIMITS = {"so2": 150, "no2": 80, "pm10": 150, "co": 4, "o3_1h": 200, "o3_8h": 160,
               "pm25": 75}


def station_days(air: pd.DataFrame) -> pd.DataFrame:
    """Per station and local day: 24-hour means, O3 1-hour and 8-hour maxima (or NaN)."""
    t = pd.to_datetime(air["time"], format="%Y-%m-%d %H:%M")
    keys = pd.DataFrame({"station_code": air["station_code"].to_numpy(),
                         "district_code": air["district_code"].to_numpy(),
                         "day": t.dt.normalize().to_numpy()})
    group = keys.groupby(["station_code", "district_code", "day"], sort=True).ngroup().to_numpy()
    out = keys.drop_duplicates().sort_values(["station_code", "district_code", "day"])
    out = out.reset_index(drop=True)
    hour = t.dt.hour.to_numpy()

    def grid(col: str) -> np.ndarray:
        g = np.full((len(out), 24), np.nan)
        g[group, hour] = air[col].to_numpy(dtype=float)
        return g

    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        for c in ["so2", "no2", "pm10", "co", "pm25"]:
            g = grid(c)
            out[c] = np.where((~np.isnan(g)).sum(1) >= 20, np.nanmean(g, 1), np.nan)
        o3 = grid("o3")
        out["o3_1h"] = np.where((~np.isnan(o3)).sum(1) >= 20, np.nanmax(o3, 1), np.nan)
        win = np.lib.stride_tricks.sliding_window_view(o3, 8, axis=1)[:, :17, :]
        wmean = np.where((~np.isnan(win)).sum(2) >= 6, np.nanmean(win, 2), np.nan)
        ok = (~np.isnan(wmean)).sum(1) >= 14
        out["o3_8h"] = np.where(ok, np.nanmax(wmean, 1), np.nan)
    return out


def a1_city(air: pd.DataFrame) -> tuple[float, float]:
    """City A1 (good-day share, %) and A2 (mean daily PM2.5) from station-day values."""
    sd = station_days(air)
    city = sd.groupby("day")[list(GOOD_LIMITS)].mean()
    valid = city[["pm25", "pm10", "o3_8h"]].notna().all(axis=1)
    city = city[valid]
    good = pd.Series(True, index=city.index)
    for c, lim in GOOD_LIMITS.items():
        good &= ~(city[c] > lim)
    return 100 * good.mean(), city["pm25"].mean()


@cache
def catalogue() -> dict[str, dict[str, str]]:
    with open(SEEDS / "indicators.csv", encoding="utf-8") as fh:
        return {r["indicator_id"]: r for r in csv.DictReader(fh)}


CITY = "320500"
# The population each H4/H5/H6 mean is weighted by (catalogue `weight_population`).
_WEIGHT_COLUMN = {"residents": "total", "age_0_2": "a02", "age_3_5": "a35", "age_6_14": "a614",
                  "age_15_59": "a1559", "age_60_plus": "a60"}


def _ratio(num: pd.Series, den: pd.Series, f: float = 1.0) -> dict[str, float]:
    """Per district f × num / den, and the city's pooled ratio of sums (key CITY)."""
    num, den = num.astype(float), den.astype(float)
    out = {d: f * num.get(d, 0.0) / den[d] if den[d] else np.nan for d in den.index}
    out[CITY] = f * num.sum() / den.sum()
    return out


def district_air(air: pd.DataFrame) -> pd.DataFrame:
    """A1 and A2 per district: district-day means over the stations with a valid value."""
    sd = station_days(air)
    day = sd.groupby(["district_code", "day"])[list(GOOD_LIMITS)].mean().reset_index()
    day = day[day[["pm25", "pm10", "o3_8h"]].notna().all(axis=1)]
    good = pd.Series(True, index=day.index)
    for c, lim in GOOD_LIMITS.items():
        good &= ~(day[c] > lim)
    day = day.assign(good=good)
    return day.groupby("district_code").agg(A1=("good", "mean"), A2=("pm25", "mean")).assign(
        A1=lambda d: 100 * d["A1"])


def _p1(pension: pd.DataFrame, year: int) -> dict[str, float]:
    df = pension[(year - pension["birth_year"]).between(16, 59)]
    df = df.assign(paying=df["status"] == "contributing",
                   counted=df["status"].isin(["contributing", "suspended"]))
    # One person once, in the district of the employee record ("employee" sorts first).
    persons = df.sort_values(["person_key", "scheme"]).groupby("person_key").agg(
        district=("district_code", "first"), paying=("paying", "any"),
        counted=("counted", "any"))
    persons = persons[persons["counted"]]
    out = (100 * persons.groupby("district")["paying"].mean()).to_dict()
    out[CITY] = 100 * persons["paying"].mean()
    return out


def computed_values(landing: Path, year: int, with_air: bool = True) -> dict[str, dict]:
    """The 18 indicators computed from the seven other feeds: {indicator: {unit: value}}."""
    pop = read_population(landing, year)
    by = pop.groupby("district_code")[["total", "a02", "a35", "a614", "a1559", "a60"]].sum()
    schools = read_schools(landing, year)
    orgs, sheet = read_health(landing, year)
    inst, home = read_eldercare(landing, year)
    sewage = pd.read_csv(landing / f"environment/{year}/sewage_{year}.csv",
                         dtype={"区县代码": str}).set_index("区县代码")

    v: dict[str, dict] = {}
    kg = schools[schools["学段"] == "幼儿园"]
    comp = schools[schools["学段"].isin(["小学", "初中", "九年一贯制"])]
    g = "district_code"
    v["E1"] = _ratio(kg[kg["普惠性"] == "是"].groupby(g)["在校生数"].sum(),
                     kg.groupby(g)["在校生数"].sum(), 100)
    v["E2"] = _ratio((comp["集团化办学"] == "是").groupby(comp[g]).sum(),
                     comp.groupby(g).size(), 100)
    v["E3"] = _ratio(kg.groupby(g)["在校生数"].sum(), by["a35"], 100)
    v["E4"] = _ratio(comp.groupby(g)["在校生数"].sum(), comp.groupby(g)["专任教师数"].sum())
    v["H1"] = _ratio(orgs.groupby(g)["执业（助理）医师数"].sum(), by["total"], 1000)
    v["H2"] = _ratio(orgs.groupby(g)["全科医生数"].sum(), by["total"], 10000)
    v["H3"] = _ratio(orgs.groupby(g)["实有床位数"].sum(), by["total"], 1000)
    cat = catalogue()
    sheet = sheet.assign(区县代码=sheet["区县代码"].astype(str)).set_index("区县代码")
    for ind, col in (("H4", "人均预期寿命（岁）"), ("H5", "免疫规划疫苗接种率（%）"),
                     ("H6", "基本医疗保险参保率（%）")):
        w = by[_WEIGHT_COLUMN[cat[ind]["weight_population"]]]
        v[ind] = {**sheet[col].astype(float).to_dict(),
                  CITY: float((sheet[col] * w).sum() / w[sheet.index].sum())}
    ig = "区县代码"
    care = inst[inst["机构类型"].isin(["养老机构", "区域性养老服务中心"])]
    v["O1"] = _ratio(care.groupby(ig)["护理型床位数"].sum(), care.groupby(ig)["床位数"].sum(),
                     100)
    v["O2"] = _ratio(inst.groupby(ig)["床位数"].sum(), by["a60"], 1000)
    comprehensive = set(inst.loc[inst["具备综合功能"] == "是", "镇街代码"])
    v["O3"] = _ratio(pop["township"].isin(comprehensive).groupby(pop[g]).sum(),
                     pop.groupby(g).size(), 100)
    v["O4"] = _ratio(home.groupby(ig)["接受上门服务老年人数"].sum(), by["a60"], 100)
    v["P1"] = _p1(read_pension(landing, year), year)
    v["W1"] = _ratio(sewage.iloc[:, 1], sewage.iloc[:, 0], 100)
    if with_air:
        air = read_air(landing, year)
        per = district_air(air)
        city_a1, city_a2 = a1_city(air)
        v["A1"] = {**per["A1"].to_dict(), CITY: city_a1}
        v["A2"] = {**per["A2"].to_dict(), CITY: city_a2}
    return v


# ------------------------------------------------------------------ submissions (feeds.md §7)

SUBMISSION_HEADER = ["指标编码", "区县", "分子", "分母", "数值", "标准误", "样本量", "备注"]
_NUMERIC = {"分子": "num", "分母": "den", "数值": "value", "标准误": "se", "样本量": "n"}
COUNT_FACTOR = {"C1": 1000.0, "S2": 10000.0, "R1": 1.0, "R2": 1.0}


def departments() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, r in catalogue().items():
        if r["source"].startswith("submissions:"):
            out.setdefault(r["source"].split(":", 1)[1], []).append(k)
    return out


def _number(text: str) -> float | None:
    """None for an empty cell; NaN for text that is not a number."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return np.nan


def _row_rule(r: dict, dept: str, cat: dict, lookup: dict) -> tuple[str | None, str | None]:
    """(district code or CITY, the rule the row breaks or None)."""
    ind = r["指标编码"].strip()
    if ind not in cat:
        return None, "unknown_indicator"
    if cat[ind]["source"] != f"submissions:{dept}":
        return None, "other_department_indicator"
    form = cat[ind]["form"]
    name = _norm(r["区县"])
    if name == CITY:
        code = CITY
        if form != "estimate":
            return CITY, "city_code_not_estimate"
    elif name in lookup:
        code = lookup[name]
    else:
        return None, "unknown_district"
    x = {k: _number(r[h]) for h, k in _NUMERIC.items()}
    if any(v is not None and np.isnan(v) for v in x.values()):
        return code, "non_numeric"
    if form != "estimate" and (x["se"] is not None or x["n"] is not None):
        return code, "standard_error_not_estimate"
    if form == "estimate":
        if x["value"] is None or x["se"] is None or x["se"] <= 0 or (
                x["n"] is not None and x["n"] < 1):
            return code, "estimate_incomplete"
        return code, None
    if x["num"] is None:
        return code, "missing_numerator"
    if x["num"] < 0:
        return code, "negative_numerator"
    if form == "flag":
        return code, None if x["num"] in (0, 1) and x["den"] == 1 else "flag_not_binary"
    if form == "ratio":
        if x["den"] is None or x["den"] <= 0:
            return code, "denominator_not_positive"
        f = 100.0 if cat[ind]["unit"] == "%" else 1.0
        if f == 100.0 and x["num"] > x["den"]:
            return code, "numerator_above_denominator"
        ratio = f * x["num"] / x["den"]
        if x["value"] is not None and abs(x["value"] - ratio) > 0.005 * abs(ratio):
            return code, "value_inconsistent"
    return code, None


def read_submission_file(path: Path, dept: str) -> pd.DataFrame:
    """Every row of one department file with its line, district code and broken rule."""
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(df.columns) == SUBMISSION_HEADER, list(df.columns)
    cat, lookup = catalogue(), district_lookup()
    rules = [_row_rule(r, dept, cat, lookup) for r in df.to_dict("records")]
    df["line"] = np.arange(len(df)) + 2
    df["department"] = dept
    df["district_code"] = [c for c, _ in rules]
    df["rule"] = [rule for _, rule in rules]
    # Keys compare among rows whose indicator and district are right.
    keyed = df["district_code"].notna() & ~df["rule"].isin(
        ["unknown_indicator", "other_department_indicator", "city_code_not_estimate"])
    df["indicator_id"] = df["指标编码"].str.strip()
    dup = keyed & df[keyed].duplicated(["indicator_id", "district_code"], keep=False).reindex(
        df.index, fill_value=False)
    df.loc[dup, "rule"] = "duplicate_key"
    for h, k in _NUMERIC.items():
        df[k] = pd.to_numeric(df[h].str.strip(), errors="coerce")
    return df


@cache
def _read_submissions(landing: Path, year: int) -> pd.DataFrame:
    """All rows of the year's department files that exist (rule = None: valid)."""
    frames = []
    for dept in departments():
        path = landing / f"submissions/{year}/{dept}_{year}.csv"
        if path.exists():
            df = read_submission_file(path, dept)
            frames.append(df.assign(file_name=path.name))
    return pd.concat(frames, ignore_index=True)


def read_submissions(landing: Path, year: int) -> pd.DataFrame:
    """All rows of the year's department files that exist (rule = None: valid)."""
    return _read_submissions(Path(landing), year).copy()


def submitted_values(landing: Path, year: int) -> dict[str, dict]:
    """The 23 submitted indicators, {indicator: {unit: value}}; I3's standard errors under
    the key "I3_se".  Methodology section 1 (submitted indicators and special series)."""
    cat = catalogue()
    pop = read_population(landing, year).groupby("district_code")["total"].sum()
    subs = read_submissions(landing, year)
    ok = subs[subs["rule"].isna()]
    v: dict[str, dict] = {}
    for ind, rows in ok.groupby("indicator_id"):
        r = cat[ind]
        rows = rows.set_index("district_code")
        districts = rows.drop(index=CITY, errors="ignore")
        if r["form"] == "ratio":
            f = 100.0 if r["unit"] == "%" else 1.0
            v[ind] = _ratio(districts["num"], districts["den"], f)
        elif r["form"] == "flag":
            v[ind] = {**(100 * districts["num"]).to_dict(), CITY: 100 * districts["num"].mean()}
        elif r["form"] == "estimate":
            v[ind] = rows["value"].to_dict()
            v["I3_se"] = rows["se"].to_dict()
        elif ind in COUNT_FACTOR:
            v[ind] = _ratio(districts["num"], pop[districts.index], COUNT_FACTOR[ind])
    v.update(_series(landing, year))
    return v


def _counts(landing: Path, year: int, ind: str) -> pd.Series:
    subs = read_submissions(landing, year)
    ok = subs[subs["rule"].isna() & (subs["indicator_id"] == ind)]
    return ok.set_index("district_code")["num"]


def _series(landing: Path, year: int) -> dict[str, dict]:
    """L2 (cumulative since 2021, 10 000 person-times), I1 and I2 (% decline since 2020)."""
    out: dict[str, dict] = {"L2": {}, "I1": {}, "I2": {}}
    codes = sorted(census())
    if year > 2020:
        years = [_counts(landing, y, "L2") for y in range(2021, year + 1)]
        for d in codes:
            if all(d in s.index for s in years):
                out["L2"][d] = sum(s[d] for s in years) / 10000
        out["L2"][CITY] = sum(s.sum() for s in years) / 10000
    for ind in ("I1", "I2"):
        n0, nt = _counts(landing, 2020, ind), _counts(landing, year, ind)
        for d in codes:
            if d in n0.index and d in nt.index and n0[d] > 0:
                out[ind][d] = 100 * (n0[d] - nt[d]) / n0[d]
        both = n0.index.intersection(nt.index)
        out[ind][CITY] = 100 * (n0[both].sum() - nt[both].sum()) / n0[both].sum()
    return out


def indicator_values(landing: Path, year: int, with_air: bool = True) -> pd.DataFrame:
    """One row per indicator and unit (10 districts and the city 320500) with a value:
    indicator_id, unit_code, value, standard_error (I3 only)."""
    v = {**computed_values(landing, year, with_air), **submitted_values(landing, year)}
    se = v.pop("I3_se", {})
    rows = [(ind, unit, float(x), se.get(unit) if ind == "I3" else np.nan)
            for ind, per in v.items() for unit, x in per.items() if pd.notna(x)]
    return pd.DataFrame(rows, columns=["indicator_id", "unit_code", "value", "standard_error"])


def city_values(landing: Path, year: int, with_air: bool = True) -> dict[str, float]:
    """The city value (320500) of every indicator that has one."""
    df = indicator_values(landing, year, with_air)
    return df[df["unit_code"] == CITY].set_index("indicator_id")["value"].to_dict()


# ------------------------------------------------------------------ progress (methodology §5)

PROGRESS_YEARS = tuple(range(2020, 2026))


def _meets(x: float, rule: str, target: float) -> bool:
    return {">": x > target, ">=": x >= target, "<": x < target, "<=": x <= target,
            "~": x >= 0.95 * target}[rule]


def _progress_class(r: float, floor_zero: bool = False) -> str:
    if r >= 0.95:
        return "substantial_progress"
    if r >= 0.6:
        return "moderate_progress"
    return "limited_progress" if r >= 0 or floor_zero else "deterioration"


def progress(indicator: str, unit: str, series: dict[int, float]) -> dict[int, tuple]:
    """{year: (status, resolved type)} of one indicator and unit from its values by year."""
    r = catalogue()[indicator]
    target, rule, kind = float(r["target_2025"]), r["target_rule"], r["target_type"]
    out: dict[int, tuple] = {}
    if kind in ("cumulative", "reduction"):
        for t in PROGRESS_YEARS:
            x = series.get(t)
            if x is None or (kind == "cumulative" and unit != CITY):
                out[t] = (None, kind)
            elif _meets(x, rule, target):
                out[t] = ("achieved", kind)
            elif t == 2020:
                out[t] = ("insufficient_data", kind)
            elif kind == "reduction" and x < 0:
                out[t] = ("deterioration", kind)
            else:
                share = (t - 2020) / 5
                out[t] = (_progress_class(x / (target * share), kind == "cumulative"), kind)
        return out
    have = [t for t in PROGRESS_YEARS if series.get(t) is not None]
    if not have:
        return {t: (None, None) for t in PROGRESS_YEARS}
    t0 = have[0]
    x0 = series[t0]
    flag = r["form"] == "flag" and unit != CITY
    resolved = "flag" if flag else ("maintain" if _meets(x0, rule, target) else "threshold")
    level_only = flag or abs(target - x0) < float(r["precision"]) / 2
    for t in PROGRESS_YEARS:
        x = series.get(t)
        if x is None:
            status = None
        elif _meets(x, rule, target):
            status = "achieved"
        elif t == t0:
            status = "not_met" if level_only else "insufficient_data"
        elif resolved == "maintain":
            status = "deterioration"
        elif level_only:
            status = "not_met"
        else:
            share = (t - t0) / (2025 - t0)
            status = _progress_class((x - x0) / (target - x0) / share)
        out[t] = (status, resolved)
    return out


def progress_table(values: pd.DataFrame) -> pd.DataFrame:
    """Statuses of every targeted indicator and unit in every year, from a frame of
    indicator_values rows with a `year` column: indicator_id, unit_code, year, value,
    status, resolved_type."""
    rows = []
    for (ind, unit), g in values.groupby(["indicator_id", "unit_code"]):
        if not catalogue()[ind]["target_2025"]:
            continue
        series = dict(zip(g["year"], g["value"], strict=True))
        for t, (status, kind) in progress(ind, unit, series).items():
            rows.append((ind, unit, t, series.get(t), status, kind))
    return pd.DataFrame(rows, columns=["indicator_id", "unit_code", "year", "value", "status",
                                       "resolved_type"])
