"""The release's tables: columns, types, units and bilingual descriptions (extracts.md).

Each table lists its columns in published order; the keys sort the Parquet file.
"""

from __future__ import annotations

import pyarrow as pa

I32, I64, F64, STR = pa.int32(), pa.int64(), pa.float64(), pa.string()

# column -> (type, unit, 中文, English)
COLUMNS: dict[str, tuple] = {
    "year": (I32, "", "报告年度", "Reporting year"),
    "district_code": (STR, "", "区县代码（320500 为全市）", "District code (320500 = the city)"),
    "indicator_id": (STR, "", "指标编号", "Indicator id of the catalogue"),
    "value": (F64, "see unit", "指标值", "Indicator value"),
    "numerator": (F64, "", "分子（未乘单位系数）", "Numerator (before the unit factor)"),
    "denominator": (F64, "", "分母", "Denominator"),
    "unit": (STR, "", "单位", "Unit of the value"),
    "source_rows_used": (I64, "rows", "使用的源数据行数", "Source rows used"),
    "source_rows_rejected": (I64, "rows", "被隔离的源数据行数",
                             "Source rows rejected (quarantined)"),
    "null_reason": (STR, "", "值为空的原因", "Why the value is null"),
    "score": (F64, "0-100", "得分", "Score (0-100)"),
    "weight": (F64, "", "权重", "Weight"),
    "obstacle_degree": (F64, "share", "障碍度", "Obstacle degree (share of the gap)"),
    "domain": (STR, "", "领域", "Domain"),
    "indicators_scored": (I64, "", "有得分的指标数", "Indicators scored"),
    "indicators_total": (I64, "", "领域指标总数", "Indicators in the domain"),
    "name_zh": (STR, "", "中文名称", "Name in Chinese"),
    "name_en": (STR, "", "英文名称", "Name in English"),
    "group": (STR, "", "类别（市辖区/县级市）", "Group: urban_district, county_city or city"),
    "attainment_index": (F64, "0-100", "达标指数", "Attainment index"),
    "rank": (I32, "", "排名（1 为最高）", "Rank among the 10 districts (1 = highest)"),
    "gap_to_city": (F64, "points", "与全市差距", "Attainment index minus the city's"),
    "relative_to_city": (F64, "ratio", "相对全市", "Attainment index over the city's"),
    "education": (F64, "0-100", "教育领域得分", "Education domain score"),
    "health": (F64, "0-100", "卫生健康领域得分", "Health domain score"),
    "elderly": (F64, "0-100", "养老领域得分", "Elderly care and pensions domain score"),
    "environment": (F64, "0-100", "环境领域得分", "Environment domain score"),
    "targets_met": (I64, "", "已达标指标数", "Targeted indicators meeting the 2025 target"),
    "targets_total": (I64, "", "有目标的指标数", "Targeted indicators with a value"),
    "equality_adjusted_attainment": (F64, "0-100", "均等化调整达标指数（仅全市）",
                                     "Equality-adjusted attainment (city row only)"),
    "subject_kind": (STR, "", "对象类型", "Subject kind: indicator, domain or index"),
    "subject_id": (STR, "", "对象编号", "Indicator id, domain or 'attainment'"),
    "mean_weighted": (F64, "", "人口加权均值", "Population-weighted mean"),
    "max_min_ratio": (F64, "ratio", "极值比", "Max / min"),
    "cv": (F64, "", "变异系数", "Coefficient of variation (unweighted)"),
    "williamson": (F64, "", "威廉姆森系数", "Williamson coefficient (population-weighted)"),
    "theil_t": (F64, "", "泰尔指数T", "Theil T"),
    "theil_t_between": (F64, "", "泰尔T组间", "Theil T between urban districts and cities"),
    "theil_t_within": (F64, "", "泰尔T组内", "Theil T within the groups"),
    "theil_l": (F64, "", "泰尔指数L", "Theil L (mean log deviation)"),
    "gini": (F64, "", "基尼系数", "Gini coefficient (population-weighted)"),
    "atkinson_1": (F64, "", "阿特金森指数(ε=1)", "Atkinson index, epsilon 1"),
    "null_reasons": (STR, "", "空值原因", "Why measures are null"),
    "first_year": (I32, "", "起始年", "First year"),
    "last_year": (I32, "", "末年", "Last year"),
    "sigma_slope": (F64, "per year", "σ收敛斜率", "Sigma convergence: slope of Williamson"),
    "beta": (F64, "", "β收敛系数", "Beta convergence coefficient"),
    "beta_se": (F64, "", "β标准误", "Standard error of beta"),
    "n": (I64, "", "样本数", "Districts in the regression"),
    "baseline": (F64, "see unit", "基期值（2020年计算）", "Baseline: the 2020 value computed"),
    "baseline_published": (F64, "see unit", "规划表1基期值（仅全市）",
                           "Table 1 baseline (city rows only)"),
    "target": (F64, "see unit", "2025年目标", "2025 target"),
    "target_rule": (STR, "", "目标规则", "Target rule (>, >=, =, <=)"),
    "progress": (F64, "share", "进度", "Progress towards the target"),
    "time_share": (F64, "share", "时间进度", "Share of the plan period elapsed"),
    "status": (STR, "", "状态", "achieved, on_track, off_track or regressing (data_quality: "
                                "delivery status)"),
    "actual_cagr": (F64, "per year", "实际年均增长率", "Actual compound annual growth"),
    "required_cagr": (F64, "per year", "所需年均增长率", "Required compound annual growth"),
    "rank_default": (I32, "", "默认排名", "Rank under the default choices"),
    "rank_median": (F64, "", "排名中位数", "Median rank over the draws"),
    "rank_p05": (F64, "", "排名5%分位", "5th percentile rank"),
    "rank_p95": (F64, "", "排名95%分位", "95th percentile rank"),
    "mean_abs_shift": (F64, "ranks", "平均绝对排名变动", "Mean absolute rank shift"),
    "draws": (I64, "", "模拟次数", "Monte Carlo draws"),
    "seed": (I64, "", "随机种子", "Random seed"),
    "feed": (STR, "", "数据源", "Feed id"),
    "file_name": (STR, "", "文件名", "Delivered file name"),
    "sha256": (STR, "", "SHA-256", "SHA-256 of the delivered file"),
    "bytes": (I64, "bytes", "文件大小", "Size of the delivered file"),
    "rows_read": (I64, "rows", "读取行数", "Rows read"),
    "rows_loaded": (I64, "rows", "载入行数", "Rows loaded"),
    "rows_rejected": (I64, "rows", "隔离行数", "Rows rejected (quarantined)"),
    "expectations_run": (I64, "", "执行的期望数", "Great Expectations expectations evaluated"),
    "expectations_failed": (I64, "", "未通过的期望数", "Expectations failed"),
    "dual_enrolments": (I64, "persons", "重复参保人数（仅养老保险）",
                        "Persons enrolled in both pension schemes (pension only)"),
    "methodology_version": (STR, "", "方法版本", "Methodology version"),
}

TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # table: (columns in order, sort keys)
    "indicator_values": (("year", "district_code", "indicator_id", "value", "numerator",
                          "denominator", "unit", "source_rows_used", "source_rows_rejected",
                          "null_reason", "methodology_version"),
                         ("year", "district_code", "indicator_id")),
    "indicator_scores": (("year", "district_code", "indicator_id", "score", "weight",
                          "obstacle_degree", "methodology_version"),
                         ("year", "district_code", "indicator_id")),
    "domain_scores": (("year", "district_code", "domain", "score", "indicators_scored",
                       "indicators_total", "methodology_version"),
                      ("year", "district_code", "domain")),
    "equalisation_index": (("year", "district_code", "name_zh", "name_en", "group",
                            "attainment_index", "rank", "gap_to_city", "relative_to_city",
                            "education", "health", "elderly", "environment", "targets_met",
                            "targets_total", "equality_adjusted_attainment",
                            "methodology_version"),
                           ("year", "district_code")),
    "equalisation_measures": (("year", "subject_kind", "subject_id", "mean_weighted",
                               "max_min_ratio", "cv", "williamson", "theil_t", "theil_t_between",
                               "theil_t_within", "theil_l", "gini", "atkinson_1", "null_reasons",
                               "methodology_version"),
                              ("year", "subject_kind", "subject_id")),
    "convergence": (("subject_kind", "subject_id", "first_year", "last_year", "sigma_slope",
                     "beta", "beta_se", "n", "methodology_version"),
                    ("subject_kind", "subject_id")),
    "target_progress": (("year", "district_code", "indicator_id", "baseline",
                         "baseline_published", "value", "target", "target_rule", "progress",
                         "time_share", "status", "actual_cagr", "required_cagr",
                         "methodology_version"),
                        ("year", "district_code", "indicator_id")),
    "rank_sensitivity": (("year", "district_code", "rank_default", "rank_median", "rank_p05",
                          "rank_p95", "mean_abs_shift", "draws", "seed", "methodology_version"),
                         ("year", "district_code")),
    "data_quality": (("feed", "year", "file_name", "sha256", "bytes", "rows_read",
                      "rows_loaded", "rows_rejected", "expectations_run", "expectations_failed",
                      "dual_enrolments", "status", "methodology_version"),
                     ("feed", "year", "file_name", "sha256")),
}

TABLE_DESCRIPTIONS = {
    "indicator_values": ("指标值", "One row per year x district (incl. city) x indicator"),
    "indicator_scores": ("指标得分", "One row per year x district (incl. city) x indicator in "
                                     "the index"),
    "domain_scores": ("领域得分", "One row per year x district (incl. city) x domain"),
    "equalisation_index": ("均等化达标指数", "One row per year x district (incl. city)"),
    "equalisation_measures": ("均等化测度", "One row per year x subject"),
    "convergence": ("收敛分析", "One row per subject"),
    "target_progress": ("目标进度", "One row per year x district (incl. city) x targeted "
                                    "indicator"),
    "rank_sensitivity": ("排名稳健性", "One row per year x district"),
    "data_quality": ("数据质量", "One row per delivered file"),
}


def schema(table: str) -> pa.Schema:
    return pa.schema([(c, COLUMNS[c][0]) for c in TABLES[table][0]])


def dictionary_rows() -> list[list[str]]:
    rows = []
    for table, (cols, keys) in TABLES.items():
        for c in cols:
            typ, unit, zh, en = COLUMNS[c]
            rows.append([f"{table}.parquet", c, str(typ), unit, zh, en,
                         "yes" if c in keys else ""])
    return rows
