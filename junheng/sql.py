"""Running the SQL files under warehouse/sql.

Every file holds one SELECT; `build_table` wraps it in `create or replace table`.
Values always go in as DuckDB parameters; only identifiers (schema, table names
from the project's own code, never from data) are formatted into SQL.
"""

from __future__ import annotations

import re
from functools import cache

import duckdb

from junheng import SQL_DIR

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@cache
def sql_text(relpath: str) -> str:
    return (SQL_DIR / relpath).read_text(encoding="utf-8")


def ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def quoted(name: str) -> str:
    """A safe identifier, quoted: some column names are keywords (`group`)."""
    return f'"{ident(name)}"'


def one(con: duckdb.DuckDBPyConnection, query: str, params=None) -> tuple | None:
    """First row of a query, or None. (DuckDB 2 keeps a half-read result open after
    fetchone(), which blocks the connection's next register(); this reads it all.)"""
    rows = con.execute(query, params or []).fetchall()
    return tuple(rows[0]) if rows else None


def relation_kind(con: duckdb.DuckDBPyConnection, schema: str, name: str,
                  database: str | None = None) -> str | None:
    """'table', 'view' or None, in this warehouse (or `database`, e.g. 'temp')."""
    row = one(con, "select 'view' from duckdb_views() where database_name = "
                   "coalesce($db, current_database()) and schema_name = $s and view_name = $n "
                   "union all select 'table' from duckdb_tables() where database_name = "
                   "coalesce($db, current_database()) and schema_name = $s and table_name = $n",
              {"db": database, "s": schema, "n": name})
    return row[0] if row else None


def relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """A table or a view of this warehouse (every staging relation is a view)."""
    return relation_kind(con, schema, name) is not None


def build_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, relpath: str,
                params: dict | None = None) -> int:
    """Create or replace schema.table from a SELECT file; return its row count."""
    con.execute(f"create schema if not exists {ident(schema)}")
    con.execute(f"create or replace table {ident(schema)}.{ident(table)} as\n"
                + sql_text(relpath), params or {})
    return one(con, f"select count(*) from {schema}.{table}")[0]


def preview(con: duckdb.DuckDBPyConnection, schema: str, table: str, limit: int = 5) -> str:
    """A small markdown preview of a table for Dagster metadata."""
    rel = con.sql(f"select * from {ident(schema)}.{ident(table)} limit {int(limit)}")
    cols = rel.columns
    rows = rel.fetchall()
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
