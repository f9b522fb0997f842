"""Alerts from real runs in a temporary Dagster instance: rejected deliveries (the last good
data stays in use), blocked publications, scrubbing, and where tests write alerts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
from conftest import ROOT, run_env

from junheng.ops.alerts import ALERTED_TAG, failure_alert, rejection_alerts, send
from pipelines.resources import Alerts, settings
from pipelines.sensors import rejected_delivery_alerts

KEY = hashlib.sha256(b"a person").hexdigest()  # a person_key's shape, made here, never committed
SCHOOLS = dg.AssetKey(["staging", "stg_schools__schools"])


def _instance(tmp: Path) -> dg.DagsterInstance:
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def _run(instance, severity: dg.AssetCheckSeverity | None, tags: dict | None = None,
         **metadata):
    """A staging asset whose critical expectations fail with `severity` (None: they pass),
    reported as the ingest reports a rejected delivery."""

    @dg.asset(key=SCHOOLS, partitions_def=dg.StaticPartitionsDefinition(["2024"]),
              check_specs=[dg.AssetCheckSpec("critical_expectations", asset=SCHOOLS,
                                             blocking=True)])
    def schools():
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
            check_name="critical_expectations", passed=severity is None,
            severity=severity or dg.AssetCheckSeverity.ERROR,
            metadata={**metadata, "file_name": "schools_2024.csv",
                      "failures": dg.MetadataValue.json([{
                          "expectation": "expect_column_values_to_be_unique",
                          "column": "school_id", "observed": f"3 duplicates near {KEY}"}])})])

    return dg.materialize([schools], instance=instance, partition_key="2024",
                          raise_on_error=False, tags=tags)


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        _Hook.received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_rejected_delivery_in_a_successful_run_is_alerted_scrubbed(tmp_path):
    instance = _instance(tmp_path)
    result = _run(instance, dg.AssetCheckSeverity.WARN)
    assert result.success                       # the last good data stays in use
    alert = rejection_alerts(instance, result.run_id)
    assert alert["kind"] == "delivery_rejected"
    assert alert["feeds"] == ["schools"] and alert["reporting_year"] == "2024"
    rejected = alert["rejected_deliveries"]
    assert [(r["file_name"], r["last_good_data_in_use"]) for r in rejected] == [
        ("schools_2024.csv", True)]
    assert KEY in rejected[0]["failures"][0]    # as the check reported it ...

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    log = tmp_path / "alerts.log"
    assert send(alert, log, f"http://127.0.0.1:{server.server_port}/")
    thread.join(10)
    server.server_close()
    for text in (log.read_text(encoding="utf-8"), _Hook.received[-1]):
        assert KEY not in text and KEY[:20] not in text and "(withheld)" in text   # ... never out
        sent = json.loads(text)
        assert sent["run_id"] == result.run_id  # a run id is no key: kept
        assert sent["summary"].startswith("Junheng delivery rejected: schools 2024")
        assert "the last good data stays in use" in sent["summary"]


def test_the_daemon_alerts_rejections_of_runs_junheng_run_did_not_start(tmp_path):
    instance = _instance(tmp_path)
    log = tmp_path / "alerts.log"
    for tags in (None, {ALERTED_TAG: "junheng run"}):
        result = _run(instance, dg.AssetCheckSeverity.WARN, tags)
        success = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
        ctx = dg.build_run_status_sensor_context(
            sensor_name="rejected_delivery_alerts", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=success[0].dagster_event,
            resources={"alerts": Alerts(log_path=str(log))})
        rejected_delivery_alerts(ctx)
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert [a["kind"] for a in lines] == ["delivery_rejected"]   # the tagged run: not twice


def test_a_rejection_without_good_data_blocks_the_publication(tmp_path):
    instance = _instance(tmp_path)
    result = _run(instance, dg.AssetCheckSeverity.ERROR)
    assert not result.success
    alert = failure_alert(instance, result.run_id)
    assert alert["kind"] == "publication_blocked"
    assert alert["failed_checks"] == ["staging/stg_schools__schools: critical_expectations"]
    assert [(r["feed"], r["last_good_data_in_use"]) for r in alert["rejected_deliveries"]] == [
        ("schools", False)]
    assert rejection_alerts(instance, result.run_id)["kind"] == "publication_blocked"


def test_a_run_that_rejects_nothing_new_raises_no_alert(tmp_path):
    instance = _instance(tmp_path)
    result = _run(instance, None)
    assert result.success and rejection_alerts(instance, result.run_id) is None
    again = _run(instance, dg.AssetCheckSeverity.WARN, delivery_status="rejected before")
    assert again.success and rejection_alerts(instance, again.run_id) is None   # alerted then


def test_tests_never_write_the_users_alert_log_nor_post(tmp_path):
    assert "JUNHENG_ALERT_WEBHOOK" not in os.environ
    assert not settings().alert_log.is_relative_to(ROOT)
    env = run_env(tmp_path, tmp_path / "landing")
    assert Path(env["JUNHENG_ALERT_LOG"]) == tmp_path / "alerts.log"
    assert "JUNHENG_ALERT_WEBHOOK" not in env
