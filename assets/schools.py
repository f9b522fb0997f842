"""The schools feed: raw and staging tables per reporting year, with their checks."""

from assets.feeds import feed_assets
from junheng.ingest.feeds import SCHOOLS

ingest_schools = feed_assets(SCHOOLS)
