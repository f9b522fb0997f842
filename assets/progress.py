"""Across the reporting years: target progress, convergence and the sensitivity of the
district ranks (methodology.md sections 4 to 6)."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from assets.marts_io import (
    catalogue,
    config_json,
    districts,
    insert_rows,
    replace_table,
    table_spec,
)
from assets.resources import DuckDBWarehouse, Methodology
from junheng import PLAN_YEARS, registry
from junheng.methodology.formulas import declaration
from junheng.methodology.index import cross_year, with_targets
from junheng.methodology.values import finalize_series, stored_figures

POOL = "duckdb_writer"
# What cross_year() is computed from.
INPUTS = ("indicator_values", "area_scores", "equalisation_index", "equalisation_measures")
UPSTREAM = [dg.AssetKey(["marts", t]) for t in INPUTS]
# The marts this layer writes across the years, as the registry declares them.
MARTS = registry.tables("marts", owner="progress", asset=True)
SERIES_IDS = tuple(f.indicator_id for f in declaration().formulas if f.series)


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
        # The series completed from every year's stored figures, whatever order the years
        # were computed in (a backfill runs them in any order).
        read["indicator_values"] = finalize_series(read["indicator_values"],
                                                   stored_figures(con))
        marts = cross_year(read["indicator_values"], read["area_scores"],
                           read["equalisation_index"], read["equalisation_measures"], cat,
                           config, districts(con))
        # Targets met per unit and year, from the progress over every year now loaded (a
        # year's partition counted them from the years computed before it).
        index = with_targets(read["equalisation_index"], marts["target_progress"])
        marts["methodology_config"] = pd.DataFrame([{
            "computed_at": datetime.now(UTC).replace(tzinfo=None), "run_id": context.run_id,
            "methodology_version": config.methodology_version,
            "configuration": config_json(config)}])
        con.execute("begin transaction")
        for name, frame in marts.items():
            replace_table(con, name, frame)
        series = read["indicator_values"][read["indicator_values"]["indicator_id"].isin(
            SERIES_IDS)]
        for year, rows in series.groupby("year"):
            con.execute("delete from marts.indicator_values where year = ? and "
                        "list_contains(?, indicator_id)", [int(year), list(SERIES_IDS)])
            insert_rows(con, "indicator_values", rows)
        for r in index.itertuples(index=False):
            con.execute("update marts.equalisation_index set targets_met = ?, "
                        "targets_total = ? where year = ? and district_code = ?",
                        [int(r.targets_met), int(r.targets_total), int(r.year),
                         r.district_code])
        con.execute("commit")
    status = marts["target_progress"]["status"].value_counts().to_dict()
    for name, frame in marts.items():
        meta = {"rows": dg.MetadataValue.int(len(frame)), "configuration": config_json(config),
                "dagster/row_count": dg.MetadataValue.int(len(frame))}
        if name == "target_progress":
            meta |= {f"status_{k}": dg.MetadataValue.int(int(v)) for k, v in status.items()}
        yield dg.MaterializeResult(asset_key=["marts", name], metadata=meta)
