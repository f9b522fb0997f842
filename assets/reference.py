"""Reference tables: districts and their aliases, the indicator catalogue, AQI breakpoints.

Loaded from the project's own copy of the reference data (warehouse/seeds).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from assets.marts_io import column_schema
from assets.resources import DuckDBWarehouse
from junheng import SEEDS_DIR
from junheng.reference import alias_rows
from junheng.registry import table
from junheng.sql import build_table, one, preview

POOL = "duckdb_writer"


def _declared(name: str) -> dict:
    """The asset's key, description, owner and column schema, as the registry declares
    the table."""
    t = table("reference", name)
    return {"key": [t.schema, t.name], "description": t.description,
            "owners": [f"team:{t.owner}"], "metadata": {"dagster/column_schema": column_schema(t)}}


def _materialize(warehouse: DuckDBWarehouse, table: str, params: dict, register=None):
    with warehouse.connect() as con:
        if register:
            for name, frame in register.items():
                con.register(name, frame)
        con.execute("begin transaction")
        rows = build_table(con, "reference", table, f"reference/{table}.sql", params)
        con.execute("commit")
        return dg.MaterializeResult(metadata={
            "rows": dg.MetadataValue.int(rows),
            "dagster/row_count": dg.MetadataValue.int(rows),
            "preview": dg.MetadataValue.md(preview(con, "reference", table)),
        })


@dg.asset(**_declared("districts"), pool=POOL)
def districts_table(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    return _materialize(warehouse, "districts", {"seed": str(SEEDS_DIR / "districts.csv")})


@dg.asset_check(asset=districts_table, blocking=True,
                description="Ten units whose 2020 census populations add up to 12,748,262.")
def districts_add_up(warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        n, total = one(con, 
            "select count(*), sum(resident_population_2020) from reference.districts"
        )
    return dg.AssetCheckResult(passed=(n == 10 and total == 12_748_262),
                               metadata={"districts": n, "population_2020": int(total)})


@dg.asset(**_declared("district_aliases"), pool=POOL)
def district_aliases(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    frame = pd.DataFrame(alias_rows(), columns=["district_code", "alias", "alias_normalised",
                                                 "alias_kind"])
    return _materialize(warehouse, "district_aliases", {}, register={"aliases": frame})


@dg.asset(**_declared("indicators"), pool=POOL)
def indicators_table(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    return _materialize(warehouse, "indicators", {"seed": str(SEEDS_DIR / "indicators.csv"),
                                                  "table1": str(SEEDS_DIR / "table1.csv")})


@dg.asset(**_declared("aqi_breakpoints"), pool=POOL)
def aqi_breakpoints(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    return _materialize(warehouse, "aqi_breakpoints",
                        {"seed": str(SEEDS_DIR / "aqi_breakpoints.csv")})
