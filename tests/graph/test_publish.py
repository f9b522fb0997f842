"""Releases for evaluators and the statisticians' snapshot, read back with pyarrow."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import junheng_run, run_env

from junheng.demo.generator import Options, generate
from junheng.methodology.index import Config
from junheng.publish.release import plan_release, write_release
from junheng.registry import published

# The release's contract, in order, written out here on purpose: an oracle independent of
# junheng.registry, from which the release is built: the columns of extracts.md (each table
# may end with null_reason and carries methodology_version).
SPEC_COLUMNS = {
    "indicators": ["indicator_id", "table1_no", "area", "name_zh", "name_en", "unit",
                   "direction", "source", "form", "weight_population", "in_index", "weight",
                   "baseline_2020", "target_2025", "target_type", "target_rule",
                   "target_source", "score_zero", "score_full", "precision", "equalise",
                   "effective_weight", "index_weight", "area_weight", "aggregation",
                   "table1_baseline_printed", "table1_target_printed"],
    "indicator_values": ["year", "district_code", "indicator_id", "value", "numerator",
                         "denominator", "unit", "standard_error", "source_rows_used",
                         "source_rows_rejected", "null_reason"],
    "indicator_scores": ["year", "district_code", "indicator_id", "score", "weight",
                         "obstacle_degree", "obstacle_rank"],
    "area_scores": ["year", "district_code", "area", "score", "indicators_scored",
                    "indicators_total", "provisional", "equality_adjusted", "loss_pct",
                    "null_reason"],
    "equalisation_index": ["year", "district_code", "name_zh", "name_en", "district_group",
                           "attainment_index", "rank", "gap_to_city", "relative_to_city",
                           "targets_met", "targets_total", "provisional", "missing_indicators",
                           "equality_adjusted_attainment", "loss_pct", "null_reason"],
    "equalisation_measures": ["year", "subject_kind", "subject_id", "weight_population",
                              "mean_weighted", "max_min_ratio", "cv", "williamson", "theil_t",
                              "theil_t_between", "theil_t_within", "theil_l", "gini",
                              "atkinson_1", "null_reason"],
    "convergence": ["subject_kind", "subject_id", "first_year", "last_year", "sigma_slope",
                    "beta", "beta_se", "n"],
    "target_progress": ["year", "district_code", "indicator_id", "target_type", "base_year",
                        "baseline", "baseline_published", "value", "target", "target_rule",
                        "actual_growth", "required_growth", "ratio", "progress_share",
                        "time_share", "status", "significant", "significant_change",
                        "null_reason"],
    "rank_sensitivity": ["year", "district_code", "rank_default", "rank_median", "rank_p05",
                         "rank_p95", "mean_abs_shift", "draws", "seed"],
    "data_quality": ["feed", "department", "year", "file_name", "sha256", "bytes", "rows_read",
                     "rows_loaded", "rows_rejected", "expectations_run", "expectations_failed",
                     "dual_enrolments", "status", "reason", "in_use"],
    "pension_dual_enrolments": ["year", "district_code", "persons_in_both_schemes",
                                "disagreeing_status"],
    "revisions": ["previous_release_id", "table", "key", "column", "old_value", "new_value",
                  "cause"],
}


TRAILING = {"null_reason", "methodology_version"}
PUBLISHED = {t.name: t for t in published()}


def test_the_registry_publishes_the_contracted_tables_and_columns_in_order():
    assert [t.name for t in published()] == list(SPEC_COLUMNS)
    for t in published():
        spec = SPEC_COLUMNS[t.name]
        assert list(t.column_names[: len(spec)]) == spec, t.name
        rest = t.column_names[len(spec):]
        assert set(rest) <= TRAILING and rest[-1] == "methodology_version", (t.name, rest)


def _release(root: Path) -> Path:
    latest = (root / "extracts" / "LATEST").read_text().strip()
    return root / "extracts" / latest


def test_release_id_and_latest(full_run):
    root, _, out = full_run
    assert out.returncode == 0, out.stderr[-2000:]
    # pyspark's pandas-3 FutureWarning (Great Expectations imports pyspark) is not printed
    assert "FutureWarning" not in out.stderr, out.stderr[-2000:]
    latest = (root / "extracts" / "LATEST").read_text()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}\n", latest)
    assert f"release        {_release(root)}" in out.stdout
    assert "query snapshot" in out.stdout
    manifest = json.loads((_release(root) / "manifest.json").read_text())
    assert manifest["content_hash"][:8] == latest.strip()[-8:]
    assert manifest["published_years"] == list(range(2020, 2026))


def test_tables_schemas_and_keys(full_run):
    release = _release(full_run[0])
    for name, spec in SPEC_COLUMNS.items():
        table = pq.read_table(release / f"{name}.parquet")
        cols = table.column_names
        assert cols[: len(spec)] == spec, name
        assert "methodology_version" in cols
        keys = PUBLISHED[name].sort_keys
        rows = table.select(list(keys)).to_pylist()
        as_tuples = [tuple(r.values()) for r in rows]
        assert as_tuples == sorted(as_tuples), f"{name} not sorted by {keys}"
        assert len(set(as_tuples)) == len(as_tuples), f"{name} keys not unique"
        meta = pq.read_metadata(release / f"{name}.parquet")
        assert meta.row_group(0).column(0).compression == "ZSTD"
    iv = pq.read_table(release / "indicator_values.parquet")
    assert iv.num_rows == 6 * 11 * 41
    assert set(iv.column("district_code").to_pylist()) >= {"320500", "320508"}


def test_manifest_checksums_verify(full_run):
    release = _release(full_run[0])
    manifest = json.loads((release / "manifest.json").read_text())
    names = {o["name"] for o in manifest["outputs"]}
    assert names == {f"{t.name}.parquet" for t in published()} | {"data_dictionary.csv"}
    for o in manifest["outputs"]:
        assert hashlib.sha256((release / o["name"]).read_bytes()).hexdigest() == o["sha256"]
        if o["name"].endswith(".parquet"):
            t = pq.read_table(release / o["name"])
            assert t.num_rows == o["rows"]
            assert [c["name"] for c in o["columns"]] == t.column_names
    assert manifest["configuration"]["draws"] == 1000
    # Eight files of the seven feeds and the 14 departments' submissions, every year.
    assert len(manifest["inputs"]) == 6 * (8 + 14)
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])


def test_data_dictionary_covers_every_column(full_run):
    release = _release(full_run[0])
    assert (release / "data_dictionary.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    with open(release / "data_dictionary.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    described = {(r["file"], r["column"]) for r in rows if r["description_zh"]
                 and r["description_en"] and r["type"]}
    for t in published():
        for col in pq.read_schema(release / f"{t.name}.parquet").names:
            assert (f"{t.name}.parquet", col) in described, (t.name, col)


def test_identical_inputs_give_an_identical_content_hash(full_run, tmp_path):
    root = full_run[0]
    manifest = json.loads((_release(root) / "manifest.json").read_text())
    con = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    again = write_release(plan_release(con, Config()), tmp_path / "elsewhere")
    assert again.content_hash == manifest["content_hash"] and not again.unchanged
    same = write_release(plan_release(con, Config()), tmp_path / "elsewhere")
    assert same.unchanged and same.release_id == again.release_id
    other = write_release(plan_release(con, Config(seed=1)), tmp_path / "elsewhere")
    assert other.content_hash != again.content_hash
    # The first release in a folder has no revisions; the next names the configuration.
    assert pq.read_table(again.path / "revisions.parquet").num_rows == 0
    rev = pq.read_table(other.path / "revisions.parquet").to_pylist()
    assert rev and {r["cause"] for r in rev} == {"configuration"}
    assert {r["previous_release_id"] for r in rev} == {again.release_id}
    assert {r["table"] for r in rev} == {"rank_sensitivity"}   # the seed moves the draws only


def test_a_publication_killed_midway_leaves_the_last_release(full_run, tmp_path):
    root = full_run[0]
    extracts = root / "extracts"
    before = sorted(p.name for p in extracts.iterdir())
    latest = (extracts / "LATEST").read_text()
    script = textwrap.dedent(f"""
        import os, signal, duckdb
        from junheng.methodology.index import Config
        from junheng.publish.release import plan_release, write_release
        con = duckdb.connect({str(root / 'wh' / 'junheng.duckdb')!r}, read_only=True)
        plan = plan_release(con, Config(seed=99))   # new content: would be a new release
        def die(name):
            if name == "equalisation_index.parquet":
                os.kill(os.getpid(), signal.SIGKILL)
        write_release(plan, {str(extracts)!r}, on_file=die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert proc.returncode == -9
    assert (extracts / "LATEST").read_text() == latest
    after = sorted(p.name for p in extracts.iterdir())
    assert [n for n in after if not n.startswith(".tmp-")] == before
    assert any(n.startswith(".tmp-") for n in after)   # half-written, never under a real name
    con = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    write_release(plan_release(con, Config()), extracts)  # the next run cleans up
    assert not any(n.startswith(".tmp-") for n in (p.name for p in extracts.iterdir()))
    assert (extracts / "LATEST").read_text() == latest     # same content: unchanged


def test_reader_holding_the_snapshot_open_during_a_full_run(full_run, tmp_path):
    # On a copy of the shared run (landing, warehouse and its archive, snapshots, releases,
    # Dagster home): this test changes a delivery and runs again, which the tests after it
    # in the group (the backfill's comparison) must not see. A copied file has a new inode
    # change time, so every year of the copy looks changed: the run is of 2025 alone (a new
    # release and snapshot all the same), not of six years.
    root = tmp_path / "run"
    shutil.copytree(full_run[0], root, symlinks=True)
    snapshot = root / "wh" / "junheng_query.duckdb"
    reader = duckdb.connect(str(snapshot), read_only=True)
    first = reader.execute("select release_id, created_at from snapshot_info").fetchall()[0]
    errors: list[Exception] = []
    stop = threading.Event()

    def keep_querying():
        while not stop.is_set():
            try:
                reader.execute("select count(*), avg(attainment_index) "
                               "from marts.equalisation_index").fetchall()
            except Exception as exc:  # noqa: BLE001 - any error on the reader side fails
                errors.append(exc)
                return

    # A corrected delivery, so that the run publishes a new release and snapshot (a run that
    # changes nothing leaves the snapshot as it is).
    sewage = root / "landing/environment/2025/sewage_2025.csv"
    lines = sewage.read_text(encoding="utf-8").splitlines()
    code, generated, collected = lines[1].split(",")
    lines[1] = f"{code},{generated},{float(collected) - 1:.2f}"
    sewage.write_text("\n".join(lines) + "\n", encoding="utf-8")
    previous = (root / "extracts" / "LATEST").read_text().strip()
    t = threading.Thread(target=keep_querying)
    t.start()
    out = junheng_run(run_env(root, root / "landing"), "--years", "2025")
    stop.set()
    t.join()
    assert out.returncode == 0, out.stderr[-2000:]
    assert not errors
    assert reader.execute("select release_id, created_at from snapshot_info"
                          ).fetchall()[0] == first     # the open session keeps its view
    # A new session (another process: DuckDB shares one instance per file within a process)
    # sees the new snapshot.
    probe = subprocess.run([sys.executable, "-c", "import duckdb, sys; print(duckdb.connect("
                            f"{str(snapshot)!r}, read_only=True).execute('select created_at "
                            "from snapshot_info').fetchall()[0][0].isoformat())"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() > first[1].isoformat()
    # And a reconnect in this very process (a notebook's kernel), with the old session still
    # open: the link now names a new file, so DuckDB opens a new instance.
    again = duckdb.connect(str(snapshot), read_only=True)
    assert again.execute("select created_at from snapshot_info").fetchall()[0][0].isoformat() \
        == probe.stdout.strip()
    again.close()
    # The new release's revisions: the changed values, each caused by that delivery alone.
    new = _release(root)
    assert new.name != previous
    rev = pq.read_table(new / "revisions.parquet").to_pandas()
    assert len(rev) and set(rev["cause"]) == {"new delivery: environment 2025"}, \
        rev.groupby(["table", "cause"]).size()
    assert set(rev["previous_release_id"]) == {previous}
    w1 = rev[(rev["table"] == "indicator_values") & (rev["column"] == "value")]
    assert set(w1["key"].str.extract(r"indicator_id=(\w+)")[0]) == {"W1"}
    assert w1["key"].str.startswith("year=2025|").all()
    assert (w1["old_value"] != w1["new_value"]).all()
    dq = rev[rev["table"] == "data_quality"]
    assert set(dq["key"].str.extract(r"file_name=([^|]+)")[0]) == {"sewage_2025.csv"}
    # The page says the same: how many values were revised, by that cause.
    page = (new / "index.html").read_text(encoding="utf-8")
    assert f"{len(rev)} published values differ from the previous release, by cause:" in page
    assert f"<li>new delivery: environment 2025: {len(rev)}</li>" in page
    # The first release of the folder has none.
    first_release = min(p for p in (root / "extracts").iterdir()
                        if p.is_dir() and not p.name.startswith("."))
    assert pq.read_table(first_release / "revisions.parquet").num_rows == 0


def test_no_person_level_data_in_any_release_file_or_snapshot(full_run):
    root = full_run[0]
    wh = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    keys = {r[0] for r in wh.execute("select distinct person_key from "
                                     "raw.pension__enrolments").fetchall()}
    assert len(keys) > 1000
    pattern = re.compile(rb"[0-9a-f]{64}")
    for release in (root / "extracts").iterdir():
        if not release.is_dir():
            continue
        for f in release.rglob("*"):
            if f.is_dir():
                continue
            data = f.read_bytes()
            if f.suffix == ".parquet":
                t = pq.read_table(f)
                assert "person_key" not in t.column_names
                data += repr(t.to_pylist()).encode()
            found = {m.decode() for m in pattern.findall(data)}
            assert not found & keys, f"person key in {f}"
    snap = duckdb.connect(str(root / "wh" / "junheng_query.duckdb"), read_only=True)
    assert snap.execute("select count(*) from duckdb_columns() "
                        "where column_name = 'person_key'").fetchall()[0][0] == 0


def test_index_html_is_self_contained(full_run):
    page = (_release(full_run[0]) / "index.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Attainment index by district" in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", page)
    assert "<script" not in page and "url(" not in page and "@import" not in page
    for section in ("Area scores", "Indicators by service area", "Equalisation trend",
                    "Progress towards the 2025 targets", "What was withheld or revised",
                    "How robust are the ranks", "Data quality per delivery", "Files"):
        assert section in page


def _visible(page: str, lang: str) -> str:
    """The page's text as the switch shows it in one language: the elements of the other
    language (lang attribute) removed."""
    from html.parser import HTMLParser

    other = "en" if lang == "zh-CN" else "zh-CN"

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[bool] = []
            self.out: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag in ("meta", "input", "br", "line", "circle", "rect", "path", "polyline"):
                return
            a = dict(attrs)
            self.stack.append(a.get("lang") == other and a.get("class") != "keep")

        def handle_endtag(self, tag):
            if tag in ("meta", "input", "br", "line", "circle", "rect", "path", "polyline"):
                return
            self.stack.pop()

        def handle_data(self, data):
            if not any(self.stack):
                self.out.append(data)

    t = Text()
    t.feed(page.split("<body>", 1)[1].removesuffix("</body></html>"))
    return " ".join(t.out)


def test_index_html_is_chinese_with_an_english_switch_and_fits_a_phone(full_run):
    root = full_run[0]
    page = (_release(root) / "index.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html><html lang='zh-CN'>")
    assert "name='viewport' content='width=device-width, initial-scale=1'" in page
    # The switch: two radio buttons, Chinese checked; CSS hides the other language.
    assert "id='lang-zh' class='sw' checked" in page and "id='lang-en'" in page
    assert "#lang-en:checked~.page [lang=zh-CN]:not(.keep){display:none}" in page
    assert "#lang-zh:checked~.page [lang=en]:not(.keep){display:none}" in page
    # Both buttons stay visible whichever language is shown.
    assert "<label for='lang-en' lang='en' class='keep'>English</label>" in page
    assert page.count("class='keep'") == 2
    zh, en = _visible(page, "zh-CN"), _visible(page, "en")
    assert "各服务领域的指标" in zh and "Indicators by service area" not in zh
    assert "Indicators by service area" in en and "各服务领域的指标" not in en
    # Every status and measure explained in both languages.
    for words in ("已达到2025年目标", "进度不足按时达标所需的60%", "差距在缩小"):
        assert words in zh
    for words in ("already meets the 2025 target", "negative means the gaps are closing"):
        assert words in en
    # A section per service area, a card per indicator of the catalogue.
    import duckdb
    wh = duckdb.connect(str(root / "wh" / "junheng.duckdb"), read_only=True)
    ids = [r[0] for r in wh.execute("select indicator_id from reference.indicators").fetchall()]
    areas = {r[0] for r in wh.execute("select distinct area from reference.indicators"
                                      ).fetchall()}
    wh.close()
    for i in ids:
        assert f'id="ind-{i}"' in page, i
    for a in areas:
        assert f'id="area-{a}"' in page, a
    # Phones: charts scale, tables scroll in their own box, nothing of a fixed width.
    assert page.count("<svg") == page.count('width="100%"')
    assert page.count("<table") == page.count('<div class="scroll"><table')
    assert not re.search(r"<svg[^>]* width=\"\d+\"", page)       # no fixed pixel width
    # Beijing time, and the demo notice (the landing zone holds .demo/).
    manifest = json.loads((_release(root) / "manifest.json").read_text(encoding="utf-8"))
    from junheng.publish.html import beijing
    assert f"{beijing(manifest['created_at'])}（北京时间，UTC+8）" in zh
    assert "Demo feeds" in en and "演示数据" in zh
    # Units in the language shown; every missing value's reason written out under its
    # district table (a phone has no hover): the city L2 of 2020 (cumulative from 2021).
    assert "每千常住人口" in zh and "per 1000 residents" not in zh
    assert "per 1000 residents" in en and "每千常住人口" not in en
    card = page[page.index('id="ind-L2"'):]
    card = card[:card.index('<div class="ind"')] if '<div class="ind"' in card else card
    assert "Why a value is missing:" in card and "cumulative from 2021" in card
    assert "无数值的原因" in card and "自2021年起累计" in card
    assert "苏州市 2020" in card and "Suzhou (city) 2020" in card


@pytest.fixture(scope="module")
def rejected_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rejected")
    landing = root / "landing"
    generate(landing, Options(years=(2020, 2021), scale=0.002))
    env = run_env(root, landing)
    first = junheng_run(env)
    assert first.returncode == 0, first.stderr[-2000:]
    good = (root / "extracts" / "LATEST").read_text()
    path = landing / "environment/2021/sewage_2021.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(x for x in lines if not x.startswith("320585")) + "\n",
                    encoding="utf-8")                      # Taicang missing: critical
    second = junheng_run(env)
    return root, good, first, second


def test_a_rejected_redelivery_keeps_the_year_published_on_its_last_good_data(rejected_run):
    root, good, _, second = rejected_run
    assert "rejected environment sewage_2021.csv: the last good delivery stays in use" \
        in second.stdout, second.stdout
    latest = (root / "extracts" / "LATEST").read_text().strip()
    manifest = json.loads((root / "extracts" / latest / "manifest.json").read_text())
    assert manifest["published_years"] == [2020, 2021]
    old = json.loads((root / "extracts" / good.strip() / "manifest.json").read_text())
    assert manifest["inputs"] == old["inputs"]       # the rejected file is not an input
    for name in ("indicator_values", "equalisation_index"):
        a = pq.read_table(root / "extracts" / good.strip() / f"{name}.parquet")
        b = pq.read_table(root / "extracts" / latest / f"{name}.parquet")
        assert a.equals(b), name
    dq = pq.read_table(root / "extracts" / latest / "data_quality.parquet").to_pylist()
    sewage = [r["status"] for r in dq if r["file_name"] == "sewage_2021.csv"]
    assert sorted(sewage) == ["loaded", "rejected"]


@pytest.mark.skipif(not (__import__("shutil").which("chromium")
                         or __import__("shutil").which("chromium-browser")),
                    reason="no headless Chromium here (apt-get install chromium "
                    "fonts-noto-cjk): the page is checked from its HTML only")
@pytest.mark.parametrize("width", [390, 1400])
def test_index_html_renders_in_headless_chromium(full_run, tmp_path, width):
    root = full_run[0]
    out = tmp_path / f"index-{width}.png"
    env = {**__import__("os").environ, "JUNHENG_EXTRACTS": str(root / "extracts"),
           "SCREENSHOT_WIDTH": str(width)}
    subprocess.run(["bash", "scripts/screenshot.sh", str(_release(root)), str(out)], env=env,
                   check=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a real, non-blank page
    assert int.from_bytes(data[16:20], "big") == width          # rendered at that width
