"""`junheng run`: every year end to end, recorded in a real Dagster instance."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
from conftest import ROOT

YEARS = list(range(2020, 2026))


def test_every_run_succeeds_and_is_recorded(full_run):
    root, home, out = full_run
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    for year in YEARS:
        assert f"ingest {year}: ok" in out.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # Other tests run `junheng run` again on this instance: count at least one full run.
        runs = instance.get_runs()
        jobs = Counter(r.job_name for r in runs)
        assert jobs["ingest_year"] >= 6 and jobs["reference_data"] >= 1
        assert jobs["cross_year"] >= 1
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert instance.get_dynamic_partitions("reporting_year") == [str(y) for y in YEARS]
        # The attainment index per district is numeric metadata on every year's partition.
        events = instance.fetch_materializations(
            dg.AssetKey(["marts", "equalisation_index"]), limit=100).records
        assert {e.partition_key for e in events} == {str(y) for y in YEARS}
        for e in events:
            meta = e.asset_materialization.metadata
            values = [k for k in meta if k.startswith("attainment_index_")]
            assert len(values) == 11
            assert all(isinstance(meta[k], dg.FloatMetadataValue) for k in values)


def _con(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)


def test_marts_are_complete_for_all_districts_and_years(full_run):
    root, _, _ = full_run
    con = _con(root)
    n = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
    assert n("select count(*) from marts.indicator_values where value is not null") == 6 * 11 * 18
    assert n("select count(*) from marts.indicator_scores where score is not null") == 6 * 11 * 17
    assert n("select count(*) from marts.domain_scores where score is not null") == 6 * 11 * 4
    assert n("select count(*) from marts.equalisation_index where attainment_index is not null"
             ) == 6 * 11
    assert n("select count(distinct rank) from marts.equalisation_index") >= 9
    assert n("select count(*) from marts.equalisation_measures") == 6 * (18 + 4 + 1)
    assert n("select count(*) from marts.convergence") == 5
    assert n("select count(*) from marts.target_progress where status is not null") == \
        6 * 11 * 17
    assert n("select count(*) from marts.rank_sensitivity where draws = 1000") == 6 * 10
    assert n("select count(*) from marts.equalisation_index where district_code = '320500' "
             "and equality_adjusted_attainment is not null") == 6
    assert n("select min(source_rows_used) from marts.indicator_values") > 0


def test_city_2020_matches_table1_within_calibration(full_run):
    root, _, _ = full_run
    with open(ROOT / "warehouse/seeds/indicators.csv", encoding="utf-8") as fh:
        baseline = {r["indicator_id"]: float(r["baseline_2020"]) for r in csv.DictReader(fh)
                    if r["baseline_2020"]}
    rows = dict(_con(root).execute(
        "select indicator_id, value from marts.indicator_values "
        "where year = 2020 and district_code = '320500'").fetchall())
    off = {k: rows[k] / b - 1 for k, b in baseline.items() if abs(rows[k] / b - 1) > 0.03}
    assert not off, off
    published = dict(_con(root).execute(
        "select indicator_id, baseline_published from marts.target_progress "
        "where year = 2025 and district_code = '320500'").fetchall())
    assert published["E1"] == 85 and published["A1"] == 84
