"""The embedded Dagster instance's SQLite files (under DAGSTER_HOME): a commit without an fsync.

Dagster's SQLite event log opens a connection and commits once per event (about 250 events
for a year's run); in WAL mode with SQLite's default `synchronous = FULL` every commit waits
for an fsync of the write-ahead log. On this project's 2-core VM that was 2.3 s of a 41 s
city-scale year on a quiet disk (38.7 s with this setting, 38.6 s with DAGSTER_HOME on a
tmpfs), and half of a one-year run while another process wrote to the same disk. SQLite's
own advice for WAL databases is `synchronous = NORMAL`: the database is never corrupted,
and a process that crashes loses nothing; only a power cut or an OS crash can lose the
last commits. For run history that is the right trade: Dagster's run monitoring treats a
run whose last events are missing as a dead run (dagster.yaml), and the warehouse, the
quarantine and the releases are DuckDB files and folders this setting does not touch. A
production instance on PostgreSQL (docs/operations.md) is not affected.

Imported by the code location (pipelines/definitions.py), which the CLI's runner imports,
so that every process that writes the instance (`junheng run`, `dg dev`'s run workers) has
it. Only SQLite files under DAGSTER_HOME, and only those in WAL mode (Dagster's event-log
shards), change.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _under_dagster_home(path: str) -> bool:
    home = os.environ.get("DAGSTER_HOME")
    if not home or not path:       # no instance home, or an in-memory database
        return False
    return Path(path).resolve().is_relative_to(Path(home).resolve())


@event.listens_for(Engine, "connect")
def _no_fsync_per_commit(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        main = [r[2] for r in cursor.execute("pragma database_list") if r[1] == "main"]
        if main and _under_dagster_home(main[0]) \
                and cursor.execute("pragma journal_mode").fetchone()[0] == "wal":
            cursor.execute("pragma synchronous = normal")
    finally:
        cursor.close()
