"""Jobs a data engineer can name."""

import dagster as dg

monitoring_run = dg.define_asset_job(
    "monitoring_run",
    selection=dg.AssetSelection.all(),
    description="The full monitoring run: reference data, every feed, indicators, release.",
    executor_def=dg.in_process_executor,  # one process: DuckDB admits a single writer
)
