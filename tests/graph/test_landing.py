"""The landing-zone inventory: what is read, what is reported and never opened, and which
reporting years run; `junheng run` on an untidy landing zone; `demo-feeds --if-missing`."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from junheng.demo.generator import LEDGER_DIR, Options, generate
from junheng.ops.landing import (
    PLAN_PERIOD,
    Finding,
    complete_feed_years,
    inventory,
    overdue,
    year_entries,
    years_in_landing,
)
from pipelines.cli import main

SYMLINK = "a symbolic link: not read"
NOT_YEAR = "not a reporting-year folder (four digits): not read"
NOT_UTF8 = "\\xb2\\xe2\\xca\\xd4.csv"          # 测试.csv, zipped on a Chinese Windows (GBK)

# Every file an audit hook saw opened while the tests of this module ran code under test.
_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def _opening(fn, *args):
    """fn(*args) on a thread (a FIFO opened for reading would block it: the test fails
    instead of hanging), with the files it opened."""
    global _opened
    _opened, out = [], []
    worker = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    worker.start()
    worker.join(30)
    opened, _opened = _opened, None
    assert out, "blocked: something in the landing zone was opened"
    return out[0], opened


@pytest.fixture
def untidy(tmp_path) -> Path:
    landing = tmp_path / "landing"
    year = landing / "population" / "2021"
    year.mkdir(parents=True)
    (year / "population_2021.csv").write_text("年份\n2021\n", encoding="utf-8")
    (year / ".population_2021.csv.swp").write_text("")          # ignored silently
    os.symlink("/etc/passwd", year / "passwd.csv")
    os.mkfifo(year / "pipe.csv")
    (year / "old").mkdir()
    (year / "old" / "population_2021.csv").write_text("")
    raw = os.fsencode(year)
    os.close(os.open(os.path.join(raw, b"\xb2\xe2\xca\xd4.csv"), os.O_CREAT | os.O_WRONLY))
    (landing / "population" / "2021_old").mkdir()
    (landing / "population" / "2021_old" / "population_2021.csv").write_text("")
    (landing / "population" / "2021 (copy)").mkdir()
    (landing / "notes.txt").write_text("")
    (landing / "archive").mkdir()
    (landing / ".demo").mkdir()                                   # ignored silently
    os.symlink(year, landing / "pension")                         # a linked feed folder
    (landing / "schools" / "2022").mkdir(parents=True)
    (landing / "schools" / "schools_2022.csv").write_text("")
    os.symlink(year / "population_2021.csv", landing / "schools/2022/schools_2022.csv")
    (landing / "schools" / "2026").mkdir()
    (landing / "health" / "2019").mkdir(parents=True)
    (landing / "health" / "2019" / "health_2019.xlsx").write_text("x")
    (landing / "health" / "2023").mkdir()
    (landing / "eldercare").mkdir()
    os.symlink(year, landing / "eldercare" / "2022")              # a linked year folder
    return landing


FINDINGS = {
    "archive": "a folder that is no feed of feeds.md: not read",
    "notes.txt": "a file that is no feed of feeds.md: not read",
    "pension": SYMLINK,
    "eldercare/2022": SYMLINK,
    "health/2019": PLAN_PERIOD,
    "health/2023": "empty folder",
    "population/2021 (copy)": NOT_YEAR,
    "population/2021_old": NOT_YEAR,
    "population/2021/old": "a folder inside a year folder: not read",
    "population/2021/passwd.csv": SYMLINK,
    "population/2021/pipe.csv": "not a regular file: not read",
    f"population/2021/{NOT_UTF8}": "file name is not UTF-8: not read",
    "schools/2022/schools_2022.csv": SYMLINK,
    "schools/2026": PLAN_PERIOD,
    "schools/schools_2022.csv": "a file directly in a feed folder (deliveries go in "
                                "schools/<year>/): not read",
}


def test_inventory_reports_everything_it_does_not_read_once_and_opens_nothing(untidy):
    (years, findings), opened = _opening(inventory, untidy, ("population", "schools", "health",
                                                             "pension", "eldercare",
                                                             "environment"))
    assert years == [2021]                       # the one plan year with a regular file
    assert {f.path: f.problem for f in findings} == FINDINGS
    assert len(findings) == len(FINDINGS)        # each once
    assert all(f.path.isprintable() for f in findings)
    assert opened == []                          # told apart by lstat alone
    assert years_in_landing(untidy, ["population", "health"]) == [2021]


def test_year_entries_lists_regular_files_only(untidy):
    files, findings = year_entries(untidy / "population" / "2021")
    assert files == [untidy / "population" / "2021" / "population_2021.csv"]
    assert sorted(f.path for f in findings) == sorted(
        k for k in FINDINGS if k.startswith("population/2021/"))
    # A linked year folder, a year folder in a linked feed folder: not listed.
    assert year_entries(untidy / "eldercare/2022") == ([], [Finding("eldercare/2022", SYMLINK)])
    assert year_entries(untidy / "pension/2021") == ([], [Finding("pension", SYMLINK)])


def test_complete_feed_years_follow_the_same_rules_and_hash_only_settled_files(untidy):
    cache: dict = {}
    first, opened = _opening(complete_feed_years, untidy, cache)
    # schools 2022 is a link, eldercare 2022 a linked folder: neither is a delivery.
    assert [(fy.feed, fy.year, fy.settled) for fy in first] == [("population", 2021, False)]
    assert opened == []                          # seen for the first time: not hashed yet
    second, opened = _opening(complete_feed_years, untidy, cache)
    assert second[0].settled and second[0].digest
    assert opened == [str(untidy / "population/2021/population_2021.csv")]
    third, opened = _opening(complete_feed_years, untidy, cache)
    assert third[0].digest == second[0].digest and opened == []       # the hash is kept
    late = {(o["feed"], o["year"]) for o in overdue(untidy, date(2026, 12, 31))}
    assert ("schools", 2022) in late and ("population", 2021) not in late


def test_junheng_run_reports_the_landing_zone_and_runs_the_plan_years(untidy_run):
    root, env, out = untidy_run
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "ingest 2020: ok" in out.stdout
    for line in ("landing: schools/2026: " + PLAN_PERIOD, "landing: population/2019: "
                 + PLAN_PERIOD, "landing: health/2023: empty folder",
                 "landing: README.txt: a file that is no feed of feeds.md: not read"):
        assert out.stdout.count(line) == 1, line
    assert "ingest 2019" not in out.stdout and "ingest 2026" not in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    alerts = Path(env["JUNHENG_ALERT_LOG"])
    logged = alerts.read_text(encoding="utf-8") if alerts.exists() else ""
    assert not any(x in logged for x in ("2019", "2026", "README", "health/2023"))
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_dynamic_partitions("reporting_year") == ["2020"]


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_if_missing_keeps_demo_feeds_made_with_other_options(tmp_path, capsys):
    generate(tmp_path, Options(years=(2022,), scale=0.003, broken=True))
    before = _snapshot(tmp_path)
    assert main(["demo-feeds", "--landing", str(tmp_path), "--years", "2022",
                 "--scale", "0.002", "--if-missing"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "other options" in lines[0] and "make demo" in lines[0]
    assert "scale 0.003 (not 0.002)" in lines[0] and "broken True (not False)" in lines[0]
    assert _snapshot(tmp_path) == before
    assert json.loads((tmp_path / LEDGER_DIR / "manifest.json").read_text())["options"][
        "broken"] is True


def test_if_missing_never_touches_files_that_are_not_demo_feeds(tmp_path, capsys):
    own = tmp_path / "population" / "2024" / "population_2024.csv"
    own.parent.mkdir(parents=True)
    own.write_text("年份,区县代码\n2024,320505\n", encoding="utf-8")
    before = _snapshot(tmp_path)
    assert main(["demo-feeds", "--landing", str(tmp_path), "--if-missing"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "not demo feeds: left untouched" in lines[0]
    assert _snapshot(tmp_path) == before and not (tmp_path / LEDGER_DIR).exists()
