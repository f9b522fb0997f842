"""Ingest with real DuckDB files, real materialisations and real GX validations."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from ingest_helpers import ingest, load_reference

from junheng.demo.generator import Options, generate
from junheng.ingest import load
from junheng.ingest.feeds import FEEDS
from junheng.quality.expectations import Validator

# Ledger defect class -> (feed, column as delivered, quarantine rule)
RULES = {
    ("schools", "teachers_zero_with_pupils"): ("专任教师数", "> 0 where enrolled > 0"),
    ("schools", "unknown_district"): ("所在区县", "a district name or alias"),
    ("schools", "duplicate_key"): ("学校标识码", "unique in file"),
    ("health", "gp_above_physicians"): ("全科医生数", "<= physicians"),
    ("health", "unknown_district"): ("区县", "a district name, alias or code"),
    ("health", "duplicate_key"): ("机构代码", "unique in sheet"),
    ("eldercare", "nursing_above_beds"): ("护理型床位数", "<= beds"),
    ("eldercare", "unknown_district"): ("区县代码", "in districts.csv"),
    ("eldercare", "duplicate_key"): ("机构编码", "unique in file"),
    ("environment", "duplicate_key"): ("time", "unique per station"),
    ("pension", "unknown_district"): ("district_code", "in districts.csv"),
    ("pension", "birth_year_out_of_range"): ("birth_year", "1900 to {year}"),
    ("pension", "duplicate_key"): ("person_key", "(person_key, scheme) unique in file"),
}


@pytest.fixture(scope="session")
def ingested(demo_defects, tmp_path_factory):
    landing, opts = demo_defects
    db = tmp_path_factory.mktemp("wh") / "w.duckdb"
    load_reference(landing, db)
    result = ingest(landing, db, opts.years[0])
    return landing, db, opts.years[0], result


def _q(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_every_feed_loads(ingested):
    landing, db, year, result = ingested
    assert result.success
    rows = dict(_q(db, "select file_name, status from quality.deliveries where year = ? and "
                       "feed <> 'submissions'", [year]))   # one unit per department: below
    assert set(rows.values()) == {"loaded"} and len(rows) == 8
    for table in ("stg_population__townships", "stg_schools__schools", "stg_health__institutions",
                  "stg_health__districts", "stg_pension__enrolments", "stg_eldercare__facilities",
                  "stg_eldercare__home_care", "stg_environment__air_quality",
                  "stg_environment__sewage"):
        n, districts = _q(db, "select count(*), count(distinct district_code) "
                              f"from staging.{table} where year = ?", [year])[0]
        assert n > 0 and districts == 10, table


def test_defect_rows_are_quarantined_with_the_right_rule(ingested):
    landing, db, year, _ = ingested
    ledger = pd.read_csv(landing / ".demo/defects.csv")
    quarantine = pd.DataFrame(_q(db, "select feed, file_name, line, column_name, rule "
                                     "from quality.quarantine where year = ?", [year]),
                              columns=["feed", "file_name", "line", "column_name", "rule"])
    for (feed, defect), (column, rule) in RULES.items():
        rule = rule.format(year=year)
        expected = set(map(tuple, ledger.loc[(ledger.feed == feed) & (ledger.defect == defect),
                                             ["file_name", "line"]].to_numpy()))
        got = set(map(tuple, quarantine.loc[(quarantine.feed == feed) &
                                            (quarantine.column_name == column) &
                                            (quarantine.rule == rule),
                                            ["file_name", "line"]].to_numpy()))
        assert expected and expected == got, (feed, defect, len(expected), len(got))


def _digest(values) -> str:
    """Person keys are compared by digest, so that a failure never prints one."""
    return hashlib.sha256("\n".join(map(str, values)).encode()).hexdigest()


def test_pension_staging_is_raw_minus_the_quarantined_lines(ingested):
    landing, db, year, _ = ingested
    assert _q(db, "select count(*) from duckdb_views() where schema_name = 'staging' "
                  "and view_name = 'stg_pension__enrolments'")[0][0] == 1
    ledger = pd.read_csv(landing / ".demo/defects.csv")
    bad = set(ledger.loc[ledger.feed == "pension", "line"])
    raw = {r[0] for r in _q(db, "select _line from raw.pension__enrolments where _year = ?",
                             [year])}
    staged = _q(db, "select _line, birth_year from staging.stg_pension__enrolments "
                    "where year = ?", [year])
    assert bad and {r[0] for r in staged} == raw - bad and len(staged) == len(raw) - len(bad)
    assert all(isinstance(r[1], int) for r in staged)
    # Line numbers are the file's: the keys at some lines, read with Python's gzip.
    path = landing / "pension" / str(year) / f"pension_{year}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    picks = [1, 2, len(lines) // 2, len(lines) - 1, len(lines)]
    keys = dict(_q(db, "select _line, person_key from raw.pension__enrolments where _year = ? "
                       f"and _line in ({', '.join(map(str, picks))})", [year]))
    assert _digest(keys[n] for n in picks) == _digest(
        json.loads(lines[n - 1]).get("person_key") for n in picks)


def test_the_largest_feed_runs_first(ingested):
    *_, result = ingested
    starts = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert starts[0] == "ingest_pension" and len(starts) == len(FEEDS)


def _staging_kinds(db: Path) -> dict[str, str]:
    return dict(_q(db, "select view_name, 'view' from duckdb_views() where schema_name = "
                       "'staging' union all select table_name, 'table' from duckdb_tables() "
                       "where schema_name = 'staging'"))


def test_staging_tables_from_before_the_views_become_views_on_the_next_run(small):
    landing, db = small
    staged = sorted(p.staging for f in FEEDS.values() for p in f.parts)
    before = {t: _table_digest(db, f"staging.{t}") for t in staged}
    assert _staging_kinds(db) == dict.fromkeys(staged, "view")
    # A warehouse as the code before the views left it: staging tables (the same rows),
    # and no reference.district_texts.
    con = duckdb.connect(str(db))
    for t in staged:
        con.execute(f"create table staging.{t}_old as select * from staging.{t}; "
                    f"drop view staging.{t}; alter table staging.{t}_old rename to {t}")
    con.execute("drop view reference.district_names; drop table reference.district_texts")
    con.close()
    assert _staging_kinds(db) == dict.fromkeys(staged, "table")
    # Nothing new was delivered: the run loads nothing, and still migrates.
    assert ingest(landing, db, 2022).success
    assert _staging_kinds(db) == dict.fromkeys(staged, "view")
    assert {t: _table_digest(db, f"staging.{t}") for t in staged} == before
    # A new pension delivery (one line is not JSON) is loaded through the view.
    path = landing / "pension" / "2022" / "pension_2022.jsonl.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"not json\n"))
    assert ingest(landing, db, 2022, feeds=["pension"]).success
    n_raw, n_staged, n_bad = _q(db, "select (select count(*) from raw.pension__enrolments), "
                                    "(select count(*) from staging.stg_pension__enrolments), "
                                    "(select count(distinct line) from quality.quarantine "
                                    "where feed = 'pension')")[0]
    assert n_bad >= 1 and n_staged == n_raw - n_bad


def test_sentinels_are_counted_not_rejected(ingested):
    landing, db, year, _ = ingested
    ledger = pd.read_csv(landing / ".demo/defects.csv")
    sentinel = set(ledger.loc[ledger.defect == "sentinel_-99", "line"])
    dup = set(ledger.loc[(ledger.feed == "environment") & (ledger.defect == "duplicate_key"),
                         "line"])
    staged = dict(_q(db, "select _line, flagged_invalid from staging.stg_environment__air_quality "
                         "where year = ? and flagged_invalid > 0", [year]))
    assert sentinel - dup and set(staged) == sentinel - dup
    assert all(v >= 1 for v in staged.values())


def test_rows_reconcile_per_delivery(ingested):
    _, db, year, result = ingested
    for read, loaded, rejected in _q(db, "select rows_read, rows_loaded, rows_rejected "
                                         "from quality.deliveries where year = ?", [year]):
        assert read == loaded + rejected and read > 0
    checks = result.get_asset_check_evaluations()
    # 10 staging tables (9, and the departments' submissions) x (critical, warning, reconcile)
    assert len(checks) == 3 * sum(len(f.parts) for f in FEEDS.values()) == 30
    assert all(c.passed for c in checks if c.check_name != "warning_expectations")


def test_materialisations_report_counts_as_numbers(ingested):
    _, _, _, result = ingested
    mats = {tuple(m.asset_key.path): m.metadata
            for m in result.get_asset_materialization_events()
            for m in [m.materialization]}
    meta = mats[("staging", "stg_schools__schools")]
    assert isinstance(meta["rows_read"], dg.IntMetadataValue)
    assert meta["rows_read"].value == meta["rows_loaded"].value + meta["rows_rejected"].value
    assert isinstance(meta["rejected_share"], dg.FloatMetadataValue)
    assert "school_id" in meta["preview"].value
    assert "person_key" not in mats[("staging", "stg_pension__enrolments")]["preview"].value


def test_data_docs_are_built_beside_the_warehouse(ingested):
    _, db, _, _ = ingested
    index = db.parent / "data_docs" / "index.html"
    assert index.exists()
    pages = list((db.parent / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) >= 18  # one page per staging table and suite


def test_data_docs_are_built_once_a_run_with_every_step_s_validations(tmp_path, monkeypatch):
    """One build when the run ends, not one after each feed: it renders the validations of
    every step of the run, and the index lists them all."""
    landing = tmp_path / "landing"
    generate(landing, Options(years=(2022,), scale=0.002))
    db = tmp_path / "wh" / "w.duckdb"
    load_reference(landing, db)
    builds: list[int] = []
    build = Validator.build_docs

    def counted(self) -> None:
        builds.append(len(self.results))
        build(self)

    monkeypatch.setattr(Validator, "build_docs", counted)
    assert ingest(landing, db, 2022, feeds=["population", "schools", "health"]).success
    assert len(builds) == 1
    listed = json.loads((db.parent / "data_docs" / "validations.json").read_text("utf-8"))
    assert builds == [len(listed)]        # every validation of the run, in that one build
    tables = {r["suite"].split(".")[1] for r in listed}     # staging.<table>.<level>
    assert {"stg_population__townships", "stg_schools__schools",
            "stg_health__institutions", "stg_health__districts"} <= tables
    for r in listed:
        assert (db.parent / "data_docs" / r["page"]).is_file()

    # A run whose step fails after its validation (the warehouse refuses the write): its
    # pages are rendered all the same, when the run ends.
    def refusing(*args, **kwargs):
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(load, "record_checks", refusing)
    failed = ingest(landing, db, 2022, feeds=["eldercare"])
    assert not failed.success and len(builds) == 2
    later = json.loads((db.parent / "data_docs" / "validations.json").read_text("utf-8"))
    assert builds[1] == len(later) - len(listed) == 4     # two tables, two suites each
    assert {r["suite"].split(".")[1] for r in later[len(listed):]} == {
        "stg_eldercare__facilities", "stg_eldercare__home_care"}


# ------------------------------------------------------------------ one year, changed in place

@pytest.fixture(scope="module")
def _small_once(tmp_path_factory) -> Path:
    """One 2022 demo year loaded once; each test gets its own copy (`small`)."""
    root = tmp_path_factory.mktemp("small")
    landing = root / "landing"
    generate(landing, Options(years=(2022,), scale=0.002))
    db = root / "wh" / "w.duckdb"
    load_reference(landing, db)
    assert ingest(landing, db, 2022).success
    return root


@pytest.fixture()
def small(_small_once, tmp_path):
    """A landing zone and a warehouse with its 2022 loaded, the test's own: a copy (files,
    their times, the warehouse and its archive) of one load made once per module."""
    shutil.copytree(_small_once / "landing", tmp_path / "landing")
    shutil.copytree(_small_once / "wh", tmp_path / "wh")
    return tmp_path / "landing", tmp_path / "wh" / "w.duckdb"


def _table_digest(db: Path, table: str) -> str:
    rows = _q(db, f"select * from {table} order by all")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.parametrize("feed, file_name, damage, problem", [
    ("pension", "pension_2022.jsonl.gz", lambda b: b[: len(b) // 2], "gzip"),
    ("schools", "schools_2022.csv", lambda b: b.decode("gbk").encode("utf-8"), "GBK"),
    ("eldercare", "home_care_2022.csv",
     lambda b: b"\n".join(b",".join(x.split(b",")[:2]) for x in b.split(b"\n")),
     "missing required column"),
    ("health", "health_2022.xlsx", None, "sheet 区县指标 is missing"),
])
def test_unreadable_delivery_fails_its_feed_and_keeps_earlier_data(small, feed, file_name,
                                                                    damage, problem):
    landing, db = small
    path = landing / feed / "2022" / file_name
    staged = {t: _table_digest(db, t) for t in _feed_tables(db, feed)}
    if damage is None:
        _drop_sheet(path, "区县指标")
    else:
        path.write_bytes(damage(path.read_bytes()))
    result = ingest(landing, db, 2022, feeds=[feed])
    # The last good delivery stays in use, so the step succeeds and what depends on the
    # feed goes on; the unreadable delivery shows as a failed critical check (WARN).
    assert result.success
    checks = [c for c in result.get_asset_check_evaluations()
              if c.check_name == "critical_expectations"]
    assert checks and all(not c.passed and c.severity == dg.AssetCheckSeverity.WARN
                          for c in checks)
    message = checks[0].metadata["message"].value
    assert file_name in message and problem in message, message
    assert {t: _table_digest(db, t) for t in staged} == staged
    status = _q(db, "select status, message from quality.deliveries where file_name = ? "
                    "order by recorded_at desc limit 1", [file_name])[0]
    assert status[0] == "failed" and problem in status[1]


def _feed_tables(db: Path, feed: str) -> list[str]:
    return [f"{s}.{t}" for s, t in _q(db, "select schema_name, table_name from duckdb_tables() "
                                          "union all select schema_name, view_name "
                                          "from duckdb_views() where not internal")
            if s in ("raw", "staging") and (t.startswith(feed) or t.startswith(f"stg_{feed}"))]


def _drop_sheet(path: Path, sheet: str) -> None:
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    keep = [s for s in wb.sheet_names if s != sheet]
    data = {s: wb.get_sheet_by_name(s).to_python() for s in keep}
    out = xlsxwriter.Workbook(str(path))
    for s in keep:
        ws = out.add_worksheet(s)
        for r, row in enumerate(data[s]):
            ws.write_row(r, 0, row)
    out.close()


def test_superseding_delivery_replaces_the_year_and_both_stay_archived(small):
    landing, db = small
    path = landing / "schools" / "2022" / "schools_2022.csv"
    old_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    text = path.read_bytes().decode("gbk").splitlines()
    path.write_bytes(("\r\n".join(text[:-10]) + "\r\n").encode("gbk"))  # corrected: 10 fewer
    before = _q(db, "select count(*) from raw.schools__schools where _year = 2022")[0][0]
    assert ingest(landing, db, 2022, feeds=["schools"]).success
    after = _q(db, "select count(*) from raw.schools__schools where _year = 2022")[0][0]
    assert after == before - 10
    statuses = dict(_q(db, "select sha256, status from quality.deliveries "
                           "where file_name = 'schools_2022.csv'"))
    assert statuses[old_sha] == "superseded" and sorted(statuses.values()) == ["loaded",
                                                                              "superseded"]
    archived = {p.name.split(".")[0] for p in (db.parent / "archive").rglob("*.csv")}
    assert old_sha in archived and len(archived & set(statuses)) == 2


def test_rerunning_the_same_delivery_changes_nothing(small):
    landing, db = small
    tables = ["raw.pension__enrolments", "staging.stg_pension__enrolments",
              "staging.stg_schools__schools", "quality.quarantine"]
    before = {t: _table_digest(db, t) for t in tables}
    deliveries = _q(db, "select count(*) from quality.deliveries")[0][0]
    result = ingest(landing, db, 2022)
    assert result.success
    assert {t: _table_digest(db, t) for t in tables} == before
    assert _q(db, "select count(*) from quality.deliveries")[0][0] == deliveries
    mats = result.get_asset_materialization_events()
    assert all(m.materialization.metadata["unchanged"].value for m in mats)


def _drop_district(path: Path, code: str) -> None:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join(x for x in lines if f",{code}," not in x) + "\n", encoding="utf-8")


def test_a_rejected_delivery_replaces_nothing_and_downstream_goes_on(small):
    landing, db = small
    before = _table_digest(db, "staging.stg_population__townships")
    # Taicang's townships are missing from the redelivery: all 10 districts are required.
    _drop_district(landing / "population" / "2022" / "population_2022.csv", "320585")
    result = ingest(landing, db, 2022, feeds=["population", "eldercare"])
    assert result.success
    checks = {(c.asset_key.path[-1], c.check_name): c
              for c in result.get_asset_check_evaluations()}
    critical = checks[("stg_population__townships", "critical_expectations")]
    assert critical.passed is False and critical.severity == dg.AssetCheckSeverity.WARN
    assert _table_digest(db, "staging.stg_population__townships") == before
    ran = {m.materialization.asset_key.path[-1] for m in result.get_asset_materialization_events()}
    assert {"stg_eldercare__facilities", "stg_eldercare__home_care"} <= ran
    statuses = [r[0] for r in _q(db, "select status from quality.deliveries where file_name = "
                                     "'population_2022.csv' order by recorded_at")]
    assert statuses == ["loaded", "rejected"]
    failed = _q(db, "select failures from quality.check_results where table_name = "
                    "'stg_population__townships' and suite = 'critical' and not passed")[0][0]
    assert "districts_present" in failed or "district_code" in failed


def test_a_rejected_first_delivery_blocks_downstream(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, Options(years=(2022,), scale=0.002))
    _drop_district(landing / "population" / "2022" / "population_2022.csv", "320585")
    db = tmp_path / "wh" / "w.duckdb"
    load_reference(landing, db)
    result = ingest(landing, db, 2022, feeds=["population", "eldercare"])
    assert not result.success
    checks = {(c.asset_key.path[-1], c.check_name): c
              for c in result.get_asset_check_evaluations()}
    critical = checks[("stg_population__townships", "critical_expectations")]
    assert critical.passed is False and critical.severity == dg.AssetCheckSeverity.ERROR
    ran = {m.materialization.asset_key.path[-1] for m in result.get_asset_materialization_events()}
    assert not ran & {"stg_population__townships", "stg_eldercare__facilities",
                      "stg_eldercare__home_care"}
    assert "stg_population__townships" not in _staging_kinds(db)


def test_unexpected_files_are_recorded_not_read(small):
    landing, db = small
    (landing / "schools" / "2022" / "schools_2022 (1).csv").write_bytes(b"x")
    shutil.copy(landing / "schools" / "2022" / "schools_2022.csv",
                landing / "schools" / "2022" / "schools_2021.csv")
    assert ingest(landing, db, 2022, feeds=["schools"]).success
    rows = dict(_q(db, "select file_name, message from quality.deliveries "
                       "where status = 'unexpected'"))
    assert set(rows) == {"schools_2022 (1).csv", "schools_2021.csv"}
    assert "folder is 2022" in rows["schools_2021.csv"]


def test_truncated_gzip_is_detected_independently(small):
    landing, _ = small
    data = (landing / "pension/2022/pension_2022.jsonl.gz").read_bytes()
    with pytest.raises(EOFError):
        gzip.decompress(data[: len(data) // 2])


def test_the_expectations_sample_is_repeatable_and_near_its_size():
    from junheng.quality.expectations import frame

    con = duckdb.connect()
    con.execute("create schema staging; create table staging.t as select range + 2 as _line, "
                "2024 as year, range * 3 as v from range(50000)")
    suite = {"meta": {"max_rows": 5000},
             "expectations": [{"type": "x", "kwargs": {"column": "v"}}]}
    prof = {"rows_loaded": 50000}
    first = frame(con, "t", 2024, suite, prof)
    con.execute("set threads = 1")
    again = frame(con, "t", 2024, suite, prof)
    assert 4000 < len(first) < 6000
    assert sorted(first["v"]) == sorted(again["v"])
    everything = frame(con, "t", 2024, {**suite, "meta": {"max_rows": 50000}}, prof)
    assert len(everything) == 50000


def test_a_correction_with_the_same_size_and_mtime_is_read(small):
    """`cp -p` of a corrected file, or a zip, keeps size and modification time: the inode's
    change time still tells the archive that the content may differ."""
    landing, db = small
    path = landing / "schools" / "2022" / "schools_2022.csv"
    st = path.stat()
    data = path.read_bytes().decode("gbk").splitlines(keepends=True)
    first = data[1].split(",")
    digit = first[-2][-1]                       # the last digit of the enrolment count
    first[-2] = first[-2][:-1] + ("1" if digit != "1" else "2")
    data[1] = ",".join(first)
    path.write_bytes("".join(data).encode("gbk"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert ingest(landing, db, 2022, feeds=["schools"]).success
    statuses = sorted(r[0] for r in _q(db, "select status from quality.deliveries "
                                           "where file_name = 'schools_2022.csv'"))
    assert statuses == ["loaded", "superseded"]


def test_great_expectations_runs_on_the_steps_thread(ingested):
    """GX imported on a second thread raced Dagster's own imports of SQLAlchemy
    ("partially initialized module 'sqlalchemy.orm.exc'"): no GX thread any more."""
    import threading

    assert not [t.name for t in threading.enumerate() if t.name.startswith("gx")]
    import assets.feeds as feeds

    assert not hasattr(feeds, "_GX")


def test_every_check_result_shows_its_reporting_year(ingested):
    *_, year, result = ingested
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and {e.partition for e in evaluations} == {str(year)}


def test_last_years_file_delivered_again_is_rejected(small):
    """Byte for byte the 2022 schools file, delivered as 2023's: every rule passes (the
    rows carry no year), so the gate compares the content with other years' deliveries."""
    landing, db = small
    folder = landing / "schools" / "2023"
    folder.mkdir(parents=True)
    shutil.copy(landing / "schools" / "2022" / "schools_2022.csv", folder / "schools_2023.csv")
    result = ingest(landing, db, 2023, feeds=["schools"])
    assert not result.success           # no good 2023 schools data: blocked
    status, message = _q(db, "select status, message from quality.deliveries where year = 2023 "
                             "and file_name = 'schools_2023.csv'")[0]
    assert status == "rejected" and "byte for byte the delivery schools_2022.csv of 2022" \
        in message
    assert _q(db, "select count(*) from staging.stg_schools__schools where year = 2023")[0][0] \
        == 0


def test_a_good_file_rejected_beside_a_bad_one_is_audited_again_once_that_is_fixed(small):
    landing, db = small
    folder = landing / "environment" / "2022"
    air, sewage = folder / "air_quality_2022.csv", folder / "sewage_2022.csv"
    good_sewage = sewage.read_bytes()
    lines = air.read_text(encoding="utf-8").splitlines()
    air.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")      # a corrected air file
    sewage.write_text("".join(x for x in good_sewage.decode("utf-8").splitlines(True)
                              if not x.startswith("320585")), encoding="utf-8")  # a bad one
    assert ingest(landing, db, 2022, feeds=["environment"]).success
    assert _q(db, "select status from quality.deliveries where file_name = "
                  "'air_quality_2022.csv' order by recorded_at desc limit 1") == [("rejected",)]
    sewage.write_bytes(good_sewage)                                      # put right
    assert ingest(landing, db, 2022, feeds=["environment"]).success
    assert _q(db, "select status from quality.deliveries where file_name = "
                  "'air_quality_2022.csv' order by recorded_at desc limit 1") == [("loaded",)]
    assert _q(db, "select count(*) from raw.environment__air_quality where _year = 2022")[0][0] \
        == len(lines) - 2


def test_pension_values_must_be_exact_not_trimmed():
    """The staging view keeps the delivered text: ' employee' must be quarantined, not
    counted apart from 'employee'."""
    from sql_helpers import delivery, warehouse

    from junheng.sql import sql_text

    con = warehouse()
    key = "ab" * 32
    delivery(con, {"person_key": [key, key[::-1]], "district_code": ["320508", "320508"],
                   "scheme": ["employee ", "resident"], "birth_year": ["1970", "1970"],
                   "sex": ["F", "M "], "status": ["receiving", "contributing"]})
    rows = con.execute("select _line, _violations from (" + sql_text(
        "staging/stg_pension__enrolments.sql") + ") order by _line", {"year": 2022}).fetchall()
    rules = {line: sorted(v["column_name"] for v in vs) for line, vs in rows}
    assert rules == {2: ["scheme"], 3: ["sex"]}
