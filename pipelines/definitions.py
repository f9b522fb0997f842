"""The Junheng code location: every asset, check, job and resource."""

import dagster as dg

from assets import reference
from pipelines.jobs import monitoring_run
from pipelines.resources import default_resources

reference_assets = dg.load_assets_from_modules([reference], group_name="reference")
reference_checks = dg.load_asset_checks_from_modules([reference])

defs = dg.Definitions(
    assets=reference_assets,
    asset_checks=reference_checks,
    jobs=[monitoring_run],
    resources=default_resources(),
)
