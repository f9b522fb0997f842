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
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS = Path(__file__).resolve().parents[1] / "warehouse" / "seeds"


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", str(s)).strip()


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
    return df.rename(columns={"区县代码": "district_code", "常住人口": "total", "3-5岁": "a35",
                              "6-14岁": "a614", "60岁及以上": "a60", "镇街代码": "township"})


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


def city_values(landing: Path, year: int, with_air: bool = True) -> dict[str, float]:
    pop = read_population(landing, year)
    schools = read_schools(landing, year)
    orgs, sheet = read_health(landing, year)
    inst, home = read_eldercare(landing, year)
    pension = read_pension(landing, year)
    sewage = pd.read_csv(landing / f"environment/{year}/sewage_{year}.csv")
    total, a35, a60 = pop["total"].sum(), pop["a35"].sum(), pop["a60"].sum()

    kg = schools[schools["学段"] == "幼儿园"]
    comp = schools[schools["学段"].isin(["小学", "初中", "九年一贯制"])]
    v = {
        "E1": 100 * kg.loc[kg["普惠性"] == "是", "在校生数"].sum() / kg["在校生数"].sum(),
        "E2": 100 * (comp["集团化办学"] == "是").sum() / len(comp),
        "E3": 100 * kg["在校生数"].sum() / a35,
        "E4": comp["在校生数"].sum() / comp["专任教师数"].sum(),
        "H1": 1000 * orgs["执业（助理）医师数"].sum() / total,
        "H2": 10000 * orgs["全科医生数"].sum() / total,
        "H3": 1000 * orgs["实有床位数"].sum() / total,
    }
    weights = pop.groupby("district_code")["total"].sum()
    sheet = sheet.set_index("区县代码")
    for ind, col in (("H4", "人均预期寿命（岁）"), ("H5", "免疫规划疫苗接种率（%）"),
                     ("H6", "基本医疗保险参保率（%）")):
        v[ind] = float((sheet[col] * weights).sum() / weights.sum())
    care = inst[inst["机构类型"].isin(["养老机构", "区域性养老服务中心"])]
    v["O1"] = 100 * care["护理型床位数"].sum() / care["床位数"].sum()
    v["O2"] = 1000 * inst["床位数"].sum() / a60
    comprehensive = set(inst.loc[inst["具备综合功能"] == "是", "镇街代码"])
    v["O3"] = 100 * pop["township"].isin(comprehensive).sum() / len(pop)
    v["O4"] = 100 * home["接受上门服务老年人数"].sum() / a60

    pension = pension.assign(age=year - pension["birth_year"])
    pension = pension[(pension["age"] >= 16) & (pension["age"] <= 59)]
    per_person = pension.groupby("person_key")["status"].agg(set)
    eligible = per_person[per_person.map(lambda s: bool(s & {"contributing", "suspended"}))]
    v["P1"] = 100 * eligible.map(lambda s: "contributing" in s).mean()
    v["W1"] = 100 * sewage.iloc[:, 2].sum() / sewage.iloc[:, 1].sum()
    if with_air:
        v["A1"], v["A2"] = a1_city(read_air(landing, year))
    return v
