"""The statisticians' read-only query snapshot, swapped in atomically after each run.

DuckDB admits one writing process or many readers, not both. So statisticians never
open the warehouse the pipeline writes: they open `<warehouse dir>/junheng_query.duckdb`,
a copy written to a temporary file and renamed over the previous one. A session that
has the old snapshot open keeps reading it (the old file lives on until it is closed);
the next session sees the new one. Neither side ever waits for, or breaks, the other.

Person-level tables (raw.pension__enrolments, staging.stg_pension__enrolments) are not
copied: they never leave the warehouse.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from junheng.sql import ident

SCHEMAS = ("reference", "staging", "quality", "marts")
RESTRICTED = {("staging", "stg_pension__enrolments"), ("raw", "pension__enrolments")}


def snapshot_path(warehouse: Path) -> Path:
    return Path(warehouse).parent / "junheng_query.duckdb"


def publish_snapshot(con: duckdb.DuckDBPyConnection, target: Path, release_id: str) -> int:
    """Copy the readable tables into a new DuckDB file, then rename it over `target`."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    tables = [(s, t) for s, t in con.execute(
        "select schema_name, table_name from duckdb_tables() where not temporary "
        "order by all").fetchall() if s in SCHEMAS and (s, t) not in RESTRICTED]
    con.execute("attach ? as snap", [str(tmp)])
    try:
        for s in SCHEMAS:
            con.execute(f"create schema if not exists snap.{ident(s)}")
        for s, t in tables:
            con.execute(f"create table snap.{ident(s)}.{ident(t)} as "
                        f"select * from {ident(s)}.{ident(t)}")
        con.execute("create table snap.main.snapshot_info as select ? as release_id, "
                    "current_timestamp as created_at", [release_id])
    finally:
        con.execute("detach snap")
    os.replace(tmp, target)
    return len(tables)


def snapshot_release(target: Path) -> str | None:
    """The release id the snapshot at `target` was published with (None if there is none)."""
    if not Path(target).exists():
        return None
    try:
        con = duckdb.connect(str(target), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("select release_id from snapshot_info").fetchall()[0][0]
    except duckdb.Error:
        return None
    finally:
        con.close()
