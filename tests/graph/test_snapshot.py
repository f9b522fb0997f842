"""The query snapshot: a failed write keeps the previous one, and nothing person-level is
copied (real DuckDB files; the failed write is a real EFBIG under RLIMIT_FSIZE)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from junheng.privacy import WITHHELD
from junheng.publish.snapshot import SnapshotError, publish_snapshot, snapshot_release
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junheng_query.duckdb", "w.duckdb"]
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
                        ("staging", "stg_x"), ("main", "snapshot_info")}
    assert n == 3
    snap = duckdb.connect(str(target), read_only=True)
    assert snap.execute("select * from staging.stg_x").fetchall() == [(2020, 10)]
    assert snap.execute("select count(*) from duckdb_columns() where "
                        "column_name = 'person_key'").fetchall() == [(0,)]
    assert snap.execute("select count(*) from duckdb_schemas() where schema_name in "
                        "('raw', 'intermediate')").fetchall() == [(0,)]
    snap.close()
