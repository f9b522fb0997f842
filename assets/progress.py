"""Across the reporting years: target progress, convergence and the sensitivity of the
district ranks (methodology.md sections 4 to 6)."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from assets.marts_io import catalogue, config_json, replace_table, table_spec
from assets.resources import DuckDBWarehouse, Methodology
from junheng import PLAN_YEARS, registry
from junheng.methodology.index import cross_year

POOL = "duckdb_writer"
# What cross_year() is computed from.
INPUTS = ("indicator_values", "domain_scores", "equalisation_index", "equalisation_measures")
UPSTREAM = [dg.AssetKey(["marts", t]) for t in INPUTS]
# The marts this layer writes across the years, as the registry declares them.
MARTS = registry.tables("marts", owner="progress", asset=True)


@dg.multi_asset(
    name="cross_year_marts",
    specs=[table_spec(t, deps=UPSTREAM) for t in MARTS],
    pool=POOL,
    description="Target progress, convergence and rank sensitivity over every year loaded.",
)
def cross_year_marts(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
                     methodology: Methodology):
    config = methodology.config()
    with warehouse.connect() as con:
        cat = catalogue(con)
        # The plan's years only: a stray year would shift every trend and convergence.
        read = {t: con.execute(f"select * from marts.{t} where year between ? and ? "
                               "order by all", [PLAN_YEARS[0], PLAN_YEARS[-1]]).df()
                for t in INPUTS}
        marts = cross_year(read["indicator_values"], read["domain_scores"],
                           read["equalisation_index"], read["equalisation_measures"], cat,
                           config)
        marts["methodology_config"] = pd.DataFrame([{
            "computed_at": datetime.now(UTC).replace(tzinfo=None), "run_id": context.run_id,
            "methodology_version": config.methodology_version,
            "configuration": config_json(config)}])
        con.execute("begin transaction")
        for name, frame in marts.items():
            replace_table(con, name, frame)
        con.execute("commit")
    status = marts["target_progress"]["status"].value_counts().to_dict()
    for name, frame in marts.items():
        meta = {"rows": dg.MetadataValue.int(len(frame)), "configuration": config_json(config),
                "dagster/row_count": dg.MetadataValue.int(len(frame))}
        if name == "target_progress":
            meta |= {f"status_{k}": dg.MetadataValue.int(int(v)) for k, v in status.items()}
        yield dg.MaterializeResult(asset_key=["marts", name], metadata=meta)
