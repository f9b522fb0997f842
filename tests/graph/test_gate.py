"""The quality gate, tried as a department's mistakes would try it: on a warehouse that
already holds good 2020–2021 data, bad files are delivered and `junheng run` (real
process, real Dagster instance, DuckDB and GX) must publish no wrong number, leak no
person key, and keep the last good figures (write, audit, publish: feeds.md)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from conftest import ROOT, junheng_run, run_env
from python_calamine import CalamineWorkbook

from junheng.demo.generator import Options, generate

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

PRIVACY_SCAN = ROOT.parent / "shared" / "tools" / "privacy_scan.py"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """2020 and 2021 demo feeds (tiny scale), run once: the last good publication."""
    root = tmp_path_factory.mktemp("gate_base")
    generate(root / "landing", Options(years=(2020, 2021), scale=0.003))
    out = junheng_run(run_env(root, root / "landing"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return root


def _copy(base: Path, tmp: Path) -> tuple[Path, dict]:
    """A copy of the good warehouse, instance, releases and landing zone."""
    root = tmp / "root"
    shutil.copytree(base, root, symlinks=True)
    shutil.rmtree(root / "dagster_home")          # run_env makes a fresh instance; the
    (root / "dagster_home").mkdir()                # copied one names the old paths
    shutil.copy(ROOT / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    return root, run_env(root, root / "landing")


def _wh(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)


def _latest(root: Path) -> Path:
    return root / "extracts" / (root / "extracts" / "LATEST").read_text().strip()


def _values(release: Path, year: int) -> dict:
    t = pq.read_table(release / "indicator_values.parquet").to_pylist()
    return {(r["district_code"], r["indicator_id"]): r["value"] for r in t if r["year"] == year}


def _rewrite_csv(path: Path, fn, encoding: str = "utf-8-sig") -> None:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(fn(rows))
    path.write_bytes(out.getvalue().encode("utf-8"))


def _health_as_percent_cells(path: Path) -> None:
    """The district sheet's rates written as Excel percentage cells: 0.9533 shown as 95.33%."""
    wb = CalamineWorkbook.from_path(str(path))
    sheets = {n: wb.get_sheet_by_name(n).to_python() for n in wb.sheet_names}
    book = xlsxwriter.Workbook(str(path))
    pct = book.add_format({"num_format": "0.00%"})
    for name, rows in sheets.items():
        ws = book.add_worksheet(name)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if name == "区县指标" and i > 0 and j >= 2 and isinstance(v, float):
                    ws.write_number(i, j, v / 100, pct)
                else:
                    ws.write(i, j, v)
    book.close()


def _plant_keys(path: Path) -> list[str]:
    """Pension lines that carry real person keys in every column, swapped columns and a
    JSON array: all must be quarantined without a key (or part of one) leaving."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    recs = [json.loads(line) for line in lines[:30]]
    keys = [r["person_key"] for r in recs]
    planted = []
    for i, col in enumerate(["district_code", "scheme", "birth_year", "sex", "status"]):
        r = dict(recs[i])
        r["person_key"] = "not-a-key"         # so the line is rejected, not a duplicate
        r[col] = keys[10 + i]
        planted.append(json.dumps(r))
    swapped = dict(recs[6])                     # person_key and district_code swapped
    swapped["person_key"], swapped["district_code"] = recs[6]["district_code"], keys[16]
    planted.append(json.dumps(swapped))
    planted.append(json.dumps([keys[17], "320508", "employee", 1970, "F", "receiving"]))
    planted.append(keys[18][:48] + " is not JSON")
    upper = dict(recs[19])
    upper["person_key"] = keys[19].upper()
    planted.append(json.dumps(upper))
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines + planted) + "\n")
    return keys


@pytest.fixture(scope="module")
def bad_2021(base, tmp_path_factory):
    """One run over a landing zone where several departments got 2021 wrong at once."""
    root, env = _copy(base, tmp_path_factory.mktemp("gate_bad"))
    landing = root / "landing"
    before = _latest(root)
    # Statistics bureau: half the townships, every row valid.
    _rewrite_csv(landing / "population/2021/population_2021.csv",
                 lambda rows: [rows[0]] + rows[1::2])
    # Health commission: rates as Excel percentage cells.
    _health_as_percent_cells(landing / "health/2021/health_2021.xlsx")
    # Environment: a corrected sewage file with four bad values (one beyond any double).
    def sewage(rows):
        rows[1][1], rows[2][2], rows[3][1], rows[4][2] = "1e309", "-5", "abc", "99999"
        return rows
    _rewrite_csv(landing / "environment/2021/sewage_2021.csv", sewage)
    # Civil affairs: a bed count beyond any 128-bit integer.
    def beds(rows):
        rows[1][6] = "9" * 40
        return rows
    _rewrite_csv(landing / "eldercare/2021/eldercare_institutions_2021.csv", beds)
    # Human resources: person keys planted everywhere.
    keys = _plant_keys(landing / "pension/2021/pension_2021.jsonl.gz")
    # Keys where no rule looks: a school's name, a header, file and folder names.
    def school_name(rows):
        rows[1][1] = f"{keys[21]}小学"
        return rows
    _rewrite_csv(landing / "schools/2021/schools_2021.csv", school_name, encoding="gbk")
    school = landing / "schools/2021/schools_2021.csv"
    school.write_bytes(school.read_bytes().decode("utf-8").encode("gbk"))
    def header(rows):
        return [rows[0] + [keys[22]]] + [r + [""] for r in rows[1:]]
    _rewrite_csv(landing / "eldercare/2021/home_care_2021.csv", header)
    (landing / f"schools/2021/schools_2021_{keys[23]}.csv").write_bytes(b"x\n")
    (landing / "health/2021" / keys[24]).mkdir()
    (landing / f"{keys[25]}.txt").write_bytes(b"x\n")
    (landing / "pension" / keys[26]).mkdir()
    # Odd things in the folders: a link to a system file, a name from a Windows zip.
    os.symlink("/etc/passwd", landing / "health/2021/health_2021_old.xlsx")
    with open(os.path.join(os.fsencode(landing / "schools/2021"), b"\xb2\xe2\xca\xd4.csv"),
              "wb") as fh:
        fh.write(b"x\n")
    # Sport bureau: a corrected file in which most numerators went negative.
    def sport(rows):
        return [rows[0]] + [r[:2] + ["-" + r[2]] + r[3:] if i % 4 else r
                            for i, r in enumerate(rows[1:])]
    _rewrite_csv(landing / "submissions/2021/sport_2021.csv", sport)
    out = junheng_run(env, "--years", "2021")
    return root, env, out, before, keys


def test_rejected_deliveries_replace_nothing_and_the_last_figures_stay(bad_2021):
    root, _env, out, before, _keys = bad_2021
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[-3000:]
    wh = _wh(root)
    status = {(f, n): s for f, n, s in wh.execute(
        "select feed, file_name, status from quality.deliveries where year = 2021 and "
        "status in ('loaded', 'rejected') order by recorded_at").fetchall()}
    for feed, name in [("population", "population_2021.csv"), ("health", "health_2021.xlsx"),
                       ("environment", "sewage_2021.csv")]:
        rows = wh.execute("select status, message from quality.deliveries where feed = ? and "
                          "year = 2021 and file_name = ? order by recorded_at",
                          [feed, name]).fetchall()
        assert [r[0] for r in rows] == ["loaded", "rejected"], (feed, rows)
        assert "critical expectations failed" in rows[1][1]
    assert status[("pension", "pension_2021.jsonl.gz")] == "loaded"   # few bad lines: kept
    # The data in use is the last good delivery's: the release's 2021 values are unchanged.
    after = _latest(root)
    old, new = _values(before, 2021), _values(after, 2021)
    assert old.keys() == new.keys()
    # Only indicators of the feeds whose deliveries passed (eldercare lost one quarantined
    # facility, pension only gained quarantined lines) may move; none of a rejected feed's.
    moved = {k[1] for k in old if old[k] != new[k]}
    sources = dict(wh.execute("select indicator_id, source from reference.indicators"
                              ).fetchall())
    rejected = {"population", "health", "environment", "submissions:sport"}
    assert not {i for i in moved if rejected & set(sources[i].split("|"))
                and not {"eldercare", "pension"} & set(sources[i].split("|"))}, moved
    manifest = json.loads((after / "manifest.json").read_text())
    assert 2021 in manifest["published_years"]
    wh_shas = {r[0] for r in wh.execute("select sha256 from quality.deliveries where year = 2021 "
                                        "and status = 'loaded'").fetchall()}
    assert {i["sha256"] for i in manifest["inputs"] if i["year"] == 2021} == wh_shas


def test_a_rejected_department_keeps_its_last_figures_and_says_so(bad_2021):
    root = bad_2021[0]
    wh = _wh(root)
    rows = wh.execute("select status, message from quality.deliveries where feed = "
                      "'submissions' and department = 'sport' and year = 2021 "
                      "order by recorded_at").fetchall()
    assert [r[0] for r in rows] == ["loaded", "rejected"], rows
    assert "critical expectations failed" in rows[1][1]
    r2 = wh.execute("select count(value) from marts.indicator_values where year = 2021 and "
                    "indicator_id = 'R2'").fetchone()[0]
    assert r2 == 11     # the last good file's R2, for every district and the city
    quality = pq.read_table(_latest(root) / "data_quality.parquet").to_pylist()
    assert {(q["file_name"], q["status"]) for q in quality if q["year"] == 2021
            and q["file_name"] == "sport_2021.csv"} == {("sport_2021.csv", "loaded"),
                                                        ("sport_2021.csv", "rejected")}


def test_a_missing_department_nulls_only_its_indicators(base, tmp_path):
    root, env = _copy(base, tmp_path)
    generate(root / "landing", Options(years=(2022,), scale=0.003))
    (root / "landing/submissions/2022/sport_2022.csv").unlink()
    out = junheng_run(env, "--years", "2022")
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    release = _latest(root)
    values = [r for r in pq.read_table(release / "indicator_values.parquet").to_pylist()
              if r["year"] == 2022]
    nulls = {(r["indicator_id"], r["null_reason"]) for r in values if r["value"] is None}
    assert nulls == {("R2", "not delivered")}
    # R2 is one of culture and sport's two indicators: the area is still scored, every
    # unit's index is provisional on the same indicators, so the ranks stand.
    index = [r for r in pq.read_table(release / "equalisation_index.parquet").to_pylist()
             if r["year"] == 2022]
    assert all(r["provisional"] and r["missing_indicators"] == "R2" for r in index)
    assert sorted(r["rank"] for r in index if r["rank"] is not None)[0] == 1
    assert sum(r["rank"] is not None for r in index) == 10


def test_each_rejection_names_its_reason(bad_2021):
    root = bad_2021[0]
    wh = _wh(root)
    msg = dict(wh.execute("select feed || '/' || file_name, message from quality.deliveries "
                          "where year = 2021 and status = 'rejected'").fetchall())
    assert "stg_population__townships" in msg["population/population_2021.csv"]
    assert "stg_health__districts" in msg["health/health_2021.xlsx"]
    assert "stg_environment__sewage" in msg["environment/sewage_2021.csv"]
    rules = wh.execute("select rule, value from quality.quarantine where feed = 'eldercare' "
                       "and year = 2021 and column_name = '床位数'").fetchall()
    assert ("integer within range", "9" * 40) in rules or any(
        r[0] == "integer within range" for r in rules), rules


def test_odd_entries_are_reported_never_read(bad_2021):
    root = bad_2021[0]
    wh = _wh(root)
    unexpected = wh.execute("select feed, file_name, message from quality.deliveries where "
                            "year = 2021 and status = 'unexpected'").fetchall()
    problems: dict[str, str] = {}
    for f, _n, m in unexpected:
        problems[f] = problems.get(f, "") + " | " + m
    assert "symbolic link" in problems["health"] and "folder" in problems["health"]
    assert "UTF-8" in problems["schools"] and "not a file of this feed" in problems["schools"]
    passwd = Path("/etc/passwd").read_bytes()
    archived = [p for p in (root / "wh" / "archive").rglob("*") if p.is_file()]
    assert archived and all(p.read_bytes() != passwd for p in archived)


def test_no_person_key_leaves_by_any_path(bad_2021):
    root, _env, out, _before, keys = bad_2021
    landing = root / "landing"
    (root / "console.txt").write_text(out.stdout + out.stderr, encoding="utf-8")
    paths = [root / "extracts", root / "dagster_home", root / "wh" / "data_docs",
             root / "wh" / "junheng_query.duckdb", root / "console.txt",
             *root.glob("*.log"), *(root / "wh").glob("*.log")]
    scan = subprocess.run([sys.executable, str(PRIVACY_SCAN), str(landing),
                           *[str(p) for p in paths if p.exists()]],
                          capture_output=True, text=True, timeout=300)
    assert scan.returncode == 0, scan.stdout
    assert "0 file(s)" in scan.stdout
    # The scan reads bytes: compressed Parquet is read here, every text cell of every table.
    fragments = {k[i:i + 16] for k in keys for i in range(0, 49, 16)}
    for release in (root / "extracts").iterdir():
        for path in release.glob("*.parquet") if release.is_dir() else []:
            text = " ".join(str(v) for col in pq.read_table(path).columns for v in col.to_pylist())
            assert not any(f in text for f in fragments), path
    snap = duckdb.connect(str(root / "wh" / "junheng_query.duckdb"), read_only=True)
    values = " ".join(str(v) for (v,) in snap.execute(
        "select value from quality.quarantine where feed = 'pension'").fetchall())
    assert not any(k[:16] in values or k[16:32] in values for k in keys)
    names = " ".join(str(v) for (v,) in snap.execute(
        "select school_name from staging.stg_schools__schools where year = 2021").fetchall())
    assert "(withheld)小学" in names and keys[21][:16] not in names
    files = " ".join(str(v) for (v,) in snap.execute(
        "select file_name from quality.deliveries").fetchall())
    assert keys[23][:16] not in files
    pension = snap.execute("select count(*) from quality.quarantine where feed = 'pension' "
                           "and year = 2021 and rule = 'parsable row'").fetchall()[0][0]
    assert pension >= 2   # the JSON array and the broken line were quarantined, not fatal


def test_a_year_with_no_good_delivery_is_withheld_the_others_published(base, tmp_path):
    root, env = _copy(base, tmp_path)
    generate(root / "landing", Options(years=(2022,), scale=0.003))
    _rewrite_csv(root / "landing/population/2022/population_2022.csv",
                 lambda rows: [rows[0]] + rows[1::2])
    out = junheng_run(env)
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[-3000:]
    manifest = json.loads((_latest(root) / "manifest.json").read_text())
    assert manifest["published_years"] == [2020, 2021]
    withheld = {w["year"]: " ".join(w["reasons"]) for w in manifest["withheld_years"]}
    assert "population" in withheld[2022] and "rejected" in withheld[2022]


def test_a_release_never_names_inputs_its_marts_did_not_use(base, tmp_path):
    """A valid redelivery is published but the year's indicators are not recomputed (the
    run stopped): no release may pair the new input with the old values."""
    import dagster as dg
    from ingest_helpers import ingest

    from junheng.methodology.index import Config
    from junheng.publish.release import StaleMarts, plan_release

    root, _env = _copy(base, tmp_path)
    path = root / "landing/schools/2021/schools_2021.csv"
    _rewrite_csv(path, lambda rows: rows[:-1], encoding="gbk")   # one school fewer
    path.write_bytes(path.read_bytes().decode("utf-8").encode("gbk"))
    db = root / "wh" / "junheng.duckdb"
    result = ingest(root / "landing", db, 2021, feeds=["schools"],
                    instance=dg.DagsterInstance.ephemeral())
    assert result.success
    con = duckdb.connect(str(db))
    with pytest.raises(StaleMarts, match="2021"):
        plan_release(con, Config())


def test_a_rejected_delivery_is_audited_once_and_again_with_force(bad_2021, tmp_path):
    root, env = _copy(bad_2021[0], tmp_path)

    def audit_run() -> str:
        wh = _wh(root)
        try:
            return wh.execute("select run_id from quality.check_results where feed = "
                              "'population' and year = 2021 and not passed").fetchall()[0][0]
        finally:
            wh.close()

    first = audit_run()
    for args, same in ((("--years", "2021"), True), (("--years", "2021", "--force"), False)):
        out = junheng_run(env, *args)
        assert "Traceback" not in out.stdout + out.stderr, out.stderr[-3000:]
        assert (audit_run() == first) is same, args
    wh = _wh(root)
    assert wh.execute("select status from quality.deliveries where feed = 'population' and "
                      "year = 2021 order by recorded_at desc limit 1").fetchall() \
        == [("rejected",)]
