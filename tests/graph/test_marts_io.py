"""Marts tables have declared column types: never DuckDB's "NULL" type (real DuckDB files)."""

from __future__ import annotations

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from ingest_helpers import ingest, load_reference, resources

from assets import indicators, progress
from assets.marts_io import replace_table, replace_year
from junheng.demo.generator import Options, generate
from pipelines.resources import Methodology


def _values(year: int, reasons: list) -> pd.DataFrame:
    n = len(reasons)
    return pd.DataFrame({
        "year": [year] * n, "district_code": ["320505", "320506", "320500"][:n],
        "indicator_id": ["E1"] * n,
        "value": [np.nan if r else 1.5 for r in reasons],
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
    con.register("_frame", _values(2020, [None, None]).assign(null_reasons=None))
    con.execute("create table marts.indicator_values as select * from _frame")
    con.unregister("_frame")
    assert ("indicator_values", "null_reason") in _null_typed(con)
    con.close()

    con = duckdb.connect(str(path))
    con.execute("begin transaction")
    replace_year(con, "indicator_values", 2021,
                 _values(2021, ["not submitted", None]).assign(null_reasons="x: y"))
    con.execute("commit")
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    assert _null_typed(con) == []
    types = _types(con, "indicator_values")
    assert types["null_reason"] == "VARCHAR" and types["null_reasons"] == "VARCHAR"
    assert con.execute("select year, count(*), count(null_reason), count(null_reasons) from "
                       "marts.indicator_values group by all order by 1").fetchall() \
        == [(2020, 2, 0, 0), (2021, 2, 1, 2)]
    con.close()


@pytest.mark.slow
def test_no_marts_column_is_null_typed_after_a_materialisation(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, Options(years=(2022,), scale=0.002))
    db = tmp_path / "wh" / "w.duckdb"
    load_reference(landing, db)
    instance = dg.DagsterInstance.ephemeral()
    assert ingest(landing, db, 2022, instance=instance).success
    res = resources(landing, db) | {"methodology": Methodology(draws=20)}
    assert dg.materialize([indicators.year_marts_asset], partition_key="2022",
                          instance=instance, resources=res).success
    assert dg.materialize([progress.cross_year_marts], instance=instance,
                          resources=res, selection=[progress.cross_year_marts]).success
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
        assert {"indicator_values", "equalisation_measures", "target_progress",
                "methodology_config"} <= tables
        described = {t: con.execute(f"describe marts.{t}").fetchall() for t in tables}
        assert not [(t, r[0]) for t, rows in described.items() for r in rows
                    if r[1].strip('"').upper() == "NULL"]
        assert dict((r[0], r[1]) for r in described["indicator_values"])["null_reason"] \
            == "VARCHAR"
    finally:
        con.close()
