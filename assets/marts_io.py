"""Writing pandas results into marts tables: per reporting year, or whole."""

import json

import duckdb
import pandas as pd

from junheng.sql import ident


def replace_year(con: duckdb.DuckDBPyConnection, table: str, year: int, frame: pd.DataFrame):
    con.register("_frame", frame)
    con.execute(f"create table if not exists marts.{ident(table)} as "
                "select * from _frame limit 0")
    con.execute(f"delete from marts.{ident(table)} where year = ?", [year])
    con.execute(f"insert into marts.{ident(table)} by name select * from _frame")
    con.unregister("_frame")


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame):
    con.register("_frame", frame)
    con.execute(f"create or replace table marts.{ident(table)} as select * from _frame")
    con.unregister("_frame")


def catalogue(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select * from reference.indicators order by indicator_id").df()


def districts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select * from reference.districts order by district_code").df()


def config_json(config) -> str:
    return json.dumps(config.as_dict(), sort_keys=True, ensure_ascii=False)
