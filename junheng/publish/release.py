"""Evaluator releases (extracts.md): Parquet tables, manifest, data dictionary, index.html.

A release is written into a hidden folder `<extracts>/.tmp-*`, renamed to its final
name only when every file is complete, and `LATEST` is replaced in one atomic step
after that. A failed or withheld run leaves both untouched; a stale `.tmp-*` folder
from a killed run is removed by the next one.

The content hash covers the tables, the data dictionary, the configuration and the
inputs, not the creation time or the code version: the same inputs and configuration
give the same hash, and a re-run that would publish the same content is reported as
unchanged instead of making a new release.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from junheng import PLAN_YEARS, PROJECT_ROOT
from junheng.ingest.feeds import FEEDS
from junheng.lineage import stale_years
from junheng.methodology.index import cross_year, with_targets
from junheng.methodology.values import finalize_series, stored_figures
from junheng.ops.landing import file_sha256
from junheng.publish.bundle import (
    datapackage,
    indicators_table,
    revisions,
    write_csv,
    write_listing,
    write_sha256sums,
    write_zip,
)
from junheng.publish.dictionary import TABLES, dictionary_rows, schema
from junheng.registry import per_year_published
from junheng.sql import ident, one, relation_exists

# The feeds without whose good data a year is withheld (methodology.md section 7).
YEAR_FEEDS = ("population",)
# Read from the marts for the published years; the others are computed here.
YEAR_TABLES = tuple(t.name for t in per_year_published())


class NothingToPublish(Exception):
    """Every year is withheld: no release, LATEST untouched."""


@dataclass
class Plan:
    published_years: list[int]
    withheld: dict[int, list[str]]
    tables: dict[str, pd.DataFrame]
    inputs: list[dict]
    configuration: dict
    methodology_version: str
    extras: dict = field(default_factory=dict)   # what index.html shows beyond the tables


@dataclass
class Release:
    release_id: str
    path: Path
    content_hash: str
    unchanged: bool
    manifest: dict


# --------------------------------------------------------------------------- what to publish

def withheld_years(con: duckdb.DuckDBPyConnection) -> tuple[list[int], dict[int, list[str]]]:
    """Years that can be published, and the reasons the others are withheld.

    A year is published only when its population delivery passed its audit (status
    `loaded`): most denominators come from it (methodology.md section 7). Another feed
    without good data nulls its own indicators, with the reason, and leaves the year's
    index provisional; it does not withhold the year."""
    years = sorted({r[0] for r in con.execute(
        "select distinct year from quality.deliveries where status <> 'unexpected'").fetchall()})
    marts = {r[0] for r in con.execute(
        "select distinct year from marts.indicator_values").fetchall()} \
        if relation_exists(con, "marts", "indicator_values") else set()
    reasons: dict[int, list[str]] = {}
    for year in years:
        why = []
        if year not in PLAN_YEARS:
            why.append(f"outside the plan period {PLAN_YEARS[0]}–{PLAN_YEARS[-1]}")
        for feed in (FEEDS[f] for f in YEAR_FEEDS):
            for part in feed.parts:
                loaded = relation_exists(con, "staging", part.staging) and one(
                    con, f"select exists (select 1 from staging.{ident(part.staging)} "
                         "where year = ?)", [year])[0]
                if not loaded:
                    last = con.execute(
                        "select file_name, status, message from quality.deliveries where "
                        "feed = ? and year = ? and status <> 'unexpected' "
                        "order by recorded_at desc limit 1", [feed.id, year]).fetchall()
                    detail = f"{last[0][1]}: {last[0][2] or last[0][0]}" if last else \
                        "not delivered"
                    why.append(f"{feed.id}: no good delivery in use ({detail})")
                    break
        # Data in use that failed its critical suite: only from a warehouse made before
        # write-audit-publish (since then such a delivery is never published).
        failed = con.execute(
            "select c.feed, c.table_name, c.failures from quality.check_results c "
            "where c.year = ? and c.suite = 'critical' and not c.passed and "
            "(c.delivery_sha256 is null or c.delivery_sha256 in (select sha256 from "
            "quality.deliveries d where d.year = c.year and d.feed = c.feed and "
            "d.status = 'loaded')) order by all", [year]).fetchall()
        why += [f"{f}: critical expectations failed on {t} ({_short_failures(x)})"
                for f, t, x in failed]
        if not why and year not in marts:
            why.append("indicators not computed for this year")
        if why:
            reasons[year] = sorted(set(why))
    return [y for y in years if y not in reasons], reasons


def _short_failures(failures_json: str) -> str:
    items = json.loads(failures_json or "[]")
    return "; ".join(f"{i['expectation']} {i.get('column', '')}".strip() for i in items[:3])


class StaleMarts(NothingToPublish):
    """A year's marts were not computed from the deliveries now in use: publishing would
    name inputs the values do not come from. No release; LATEST untouched."""


def plan_release(con: duckdb.DuckDBPyConnection, config) -> Plan:
    published, withheld = withheld_years(con)
    if not published:
        raise NothingToPublish("every reporting year is withheld: "
                               + "; ".join(f"{y}: {', '.join(r)}" for y, r in withheld.items()))
    stale = stale_years(con, published, config)
    if stale:
        raise StaleMarts(
            f"the indicators of {', '.join(map(str, stale))} were not computed from the "
            "deliveries now in use, with this configuration and code (their run stopped "
            "before the indicators, or the configuration changed): no new release, LATEST "
            "stays. Run those years again: junheng run --years "
            + ",".join(map(str, stale)))
    years = tuple(published)

    def read(table: str) -> pd.DataFrame:
        return con.execute(f"select * from marts.{table} where year in "
                           f"({', '.join('?' * len(years))}) order by all", list(years)).df()

    tables = {t: read(t) for t in YEAR_TABLES}
    # The series completed from every year's stored figures (also those withheld: training
    # in a year without a fit population delivery still took place).
    tables["indicator_values"] = finalize_series(tables["indicator_values"],
                                                 stored_figures(con))
    cat = con.execute("select * from reference.indicators order by indicator_id").df()
    # Cross-year results over the published years only.
    dist = con.execute("select * from reference.districts order by all").df()
    tables |= cross_year(tables["indicator_values"], tables["area_scores"],
                         tables["equalisation_index"], tables["equalisation_measures"], cat,
                         config, dist)
    tables["equalisation_index"] = with_targets(tables["equalisation_index"],
                                                tables["target_progress"])
    tables["data_quality"] = data_quality(con, config.methodology_version)
    tables["indicators"] = indicators_table(cat, config)
    inputs = [{"feed": r[0], "year": r[1], "name": r[2], "sha256": r[3]} for r in con.execute(
        f"select feed, year, file_name, sha256 from quality.deliveries where status = 'loaded' "
        f"and year in ({', '.join('?' * len(years))}) order by all", list(years)).fetchall()]
    extras = {"catalogue": cat, "deliveries": con.execute(
        "select feed, year, file_name, status, rows_read, rows_loaded, rows_rejected, message "
        "from quality.deliveries order by year, feed, file_name").df()}
    return Plan(list(years), withheld, tables, inputs, config.as_dict(),
                config.methodology_version, extras)


def data_quality(con: duckdb.DuckDBPyConnection, version: str) -> pd.DataFrame:
    """One row per delivered file: counts, expectations (of the suites run on that very
    delivery, passed or rejected) and (pension) dual enrolments."""
    dq = con.execute(
        "select d.feed, d.department, d.year, d.file_name, d.sha256, d.bytes, d.rows_read, "
        "d.rows_loaded, d.rows_rejected, d.status, "
        "case when d.status in ('rejected', 'failed') then d.message end as reason, "
        "d.status = 'loaded' as in_use, c.run as expectations_run, "
        "c.failed as expectations_failed from quality.deliveries d left join ("
        "select feed, year, delivery_sha256, sum(evaluated) as run, sum(failed) as failed "
        "from quality.check_results group by all) c on c.feed = d.feed and c.year = d.year "
        "and c.delivery_sha256 = d.sha256 order by all").df()
    duals = dict(con.execute("select year, sum(persons_in_both_schemes) from "
                             "marts.pension_dual_enrolments group by all").fetchall()) \
        if relation_exists(con, "marts", "pension_dual_enrolments") else {}
    dq["dual_enrolments"] = [duals.get(y) if f == "pension" and s == "loaded" else None
                             for f, y, s in zip(dq["feed"], dq["year"], dq["status"],
                                                strict=True)]
    dq["methodology_version"] = version
    return dq


# --------------------------------------------------------------------------- writing

def to_arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    cols, keys = TABLES[name]
    sch = schema(name)
    arrays = []
    for f in sch:
        col = frame[f.name] if f.name in frame else pd.Series([None] * len(frame))
        if pa.types.is_integer(f.type):
            col = pd.array(col.astype("Float64").round(), dtype="Int64")
        arrays.append(pa.array(col, type=f.type, from_pandas=True))
    table = pa.Table.from_arrays(arrays, schema=sch)
    return table.sort_by([(k, "ascending") for k in keys])


def code_version() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            return out.stdout.strip()
    except OSError:
        pass
    from importlib.metadata import version
    return version("junheng")


def latest(extracts: Path) -> str | None:
    p = Path(extracts) / "LATEST"
    return p.read_text(encoding="utf-8").strip() if p.exists() else None


def write_release(plan: Plan, extracts: Path, now: datetime | None = None,
                  on_file: Callable[[str], None] | None = None) -> Release:
    """Write a release atomically; `on_file(name)` is called after each file (for tests)."""
    from junheng.publish.html import render_index

    extracts = Path(extracts)
    extracts.mkdir(parents=True, exist_ok=True)
    for stale in extracts.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for pattern in (".index.html-*", ".*.zip-*"):   # a killed run's half-written files
        for stale in extracts.glob(pattern):
            stale.unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=extracts))
    try:
        outputs = []
        arrow = {}

        def write_table(name: str, frame: pd.DataFrame) -> dict:
            table = to_arrow(name, frame)
            arrow[name] = table
            path = tmp / f"{name}.parquet"
            pq.write_table(table, path, compression="zstd")
            if on_file:
                on_file(path.name)
            return {"name": path.name, "rows": table.num_rows, "sha256": file_sha256(path),
                    "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema]}

        # The revisions depend on the previous release, not on the content: written after
        # the content hash, which they do not enter.
        for name in TABLES:
            if name != "revisions":
                outputs.append(write_table(name, plan.tables[name]))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["file", "column", "type", "unit", "description_zh", "description_en", "key"])
        w.writerows(dictionary_rows())
        (tmp / "data_dictionary.csv").write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
        dictionary = {"name": "data_dictionary.csv", "rows": len(dictionary_rows()),
                      "sha256": file_sha256(tmp / "data_dictionary.csv"), "columns": []}
        content = {"outputs": {o["name"]: o["sha256"] for o in [*outputs, dictionary]},
                   "configuration": plan.configuration, "inputs": plan.inputs,
                   "published_years": plan.published_years,
                   "withheld": {str(k): v for k, v in plan.withheld.items()}}
        content_hash = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        previous = latest(extracts)
        if previous and previous.endswith(content_hash[:8]) and (extracts / previous).is_dir():
            old = json.loads((extracts / previous / "manifest.json").read_text(encoding="utf-8"))
            if old.get("content_hash") == content_hash:
                shutil.rmtree(tmp)
                return Release(previous, extracts / previous, content_hash, True, old)
        now = now or datetime.now(UTC)
        release_id = f"{now:%Y%m%dT%H%M%SZ}-{content_hash[:8]}"
        prev_dir = extracts / previous if previous and (extracts / previous).is_dir() else None
        prev_manifest = json.loads((prev_dir / "manifest.json").read_text(encoding="utf-8")) \
            if prev_dir and (prev_dir / "manifest.json").exists() else None
        revised = revisions(prev_dir, prev_manifest, arrow, plan.inputs, plan.configuration,
                            plan.methodology_version)
        outputs.append(write_table("revisions", revised))
        outputs.append(dictionary)
        for name, table in arrow.items():
            write_csv(table, tmp / "csv" / f"{name}.csv")
        manifest = {
            "release_id": release_id, "created_at": now.isoformat(timespec="seconds"),
            "code_version": code_version(), "methodology_version": plan.methodology_version,
            "content_hash": content_hash, "configuration": plan.configuration,
            "published_years": plan.published_years,
            "withheld_years": [{"year": y, "reasons": r} for y, r in sorted(plan.withheld.items())],
            "inputs": plan.inputs, "outputs": outputs,
            "demo_feeds": plan.extras.get("demo_feeds"),   # not in the content hash
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2)
                                           + "\n", encoding="utf-8")
        if on_file:
            on_file("manifest.json")
        (tmp / "index.html").write_text(render_index(manifest, arrow, plan), encoding="utf-8")
        if on_file:
            on_file("index.html")
        shutil.copyfile(PROJECT_ROOT / "docs" / "methodology.md", tmp / "methodology.md")
        (tmp / "datapackage.json").write_text(
            json.dumps(datapackage(tmp, release_id, manifest), ensure_ascii=False, indent=2)
            + "\n", encoding="utf-8")
        write_sha256sums(tmp)                     # last: it covers every other file
        for p in tmp.rglob("*"):
            os.chmod(p, 0o755 if p.is_dir() else 0o444)
        os.chmod(tmp, 0o755)
        final = extracts / release_id
        os.rename(tmp, final)                     # the release appears complete, or not at all
        write_zip(extracts, final)                # beside it, each under a temporary name
        write_listing(extracts, release_id)
        _replace_latest(extracts, release_id)     # then LATEST, in one atomic step
        return Release(release_id, final, content_hash, False, manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_latest(extracts: Path, release_id: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".LATEST-", dir=extracts)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(release_id + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, extracts / "LATEST")
    dir_fd = os.open(extracts, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
