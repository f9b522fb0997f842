"""Jobs a data engineer can name."""

import dagster as dg

from assets.partitions import reporting_year

# One process per run: DuckDB admits a single writing process.
IN_PROCESS = dg.in_process_executor

reference_data = dg.define_asset_job(
    "reference_data", selection=dg.AssetSelection.groups("reference"), executor_def=IN_PROCESS,
    description="Load the reference tables (districts, aliases, indicators, AQI breakpoints).")

ingest_year = dg.define_asset_job(
    "ingest_year",
    selection=dg.AssetSelection.groups("population", "schools", "health", "pension",
                                       "eldercare", "environment", "indicators"),
    partitions_def=reporting_year, executor_def=IN_PROCESS,
    description="One reporting year (partition): ingest every feed (archive, quarantine, "
                "stage, check), then its indicators, index and equalisation measures.")

cross_year = dg.define_asset_job(
    "cross_year", selection=dg.AssetSelection.groups("progress", "publication"),
    executor_def=IN_PROCESS,
    description="Target progress, convergence and rank sensitivity over all loaded years, "
                "then the evaluators' release and the query snapshot.")

republish = dg.define_asset_job(
    "republish", selection=dg.AssetSelection.groups("publication"), executor_def=IN_PROCESS,
    description="Publish a release and the query snapshot from the warehouse as it is.")
