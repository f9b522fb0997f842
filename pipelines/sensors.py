"""Sensors: new or corrected deliveries, overdue feeds, failed runs."""

import json
from datetime import UTC, datetime

import dagster as dg

from assets.partitions import reporting_year
from junheng.ingest.feeds import FEEDS
from junheng.ops.alerts import failure_alert, send
from junheng.ops.landing import complete_feed_years, next_due, overdue
from junheng.runner import ALERTED_TAG
from pipelines.jobs import monitoring_run
from pipelines.resources import Alerts, LandingZone

DOWNSTREAM = [dg.AssetKey(["marts", t]) for t in (
    "indicator_values", "pension_dual_enrolments", "indicator_scores", "domain_scores",
    "equalisation_index", "equalisation_measures", "target_progress", "convergence",
    "rank_sensitivity", "methodology_config")] + [dg.AssetKey(["extracts", "release"])]


def feed_selection(feed: str) -> list[dg.AssetKey]:
    keys = []
    for part in FEEDS[feed].parts:
        keys += [dg.AssetKey(["raw", part.raw_table]), dg.AssetKey(["staging", part.staging])]
    return keys + DOWNSTREAM


@dg.sensor(job=monitoring_run, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Starts a run for exactly the feed-years whose files are new or changed "
                       "(by content hash): the same delivery never triggers twice, a corrected "
                       "one does. Waits until every file of a feed-year is there.")
def landing_zone_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
    cursor = json.loads(context.cursor) if context.cursor else {"files": {}, "seen": {}}
    known = set(context.instance.get_dynamic_partitions(reporting_year.name))
    requests, new_years = [], set()
    for fy in complete_feed_years(landing.path_obj, cursor["files"]):
        key = f"{fy.feed}/{fy.year}"
        if cursor["seen"].get(key) == fy.digest:
            continue
        cursor["seen"][key] = fy.digest
        if str(fy.year) not in known:
            new_years.add(str(fy.year))
        requests.append(dg.RunRequest(
            run_key=f"{key}/{fy.digest[:16]}", partition_key=str(fy.year),
            asset_selection=feed_selection(fy.feed),
            tags={"junheng/feed": fy.feed, "junheng/delivery_digest": fy.digest[:16]}))
    return dg.SensorResult(
        run_requests=requests, cursor=json.dumps(cursor),
        dynamic_partitions_requests=[reporting_year.build_add_request(sorted(new_years))]
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
