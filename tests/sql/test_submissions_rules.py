"""The rules of the submissions feed (feeds.md section 7) on given rows: one test per
rule, each with rows it accepts and rows it rejects (in-memory DuckDB, the real macros,
rules and staging view files, district resolution and catalogue lookup the load uses)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from sql_helpers import warehouse

from junheng.ingest.feeds import SUBMISSIONS
from junheng.ingest.load import district_texts, staging_view_sql
from junheng.sql import sql_text

PART = SUBMISSIONS.parts[0]
COLUMNS = list(PART.columns.values())   # indicator_id, district, numerator, ...


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return warehouse()


def run(con, department: str, rows: list[tuple], errors: dict[int, str] | None = None
        ) -> tuple[dict[int, list[tuple[str, str]]], dict[int, dict]]:
    """The rules over `rows` (indicator, district, numerator, denominator, value, standard
    error, sample size, note; None = empty) of one department's file, lines from 2:
    {line: [(column, rule), ...]} of the rejected rows, {line: staging row} of the others."""
    n = len(rows)
    cols = {c: [None if r[i] is None else str(r[i]) for r in rows]
            for i, c in enumerate(COLUMNS)}
    table = pa.table({"_line": pa.array(range(2, n + 2), pa.int64()),
                      "_error": pa.array([(errors or {}).get(i + 2) for i in range(n)],
                                         pa.string()),
                      "department": pa.array([department] * n, pa.string()),
                      **{c: pa.array(v, pa.string()) for c, v in cols.items()}})
    con.register("_delivery_in", table)
    con.execute("create or replace temp table _delivery as select * from _delivery_in")
    con.unregister("_delivery_in")
    district_texts(con, PART, "_delivery")
    con.execute("create or replace temp table _checked as "
                + sql_text("staging/stg_submissions__indicators.sql"))
    rejected = {line: sorted((v["column_name"], v["rule"]) for v in vs) for line, vs in
                con.execute("select _line, _violations from _checked "
                            "where len(_violations) > 0").fetchall()}
    # The staging view over the rows and their quarantine, as the load makes the candidate.
    con.execute("create or replace temp table _quarantine as select 'submissions' as feed, "
                "2024 as year, ? as file_name, 'submissions__indicators' as table_name, "
                "_line as line from _checked where len(_violations) > 0",
                [f"{department}_2024.csv"])
    con.execute("create or replace temp view _rows as select 2024 as _year, * from _delivery")
    out = con.execute(staging_view_sql(PART, rows="_rows", quarantine="_quarantine")
                      + " order by _line").df()
    accepted = {r["_line"]: r for r in out.to_dict("records")}
    return rejected, accepted


def row(indicator, district="320508", numerator=None, denominator=None, value=None,
        se=None, n=None, note=None) -> tuple:
    return (indicator, district, numerator, denominator, value, se, n, note)


# C2 civil_affairs ratio %, E6 education ratio (years), E5 education flag %, C1 health count,
# I3 public_security estimate %.

def test_an_indicator_of_this_department_only(con):
    rejected, accepted = run(con, "civil_affairs", [
        row("C2", numerator=45, denominator=50),
        row(" F1 ", numerator=1, denominator=2),          # trimmed
        row("C1", numerator=100),                          # health's: not this file's
        row("ZZ9", numerator=1, denominator=2),            # no such indicator
        row(None, numerator=1, denominator=2),
    ])
    assert set(accepted) == {2, 3} and accepted[3]["indicator_id"] == "F1"
    rule = "an indicator of this department in the catalogue"
    assert rejected == {4: [("指标编码", rule)], 5: [("指标编码", rule)],
                        6: [("指标编码", "required")]}


def test_a_district_code_or_any_alias_after_nfkc(con):
    rejected, accepted = run(con, "health", [
        row("C1", "320508", numerator=10),
        row("C1", "　高新区 ", numerator=10),          # full-width space, trailing space
        row("C1", "吴江市", numerator=10),               # an alias
        row("C1", "３２０５８５", numerator=10),          # full-width digits
        row("C1", "ＳＩＰ", numerator=10),               # full-width letters
        row("C1", "火星区", numerator=10),
        row("C1", None, numerator=10),
    ])
    assert {k: v["district_code"] for k, v in accepted.items()} == {
        2: "320508", 3: "320505", 4: "320509", 5: "320585", 6: "320571"}
    assert accepted[5]["district_as_delivered"] == "３２０５８５"
    assert rejected == {7: [("区县", "a district code or alias")], 8: [("区县", "required")]}


def test_the_city_code_only_for_estimate_rows(con):
    rejected, accepted = run(con, "public_security", [
        row("I3", "320500", value=94.0, se=0.3, n=4000),
        row("I3", "320508", value=93.0, se=0.8, n=400),
    ])
    assert not rejected and accepted[2]["district_code"] == "320500"
    rejected, accepted = run(con, "public_security", [
        row("I3", "３２０５００", value=94.0, se=0.3, n=4000),   # the city, after NFKC
    ])
    assert not rejected and accepted[2]["district_code"] == "320500"
    rejected, _ = run(con, "civil_affairs", [row("C2", "320500", numerator=4, denominator=5)])
    assert rejected == {2: [("区县", "the city code 320500 only for estimate rows")]}
    rejected, _ = run(con, "health", [row("C1", "320500", numerator=4)])
    assert rejected == {2: [("区县", "the city code 320500 only for estimate rows")]}


def test_numerator_at_least_zero_and_required_for_ratio_count_and_flag(con):
    rejected, accepted = run(con, "education", [
        row("E6", "320505", numerator=0, denominator=10),
        row("E6", "320506", denominator=10),
        row("E5", "320507", denominator=1),
        row("E6", "320508", numerator=-1, denominator=10),
    ])
    assert set(accepted) == {2}
    assert rejected == {3: [("分子", "required for form ratio")],
                        4: [("分子", "required for form flag")],
                        5: [("分子", ">= 0")]}
    rejected, accepted = run(con, "health", [row("C1", numerator=120), row("C1", "320505")])
    assert set(accepted) == {2}
    assert rejected == {3: [("分子", "required for form count")]}
    rejected, _ = run(con, "public_security", [row("I3", value=90, se=1, n=10)])
    assert not rejected   # no numerator for an estimate


def test_denominator_above_zero_and_required_for_ratio(con):
    rejected, accepted = run(con, "civil_affairs", [
        row("C2", "320505", numerator=4, denominator=5),
        row("C2", "320506", numerator=4),
        row("C2", "320507", numerator=0, denominator=0),
        row("C2", "320508", numerator=0, denominator=-5),
    ])
    assert set(accepted) == {2}
    assert rejected == {3: [("分母", "required for form ratio")], 4: [("分母", "> 0")],
                        5: [("分母", "> 0")]}
    rejected, accepted = run(con, "health", [row("C1", numerator=7)])   # count: none needed
    assert not rejected and pd.isna(accepted[2]["denominator"])


def test_a_flag_is_zero_or_one_over_one(con):
    rejected, accepted = run(con, "education", [
        row("E5", "320505", numerator=1, denominator=1),
        row("E5", "320506", numerator=0, denominator="1.0"),
        row("E5", "320507", numerator=2, denominator=1),
        row("E5", "320508", numerator=1, denominator=2),
        row("E5", "320509", numerator=1),
    ])
    assert set(accepted) == {2, 3}
    assert rejected == {4: [("分子", "flag: 0 or 1")], 5: [("分母", "flag: 1")],
                        6: [("分母", "required for form flag")]}


def test_a_ratio_value_is_optional_but_must_match_within_half_a_percent(con):
    rule = "equals the ratio x unit factor within 0.5 %"
    rejected, accepted = run(con, "civil_affairs", [
        row("C2", "320505", numerator=45, denominator=50),               # 90 %, no value
        row("C2", "320506", numerator=45, denominator=50, value=90.4),   # 0.44 % off
        row("C2", "320507", numerator=45, denominator=50, value=90.5),   # 0.56 % off
        row("C2", "320508", numerator=45, denominator=50, value=0.9),    # a fraction
        row("C2", "320509", numerator=0, denominator=50, value=0),
    ])
    assert set(accepted) == {2, 3, 6} and accepted[3]["value"] == 90.4
    assert rejected == {4: [("数值", rule)], 5: [("数值", rule)]}
    rejected, accepted = run(con, "education", [          # E6: years, unit factor 1
        row("E6", "320505", numerator=1350, denominator=100, value=13.5),
        row("E6", "320506", numerator=1350, denominator=100, value=1350),
    ])
    assert set(accepted) == {2} and rejected == {3: [("数值", rule)]}


def test_an_estimate_needs_value_standard_error_and_sample_size(con):
    rejected, accepted = run(con, "public_security", [
        row("I3", "320505", value=95.5, se=0.8, n=400),
        row("I3", "320506", se=0.8, n=400),
        row("I3", "320507", value=95, n=400),
        row("I3", "320508", value=95, se=0, n=400),
        row("I3", "320509", value=95, se=0.8),
        row("I3", "320571", value=95, se=0.8, n=0),
        row("I3", "320581", value=95, se=0.8, n=1.5),
        row("I3", "320582", value=95, se=0.8, n=1),
    ])
    assert set(accepted) == {2, 9}
    assert accepted[2]["sample_size"] == 400 and accepted[2]["standard_error"] == 0.8
    assert rejected == {3: [("数值", "required for form estimate")],
                        4: [("标准误", "required")], 5: [("标准误", "> 0")],
                        6: [("样本量", "required")], 7: [("样本量", ">= 1")],
                        8: [("样本量", "integer")]}


def test_standard_error_and_sample_size_are_for_estimates_only(con):
    rejected, accepted = run(con, "civil_affairs", [
        row("C2", "320505", numerator=4, denominator=5),
        row("C2", "320506", numerator=4, denominator=5, se=0.5),
        row("C2", "320507", numerator=4, denominator=5, n=30),
    ])
    assert set(accepted) == {2}
    assert rejected == {3: [("标准误", "estimate only")], 4: [("样本量", "estimate only")]}
    rejected, _ = run(con, "health", [row("C1", numerator=5, se=0.1, n=3)])
    assert rejected == {2: [("标准误", "estimate only"), ("样本量", "estimate only")]}


def test_a_percent_ratio_has_numerator_at_most_denominator(con):
    rejected, accepted = run(con, "civil_affairs", [
        row("C2", "320505", numerator=50, denominator=50),
        row("C2", "320506", numerator=51, denominator=50),
    ])
    assert set(accepted) == {2}
    assert rejected == {3: [("分子", "<= denominator where the unit is %")]}
    rejected, accepted = run(con, "education", [   # E6 is in years: no such bound
        row("E6", numerator=1500, denominator=100)])
    assert not rejected and accepted[2]["numerator"] == 1500


@pytest.mark.parametrize("text, rule", [("inf", "finite number"), ("NaN", "finite number"),
                                        ("1e309", "finite number"), ("1,000", "decimal"),
                                        ("１００", "decimal"), ("12%", "decimal")])
def test_numbers_are_finite_decimals(con, text, rule):
    rejected, _ = run(con, "civil_affairs", [
        row("C2", "320505", numerator=text, denominator=50),
        row("C2", "320506", numerator=4, denominator=text),
        row("C2", "320507", numerator=4, denominator=5, value=text),
    ])
    assert rejected == {2: [("分子", rule)], 3: [("分母", rule)], 4: [("数值", rule)]}
    rejected, _ = run(con, "public_security", [row("I3", value=90, se=text, n=10)])
    assert rejected == {2: [("标准误", rule)]}


def test_indicator_and_district_unique_all_copies_rejected(con):
    rule = ("指标编码", "unique (indicator, district) in file")
    rejected, accepted = run(con, "civil_affairs", [
        row("C2", "320571", numerator=4, denominator=5),
        row("C2", "园区", numerator=3, denominator=5),      # the same district by alias
        row("F1", "320571", numerator=4, denominator=5),    # another indicator: fine
        row("C2", "320508", numerator=4, denominator=5),
        row("C2", "320508", numerator=4, denominator=5),
    ])
    assert set(accepted) == {4}
    assert rejected == {2: [rule], 3: [rule], 5: [rule], 6: [rule]}


def test_the_note_is_kept_and_never_parsed(con):
    note = "分子=99; 区县=320571; value 1e309"
    rejected, accepted = run(con, "health", [row("C1", numerator=12, note=note),
                                             row("C1", "320505", numerator=12, note="")])
    assert not rejected and accepted[2]["note"] == note and pd.isna(accepted[3]["note"])


def test_an_unparsable_row_gets_that_one_reason(con):
    rejected, _ = run(con, "health", [row("C1", None, None)], errors={2: "9 fields where the "
                                                                         "header has 8"})
    assert rejected == {2: [("*", "parsable row")]}


def test_staging_columns_and_types(con):
    run(con, "health", [row("C1", numerator=1)])
    view = staging_view_sql(PART, rows="_rows", quarantine="_quarantine")
    types = con.execute(f"select column_name, column_type from (describe {view})").fetchall()
    assert types == [("_line", "BIGINT"), ("year", "INTEGER"), ("department", "VARCHAR"),
                     ("indicator_id", "VARCHAR"), ("district_code", "VARCHAR"),
                     ("district_as_delivered", "VARCHAR"), ("numerator", "DOUBLE"),
                     ("denominator", "DOUBLE"), ("value", "DOUBLE"),
                     ("standard_error", "DOUBLE"), ("sample_size", "INTEGER"),
                     ("note", "VARCHAR")]
