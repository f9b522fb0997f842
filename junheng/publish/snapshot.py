"""The statisticians' read-only query snapshot, swapped in atomically after each run.

DuckDB admits one writing process or many readers, not both. So statisticians never
open the warehouse the pipeline writes: they open `<warehouse dir>/junheng_query.duckdb`,
a copy written to a temporary file and renamed over the previous one. A session that
has the old snapshot open keeps reading it (the old file lives on until it is closed);
the next session sees the new one. Neither side ever waits for, or breaks, the other.
A write that fails (disk full, file size limit, permission) removes the temporary file
and leaves the previous snapshot as it was.

Person-level data never leaves the warehouse: the `raw` schema is never copied, nor the
restricted relations (staging.stg_pension__enrolments is a view over raw), nor anything
with a person_key column, nor temporary or candidate objects (names starting with `_`).
Views of the copied schemas are copied as tables.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import duckdb

from junheng.privacy import HEX_RUN_SQL, WITHHELD, scrub
from junheng.registry import restricted
from junheng.sql import ident, quoted

SCHEMAS = ("reference", "staging", "quality", "marts")
RESTRICTED = restricted()
RESTRICTED_SCHEMAS = {"raw"}
PERSON_COLUMNS = {"person_key"}

# The operating system's words for a failed write -> plain words.
CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "the file size limit was reached",
    errno.EDQUOT: "the disk quota was exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
}


class SnapshotError(RuntimeError):
    """The query snapshot could not be written; the previous one is kept."""


def snapshot_path(warehouse: Path) -> Path:
    return Path(warehouse).parent / "junheng_query.duckdb"


def snapshot_relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The (schema, name) of every table and view the snapshot may hold, in order."""
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() where not temporary "
        "and database_name = current_database() union all "
        "select schema_name, view_name from duckdb_views() where not temporary "
        "and not internal and database_name = current_database() order by all").fetchall()
    person = {(s, t) for s, t in con.execute(
        "select schema_name, table_name from duckdb_columns() where database_name = "
        "current_database() and list_contains($cols, column_name)",
        {"cols": sorted(PERSON_COLUMNS)}).fetchall()}
    return [(s, t) for s, t in rows
            if s in SCHEMAS and s not in RESTRICTED_SCHEMAS and (s, t) not in RESTRICTED
            and (s, t) not in person and not t.startswith("_") and "candidate" not in t]


def _cause(exc: BaseException) -> str:
    """What went wrong, in plain words, with the system's own words in brackets."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    for num, words in CAUSES.items():
        reason = os.strerror(num)
        if code == num or reason in text:
            return f"{words} ({reason})"
    # DuckDB wraps the system's error ("... CHECKPOINT during DETACH failed ... Original
    # error: ..."): the original is the part that says what happened.
    detail = text.split("Original error:")[-1].strip()
    first = detail.splitlines()[0] if detail else type(exc).__name__
    return f"the write failed ({first})"


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _detach(con: duckdb.DuckDBPyConnection) -> None:
    """Let go of the snapshot file after a failure, whatever state it was left in."""
    try:
        if con.execute("select count(*) from duckdb_databases() "
                       "where database_name = 'snap'").fetchall()[0][0]:
            con.execute("detach snap")
    except duckdb.Error:
        pass


# Text columns copied as they are: digests and run ids the pipeline computes itself, and
# codes a rule holds to a format no person key fits (a list, digits only, or upper case).
UNSCRUBBED_COLUMNS = {"sha256", "delivery_sha256", "_delivery_sha256", "run_id",
                      "fingerprint", "district_code", "township_code", "school_id", "org_code"}


def _scrubbed_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str:
    """The relation's columns, each text column without any run of hex that could be part
    of a person key: a department can put one in a free-text column (a school's name),
    which no rule forbids, and the snapshot leaves the warehouse."""
    cols = con.execute("select column_name, data_type from duckdb_columns() where "
                       "database_name = current_database() and schema_name = ? and "
                       "table_name = ? order by column_index", [schema, name]).fetchall()
    return ", ".join(
        f"regexp_replace({quoted(c)}, '{HEX_RUN_SQL}', '{WITHHELD}', 'g') as {quoted(c)}"
        if t == "VARCHAR" and c not in UNSCRUBBED_COLUMNS else quoted(c) for c, t in cols)


def publish_snapshot(con: duckdb.DuckDBPyConnection, target: Path, release_id: str) -> int:
    """Copy the readable tables and views into a new DuckDB file, then rename it over
    `target`. Returns the number of relations copied; raises SnapshotError (the previous
    snapshot kept, the temporary file removed) when the copy cannot be written."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    wal = tmp.with_name(tmp.name + ".wal")
    relations = snapshot_relations(con)
    try:
        _remove(tmp, wal)
        if tmp.exists():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp))
        con.execute("attach ? as snap", [str(tmp)])
        for s in SCHEMAS:
            con.execute(f"create schema if not exists snap.{ident(s)}")
        for s, t in relations:
            con.execute(f"create table snap.{ident(s)}.{ident(t)} as "
                        f"select {_scrubbed_columns(con, s, t)} from {ident(s)}.{ident(t)}")
        con.execute("create table snap.main.snapshot_info as select ? as release_id, "
                    "current_timestamp as created_at", [release_id])
        con.execute("detach snap")         # writes the file: a full disk often fails here
        if snapshot_release(tmp) != release_id:
            raise OSError("the written file does not read back")
        os.replace(tmp, target)
    except (duckdb.Error, OSError) as exc:
        _detach(con)
        _remove(tmp, wal)
        raise SnapshotError(scrub(f"could not write the query snapshot {target}: "
                                  f"{_cause(exc)}; the previous snapshot is kept")) from None
    return len(relations)


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
