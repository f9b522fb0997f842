"""The submissions feed: each department's file is its own unit of delivery (feeds.md,
section 7 and the last section). Real materialisations on a temporary warehouse, real GX
suites, small department files written here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from ingest_helpers import (
    SUBMISSION_HEADER,
    ingest,
    resources,
    submission_rows,
    write_submission,
    write_submissions,
)

from assets import reference
from junheng.ingest.feeds import SUBMISSION_DEPARTMENTS
from junheng.ingest.submissions import submission_status
from junheng.methodology.sources import rejected_rows

YEAR = 2021


def _reference(landing: Path, db: Path) -> None:
    """What the ingest reads of the reference data: the districts and their aliases."""
    result = dg.materialize(
        dg.load_assets_from_modules([reference]), resources=resources(landing, db),
        selection=[dg.AssetKey(["reference", "districts"]),
                   dg.AssetKey(["reference", "district_aliases"])])
    assert result.success


@pytest.fixture()
def wh(tmp_path) -> tuple[Path, Path]:
    landing, db = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    landing.mkdir()
    _reference(landing, db)
    return landing, db


def _q(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _status(db: Path, year: int = YEAR) -> dict[str, tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return submission_status(con, year)
    finally:
        con.close()


def _rows(db: Path, department: str, year: int = YEAR) -> str:
    """Digest of a department's staging and raw rows of a year."""
    rows = _q(db, "select * exclude (year) from staging.stg_submissions__indicators where "
                  "year = ? and department = ? order by all", [year, department])
    raw = _q(db, "select * from raw.submissions__indicators where _year = ? and department = ? "
                 "order by all", [year, department])
    assert rows and raw
    return hashlib.sha256(repr((rows, raw)).encode()).hexdigest()


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()
            if c.asset_key.path[-1] == "stg_submissions__indicators"}


def _run(landing: Path, db: Path, year: int = YEAR) -> dg.ExecuteInProcessResult:
    result = ingest(landing, db, year, feeds=["submissions"])
    assert result.success      # whatever a department delivered: never blocked
    return result


def test_good_department_files_are_published(wh):
    landing, db = wh
    write_submission(landing, "health", YEAR)
    write_submission(landing, "public_security", YEAR)
    result = _run(landing, db)
    deliveries = _q(db, "select department, file_name, status, rows_read, rows_loaded, "
                        "rows_rejected from quality.deliveries where feed = 'submissions'")
    assert sorted(deliveries) == [("health", "health_2021.csv", "loaded", 10, 10, 0),
                                  ("public_security", "public_security_2021.csv", "loaded",
                                   11, 11, 0)]
    staged = _q(db, "select department, indicator_id, count(*), count(distinct district_code) "
                    "from staging.stg_submissions__indicators where year = ? group by all "
                    "order by all", [YEAR])
    assert staged == [("health", "C1", 10, 10), ("public_security", "I3", 11, 11)]
    city = _q(db, "select value, standard_error, sample_size from "
                  "staging.stg_submissions__indicators where district_code = '320500'")
    assert city == [(94.1, 0.3, 4000)]
    status = _status(db)
    assert set(status) == set(SUBMISSION_DEPARTMENTS)
    assert status["health"][0] == "in use" and "health_2021.csv" in status["health"][1]
    assert status["education"] == ("not delivered", "education_2021.csv not delivered: "
                                   "submissions/2021/ holds no good delivery of it")
    checks = _checks(result)
    assert checks["critical_expectations"].passed and checks["rows_reconcile"].passed
    mats = {tuple(m.materialization.asset_key.path): m.materialization.metadata
            for m in result.get_asset_materialization_events()}
    meta = mats[("staging", "stg_submissions__indicators")]
    assert meta["delivery_status"].value["health"] == "published"
    assert meta["delivery_status"].value["education"] == "not delivered"
    assert meta["departments_in_use"].value == 2 and meta["rows_loaded"].value == 21
    # The same files again: nothing is read, audited or recorded again.
    again = _run(landing, db)
    meta = {tuple(m.materialization.asset_key.path): m.materialization.metadata
            for m in again.get_asset_materialization_events()}[
        ("staging", "stg_submissions__indicators")]
    assert meta["delivery_status"].value["health"] == "unchanged" and meta["unchanged"].value
    assert len(_q(db, "select * from quality.deliveries")) == 2


def _validations(db: Path) -> list[tuple[str, str, str]]:
    """(suite level, status, run name) of the submissions' GX validations in Data Docs, in
    the order they were made."""
    rows = json.loads((db.parent / "data_docs" / "validations.json").read_text("utf-8"))
    return [(r["suite"].rsplit(".", 1)[1], r["status"], r["run_name"].split(" ", 2)[2])
            for r in rows if "stg_submissions__indicators" in r["suite"]]


def test_a_rejected_department_replaces_nothing_and_holds_back_no_other(wh):
    landing, db = wh
    write_submissions(landing, YEAR)
    _run(landing, db)
    # The 14 departments' candidates are validated together: one validation per suite, not
    # 28 (each department passes both).
    n = len(SUBMISSION_DEPARTMENTS)
    assert _validations(db) == [("critical", "Success", f"{n} together"),
                                ("warning", "Success", f"{n} together")]
    before = {d: _rows(db, d) for d in SUBMISSION_DEPARTMENTS}
    # civil_affairs redelivers a file of which most rows are another department's
    # indicators (rejected rows beyond the critical share); health a correction.
    bad = [["C1", r[1], "5", "", "", "", "", ""] for r in submission_rows("civil_affairs")]
    write_submission(landing, "civil_affairs", YEAR, rows=bad[:25] + submission_rows(
        "civil_affairs")[25:])
    corrected = submission_rows("health", YEAR)
    corrected[0][2] = "999"
    write_submission(landing, "health", YEAR, rows=corrected)
    result = _run(landing, db)
    statuses = dict(_q(db, "select file_name, status from quality.deliveries where status "
                           "in ('loaded', 'rejected') order by recorded_at"))   # the newest
    assert statuses["civil_affairs_2021.csv"] == "rejected"
    assert statuses["health_2021.csv"] == "loaded"
    assert _rows(db, "civil_affairs") == before["civil_affairs"]       # its last good data
    assert _rows(db, "health") != before["health"]                     # the correction
    assert _q(db, "select numerator from staging.stg_submissions__indicators where "
                  "department = 'health' and _line = 2") == [(999.0,)]
    assert all(_rows(db, d) == before[d] for d in SUBMISSION_DEPARTMENTS
               if d not in ("civil_affairs", "health"))
    checks = _checks(result)
    critical = checks["critical_expectations"]
    assert not critical.passed and critical.severity == dg.AssetCheckSeverity.WARN
    assert "rejected_share" in critical.metadata["failures"].value["civil_affairs"]
    assert set(critical.metadata["failures"].value) == {"civil_affairs"}
    # Validated together, the two new files failed both suites on civil_affairs's rows
    # only: it was validated again on its own (and failed), health was not.
    assert _validations(db)[2:] == [("critical", "Failed", "2 together"),
                                    ("critical", "Failed", "civil_affairs"),
                                    ("warning", "Failed", "2 together"),
                                    ("warning", "Failed", "civil_affairs")]
    assert checks["warning_expectations"].metadata["failures"].value.keys() == {
        "civil_affairs"}
    assert checks["rows_reconcile"].passed
    status = _status(db)
    assert status["civil_affairs"][0] == "in use" and "rejected" in status["civil_affairs"][1]
    # The quarantine of civil_affairs is the one of its data in use: no rejected row.
    assert _q(db, "select count(*) from quality.quarantine where file_name = "
                  "'civil_affairs_2021.csv'") == [(0,)]
    # The same rejected file again is not audited again.
    again = _run(landing, db)
    meta = {tuple(m.materialization.asset_key.path): m.materialization.metadata
            for m in again.get_asset_materialization_events()}[
        ("staging", "stg_submissions__indicators")]
    assert meta["delivery_status"].value["civil_affairs"] == "rejected before"


def test_a_file_the_warehouse_refuses_fails_its_department_only(wh, monkeypatch):
    """The departments are staged before any is audited: a statement DuckDB refuses while
    one department's file is checked fails that department, never the others."""
    from junheng.ingest import load

    landing, db = wh
    write_submissions(landing, YEAR)
    real = load._stage_candidate

    def refusing(con, feed, *args, **kwargs):
        if feed.unit == "education":      # a real refusal, quoting a value as DuckDB does
            con.execute("select 'ab12cd34ef56ab12cd34ef56'::integer")
        return real(con, feed, *args, **kwargs)

    monkeypatch.setattr(load, "_stage_candidate", refusing)
    result = _run(landing, db)
    loaded = {r[0] for r in _q(db, "select department from quality.deliveries where "
                                   "status = 'loaded'")}
    assert loaded == set(SUBMISSION_DEPARTMENTS) - {"education"}
    ((status, message),) = _q(db, "select status, message from quality.deliveries where "
                                  "department = 'education'")
    assert status == "failed" and message.startswith("education_2021.csv: the warehouse "
                                                     "refused a statement")
    assert "ab12cd34ef56" not in message                     # scrubbed: it can be data
    critical = _checks(result)["critical_expectations"]
    assert set(critical.metadata["failures"].value) == {"education"}
    assert not _q(db, "select * from staging.stg_submissions__indicators where department "
                      "= 'education'")
    # Mended, the next run reads it again (a failed delivery was never audited).
    monkeypatch.setattr(load, "_stage_candidate", real)
    _run(landing, db)
    assert _status(db)["education"][0] == "in use"


def test_a_first_delivery_rejected_leaves_the_department_without_data(wh):
    landing, db = wh
    write_submission(landing, "health", YEAR)
    rows = submission_rows("public_security", YEAR)
    for r in rows[1:]:
        r[4] = str(float(r[4]) * 10)    # permille for percent: about 900 %
    write_submission(landing, "public_security", YEAR, rows=rows)
    result = _run(landing, db)
    status = _status(db)
    assert status["public_security"][0] == "rejected"
    assert "percent_value" in status["public_security"][1]
    assert status["health"][0] == "in use"
    assert _q(db, "select distinct department from staging.stg_submissions__indicators") == [
        ("health",)]
    assert _checks(result)["critical_expectations"].severity == dg.AssetCheckSeverity.WARN


def test_an_estimate_without_its_city_row_keeps_its_districts(wh):
    landing, db = wh
    rows = submission_rows("public_security", YEAR)
    write_submission(landing, "public_security", YEAR,
                     rows=[r for r in rows if r[1] != "320500"])   # no city row
    result = _run(landing, db)
    assert _status(db)["public_security"][0] == "in use"
    assert _q(db, "select count(*), count(*) filter (district_code = '320500') from "
                  "staging.stg_submissions__indicators") == [(10, 0)]
    warning = _checks(result)["warning_expectations"]
    assert not warning.passed
    assert "estimate_city_rows_missing" in warning.metadata["failures"].value["public_security"]


def test_a_missing_department_file_affects_no_other(wh):
    landing, db = wh
    write_submissions(landing, YEAR, [d for d in SUBMISSION_DEPARTMENTS if d != "transport"])
    result = _run(landing, db)
    status = _status(db)
    assert status["transport"][0] == "not delivered"
    assert all(s == "in use" for d, (s, _) in status.items() if d != "transport")
    assert _checks(result)["critical_expectations"].passed
    # A file taken away later: the department's last good data stays in use.
    before = _rows(db, "sport")
    (landing / "submissions" / str(YEAR) / f"sport_{YEAR}.csv").unlink()
    _run(landing, db)
    assert _rows(db, "sport") == before and _status(db)["sport"][0] == "in use"


def test_nothing_delivered_still_gives_the_tables_downstream_reads(wh):
    landing, db = wh
    result = _run(landing, db)
    assert _q(db, "select count(*) from staging.stg_submissions__indicators") == [(0,)]
    assert {s for s, _ in _status(db).values()} == {"not delivered"}
    ran = {tuple(m.materialization.asset_key.path)
           for m in result.get_asset_materialization_events()}
    assert ("staging", "stg_submissions__indicators") in ran


@pytest.mark.parametrize("damage, problem, line, column", [
    (lambda text: text.encode("gbk"), "not valid UTF-8", 1, None),
    (lambda text: text.replace("分母", "分母数", 1).encode("utf-8"),
     "missing required column(s) 分母", 1, "分母"),
])
def test_an_unreadable_file_fails_only_its_department(wh, damage, problem, line, column):
    landing, db = wh
    write_submissions(landing, YEAR, ["civil_affairs", "health", "education"])
    _run(landing, db)
    before = _rows(db, "civil_affairs")
    path = write_submission(landing, "civil_affairs", YEAR)
    path.write_bytes(damage(path.read_bytes().decode("utf-8-sig") + "C2,姑苏,1,2,,,,改\n"))
    corrected = submission_rows("education", YEAR)
    corrected[12][2] = "1234"                      # E6, line 14
    write_submission(landing, "education", YEAR, rows=corrected)
    result = _run(landing, db)
    failed = _q(db, "select status, message from quality.deliveries where file_name = "
                    "'civil_affairs_2021.csv' order by recorded_at desc limit 1")[0]
    assert failed[0] == "failed" and problem in failed[1]
    assert failed[1].startswith(f"civil_affairs_2021.csv, line {line}")
    if column:
        assert f"column {column}" in failed[1]
    assert _rows(db, "civil_affairs") == before
    assert _status(db)["civil_affairs"][0] == "in use"
    assert _q(db, "select numerator from staging.stg_submissions__indicators where "
                  "department = 'education' and _line = 14") == [(1234.0,)]
    critical = _checks(result)["critical_expectations"]
    assert not critical.passed and critical.severity == dg.AssetCheckSeverity.WARN
    assert problem in critical.metadata["failures"].value["civil_affairs"]


def test_an_unreadable_first_delivery_is_failed_with_its_reason(wh):
    landing, db = wh
    write_submission(landing, "veterans", YEAR, header=SUBMISSION_HEADER[:3])
    write_submission(landing, "sport", YEAR)
    _run(landing, db)
    status = _status(db)
    assert status["veterans"][0] == "failed"
    assert "veterans_2021.csv" in status["veterans"][1] and "分母" in status["veterans"][1]
    assert status["sport"][0] == "in use"


def test_rejected_rows_name_file_line_column_and_rule_and_their_district(wh):
    landing, db = wh
    rows = submission_rows("civil_affairs", YEAR)
    rows[5][2] = "-3"                   # line 7: 320571 written '　园区 '
    rows[12][0] = "C1"                  # line 14: health's indicator
    write_submission(landing, "civil_affairs", YEAR, rows=rows)
    _run(landing, db)
    quarantined = _q(db, "select file_name, line, column_name, rule, value from "
                         "quality.quarantine order by line")
    assert quarantined == [
        ("civil_affairs_2021.csv", 7, "分子", ">= 0", "-3"),
        ("civil_affairs_2021.csv", 14, "指标编码",
         "an indicator of this department in the catalogue", "C1")]
    con = duckdb.connect(str(db), read_only=True)
    try:
        attributed = rejected_rows(con, YEAR, "stg_submissions__indicators")
    finally:
        con.close()
    # Attributed after NFKC ('　园区 ' is 320571); health's C1 in the civil affairs file
    # counts against that file only, never against C1 (feeds.md section 7).
    got = sorted(zip(attributed["indicator_id"], attributed["district_code"], strict=True))
    assert got == [("C2", "320571")]
    assert _q(db, "select rows_read, rows_loaded, rows_rejected from quality.deliveries") == [
        (30, 28, 2)]
