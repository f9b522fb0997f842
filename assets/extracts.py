"""Publication: the evaluators' release and the statisticians' query snapshot."""

import dagster as dg

from assets.resources import DuckDBWarehouse, LandingZone, Methodology, Releases
from junheng.demo.marker import demo_feeds
from junheng.publish.release import NothingToPublish, plan_release, write_release
from junheng.publish.snapshot import publish_snapshot, snapshot_path, snapshot_release
from junheng.registry import release_reads

POOL = "duckdb_writer"
# The assets among the tables the release reads (junheng.registry).
READS = [dg.AssetKey([t.schema, t.name]) for t in release_reads() if t.asset]


@dg.asset(key=["extracts", "release"], pool=POOL, kinds={"parquet"},
          deps=READS)
def release(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
            methodology: Methodology, releases: Releases,
            landing: LandingZone) -> dg.MaterializeResult:
    """One row per table of the release: a versioned folder of zstd Parquet tables with
    manifest.json, data_dictionary.csv and index.html under $JUNHENG_EXTRACTS, LATEST
    pointing at it; and the read-only query snapshot beside the warehouse."""
    config = methodology.config()
    with warehouse.connect() as con:
        try:
            plan = plan_release(con, config)
        except NothingToPublish as exc:
            raise dg.Failure(description=f"publication withheld, LATEST untouched: {exc}",
                             allow_retries=False) from None
        # The page's demo notice (index.html); the manifest carries it once release.py
        # writes plan.extras["demo_feeds"] into it.
        plan.extras["demo_feeds"] = demo_feeds(landing.path_obj)
        result = write_release(plan, releases.path_obj)
        snap = snapshot_path(warehouse.path)
        if result.unchanged and snapshot_release(snap) == result.release_id:
            tables = 0  # same content as the snapshot already published: leave it
        else:
            tables = publish_snapshot(con, snap, result.release_id)
    for year, reasons in plan.withheld.items():
        context.log.warning(f"{year} withheld: {'; '.join(reasons)}")
    state = "unchanged (same content hash as LATEST)" if result.unchanged else "new"
    context.log.info(f"release {result.release_id} ({state}) at {result.path}; "
                     f"query snapshot {snap}")
    return dg.MaterializeResult(metadata={
        "release_id": result.release_id,
        "path": dg.MetadataValue.path(str(result.path)),
        "content_hash": result.content_hash,
        "unchanged": result.unchanged,
        "published_years": dg.MetadataValue.json(plan.published_years),
        "withheld_years": dg.MetadataValue.json({str(k): v for k, v in plan.withheld.items()}),
        "query_snapshot": dg.MetadataValue.path(str(snap)),
        "snapshot_tables": dg.MetadataValue.int(tables),
    })
