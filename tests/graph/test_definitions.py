"""The code location loads, and asset keys are table addresses."""

import dagster as dg

from pipelines.definitions import defs

SCHEMAS = {"reference", "raw", "staging", "intermediate", "marts", "quality", "extracts"}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("ingest_year").partitions_def is not None


def test_asset_keys_are_schema_and_table():
    graph = defs.resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assert keys
    for key in keys:
        assert len(key.path) == 2 and key.path[0] in SCHEMAS, key


def test_every_asset_states_its_grain():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        description = graph.get(key).description or ""
        assert description.startswith("One row per"), key


def test_dg_check_defs(tmp_path):
    """The project as `dg` sees it ([tool.dg] in pyproject.toml): `dg check defs` passes."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "dagster.yaml", tmp_path / "dagster.yaml")
    venv = Path(sys.executable).parent.parent
    out = subprocess.run([str(venv / "bin" / "dg"), "check", "defs"], cwd=root,
                         env={**os.environ, "DAGSTER_HOME": str(tmp_path),
                              "VIRTUAL_ENV": str(venv)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "All definitions loaded successfully" in out.stdout + out.stderr


def test_the_instance_event_log_commits_without_an_fsync_each(tmp_path, monkeypatch):
    """pipelines/instance.py: Dagster's SQLite event-log shards under DAGSTER_HOME run with
    `synchronous = normal` (WAL); other SQLite files keep SQLite's default (full)."""
    import shutil
    from pathlib import Path

    import sqlalchemy as sa

    root = Path(__file__).resolve().parents[2]
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(root / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        # the instance as `junheng run` uses it: one run's events, then its shards' setting
        assert dg.materialize([_one], instance=instance).success
        run_id = instance.get_runs()[0].run_id
        storage = instance.event_log_storage
        for connection in (storage.index_connection(), storage.run_connection(run_id)):
            with connection as conn:
                assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("pragma synchronous").scalar() == 1   # normal
    other = sa.create_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with other.connect() as conn:
        conn.exec_driver_sql("pragma journal_mode = wal")
    with other.connect() as conn:
        assert conn.exec_driver_sql("pragma synchronous").scalar() == 2          # full
    other.dispose()


@dg.asset
def _one() -> int:
    return 1
