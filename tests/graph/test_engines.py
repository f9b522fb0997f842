"""The Spark engine gives the DuckDB engine's results (issue #16): the same quarantine (lines
and rules), dual-enrolment counts, air-quality indicators, indicator values and release, on
demo feeds with raised defect rates; and no person key leaves through Spark's logs or the
run's output."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from conftest import ROOT, junheng_run, run_env

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PRIVACY_SCAN = ROOT.parent / "shared" / "tools" / "privacy_scan.py"


@pytest.fixture(scope="module")
def runs(demo_defects, tmp_path_factory):
    landing, _opts = demo_defects
    out = {}
    for engine in ("duckdb", "spark"):
        root = tmp_path_factory.mktemp(f"engine_{engine}")
        env = run_env(root, landing) | {"JUNHENG_ENGINE": engine,
                                        "JUNHENG_SPARK_MASTER": "local[2]",
                                        "JUNHENG_SPARK_MEMORY": "1g"}
        result = junheng_run(env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out[engine] = (root, result)
    return landing, out


def _rows(root, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


QUERIES = {
    "quarantine": "select file_name, delivery_sha256, line, column_name, rule, value "
                  "from quality.quarantine where feed = 'pension' order by all",
    "deliveries": "select file_name, sha256, status, rows_read, rows_loaded, rows_rejected "
                  "from quality.deliveries where feed = 'pension' order by all",
    "dual": "select * from marts.pension_dual_enrolments order by all",
    "values": "select * from marts.indicator_values order by all",
    # From the station-days, which the Spark engine computes on Spark: A1 (good days, the
    # daily AQI) and A2 (PM2.5's annual mean, the sum of the days' means).
    "air": "select year, indicator_id, district_code, value, numerator, denominator "
           "from marts.indicator_values where indicator_id in ('A1', 'A2') order by all",
    "index": "select year, district_code, attainment_index, rank "
             "from marts.equalisation_index order by all",
}


@pytest.mark.parametrize("what", sorted(QUERIES))
def test_spark_gives_the_duckdb_results(runs, what):
    _landing, out = runs
    duck, spark = (_rows(out[e][0], QUERIES[what]) for e in ("duckdb", "spark"))
    assert duck, what
    assert spark == duck, what


def test_the_quarantine_holds_every_pension_defect(runs):
    _landing, out = runs
    rules = dict(_rows(out["spark"][0], "select rule, count(*) from quality.quarantine "
                                        "where feed = 'pension' group by all"))
    assert rules.get("(person_key, scheme) unique in file", 0) > 0
    assert rules.get("in districts.csv", 0) > 0


def test_the_release_is_the_same(runs):
    _landing, out = runs
    ids = {e: (out[e][0] / "extracts" / "LATEST").read_text().strip() for e in out}
    # A release id ends with its content hash: same inputs, configuration and content.
    assert ids["spark"].rsplit("-", 1)[1] == ids["duckdb"].rsplit("-", 1)[1]


def test_person_level_parquet_stays_beside_the_warehouse_and_leaves_by_no_path(runs):
    landing, out = runs
    root, result = out["spark"]
    work = root / "wh" / "spark"
    assert list((work / "pension").glob("*/rows/*.parquet"))
    assert list((work / "air").glob("*/station_days_*/*.parquet"))
    assert (work / "logs" / "spark.log").is_file()
    (root / "console.txt").write_text(result.stdout + result.stderr, encoding="utf-8")
    paths = [root / "extracts", root / "dagster_home", root / "wh" / "junheng_query.duckdb",
             root / "console.txt", work / "logs", *root.glob("*.log")]
    scan = subprocess.run([sys.executable, str(PRIVACY_SCAN), str(landing),
                           *[str(p) for p in paths if p.exists()]],
                          capture_output=True, text=True, timeout=300)
    assert scan.returncode == 0, scan.stdout
    assert "0 file(s)" in scan.stdout


def test_the_engine_setting_is_checked(monkeypatch):
    from pipelines.resources import default_resources, settings

    monkeypatch.setenv("JUNHENG_ENGINE", "Spark")
    assert default_resources()["engine"].is_spark
    monkeypatch.setenv("JUNHENG_ENGINE", "polars")
    with pytest.raises(ValueError, match="one of duckdb, spark"):
        settings()
