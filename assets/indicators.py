"""Per reporting year: indicator values, scores, domains, the attainment index and the
equalisation measures (methodology.md sections 1 to 4)."""

import dagster as dg
import duckdb
import pandas as pd

from assets.engine import PersonLevelEngine
from assets.marts_io import catalogue, districts, replace_year, table_spec
from assets.partitions import reporting_year
from assets.resources import DuckDBWarehouse, Methodology
from junheng import registry
from junheng.lineage import config_json, inputs_fingerprint, stored_fingerprint
from junheng.methodology.index import (
    CITY,
    DOMAINS,
    attainment_index,
    domain_scores,
    equalisation_measures,
    indicator_scores,
    progress_row,
)
from junheng.methodology.sources import attach_source_rows, source_rows
from junheng.sql import ident, one, sql_text

POOL = "duckdb_writer"
STAGING = [dg.AssetKey(["staging", t.name]) for t in registry.tables("staging")]
# The marts this layer writes per reporting year, as the registry declares them.
MARTS = registry.tables("marts", owner="indicators", asset=True)


def compute_values(con: duckdb.DuckDBPyConnection, year: int,
                   pension=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """indicator_values and pension_dual_enrolments of one year, from staging.

    `pension(con, year)` makes the per-district pension counts (`_pension_districts`) on
    the person-level engine (assets/engine.py); by default, here in DuckDB.

    Sums of doubles run on one thread: a parallel sum adds in a varying order, and the
    last bits of a value must not change between runs (the release hash depends on them).
    Only the pension step, which counts, runs in parallel.
    """
    threads = con.execute("select current_setting('threads')").fetchall()[0][0]
    (pension or PersonLevelEngine().pension_step(None))(con, year)
    con.execute("set threads = 1")
    con.execute("create or replace temp table _station_days as "
                + sql_text("intermediate/int_air_station_days.sql"), {"year": year})
    con.execute("create or replace temp table _unit_days as "
                + sql_text("intermediate/int_air_unit_days.sql"))
    values = con.execute(sql_text("marts/indicator_parts.sql"), {"year": year}).df()
    con.execute(f"set threads = {int(threads)}")
    dual = con.execute(
        "select d.district_code, coalesce(p.dual_enrolments, 0) as dual_enrolments, "
        "coalesce(p.dual_status_disagreeing, 0) as dual_status_disagreeing "
        "from reference.districts d left join _pension_districts p using (district_code) "
        "order by 1").df()
    con.execute("drop table _pension_districts; drop table _station_days; "
                "drop table _unit_days")
    values.insert(0, "year", year)
    dual.insert(0, "year", year)
    return values, dual


def year_marts(values: pd.DataFrame, cat: pd.DataFrame, dist: pd.DataFrame,
               residents: pd.DataFrame, config) -> dict[str, pd.DataFrame]:
    """Everything of one year that follows from its indicator values (pure)."""
    scores = indicator_scores(values, cat, config)
    domains = domain_scores(scores, cat)
    index = attainment_index(domains, config, dist)
    subjects = pd.concat([
        values.assign(subject_kind="indicator", subject_id=values["indicator_id"]),
        domains.rename(columns={"score": "value"}).assign(subject_kind="domain",
                                                         subject_id=domains["domain"]),
        index.rename(columns={"attainment_index": "value"}).assign(subject_kind="index",
                                                                  subject_id="attainment"),
    ])[["year", "subject_kind", "subject_id", "district_code", "value"]]
    measures = equalisation_measures(subjects, residents, dist)
    targeted = cat[cat["target_rule"].notna()].set_index("indicator_id")
    met = {}
    for r in values[values["indicator_id"].isin(targeted.index)].itertuples(index=False):
        status = progress_row(None if pd.isna(r.value) else 0.0,
                              None if pd.isna(r.value) else float(r.value),
                              float(targeted.loc[r.indicator_id, "target_2025"]),
                              targeted.loc[r.indicator_id, "target_rule"], int(r.year))["status"]
        m = met.setdefault(r.district_code, [0, 0])
        m[0] += status == "achieved"
        m[1] += status is not None
    index["targets_met"] = index["district_code"].map(lambda c: met.get(c, [0, 0])[0])
    index["targets_total"] = index["district_code"].map(lambda c: met.get(c, [0, 0])[1])
    a1 = measures.loc[(measures["subject_kind"] == "index"), "atkinson_1"]
    atk = float(a1.iloc[0]) if len(a1) and pd.notna(a1.iloc[0]) else None
    index["equality_adjusted_attainment"] = [
        v * (1 - atk) if c == CITY and atk is not None and pd.notna(v) else None
        for c, v in zip(index["district_code"], index["attainment_index"], strict=True)]
    index = index[["year", "district_code", "name_zh", "name_en", "group", "attainment_index",
                   "rank", "gap_to_city", "relative_to_city", *DOMAINS, "targets_met",
                   "targets_total", "equality_adjusted_attainment"]]
    for frame in (scores, domains, index, measures):
        frame["methodology_version"] = config.methodology_version
    return {"indicator_scores": scores.drop(columns=["domain"]), "domain_scores": domains,
            "equalisation_index": index, "equalisation_measures": measures}


@dg.multi_asset(
    name="year_marts",
    specs=[table_spec(t, deps=[*STAGING, dg.AssetKey(["reference", "indicators"]),
                               dg.AssetKey(["reference", "aqi_breakpoints"])])
           for t in MARTS],
    partitions_def=reporting_year, pool=POOL,
    description="Indicators, scores, domains, the attainment index and equalisation "
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
        values, dual = compute_values(con, year, engine.pension_step(warehouse))
        values = attach_source_rows(values, source_rows(con, year), CITY)
        values["unit"] = values["indicator_id"].map(cat.set_index("indicator_id")["unit"])
        values["methodology_version"] = config.methodology_version
        residents = con.execute(
            "select year, district_code, sum(resident_total) as residents from "
            "staging.stg_population__townships where year = ? group by all", [year]).df()
        marts = {"indicator_values": values, "pension_dual_enrolments": dual,
                 **year_marts(values, cat, dist, residents, config)}
        con.execute("begin transaction")
        for name, frame in marts.items():
            replace_year(con, name, year, frame)
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
