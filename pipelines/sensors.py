"""Sensors: new or corrected deliveries, overdue feeds, failed runs, rejected deliveries."""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from assets.partitions import reporting_year
from junheng.ingest.feeds import FEEDS
from junheng.ops.alerts import ALERTED_TAG, failure_alert, rejection_alerts, send
from junheng.ops.landing import (
    FeedYear,
    complete_feed_years,
    next_due,
    overdue,
    recorded_deliveries,
)
from junheng.registry import tables
from junheng.warehouse import lock_holder
from pipelines.jobs import monitoring_run
from pipelines.resources import Alerts, DuckDBWarehouse, LandingZone

DOWNSTREAM = [dg.AssetKey(["marts", t.name]) for t in tables("marts", asset=True)] + [
    dg.AssetKey(["extracts", "release"])]


def feed_selection(feed: str) -> list[dg.AssetKey]:
    keys = []
    for part in FEEDS[feed].parts:
        keys += [dg.AssetKey(["raw", part.raw_table]), dg.AssetKey(["staging", part.staging])]
    return keys + DOWNSTREAM


def year_request(year: int, changed: list[FeedYear]) -> dg.RunRequest:
    """One run for a reporting year: its changed feeds and everything downstream."""
    digest = hashlib.sha256("".join(f"{fy.feed}:{fy.digest}" for fy in changed).encode()
                            ).hexdigest()[:16]
    feeds = [fy.feed for fy in changed]
    return dg.RunRequest(
        run_key=f"{year}/{digest}", partition_key=str(year),
        asset_selection=list(dict.fromkeys(k for f in feeds for k in feed_selection(f))),
        tags={"junheng/feeds": ",".join(feeds), "junheng/delivery_digest": digest})


@dg.sensor(job=monitoring_run, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="One run per reporting year whose deliveries are new or changed (by "
                       "content hash), limited to the changed feeds and everything downstream: "
                       "the same delivery never triggers twice, a corrected one does, and a "
                       "year's deliveries arriving together give one release. Waits until "
                       "every file of a feed-year is there, and until a year's deliveries have "
                       "settled: a changed file is acted on only when its size and "
                       "modification (and inode change) time are those of the previous "
                       "evaluation (a minute earlier), so a release never mixes new and "
                       "half-copied feeds. "
                       "Deliveries the warehouse has processed already (quality.deliveries) "
                       "start nothing; while a run holds the warehouse, it looks again at the "
                       "next tick.")
def landing_zone_sensor(context: dg.SensorEvaluationContext, landing: LandingZone,
                        warehouse: DuckDBWarehouse):
    cursor = json.loads(context.cursor) if context.cursor else {}
    files = cursor.get("files", {})          # path -> [size, mtime_ns, ctime_ns, sha256]
    done = cursor.get("done", {})            # "<feed>/<year>" -> digest already requested
    try:
        processed, recorded = recorded_deliveries(Path(warehouse.path))
    except duckdb.IOException as exc:
        return dg.SkipReason(f"the warehouse {warehouse.path} is {lock_holder(exc)}: "
                             "looking again at the next tick")
    changed: dict[int, list[FeedYear]] = {}
    unsettled: set[int] = set()
    for fy in complete_feed_years(landing.path_obj, files, recorded):
        key = f"{fy.feed}/{fy.year}"
        if not fy.settled:
            unsettled.add(fy.year)
        elif done.get(key) != fy.digest:
            if all((f.path, f.sha256) in processed for f in fy.files):
                done[key] = fy.digest            # loaded (or rejected) already, e.g. by make run
            else:
                changed.setdefault(fy.year, []).append(fy)
    requests = []
    for year, feed_years in sorted(changed.items()):
        if year in unsettled:
            continue                             # part of the year is still being copied
        requests.append(year_request(year, feed_years))
        done |= {f"{fy.feed}/{fy.year}": fy.digest for fy in feed_years}
    known = set(context.instance.get_dynamic_partitions(reporting_year.name))
    new_years = sorted({r.partition_key for r in requests} - known)
    return dg.SensorResult(
        run_requests=requests, cursor=json.dumps({"files": files, "done": done}),
        dynamic_partitions_requests=[reporting_year.build_add_request(new_years)]
        if new_years else [])


@dg.sensor(minimum_interval_seconds=6 * 3600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Feeds whose yearly delivery is overdue: an observation on the feed's raw "
                       "tables (visible in the UI) and one alert per overdue feed-year.")
def overdue_feeds_sensor(context: dg.SensorEvaluationContext, landing: LandingZone,
                         alerts: Alerts):
    reported = set(json.loads(context.cursor)) if context.cursor else set()
    today = datetime.now(UTC).date()
    late = overdue(landing.path_obj, today)
    events = []
    for feed in FEEDS.values():
        mine = [o for o in late if o["feed"] == feed.id]
        for part in feed.parts:
            events.append(dg.AssetObservation(
                asset_key=["raw", part.raw_table],
                metadata={"overdue_years": ", ".join(str(o["year"]) for o in mine) or "none",
                          "next_delivery_due": next_due(feed.id, today).isoformat()}))
    for o in late:
        key = f"{o['feed']}/{o['year']}"
        if key not in reported:
            send({"at": datetime.now(UTC).isoformat(timespec="seconds"), "kind": "overdue",
                  "feeds": [o["feed"]], "reporting_year": str(o["year"]), "job": None,
                  "message": f"{o['feed']} {o['year']} was due {o['due']} "
                             f"({o['days_overdue']} days ago) and is not complete in the "
                             "landing zone"}, alerts.log_path_obj, alerts.webhook or None)
            reported.add(key)
    return dg.SensorResult(asset_events=events, cursor=json.dumps(sorted(reported)))


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Writes an alert for every failed run (including a blocked "
                                   "publication) to the alert log, and posts it to the webhook.")
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: Alerts):
    if context.dagster_run.tags.get(ALERTED_TAG):
        return  # started by `junheng run`, which wrote the alert itself
    alert = failure_alert(context.instance, context.dagster_run.run_id)
    send(alert, alerts.log_path_obj, alerts.webhook or None)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS,
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Writes an alert for every delivery a successful run rejected "
                                  "(critical expectations failed; the last good data stays in "
                                  "use) to the alert log, and posts it to the webhook.")
def rejected_delivery_alerts(context: dg.RunStatusSensorContext, alerts: Alerts):
    if context.dagster_run.tags.get(ALERTED_TAG):
        return  # started by `junheng run`, which wrote the alert itself
    alert = rejection_alerts(context.instance, context.dagster_run.run_id)
    if alert:
        send(alert, alerts.log_path_obj, alerts.webhook or None)
