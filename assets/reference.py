"""Reference tables: districts and their aliases, the indicator catalogue, AQI breakpoints.

Loaded from the project's own copy of the reference data (warehouse/seeds).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from junheng import SEEDS_DIR
from junheng.reference import districts, normalise_name
from junheng.sql import build_table, one, preview
from pipelines.resources import DuckDBWarehouse

POOL = "duckdb_writer"


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
            "preview": dg.MetadataValue.md(preview(con, "reference", table)),
        })


@dg.asset(key=["reference", "districts"], pool=POOL)
def districts_table(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """One row per county-level unit: code, names, group (urban district or county-level
    city) and 2020 census resident population."""
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


@dg.asset(key=["reference", "district_aliases"], pool=POOL)
def district_aliases(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """One row per name a department may use for a district (code, official name, alias),
    with the NFKC-normalised form delivered names are matched on."""
    rows = []
    for d in districts():
        forms = [(d.code, "code"), (d.name_zh, "name")] + [(a, "alias") for a in d.aliases]
        rows += [(d.code, a, normalise_name(a), kind) for a, kind in forms]
    frame = pd.DataFrame(rows, columns=["district_code", "alias", "alias_normalised", "alias_kind"])
    frame = frame.drop_duplicates(["district_code", "alias"])
    per_district = frame.drop_duplicates(["district_code", "alias_normalised"])
    if per_district["alias_normalised"].duplicated().any():
        raise ValueError("an alias names two districts in districts.csv")
    return _materialize(warehouse, "district_aliases", {}, register={"aliases": frame})


@dg.asset(key=["reference", "indicators"], pool=POOL)
def indicators_table(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """One row per indicator of the catalogue: domain, unit, direction, weight, Table 1
    baseline and 2025 target, and the scoring goalposts."""
    return _materialize(warehouse, "indicators", {"seed": str(SEEDS_DIR / "indicators.csv")})


@dg.asset(key=["reference", "aqi_breakpoints"], pool=POOL)
def aqi_breakpoints(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """One row per IAQI level and pollutant averaging period (HJ 633-2012 breakpoints)."""
    return _materialize(warehouse, "aqi_breakpoints",
                        {"seed": str(SEEDS_DIR / "aqi_breakpoints.csv")})
