"""Alerts for the data engineers: one JSON line per alert in the alert log, and a POST to
a webhook when one is configured (JUNHENG_ALERT_WEBHOOK).

Kinds: `run_failed` (a crash, an unreadable delivery), `publication_blocked` (a critical
expectation failed and the year has no good data to fall back on), `delivery_rejected`
(a delivery failed its critical expectations and replaced nothing: the last good data of
that feed and year stays in use, and the run may well have succeeded), `overdue`, and
`warehouse_locked` (`junheng run` gave up waiting for the warehouse).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from junheng.ingest.feeds import FEEDS
from junheng.privacy import scrub_all

# Runs started by `junheng run` write their own alert; the daemon's sensors skip them.
ALERTED_TAG = "junheng/alert_by"

log = logging.getLogger(__name__)

REJECTION_CHECK = "critical_expectations"
# A Dagster run id: its last group (12 hex characters) looks like a key fragment to `scrub`.
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FEED_OF_TABLE = {p.staging: f.id for f in FEEDS.values() for p in f.parts}
_WHAT = {"publication_blocked": "publication blocked", "delivery_rejected": "delivery rejected",
         "overdue": "delivery overdue", "warehouse_locked": "run not started"}


def _where_to_look(ui: str, run_id: str) -> list[str]:
    return [f"{ui}/runs/{run_id}",
            "quality.deliveries and quality.check_results in the warehouse",
            "warehouse/data_docs/index.html (Great Expectations Data Docs)"]


def _failure_lines(failures) -> list[str]:
    """The failed expectations, a line each (at most ten, each at most 300 characters)."""
    if not isinstance(failures, list):
        return [str(failures)[:300]] if failures else []
    lines = [f"{f.get('expectation')}({f.get('column') or ''}): {f.get('observed')}"
             if isinstance(f, dict) else str(f) for f in failures]
    return [x[:300] for x in lines[:10]]


def rejected_deliveries(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """The deliveries a run rejected: its failed `critical_expectations` checks. Severity WARN:
    the last good data stays in use; ERROR: there is none, the year is blocked. A delivery
    an earlier run rejected (`delivery_status` "rejected before") was alerted then."""
    run = instance.get_run_by_id(run_id)
    partition = run.tags.get("dagster/partition") if run else None
    out = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = record.dagster_event.event_specific_data
        if ev.check_name != REJECTION_CHECK or ev.passed:
            continue
        meta = {k: getattr(v, "value", v) for k, v in (ev.metadata or {}).items()}
        if meta.get("delivery_status") == "rejected before":
            continue
        table = ev.asset_key.path[-1]
        out.append({"feed": _FEED_OF_TABLE.get(table), "reporting_year": ev.partition or partition,
                    "table": ".".join(ev.asset_key.path),
                    "file_name": meta.get("file_name") or meta.get("delivery_files"),
                    "last_good_data_in_use": ev.severity == dg.AssetCheckSeverity.WARN,
                    "failures": _failure_lines(meta.get("failures")),
                    "message": str(meta.get("message") or "")[:2000] or None})
    return out


def _alert(kind: str, run, run_id: str, feeds, rejected: list[dict], ui: str, **more) -> dict:
    years = sorted({str(r["reporting_year"]) for r in rejected if r["reporting_year"]})
    partition = run.tags.get("dagster/partition") if run else None
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "job": run.job_name if run else None,
        "run_id": run_id,
        "reporting_year": partition or ", ".join(years) or None,
        "feeds": sorted(set(feeds)),
        **more,
        "rejected_deliveries": rejected,
        "where_to_look": _where_to_look(ui, run_id),
    }


def failure_alert(instance: dg.DagsterInstance, run_id: str, ui: str = "http://127.0.0.1:3000"
                  ) -> dict:
    """What failed, which feed-year, the error, where to look: from the run's event log.

    `publication_blocked` when a critical check failed with severity ERROR (no good data
    of that feed-year to fall back on), else `run_failed`; deliveries the run rejected are
    listed either way."""
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
    rejected = rejected_deliveries(instance, run_id)
    feeds = [f["step"].removeprefix("ingest_").split(".")[0] for f in failures
             if f["step"] and f["step"].startswith("ingest_")]
    feeds += [r["feed"] for r in rejected if r["feed"]]
    return _alert("publication_blocked" if checks else "run_failed", run, run_id, feeds,
                  rejected, ui, failed_checks=checks, failures=failures)


def rejection_alerts(instance: dg.DagsterInstance, run_id: str,
                     ui: str = "http://127.0.0.1:3000") -> dict | None:
    """The alert for the deliveries a run rejected, or None when it rejected none: for runs
    that succeeded (a failed run's `failure_alert` lists them already).

    `delivery_rejected` when the last good data of every such feed-year stays in use,
    `publication_blocked` when one of them has none."""
    rejected = rejected_deliveries(instance, run_id)
    if not rejected:
        return None
    blocked = [r for r in rejected if not r["last_good_data_in_use"]]
    checks = [f"{r['table'].replace('.', '/')}: {REJECTION_CHECK}" for r in blocked]
    return _alert("publication_blocked" if blocked else "delivery_rejected",
                  instance.get_run_by_id(run_id), run_id,
                  [r["feed"] for r in rejected if r["feed"]], rejected, ui,
                  failed_checks=checks, failures=[])


def summary(alert: dict) -> str:
    what = _WHAT.get(alert["kind"], "run failed")
    where = f" {', '.join(alert.get('feeds') or [])} {alert.get('reporting_year') or ''}".rstrip()
    rejected = alert.get("rejected_deliveries") or []
    first = (alert.get("failures") or [{}])[0].get("error") or \
        "; ".join(alert.get("failed_checks") or []) or alert.get("message", "")
    if alert["kind"] == "delivery_rejected":
        first = "; ".join(f"{r['file_name'] or r['table']} rejected ("
                          + (r["failures"] or [r["message"] or "critical expectations"])[0]
                          .splitlines()[0] + ")" for r in rejected) \
            + ": the last good data stays in use"
    return f"Junheng {what}:{where} ({alert.get('job')}): {first.splitlines()[0] if first else ''}"


def send(alert: dict, log_path: Path, webhook: str | None, timeout: float = 10.0) -> bool:
    """Append the alert to the log; POST it to the webhook if there is one.

    Everything in it is scrubbed first (`junheng.privacy.scrub_all`): an error text that
    quotes a delivered row never carries a person key out. Returns whether the webhook
    took it. A webhook that is down never loses the alert: the log line is written first.
    The run id and the links made from it are put back as they were: a UUID that Dagster
    made cannot hold a key (12 hex characters at most in a row)."""
    clean = scrub_all({**alert, "summary": summary(alert)})
    if _RUN_ID.fullmatch(str(alert.get("run_id"))):
        clean.update({k: alert[k] for k in ("run_id", "where_to_look") if k in alert})
    alert = clean
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
