"""The query snapshot: a failed write keeps the previous one, and nothing person-level is
copied (real DuckDB files; the failed write is a real EFBIG under RLIMIT_FSIZE)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from junheng.privacy import WITHHELD
from junheng.publish.snapshot import (
    STORAGE_VERSION,
    SnapshotError,
    publish_snapshot,
    snapshot_release,
)
from junheng.sql import sql_text

KEY = "ab" * 32                                           # a person_key-shaped value

# Publishes a snapshot under a file size limit: writes fail with EFBIG (SIGXFSZ ignored).
PUBLISH_UNDER_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    import duckdb
    from junheng.publish.snapshot import publish_snapshot
    warehouse, target, release_id, limit = sys.argv[1:5]
    con = duckdb.connect(warehouse)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    try:
        publish_snapshot(con, target, release_id)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
        rows = con.execute("select count(*) from marts.big").fetchall()[0][0]
        print(f"warehouse still readable: {rows} rows")
        sys.exit(1)
    print("published")
""")


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(sql_text("create_schemas.sql"))
    con.execute("create table marts.indicator_values as select 2020 as year, '320505' as "
                "district_code, 1.5 as value")
    return con


def _relations(path: Path) -> dict[tuple[str, str], str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {(s, t): k for s, t, k in con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_catalog = current_database()").fetchall()}
    finally:
        con.close()


# Where the write fails: at the commit of the copy (its WAL), or when the snapshot is
# detached (DuckDB's "CHECKPOINT during DETACH failed").
@pytest.mark.parametrize("rows, limit", [(400_000, 1 << 20), (5_000, 600_000)],
                         ids=["commit", "detach"])
def test_a_failed_write_names_the_cause_and_keeps_the_previous_snapshot(tmp_path, rows, limit):
    wh, target = tmp_path / "w.duckdb", tmp_path / "junheng_query.duckdb"
    con = _warehouse(wh)
    publish_snapshot(con, target, "release-1")
    assert snapshot_release(target) == "release-1"
    before = target.read_bytes()
    # More data than the limit lets through (random text does not compress).
    con.execute("create table marts.big as select range as i, md5(range::varchar) as s "
                "from range(?)", [rows])
    con.close()

    out = subprocess.run([sys.executable, "-c", PUBLISH_UNDER_LIMIT, str(wh), str(target),
                          "release-2", str(limit)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    message = out.stdout.splitlines()[0]
    assert message == (f"SnapshotError: could not write the query snapshot {target}: the file "
                       "size limit was reached (File too large); the previous snapshot is kept")
    assert "CHECKPOINT" not in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert f"warehouse still readable: {rows} rows" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junheng_query.duckdb", "query_snapshots",
                                                          "w.duckdb"]
    assert len(list((tmp_path / "query_snapshots").iterdir())) == 1   # no temporary left
    assert target.read_bytes() == before                  # untouched, not rewritten
    assert snapshot_release(target) == "release-1"        # opens read-only, the old release
    assert ("marts", "big") not in _relations(target)

    # Without the limit the same warehouse publishes, over the old snapshot.
    con = duckdb.connect(str(wh))
    assert publish_snapshot(con, target, "release-2") == 2
    con.close()
    assert snapshot_release(target) == "release-2"


def test_the_error_text_is_scrubbed(tmp_path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / KEY / "junheng_query.duckdb"      # a folder that does not exist
    with pytest.raises(SnapshotError) as err:
        publish_snapshot(con, target, "release-1")
    text = str(err.value)
    assert KEY not in text and WITHHELD in text
    assert text.startswith("could not write the query snapshot ")
    assert text.endswith("; the previous snapshot is kept")
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_views_are_copied_as_tables_and_nothing_person_level_is(tmp_path):
    wh, target = tmp_path / "w.duckdb", tmp_path / "junheng_query.duckdb"
    con = _warehouse(wh)
    con.execute(f"""
        create table raw.pension__enrolments as select '{KEY}' as person_key, 2020 as year;
        create table raw.population__townships as select 1 as resident_total;
        create view staging.stg_pension__enrolments as select * from raw.pension__enrolments;
        create table staging.stg_population__townships as select 2020 as year, 5 as n;
        create view staging.stg_x as select year, n * 2 as n2 from
            staging.stg_population__townships;
        create view staging.stg_persons_again as select person_key from
            raw.pension__enrolments;
        create table staging._candidate_population as select 1 as x;
        create table staging.stg_candidate_copy as select 1 as x;
        create temp table _candidate_population as select 1 as x;
        create temp table persons as select '{KEY}' as person_key;
        create table intermediate.int_x as select 1 as x;
    """)
    n = publish_snapshot(con, target, "release-1")
    con.close()
    got = _relations(target)
    assert got[("staging", "stg_x")] == "BASE TABLE"
    assert set(got) == {("marts", "indicator_values"), ("staging", "stg_population__townships"),
                        ("staging", "stg_x"), ("main", "snapshot_info"),
                        ("marts", "data_dictionary")}
    assert n == 3
    snap = duckdb.connect(str(target), read_only=True)
    assert snap.execute("select * from staging.stg_x").fetchall() == [(2020, 10)]
    assert snap.execute("select count(*) from duckdb_columns() where "
                        "column_name = 'person_key'").fetchall() == [(0,)]
    assert snap.execute("select count(*) from duckdb_schemas() where schema_name in "
                        "('raw', 'intermediate')").fetchall() == [(0,)]
    snap.close()


def _cli() -> str | None:
    """The DuckDB CLI the project installs (`duckdb-cli`, .venv/bin/duckdb), or the one named
    by JUNHENG_DUCKDB_CLI."""
    named = os.environ.get("JUNHENG_DUCKDB_CLI")
    if named:
        return named
    beside = Path(sys.executable).parent / "duckdb"
    return str(beside) if beside.exists() else shutil.which("duckdb")


def test_every_table_and_column_is_described_in_both_languages(tmp_path):
    wh, target = tmp_path / "w.duckdb", tmp_path / "junheng_query.duckdb"
    con = _warehouse(wh)
    con.execute("create table reference.districts as select '320505' as district_code, "
                "'虎丘区' as name_zh, 'Huqiu' as name_en")
    publish_snapshot(con, target, "release-1")
    con.close()
    snap = duckdb.connect(str(target), read_only=True)
    comment = snap.execute("select comment from duckdb_tables() where schema_name = "
                           "'reference' and table_name = 'districts'").fetchall()[0][0]
    assert comment.startswith("每个县级单位一行") and "One row per county-level unit" in comment
    cols = dict(snap.execute("select column_name, comment from duckdb_columns() where "
                             "schema_name = 'marts' and table_name = 'indicator_values'"
                             ).fetchall())
    assert cols["value"] == "指标值 / Indicator value [see unit]"
    assert snap.execute("select count(*) from duckdb_columns() where database_name = "
                        "current_database() and (comment is null or comment = '')"
                        ).fetchall() == [(0,)]
    assert snap.execute("select count(*) from duckdb_tables() where database_name = "
                        "current_database() and (comment is null or comment = '')"
                        ).fetchall() == [(0,)]
    dictionary = snap.execute(
        "select table_schema, table_name, column_name, data_type, unit, description_zh, "
        "description_en from marts.data_dictionary").fetchall()
    every = set(snap.execute("select schema_name, table_name, column_name from duckdb_columns() "
                             "where database_name = current_database()").fetchall())
    assert {r[:3] for r in dictionary} == every
    assert ("marts", "indicator_values", "value", "DECIMAL(2,1)", "see unit", "指标值",
            "Indicator value") in dictionary
    snap.close()


def test_the_snapshot_is_written_in_a_storage_version_older_clients_read(tmp_path):
    wh, target = tmp_path / "w.duckdb", tmp_path / "junheng_query.duckdb"
    con = _warehouse(wh)
    publish_snapshot(con, target, "release-1")
    con.close()
    # The file's header: b"DUCK" then the storage version number (67 = DuckDB 1.4's).
    header = target.read_bytes()[8:20]
    assert header[:4] == b"DUCK" and int.from_bytes(header[4:12], "little") == 67
    assert STORAGE_VERSION == "v1.4.0"


@pytest.mark.skipif(_cli() is None, reason="the DuckDB CLI (pip package duckdb-cli, installed "
                    "by make into .venv/bin/duckdb) is not installed")
def test_the_duckdb_cli_opens_the_snapshot_and_shows_its_comments(tmp_path):
    wh, target = tmp_path / "w.duckdb", tmp_path / "junheng_query.duckdb"
    con = _warehouse(wh)
    publish_snapshot(con, target, "release-1")
    con.close()
    version = subprocess.run([_cli(), "--version"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert version.startswith("v1.")            # an older client than the writer (2.x)
    out = subprocess.run(
        [_cli(), "-readonly", "-csv", str(target), "-c",
         "select district_code, value from marts.indicator_values; "
         "select comment from duckdb_columns() where table_name = 'indicator_values' "
         "and column_name = 'value'; "
         "select count(*) from marts.data_dictionary"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "320505,1.5" in out.stdout
    assert "指标值 / Indicator value [see unit]" in out.stdout


def test_reconnecting_in_the_same_process_sees_the_newest_snapshot(tmp_path):
    """DuckDB shares one instance per resolved file name in a process: the link is swapped
    to a new name, so a reconnect sees the new snapshot while the old session stays open."""
    wh, target = tmp_path / "w.duckdb", tmp_path / "junheng_query.duckdb"
    con = _warehouse(wh)
    publish_snapshot(con, target, "release-1")
    old = duckdb.connect(str(target), read_only=True)
    assert old.execute("select release_id from snapshot_info").fetchall() == [("release-1",)]
    con.execute("update marts.indicator_values set value = 2.5")
    publish_snapshot(con, target, "release-2")
    con.close()
    assert target.is_symlink()
    new = duckdb.connect(str(target), read_only=True)
    assert new.execute("select release_id from snapshot_info").fetchall() == [("release-2",)]
    assert new.execute("select value from marts.indicator_values").fetchall()[0][0] == 2.5
    # The open session keeps its view; only the newest snapshot file is kept on disk.
    assert old.execute("select release_id, value from snapshot_info, marts.indicator_values"
                       ).fetchall()[0] == ("release-1", 1.5)
    assert [p.name for p in (tmp_path / "query_snapshots").iterdir()] == [
        target.resolve().name]
    old.close()
    new.close()
