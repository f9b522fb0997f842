"""The pension feed: raw and staging tables per reporting year, with their checks."""

from assets.feeds import feed_assets
from junheng.ingest.feeds import PENSION

ingest_pension = feed_assets(PENSION)
