"""The Junheng code location: every asset, check, job and resource."""

import dagster as dg

from assets import (
    eldercare,
    environment,
    extracts,
    health,
    indicators,
    pension,
    population,
    progress,
    reference,
    schools,
)
from pipelines.jobs import cross_year, ingest_year, reference_data, republish
from pipelines.resources import default_resources

DEPARTMENTS = {
    "population": population, "schools": schools, "health": health, "pension": pension,
    "eldercare": eldercare, "environment": environment,
}

defs = dg.Definitions(
    assets=[
        *dg.load_assets_from_modules([reference], group_name="reference"),
        *(a for name, module in DEPARTMENTS.items()
          for a in dg.load_assets_from_modules([module], group_name=name)),
        *dg.load_assets_from_modules([indicators], group_name="indicators"),
        *dg.load_assets_from_modules([progress], group_name="progress"),
        *dg.load_assets_from_modules([extracts], group_name="publication"),
    ],
    asset_checks=dg.load_asset_checks_from_modules([reference]),
    jobs=[reference_data, ingest_year, cross_year, republish],
    resources=default_resources(),
)
