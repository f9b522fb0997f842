"""Every table the pipeline writes, declared once.

A table is its address (schema and name), its grain (its description starts with it),
key columns, columns (Arrow type, unit, Chinese and English descriptions), its owner
(the department for a feed's tables, the layer for the others), whether it is restricted
(person-level: it never leaves the warehouse) and where it stands in the evaluators'
release. The marts asset specs, the release's tables and their order, the data
dictionary, the query snapshot's exclusions and the landing-zone sensor's selection are
all read from here; tests/test_registry.py fails when one of them disagrees.

The raw tables and staging views follow the feed contract (`junheng.ingest.feeds.FEEDS`).
A staging view's columns are declared loosely (the Part's names, untyped, and the names
it derives, `STAGING_DERIVED`): its file warehouse/sql/staging/<name>.view.sql types and
renames them. The marts and the release are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb
import pyarrow as pa

from junheng.ingest.feeds import FEEDS, Feed, Part

I32, I64, F64, STR = pa.int32(), pa.int64(), pa.float64(), pa.string()
BOOL, TS = pa.bool_(), pa.timestamp("us")

RELEASE = "release"   # the schema of a table only the release holds, computed when published


@cache
def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of an Arrow type, as DuckDB itself maps it."""
    empty = pa.table({"c": pa.array([], type=arrow_type)})
    with duckdb.connect() as con:
        return str(con.from_arrow(empty).types[0])


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType | None      # None: declared loosely (typed by the staging SQL)
    unit: str = ""
    zh: str = ""
    en: str = ""

    @property
    def sql_type(self) -> str | None:
        return None if self.type is None else duckdb_type(self.type)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    grain: str                        # "One row per ...": the description starts with it
    detail: str                       # the rest of the English description
    description_zh: str
    keys: tuple[str, ...]             # unique together; the release sorts by them
    columns: tuple[Column, ...]       # in published order
    owner: str                        # department (feed tables) or layer
    restricted: bool = False          # person-level: never in the snapshot, release or logs
    asset: bool = True                # a Dagster asset of its own, keyed [schema, name]
    release_position: int | None = None   # place among the release's files; None: not in it
    reads: tuple[str, ...] = ()       # other tables the release reads to publish this one
    exact: bool = True                # False: columns declared loosely

    def __post_init__(self):
        if not self.grain.startswith("One row per"):
            raise ValueError(f"{self.address}: the grain must start with 'One row per'")
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.address}: a column is declared twice")
        if self.exact and not set(self.keys) <= set(names):
            raise ValueError(f"{self.address}: key {self.keys} not among its columns")

    @property
    def address(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def description(self) -> str:
        return self.grain + self.detail

    @property
    def published(self) -> bool:
        return self.release_position is not None

    @property
    def sort_keys(self) -> tuple[str, ...]:
        return self.keys

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.type) for c in self.columns])


# --------------------------------------------------------------------------- columns

# What a column name means wherever it appears; a table may declare its own meaning.
VOCABULARY: dict[str, Column] = {c.name: c for c in (
    Column("year", I32, "", "报告年度", "Reporting year"),
    Column("district_code", STR, "", "区县代码（320500 为全市）",
           "District code (320500 = the city)"),
    Column("indicator_id", STR, "", "指标编号", "Indicator id of the catalogue"),
    Column("value", F64, "see unit", "指标值", "Indicator value"),
    Column("numerator", F64, "", "分子（未乘单位系数）", "Numerator (before the unit factor)"),
    Column("denominator", F64, "", "分母", "Denominator"),
    Column("unit", STR, "", "单位", "Unit of the value"),
    Column("source_rows_used", I64, "rows", "使用的源数据行数", "Source rows used"),
    Column("source_rows_rejected", I64, "rows", "被隔离的源数据行数",
           "Source rows rejected (quarantined)"),
    Column("null_reason", STR, "", "值为空的原因", "Why the value is null"),
    Column("score", F64, "0-100", "得分", "Score (0-100)"),
    Column("weight", F64, "", "权重", "Weight"),
    Column("obstacle_degree", F64, "share", "障碍度", "Obstacle degree (share of the gap)"),
    Column("area", STR, "", "服务领域（规划13个领域）", "Service area of the plan (13)"),
    Column("target_type", STR, "", "目标类型",
           "threshold, maintain, about, cumulative or reduction"),
    Column("indicators_scored", I64, "", "有得分的指标数", "Indicators scored"),
    Column("indicators_total", I64, "", "领域内计入指数的指标数",
           "In-index indicators of the area"),
    Column("name_zh", STR, "", "中文名称", "Name in Chinese"),
    Column("name_en", STR, "", "英文名称", "Name in English"),
    Column("district_group", STR, "", "类别（市辖区/县级市/全市）",
           "Group: urban_district, county_city or city"),
    Column("attainment_index", F64, "0-100", "达标指数", "Attainment index"),
    Column("rank", I32, "", "排名（1 为最高）", "Rank among the 10 districts (1 = highest)"),
    Column("gap_to_city", F64, "points", "与全市差距", "Attainment index minus the city's"),
    Column("relative_to_city", F64, "ratio", "相对全市", "Attainment index over the city's"),
    Column("standard_error", F64, "see unit", "标准误（调查估计值）",
           "Standard error (survey estimates)"),
    Column("obstacle_rank", I32, "", "障碍度排名（前三）",
           "Rank of the obstacle degree in the district (top three)"),
    Column("provisional", BOOL, "", "是否为暂定值（有计入指数的指标缺失）",
           "Provisional: an in-index indicator of the unit is null"),
    Column("missing_indicators", STR, "", "缺失的计入指数指标",
           "The unit's null in-index indicators (comma-separated)"),
    Column("equality_adjusted", F64, "0-100", "均等化调整得分（仅全市）",
           "Equality-adjusted score (city rows only)"),
    Column("loss_pct", F64, "%", "不均等损失（仅全市）",
           "Loss to inequality between districts, percent (city rows only)"),
    Column("weight_population", STR, "", "加权人口", "Population the weights are shares of"),
    Column("base_year", I32, "", "基期年份", "Base year t0"),
    Column("actual_growth", F64, "per year", "实际年均增长率",
           "Actual compound annual growth (reference only)"),
    Column("required_growth", F64, "per year", "所需年均增长率",
           "Required compound annual growth (reference only)"),
    Column("ratio", F64, "", "进度比（进度/时间进度）", "Progress share over time share"),
    Column("progress_share", F64, "share", "进度", "Share of the way from base to target"),
    Column("significant", BOOL, "", "是否显著（95%区间在目标一侧）",
           "Survey: the 95% interval lies wholly on one side of the target"),
    Column("significant_change", BOOL, "", "变化是否显著",
           "Survey: the change since the base exceeds its 95% margin"),
    Column("targets_met", I64, "", "已达标指标数", "Targeted indicators meeting the 2025 target"),
    Column("targets_total", I64, "", "有目标的指标数", "Targeted indicators with a value"),
    Column("equality_adjusted_attainment", F64, "0-100", "均等化调整达标指数（仅全市）",
           "Equality-adjusted attainment (city row only)"),
    Column("subject_kind", STR, "", "对象类型", "Subject kind: indicator, area or index"),
    Column("subject_id", STR, "", "对象编号", "Indicator id, area or 'attainment_index'"),
    Column("mean_weighted", F64, "", "人口加权均值", "Population-weighted mean"),
    Column("max_min_ratio", F64, "ratio", "极值比", "Max / min"),
    Column("cv", F64, "", "变异系数", "Coefficient of variation (unweighted)"),
    Column("williamson", F64, "", "威廉姆森系数", "Williamson coefficient (population-weighted)"),
    Column("theil_t", F64, "", "泰尔指数T", "Theil T"),
    Column("theil_t_between", F64, "", "泰尔T组间", "Theil T between urban districts and cities"),
    Column("theil_t_within", F64, "", "泰尔T组内", "Theil T within the groups"),
    Column("theil_l", F64, "", "泰尔指数L", "Theil L (mean log deviation)"),
    Column("gini", F64, "", "基尼系数", "Gini coefficient (population-weighted)"),
    Column("atkinson_1", F64, "", "阿特金森指数(ε=1)", "Atkinson index, epsilon 1"),
    Column("first_year", I32, "", "起始年", "First year"),
    Column("last_year", I32, "", "末年", "Last year"),
    Column("sigma_slope", F64, "per year", "σ收敛斜率", "Sigma convergence: slope of Williamson"),
    Column("beta", F64, "", "β收敛系数", "Beta convergence coefficient"),
    Column("beta_se", F64, "", "β标准误", "Standard error of beta"),
    Column("n", I64, "", "样本数", "Districts in the regression"),
    Column("baseline", F64, "see unit", "基期值（2020年计算）",
           "Baseline: the 2020 value computed"),
    Column("baseline_published", F64, "see unit", "规划表1基期值（仅全市）",
           "Table 1 baseline (city rows only)"),
    Column("target", F64, "see unit", "2025年目标", "2025 target"),
    Column("target_rule", STR, "", "目标规则", "Target rule (>, >=, <=, <, ~ = at least 95%)"),
    Column("time_share", F64, "share", "时间进度", "Share of the plan period elapsed"),
    Column("status", STR, "", "状态",
           "achieved, substantial_progress, moderate_progress, limited_progress, "
           "deterioration, not_met or insufficient_data (data_quality: delivery status)"),
    Column("rank_default", I32, "", "默认排名", "Rank under the default choices"),
    Column("rank_median", F64, "", "排名中位数", "Median rank over the draws"),
    Column("rank_p05", F64, "", "排名5%分位", "5th percentile rank"),
    Column("rank_p95", F64, "", "排名95%分位", "95th percentile rank"),
    Column("mean_abs_shift", F64, "ranks", "平均绝对排名变动", "Mean absolute rank shift"),
    Column("draws", I64, "", "模拟次数", "Monte Carlo draws"),
    Column("seed", I64, "", "随机种子", "Random seed"),
    Column("feed", STR, "", "数据源", "Feed id"),
    Column("file_name", STR, "", "文件名", "Delivered file name"),
    Column("sha256", STR, "", "SHA-256", "SHA-256 of the delivered file"),
    Column("bytes", I64, "bytes", "文件大小", "Size of the delivered file"),
    Column("rows_read", I64, "rows", "读取行数", "Rows read"),
    Column("rows_loaded", I64, "rows", "载入行数", "Rows loaded"),
    Column("rows_rejected", I64, "rows", "隔离行数", "Rows rejected (quarantined)"),
    Column("expectations_run", I64, "", "执行的期望数",
           "Great Expectations expectations evaluated"),
    Column("expectations_failed", I64, "", "未通过的期望数", "Expectations failed"),
    Column("dual_enrolments", I64, "persons", "重复参保人数（仅养老保险）",
           "Persons enrolled in both pension schemes (pension only)"),
    Column("methodology_version", STR, "", "方法版本", "Methodology version"),
    # Beyond the release.
    Column("run_id", STR, "", "Dagster 运行编号", "Dagster run id"),
    Column("computed_at", TS, "", "计算时间（UTC）", "When it was computed (UTC)"),
    Column("delivery_sha256", STR, "", "交付文件 SHA-256", "SHA-256 of the delivery"),
)}


def _columns(*items: str | Column) -> tuple[Column, ...]:
    """Columns by name from the vocabulary, or declared on the spot."""
    return tuple(VOCABULARY[i] if isinstance(i, str) else i for i in items)


# --------------------------------------------------------------------------- reference

REFERENCE = (
    Table("reference", "districts", "One row per county-level unit",
          ": code, names, group (urban district or county-level city) and 2020 census "
          "resident population.",
          "每个县级单位一行：代码、中英文名称、类别（市辖区或县级市）和2020年人口普查常住人口。",
          keys=("district_code",),
          columns=_columns(
              Column("district_code", STR, "", "区县代码", "District code (GB/T 2260)"),
              "name_zh", "name_en",
              Column("district_group", STR, "", "类别（市辖区/县级市）",
                     "Group: urban_district or county_city"),
              Column("resident_population_2020", I64, "persons", "2020年普查常住人口",
                     "Resident population, 2020 census")),
          owner="reference"),
    Table("reference", "district_aliases", "One row per name a department may use for a "
          "district",
          " (code, official name, alias), with the NFKC-normalised form delivered names are "
          "matched on.",
          "部门可能使用的每个区县名称一行（代码、正式名称、别名），以及交付名称比对所用的NFKC规范化形式。",
          keys=("district_code", "alias"),
          columns=_columns(
              Column("district_code", STR, "", "区县代码", "District code (GB/T 2260)"),
              Column("alias", STR, "", "名称或别名", "A name a department may use"),
              Column("alias_normalised", STR, "", "规范化名称（NFKC，去空格）",
                     "The name after NFKC and trimming: what delivered names are matched on"),
              Column("alias_kind", STR, "", "名称类型", "code, name or alias")),
          owner="reference"),
    Table("reference", "indicators", "One row per indicator of the catalogue",
          ": service area, unit, direction, source, form, weights, Table 1 baseline and 2025 "
          "target (computed and as printed), target type and rule, scoring goalposts.",
          "指标目录每个指标一行：服务领域、单位、方向、来源、报送形式、权重、规划表1基期值和2025年目标"
          "（数值及原文）、目标类型和规则、计分上下限。",
          keys=("indicator_id",),
          columns=_columns(
              "indicator_id",
              Column("table1_no", I32, "", "规划表1序号", "Row of Table 1 of the plan"),
              "area", "name_zh", "name_en", "unit",
              Column("direction", STR, "", "方向（+ 越高越好，- 越低越好）",
                     "+ higher is better, - lower is better"),
              Column("source", STR, "", "来源（数据源；submissions:<部门>）",
                     "Feeds it is computed from, or submissions:<department>"),
              Column("form", STR, "", "报送形式（computed、ratio、count、flag、estimate）",
                     "computed, or the submission form: ratio, count, flag, estimate"),
              Column("weight_population", STR, "", "不均等测度所用人口",
                     "Population its inequality is weighted by"),
              Column("in_index", BOOL, "", "是否计入达标指数",
                     "Whether the indicator is in the attainment index"),
              "weight",
              Column("baseline_2020", F64, "see unit", "规划表1基期值（2020年）",
                     "Table 1 baseline (2020)"),
              Column("target_2025", F64, "see unit", "2025年目标", "2025 target"),
              "target_type", "target_rule",
              Column("target_source", STR, "", "目标出处", "Where the target is set"),
              Column("score_zero", F64, "see unit", "得0分的值", "Value scored 0"),
              Column("score_full", F64, "see unit", "得100分的值", "Value scored 100"),
              Column("precision", F64, "see unit", "精度（低于此差距只判断是否达标）",
                     "Precision: below it, only the level is judged"),
              Column("equalise", BOOL, "", "是否测度不均等",
                     "Whether its inequality between districts is measured"),
              Column("table1_baseline_printed", STR, "", "规划表1基期值（原文）",
                     "Table 1 baseline as printed"),
              Column("table1_target_printed", STR, "", "规划表1目标值（原文）",
                     "Table 1 target as printed")),
          owner="reference"),
    Table("reference", "aqi_breakpoints", "One row per IAQI level and pollutant averaging "
          "period", " (HJ 633-2012 breakpoints).",
          "每个空气质量分指数级别和污染物平均时段一行（HJ 633-2012 浓度限值）。",
          keys=("pollutant", "iaqi"),
          columns=_columns(
              Column("iaqi", I32, "", "空气质量分指数", "IAQI level"),
              Column("pollutant", STR, "", "污染物及平均时段",
                     "Pollutant and averaging period, e.g. pm25_24h"),
              Column("concentration", F64, "µg/m³ (co: mg/m³)", "浓度限值",
                     "Concentration breakpoint")),
          owner="reference"),
    Table("reference", "district_texts", "One row per district text a department has "
          "delivered",
          " (schools, health institutions, submissions), with its NFKC-normalised, trimmed "
          "form: added by the load, so that the staging views resolve names in the warehouse.",
          "部门交付过的每个区县名称文本一行，及其NFKC规范化、去空格后的形式：由加载写入，供暂存视图在仓库内解析名称。",
          keys=("raw_value",),
          columns=_columns(
              Column("raw_value", STR, "", "交付的区县名称（原文）", "District text as delivered"),
              Column("normalised", STR, "", "规范化名称（NFKC，去空格）",
                     "The text after NFKC and trimming")),
          owner="reference", asset=False),
    Table("reference", "district_names", "One row per district text a department has "
          "delivered",
          " and the district it names by code, name or alias (null: none), or whether it is "
          "the city's own code: a view over district_texts and district_aliases.",
          "部门交付过的每个区县名称文本一行，及其按代码、名称或别名所指的区县（空为无），或是否为全市代码：视图。",
          keys=("raw_value",),
          columns=_columns(
              Column("raw_value", STR, "", "交付的区县名称（原文）", "District text as delivered"),
              Column("district_code", STR, "", "区县代码（空为无法识别）",
                     "District code it names (null: none)"),
              Column("is_city", BOOL, "", "是否为全市代码 320500",
                     "Whether it is the city's code, 320500")),
          owner="reference", asset=False),
)


# --------------------------------------------------------------------------- feeds

PROVENANCE = _columns(
    Column("_year", I32, "", "报告年度", "Reporting year of the delivery"),
    Column("_delivery_sha256", STR, "", "交付文件 SHA-256", "SHA-256 of the delivered file"),
    Column("_line", I64, "", "行号", "Line (CSV, JSON Lines) or sheet row (XLSX; header = 1)"),
    Column("_error", STR, "", "读取错误", "What could not be read on this line"),
)


def _unit_columns(feed: Feed) -> tuple[Column, ...]:
    """The column naming a row's unit of delivery, for a feed whose files are units."""
    if feed.unit_column is None:
        return ()
    return (Column(feed.unit_column, STR, "", "报送部门（文件名前缀）",
                   "Department that submitted the row (the file name's prefix)"),)


def _feed_tables(feed: Feed, part: Part) -> tuple[Table, Table]:
    dept_zh = feed.department.split()[0]
    specs = [f for f in feed.files if part in f.parts]
    source = (specs[0].pattern if len(specs) == 1 else
              specs[0].pattern.replace(specs[0].unit or "", "<department>")) + \
        (f"（工作表“{part.sheet}”）" if part.sheet else "")
    unit = _unit_columns(feed)
    raw = Table(
        "raw", part.raw_table, part.grain,
        " As delivered: every row read, text as in the file, with _year, _delivery_sha256, "
        "_line and _error.",
        f"{dept_zh}交付的 {source}，原样保存：读取的每一行，文本与文件一致。",
        keys=("_year", *(c.name for c in unit), "_line"),
        columns=PROVENANCE + unit + tuple(Column(en, STR, "", zh, f"{en}, as delivered")
                                          for zh, en in part.columns.items()),
        owner=feed.department, restricted=part.restricted)
    staging = Table(
        "staging", part.staging, part.grain,
        " A view over raw: typed, English names; rows that break a rule of feeds.md are in "
        "quality.quarantine instead.",
        f"{dept_zh}交付的 {source}：基于 raw 的视图，类型化、英文列名；"
        "违反 feeds.md 规则的行在 quality.quarantine。",
        keys=("year", *(c.name for c in unit), *part.keys),
        columns=_columns(Column("_line", I64, "", "行号", "Line of the delivered file"),
                         "year", *unit, *(Column(en, None, "", zh, en)
                                          for zh, en in part.columns.items() if en != "year")),
        owner=feed.department, restricted=part.restricted, exact=False)
    return raw, staging


# Columns a staging view derives under a new name (warehouse/sql/staging/*.view.sql): the
# registry declares a staging view by the feed's own column names.
STAGING_DERIVED: dict[str, Column] = {c.name: c for c in (
    Column("district_as_delivered", None, "", "交付的区县名称（原文）",
           "District name as delivered, before matching to a code"),
    Column("is_comprehensive", None, "", "是否具备综合功能", "Has comprehensive functions (是)"),
    Column("is_inclusive", None, "", "是否普惠性", "Inclusive (affordable) school (是)"),
    Column("is_in_group", None, "", "是否集团化办学", "Part of a school group (是)"),
    Column("measured_at", None, "UTC+8", "监测时间（北京时间）", "Hour measured (Beijing time)"),
    Column("flagged_invalid", None, "", "该小时被分析仪标为无效（-99）的污染物个数",
           "Pollutants the analyser flagged invalid (-99) this hour: kept as null"))}

FEED_TABLES = tuple(t for f in FEEDS.values() for p in f.parts for t in _feed_tables(f, p))


# --------------------------------------------------------------------------- quality

QUALITY = (
    Table("quality", "deliveries", "One row per delivered file and content",
          " (feed, year, file name, SHA-256): its status (loaded, rejected, failed, "
          "superseded, unexpected), rows read, loaded and rejected, and where it is archived.",
          "每个交付文件（按内容）一行：状态、读取/载入/隔离行数、存档位置。",
          keys=("feed", "year", "file_name", "sha256"),
          columns=_columns(
              "feed", "year", "file_name", "sha256", "bytes",
              Column("arrived_at", TS, "", "到达时间（落地区文件修改时间）",
                     "Modification time of the file in the landing zone"),
              Column("recorded_at", TS, "", "登记时间", "When the delivery was recorded"),
              "run_id",
              Column("status", STR, "", "状态",
                     "loaded, rejected, failed, superseded or unexpected"),
              Column("message", STR, "", "拒收或读取失败的原因", "Why rejected or failed"),
              "rows_read", "rows_loaded", "rows_rejected",
              Column("archive_path", STR, "", "存档路径", "Where the file is archived"),
              Column("changed_at", TS, "", "落地区 inode 变更时间",
                     "Inode change time in the landing zone"),
              Column("department", STR, "", "报送部门（仅 submissions：各部门文件各为交付单元）",
                     "Department whose file it is, where each file is its own unit of "
                     "delivery (submissions); null where the feed-year is the unit")),
          owner="quality", asset=False),
    Table("quality", "quarantine", "One row per delivered row, column and rule it broke",
          ": file, line, column, rule and value (never a person key, or part of one).",
          "每个被隔离的行、列和所违反的规则一行：文件、行号、列、规则和值（从不含个人标识）。",
          keys=("feed", "year", "table_name", "line", "column_name", "rule"),
          columns=_columns(
              "feed", "year", "file_name", "delivery_sha256",
              Column("table_name", STR, "", "原始表", "Raw table the row is kept in"),
              Column("line", I64, "", "行号", "Line (CSV, JSON Lines) or sheet row (XLSX; "
                                              "header = 1)"),
              Column("column_name", STR, "", "列名（按交付）",
                     "Column as delivered; * for the whole row"),
              Column("rule", STR, "", "违反的规则", "Rule of feeds.md broken"),
              Column("value", STR, "", "值（按交付）", "Value as delivered"),
              "run_id"),
          owner="quality", asset=False),
    Table("quality", "check_results", "One row per delivery, staging table and suite",
          " (critical or warning): expectations evaluated and failed, and the failures.",
          "每个交付、暂存表和期望套件一行：执行和未通过的期望数及未通过的期望。",
          keys=("feed", "year", "table_name", "suite", "delivery_sha256"),
          columns=_columns(
              "feed", "year",
              Column("table_name", STR, "", "暂存表", "Staging table checked"),
              Column("suite", STR, "", "期望套件", "critical or warning"),
              Column("passed", BOOL, "", "是否通过", "Whether every expectation passed"),
              Column("evaluated", I32, "", "执行的期望数", "Expectations evaluated"),
              Column("failed", I32, "", "未通过的期望数", "Expectations failed"),
              Column("failures", STR, "", "未通过的期望（JSON）", "The failed expectations (JSON)"),
              Column("checked_at", TS, "", "检查时间", "When the suite ran"),
              "run_id", "delivery_sha256"),
          owner="quality", asset=False),
)


# --------------------------------------------------------------------------- marts

MARTS = (
    # Written per reporting year by the indicators layer (assets/indicators.py).
    Table("marts", "indicator_values", "One row per year, district (and the city, 320500) "
          "and catalogue indicator",
          ": value, numerator, denominator, unit, standard error (survey), source rows used "
          "and rejected, and why a null value is null.",
          "每年、每个区县（含全市 320500）、每个目录指标一行："
          "指标值、分子、分母、单位、标准误（调查）、使用和隔离的源数据行数、空值原因。",
          keys=("year", "district_code", "indicator_id"),
          columns=_columns("year", "district_code", "indicator_id", "value", "numerator",
                           "denominator", "unit", "standard_error", "source_rows_used",
                           "source_rows_rejected", "null_reason", "methodology_version"),
          owner="indicators", release_position=1),
    Table("marts", "pension_dual_enrolments", "One row per year and district",
          ": persons enrolled in both pension schemes (counted once for P1, in the district "
          "of the employee record), and those whose two records disagree.",
          "每年、每个区县一行：同时参加两种养老保险的人数（P1 只计一次，计入职工记录所在区县）"
          "及两条记录状态不一致的人数。",
          keys=("year", "district_code"),
          columns=_columns("year", "district_code",
                           Column("persons_in_both_schemes", I64, "persons", "重复参保人数",
                                  "Persons enrolled in both pension schemes"),
                           Column("disagreeing_status", I64, "persons",
                                  "两条记录状态不一致的重复参保人数",
                                  "Of those, persons whose two records disagree on status"),
                           "methodology_version"),
          owner="indicators", release_position=10),
    Table("marts", "indicator_scores", "One row per year, district (and city) and indicator "
          "in the index",
          ": fixed-goalpost score, weight, obstacle degree and its rank (top three).",
          "每年、每个区县（含全市）、每个计入指数的指标一行：固定上下限得分、权重、障碍度及其排名（前三）。",
          keys=("year", "district_code", "indicator_id"),
          columns=_columns("year", "district_code", "indicator_id", "score", "weight",
                           "obstacle_degree", "obstacle_rank", "null_reason",
                           "methodology_version"),
          owner="indicators", release_position=2),
    Table("marts", "area_scores", "One row per year, district (and city) and service area",
          ": weighted mean score of the area's in-index indicators, how many were scored, "
          "provisional; on city rows the equality-adjusted score and its loss.",
          "每年、每个区县（含全市）、每个服务领域一行：领域内计入指数指标的加权平均得分、有得分的指标数、"
          "是否暂定；全市行另有均等化调整得分及其损失。",
          keys=("year", "district_code", "area"),
          columns=_columns("year", "district_code", "area", "score", "indicators_scored",
                           "indicators_total", "provisional", "equality_adjusted", "loss_pct",
                           "null_reason", "methodology_version"),
          owner="indicators", release_position=3),
    Table("marts", "equalisation_index", "One row per year and district (and city)",
          ": attainment index, rank, gap to and relative to the city, targets met, "
          "provisional and the missing indicators; the city row carries the "
          "equality-adjusted attainment and its loss.",
          "每年、每个区县（含全市）一行：达标指数、排名、与全市的差距和比值、已达标指标数、是否暂定及缺失指标；"
          "全市行另有均等化调整达标指数及其损失。",
          keys=("year", "district_code"),
          columns=_columns("year", "district_code", "name_zh", "name_en", "district_group",
                           "attainment_index", "rank", "gap_to_city", "relative_to_city",
                           "targets_met", "targets_total", "provisional", "missing_indicators",
                           "equality_adjusted_attainment", "loss_pct", "null_reason",
                           "methodology_version"),
          owner="indicators", release_position=4),
    Table("marts", "equalisation_measures", "One row per year and subject (indicator, "
          "area, index)",
          ": weighted by the population the subject serves: max/min ratio, CV, Williamson, "
          "Theil T (between/within urban districts and county-level cities), Theil L, Gini, "
          "Atkinson(1).",
          "每年、每个对象（指标、服务领域、指数）一行，按对象服务人口加权：极值比、变异系数、威廉姆森系数、"
          "泰尔T（市辖区与县级市组间/组内）、泰尔L、基尼系数、阿特金森指数。",
          keys=("year", "subject_kind", "subject_id"),
          columns=_columns("year", "subject_kind", "subject_id", "weight_population",
                           "mean_weighted", "max_min_ratio", "cv", "williamson", "theil_t",
                           "theil_t_between", "theil_t_within", "theil_l", "gini",
                           "atkinson_1", "null_reason", "methodology_version"),
          owner="indicators", release_position=5),
    Table("marts", "series_figures", "One row per year, district (and city) and series "
          "indicator (L2, I1, I2)",
          ": the year's own figures (person-times, accident or death counts) that the "
          "cumulative and reduction series are completed from, in any order the years are "
          "computed.",
          "每年、每个区县（含全市）、每个序列指标（L2、I1、I2）一行：当年自身的数值（人次、事故起数或死亡人数），"
          "累计和下降序列据此计算。",
          keys=("year", "district_code", "indicator_id"),
          columns=_columns("year", "district_code", "indicator_id", "numerator",
                           "denominator", "null_reason"),
          owner="indicators", asset=False),
    Table("marts", "year_fingerprints", "One row per reporting year whose marts are computed",
          ": the fingerprint of the deliveries, configuration and code they were computed "
          "from (a release refuses marts whose fingerprint is stale).",
          "每个已计算的报告年度一行：计算所依据的交付文件、配置和代码的指纹。",
          keys=("year",),
          columns=_columns("year",
                           Column("fingerprint", STR, "", "输入指纹",
                                  "Fingerprint of the deliveries, configuration and code"),
                           "computed_at"),
          owner="indicators", asset=False),
    # Across the reporting years (assets/progress.py); the release recomputes them over
    # the years it publishes.
    Table("marts", "target_progress", "One row per year, district (and city) and targeted "
          "indicator",
          ": target type resolved for the unit, base year and value (Table 1 beside it for "
          "the city), value, target, progress share, time share, ratio, status, survey "
          "significance and compound growth rates.",
          "每年、每个区县（含全市）、每个有目标的指标一行：按本单位基期判定的目标类型、基期年份和基期值"
          "（全市另列规划表1值）、当年值、目标、进度、时间进度、进度比、状态、调查显著性和年均增长率。",
          keys=("year", "district_code", "indicator_id"),
          columns=_columns("year", "district_code", "indicator_id", "target_type",
                           "base_year", "baseline", "baseline_published", "value", "target",
                           "target_rule", "actual_growth", "required_growth", "ratio",
                           "progress_share", "time_share", "status", "significant",
                           "significant_change", "null_reason", "methodology_version"),
          owner="progress", release_position=7),
    Table("marts", "convergence", "One row per subject (the attainment index and each area)",
          ": sigma-convergence slope of Williamson on year, beta-convergence with its "
          "standard error and n.",
          "每个对象（达标指数和各服务领域）一行：威廉姆森系数对年份的σ收敛斜率、β收敛系数及其标准误和样本数。",
          keys=("subject_kind", "subject_id"),
          columns=_columns("subject_kind", "subject_id", "first_year", "last_year",
                           "sigma_slope", "beta", "beta_se", "n", "null_reason",
                           "methodology_version"),
          owner="progress", release_position=6),
    Table("marts", "rank_sensitivity", "One row per year and district",
          ": rank under the default choices, median and 5th/95th percentile ranks over the "
          "Monte Carlo draws, mean absolute rank shift.",
          "每年、每个区县一行：默认方案下的排名，蒙特卡洛模拟排名的中位数和5%/95%分位数，平均绝对排名变动。",
          keys=("year", "district_code"),
          columns=_columns("year", "district_code", "rank_default", "rank_median", "rank_p05",
                           "rank_p95", "mean_abs_shift", "draws", "seed", "null_reason",
                           "methodology_version"),
          owner="progress", release_position=8),
    Table("marts", "methodology_config", "One row per computation of the cross-year marts",
          ": the methodology version and the configuration used, as JSON.",
          "跨年度结果每计算一次一行：方法版本和所用配置（JSON）。",
          keys=("computed_at",),
          columns=_columns("computed_at", "run_id", "methodology_version",
                           Column("configuration", STR, "", "方法配置（JSON）",
                                  "Configuration used, as JSON")),
          owner="progress"),
)


# --------------------------------------------------------------------------- release only

INDICATORS = Table(
    RELEASE, "indicators", "One row per indicator of the catalogue",
    " as this release used it: every column of indicators.csv, the effective weights after "
    "configuration and Table 1 as printed; with indicator_values a third party can recompute "
    "every score, area score and the attainment index.",
    "本数据包所用指标目录每个指标一行：indicators.csv 的全部列、按配置生效的权重及规划表1原文；"
    "据此和指标值表可重算全部得分、领域得分和达标指数。",
    keys=("indicator_id",),
    columns=(*(c for c in REFERENCE[2].columns
               if c.name not in ("table1_baseline_printed", "table1_target_printed")),
             Column("effective_weight", F64, "", "生效权重（配置后的指标权重）",
                    "Weight of the indicator within its area after configuration "
                    "(indicator_weights); the catalogue's weight is in `weight`"),
             Column("index_weight", F64, "share", "指标在达标指数中的权重",
                    "Share of the attainment index: effective_weight / the area's in-index "
                    "effective weights x the area's normalised weight (0 outside the index)"),
             Column("area_weight", F64, "", "领域权重（配置后，未归一化）",
                    "Weight of the indicator's area after configuration (area_weights), "
                    "before normalisation over the areas in the index"),
             Column("aggregation", STR, "", "指数汇总方法",
                    "How areas are combined: arithmetic or geometric (configuration)"),
             REFERENCE[2].column("table1_baseline_printed"),
             REFERENCE[2].column("table1_target_printed"),
             VOCABULARY["methodology_version"]),
    owner="publication", asset=False, release_position=0,
    reads=("reference.indicators",))


DATA_QUALITY = Table(
    RELEASE, "data_quality", "One row per delivered file",
    ": its department (submissions), counts, the expectations of the suites run on that very "
    "delivery, (pension) dual enrolments, status, why it was rejected or failed, and whether "
    "it is the delivery in use; from quality.deliveries and quality.check_results when "
    "published.",
    "每个交付文件一行：报送部门（submissions）、行数、对该交付所执行的期望及未通过数、（养老保险）"
    "重复参保人数、状态、拒收或失败原因、是否为在用交付。",
    keys=("feed", "year", "file_name", "sha256"),
    columns=_columns("feed",
                     Column("department", STR, "", "报送部门（仅 submissions）",
                            "Department whose file it is (submissions only)"),
                     "year", "file_name", "sha256", "bytes", "rows_read", "rows_loaded",
                     "rows_rejected", "expectations_run", "expectations_failed",
                     "dual_enrolments", "status",
                     Column("reason", STR, "", "拒收或读取失败的原因（rejected、failed）",
                            "Why the delivery was rejected or failed"),
                     Column("in_use", BOOL, "", "是否为在用交付",
                            "Whether this delivery is the one in use (its rows are published)"),
                     "methodology_version"),
    owner="publication", asset=False, release_position=9,
    reads=("quality.deliveries", "quality.check_results", "marts.pension_dual_enrolments"))


REVISIONS = Table(
    RELEASE, "revisions", "One row per published value that differs from the previous "
    "release",
    ": the table, the row's key, the column, the old and new value as text, and the cause "
    "(a new delivery, the configuration, the methodology or the code).",
    "与上一版数据包相比每个发生变化的发布值一行：表、行键、列、旧值和新值（文本）及原因"
    "（新交付、配置、方法或代码）。",
    keys=("table", "key", "column"),
    columns=_columns(
        Column("previous_release_id", STR, "", "上一版数据包编号", "Previous release id"),
        Column("table", STR, "", "表", "Table (file name without .parquet)"),
        Column("key", STR, "", "行键（键列=值，以 | 分隔）",
               "The row's key columns as text: name=value joined by |"),
        Column("column", STR, "", "列", "Column whose value changed"),
        Column("old_value", STR, "", "旧值（文本；空为无此行或空值）",
               "Previous value as text (null: no such row, or null)"),
        Column("new_value", STR, "", "新值（文本；空为行已删除或空值）",
               "New value as text (null: row removed, or null)"),
        Column("cause", STR, "", "原因",
               "new delivery: <feed> <year>, configuration, methodology or code"),
        "methodology_version"),
    owner="publication", asset=False, release_position=11)


REGISTRY: dict[str, Table] = {t.address: t for t in
                              (*REFERENCE, *FEED_TABLES, *QUALITY, *MARTS, INDICATORS,
                               DATA_QUALITY, REVISIONS)}


# --------------------------------------------------------------------------- views

def table(schema: str, name: str) -> Table:
    return REGISTRY[f"{schema}.{name}"]


def tables(schema: str | None = None, owner: str | None = None,
           asset: bool | None = None) -> list[Table]:
    """Tables in declaration order, filtered."""
    return [t for t in REGISTRY.values()
            if (schema is None or t.schema == schema) and (owner is None or t.owner == owner)
            and (asset is None or t.asset == asset)]


def published() -> list[Table]:
    """The release's tables, in their order there."""
    return sorted((t for t in REGISTRY.values() if t.published),
                  key=lambda t: t.release_position)


def per_year_published() -> list[Table]:
    """Published tables read from the marts year by year (written per reporting year)."""
    return [t for t in published() if t.schema == "marts" and t.owner == "indicators"]


def release_reads() -> list[Table]:
    """Every warehouse table the release reads: the published marts and what the others
    are computed from."""
    names = [t.address for t in published() if t.schema != RELEASE]
    names += [a for t in published() for a in t.reads]
    return [REGISTRY[a] for a in dict.fromkeys(names)]


def restricted() -> set[tuple[str, str]]:
    """(schema, name) of every person-level table."""
    return {(t.schema, t.name) for t in REGISTRY.values() if t.restricted}
