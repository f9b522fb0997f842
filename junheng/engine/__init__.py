"""Engines for the person-level work: DuckDB (the default, in the warehouse's own process)
or Apache Spark (`JUNHENG_ENGINE=spark`), for volumes beyond one machine.

Only the steps that grow with the population run on the engine: reading a pension delivery
and its rules (the quarantine, duplicate keys), the persons (dual enrolment resolved) and
their per-district counts (P1 and the dual-enrolment mart). Everything after them is a few
thousand district-level rows and stays in DuckDB. The SQL is written once, in DuckDB's
dialect under warehouse/sql, and translated for Spark by `junheng.engine.translate`.
"""

from __future__ import annotations

from contextlib import contextmanager

import duckdb

from junheng.sql import one, sql_text

PENSION_DISTRICTS = "_pension_districts"
# Optimizers off for the pension districts' statement (see duckdb_pension_districts).
PENSION_DISTRICTS_OFF = ("common_subplan",)


@contextmanager
def optimizers_disabled(con: duckdb.DuckDBPyConnection, *names: str):
    """DuckDB optimizers off for the statements inside, the connection's setting restored."""
    before = one(con, "select current_setting('disabled_optimizers')")[0]
    con.execute("set disabled_optimizers = ?", [",".join(filter(None, [before, *names]))])
    try:
        yield con
    finally:
        con.execute("set disabled_optimizers = ?", [before])


def pension_districts_sql() -> str:
    """One statement: the persons (int_pension_persons.sql) and their counts by district
    (int_pension_districts.sql). The persons are never a table: 9 to 65 million rows of keys
    that only feed ten districts' counts."""
    return ("with _persons as (" + sql_text("intermediate/int_pension_persons.sql") + ")\n"
            + sql_text("intermediate/int_pension_districts.sql"))


def duckdb_pension_districts(con: duckdb.DuckDBPyConnection, year: int) -> None:
    """The temp table `_pension_districts` of one year, from the warehouse's (or the
    connection's) `staging.stg_pension__enrolments`, on DuckDB.

    DuckDB 2's `common_subplan` optimizer sees the staging rows read three times by the
    persons (the shared hashes, the rows that share one, the rows that do not) and
    materialises them once for all: every person's key, 9.6 million rows at city scale,
    spilled under the memory limit and read back twice (3.7 GB written at city scale under
    a 300 MB limit; the step took 10 to 15 s instead of 3 to 4 s). Reading the compressed
    rows three times costs about 0.5 s a read at city scale, so the optimizer is off for
    this one statement (docs/scale-out.md)."""
    with optimizers_disabled(con, *PENSION_DISTRICTS_OFF):
        con.execute(f"create or replace temp table {PENSION_DISTRICTS} as "
                    + pension_districts_sql(), {"year": year})
