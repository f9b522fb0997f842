"""The population feed: raw and staging tables per reporting year, with their checks."""

from assets.feeds import feed_assets
from junheng.ingest.feeds import POPULATION

ingest_population = feed_assets(POPULATION)
