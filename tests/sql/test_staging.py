"""Every feed's two staging files on given rows (in-memory DuckDB, the real macros, rules,
views and district resolution): the rules file quarantines what breaks a rule of feeds.md,
with the column and rule, and the view file is the rows left, typed. The submissions'
rules have their own file (test_submissions_rules.py); the pension engines theirs
(test_engine_sql.py)."""

from __future__ import annotations

import pytest
from sql_helpers import delivery, rules, stage, warehouse

YEAR = 2022


def _rows(header: list[str], *rows: list) -> dict[str, list]:
    return {c: [r[i] for r in rows] for i, c in enumerate(header)}


def _view(con, table: str, columns: str) -> list[tuple]:
    return con.execute(f"select {columns} from staging.{table} order by _line").fetchall()


def _types(con, table: str) -> list[tuple[str, str]]:
    return con.execute(f"select column_name, column_type from (describe staging.{table})"
                       ).fetchall()


POPULATION = _rows(
    ["year", "district_code", "township_code", "township_name", "resident_total", "age_0_2",
     "age_3_5", "age_6_14", "age_15_59", "age_60_plus"],
    ["2022", " 320505 ", "320505001", "枫桥街道 ", "100", "5", "5", "10", "60", "20"],  # 2
    ["2022", "320505", "320505002", "狮山街道", "50", "1", "2", "3", "40", "4"],      # 3
    ["2021", "320505", "320505003", "a", "10", "1", "1", "1", "6", "1"],           # 4 year
    ["2022", "320599", "320599001", "a", "10", "1", "1", "1", "6", "1"],           # 5 district
    ["2022", "320505", "320506001", "a", "10", "1", "1", "1", "6", "1"],           # 6 prefix
    ["2022", "320505", "320505002", "a", "10", "1", "1", "1", "6", "1"],           # 7 duplicate
    ["2022", "320505", "320505007", "", "0", "0", "0", "0", "0", "0"],             # 8
    ["2022", "320505", "320505008", "a", "10", "1", "1", "1", "6", "2"],           # 9 sum
)


@pytest.fixture
def con():
    return warehouse()


def test_population(con):
    delivery(con, POPULATION)
    assert rules(con, "stg_population__townships", YEAR) == {
        4: [("年份", "equals 2022")],
        5: [("区县代码", "in districts.csv")],
        6: [("镇街代码", "starts with district_code")],
        3: [("镇街代码", "unique in file")],
        7: [("镇街代码", "unique in file")],
        8: [("镇街名称", "not empty"), ("常住人口", "> 0")],
        9: [("常住人口", "age groups add up to the total")]}
    stage(con, "stg_population__townships", POPULATION, YEAR)
    assert _view(con, "stg_population__townships", "*") == [
        (2, YEAR, "320505", "320505001", "枫桥街道", 100, 5, 5, 10, 60, 20)]
    assert _types(con, "stg_population__townships") == [
        ("_line", "BIGINT"), ("year", "INTEGER"), ("district_code", "VARCHAR"),
        ("township_code", "VARCHAR"), ("township_name", "VARCHAR")] + [
        (c, "BIGINT") for c in ("resident_total", "age_0_2", "age_3_5", "age_6_14",
                                "age_15_59", "age_60_plus")]


SCHOOLS = _rows(
    ["school_id", "school_name", "district", "level", "ownership", "inclusive", "in_group",
     "enrolled", "teachers"],
    ["3205050001", "一小", "虎丘区", "小学", "公办", "否", "是", " 800 ", "50"],       # 2 alias
    ["3205050002", "二小", "吴中区", "初中", "民办", "否", "否", "300", "20"],         # 3 name
    ["3205050003", "幼", "　高新区 ", "幼儿园", "公办", "否", "否", "90", "9"],      # 4 公办 幼儿园
    ["3205050004", "x", "火星区", "小学", "公办", "否", "否", "10", "0"],             # 5
    ["320505", "", "320506", "大学", "公办", "否", "否", "-1", "x"],                  # 6
    ["3205050002", "三小", "320585", "小学", "公办", "否", "否", "1", "1"],           # 7 dup
)


def test_schools(con):
    delivery(con, SCHOOLS)
    assert rules(con, "stg_schools__schools", YEAR) == {
        3: [("学校标识码", "unique in file")],
        4: [("普惠性", "every 公办 幼儿园 is 是")],
        5: [("所在区县", "a district name or alias"), ("专任教师数", "> 0 where enrolled > 0")],
        6: [("学校标识码", "text(10) digits"), ("学校名称", "not empty"),
            ("学段", "one of 幼儿园, 小学, 初中, 九年一贯制, 普通高中"), ("在校生数", ">= 0"),
            ("专任教师数", "integer")],
        7: [("学校标识码", "unique in file")]}
    stage(con, "stg_schools__schools", SCHOOLS, YEAR)
    assert _view(con, "stg_schools__schools", "*") == [
        (2, YEAR, "3205050001", "一小", "320505", "虎丘区", "小学", "公办", False, True, 800, 50)]
    assert [t for _, t in _types(con, "stg_schools__schools")] == [
        "BIGINT", "INTEGER"] + ["VARCHAR"] * 6 + ["BOOLEAN", "BOOLEAN", "BIGINT", "BIGINT"]


def test_district_names_resolve_by_alias_after_nfkc_in_the_warehouse(con):
    rows = _rows(["school_id", "school_name", "district", "level", "ownership", "inclusive",
                  "in_group", "enrolled", "teachers"],
                 *[[f"32050500{i:02d}", "x", d, "小学", "公办", "否", "否", "1", "1"]
                   for i, d in enumerate(["　虎丘区　", "３２０５８５", "太仓市", "姑苏区",
                                          "320500"])])
    stage(con, "stg_schools__schools", rows, YEAR)
    assert _view(con, "stg_schools__schools", "district_code, district_as_delivered") == [
        ("320505", "　虎丘区　"), ("320585", "３２０５８５"), ("320585", "太仓市"),
        ("320508", "姑苏区")]
    # The texts are the warehouse's own: a view on another connection resolves them too.
    assert con.execute("select raw_value, district_code, is_city from reference.district_names "
                       "where raw_value = '320500'").fetchall() == [("320500", None, True)]


HEALTH = _rows(
    ["org_code", "org_name", "district", "category", "beds", "physicians",
     "general_practitioners", "nurses"],
    ["12320500MB0000001A", "市立医院", "姑苏区", "医院", "500", "200", "20", "300"],     # 2
    ["12320500MB0000002A", "站", "320571", "社区卫生服务站", "0", "3", "4", "2"],        # 3 gp
    ["123", "", "x", "药店", "", "1e2", "1", "-2"],                                    # 4
)


def test_health_institutions(con):
    delivery(con, HEALTH)
    assert rules(con, "stg_health__institutions", YEAR) == {
        3: [("全科医生数", "<= physicians")],
        4: [("机构代码", "text(18) unified social credit code"), ("机构名称", "not empty"),
            ("区县", "a district name, alias or code"),
            ("机构类别", "one of 医院, 妇幼保健院, 专科疾病防治院, 社区卫生服务中心, "
                      "社区卫生服务站, 乡镇卫生院, 门诊部, 诊所"),
            ("实有床位数", "required"), ("执业（助理）医师数", "integer"), ("注册护士数", ">= 0")]}
    stage(con, "stg_health__institutions", HEALTH, YEAR)
    assert _view(con, "stg_health__institutions", "*") == [
        (2, YEAR, "12320500MB0000001A", "市立医院", "320508", "姑苏区", "医院", 500, 200, 20, 300)]


HEALTH_DISTRICTS = _rows(
    ["district_code", "life_expectancy", "vaccination_rate", "medical_insurance_rate"],
    ["320505", "84.1", " 99.5", "98"],            # 2
    ["320506", "59", "100.1", "nan"],             # 3
    ["320505", "83", "99", "98"],                 # 4 twice
)


def test_health_districts(con):
    delivery(con, HEALTH_DISTRICTS)
    assert rules(con, "stg_health__districts", YEAR) == {
        2: [("区县代码", "each district once")],
        3: [("人均预期寿命（岁）", "60 to 95"), ("免疫规划疫苗接种率（%）", "0 to 100"),
            ("基本医疗保险参保率（%）", "finite number")],
        4: [("区县代码", "each district once")]}
    rows = _rows(list(HEALTH_DISTRICTS), ["320505", "84.1", " 99.5", "98"])
    stage(con, "stg_health__districts", rows, YEAR)
    assert _view(con, "stg_health__districts", "*") == [(2, YEAR, "320505", 84.1, 99.5, 98.0)]


def _population(con) -> None:
    stage(con, "stg_population__townships", _rows(
        list(POPULATION), [c[0] for c in POPULATION.values()]), YEAR)


def test_eldercare_facilities_check_townships_against_population(con):
    _population(con)
    rows = _rows(["facility_id", "facility_name", "district_code", "township_code",
                  "facility_type", "comprehensive", "beds", "nursing_beds"],
                 ["F1", "敬老院", "320505", "320505001", "养老机构", "是", "100", "60"],  # 2
                 ["F2", "中心", "320505", "320505009", "日间照料中心", "否", "0", "0"],    # 3
                 ["F1", "x", "320506", "320505001", "养老院", "有", "10", "11"])        # 4
    delivery(con, rows)
    assert rules(con, "stg_eldercare__facilities", YEAR) == {
        2: [("机构编码", "unique in file")],
        3: [("镇街代码", "a township of that district in population")],
        4: [("机构编码", "unique in file"),
            ("镇街代码", "a township of that district in population"),
            ("机构类型", "one of 养老机构, 区域性养老服务中心, 社区综合养老服务中心, 日间照料中心"),
            ("具备综合功能", "one of 是, 否"), ("护理型床位数", "<= beds")]}
    rows = _rows(list(rows), [v[0] for v in rows.values()])
    stage(con, "stg_eldercare__facilities", rows, YEAR)
    assert _view(con, "stg_eldercare__facilities", "*") == [
        (2, YEAR, "F1", "敬老院", "320505", "320505001", "养老机构", True, 100, 60)]


def test_eldercare_home_care(con):
    _population(con)
    rows = _rows(["district_code", "township_code", "home_visit_elderly"],
                 ["320505", "320505001", " 12 "],    # 2
                 ["320599", "320505001", "3"],       # 3
                 ["320505", "320505009", "-1"])      # 4
    delivery(con, rows)
    assert rules(con, "stg_eldercare__home_care", YEAR) == {
        2: [("镇街代码", "one row per township")],
        3: [("区县代码", "in districts.csv"),
            ("镇街代码", "a township of that district in population")],
        4: [("镇街代码", "a township of that district in population"),
            ("接受上门服务老年人数", ">= 0")]}
    stage(con, "stg_eldercare__home_care", _rows(list(rows), [v[0] for v in rows.values()]),
          YEAR)
    assert _view(con, "stg_eldercare__home_care", "*") == [(2, YEAR, "320505", "320505001", 12)]


def test_air_quality_keeps_sentinels_as_null_and_counts_them(con):
    header = ["station_code", "station_name", "district_code", "time", "so2", "no2", "pm10",
              "o3", "pm25", "co"]
    rows = _rows(header,
                 ["1001A", "站 ", "320508", "2022-01-01 00:00", "5", "-99", "", "40", "30",
                  "0.5"],                                                              # 2
                 ["1001A", "站", "320508", "2022-01-01 00:00", "5", "5", "5", "5", "5", "5"],  # 3
                 ["", "站", "320599", "2021-12-31 23:00", "x", "", "", "", "", ""],    # 4
                 ["1002A", "站", "320508", "2022-1-1 1:00", "inf", "", "", "", "", ""])  # 5
    delivery(con, rows)
    assert rules(con, "stg_environment__air_quality", YEAR) == {
        2: [("time", "unique per station")], 3: [("time", "unique per station")],
        4: [("station_code", "required"), ("district_code", "in districts.csv"),
            ("time", "in reporting year 2022"), ("so2", "decimal")],
        5: [("time", "YYYY-MM-DD HH:00"), ("so2", "decimal")]}
    stage(con, "stg_environment__air_quality", _rows(header, [v[0] for v in rows.values()]),
          YEAR)
    got = _view(con, "stg_environment__air_quality", "* exclude (measured_at), "
                "strftime(measured_at, '%Y-%m-%d %H:%M')")
    assert got == [(2, YEAR, "1001A", "站 ", "320508", 5.0, None, None, 40.0, 30.0, 0.5, 1,
                    "2022-01-01 00:00")]
    assert dict(_types(con, "stg_environment__air_quality"))["measured_at"] == "TIMESTAMP"


def test_sewage(con):
    header = ["district_code", "sewage_generated", "sewage_collected"]
    rows = _rows(header, ["320505", "1000.5", "900"], ["320506", "0", "1"],
                 ["320507", "100", "101"], ["320507", "1e13", ""])
    delivery(con, rows)
    assert rules(con, "stg_environment__sewage", YEAR) == {
        3: [("生活污水产生量（万吨）", "> 0"), ("生活污水集中收集量（万吨）", "<= generated")],
        4: [("区县代码", "one row per district"),
            ("生活污水集中收集量（万吨）", "<= generated")],
        5: [("区县代码", "one row per district"),
            ("生活污水产生量（万吨）", "0 to 1000000000000.0"),
            ("生活污水集中收集量（万吨）", "required")]}
    stage(con, "stg_environment__sewage", rows, YEAR)
    assert _view(con, "stg_environment__sewage", "*") == [(2, YEAR, "320505", 1000.5, 900.0)]


def test_pension(con):
    key = "ab" * 32
    header = ["person_key", "district_code", "scheme", "birth_year", "sex", "status"]
    rows = _rows(header, [key, "320505", "employee", "1960", "F", "receiving"],     # 2
                 [key, "320505", "resident", " 1961", "M", "contributing"],          # 3
                 ["cd" * 32, "320599", "employee ", "2023", "X", ""])                # 4
    delivery(con, rows)
    assert rules(con, "stg_pension__enrolments", YEAR) == {
        4: [("district_code", "in districts.csv"), ("scheme", "one of employee, resident"),
            ("birth_year", "1900 to 2022"), ("sex", "one of M, F"), ("status", "required")]}
    stage(con, "stg_pension__enrolments", rows, YEAR)
    assert _view(con, "stg_pension__enrolments", "_line, year, district_code, scheme, "
                 "birth_year, sex, status") == [
        (2, YEAR, "320505", "employee", 1960, "F", "receiving"),
        (3, YEAR, "320505", "resident", 1961, "M", "contributing")]
