"""Marts tables: their asset specs, and writing pandas results into them (per reporting
year, or whole).

A marts table's column types are declared, never taken from whichever frame happens to
come first: a column that holds only None in that frame would be typed "NULL" by DuckDB,
and every later write with a real value in it would fail. A column declared in the
registry (`junheng.registry`: the table's own columns, else what the name means in its
vocabulary) gets the type declared there; any other column gets the type of its non-null
values, and VARCHAR when it has none.
"""

import json

import dagster as dg
import duckdb
import pandas as pd

from junheng.registry import REGISTRY, VOCABULARY, Table
from junheng.sql import ident, quoted

FALLBACK = "VARCHAR"


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.sql_type or "see the staging SQL",
                       description=c.en + (f" ({c.unit})" if c.unit else ""))
        for c in table.columns])


def table_spec(table: Table, deps) -> dg.AssetSpec:
    """The asset spec of a registry table: key, description, owner and column schema."""
    return dg.AssetSpec([table.schema, table.name], description=table.description,
                        kinds={"duckdb"}, deps=deps, owners=[f"team:{table.owner}"],
                        metadata={"dagster/column_schema": column_schema(table)})


def _is_null_type(type_name: str) -> bool:
    return type_name.strip('"').upper() == "NULL"


def declared_type(column: str, table: str | None = None) -> str | None:
    """The DuckDB type the registry declares for marts.<table>.<column>, or for what the
    column's name means wherever it appears; None if it declares none."""
    declared = REGISTRY.get(f"marts.{table}")
    if declared and column in declared.column_names:
        return declared.column(column).sql_type
    return VOCABULARY[column].sql_type if column in VOCABULARY else None


def _inferred_types(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> dict[str, str]:
    """DuckDB's type of every column of `frame`, from its non-null values; VARCHAR if none."""
    rel = con.from_df(frame)
    types = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
    for c, t in types.items():
        if _is_null_type(t):
            values = frame[c].dropna()
            probed = (str(con.from_df(values.to_frame(name=c)).types[0])
                      if len(values) else FALLBACK)
            types[c] = FALLBACK if _is_null_type(probed) else probed
    return types


def column_types(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame,
                 table: str | None = None) -> dict[str, str]:
    """Column -> DuckDB type for marts.<table> holding `frame`, in the frame's order.
    Never the NULL type."""
    undeclared = [c for c in frame.columns if declared_type(c, table) is None]
    inferred = _inferred_types(con, frame[undeclared]) if undeclared else {}
    return {c: declared_type(c, table) or inferred[c] for c in frame.columns}


def _create(con: duckdb.DuckDBPyConnection, table: str, types: dict[str, str],
            replace: bool) -> None:
    cols = ", ".join(f"{quoted(c)} {t}" for c, t in types.items())
    verb = "create or replace table" if replace else "create table if not exists"
    con.execute(f"{verb} marts.{ident(table)} ({cols})")


def _migrate_null_columns(con: duckdb.DuckDBPyConnection, table: str,
                          types: dict[str, str]) -> None:
    """Give a column typed NULL (written by older code) its type; its rows are kept."""
    existing = con.execute("select column_name, data_type from duckdb_columns() where "
                           "database_name = current_database() and schema_name = 'marts' "
                           "and table_name = ?", [table]).fetchall()
    for column, data_type in existing:
        if _is_null_type(data_type):
            target = types.get(column) or declared_type(column, table) or FALLBACK
            con.execute(f"alter table marts.{ident(table)} alter column {quoted(column)} "
                        f"type {target}")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    try:
        con.execute(f"insert into marts.{ident(table)} by name select * from _frame")
    finally:
        con.unregister("_frame")


def conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with exactly the columns the registry declares for marts.<table>, in its
    order; a declared column the frame lacks is an error naming it."""
    declared = REGISTRY.get(f"marts.{table}")
    if declared is None or not declared.exact:
        return frame
    missing = [c for c in declared.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"marts.{table}: the computation gave no column {missing}")
    return frame[list(declared.column_names)]


def _drop_if_reshaped(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> None:
    """A table written by older code with other columns (a methodology change) is dropped:
    every year's fingerprint names the code, so every year is recomputed into it."""
    existing = [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'marts' and table_name = ? order by column_index", [table]
    ).fetchall()]
    if existing and existing != list(columns):
        con.execute(f"drop table marts.{ident(table)}")


def replace_year(con: duckdb.DuckDBPyConnection, table: str, year: int, frame: pd.DataFrame):
    """Replace the rows of one reporting year of marts.<table> with `frame`."""
    frame = conform(table, frame)
    _drop_if_reshaped(con, table, list(frame.columns))
    types = column_types(con, frame, table)
    _create(con, table, types, replace=False)
    _migrate_null_columns(con, table, types)
    con.execute(f"delete from marts.{ident(table)} where year = ?", [year])
    _insert(con, table, frame)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame):
    """Insert `frame` (the declared columns) into an existing marts.<table>."""
    _insert(con, table, conform(table, frame))


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame):
    """Replace marts.<table> with `frame`."""
    frame = conform(table, frame)
    _create(con, table, column_types(con, frame, table), replace=True)
    _insert(con, table, frame)


def catalogue(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select * from reference.indicators order by indicator_id").df()


def districts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select * from reference.districts order by district_code").df()


def config_json(config) -> str:
    return json.dumps(config.as_dict(), sort_keys=True, ensure_ascii=False)
