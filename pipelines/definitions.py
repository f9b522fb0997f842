"""The Junheng code location: every asset, check, job and resource."""

import dagster as dg

from assets import extracts, indicators, progress, reference
from assets.feeds import INGEST
from pipelines import instance  # noqa: F401  the instance's SQLite: no fsync per commit
from pipelines.jobs import ALL_JOBS
from pipelines.resources import default_resources
from pipelines.schedules import monthly_monitoring_run
from pipelines.sensors import (
    landing_zone_sensor,
    overdue_feeds_sensor,
    rejected_delivery_alerts,
    run_failure_alerts,
)

defs = dg.Definitions(
    assets=[
        *dg.load_assets_from_modules([reference], group_name="reference"),
        *INGEST.values(),                                  # grouped by department
        *dg.load_assets_from_modules([indicators], group_name="indicators"),
        *dg.load_assets_from_modules([progress], group_name="progress"),
        *dg.load_assets_from_modules([extracts], group_name="publication"),
    ],
    asset_checks=dg.load_asset_checks_from_modules([reference]),
    jobs=ALL_JOBS,
    schedules=[monthly_monitoring_run],
    sensors=[landing_zone_sensor, overdue_feeds_sensor, run_failure_alerts,
             rejected_delivery_alerts],
    resources=default_resources(),
)
