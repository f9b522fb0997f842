"""The health feed: raw and staging tables per reporting year, with their checks."""

from assets.feeds import feed_assets
from junheng.ingest.feeds import HEALTH

ingest_health = feed_assets(HEALTH)
