"""The statisticians' read-only query snapshot, swapped in atomically after each run.

DuckDB admits one writing process or many readers, not both. So statisticians never
open the warehouse the pipeline writes: they open `<warehouse dir>/junheng_query.duckdb`,
a symbolic link to the newest snapshot file, `query_snapshots/junheng_query-<stamp>.duckdb`
(a new name every time). Each snapshot is written to a temporary file, renamed to its
versioned name, and then the link is replaced in one atomic rename. A session that has
the old snapshot open keeps reading it (the old file lives on until it is closed); the
next connection sees the new one, also within one Python process: DuckDB shares one
database instance per *resolved* file name in a process, and the new snapshot has a new
name (a file renamed over the old one would keep its name, and a reconnect in a process
that still holds a connection would be handed the old instance). Neither side ever waits
for, or breaks, the other. A write that fails (disk full, file size limit, permission)
removes the temporary file and leaves the previous snapshot and link as they were.

The file is written in DuckDB storage version `STORAGE_VERSION` (that of DuckDB 1.4), not
the writer's own, so that the DuckDB CLI 1.4 and 1.5 and R's duckdb open it. Every table
and column carries a comment in Chinese and English from `junheng.registry`
(`COMMENT ON`, shown by `duckdb_tables()` and `duckdb_columns()`), and
`marts.data_dictionary` lists every table and column with its type, unit and
descriptions.

Person-level data never leaves the warehouse: the `raw` schema is never copied, nor the
restricted relations (staging.stg_pension__enrolments, a view over raw), nor anything
with a person_key column, nor temporary or candidate objects (names starting with `_`).
Views of the copied schemas are copied as tables.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import duckdb

from junheng.privacy import HEX_RUN_SQL, WITHHELD, scrub
from junheng.registry import REGISTRY, STAGING_DERIVED, VOCABULARY, Column, restricted
from junheng.sql import ident, quoted

SCHEMAS = ("reference", "staging", "quality", "marts")
RESTRICTED = restricted()
RESTRICTED_SCHEMAS = {"raw"}
PERSON_COLUMNS = {"person_key"}
# Storage format of the snapshot file: DuckDB 1.4's (storage version 67), which DuckDB 1.4
# and 1.5 clients (the `duckdb-cli` package, R's duckdb) read; DuckDB 2.0's own format is
# refused by them ("can only read versions between 64 and 68").
STORAGE_VERSION = "v1.4.0"
VERSIONS_DIR = "query_snapshots"

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


SNAPSHOT_INFO = {c.name: c for c in (
    Column("release_id", None, "", "发布编号", "Release id the snapshot was published with"),
    Column("created_at", None, "UTC", "快照生成时间（UTC）",
           "When the snapshot was written (UTC)"))}

def _describe(schema: str, name: str, column: str | None = None) -> tuple[str, str, str]:
    """(unit, 中文, English) of a table (column None) or column, from the registry; a column
    the table does not declare takes the vocabulary's meaning of its name."""
    t = REGISTRY.get(f"{schema}.{name}")
    if column is None:
        if name == "data_dictionary":
            return ("", "快照中每个表和列一行：类型、单位、中英文说明。",
                    "One row per table and column of this snapshot: type, unit, descriptions.")
        if name == "snapshot_info":
            return ("", "本快照对应的发布编号及生成时间（UTC）。",
                    "The release this snapshot was published with, and when (UTC).")
        return ("", t.description_zh, t.description) if t else ("", "", "")
    c = SNAPSHOT_INFO.get(column) if name == "snapshot_info" else None
    if c is not None:
        pass
    elif t is not None and column in t.column_names:
        c = t.column(column)
    elif column in VOCABULARY:
        c = VOCABULARY[column]
    elif schema == "staging" and column in STAGING_DERIVED:
        c = STAGING_DERIVED[column]
    return (c.unit, c.zh, c.en) if c else ("", "", "")


def _comment(zh: str, en: str) -> str:
    return f"{zh} / {en}" if zh and en else zh or en


def _document(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON every table and column of the attached snapshot, and its data dictionary."""
    cols = con.execute("select schema_name, table_name, column_name, data_type, column_index "
                       "from duckdb_columns() where database_name = 'snap' "
                       "order by schema_name, table_name, column_index").fetchall()
    rows = []
    for s, t, c, typ, i in cols:
        unit, zh, en = _describe(s, t, c)
        rows.append((s, t, c, i, typ, unit, zh, en))
    rows += [("marts", "data_dictionary", c, i + 1, "VARCHAR" if c != "column_index"
              else "INTEGER", "", zh, en) for i, (c, zh, en) in enumerate([
                  ("table_schema", "模式", "Schema"), ("table_name", "表名", "Table"),
                  ("column_name", "列名", "Column"), ("column_index", "列序号", "Column position"),
                  ("data_type", "数据类型", "DuckDB data type"), ("unit", "单位", "Unit"),
                  ("description_zh", "中文说明", "Description in Chinese"),
                  ("description_en", "英文说明", "Description in English"),
                  ("table_description_zh", "表的中文说明", "The table's description in Chinese"),
                  ("table_description_en", "表的英文说明",
                   "The table's description in English")])]
    tables = dict.fromkeys((s, t) for s, t, *_ in rows)
    described = {k: _describe(*k)[1:] for k in tables}
    con.execute("create table snap.marts.data_dictionary (table_schema varchar, table_name "
                "varchar, column_name varchar, column_index integer, data_type varchar, unit "
                "varchar, description_zh varchar, description_en varchar, "
                "table_description_zh varchar, table_description_en varchar)")
    con.executemany("insert into snap.marts.data_dictionary values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*r, *described[(r[0], r[1])]) for r in rows])
    for (s, t), (zh, en) in described.items():
        con.execute(f"comment on table snap.{ident(s)}.{ident(t)} is "
                    f"{_literal(_comment(zh, en))}")
    for s, t, c, _, _, unit, zh, en in rows:
        text = _comment(zh, en) + (f" [{unit}]" if unit else "")
        con.execute(f"comment on column snap.{ident(s)}.{ident(t)}.{quoted(c)} is "
                    f"{_literal(text)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
        con.execute("rollback")
    except duckdb.Error:
        pass                               # no transaction was open
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
    versions = target.parent / VERSIONS_DIR
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time_ns() % 10**9:09d}"
    final = versions / f"{target.stem}-{stamp}.duckdb"
    tmp = versions / f".{final.name}.tmp"
    wal = tmp.with_name(tmp.name + ".wal")
    link = target.with_name(f".{target.name}.link")
    relations = snapshot_relations(con)
    try:
        if not target.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(target.parent))
        versions.mkdir(exist_ok=True)
        _remove(tmp, wal, link)
        if tmp.exists():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp))
        con.execute(f"attach ? as snap (storage_version '{STORAGE_VERSION}')", [str(tmp)])
        # One transaction for the whole file: hundreds of COMMENT ON statements, each its
        # own commit, took 1-2 s of a run; together they take a tenth of that.
        con.execute("begin transaction")
        for s in SCHEMAS:
            con.execute(f"create schema if not exists snap.{ident(s)}")
        for s, t in relations:
            con.execute(f"create table snap.{ident(s)}.{ident(t)} as "
                        f"select {_scrubbed_columns(con, s, t)} from {ident(s)}.{ident(t)}")
        con.execute("create table snap.main.snapshot_info as select ? as release_id, "
                    "current_timestamp as created_at", [release_id])
        _document(con)
        con.execute("commit")
        con.execute("detach snap")         # writes the file: a full disk often fails here
        if snapshot_release(tmp) != release_id:
            raise OSError("the written file does not read back")
        os.replace(tmp, final)
        os.symlink(os.path.join(VERSIONS_DIR, final.name), link)
        os.replace(link, target)           # the one atomic step readers see
    except (duckdb.Error, OSError) as exc:
        _detach(con)
        _remove(tmp, wal, link)
        if final.exists() and target.resolve() != final.resolve():
            _remove(final)
        raise SnapshotError(scrub(f"could not write the query snapshot {target}: "
                                  f"{_cause(exc)}; the previous snapshot is kept")) from None
    _prune(versions, target.stem, keep=final)
    return len(relations)


def _prune(versions: Path, stem: str, keep: Path) -> None:
    """Remove the earlier snapshot files: a session that has one open keeps reading it
    (on POSIX an open file outlives its name); new connections follow the link."""
    for p in versions.glob(f"{stem}-*.duckdb*"):
        if p.name != keep.name:
            _remove(p)


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
