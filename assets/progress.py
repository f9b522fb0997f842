"""Across the reporting years: target progress, convergence and the sensitivity of the
district ranks (methodology.md sections 4 to 6)."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from assets.marts_io import catalogue, config_json, replace_table
from junheng import PLAN_YEARS
from junheng.methodology.index import cross_year
from pipelines.resources import DuckDBWarehouse, Methodology

POOL = "duckdb_writer"
UPSTREAM = [dg.AssetKey(["marts", t]) for t in
            ("indicator_values", "domain_scores", "equalisation_index", "equalisation_measures")]

SPECS = {
    "target_progress": "One row per year, district (and city) and targeted indicator: "
                       "baseline (2020, computed; Table 1 beside it for the city), value, "
                       "target, progress, time share, status and compound growth rates.",
    "convergence": "One row per subject (the attainment index and each domain): "
                   "sigma-convergence slope of Williamson on year, beta-convergence with its "
                   "standard error and n.",
    "rank_sensitivity": "One row per year and district: rank under the default choices, "
                        "median and 5th/95th percentile ranks over the Monte Carlo draws, "
                        "mean absolute rank shift.",
    "methodology_config": "One row per computation of the cross-year marts: the methodology "
                          "version and the configuration used, as JSON.",
}


@dg.multi_asset(
    name="cross_year_marts",
    specs=[dg.AssetSpec(["marts", name], description=desc, kinds={"duckdb"}, deps=UPSTREAM)
           for name, desc in SPECS.items()],
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
                for t in ("indicator_values", "domain_scores", "equalisation_index",
                          "equalisation_measures")}
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
        meta = {"rows": dg.MetadataValue.int(len(frame)), "configuration": config_json(config)}
        if name == "target_progress":
            meta |= {f"status_{k}": dg.MetadataValue.int(int(v)) for k, v in status.items()}
        yield dg.MaterializeResult(asset_key=["marts", name], metadata=meta)
