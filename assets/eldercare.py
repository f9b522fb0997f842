"""The eldercare feed: raw and staging tables per reporting year, with their checks."""

from assets.feeds import feed_assets
from junheng.ingest.feeds import ELDERCARE

ingest_eldercare = feed_assets(ELDERCARE)
