"""The staging rule macros on given values: no delivered text makes them raise or pass
a number that cannot be held (in-memory DuckDB, the real macro and staging SQL files)."""

from __future__ import annotations

import duckdb
import pytest
from sql_helpers import delivery, rules, stage, warehouse

from junheng.sql import sql_text

NINES = "9" * 40

# value -> (int_rule(c, value, 0), num_rule(c, value, 0, 100)): the rule broken, or None.
CASES = {
    NINES: ("integer within range", "0 to 100"),
    "-" + NINES: ("integer within range", "0 to 100"),
    "9" * 20: ("integer within range", "0 to 100"),           # beyond BIGINT, within INT128
    "9" * 400: ("integer within range", "finite number"),     # beyond a double too
    "1e309": ("integer", "finite number"),
    "-1e309": ("integer", "finite number"),
    "nan": ("integer", "finite number"),
    "inf": ("integer", "finite number"),
    "Infinity": ("integer", "finite number"),
    "-INF": ("integer", "finite number"),
    "1,000": ("integer", "decimal"),
    "１００": ("integer", "decimal"),
    "  12 ": (None, None),
    "": ("required", "required"),
    None: ("required", "required"),
    "12.5": ("integer", None),
    "-5": (">= 0", "0 to 100"),
    "1e2": ("integer", None),
    "999999999999999": (None, "0 to 100"),                    # the largest integer held
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(sql_text("create_macros.sql"))
    return c


def test_int_rule_and_num_rule_on_odd_values(con):
    con.execute("create or replace temp table t (x varchar)")
    con.executemany("insert into t values (?)", [[x] for x in CASES])
    got = {x: (i, n) for x, i, n in con.execute(
        "select x, int_rule('c', x, 0).rule, num_rule('c', x, 0, 100).rule from t").fetchall()}
    assert got == CASES
    # The violation carries the value as delivered, untouched.
    assert con.execute("select int_rule('c', ?, 0).value", [NINES]).fetchall() == [(NINES,)]


def test_values_are_never_infinite_nan_or_an_error(con):
    rows = con.execute(
        "select x, as_int(x), as_num(x), is_int(x), is_num(x) from "
        "(select unnest($xs) as x)", {"xs": [x for x in CASES if x is not None]}).fetchall()
    for x, i, n, is_i, is_n in rows:
        assert n is None or (abs(n) < float("inf") and n == n), x
        assert (i is not None) == is_i and (n is not None or not is_n), x
        assert is_i == (CASES[x][0] in (None, ">= 0")), x
    assert dict((r[0], r[1:3]) for r in rows)["  12 "] == (12, 12.0)


def test_a_40_digit_resident_count_is_quarantined_not_a_crash():
    con = warehouse()
    rows = {"year": ["2022"] * 3, "district_code": ["320505"] * 3,
            "township_code": ["320505001", "320505002", "320505003"],
            "township_name": ["a", "b", "c"],
            "resident_total": [NINES, "100", "9000000000000000000"],
            "age_0_2": ["1", "10", "1"], "age_3_5": ["1", "10", "1"],
            "age_6_14": ["1", "20", "1"], "age_15_59": ["1", "40", "4500000000000000000"],
            "age_60_plus": ["1", "20", "4499999999999999996"]}
    delivery(con, rows)
    assert rules(con, "stg_population__townships", 2022) == {
        2: [("常住人口", "integer within range")],
        # Within BIGINT but not held: quarantined too, and the age sum never overflows.
        4: [("常住人口", "integer within range"), ("15-59岁", "integer within range"),
            ("60岁及以上", "integer within range")]}
    stage(con, "stg_population__townships", rows, 2022)
    assert con.execute("select _line, resident_total from staging.stg_population__townships"
                       ).fetchall() == [(3, 100)]
