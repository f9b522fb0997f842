"""`junheng run`: the main job end to end, recorded in a real Dagster instance."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

ROOT = Path(__file__).resolve().parents[1]


def test_run_records_a_successful_run(tmp_path, demo_2020):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "JUNHENG_LANDING": str(demo_2020),
           "JUNHENG_WAREHOUSE": str(tmp_path / "w.duckdb"),
           "JUNHENG_EXTRACTS": str(tmp_path / "extracts")}
    out = subprocess.run([sys.executable, "-m", "junheng.cli", "run"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ingest 2020: ok" in out.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert sorted(r.job_name for r in runs) == ["ingest_year", "reference_data"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert instance.get_dynamic_partitions("reporting_year") == ["2020"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute(
        "select schema_name || '.' || table_name from duckdb_tables()").fetchall()}
    assert {"reference.districts", "reference.indicators", "staging.stg_schools__schools",
            "staging.stg_pension__enrolments", "quality.deliveries"} <= tables
