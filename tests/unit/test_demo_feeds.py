"""The demo-feed generator, checked from the files it writes with independent code."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

import independent as ind
from junheng.demo.generator import Options, defect_count, generate

YEAR = 2020
SUBMISSION_FILES = ["health", "civil_affairs", "education", "human_resources",
                    "medical_security", "housing", "justice", "disabled_persons", "transport",
                    "veterans", "culture", "sport", "emergency", "public_security"]
SUBMISSION_HEADER = ["指标编码", "区县", "分子", "分母", "数值", "标准误", "样本量", "备注"]


def _catalogue() -> dict[str, dict]:
    with open(ind.SEEDS / "indicators.csv", encoding="utf-8") as fh:
        return {r["indicator_id"]: r for r in csv.DictReader(fh)}


def _header(path: Path, encoding: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as fh:
        return next(csv.reader(fh))


# ------------------------------------------------------------------ formats and encodings

def test_every_file_of_feeds_md_is_written(demo_2020):
    files = sorted(str(p.relative_to(demo_2020)) for p in demo_2020.rglob("*")
                   if p.is_file() and not p.relative_to(demo_2020).parts[0].startswith("."))
    assert files == sorted([
        "eldercare/2020/eldercare_institutions_2020.csv", "eldercare/2020/home_care_2020.csv",
        "environment/2020/air_quality_2020.csv", "environment/2020/sewage_2020.csv",
        "health/2020/health_2020.xlsx", "pension/2020/pension_2020.jsonl.gz",
        "population/2020/population_2020.csv", "schools/2020/schools_2020.csv",
        *(f"submissions/2020/{d}_2020.csv" for d in SUBMISSION_FILES),
    ])


def test_csv_headers_and_encodings(demo_2020):
    d = demo_2020
    assert _header(d / "population/2020/population_2020.csv", "utf-8-sig") == [
        "年份", "区县代码", "镇街代码", "镇街名称", "常住人口", "0-2岁", "3-5岁", "6-14岁",
        "15-59岁", "60岁及以上"]
    schools = (d / "schools/2020/schools_2020.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        schools.decode("utf-8")  # really GBK, not UTF-8 that happens to be ASCII
    text = schools.decode("gbk")  # strict: every byte sequence decodes
    assert text.splitlines()[0].split(",") == [
        "学校标识码", "学校名称", "所在区县", "学段", "办学性质", "普惠性", "集团化办学",
        "在校生数", "专任教师数"]
    assert _header(d / "eldercare/2020/eldercare_institutions_2020.csv", "utf-8") == [
        "机构编码", "机构名称", "区县代码", "镇街代码", "机构类型", "具备综合功能", "床位数",
        "护理型床位数"]
    assert _header(d / "eldercare/2020/home_care_2020.csv", "utf-8") == [
        "区县代码", "镇街代码", "接受上门服务老年人数"]
    assert _header(d / "environment/2020/sewage_2020.csv", "utf-8") == [
        "区县代码", "生活污水产生量（万吨）", "生活污水集中收集量（万吨）"]
    assert _header(d / "environment/2020/air_quality_2020.csv", "utf-8") == [
        "station_code", "station_name", "district_code", "time", "so2", "no2", "pm10", "o3",
        "pm25", "co"]


def test_population_rows_follow_the_rules(demo_2020):
    pop = pd.read_csv(demo_2020 / "population/2020/population_2020.csv", encoding="utf-8-sig",
                      dtype={"区县代码": str, "镇街代码": str})
    assert (pop["年份"] == YEAR).all()
    assert pop["镇街代码"].str.fullmatch(r"\d{9}").all()
    assert (pop["镇街代码"].str[:6] == pop["区县代码"]).all()
    assert pop["镇街代码"].is_unique
    ages = pop[["0-2岁", "3-5岁", "6-14岁", "15-59岁", "60岁及以上"]]
    assert (ages.sum(axis=1) == pop["常住人口"]).all()
    assert 85 <= len(pop) <= 105  # about 95 townships


def test_health_workbook_has_both_sheets(demo_2020):
    path = demo_2020 / "health/2020/health_2020.xlsx"
    assert zipfile.is_zipfile(path)
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == ["机构", "区县指标"]
    orgs = wb.get_sheet_by_name("机构").to_python()
    assert orgs[0] == ["机构代码", "机构名称", "区县", "机构类别", "实有床位数",
                       "执业（助理）医师数", "全科医生数", "注册护士数"]
    codes = [r[0] for r in orgs[1:]]
    assert all(re.fullmatch(r"[0-9A-Z]{18}", c) for c in codes)
    sheet = wb.get_sheet_by_name("区县指标").to_python()
    assert sheet[0] == ["区县代码", "人均预期寿命（岁）", "免疫规划疫苗接种率（%）",
                        "基本医疗保险参保率（%）"]
    assert sorted(str(r[0]) for r in sheet[1:]) == sorted(ind.census())


def test_pension_is_gzip_json_lines(demo_2020):
    path = demo_2020 / "pension/2020/pension_2020.jsonl.gz"
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        first = [json.loads(next(fh)) for _ in range(1000)]
    for rec in first:
        assert list(rec) == ["person_key", "district_code", "scheme", "birth_year", "sex",
                             "status"]
        assert re.fullmatch(r"[0-9a-f]{64}", rec["person_key"])
        assert rec["scheme"] in ("employee", "resident")
        assert rec["sex"] in ("M", "F")
        assert isinstance(rec["birth_year"], int)


def test_air_quality_is_hourly_per_station(demo_2020):
    air = pd.read_csv(demo_2020 / "environment/2020/air_quality_2020.csv",
                      dtype={"district_code": str})
    assert air["time"].str.fullmatch(r"2020-\d\d-\d\d \d\d:00").all()
    per_station = air.drop_duplicates(["station_code", "time"]).groupby("station_code").size()
    assert (per_station == 8784).all()  # 2020 is a leap year
    assert air["station_code"].nunique() >= 10
    assert set(air["district_code"]) == set(ind.census())


# ------------------------------------------------------------------ determinism

def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    opts = Options(years=(2023,), scale=0.005)
    generate(tmp_path / "a", opts)
    generate(tmp_path / "b", opts)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(a) == 24 and a == b
    generate(tmp_path / "c", Options(years=(2023,), scale=0.005, seed=7))
    c = _digests(tmp_path / "c")
    assert c["pension/2023/pension_2023.jsonl.gz"] != a["pension/2023/pension_2023.jsonl.gz"]


# ------------------------------------------------------------------ calibration

def test_census_populations_in_2020(demo_2020):
    pop = ind.read_population(demo_2020, YEAR)
    by_district = pop.groupby("district_code")["total"].sum().to_dict()
    assert by_district == ind.census()
    assert sum(by_district.values()) == 12_748_262


def test_2020_city_values_match_table1_baselines(demo_2020):
    """Every numeric baseline within 3 %; not I1, I2 (the printed 79.7 and 75.8 are
    2016-2020 declines; 0 by definition in 2020), nor L2, E5, O5, T1 (no baseline)."""
    values = ind.city_values(demo_2020, YEAR)
    with_baseline = {k: float(r["baseline_2020"]) for k, r in _catalogue().items()
                     if r["baseline_2020"] and k not in ("I1", "I2")}
    assert len(with_baseline) == 33
    table = pd.DataFrame([(k, b, values.get(k)) for k, b in with_baseline.items()],
                         columns=["indicator", "table1", "computed"])
    table["diff_pct"] = 100 * (table["computed"] / table["table1"] - 1)
    print("\n" + table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    off = table[~(table["diff_pct"].abs() <= 3)]
    assert off.empty, f"relative deviation from Table 1 beyond 3%:\n{off}"


def test_districts_differ_and_move_at_different_paces(tmp_path):
    """Both urban districts and county-level cities lead on some indicators; some regress."""
    from junheng.demo.targets import build_city

    city = build_city(2020)
    county = {c for c in city.codes if city.groups[c] == "county_city"}
    leaders = {"urban": 0, "county": 0}
    regressing = 0
    for ind_id in ("E2", "H1", "H2", "O3", "O2", "W1", "H6", "O4"):
        best = max(city.codes, key=lambda c: city.value[ind_id, c, 2020])
        leaders["county" if best in county else "urban"] += 1
        regressing += sum(city.value[ind_id, c, 2025] < city.value[ind_id, c, 2020]
                          for c in city.codes)
    assert leaders["urban"] >= 2 and leaders["county"] >= 2
    assert 1 <= regressing <= 30


# ------------------------------------------------------------------ defects

def _defect_counts(landing: Path, year: int) -> dict[str, int]:
    """Count each defect class in the files, without the generator's ledger."""
    lookup = ind.district_lookup()
    sch = pd.read_csv(landing / f"schools/{year}/schools_{year}.csv", encoding="gbk",
                      dtype={"学校标识码": str})
    health = pd.read_excel(landing / f"health/{year}/health_{year}.xlsx", sheet_name="机构",
                           engine="calamine", dtype={"机构代码": str})
    elder = pd.read_csv(landing / f"eldercare/{year}/eldercare_institutions_{year}.csv",
                        dtype={"区县代码": str, "机构编码": str})
    air = pd.read_csv(landing / f"environment/{year}/air_quality_{year}.csv")
    with gzip.open(landing / f"pension/{year}/pension_{year}.jsonl.gz", "rt") as fh:
        pension = pd.read_json(io.StringIO(fh.read()), lines=True, dtype={"district_code": str})
    unknown = lambda s: (~s.map(lambda v: ind._norm(v) in lookup)).sum()  # noqa: E731
    persons = pension.drop_duplicates(["person_key", "scheme"])
    return {
        "schools/teachers_zero_with_pupils": int(((sch["专任教师数"] == 0)
                                                   & (sch["在校生数"] > 0)).sum()),
        "schools/unknown_district": int(unknown(sch["所在区县"])),
        "schools/duplicate_key": int(sch["学校标识码"].duplicated().sum()),
        "health/gp_above_physicians": int((health["全科医生数"]
                                           > health["执业（助理）医师数"]).sum()),
        "health/unknown_district": int(unknown(health["区县"].astype(str))),
        "health/duplicate_key": int(health["机构代码"].duplicated().sum()),
        "eldercare/nursing_above_beds": int((elder["护理型床位数"] > elder["床位数"]).sum()),
        "eldercare/unknown_district": int((~elder["区县代码"].isin(ind.census())).sum()),
        "eldercare/duplicate_key": int(elder["机构编码"].duplicated().sum()),
        "environment/sentinel_-99": int((air[["so2", "no2", "pm10", "o3", "pm25", "co"]]
                                         == -99).any(axis=1).sum()),
        "environment/duplicate_key": int(air.duplicated(["station_code", "time"]).sum()),
        "pension/unknown_district": int((~pension["district_code"].isin(ind.census())).sum()),
        "pension/birth_year_out_of_range": int(((pension["birth_year"] < 1900)
                                                | (pension["birth_year"] > year)).sum()),
        "pension/duplicate_key": int(pension.duplicated(["person_key", "scheme"]).sum()),
        "_pension_rows": len(pension),
        "_pension_persons": persons["person_key"].nunique(),
        "_pension_dual": int(persons.groupby("person_key")["scheme"].nunique().gt(1).sum()),
        "_air_rows": len(air), "_air_blank": int(air["pm25"].isna().sum()),
        "_schools": len(sch), "_health": len(health), "_elder": len(elder),
    }


def test_each_defect_class_appears_at_the_requested_rate(demo_defects):
    landing, opts = demo_defects
    year = opts.years[0]
    got = _defect_counts(landing, year)
    sizes = {"schools": got["_schools"], "health": got["_health"], "eldercare": got["_elder"],
             "environment": got["_air_rows"], "pension": got["_pension_rows"]}
    for key, count in got.items():
        if key.startswith("_"):
            continue
        feed = key.split("/")[0]
        expected = opts.defect_rate * sizes[feed]
        # A copy of a defective row can add one more of a class; duplicates of a
        # duplicated row are not made. Within 20% (or 2 rows) of the rate.
        assert abs(count - expected) <= max(2, 0.2 * expected), (key, count, expected)
    dual_share = got["_pension_dual"] / got["_pension_persons"]
    assert opts.dual_rate * 0.8 <= dual_share <= opts.dual_rate * 1.2
    blank_share = got["_air_blank"] / got["_air_rows"]
    assert 0.005 < blank_share < 0.05  # missing hours, besides the -99 sentinels


def test_ledger_lists_the_defective_lines(demo_defects):
    landing, opts = demo_defects
    ledger = pd.read_csv(landing / ".demo/defects.csv")
    sch = ledger[(ledger["feed"] == "schools") & (ledger["defect"] == "teachers_zero_with_pupils")]
    lines = (landing / "schools/2021/schools_2021.csv").read_bytes().decode("gbk").splitlines()
    for line in sch["line"]:
        fields = lines[line - 1].split(",")
        assert fields[8] == "0" and int(fields[7]) > 0


def test_defects_are_never_zero():
    assert defect_count(0.0001, 100) == 1
    with pytest.raises(ValueError):
        Options(defect_rate=0)


def test_every_alias_form_appears(demo_2020):
    sch = pd.read_csv(demo_2020 / "schools/2020/schools_2020.csv", encoding="gbk")
    seen = set(sch["所在区县"])
    with open(ind.SEEDS / "districts.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            for alias in [r["name_zh"], *r["aliases"].split("|")]:
                assert alias in seen, alias
    assert any(s.startswith("\u3000") for s in seen), "a full-width space form"
    assert "ＳＩＰ" in seen, "a full-width letters form"


def test_broken_deliveries(tmp_path):
    generate(tmp_path, Options(years=(2024,), scale=0.003, broken=True))
    with pytest.raises((EOFError, OSError)), \
            gzip.open(tmp_path / "pension/2024/pension_2024.jsonl.gz") as fh:
        while fh.read(1 << 20):
            pass
    schools = (tmp_path / "schools/2024/schools_2024.csv").read_bytes()
    assert schools.decode("utf-8").startswith("学校标识码")  # UTF-8 where GBK is due
    assert _header(tmp_path / "eldercare/2024/home_care_2024.csv", "utf-8") == [
        "区县代码", "镇街代码"]
    sport = (tmp_path / "submissions/2024/sport_2024.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        sport.decode("utf-8")  # the department's unit of delivery fails, not the feed
    assert sport.decode("gbk").startswith("指标编码")


def test_cli_writes_and_skips_when_unchanged(tmp_path):
    cmd = [sys.executable, "-m", "pipelines.cli", "demo-feeds", "--landing", str(tmp_path),
           "--years", "2022", "--scale", "0.003", "--if-missing"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "written to" in first.stdout and "pension" in first.stderr  # progress on stderr
    second = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "nothing to do" in second.stdout
    # Demo feeds of an older generator (before the submissions) are written again.
    manifest = tmp_path / ".demo" / "manifest.json"
    old = json.loads(manifest.read_text(encoding="utf-8"))
    del old["generator"]
    manifest.write_text(json.dumps(old), encoding="utf-8")
    shutil.rmtree(tmp_path / "submissions")
    third = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "written to" in third.stdout and (tmp_path / "submissions" / "2022").is_dir()


# ------------------------------------------------------------------ submissions (feeds.md §7)

def test_submission_files_headers_and_encodings(demo_years):
    boms = set()
    for year in range(2020, 2026):
        folder = demo_years / "submissions" / str(year)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"{d}_{year}.csv" for d in SUBMISSION_FILES)
        for dept in SUBMISSION_FILES:
            raw = (folder / f"{dept}_{year}.csv").read_bytes()
            boms.add(raw.startswith(b"\xef\xbb\xbf"))
            text = raw.decode("utf-8-sig")  # strict
            assert next(csv.reader(io.StringIO(text))) == SUBMISSION_HEADER
    assert boms == {True, False}, "some files with a BOM, some without"


def test_submission_rows_cover_every_indicator_and_district(demo_years):
    cat, depts = _catalogue(), ind.departments()
    assert sorted(depts) == sorted(SUBMISSION_FILES)
    assert sum(len(v) for v in depts.values()) == 23
    for year in range(2020, 2026):
        subs = ind.read_submissions(demo_years, year)
        ok = subs[subs["rule"].isna()]
        assert (ok["department"] == ok["indicator_id"].map(
            lambda i: cat[i]["source"].split(":")[1])).all()
        per = ok.groupby("indicator_id")["district_code"].agg(set)
        for i in per.index:
            expect = set(ind.census()) | ({ind.CITY} if i == "I3" else set())
            assert len(expect - per[i]) <= 1, (year, i)  # a damaged row at most
        assert set(per.index) == {k for v in depts.values() for k in v}
        flag = ok[ok["indicator_id"] == "E5"]
        assert set(flag["num"]) <= {0, 1} and (flag["den"] == 1).all()
        count = ok[ok["indicator_id"].isin(["C1", "S2", "R1", "R2", "L2", "I1", "I2"])]
        assert count["den"].isna().all() and count["value"].isna().all()
        est = ok[ok["indicator_id"] == "I3"]
        assert est[["value", "se", "n"]].notna().all().all() and est["num"].isna().all()
        ratio = ok[ok["indicator_id"].map(lambda i: cat[i]["form"] == "ratio")]
        assert 0.2 < ratio["value"].notna().mean() < 0.6  # value sometimes given
    l2_2020 = ind.read_submissions(demo_years, 2020)
    l2_2020 = l2_2020[l2_2020["rule"].isna()]
    assert (l2_2020["indicator_id"] == "L2").sum() == 10  # may exist; not counted


def test_submission_districts_come_in_every_form(demo_years):
    seen = set()
    for year in range(2020, 2026):
        subs = ind.read_submissions(demo_years, year)
        seen |= set(subs["区县"])
    assert set(ind.census()) <= seen, "codes"
    assert any(s.startswith("\u3000") or s.endswith("\u3000") for s in seen)
    assert any(s != s.strip() for s in seen)
    assert "ＳＩＰ" in seen and "高新区（虎丘区）" in seen


def test_count_indicators_use_the_population_of_the_year(demo_years):
    """C1, S2, R1, R2: numerator / resident_total × factor reproduces the planned level."""
    for year in (2020, 2025):
        v = ind.submitted_values(demo_years, year)
        for i, (lo, hi) in {"C1": (1.0, 7), "S2": (5, 20), "R1": (1, 12),
                            "R2": (2.5, 5)}.items():
            assert all(lo < x < hi for x in v[i].values()), (year, i, v[i])


def _values_by_year(landing: Path) -> pd.DataFrame:
    return pd.concat([ind.indicator_values(landing, y).assign(year=y)
                      for y in range(2020, 2026)], ignore_index=True)


@pytest.fixture(scope="module")
def demo_progress(demo_years) -> tuple[pd.DataFrame, pd.DataFrame]:
    values = _values_by_year(demo_years)
    return values, ind.progress_table(values)


def test_all_41_indicators_have_values(demo_progress):
    values, _ = demo_progress
    assert values["indicator_id"].nunique() == 41
    final = values[values["year"] == 2025]
    per = final.groupby("indicator_id")["unit_code"].nunique()
    assert (per >= 10).all(), per[per < 10]  # the city and at least 9 districts


def test_every_progress_status_occurs(demo_progress):
    _, st = demo_progress
    seen = st.groupby("status").size()
    print("\n" + seen.to_string())
    for status in ("achieved", "substantial_progress", "moderate_progress", "limited_progress",
                   "deterioration", "not_met"):
        assert seen.get(status, 0) > 0, status
    late = st[st["year"] > 2020]
    # Each class also among the submitted indicators alone, and in the final year.
    submitted = {k for v in ind.departments().values() for k in v}
    for frame in (late[late["indicator_id"].isin(submitted)], st[st["year"] == 2025]):
        for status in ("achieved", "substantial_progress", "moderate_progress",
                       "limited_progress", "deterioration"):
            assert (frame["status"] == status).any(), status
    # not_met from a level-only judgement: flags, and a gap under the precision (E6 city).
    not_met = st[st["status"] == "not_met"]
    assert (not_met["indicator_id"] == "E5").any()
    assert (not_met["indicator_id"] != "E5").any()


def test_progress_scenarios(demo_progress):
    values, st = demo_progress
    districts = st[st["unit_code"] != ind.CITY]
    # A maintained target lost in a later year (S2 under 10, among others).
    lost = districts[(districts["resolved_type"] == "maintain")
                     & (districts["status"] == "deterioration")]
    assert {"S2", "L1", "C2"} <= set(lost["indicator_id"])
    # A threshold indicator some districts already meet in 2020: maintain for them.
    cat = _catalogue()
    base = districts[districts["year"] == 2020]
    early = base[(base["resolved_type"] == "maintain")
                 & base["indicator_id"].map(lambda i: cat[i]["target_type"] == "threshold")]
    assert {"U1", "R2", "E6"} <= set(early["indicator_id"])
    # A unit below a maintain-type target at baseline is judged as a threshold.
    late = base[(base["resolved_type"] == "threshold")
                & base["indicator_id"].map(lambda i: cat[i]["target_type"] == "maintain")]
    assert {"S2", "L1", "U2"} <= set(late["indicator_id"])
    # L2 is judged for the city only; I1/I2 from 0 in 2020.
    assert st.loc[(st["indicator_id"] == "L2") & (st["unit_code"] != ind.CITY),
                  "status"].isna().all()
    l2 = st[(st["indicator_id"] == "L2") & (st["unit_code"] == ind.CITY)].set_index("year")
    assert l2.loc[2025, "status"] == "achieved" and l2.loc[2021, "status"] != "achieved"


def test_survey_changes_significant_and_not(demo_progress):
    values, _ = demo_progress
    i3 = values[values["indicator_id"] == "I3"]
    first = i3.sort_values("year").groupby("unit_code").first()
    last = i3[i3["year"] == 2025].set_index("unit_code")
    change = (last["value"] - first["value"]).abs()
    noise = 1.96 * (last["standard_error"] ** 2 + first["standard_error"] ** 2) ** 0.5
    significant = change > noise
    assert significant.any() and (~significant).sum() >= 8
    assert significant.get("320507", False)  # Xiangcheng: a real rise


def test_urban_core_and_county_cities_differ(demo_progress):
    values, _ = demo_progress
    groups = {}
    with open(ind.SEEDS / "districts.csv", encoding="utf-8") as fh:
        groups = {r["district_code"]: r["group"] for r in csv.DictReader(fh)}
    v = values[(values["year"] == 2020) & (values["unit_code"] != ind.CITY)]
    mean = v.assign(group=v["unit_code"].map(groups)).groupby(["indicator_id", "group"])[
        "value"].mean().unstack()
    assert mean.loc["R1", "urban_district"] > mean.loc["R1", "county_city"]
    assert mean.loc["U1", "urban_district"] > mean.loc["U1", "county_city"]
    assert mean.loc["R2", "county_city"] > mean.loc["R2", "urban_district"]
    assert mean.loc["O3", "county_city"] > mean.loc["O3", "urban_district"]


def test_submission_defects_match_the_ledger(demo_years):
    ledger = pd.read_csv(demo_years / ".demo/defects.csv", dtype={"value": str})
    ledger = ledger[ledger["feed"] == "submissions"]
    found = []
    for year in range(2020, 2026):
        subs = ind.read_submissions(demo_years, year)
        bad = subs[subs["rule"].notna()]
        found += [(year, f, int(line), rule) for f, line, rule in
                  bad[["file_name", "line", "rule"]].itertuples(index=False)]
    expected = sorted((int(y), f, int(line), d) for y, f, line, d in
                      ledger[["year", "file_name", "line", "defect"]].itertuples(index=False))
    assert sorted(found) == expected
    classes = {d for *_, d in expected}
    assert classes == {
        "unknown_indicator", "other_department_indicator", "unknown_district",
        "city_code_not_estimate", "negative_numerator", "missing_numerator",
        "denominator_not_positive", "numerator_above_denominator", "flag_not_binary",
        "value_inconsistent", "estimate_incomplete", "standard_error_not_estimate",
        "duplicate_key", "non_numeric"}
    # A low rate: few defect rows per file and year (a duplicate is two rows; only the
    # rows whose loss keeps every service area scored can be damaged, so they gather in
    # the files of the larger areas).
    per_file = pd.Series([(y, f) for y, f, *_ in expected]).value_counts()
    assert per_file.max() <= 3
    rows = sum(len(ind.read_submissions(demo_years, y)) for y in range(2020, 2026))
    assert len(expected) / rows < 0.04


def test_submissions_are_fast_and_deterministic(tmp_path):
    from junheng.demo.generator import Ledger, _write_csv
    from junheng.demo.submissions import plan_submissions, write_submissions
    from junheng.demo.targets import build_city

    digests = []
    for run in ("a", "b"):
        t0 = time.perf_counter()
        city = build_city(2020)
        planned = plan_submissions(city, 2020)
        ledger = Ledger()
        for year in range(2020, 2026):
            write_submissions(tmp_path / run, city, planned, 2020, year, 0.002, ledger,
                              _write_csv)
        elapsed = time.perf_counter() - t0
        print(f"\nsubmissions for six years: {elapsed:.3f} s")
        assert elapsed < 0.5
        digests.append(_digests(tmp_path / run))
    assert len(digests[0]) == 84 and digests[0] == digests[1]


def test_defects_move_no_city_value_beyond_3_percent(demo_years):
    """Against the generator's own plan: the damaged rows are left out, and the pooled city
    values stay within 3 % (E5 apart: a share of 10 flags moves by a tenth per lost row)."""
    from junheng.demo.submissions import COUNT_FACTOR, plan_submissions
    from junheng.demo.targets import build_city

    city = build_city(2020)
    plan = plan_submissions(city, 2020)
    cat = _catalogue()
    for year in range(2020, 2026):
        got = ind.submitted_values(demo_years, year)
        for i, r in cat.items():
            if i not in got or r["form"] not in ("ratio", "count") or i in ("L2", "I1", "I2"):
                continue
            num = sum(plan.num[i, c, year] for c in city.codes)
            if r["form"] == "ratio":
                f = 100.0 if r["unit"] == "%" else 1.0
                want = f * num / sum(plan.den[i, c, year] for c in city.codes)
            else:
                want = COUNT_FACTOR[i] * num / sum(city.population[c, year] for c in city.codes)
            assert abs(got[i][ind.CITY] / want - 1) <= 0.03, (year, i, got[i][ind.CITY], want)
