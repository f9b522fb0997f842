"""Reliability: bad deliveries, crashes, privacy and provenance (also `-m reliability`)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import junheng_run, run_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from junheng.ingest.feeds import FEEDS, POPULATION, SCHOOLS
from junheng.ingest.readers import DeliveryError, read_small_csv

pytestmark = pytest.mark.reliability

PROVENANCE = """
select v.year, v.district_code, v.indicator_id, v.value, d.feed, d.file_name, d.sha256
from marts.indicator_values v
join reference.indicators i using (indicator_id)
join quality.deliveries d
  on d.year = v.year and d.status = 'loaded'
 and list_contains(string_split(i.source, '|'), d.feed)
where v.year = ? and v.district_code = ? and v.indicator_id = ?
order by d.feed, d.file_name
"""


# ------------------------------------------------------------------ readers, fuzzed

POP_HEADER = ",".join(POPULATION.files[0].parts[0].columns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzzed_bytes_never_crash_the_csv_reader(data):
    for spec in (POPULATION.files[0], SCHOOLS.files[0]):
        try:
            table, _ = read_small_csv(data, spec, "fuzz.csv")
        except DeliveryError as exc:
            assert str(exc).startswith("fuzz.csv")     # a clear error naming the file
        else:
            assert isinstance(table, pa.Table)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(max_size=8), min_size=0, max_size=12), max_size=20))
def test_fuzzed_rows_are_read_or_marked_never_lost(rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows([r for r in rows if r])
    data = (POP_HEADER + "\n" + buf.getvalue()).encode("utf-8")
    try:
        table, _ = read_small_csv(data, POPULATION.files[0], "p.csv")
    except DeliveryError:
        return
    non_blank = [r for r in rows if r and any(c.strip() for c in r)]
    assert table.num_rows == len(non_blank)               # every record is kept
    errors = table.column("_error").to_pylist()
    for r, e in zip(non_blank, errors, strict=False):
        assert (e is None) == (len(r) == 10)


@pytest.mark.parametrize("data, problem", [
    (b"", "empty file"),
    (b"\xef\xbb\xbf", "no header"),
    ("年份,区县代码\n".encode(), "missing required column"),
    ("年份,区县代码\n2020,320508\n".encode("gbk"), "not valid UTF-8"),
    ("\ufeff" + POP_HEADER + "\n", None),                    # header only: zero rows
])
def test_bad_population_files(data, problem):
    data = data.encode() if isinstance(data, str) else data
    if problem is None:
        table, _ = read_small_csv(data, POPULATION.files[0], "population_2020.csv")
        assert table.num_rows == 0
        return
    with pytest.raises(DeliveryError) as exc:
        read_small_csv(data, POPULATION.files[0], "population_2020.csv")
    assert "population_2020.csv" in str(exc.value) and problem in str(exc.value)


def test_mixed_encodings_name_the_line():
    data = (SCHOOLS_HEADER + "\n").encode("gbk") + "1234567890,实验小学,姑苏区\n".encode(
        "gbk") + "1234567891,实验中学,姑苏区\n".encode()
    with pytest.raises(DeliveryError) as exc:
        read_small_csv(data, SCHOOLS.files[0], "schools_2020.csv")
    assert exc.value.line == 3


SCHOOLS_HEADER = ",".join(SCHOOLS.files[0].parts[0].columns)


def test_rows_with_odd_values_are_quarantined_with_reasons(tmp_path):
    """Thousands separators, full-width digits, extra columns, wrong types: rows kept and
    quarantined with the rule, the rest loaded; the counts reconcile."""
    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import load_feed_year

    landing = tmp_path / "landing"
    (landing / "population" / "2020").mkdir(parents=True)
    rows = ["2020,320508,320508001,甲街道,100,1,2,3,84,10,ok",
            "2020,320508,320508002,乙街道,\"1,000\",1,2,3,984,10,",       # separator
            "2020,320508,320508003,丙街道,１００,1,2,3,84,10,",           # full-width
            "2020,320508,320508004,丁街道,abc,1,2,3,84,10,",              # not an int
            "2020,320508,320508005,戊街道,100,1,2,3,84,10,x,y"]           # a field too many
    (landing / "population/2020/population_2020.csv").write_text(
        POP_HEADER + ",备注\n" + "\n".join(rows) + "\n", encoding="utf-8")
    con = warehouse()
    result = load_feed_year(con, FEEDS["population"], 2020, landing, tmp_path / "a", "t",
                            accept_all)
    part = result.audited[0]
    assert (part.rows_read, part.rows_loaded, part.rows_rejected) == (5, 1, 4)
    assert part.extra_columns == ["备注"]
    rules = dict(con.execute("select line, rule from quality.quarantine order by line"
                             ).fetchall())
    assert rules == {3: "integer", 4: "integer", 5: "integer", 6: "parsable row"}


# ------------------------------------------------------------------ crashes

def test_a_run_killed_during_ingest_is_recovered_by_the_next(full_run, tmp_path):
    root = full_run[0]
    work = tmp_path / "root"
    shutil.copytree(root / "wh", work / "wh")
    shutil.copytree(root / "landing", work / "landing")
    env = run_env(work, work / "landing")
    pension = work / "landing/pension/2021/pension_2021.jsonl.gz"
    with gzip.open(pension, "rt") as fh:
        lines = fh.readlines()
    with gzip.open(pension, "wt") as fh:                     # a corrected delivery: reload
        fh.writelines(lines[:-100])
    archive = work / "wh" / "archive"
    before = set(archive.rglob("*"))
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--years", "2021"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (set(archive.rglob("*.jsonl.gz")) - before):
        time.sleep(0.01)
    time.sleep(0.2)                                          # inside the pension ingest
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = junheng_run(env, "--years", "2021")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    con = duckdb.connect(str(work / "wh" / "junheng.duckdb"), read_only=True)
    for feed in FEEDS.values():
        units = len(feed.units())       # one delivery per unit (submissions: per department)
        for part in feed.parts:
            raw = con.execute(f"select count(*), count(distinct (_delivery_sha256, _line)), "
                              f"count(distinct _delivery_sha256) from raw.{part.raw_table} "
                              "where _year = 2021").fetchall()[0]
            stg = con.execute(f"select count(*) from staging.{part.staging} where year = 2021"
                              ).fetchall()[0][0]
            rej = con.execute("select count(distinct (delivery_sha256, line)) from "
                              "quality.quarantine where year = 2021 and table_name = ?",
                              [part.raw_table]).fetchall()[0][0]
            assert raw[0] == raw[1] and raw[2] == units, part.raw_table   # no dupes
            assert raw[0] == stg + rej, part.raw_table
    loaded = con.execute("select count(*) from raw.pension__enrolments where _year = 2021"
                         ).fetchall()[0][0]
    assert loaded == len(lines) - 100


# ------------------------------------------------------------------ privacy and provenance

def test_no_person_key_in_logs_docs_metadata_or_errors(full_run):
    root, home, _ = full_run
    wh = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    keys = {r[0] for r in wh.execute("select distinct person_key from raw.pension__enrolments"
                                     ).fetchall()}
    pattern = re.compile(r"[0-9a-f]{64}")
    scanned = 0
    for folder in (home, root / "wh" / "data_docs", root / "extracts"):
        for f in folder.rglob("*"):
            if not f.is_file():
                continue
            if f.suffix == ".db":                            # Dagster's SQLite event logs
                con = sqlite3.connect(f)
                tables = [t[0] for t in con.execute(
                    "select name from sqlite_master where type = 'table'")]
                text = "".join(str(row) for t in tables
                               for row in con.execute(f'select * from "{t}"'))
                con.close()
            else:
                text = f.read_bytes().decode("utf-8", "replace")
            assert not set(pattern.findall(text)) & keys, f
            scanned += 1
    assert scanned > 50
    values = wh.execute("select distinct value from quality.quarantine where feed = 'pension' "
                        "and column_name = 'person_key'").fetchall()
    assert values == [("(withheld)",)]


def test_a_published_number_traces_to_its_deliveries(full_run):
    root = full_run[0]
    con = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    rows = con.execute(PROVENANCE, [2024, "320571", "H1"]).fetchall()
    assert {r[4] for r in rows} == {"health", "population"}
    for r in rows:
        table = {"health": "health__institutions", "population": "population__townships"}[r[4]]
        shas = {x[0] for x in con.execute(f"select distinct _delivery_sha256 from raw.{table} "
                                          "where _year = 2024").fetchall()}
        assert r[6] in shas
        assert list((root / "wh" / "archive").rglob(f"{r[6]}*"))   # the bytes are kept
    manifest = json.loads((root / "extracts" / (root / "extracts" / "LATEST").read_text()
                           .strip() / "manifest.json").read_text())
    assert {r[6] for r in rows} <= {i["sha256"] for i in manifest["inputs"]}


# One pension record: its key from `k`, its birth year `b`.
PENSION_REC = ('{{"person_key":"{k:064x}","district_code":"320508","scheme":"employee",'
               '"birth_year":{b},"sex":"F","status":"contributing"}}')


def _pension_landing(tmp_path: Path, lines: list[str], year: int = 2020) -> Path:
    landing = tmp_path / "landing"
    (landing / "pension" / str(year)).mkdir(parents=True)
    with gzip.open(landing / f"pension/{year}/pension_{year}.jsonl.gz", "wt",
                   encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return landing


def test_a_pension_line_that_is_not_json_is_quarantined_not_fatal(tmp_path):
    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import load_feed_year

    rec = PENSION_REC.replace("{b}", "1980")
    lines = [rec.format(k=1), "{not json", rec.format(k=2), "[1, 2]", rec.format(k=3)]
    con = warehouse()
    result = load_feed_year(con, FEEDS["pension"], 2020, _pension_landing(tmp_path, lines),
                            tmp_path / "a", "t", accept_all)
    part = result.audited[0]
    assert (part.rows_read, part.rows_loaded, part.rows_rejected) == (5, 3, 2)
    assert con.execute("select line, rule from quality.quarantine order by line").fetchall() \
        == [(2, "parsable row"), (4, "parsable row")]


def test_the_pension_raw_is_a_table_per_year_published_by_rename(tmp_path):
    """raw.pension__enrolments is a view over raw.pension__enrolments__<year>: the JSON
    read's own table becomes the year's (in line order, with raw's provenance columns), a
    new delivery of a year replaces that year only, and a warehouse from before (one raw
    table) is split by year on the next publication, its rows unchanged."""
    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import load_feed_year

    con = warehouse()

    def load(year: int, keys: range, birth: int = 1980):
        landing = _pension_landing(tmp_path / f"l{year}{birth}",
                                   [PENSION_REC.format(k=k, b=birth) for k in keys], year)
        return load_feed_year(con, FEEDS["pension"], year, landing, tmp_path / "a", "t",
                              accept_all)

    def raw(year: int) -> list[tuple]:
        return con.execute("select _line, person_key, birth_year, _delivery_sha256 "
                           "from raw.pension__enrolments where _year = ? order by _line",
                           [year]).fetchall()

    first = load(2020, range(1, 6))
    assert first.status == "published"
    kinds = dict(con.execute("select table_name, 'table' from duckdb_tables() where schema_name"
                             " = 'raw' union all select view_name, 'view' from duckdb_views() "
                             "where schema_name = 'raw'").fetchall())
    assert kinds == {"pension__enrolments": "view", "pension__enrolments__2020": "table"}
    rows = raw(2020)
    assert [(r[0], r[1]) for r in rows] == [(n, f"{n:064x}") for n in range(1, 6)]
    assert {r[3] for r in rows} == {first.parts[0].sha256}
    load(2021, range(10, 13))
    load(2020, range(20, 22), birth=1990)                 # a new delivery of 2020
    assert [(r[0], r[1], r[2]) for r in raw(2020)] == [(1, f"{20:064x}", "1990"),
                                                         (2, f"{21:064x}", "1990")]
    assert [r[0] for r in raw(2021)] == [1, 2, 3]
    assert con.execute("select count(*) from staging.stg_pension__enrolments").fetchone()[0] == 5

    # A warehouse from before: one raw table, with the same columns.
    before = con.execute("select * from raw.pension__enrolments order by _year, _line").fetchall()
    con.execute("create table raw._old as select * from raw.pension__enrolments")
    con.execute("drop view raw.pension__enrolments")
    for y in (2020, 2021):
        con.execute(f"drop table raw.pension__enrolments__{y}")
    con.execute("alter table raw._old rename to pension__enrolments")
    load(2022, range(30, 32))
    assert con.execute("select * from raw.pension__enrolments where _year < 2022 "
                       "order by _year, _line").fetchall() == before
    assert {r[0] for r in con.execute("select table_name from duckdb_tables() where "
                                      "schema_name = 'raw'").fetchall()} == \
        {f"pension__enrolments__{y}" for y in (2020, 2021, 2022)}
    assert con.execute("select count(*) from staging.stg_pension__enrolments").fetchone()[0] == 7


def test_a_read_table_left_by_a_killed_run_is_never_published(tmp_path):
    """A killed run can leave the JSON reader's table behind. Another reader's rows (here
    an engine like Spark's, through `person_level`) are published, never that table."""
    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import load_feed_year

    part = FEEDS["pension"].parts[0]
    con = warehouse()
    cols = ", ".join(f"'x' as {c}" for c in part.columns.values())
    con.execute(f"create table raw._read_pension__enrolments__rows as select "
                f"'stale' as _error, {cols}")

    def other_engine(con, d, part, rows, checked):     # one good row, no rule broken
        con.execute(f"create temp view {rows} as select 1::bigint as _line, null::varchar "
                    f"as _error, '{1:064x}' as person_key, '320508' as district_code, "
                    "'employee' as scheme, '1980' as birth_year, 'F' as sex, "
                    "'contributing' as status")
        con.execute(f"create temp view {checked} as select _line, []::struct(column_name "
                    f"varchar, rule varchar, value varchar)[] as _violations from {rows} "
                    "where false")
        return []

    landing = _pension_landing(tmp_path, [PENSION_REC.format(k=2, b=1980)])
    load_feed_year(con, FEEDS["pension"], 2020, landing, tmp_path / "a", "t", accept_all,
                   person_level=other_engine)
    assert con.execute("select _line, _error, person_key from raw.pension__enrolments"
                       ).fetchall() == [(1, None, f"{1:064x}")]


def test_the_audits_preparation_runs_on_this_thread_while_duckdb_reads_the_pension(tmp_path):
    """GX's import and context (`prepare`) run beside the pension read, on the calling
    thread; the read runs on a worker thread; a bad delivery's own error still comes out."""
    import threading

    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import load_feed_year

    rec = PENSION_REC.replace("{b}", "1980")
    seen = []

    def prepare():
        seen.append((threading.current_thread() is threading.main_thread(),
                     sorted(t.name.split("_")[0] for t in threading.enumerate()
                            if t.name.startswith("junheng-read"))))

    landing = _pension_landing(tmp_path, [rec.format(k=k) for k in range(1, 4)])
    result = load_feed_year(warehouse(), FEEDS["pension"], 2020, landing, tmp_path / "a", "t",
                            accept_all, prepare=prepare)
    assert result.audited[0].rows_loaded == 3
    assert seen == [(True, ["junheng-read"])]      # here, with the reader's thread alive

    def failing():
        raise RuntimeError("no GX")

    (landing / "pension/2020/pension_2020.jsonl.gz").write_bytes(b"\x1f\x8bnot gzip")
    with pytest.raises(DeliveryError, match="gzip"):   # the delivery's error, not prepare's
        load_feed_year(warehouse(), FEEDS["pension"], 2020, landing, tmp_path / "b", "t",
                       accept_all, prepare=failing)
    landing = _pension_landing(tmp_path / "c", [rec.format(k=1)])
    with pytest.raises(RuntimeError, match="no GX"):   # and prepare's own, after the read
        load_feed_year(warehouse(), FEEDS["pension"], 2020, landing, tmp_path / "c" / "a",
                       "t", accept_all, prepare=failing)


def test_an_absurdly_long_line_is_quarantined_and_the_rest_loaded(tmp_path):
    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import BIG_CSV_BYTES, load_feed_year

    landing = tmp_path / "landing"
    folder = landing / "environment" / "2020"
    folder.mkdir(parents=True)
    header = "station_code,station_name,district_code,time,so2,no2,pm10,o3,pm25,co\n"
    good = "1001A,a,320508,2020-01-01 00:00,1,1,1,1,1,1\n"
    long_line = ("1001A," + "x" * (BIG_CSV_BYTES + 10_000_000)
                 + ",320508,2020-01-01 01:00,1,1,1,1,1,1\n")
    (folder / "air_quality_2020.csv").write_text(header + good + long_line + good.replace(
        "00:00", "02:00"), encoding="utf-8")
    (folder / "sewage_2020.csv").write_text(
        "区县代码,生活污水产生量（万吨）,生活污水集中收集量（万吨）\n320508,10,9\n",
        encoding="utf-8")
    con = warehouse()
    result = load_feed_year(con, FEEDS["environment"], 2020, landing, tmp_path / "a", "t",
                            accept_all)
    air = result.audited[0]
    assert (air.rows_read, air.rows_loaded, air.rows_rejected) == (3, 2, 1)
    assert con.execute("select line, rule from quality.quarantine").fetchall() == \
        [(3, "parsable row")]


def test_corrupted_xlsx_names_the_file():
    from junheng.ingest.feeds import HEALTH
    from junheng.ingest.readers import read_xlsx

    for data in (b"PK\x03\x04" + b"\x00" * 200, b"not a zip at all"):
        with pytest.raises(DeliveryError) as exc:
            read_xlsx(data, HEALTH.files[0], "health_2020.xlsx")
        assert "health_2020.xlsx" in str(exc.value) and "XLSX" in str(exc.value)


def test_air_quality_duplicated_hours_and_shifted_time_zone_text():
    from sql_helpers import delivery, warehouse

    from junheng.sql import sql_text

    con = warehouse()
    base = {"station_code": "1001A", "station_name": "a", "district_code": "320508",
            "so2": "1", "no2": "1", "pm10": "1", "o3": "1", "pm25": "1", "co": "1"}
    times = ["2020-01-01 00:00", "2020-01-01 00:00", "2020-01-01T01:00+08:00",
             "2020-01-01 02:00 UTC", "2020-01-01 03:00", "2021-01-01 00:00"]
    delivery(con, {**{k: [v] * len(times) for k, v in base.items()}, "time": times})
    rows = con.execute("select _line, v.rule from (select _line, unnest(_violations) as v from ("
                       + sql_text("staging/stg_environment__air_quality.sql") + ")) order by 1",
                       {"year": 2020}).fetchall()
    assert rows == [(2, "unique per station"), (3, "unique per station"),
                    (4, "YYYY-MM-DD HH:00"), (5, "YYYY-MM-DD HH:00"),
                    (7, "in reporting year 2020")]


def test_an_xlsx_with_a_stray_cell_far_away_is_refused_not_a_crash():
    """One space typed in XFD1048576 made calamine allocate the whole sheet (hundreds of
    GB) and abort the process: every run died on it. Now the file is refused, named."""
    import io

    import xlsxwriter

    from junheng.ingest.feeds import HEALTH
    from junheng.ingest.readers import DeliveryError, read_xlsx

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf)
    for name in ("机构", "区县指标"):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, ["区县代码"])
    sheet.write(1048575, 16383, " ")
    book.close()
    with pytest.raises(DeliveryError, match="health_2021.xlsx.*1,048,576 rows x 16,384 columns"):
        read_xlsx(buf.getvalue(), HEALTH.files[0], "health_2021.xlsx")


def test_a_pension_file_compressed_twice_is_named_as_such(tmp_path):
    from ingest_helpers import accept_all
    from sql_helpers import warehouse

    from junheng.ingest.load import load_feed_year
    from junheng.ingest.readers import DeliveryError

    landing = _pension_landing(tmp_path, ['{"person_key": "x"}'])
    path = landing / "pension/2020/pension_2020.jsonl.gz"
    path.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(DeliveryError, match="compressed twice"):
        load_feed_year(warehouse(), FEEDS["pension"], 2020, landing, tmp_path / "a", "t",
                       accept_all)
