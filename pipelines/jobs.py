"""Jobs a data engineer can name."""

import dagster as dg

from junheng.ingest.feeds import FEEDS

# One process per run: DuckDB admits a single writing process.
IN_PROCESS = dg.in_process_executor
# Enforced by run monitoring (dagster.yaml): a run still going after this is failed.
LIMITS = {"dagster/max_runtime": str(3 * 3600)}
FEED_GROUPS = tuple(FEEDS)

monitoring_run = dg.define_asset_job(
    "monitoring_run", selection=dg.AssetSelection.all(), executor_def=IN_PROCESS, tags=LIMITS,
    description="The full monitoring run for one reporting year (partition): reference data, "
                "every feed, its checks, indicators and index, then progress, convergence, "
                "rank sensitivity and the release. Backfill it over every year to rebuild "
                "all; the landing-zone sensor runs it for the feeds that changed.")

reference_data = dg.define_asset_job(
    "reference_data", selection=dg.AssetSelection.groups("reference"), executor_def=IN_PROCESS,
    tags=LIMITS,
    description="Load the reference tables (districts, aliases, indicators, AQI breakpoints).")

ingest_year = dg.define_asset_job(
    "ingest_year", selection=dg.AssetSelection.groups(*FEED_GROUPS, "indicators"),
    executor_def=IN_PROCESS, tags=LIMITS,
    description="One reporting year (partition): ingest every feed (archive, quarantine, "
                "stage, check), then its indicators, index and equalisation measures.")

cross_year = dg.define_asset_job(
    "cross_year", selection=dg.AssetSelection.groups("progress", "publication"),
    executor_def=IN_PROCESS, tags=LIMITS,
    description="Target progress, convergence and rank sensitivity over all loaded years, "
                "then the evaluators' release and the query snapshot.")

republish = dg.define_asset_job(
    "republish", selection=dg.AssetSelection.groups("publication"), executor_def=IN_PROCESS,
    tags=LIMITS,
    description="Publish a release and the query snapshot from the warehouse as it is.")

ingest_feed = {
    feed: dg.define_asset_job(
        f"{feed}_ingest", selection=dg.AssetSelection.groups(feed), executor_def=IN_PROCESS,
        tags=LIMITS, description=f"Ingest the {feed} feed alone for one reporting year.")
    for feed in FEEDS
}

ALL_JOBS = [monitoring_run, reference_data, ingest_year, cross_year, republish,
            *ingest_feed.values()]
