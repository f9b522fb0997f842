"""Marts tables have declared column types: never DuckDB's "NULL" type (real DuckDB files)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.marts_io import replace_table, replace_year


def _values(year: int, reasons: list) -> pd.DataFrame:
    n = len(reasons)
    # Every column marts.indicator_values declares (the registry's), in its order.
    return pd.DataFrame({
        "year": [year] * n, "district_code": ["320505", "320506", "320500"][:n],
        "indicator_id": ["E1"] * n,
        "value": [np.nan if r else 1.5 for r in reasons],
        "numerator": [np.nan if r else 3.0 for r in reasons], "denominator": [2.0] * n,
        "unit": ["%"] * n, "standard_error": [np.nan] * n, "source_rows_used": [1] * n,
        "source_rows_rejected": [0] * n,
        "null_reason": reasons, "methodology_version": ["1"] * n,
    })


def _types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"describe marts.{table}").fetchall()}


def _null_typed(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [(t, c) for t, c, ty in con.execute(
        "select table_name, column_name, data_type from duckdb_columns() "
        "where schema_name = 'marts'").fetchall() if ty.strip('"').upper() == "NULL"]


@pytest.fixture()
def db(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    yield con
    con.close()


def test_a_first_year_without_null_reasons_does_not_block_a_later_reason(db, tmp_path):
    db.execute("begin transaction")
    replace_year(db, "indicator_values", 2020, _values(2020, [None, None]))
    db.execute("commit")
    replace_year(db, "indicator_values", 2021, _values(2021, [None, "not submitted"]))
    types = _types(db, "indicator_values")
    assert types["null_reason"] == "VARCHAR" and types["value"] == "DOUBLE"
    assert types["year"] == "INTEGER"                     # the release's int32
    db.close()
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)   # as stored on disk
    assert con.execute("select year, count(*), count(null_reason) from marts.indicator_values "
                       "group by all order by 1").fetchall() == [(2020, 2, 0), (2021, 2, 1)]
    con.close()


def test_undeclared_columns_take_the_type_of_their_values_or_varchar(db):
    frame = pd.DataFrame({"year": [2020, 2020], "note": [None, None],
                          "count_x": [None, 3], "when_at": pd.to_datetime([None, "2024-01-02"]),
                          "group": ["a", None]})
    replace_year(db, "odd", 2020, frame)
    types = _types(db, "odd")
    assert types.pop("when_at").startswith("TIMESTAMP")
    assert types == {"year": "INTEGER", "note": "VARCHAR", "count_x": "DOUBLE",
                     "group": "VARCHAR"}
    replace_year(db, "odd", 2021, frame.assign(year=2021, note=["x", None]))
    replace_table(db, "whole", frame)
    assert _null_typed(db) == []
    assert db.execute("select count(note) from marts.odd").fetchall() == [(1,)]


def test_a_null_typed_column_of_an_old_warehouse_is_migrated_with_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    # What the old code did: the table typed by the first frame.
    con.register("_frame", _values(2020, [None, None]))
    con.execute("create table marts.indicator_values as select * from _frame")
    con.unregister("_frame")
    assert ("indicator_values", "null_reason") in _null_typed(con)
    con.close()

    con = duckdb.connect(str(path))
    con.execute("begin transaction")
    replace_year(con, "indicator_values", 2021, _values(2021, ["not submitted", None]))
    con.execute("commit")
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    assert _null_typed(con) == []
    assert _types(con, "indicator_values")["null_reason"] == "VARCHAR"
    assert con.execute("select year, count(*), count(null_reason) from "
                       "marts.indicator_values group by all order by 1").fetchall() \
        == [(2020, 2, 0), (2021, 2, 1)]
    con.close()


def test_a_table_of_older_columns_is_replaced_and_a_missing_column_named(db):
    """A methodology change reshapes a mart: the old table goes (every year is recomputed
    into the new one, its fingerprint names the code); a result without a declared column
    is an error naming it, never a table with a hole."""
    db.execute("create table marts.indicator_values (year integer, domain varchar)")
    replace_year(db, "indicator_values", 2021, _values(2021, [None]))
    assert list(_types(db, "indicator_values")) == list(_values(2021, [None]).columns)
    with pytest.raises(ValueError, match=r"no column \['unit'\]"):
        replace_year(db, "indicator_values", 2022, _values(2022, [None]).drop(columns="unit"))
