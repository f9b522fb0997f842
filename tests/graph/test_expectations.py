"""The GX suites, each expectation on its own limits: real validations of frames pulled
from a real DuckDB warehouse holding two demo years (2020, 2021) at scale 0.003.

Every critical expectation gets its own test: a good frame (real staging rows), mutated so
that this expectation should fail, must fail the critical suite naming it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
from ingest_helpers import ingest, load_reference, write_submissions

from junheng import PROJECT_ROOT
from junheng.demo.generator import Options, generate
from junheng.ingest.submissions import catalogue_table
from junheng.quality import expectations as ex
from junheng.quality.expectations import (
    EXPECTATIONS_DIR,
    SuiteError,
    Validator,
    load_suite,
    profile,
)

pytestmark = pytest.mark.xdist_group("expectations")  # one warehouse for the module

YEAR = 2021
TABLES = sorted({p.name.split(".")[1] for p in EXPECTATIONS_DIR.glob("staging.*.json")})
SMALL = 3000  # frames above this are cut (per district and scheme) to keep GX quick
HEX_KEY = "3f9a" * 16  # looks like a person_key


def _cols(kwargs: dict) -> str:
    return ",".join([kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
                    + list(kwargs.get("column_list") or ()))


CRITICAL = [pytest.param(t, i, id=f"{t}-{i:02d}-{e['type'].removeprefix('expect_')}-"
                                  f"{_cols(e['kwargs']) or 'table'}")
            for t in TABLES for i, e in enumerate(load_suite(t, "critical")["expectations"])]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("expectations")
    landing, db = root / "landing", root / "wh" / "junheng.duckdb"
    generate(landing, Options(scale=0.003, years=(2020, YEAR)))
    load_reference(landing, db)
    for year in (2020, YEAR):
        # Every department's file without defects: the demo's own (a city row quarantined
        # now and then) would fail a warning of the real rows below.
        write_submissions(landing, year, replace=True)
        assert ingest(landing, db, year).success
    c = duckdb.connect(str(db))
    catalogue_table(c)   # what the submissions suites' derived columns look up
    yield c
    c.close()


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return Validator(docs_dir=tmp_path_factory.mktemp("data_docs"))


def _profile(con, table: str, year: int = YEAR, relation: str | None = None) -> dict:
    source = relation or f"staging.{table}"
    n = con.execute(f"select count(*) from {source} where year = ?", [year]).fetchone()[0]
    return profile(con, table, year, n, 0, relation=relation)


def _small(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) <= SMALL:
        return df
    keys = [c for c in ("district_code", "scheme") if c in df]
    return df.groupby(keys, sort=False).head(SMALL // 20).reset_index(drop=True)


@pytest.fixture(scope="module")
def good(con, validator) -> dict[str, tuple[pd.DataFrame, dict, dict]]:
    """Per table: the 2021 frame (real rows), its profile and its outcomes on both suites."""
    found = {}
    for t in TABLES:
        prof = _profile(con, t)
        data = _small(Validator.frame(con, t, YEAR, prof))
        found[t] = data, prof, validator.run(t, YEAR, data, "good")
    return found


# --------------------------------------------------------------------------- mutators

def _set(df: pd.DataFrame, col: str, value, everywhere: bool) -> None:
    """`value` in the first row of `col`, or in every row; an integer column that must
    hold a null or a fraction becomes float."""
    if value is None or (isinstance(value, float) and not float(value).is_integer()):
        if pd.api.types.is_integer_dtype(df[col]):
            df[col] = df[col].astype("float64")
    if everywhere:
        df[col] = pd.Series([value] * len(df), index=df.index, dtype=df[col].dtype
                            if value is not None else None)
    else:
        df.loc[df.index[0], col] = value


def mutate(df: pd.DataFrame, e: dict, constants) -> pd.DataFrame:
    """`df` changed so that expectation `e` (and, as far as can be, nothing else) fails."""
    df = df.copy()
    kw, kind = e["kwargs"], e["type"]
    col = kw.get("column")
    everywhere = col in constants or "mostly" in kw  # broadcast figures, or a share
    if kind == "expect_column_values_to_be_between":
        hi, lo = kw.get("max_value"), kw.get("min_value")
        value = hi + (abs(hi) or 1) if hi is not None else lo - (abs(lo) or 1)
        _set(df, col, value, everywhere)
    elif kind == "expect_column_mean_to_be_between":  # every value past the limit
        hi, lo = kw.get("max_value"), kw.get("min_value")
        _set(df, col, hi + (abs(hi) or 1) if hi is not None else lo - (abs(lo) or 1), True)
    elif kind == "expect_column_values_to_not_be_null":
        _set(df, col, None, everywhere)
    elif kind == "expect_column_values_to_be_unique":
        df.loc[df.index[1], col] = df.loc[df.index[0], col]
    elif kind == "expect_column_values_to_be_in_set":
        _set(df, col, "not in the set", everywhere)
    elif kind == "expect_column_distinct_values_to_equal_set":
        df.loc[df.index[0], col] = "not in the set"
    elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = kw["column_A"], kw["column_B"]
        df.loc[df.index[0], b] = df.loc[df.index[0], a] + 1
    elif kind == "expect_compound_columns_to_be_unique":   # a second row with the first's key
        cols = kw["column_list"]
        df.loc[df.index[1], cols] = df.loc[df.index[0], cols].to_numpy()
    elif kind == "expect_table_row_count_to_equal":
        df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    else:
        raise NotImplementedError(f"no mutator for {kind}: add one")
    return df


# --------------------------------------------------------------------------- tests

@pytest.mark.parametrize("table", TABLES)
def test_every_expectation_of_each_suite_is_evaluated(good, table):
    *_, outcomes = good[table]
    for level in ex.LEVELS:
        assert outcomes[level].evaluated == len(load_suite(table, level)["expectations"])


@pytest.mark.parametrize("table", TABLES)
def test_real_rows_pass_both_suites(good, table):
    *_, outcomes = good[table]
    assert outcomes["critical"].passed, outcomes["critical"].summary()
    assert outcomes["warning"].passed, outcomes["warning"].summary()


@pytest.mark.parametrize(("table", "index"), CRITICAL)
def test_each_critical_expectation_fails_on_its_own_limits(good, validator, table, index):
    e = load_suite(table, "critical")["expectations"][index]
    data, prof, _ = good[table]
    outcome = validator.run(table, YEAR, mutate(data, e, set(prof)), "mutated",
                            levels=("critical",))["critical"]
    assert not outcome.passed
    mine = [f for f in outcome.failures
            if (f["expectation"], f["column"]) == (e["type"], _cols(e["kwargs"]))]
    assert mine, outcome.summary()
    assert not mine[0]["observed"].startswith("error:"), mine[0]  # failed, not crashed
    assert outcome.failed <= 3, outcome.summary()  # the mutation stays close to its target


# Deliveries the merged suite let through, now candidates checked before publication.

def _candidate(con, table: str, select: str, year: int = YEAR) -> str:
    name = f"_candidate_{table.removeprefix('stg_')}"
    con.execute(f"create or replace temp table {name} as {select}", [year])
    return name


def _rejected(con, validator, table: str, relation: str, year: int = YEAR) -> set:
    """(expectation, column) of each critical failure of a candidate, which must fail."""
    prof = _profile(con, table, year, relation)
    data = Validator.frame(con, table, year, prof, relation=relation)
    critical = validator.run(table, year, data, "candidate")["critical"]
    assert not critical.passed
    return {(f["expectation"], f["column"]) for f in critical.failures}


def _failures(con, validator, table: str, relation: str, year: int = YEAR) -> set:
    return {column for _, column in _rejected(con, validator, table, relation, year)}


@pytest.mark.parametrize("year", [2020, YEAR])
def test_a_population_file_with_half_the_townships_is_rejected(con, validator, year):
    rel = _candidate(con, "stg_population__townships",
                     "select * from staging.stg_population__townships "
                     "where year = ? and _line % 2 = 0", year)
    failed = _failures(con, validator, "stg_population__townships", rel, year)
    assert "residents_vs_census_min" in failed  # even in the first year
    if year > 2020:
        assert "residents_ratio_min" in failed


def test_a_township_with_no_residents_is_rejected(con, validator):
    rel = _candidate(con, "stg_population__townships",
                     "select * replace (if(_line = (select min(_line) from "
                     "staging.stg_population__townships where year = $1), 0, resident_total) "
                     "as resident_total) from staging.stg_population__townships where year = $1")
    assert "resident_total" in _failures(con, validator, "stg_population__townships", rel)


def test_a_pension_file_with_only_the_employee_scheme_is_rejected(con, validator):
    rel = _candidate(con, "stg_pension__enrolments",
                     "select * from staging.stg_pension__enrolments "
                     "where year = ? and scheme = 'employee'")
    failed = _failures(con, validator, "stg_pension__enrolments", rel)
    assert {"scheme", "resident_enrolments_ratio_min"} <= failed


def test_rates_stored_as_fractions_are_rejected(con, validator):
    rel = _candidate(con, "stg_health__districts",
                     "select * replace (round(vaccination_rate / 100, 4) as vaccination_rate) "
                     "from staging.stg_health__districts where year = ?")
    failed = _failures(con, validator, "stg_health__districts", rel)
    assert {"vaccination_rate", "vaccination_rate_change_max"} <= failed


# Wrong units and magnitudes (an adversarial review): each passed every critical
# expectation before and published wrong numbers.

BETWEEN = "expect_column_values_to_be_between"


@pytest.mark.parametrize("year", [2020, YEAR])
def test_home_visits_counted_as_person_times_are_rejected(con, validator, year):
    rel = _candidate(con, "stg_eldercare__home_care",
                     "select * replace (home_visit_elderly * 10 as home_visit_elderly) "
                     "from staging.stg_eldercare__home_care where year = ?", year)
    failed = _failures(con, validator, "stg_eldercare__home_care", rel, year)
    assert "home_visit_elderly_vs_census_max" in failed  # even in the first year
    if year > 2020:
        assert "home_visit_elderly_ratio_max" in failed


def test_sewage_collected_in_the_wrong_unit_is_rejected(con, validator):
    rel = _candidate(con, "stg_environment__sewage",
                     "select * replace (round(sewage_collected / 10, 2) as sewage_collected) "
                     "from staging.stg_environment__sewage where year = ?")
    failed = _failures(con, validator, "stg_environment__sewage", rel)
    assert "sewage_collected_ratio_min" in failed


def test_a_life_expectancy_years_off_is_rejected(con, validator):
    rel = _candidate(con, "stg_health__districts",
                     "select * replace (life_expectancy + 8 as life_expectancy) "
                     "from staging.stg_health__districts where year = ?")
    failed = _failures(con, validator, "stg_health__districts", rel)
    assert "life_expectancy_change_max" in failed


@pytest.mark.parametrize("year", [2020, YEAR])
def test_a_pension_file_with_one_status_is_rejected(con, validator, year):
    rel = _candidate(con, "stg_pension__enrolments",
                     "select * replace ('contributing' as status) "
                     "from staging.stg_pension__enrolments where year = ?", year)
    failed = _rejected(con, validator, "stg_pension__enrolments", rel, year)
    assert ("expect_column_distinct_values_to_equal_set", "status") in failed  # first year too
    if year > 2020:
        assert (BETWEEN, "receiving_share_change_max") in failed


def test_a_pension_file_with_too_few_pensioners_is_rejected(con, validator):
    """All three statuses present, but most pensioners turned into suspended members."""
    rel = _candidate(con, "stg_pension__enrolments",
                     "select * replace (if(status = 'receiving' and hash(_line) % 3 > 0, "
                     "'suspended', status) as status) "
                     "from staging.stg_pension__enrolments where year = ?")
    assert _failures(con, validator, "stg_pension__enrolments", rel) == {
        "receiving_share_change_max"}


def test_population_age_bands_swapped_are_rejected(con, validator):
    rel = _candidate(con, "stg_population__townships",
                     "select * replace (age_60_plus as age_15_59, age_15_59 as age_60_plus) "
                     "from staging.stg_population__townships where year = ?")
    failed = _failures(con, validator, "stg_population__townships", rel)
    assert {"age_60_plus_ratio_max", "age_15_59_ratio_min"} <= failed


@pytest.mark.parametrize("year", [2020, YEAR])
def test_particles_in_mg_per_m3_are_rejected(con, validator, year):
    rel = _candidate(con, "stg_environment__air_quality",
                     "select * replace (pm25 / 1000 as pm25, pm10 / 1000 as pm10) "
                     "from staging.stg_environment__air_quality where year = ?", year)
    failed = _rejected(con, validator, "stg_environment__air_quality", rel, year)
    mean = "expect_column_mean_to_be_between"
    assert {(mean, "pm25"), (mean, "pm10")} <= failed  # even in the first year
    if year > 2020:
        assert {(BETWEEN, "pm25_ratio_min"), (BETWEEN, "pm10_ratio_min")} <= failed


def test_air_quality_with_every_reading_invalid_is_rejected(con, validator):
    """Every value -99 (the analyser's invalid flag): staged as null, rows kept."""
    rel = _candidate(con, "stg_environment__air_quality",
                     "select * replace (null::double as so2, null::double as no2, "
                     "null::double as pm10, null::double as o3, null::double as pm25, "
                     "null::double as co, 6 as flagged_invalid) "
                     "from staging.stg_environment__air_quality where year = ?")
    failed = _rejected(con, validator, "stg_environment__air_quality", rel)
    assert {("expect_column_values_to_not_be_null", c)
            for c in ("pm25", "pm10", "o3", "no2")} <= failed


def test_a_department_is_profiled_from_its_own_rows_and_last_year_of_its_own(con):
    table = "stg_submissions__indicators"
    rel = _candidate(con, table, f"select * from staging.{table} where year = ? and "
                                 "department = 'civil_affairs'")
    n = con.execute(f"select count(*) from {rel}").fetchone()[0]
    prof = profile(con, table, YEAR, n, 0, relation=rel, unit=("department", "civil_affairs"))
    last = con.execute(f"select count(*) from staging.{table} where year = ? and "
                       "department = 'civil_affairs'", [YEAR - 1]).fetchone()[0]
    everyone = con.execute(f"select count(*) from staging.{table} where year = ?",
                           [YEAR - 1]).fetchone()[0]
    assert n and prof["rows_loaded"] == n and prof["rows_previous_year"] == last < everyone
    assert prof["rows_vs_previous_year"] == n / last


@pytest.mark.parametrize("department, damage, failed", [
    ("public_security", "update {rel} set value = value * 10", "percent_value"),
    ("civil_affairs", "update {rel} set value = null, numerator = numerator * 10",
     "percent_value"),
    ("civil_affairs", "update {rel} set indicator_id = 'C1' where _line = "
                      "(select min(_line) from {rel})", "indicator_of_department"),
    ("housing", "update {rel} set district_code = '320505'", "indicator_id,district_code"),
], ids=["an_estimate_in_permille", "a_percent_ratio_above_100",
        "another_departments_indicator", "one_district_for_every_row"])
def test_implausible_submissions_are_rejected(con, validator, department, damage, failed):
    table = "stg_submissions__indicators"
    rel = _candidate(con, table, f"select * from staging.{table} where year = ? and "
                                 f"department = '{department}'")
    con.execute(damage.format(rel=rel))
    assert failed in _failures(con, validator, table, rel)


# A year's department files are frames of one table, validated together
# (Validator.run_together): each must get exactly the outcome it gets alone, whichever
# expectation a department breaks, in fewer validations.

SUBMISSIONS = "stg_submissions__indicators"
TOGETHER = ("health", "civil_affairs", "education", "public_security")
EVERY = [pytest.param(level, i, id=f"{level}-{i:02d}-{e['type'].removeprefix('expect_')}-"
                                   f"{_cols(e['kwargs']) or 'table'}")
         for level in ex.LEVELS
         for i, e in enumerate(load_suite(SUBMISSIONS, level)["expectations"])]


@pytest.fixture(scope="module")
def departments(con) -> list[tuple[pd.DataFrame, dict]]:
    """Four departments' 2021 rows as the audit sees their candidates: frame and profile."""
    found = []
    for d in TOGETHER:
        rel = _candidate(con, SUBMISSIONS, f"select * from staging.{SUBMISSIONS} where "
                                           f"year = ? and department = '{d}'")
        n = con.execute(f"select count(*) from {rel}").fetchone()[0]
        prof = profile(con, SUBMISSIONS, YEAR, n, 0, relation=rel, unit=("department", d))
        found.append((Validator.frame(con, SUBMISSIONS, YEAR, prof, relation=rel), prof))
    return found


def _together(validator, frames: list[pd.DataFrame]) -> tuple[list[dict], int]:
    """Outcomes validated together, and how many GX validations that took."""
    before = len(validator.results)
    found = validator.run_together(SUBMISSIONS, YEAR, frames, list(TOGETHER), "together")
    return found, len(validator.results) - before


def _alone(validator, frames: list[pd.DataFrame]) -> list[dict]:
    return [validator.run(SUBMISSIONS, YEAR, f, "alone") for f in frames]


def test_departments_that_pass_are_validated_together_once_per_suite(departments, validator):
    assert ex.together(SUBMISSIONS, "critical") and ex.together(SUBMISSIONS, "warning")
    frames = [f for f, _ in departments]
    found, made = _together(validator, frames)
    assert found == _alone(validator, frames)
    assert all(o.passed for outcomes in found for o in outcomes.values())
    assert made == len(ex.LEVELS)      # not one per department and suite


@pytest.mark.parametrize(("level", "index"), EVERY)
def test_validated_together_each_department_gets_its_own_outcome(departments, validator,
                                                                 level, index):
    e = load_suite(SUBMISSIONS, level)["expectations"][index]
    frames = [f for f, _ in departments]
    frames[1] = mutate(frames[1], e, set(departments[1][1]))
    found, made = _together(validator, frames)
    assert found == _alone(validator, frames)
    assert not found[1][level].passed                        # the damaged department fails
    assert (e["type"], _cols(e["kwargs"])) in {
        (f["expectation"], f["column"]) for f in found[1][level].failures}
    assert all(found[i][level].passed for i in (0, 2, 3))   # and no other
    assert made <= 2 * len(ex.LEVELS) < 2 * len(frames)


def test_a_key_shared_by_two_departments_fails_neither(departments, validator):
    """A duplicate of the union that is none within a department: both are validated alone,
    and pass."""
    frames = [f.copy() for f, _ in departments]
    key = ["indicator_id", "district_code"]
    frames[2].loc[frames[2].index[0], key] = frames[0].loc[frames[0].index[0], key].to_numpy()
    found, made = _together(validator, frames)
    assert found == _alone(validator, frames)
    assert all(o.passed for outcomes in found for o in outcomes.values())
    assert made == 1 + 2 + 1           # the critical union, the two departments, the warning


def test_an_expectation_that_errors_together_sends_every_department_alone(departments,
                                                                         validator):
    frames = [f.assign(percent_value="not a number") for f, _ in departments]
    found, made = _together(validator, frames)
    assert found == _alone(validator, frames)
    for outcomes in found:      # failed, saying why: the error, not "None unexpected"
        errors = [f for f in outcomes["critical"].failures if f["column"] == "percent_value"]
        assert errors and errors[0]["observed"].startswith("error: "), errors
    assert made == 1 + len(frames) + 1


@pytest.mark.parametrize("change", ["type", "suite"])
def test_frames_of_other_types_or_an_aggregate_suite_are_validated_alone(
        departments, validator, monkeypatch, change):
    frames = [f for f, _ in departments]
    if change == "type":     # the union would hold this column as another type
        frames[3] = frames[3].assign(rows_vs_previous_year=None)
    else:                    # a share (mostly): the union's is not each department's
        monkeypatch.setattr(ex, "together", lambda table, level: False)
    found, made = _together(validator, frames)
    assert found == _alone(validator, frames)
    assert made == len(ex.LEVELS) * len(frames)


def test_only_row_wise_suites_without_a_share_are_validated_together(monkeypatch):
    def suite(*expectations) -> None:
        monkeypatch.setattr(ex, "load_suite", lambda table, level: {
            "expectations": [{"type": t, "kwargs": k} for t, k in expectations]})

    suite(("expect_column_values_to_be_between", {"column": "v", "min_value": 0}),
          ("expect_compound_columns_to_be_unique", {"column_list": ["a", "b"]}))
    assert ex.together("t", "critical")
    suite(("expect_column_values_to_be_between", {"column": "v", "mostly": 0.9}))
    assert not ex.together("t", "critical")
    suite(("expect_column_mean_to_be_between", {"column": "v", "min_value": 0}))
    assert not ex.together("t", "critical")
    suite(("expect_table_row_count_to_equal", {"value": 3}))
    assert not ex.together("t", "critical")
    # A row condition can filter on a column's mean, which the union changes.
    suite(("expect_column_values_to_be_between", {"column": "v", "max_value": 10,
                                                  "row_condition": "v > v.mean()",
                                                  "condition_parser": "pandas"}))
    assert not ex.together("t", "critical")


def test_a_row_condition_on_an_aggregate_would_pass_together_what_fails_alone(
        tmp_path, monkeypatch):
    """Why `together` refuses a row condition: here the union's mean lets a frame that fails
    alone pass."""
    for level in ex.LEVELS:
        (tmp_path / f"staging.stg_fake.{level}.json").write_text(json.dumps({
            "name": f"staging.stg_fake.{level}", "expectations": [{
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "v", "max_value": 10, "row_condition": "v > v.mean()",
                           "condition_parser": "pandas"}}]}))
    monkeypatch.setattr(ex, "EXPECTATIONS_DIR", tmp_path)
    validator = Validator()
    a, b = pd.DataFrame({"v": [1.0, 2.0, 30.0]}), pd.DataFrame({"v": [100.0, 200.0, 300.0]})
    alone = [validator.run("stg_fake", YEAR, f, levels=("critical",))["critical"].passed
             for f in (a, b)]
    assert alone == [False, False]
    real = ex.together
    monkeypatch.setattr(ex, "together", lambda table, level: True)   # were it let through
    wrong = validator.run_together("stg_fake", YEAR, [a, b], ["a", "b"], levels=("critical",))
    assert [o["critical"].passed for o in wrong] == [True, False]    # a would be published
    monkeypatch.setattr(ex, "together", real)
    assert not ex.together("stg_fake", "critical")
    found = validator.run_together("stg_fake", YEAR, [a, b], ["a", "b"], levels=("critical",))
    assert [o["critical"].passed for o in found] == alone


def test_a_candidate_is_profiled_from_its_own_rows_and_last_years_published_ones(con):
    table = "stg_schools__schools"
    rel = _candidate(con, table, f"select * from staging.{table} where year = ?")
    assert _profile(con, table, relation=rel) == _profile(con, table)
    con.execute(f"alter table {rel} add column extra integer")
    prof = _profile(con, table, relation=rel)
    assert prof["schema_signature"].endswith(",extra:INTEGER")
    assert prof["rows_previous_year"] == con.execute(
        f"select count(*) from staging.{table} where year = 2020").fetchone()[0]
    with pytest.raises(ValueError, match="not a safe SQL identifier"):
        profile(con, table, YEAR, 1, 0, relation="x; drop table staging.stg_schools__schools")


def test_a_new_warehouse_has_no_previous_year_to_compare_with():
    c = duckdb.connect()
    c.execute("create temp table _candidate_sewage as select 2 as _line, 2021 as year, "
              "'320505' as district_code, 10.0 as sewage_generated, 9.0 as sewage_collected")
    prof = profile(c, "stg_environment__sewage", 2021, 1, 0, relation="_candidate_sewage")
    assert prof["rows_previous_year"] is None
    assert prof["sewage_generated_ratio_min"] is None
    assert prof["districts_present"] == 1


def test_failures_withhold_person_key_like_values(good, validator):
    data = good["stg_pension__enrolments"][0].copy()
    data.loc[data.index[0], "sex"] = HEX_KEY
    data.loc[data.index[1], "district_code"] = HEX_KEY[:40]
    critical = validator.run("stg_pension__enrolments", YEAR, data, "scrub",
                             levels=("critical",))["critical"]
    assert not critical.passed
    text = critical.summary() + json.dumps(critical.failures)
    assert "(withheld)" in text
    assert not re.search(r"[0-9a-f]{20,}", text)


TWICE = {"name": "x", "meta": {}, "expectations": [  # one limit each: GX keeps one of them
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "v", "min_value": 1}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "v", "max_value": 9}}]}


def test_a_suite_that_gx_would_collapse_is_refused(tmp_path, monkeypatch):
    (tmp_path / "staging.stg_twice.critical.json").write_text(json.dumps(TWICE))
    monkeypatch.setattr(ex, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"staging\.stg_twice\.critical\.json.*GX keeps only"):
        load_suite("stg_twice", "critical")
    reader = {"name": "x", "meta": {}, "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "person_key"}}]}
    with pytest.raises(ValueError, match="person-level"):
        ex.check_suite(reader, "y.json")


def test_a_suite_gx_collapses_anyway_is_an_error(tmp_path, monkeypatch, validator):
    """The guard behind the file check: GX holding fewer expectations than the file."""
    (tmp_path / "staging.stg_collapsed.critical.json").write_text(json.dumps(TWICE))
    monkeypatch.setattr(ex, "EXPECTATIONS_DIR", tmp_path)
    monkeypatch.setattr(ex, "check_suite", lambda suite, source: suite)
    with pytest.raises(SuiteError, match="GX holds 1 of its 2"):
        validator.run("stg_collapsed", YEAR, pd.DataFrame({"v": [5]}), levels=("critical",))


GX_WITHOUT_SPARK = """
import sys
import pandas as pd
from junheng.quality.expectations import Validator
v = Validator()
from great_expectations.compatibility import pyspark as compat
out = v.run("stg_health__districts", 2021, pd.DataFrame({"district_code": ["320505"]}),
            levels=("critical",))["critical"]
before = "pyspark" in sys.modules
import pyspark.sql
print(type(compat.pyspark).__name__, before, out.evaluated > 0, pyspark.sql.SparkSession.__name__)
"""


def test_great_expectations_is_imported_without_pyspark_which_imports_after():
    """GX would import pyspark (1-2 s) only because the Spark engine installed it: hidden
    while GX imports, GX validates pandas frames as usual and pyspark imports afterwards."""
    out = subprocess.run([sys.executable, "-c", GX_WITHOUT_SPARK], capture_output=True,
                         text=True, check=True, cwd=PROJECT_ROOT)
    assert out.stdout.split() == ["NotImported", "False", "True", "SparkSession"], out.stderr


def test_no_expectation_reads_person_keys():
    for t in TABLES:
        for level in ex.LEVELS:
            suite = load_suite(t, level)
            assert all("person_key" not in _cols(e["kwargs"]) for e in suite["expectations"])
            exprs = [x for kind in ("derived", *ex.FIGURE_KINDS)
                     for x in suite["meta"].get(kind, {}).values()]
            assert not any("person_key" in x for x in exprs)


def test_data_docs_are_readable_offline(good, tmp_path):
    validator = Validator(docs_dir=tmp_path / "data_docs")  # only this test's pages
    for t in ("stg_population__townships", "stg_health__districts"):
        validator.run(t, YEAR, good[t][0], "docs")
    data = good["stg_population__townships"][0].copy()
    data.loc[data.index[:2], "township_code"] = HEX_KEY  # a failure listing a key-like value
    validator.run("stg_population__townships", YEAR, data, "docs")
    validator.build_docs()
    docs = validator.docs_dir
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) == 1 + 3 * 2
    for path in [*pages, *docs.rglob("*.css")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path
        assert HEX_KEY not in text, path
    critical = [p for p in pages if "stg_population__townships" in p.parts
                and "critical" in p.parts]
    text = "\n".join(p.read_text(encoding="utf-8") for p in critical)
    for column in ("residents_vs_census_min", "residents_ratio_min", "township_code"):
        assert column in text
    assert "values must be unique" in text and "(withheld)" in text
    index = (docs / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="(validations/[^"]+)"', index)
    assert len(links) == len(pages) - 1
    assert all((docs / link.replace("%20", " ")).exists() for link in links)
    # The next process (the next run) adds its validations; the index keeps the last's.
    later = Validator(docs_dir=docs)
    later.run("stg_health__districts", YEAR, good["stg_health__districts"][0], "later")
    later.build_docs()
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert set(re.findall(r'<a href="(validations/[^"]+)"', index)) > set(links)
    assert len(re.findall(r'<a href="(validations/[^"]+)"', index)) == \
        len(list(docs.rglob("validations/**/*.html")))
    assert index.index("later") < index.index("docs")   # newest first


def test_every_broadcast_figure_is_a_plain_number_or_none(good):
    for t in TABLES:
        _, prof, _ = good[t]
        for c, v in prof.items():
            if c == "schema_signature":
                continue
            assert v is None or pd.isna(v) or isinstance(v, (int, float, np.number)), (t, c)
