"""Operations with real Dagster instances in temporary DAGSTER_HOMEs: the landing-zone
sensor, the schedule, backfills, alerts, a locked warehouse and concurrent runs."""

from __future__ import annotations

import json
import os
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
from conftest import ROOT, junheng_run, run_env

from junheng.demo.generator import Options, generate
from junheng.ingest.feeds import FEEDS
from pipelines.definitions import defs
from pipelines.resources import (
    Alerts,
    DuckDBWarehouse,
    GreatExpectations,
    LandingZone,
    Methodology,
    PersonLevelEngine,
    Releases,
)
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


def _evaluate(instance, landing, cursor, warehouse: Path | None = None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={
        "landing": LandingZone(path=str(landing)),
        "warehouse": DuckDBWarehouse(path=str(warehouse or landing.parent / "none.duckdb"))})
    return landing_zone_sensor(ctx)


def _requested(result) -> list[tuple[str, set[str]]]:
    return [(r.partition_key, set(r.tags["junheng/feeds"].split(",")))
            for r in result.run_requests]


def test_sensor_one_run_per_year_for_settled_new_and_changed_files_only(landing, tmp_path):
    instance = _instance(tmp_path)
    work = tmp_path / "landing"
    shutil.copytree(landing, work)
    first = _evaluate(instance, work, None)
    assert first.run_requests == []                      # just arrived: may be half-copied
    second = _evaluate(instance, work, first.cursor)     # settled: one run per year
    assert _requested(second) == [("2020", set(FEEDS)), ("2021", set(FEEDS))]
    assert all(r.run_key.startswith(f"{r.partition_key}/") for r in second.run_requests)
    selected = {"/".join(k.path) for k in second.run_requests[1].asset_selection}
    assert {f"staging/{p.staging}" for f in FEEDS.values() for p in f.parts} < selected
    assert sorted(second.dynamic_partitions_requests[0].partition_keys) == ["2020", "2021"]
    again = _evaluate(instance, work, second.cursor)
    assert again.run_requests == []                      # nothing new: nothing runs
    path = work / "schools/2021/schools_2021.csv"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # touched, same content
    touched = _evaluate(instance, work, again.cursor)
    assert touched.run_requests == []
    again = _evaluate(instance, work, touched.cursor)
    assert again.run_requests == []
    corrected = b"\r\n".join(path.read_bytes().split(b"\r\n")[:-5]) + b"\r\n"
    path.write_bytes(corrected[:1000])                   # a corrected delivery, being copied
    copying = _evaluate(instance, work, again.cursor)
    path.write_bytes(corrected)
    copied = _evaluate(instance, work, copying.cursor)
    assert copying.run_requests == copied.run_requests == []   # still changing: no run yet
    changed = _evaluate(instance, work, copied.cursor)
    assert _requested(changed) == [("2021", {"schools"})]
    assert changed.run_requests[0].run_key != second.run_requests[1].run_key
    selected = {"/".join(k.path) for k in changed.run_requests[0].asset_selection}
    assert "staging/stg_schools__schools" in selected and "extracts/release" in selected
    assert "staging/stg_pension__enrolments" not in selected
    # A feed-year with a file missing waits for it; a link is no delivery.
    (work / "eldercare/2021/home_care_2021.csv").unlink()
    health = work / "health/2021/health_2021.xlsx"
    health.rename(tmp_path / "health_2021.xlsx")
    health.symlink_to(tmp_path / "health_2021.xlsx")
    later = _evaluate(instance, work, _evaluate(instance, work, None).cursor)
    assert _requested(later) == [("2020", set(FEEDS)),
                                 ("2021", set(FEEDS) - {"eldercare", "health"})]


def test_sensor_starts_nothing_for_deliveries_the_warehouse_has(untidy_run, tmp_path):
    """After `make run`, switching the sensor on queues no run."""
    root, env, out = untidy_run
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    instance = _instance(tmp_path)
    landing, warehouse = Path(env["JUNHENG_LANDING"]), Path(env["JUNHENG_WAREHOUSE"])
    first = _evaluate(instance, landing, None, warehouse)
    second = _evaluate(instance, landing, first.cursor, warehouse)
    assert first.run_requests == second.run_requests == []
    assert json.loads(second.cursor)["done"].keys() == {f"{f}/2020" for f in FEEDS}


def _hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding the warehouse's write lock until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_sensor_skips_a_tick_while_the_warehouse_is_locked(landing, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    holder = _hold_lock(warehouse)
    try:
        result = _evaluate(_instance(tmp_path), landing, None, warehouse)
    finally:
        holder.communicate("")
    assert isinstance(result, dg.SkipReason)
    assert f"locked by another process (PID {holder.pid})" in result.skip_message


def test_a_run_waiting_for_the_locked_warehouse_says_so(untidy_run):
    root, env, out = untidy_run
    waiting = [x for x in out.stdout.splitlines() if x.startswith("waiting for the warehouse")]
    assert waiting and f"{env['JUNHENG_WAREHOUSE']}: locked by another process " \
        f"(PID {os.getpid()}), waited 0 s" in waiting[0]
    assert out.returncode == 0 and "ingest 2020: ok" in out.stdout     # once it was let go
    assert "Traceback" not in out.stdout + out.stderr


def test_a_run_gives_up_on_a_locked_warehouse_clearly_and_alerts_elsewhere(landing, tmp_path):
    users_log = ROOT / "data" / "alerts.log"
    before = users_log.stat() if users_log.exists() else None
    env = {**run_env(tmp_path, landing), "JUNHENG_LOCK_TIMEOUT_S": "2"}
    Path(env["JUNHENG_WAREHOUSE"]).parent.mkdir(parents=True)
    holder = _hold_lock(Path(env["JUNHENG_WAREHOUSE"]))
    try:
        out = junheng_run(env, "--years", "2020")
    finally:
        holder.communicate("")
    assert out.returncode == 1
    assert f"is still locked by another process (PID {holder.pid}) after" in out.stdout
    assert "gave up" in out.stdout and "Traceback" not in out.stdout + out.stderr
    alerts = [json.loads(x) for x in (tmp_path / "alerts.log").read_text().splitlines()]
    assert [a["kind"] for a in alerts] == ["warehouse_locked"]
    after = users_log.stat() if users_log.exists() else None
    assert (before and (before.st_size, before.st_mtime_ns)) == \
        (after and (after.st_size, after.st_mtime_ns))    # the user's log: untouched


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
                 "alerts": Alerts(log_path=str(tmp_path / "alerts.log")),
                 "gx": GreatExpectations(docs_dir=str(tmp_path / "docs")),
                 "engine": PersonLevelEngine()}
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
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--years", "2020", "--force"]
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
                 "alerts": Alerts(log_path=str(tmp_path / "alerts.log")),
                 "gx": GreatExpectations(docs_dir=str(tmp_path / "docs")),
                 "engine": PersonLevelEngine()}
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
