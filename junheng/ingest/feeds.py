"""The feed contract of feeds.md, as data: files, formats, columns, staging views."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from junheng.reference import indicators


@dataclass(frozen=True)
class Part:
    """One table a delivery yields: a CSV file, a JSON Lines file, or one XLSX sheet."""

    entity: str                         # raw table raw.<feed>__<entity>
    staging: str                        # staging view name (schema staging): its rules are
                                        # warehouse/sql/staging/<staging>.sql, its SELECT
                                        # <staging>.view.sql
    columns: dict[str, str]             # delivered header -> English name, in file order
    keys: tuple[str, ...]               # unique key within the delivery (English names)
    sheet: str | None = None
    district_column: str | None = None  # resolved by alias (names), else codes only
    grain: str = ""
    # Storage, not contract: raw columns kept uncompressed (for 9 million 64-character
    # person keys a year, compressing them costs 4 s and saves 0.3 GB).
    uncompressed: tuple[str, ...] = ()
    restricted: bool = False            # person-level: never a row outside the warehouse

    @property
    def raw_table(self) -> str:
        return self.entity

    def column_def(self, column: str, sql_type: str) -> str:
        """A column of this part's raw table or of a read of its delivery, as an item of
        CREATE TABLE (`column` an English name of this part: an identifier of the project's
        own, never from data)."""
        return f'"{column}" {sql_type}' + (" using compression uncompressed"
                                            if column in self.uncompressed else "")


@dataclass(frozen=True)
class FileSpec:
    pattern: str                        # file name with {year}
    format: str                         # csv | xlsx | jsonl.gz
    encoding: str | None
    parts: tuple[Part, ...]
    unit: str | None = None             # its own unit of delivery (submissions: department)

    def name(self, year: int) -> str:
        return self.pattern.format(year=year)

    def year_of(self, file_name: str) -> int | None:
        regex = re.escape(self.pattern).replace(re.escape("{year}"), r"(\d{4})")
        m = re.fullmatch(regex, file_name)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Feed:
    id: str
    department: str
    files: tuple[FileSpec, ...]
    depends_on: tuple[str, ...] = field(default=())  # staging views its rules check against
    priority: int = 0                                 # higher runs first within a run
    # The unit of delivery (feeds.md, last section) is the feed-year, or, where the files
    # name their unit (FileSpec.unit), each file: loaded, audited and published on its own,
    # its rows carrying the unit in this column of raw and staging (submissions:
    # `department`). `unit` is set on the feed of one such unit (see `units`).
    unit_column: str | None = None
    unit: str | None = None

    @property
    def parts(self) -> tuple[Part, ...]:
        # Files of one table (the submissions of each department) share its Part: once.
        return tuple({p.entity: p for f in self.files for p in f.parts}.values())

    def units(self) -> tuple[Feed, ...]:
        """The units of delivery: the feed itself, or one feed per unit holding its files."""
        if self.unit_column is None:
            return (self,)
        names = dict.fromkeys(f.unit for f in self.files)
        return tuple(replace(self, files=tuple(f for f in self.files if f.unit == u), unit=u)
                     for u in names)


POPULATION = Feed("population", "统计局 Statistics bureau", (
    FileSpec("population_{year}.csv", "csv", "utf-8-sig", (Part(
        "population__townships", "stg_population__townships",
        {"年份": "year", "区县代码": "district_code", "镇街代码": "township_code",
         "镇街名称": "township_name", "常住人口": "resident_total", "0-2岁": "age_0_2",
         "3-5岁": "age_3_5", "6-14岁": "age_6_14", "15-59岁": "age_15_59",
         "60岁及以上": "age_60_plus"},
        keys=("township_code",),
        grain="One row per township (镇/街道) and reporting year, residents by age group.",
    ),)),
))

SCHOOLS = Feed("schools", "教育局 Education bureau", (
    FileSpec("schools_{year}.csv", "csv", "gbk", (Part(
        "schools__schools", "stg_schools__schools",
        {"学校标识码": "school_id", "学校名称": "school_name", "所在区县": "district",
         "学段": "level", "办学性质": "ownership", "普惠性": "inclusive",
         "集团化办学": "in_group", "在校生数": "enrolled", "专任教师数": "teachers"},
        keys=("school_id",), district_column="district",
        grain="One row per school or kindergarten and reporting year (autumn term).",
    ),)),
))

HEALTH = Feed("health", "卫健委 Health commission", (
    FileSpec("health_{year}.xlsx", "xlsx", None, (
        Part("health__institutions", "stg_health__institutions",
             {"机构代码": "org_code", "机构名称": "org_name", "区县": "district",
              "机构类别": "category", "实有床位数": "beds", "执业（助理）医师数": "physicians",
              "全科医生数": "general_practitioners", "注册护士数": "nurses"},
             keys=("org_code",), sheet="机构", district_column="district",
             grain="One row per health institution and reporting year (31 December)."),
        Part("health__districts", "stg_health__districts",
             {"区县代码": "district_code", "人均预期寿命（岁）": "life_expectancy",
              "免疫规划疫苗接种率（%）": "vaccination_rate",
              "基本医疗保险参保率（%）": "medical_insurance_rate"},
             keys=("district_code",), sheet="区县指标",
             grain="One row per district and reporting year: life expectancy, vaccination "
                   "and medical-insurance rates as reported."),
    )),
))

PENSION = Feed("pension", "人社局 Human resources and social security bureau", (
    FileSpec("pension_{year}.jsonl.gz", "jsonl.gz", "utf-8", (Part(
        "pension__enrolments", "stg_pension__enrolments",
        {"person_key": "person_key", "district_code": "district_code", "scheme": "scheme",
         "birth_year": "birth_year", "sex": "sex", "status": "status"},
        keys=("person_key", "scheme"), uncompressed=("person_key",),
        restricted=True,
        grain="One row per pension enrolment (person and scheme) and reporting year. "
              "RESTRICTED: person-level, never leaves the warehouse.",
    ),)),
), priority=10)

ELDERCARE = Feed("eldercare", "民政局 Civil affairs bureau", (
    FileSpec("eldercare_institutions_{year}.csv", "csv", "utf-8-sig", (Part(
        "eldercare__facilities", "stg_eldercare__facilities",
        {"机构编码": "facility_id", "机构名称": "facility_name", "区县代码": "district_code",
         "镇街代码": "township_code", "机构类型": "facility_type", "具备综合功能": "comprehensive",
         "床位数": "beds", "护理型床位数": "nursing_beds"},
        keys=("facility_id",),
        grain="One row per elderly-care facility and reporting year (31 December).",
    ),)),
    FileSpec("home_care_{year}.csv", "csv", "utf-8-sig", (Part(
        "eldercare__home_care", "stg_eldercare__home_care",
        {"区县代码": "district_code", "镇街代码": "township_code",
         "接受上门服务老年人数": "home_visit_elderly"},
        keys=("township_code",),
        grain="One row per township and reporting year: elderly residents receiving "
              "home-visit care.",
    ),)),
), depends_on=("stg_population__townships",))

ENVIRONMENT = Feed("environment", "生态环境局 Ecology and environment bureau", (
    FileSpec("air_quality_{year}.csv", "csv", "utf-8-sig", (Part(
        "environment__air_quality", "stg_environment__air_quality",
        {"station_code": "station_code", "station_name": "station_name",
         "district_code": "district_code", "time": "time", "so2": "so2", "no2": "no2",
         "pm10": "pm10", "o3": "o3", "pm25": "pm25", "co": "co"},
        keys=("station_code", "time"),
        grain="One row per monitoring station and hour (local time, UTC+8) of the "
              "reporting year.",
    ),)),
    FileSpec("sewage_{year}.csv", "csv", "utf-8-sig", (Part(
        "environment__sewage", "stg_environment__sewage",
        {"区县代码": "district_code", "生活污水产生量（万吨）": "sewage_generated",
         "生活污水集中收集量（万吨）": "sewage_collected"},
        keys=("district_code",),
        grain="One row per district and reporting year: domestic sewage generated and "
              "collected (10,000 t).",
    ),)),
))

# feeds.md section 7: file prefix -> 部门. Which indicators each department submits, and in
# which form and unit, is the catalogue's (warehouse/seeds/indicators.csv, `source` =
# `submissions:<department>`), read by `submission_indicators`.
SUBMISSION_DEPARTMENTS = {
    "health": "卫健委", "civil_affairs": "民政局", "education": "教育局",
    "human_resources": "人社局", "medical_security": "医保局", "housing": "住建局",
    "justice": "司法局", "disabled_persons": "残联", "transport": "交通局",
    "veterans": "退役军人事务局", "culture": "文广旅局", "sport": "体育局",
    "emergency": "应急管理局", "public_security": "公安局",
}
SUBMISSION_FORMS = ("ratio", "count", "flag", "estimate")


def submission_indicators() -> dict[str, tuple[dict[str, str], ...]]:
    """department -> its catalogue rows (indicator_id, form, unit, ...), in catalogue order.
    A catalogue row of an undeclared department, or a department without indicators, is an
    error: the contract and the catalogue must agree."""
    out: dict[str, list[dict[str, str]]] = {d: [] for d in SUBMISSION_DEPARTMENTS}
    for row in indicators():
        source = row["source"]
        if not source.startswith("submissions:"):
            continue
        department = source.removeprefix("submissions:")
        if department not in out:
            raise ValueError(f"indicator {row['indicator_id']}: {source} is no department of "
                             "feeds.md section 7")
        if row["form"] not in SUBMISSION_FORMS:
            raise ValueError(f"indicator {row['indicator_id']}: form {row['form']!r} is none "
                             f"of {', '.join(SUBMISSION_FORMS)}")
        out[department].append(row)
    empty = [d for d, rows in out.items() if not rows]
    if empty:
        raise ValueError(f"no indicator of {', '.join(empty)} in the catalogue")
    return {d: tuple(rows) for d, rows in out.items()}


SUBMISSIONS_PART = Part(
    "submissions__indicators", "stg_submissions__indicators",
    {"指标编码": "indicator_id", "区县": "district", "分子": "numerator", "分母": "denominator",
     "数值": "value", "标准误": "standard_error", "样本量": "sample_size", "备注": "note"},
    keys=("indicator_id", "district"), district_column="district",
    grain="One row per department, indicator, district (and the city, 320500, for a survey "
          "estimate) and reporting year, as the department submitted it.",
)

SUBMISSIONS = Feed("submissions", "各部门 Departments (indicator submissions)", tuple(
    FileSpec(f"{department}_{{year}}.csv", "csv", "utf-8-sig", (SUBMISSIONS_PART,),
             unit=department)
    for department in submission_indicators()
), unit_column="department")

FEEDS: dict[str, Feed] = {f.id: f for f in
                          (POPULATION, SCHOOLS, HEALTH, PENSION, ELDERCARE, ENVIRONMENT,
                           SUBMISSIONS)}
