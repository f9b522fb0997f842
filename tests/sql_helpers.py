"""In-memory DuckDB with the project's reference tables and macros, for SQL-file tests."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from junheng import SEEDS_DIR
from junheng.ingest.feeds import FEEDS
from junheng.ingest.load import district_names, staging_view_sql
from junheng.ingest.submissions import catalogue_table
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


def stage(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list],
          year: int) -> None:
    """Run a staging SQL file over given delivered rows into staging.<table>."""
    feed, part = next((f, p) for f in FEEDS.values() for p in f.parts if p.staging == table)
    if feed.unit_column and feed.unit_column not in columns:   # submissions: the department
        columns = {feed.unit_column: [None] * len(next(iter(columns.values()))), **columns}
    delivery(con, columns)
    if table in ("stg_schools__schools", "stg_health__institutions"):
        con.execute("create or replace temp table _district_names as select distinct "
                    "district as raw_value, district as district_code from _delivery")
    elif feed.unit_column:   # as the load does it: NFKC aliases, and the rules' catalogue
        district_names(con, part)
        catalogue_table(con)
    rules = sql_text(f"staging/{table}.sql")
    if not part.staging_view:
        con.execute(f"create or replace table staging.{table} as select * exclude (_violations) "
                    f"from ({rules})", {"year": year})
        return
    # As the load does it: raw, the failing lines quarantined, staging a view over them.
    con.execute(sql_text("create_quality_tables.sql"))
    con.execute(f"create or replace table raw.{part.raw_table} as select $year::integer as "
                "_year, '' as _delivery_sha256, * from _delivery", {"year": year})
    con.execute("delete from quality.quarantine where table_name = ?", [part.raw_table])
    con.execute(f"insert into quality.quarantine select $feed, $year, 'test', '', $table, _line, "
                f"'*', 'rule', null, null from ({rules}) where len(_violations) > 0",
                {"feed": feed.id, "year": year, "table": part.raw_table})
    con.execute(f"create or replace view staging.{table} as " + staging_view_sql(
        part, rows=f"raw.{part.raw_table}", quarantine="quality.quarantine"))


def empty_staging(con: duckdb.DuckDBPyConnection, year: int, skip=()) -> None:
    """Every staging table, empty (typed as the real ones), except those in skip."""
    for feed in FEEDS.values():
        for part in feed.parts:
            if part.staging not in skip:
                stage(con, part.staging, {c: [] for c in part.columns.values()}, year)
