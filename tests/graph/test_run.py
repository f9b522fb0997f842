"""`junheng run`: every year end to end, recorded in a real Dagster instance."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
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
            # 2021: the demo loses the city's I3 row, so the city's index is null.
            assert len(values) == (10 if e.partition_key == "2021" else 11), e.partition_key
            assert all(isinstance(meta[k], dg.FloatMetadataValue) for k in values)


def _con(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)


def test_marts_are_complete_for_all_districts_and_years(full_run):
    root, _, _ = full_run
    con = _con(root)
    n = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
    cat = con.execute("select indicator_id, in_index, equalise, target_rule from "
                      "reference.indicators").df()
    assert len(cat) == 41
    in_index = int(cat["in_index"].sum())
    # Every indicator, district (and the city) and year has a row; a null carries its reason.
    assert n("select count(*) from marts.indicator_values") == 6 * 11 * 41
    assert n("select count(*) from marts.indicator_values where value is null "
             "and null_reason is null") == 0
    assert n("select count(*) from marts.indicator_values where value is not null "
             "and null_reason is not null") == 0
    assert n("select count(*) from marts.indicator_values where indicator_id = 'L2' and "
             "year = 2020 and null_reason = 'cumulative from 2021'") == 11
    # The demo damages submitted rows in 2020 and 2021 only (junheng/demo/submissions.py):
    # from 2022 every in-index indicator has a value, so the index is complete and ranked.
    assert n("select count(*) from marts.indicator_scores where score is not null and "
             "year >= 2022") == 4 * 11 * in_index
    assert n("select count(*) from marts.area_scores") == 6 * 11 * 13
    assert n("select count(*) from marts.area_scores where score is not null and "
             "year >= 2022") == 4 * 11 * 13
    assert n("select count(*) from marts.equalisation_index where attainment_index is not "
             "null and not provisional and year >= 2022") == 4 * 11
    assert n("select count(*) from marts.equalisation_index where rank is not null") == 4 * 10
    assert n("select count(distinct rank) from marts.equalisation_index") >= 9
    # 2020 and 2021: some districts provisional, the ranks withheld with their reason.
    assert n("select count(*) from marts.equalisation_index where year <= 2021 and "
             "provisional and missing_indicators is not null") >= 2
    assert n("select count(*) from marts.equalisation_index where year <= 2021 and "
             "district_code <> '320500' and rank is null and null_reason like "
             "'%indicator sets differ%'") >= 10
    assert n("select count(*) from marts.equalisation_measures") == \
        6 * (int(cat["equalise"].sum()) + 13 + 1)
    assert n("select count(*) from marts.convergence") == 14
    targeted = int(cat["target_rule"].notna().sum())
    assert n("select count(*) from marts.target_progress") == 6 * 11 * targeted
    assert n("select count(distinct status) from marts.target_progress") >= 7
    assert n("select count(*) from marts.rank_sensitivity where draws = 1000") == 6 * 10
    assert n("select count(*) from marts.equalisation_index where district_code = '320500' "
             "and equality_adjusted_attainment is not null and year >= 2022") == 4
    assert n("select min(source_rows_used) from marts.indicator_values "
             "where value is not null") > 0


def test_city_2020_matches_table1_within_calibration(full_run):
    root, _, _ = full_run
    with open(ROOT / "warehouse/seeds/indicators.csv", encoding="utf-8") as fh:
        # I1, I2: the printed 2020 figures are 2016-2020 declines, not comparable.
        baseline = {r["indicator_id"]: float(r["baseline_2020"]) for r in csv.DictReader(fh)
                    if r["baseline_2020"] and r["target_type"] != "reduction"}
    rows = dict(_con(root).execute(
        "select indicator_id, value from marts.indicator_values "
        "where year = 2020 and district_code = '320500'").fetchall())
    off = {k: rows[k] / b - 1 for k, b in baseline.items() if abs(rows[k] / b - 1) > 0.03}
    assert not off, off
    published = dict(_con(root).execute(
        "select indicator_id, baseline_published from marts.target_progress "
        "where year = 2025 and district_code = '320500'").fetchall())
    assert published["E1"] == 85 and published["A1"] == 84 and published["I3"] == 98.84


def test_every_value_matches_the_independent_reading_of_the_files(full_run):
    """All 41 indicators, every district and the city, every year: the warehouse's values
    equal those tests/independent.py computes from the delivered files with pandas alone
    (no code shared with the pipeline), and a value exists exactly where it finds one."""
    import independent as ind

    root, _, _ = full_run
    con = _con(root)
    for year in YEARS:
        expected = ind.indicator_values(root / "landing", year).rename(
            columns={"unit_code": "district_code"}).set_index(["indicator_id", "district_code"])
        got = con.execute("select indicator_id, district_code, value, standard_error from "
                          "marts.indicator_values where year = ? and value is not null",
                          [year]).df().set_index(["indicator_id", "district_code"])
        assert set(got.index) == set(expected.index), (year, set(got.index) ^ set(expected.index))
        both = got.join(expected.add_suffix("_independent"))
        off = both[~np.isclose(both["value"], both["value_independent"], rtol=1e-9, atol=1e-9)]
        assert off.empty, (year, off)
        se = both.dropna(subset=["standard_error_independent"])
        assert np.allclose(se["standard_error"], se["standard_error_independent"])


def test_the_command_leaves_its_heap_to_the_os_when_it_ends(tmp_path):
    """`junheng` (entry) freezes the collector's heap as its process ends (gc.freeze): the
    interpreter's last full collection walked Dagster's, GX's and pandas' objects for
    1.5-4 s after a city-scale year. main() called by a caller that goes on (a test)
    leaves the heap alone. The command's work is done either way."""
    code = ("import atexit, gc; from pipelines.cli import entry, main; "
            f"rc = main(['demo-feeds', '--landing', {str(tmp_path / 'a')!r}, '--scale', "
            "'0.002', '--years', '2022']); print('main', rc, gc.get_freeze_count()); "
            "atexit.register(lambda: print('entry', gc.get_freeze_count())); "
            "import sys; sys.argv = ['junheng', 'demo-feeds', '--landing', "
            f"{str(tmp_path / 'b')!r}, '--scale', '0.002', '--years', '2022']; entry()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    said = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()
            if line.startswith(("main ", "entry "))}
    assert said["main"] == ["0", "0"]              # returned 0, nothing frozen
    assert int(said["entry"][0]) > 0               # frozen by the time the process ends
    for landing in ("a", "b"):
        assert (tmp_path / landing / "population" / "2022" / "population_2022.csv").is_file()
