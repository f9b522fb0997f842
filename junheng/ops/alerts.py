"""Alerts for the data engineers: one JSON line per alert in the alert log, and a POST to
a webhook when one is configured (JUNHENG_ALERT_WEBHOOK)."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

log = logging.getLogger(__name__)


def failure_alert(instance: dg.DagsterInstance, run_id: str, ui: str = "http://127.0.0.1:3000"
                  ) -> dict:
    """What failed, which feed-year, the error, where to look: from the run's event log."""
    run = instance.get_run_by_id(run_id)
    failures = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        err = event.step_failure_data.error if event and event.step_failure_data else None
        failures.append({"step": event.step_key if event else None,
                         "error": (err.message.strip() if err else record.user_message)[:2000]})
    checks = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = record.dagster_event.event_specific_data
        if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
            checks.append(f"{'/'.join(ev.asset_key.path)}: {ev.check_name}")
    partition = run.tags.get("dagster/partition") if run else None
    feeds = sorted({f["step"].removeprefix("ingest_").split(".")[0] for f in failures
                    if f["step"] and f["step"].startswith("ingest_")})
    blocked = bool(checks)
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": "publication_blocked" if blocked else "run_failed",
        "job": run.job_name if run else None,
        "run_id": run_id,
        "reporting_year": partition,
        "feeds": feeds,
        "failed_checks": checks,
        "failures": failures,
        "where_to_look": [f"{ui}/runs/{run_id}",
                          "quality.deliveries and quality.check_results in the warehouse",
                          "warehouse/data_docs/index.html (Great Expectations Data Docs)"],
    }


def summary(alert: dict) -> str:
    what = "publication blocked" if alert["kind"] == "publication_blocked" else "run failed"
    where = f" {', '.join(alert.get('feeds') or [])} {alert.get('reporting_year') or ''}".rstrip()
    first = (alert.get("failures") or [{}])[0].get("error") or \
        "; ".join(alert.get("failed_checks") or []) or alert.get("message", "")
    return f"Junheng {what}:{where} ({alert.get('job')}): {first.splitlines()[0] if first else ''}"


def send(alert: dict, log_path: Path, webhook: str | None, timeout: float = 10.0) -> bool:
    """Append the alert to the log; POST it to the webhook if there is one.

    Returns whether the webhook took it. A webhook that is down never loses the alert:
    the log line is written first."""
    alert = {**alert, "summary": summary(alert)}
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert, ensure_ascii=False) + "\n")
    if not webhook:
        return False
    req = urllib.request.Request(webhook, data=json.dumps(alert, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except OSError as exc:
        log.warning("alert webhook %s failed: %s (the alert is in %s)", webhook, exc, log_path)
        return False
