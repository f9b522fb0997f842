"""Per reporting year: indicator values, scores, area scores, the attainment index and the
equalisation measures (methodology.md sections 1 to 4 and 7)."""

import dagster as dg
import duckdb
import pandas as pd

from assets.engine import PersonLevelEngine
from assets.marts_io import catalogue, districts, replace_year, table_spec
from assets.partitions import reporting_year
from assets.resources import DuckDBWarehouse, Methodology
from junheng import registry
from junheng.lineage import config_json, inputs_fingerprint, stored_fingerprint
from junheng.methodology.formulas import check_catalogue, declaration, values_sql
from junheng.methodology.index import CITY, year_results
from junheng.methodology.sources import attach_source_rows, source_rows
from junheng.methodology.values import (
    apply_series,
    by_year,
    delivery_reasons,
    explain_nulls,
    own_figures,
    stored_figures,
)
from junheng.sql import ident, one, sql_text

POOL = "duckdb_writer"
STAGING = [dg.AssetKey(["staging", t.name]) for t in registry.tables("staging")]
# The marts this layer writes per reporting year, as the registry declares them.
MARTS = registry.tables("marts", owner="indicators", asset=True)
SUBMISSIONS = "stg_submissions__indicators"
VALUE_COLUMNS = registry.table("marts", "indicator_values").column_names


def compute_values(con: duckdb.DuckDBPyConnection, year: int, pension=None, air=None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """indicator_values (before the source-row counts and null reasons), the series'
    own figures of the year (marts.series_figures) and pension_dual_enrolments of one
    year, from staging.

    `pension(con, year)` makes the per-district pension counts (`_pension_districts`) and
    `air(con, year)` the air-quality station-days (`_station_days`) on the engine
    (assets/engine.py); by default, here in DuckDB.

    Sums of doubles run on one thread: a parallel sum adds in a varying order, and the
    last bits of a value must not change between runs (the release hash depends on them).
    Only the pension step, which counts, runs in parallel. (The station-days' and
    unit-days' means add in a stated order, `avg(x order by hr)`, so that the Spark engine
    gives the same bits; on one thread DuckDB runs them fastest.)
    """
    threads = con.execute("select current_setting('threads')").fetchall()[0][0]
    engine = PersonLevelEngine()
    (pension or engine.pension_step(None))(con, year)
    con.execute("set threads = 1")
    (air or engine.air_step(None))(con, year)
    con.execute("create or replace temp table _unit_days as "
                + sql_text("intermediate/int_air_unit_days.sql"))
    values = con.execute(values_sql(), {"year": year}).df()
    con.execute(f"set threads = {int(threads)}")
    dual = con.execute(
        "select d.district_code, coalesce(p.dual_enrolments, 0) as persons_in_both_schemes, "
        "coalesce(p.dual_status_disagreeing, 0) as disagreeing_status "
        "from reference.districts d left join _pension_districts p using (district_code) "
        "order by 1").df()
    con.execute("drop table _pension_districts; drop table _station_days; "
                "drop table _unit_days")
    values.insert(0, "year", year)
    dual.insert(0, "year", year)
    # The series (L2 since 2021, I1/I2 since 2020) read the other years' stored figures;
    # the cross-year step completes them again once every year is in.
    own = own_figures(values)
    others = stored_figures(con, exclude=year)
    values = apply_series(values, year, by_year(pd.concat([others, own], ignore_index=True)))
    return values, own, dual


def complete_values(con: duckdb.DuckDBPyConnection, values: pd.DataFrame, year: int,
                    cat: pd.DataFrame) -> pd.DataFrame:
    """The source rows used and rejected behind every value, and every null's reason."""
    rows = source_rows(con, year)
    values = attach_source_rows(values, rows, CITY)
    # Which districts submitted, or had a submitted row rejected, per indicator: from the
    # same counts (no second scan of the submissions and their quarantine).
    mine = rows[rows["table_name"] == SUBMISSIONS]
    submitted = {(r.indicator_id, r.district_code) for r in mine.itertuples(index=False)
                 if r.used > 0}
    rejected = {(r.indicator_id, r.district_code) for r in mine.itertuples(index=False)
                if r.rejected > 0}
    values = explain_nulls(values, cat, delivery_reasons(con, year), submitted, rejected)
    values["unit"] = values["indicator_id"].map(cat.set_index("indicator_id")["unit"])
    return values


def population(con: duckdb.DuckDBPyConnection, years: list[int]) -> pd.DataFrame:
    """The populations the measures are weighted by, per district and year."""
    return con.execute(
        "select year, district_code, sum(resident_total) as residents, sum(age_0_2) as "
        "age_0_2, sum(age_3_5) as age_3_5, sum(age_6_14) as age_6_14, sum(age_0_2 + age_3_5 "
        "+ age_6_14) as age_0_14, sum(age_15_59) as age_15_59, sum(age_60_plus) as "
        "age_60_plus from staging.stg_population__townships where list_contains(?, year) "
        "group by all order by all", [years]).df()


def earlier_values(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """The values of the earlier plan years already computed (progress bases)."""
    if not one(con, "select count(*) from information_schema.tables where table_schema = "
                    "'marts' and table_name = 'indicator_values'")[0]:
        return pd.DataFrame()
    return con.execute("select * from marts.indicator_values where year between 2020 and ? "
                       "order by all", [year - 1]).df()


@dg.multi_asset(
    name="year_marts",
    specs=[table_spec(t, deps=[*STAGING, dg.AssetKey(["reference", "indicators"]),
                               dg.AssetKey(["reference", "aqi_breakpoints"])])
           for t in MARTS],
    partitions_def=reporting_year, pool=POOL,
    description="Indicators, scores, area scores, the attainment index and equalisation "
                "measures for one reporting year.",
)
def year_marts_asset(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
                     methodology: Methodology, engine: PersonLevelEngine):
    year = int(context.partition_key)
    config = methodology.config()
    with warehouse.connect() as con:
        fingerprint = inputs_fingerprint(con, year, config)
        con.execute("create schema if not exists marts; create table if not exists "
                    "marts.year_fingerprints (year integer, fingerprint varchar, "
                    "computed_at timestamp)")
        if stored_fingerprint(con, year) == fingerprint:
            # Same deliveries, configuration and code: the year's marts stand as they are.
            marts = {t.name: con.execute(f"select * from marts.{ident(t.name)} where year = ?",
                                         [year]).df() for t in MARTS}
            yield from _results(marts, _row_counts(con), config, unchanged=True)
            return
        cat, dist = catalogue(con), districts(con)
        check_catalogue(declaration(), list(cat["indicator_id"]))
        values, own, dual = compute_values(con, year, engine.pension_step(warehouse),
                                            engine.air_step(warehouse))
        values = complete_values(con, values, year, cat)
        values["methodology_version"] = config.methodology_version
        values = values[list(VALUE_COLUMNS)]
        history = earlier_values(con, year)
        both = pd.concat([history, values], ignore_index=True) if len(history) else values
        marts = {"indicator_values": values, "pension_dual_enrolments": dual,
                 **year_results(both, cat, population(con, sorted(map(int, both["year"]
                                                                     .unique()))),
                                dist, config, year)}
        dual["methodology_version"] = config.methodology_version
        con.execute("begin transaction")
        for name, frame in marts.items():
            replace_year(con, name, year, frame)
        replace_year(con, "series_figures", year, own)
        con.execute("delete from marts.year_fingerprints where year = ?", [year])
        con.execute("insert into marts.year_fingerprints values (?, ?, current_timestamp)",
                    [year, fingerprint])
        con.execute("commit")
        totals = _row_counts(con)
    yield from _results(marts, totals, config, unchanged=False)


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of each table over every year (the partition's rows are its frame's)."""
    return {t.name: one(con, f"select count(*) from marts.{ident(t.name)}")[0] for t in MARTS}


def _results(marts: dict[str, pd.DataFrame], totals: dict[str, int], config, unchanged: bool):
    index = marts["equalisation_index"].set_index("district_code")["attainment_index"]
    for name, frame in marts.items():
        meta = {"rows": dg.MetadataValue.int(len(frame)), "configuration": config_json(config),
                "unchanged": unchanged,
                "dagster/partition_row_count": dg.MetadataValue.int(len(frame)),
                "dagster/row_count": dg.MetadataValue.int(totals[name])}
        if name == "equalisation_index":
            meta |= {f"attainment_index_{code}": dg.MetadataValue.float(float(v))
                     for code, v in index.items() if pd.notna(v)}
            meta["table"] = dg.MetadataValue.md(
                marts[name][["district_code", "name_en", "attainment_index", "rank"]]
                .sort_values("district_code").to_markdown(index=False))
        if name == "indicator_values":
            nulls = frame[frame["value"].isna()]
            meta["null_values"] = dg.MetadataValue.int(len(nulls))
        yield dg.MaterializeResult(asset_key=["marts", name], metadata=meta)
