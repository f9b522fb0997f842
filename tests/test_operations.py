"""Operations with real Dagster instances in temporary DAGSTER_HOMEs: the landing-zone
sensor, the schedule, backfills, alerts and concurrent runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from conftest import ROOT, run_env

from junheng.demo.generator import Options, generate
from pipelines.definitions import defs
from pipelines.resources import Alerts, DuckDBWarehouse, LandingZone, Methodology, Releases
from pipelines.schedules import monthly_monitoring_run
from pipelines.sensors import landing_zone_sensor, run_failure_alerts


def _instance(tmp: Path) -> dg.DagsterInstance:
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ops") / "landing"
    generate(path, Options(years=(2020, 2021), scale=0.002))
    return path


def _evaluate(instance, landing, cursor):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor,
                                  resources={"landing": LandingZone(path=str(landing))})
    return landing_zone_sensor(ctx)


def test_sensor_requests_runs_for_new_and_changed_files_only(landing, tmp_path):
    instance = _instance(tmp_path)
    work = tmp_path / "landing"
    shutil.copytree(landing, work)
    first = _evaluate(instance, work, None)
    keys = sorted((r.tags["junheng/feed"], r.partition_key) for r in first.run_requests)
    assert keys == sorted((f, y) for f in ("population", "schools", "health", "pension",
                                           "eldercare", "environment") for y in ("2020", "2021"))
    assert sorted(first.dynamic_partitions_requests[0].partition_keys) == ["2020", "2021"]
    again = _evaluate(instance, work, first.cursor)
    assert again.run_requests == []                      # nothing new: nothing runs
    path = work / "schools/2021/schools_2021.csv"
    path.write_bytes(path.read_bytes())                  # touched, same content
    assert _evaluate(instance, work, again.cursor).run_requests == []
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(lines[:-5]) + b"\r\n")  # a corrected delivery
    changed = _evaluate(instance, work, again.cursor)
    assert [(r.tags["junheng/feed"], r.partition_key) for r in changed.run_requests] == \
        [("schools", "2021")]
    assert changed.run_requests[0].run_key != next(
        r.run_key for r in first.run_requests
        if (r.tags["junheng/feed"], r.partition_key) == ("schools", "2021"))
    selected = {"/".join(k.path) for k in changed.run_requests[0].asset_selection}
    assert "staging/stg_schools__schools" in selected and "extracts/release" in selected
    assert "staging/stg_pension__enrolments" not in selected
    # A feed-year with a file missing waits for it.
    (work / "eldercare/2021/home_care_2021.csv").unlink()
    shutil.rmtree(work / "population")
    later = _evaluate(instance, work, None)
    assert ("eldercare", "2021") not in {(r.tags["junheng/feed"], r.partition_key)
                                         for r in later.run_requests}


def test_schedule_follows_the_reporting_cycle(landing, tmp_path):
    assert monthly_monitoring_run.cron_schedule == "0 6 2 * *"
    assert monthly_monitoring_run.execution_timezone == "Asia/Shanghai"
    assert monthly_monitoring_run.job_name == "monitoring_run"
    assert monthly_monitoring_run.default_status == dg.DefaultScheduleStatus.STOPPED
    assert landing_zone_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    instance = _instance(tmp_path)
    when = datetime(2026, 3, 2, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                    resources={"landing": LandingZone(path=str(landing))})
    result = monthly_monitoring_run(ctx)
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [
        ("2020", "2026-03/2020"), ("2021", "2026-03/2021")]


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failing_run_writes_an_alert_and_posts_it(landing, tmp_path):
    instance = _instance(tmp_path)
    work = tmp_path / "landing"
    shutil.copytree(landing, work)
    bad = work / "pension/2021/pension_2021.jsonl.gz"
    bad.write_bytes(bad.read_bytes()[:5000])
    instance.add_dynamic_partitions("reporting_year", ["2021"])
    resources = {"warehouse": DuckDBWarehouse(path=str(tmp_path / "w.duckdb")),
                 "landing": LandingZone(path=str(work)),
                 "methodology": Methodology(), "releases": Releases(path=str(tmp_path / "x")),
                 "alerts": Alerts(log_path=str(tmp_path / "alerts.log"))}
    job = defs.resolve_job_def("pension_ingest")
    result = job.execute_in_process(instance=instance, partition_key="2021",
                                    resources=resources, raise_on_error=False)
    assert not result.success
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/alerts"
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
                                )[0].dagster_event
    ctx = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=failure,
        resources={"alerts": Alerts(log_path=str(tmp_path / "alerts.log"), webhook=url)},
    ).for_run_failure()
    run_failure_alerts(ctx)
    thread.join(10)
    server.server_close()
    logged = [json.loads(x) for x in (tmp_path / "alerts.log").read_text().splitlines()]
    assert len(logged) == 1 and _Hook.received and _Hook.received[0]["run_id"] == result.run_id
    alert = logged[0]
    assert alert["feeds"] == ["pension"] and alert["reporting_year"] == "2021"
    assert "pension_2021.jsonl.gz" in alert["failures"][0]["error"]
    assert "gzip" in alert["failures"][0]["error"]
    assert any(result.run_id in w for w in alert["where_to_look"])
    assert alert["summary"].startswith("Junheng run failed: pension 2021")
    assert all(len(x) != 64 for x in json.dumps(alert).split('"'))  # no person keys


def test_two_runs_started_together_both_succeed(landing, tmp_path):
    env = run_env(tmp_path, landing)
    # The instance is created once, as a deployment does: two processes creating the same
    # new SQLite storage at the same moment race in Dagster's schema migration.
    dg.DagsterInstance.from_config(env["DAGSTER_HOME"]).dispose()
    cmd = [sys.executable, "-m", "junheng.cli", "run", "--years", "2020", "--force"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-1500:] + err[-1500:]
        assert "ingest 2020: ok" in out
    con = duckdb.connect(str(tmp_path / "wh" / "junheng.duckdb"), read_only=True)
    rows, distinct = con.execute(
        "select count(*), count(distinct (school_id, year)) from staging.stg_schools__schools"
    ).fetchall()[0]
    assert rows == distinct > 0                           # no duplicated rows


def test_backfill_of_every_year_gives_the_same_warehouse_as_a_full_run(full_run, tmp_path):
    """A backfill launches one monitoring_run per year, in any order."""
    root = full_run[0]
    instance = _instance(tmp_path)
    years = [str(y) for y in range(2020, 2026)]
    instance.add_dynamic_partitions("reporting_year", years)
    resources = {"warehouse": DuckDBWarehouse(path=str(tmp_path / "wh" / "junheng.duckdb")),
                 "landing": LandingZone(path=str(root / "landing")),
                 "methodology": Methodology(),
                 "releases": Releases(path=str(tmp_path / "extracts")),
                 "alerts": Alerts(log_path=str(tmp_path / "alerts.log"))}
    job = defs.resolve_job_def("monitoring_run")
    for year in reversed(years):                          # order must not matter
        assert job.execute_in_process(instance=instance, partition_key=year,
                                      resources=resources).success
    a = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    b = duckdb.connect(str(tmp_path / "wh" / "junheng.duckdb"), read_only=True)
    for table in ("marts.indicator_values", "marts.equalisation_index",
                  "marts.equalisation_measures", "marts.target_progress", "marts.convergence",
                  "marts.rank_sensitivity", "staging.stg_schools__schools",
                  "quality.quarantine"):
        cols = "* exclude (run_id)" if table == "quality.quarantine" else "*"
        q = f"select {cols} from {table} order by all"
        assert a.execute(q).fetchall() == b.execute(q).fetchall(), table
    assert (root / "extracts" / "LATEST").read_text()[-9:] == \
        (tmp_path / "extracts" / "LATEST").read_text()[-9:]   # same content hash
