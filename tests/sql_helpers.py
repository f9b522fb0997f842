"""In-memory DuckDB with the project's reference tables and macros, for SQL-file tests."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from junheng import SEEDS_DIR
from junheng.ingest.feeds import FEEDS
from junheng.ingest.load import district_texts, staging_view_sql
from junheng.ingest.submissions import catalogue_table
from junheng.reference import alias_rows
from junheng.sql import build_table, sql_text


def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(sql_text("create_schemas.sql"))
    con.execute(sql_text("create_macros.sql"))
    for t in ("districts", "indicators", "aqi_breakpoints"):
        params = {"seed": str(SEEDS_DIR / f"{t}.csv")}
        if t == "indicators":
            params["table1"] = str(SEEDS_DIR / "table1.csv")
        build_table(con, "reference", t, f"reference/{t}.sql", params)
    rows = alias_rows()
    con.register("aliases", pa.table({c: [r[i] for r in rows] for i, c in enumerate(
        ("district_code", "alias", "alias_normalised", "alias_kind"))}))
    build_table(con, "reference", "district_aliases", "reference/district_aliases.sql")
    con.unregister("aliases")
    con.execute(sql_text("create_quality_tables.sql"))
    con.execute(sql_text("create_district_texts.sql"))
    con.execute(sql_text("create_district_names.sql"))
    catalogue_table(con)
    return con


def delivery(con: duckdb.DuckDBPyConnection, columns: dict[str, list]) -> None:
    """Register rows as the `_delivery` text table the staging SQL reads."""
    n = len(next(iter(columns.values())))
    table = pa.table({"_line": list(range(2, n + 2)), "_error": [None] * n,
                      **{k: pa.array([None if v is None else str(v) for v in vals], pa.string())
                         for k, vals in columns.items()}})
    con.register("_delivery_in", table)
    con.execute("create or replace temp table _delivery as select * from _delivery_in")
    con.unregister("_delivery_in")


def rules(con: duckdb.DuckDBPyConnection, table: str, year: int) -> dict[int, list]:
    """A staging table's rules file over `_delivery`: {line: [(column, rule), ...]} of the
    rows it quarantines."""
    part = _part(table)[1]
    if part.district_column:
        district_texts(con, part, "_delivery")
    rows = con.execute(f"select _line, list_transform(_violations, lambda v: "
                       f"(v.column_name, v.rule)) from ({sql_text(f'staging/{table}.sql')}) "
                       "where len(_violations) > 0 order by _line", _year(table, year)
                       ).fetchall()
    return {line: [tuple(v) for v in vs] for line, vs in rows}


def _year(table: str, year: int) -> dict:
    """The rules' parameters: $year, for the files that use it."""
    return {"year": year} if "$year" in sql_text(f"staging/{table}.sql") else {}


def _part(table: str):
    return next((f, p) for f in FEEDS.values() for p in f.parts if p.staging == table)


def stage(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list],
          year: int) -> None:
    """As the load publishes a delivery of given rows: raw.<table>, its quarantine from the
    rules file, and staging.<table>, the view file over them."""
    feed, part = _part(table)
    n = len(next(iter(columns.values())))
    if feed.unit_column and feed.unit_column not in columns:   # submissions: the department
        columns = {feed.unit_column: [None] * n, **columns}
    delivery(con, columns)
    if part.district_column:
        district_texts(con, part, "_delivery")
    file_name = (f"{columns[feed.unit_column][0]}_{year}.csv" if feed.unit_column and n
                 else feed.files[0].name(year))
    con.execute(f"create or replace table raw.{part.raw_table} as select $year::integer as "
                "_year, '' as _delivery_sha256, * from _delivery", {"year": year})
    con.execute("delete from quality.quarantine where table_name = ?", [part.raw_table])
    con.execute(f"insert into quality.quarantine select $feed, $year, $file, '', $table, _line, "
                f"'*', 'rule', null, null from ({sql_text(f'staging/{table}.sql')}) "
                "where len(_violations) > 0",
                {"feed": feed.id, "year": year, "table": part.raw_table, "file": file_name})
    con.execute(f"create or replace view staging.{table} as " + staging_view_sql(
        part, rows=f"raw.{part.raw_table}", quarantine="quality.quarantine"))


def empty_staging(con: duckdb.DuckDBPyConnection, year: int, skip=()) -> None:
    """Every staging table, empty (typed as the real ones), except those in skip."""
    for feed in FEEDS.values():
        for part in feed.parts:
            if part.staging not in skip:
                stage(con, part.staging, {c: [] for c in part.columns.values()}, year)
