"""The environment feed: raw and staging tables per reporting year, with their checks."""

from assets.feeds import feed_assets
from junheng.ingest.feeds import ENVIRONMENT

ingest_environment = feed_assets(ENVIRONMENT)
