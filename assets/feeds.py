"""Ingest assets for one departmental feed: raw and staging tables per reporting year,
with Great Expectations suites and a row reconciliation as asset checks.

One multi-asset per feed, because a feed-year loads all or nothing: a feed with two
files (eldercare, environment) or two sheets (health) is one delivery unit.
"""


import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb

from assets.partitions import reporting_year
from junheng.ingest.feeds import Feed, Part
from junheng.ingest.load import FeedResult, PartResult, load_feed_year, rejected_lines
from junheng.ingest.readers import DeliveryError
from junheng.quality.expectations import Outcome, Validator, profile
from junheng.sql import ident, one
from pipelines.resources import DuckDBWarehouse, LandingZone

POOL = "duckdb_writer"
log = logging.getLogger("junheng")
RESTRICTED_COLUMNS = {"person_key"}  # never in metadata, logs or previews


# Everything Great Expectations does in this process runs on this one thread, in order:
# building the context (importing great_expectations takes about 4 s of Python, which
# overlaps with DuckDB loading the first feed: DuckDB releases the GIL), the validations,
# and the Data Docs pages, which render while the next feed loads. One thread, so GX's
# context is never used concurrently.
_GX = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gx")


@cache
def _gx_context(docs_dir: str) -> Future:
    return _GX.submit(Validator, docs_dir=Path(docs_dir))


def warm_validator(docs_dir: str) -> None:
    """Start building the GX context in the background (see _GX). The pension step runs
    first (the largest), so by its validation GX is there."""
    _gx_context(docs_dir)


def validator(docs_dir: str) -> Validator:
    """One GX context per process (the in-process executor runs every step here)."""
    return _gx_context(docs_dir).result()


def _docs_done(future: Future) -> None:
    if future.exception() is not None:
        log.warning("Data Docs were not rendered: %s", future.exception())


def data_docs_written() -> None:
    """Wait until the Data Docs pages queued so far are written."""
    _GX.submit(lambda: None).result()


def _preview(con: duckdb.DuckDBPyConnection, part: Part, year: int) -> str:
    cols = [c[0] for c in con.execute(
        "select column_name from duckdb_columns() where schema_name = 'staging' "
        "and table_name = ? order by column_index", [part.staging]).fetchall()]
    cols = [ident(c) for c in cols if c not in RESTRICTED_COLUMNS]
    rows = con.execute(f"select {', '.join(cols)} from staging.{ident(part.staging)} "
                       "where year = ? order by _line limit 5", [year]).fetchall()
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "\n".join("| " + " | ".join("" if v is None else str(v) for v in r) + " |"
                            for r in rows)


def _check_names(part: Part) -> list[tuple[str, bool, str]]:
    return [
        ("critical_expectations", True, f"GX suite expectations/staging.{part.staging}."
         "critical.json: a failure blocks everything downstream of this feed-year."),
        ("warning_expectations", False, f"GX suite expectations/staging.{part.staging}."
         "warning.json: shown, blocks nothing."),
        ("rows_reconcile", True, "For the delivery: rows read = rows loaded + rows rejected."),
    ]


def _reconcile(con: duckdb.DuckDBPyConnection, feed: Feed, part: Part, year: int) -> tuple:
    read = one(con, f"select count(*) from raw.{ident(part.raw_table)} where _year = ?",
               [year])[0]
    loaded = one(con, f"select count(*) from staging.{ident(part.staging)} where year = ?",
                 [year])[0]
    rejected = rejected_lines(con, feed.id, year, part.raw_table)
    return read, loaded, rejected


def _record(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, outcomes: list[Outcome],
            run_id: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    for o in outcomes:
        con.execute("delete from quality.check_results where feed = ? and year = ? and "
                    "table_name = ? and suite = ?", [feed.id, year, o.table, o.level])
        con.execute("insert into quality.check_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [feed.id, year, o.table, o.level, o.passed, o.evaluated, o.failed,
                     json.dumps(o.failures, ensure_ascii=False), now, run_id])
    con.execute("commit")


def _stored_outcomes(con: duckdb.DuckDBPyConnection, feed: Feed, year: int) -> dict:
    rows = con.execute("select table_name, suite, passed, evaluated, failed, failures "
                       "from quality.check_results where feed = ? and year = ?",
                       [feed.id, year]).fetchall()
    return {(r[0], r[1]): Outcome(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "[]"))
            for r in rows}


def _materializations(result: FeedResult, con, year: int) -> Iterator[dg.MaterializeResult]:
    for i, r in enumerate(result.parts):
        version = dg.DataVersion(r.sha256[:16])
        common = {"delivery_sha256": r.sha256, "file_name": r.file_name,
                  "rows_read": dg.MetadataValue.int(r.rows_read),
                  "unchanged": result.unchanged}
        # The feed-year's load phases, once (on its first raw table).
        timing = {"seconds_by_phase": dg.MetadataValue.json(result.seconds)} \
            if i == 0 and result.seconds else {}
        yield dg.MaterializeResult(asset_key=["raw", r.part.raw_table], data_version=version,
                                   metadata={**common, **timing})
        yield dg.MaterializeResult(
            asset_key=["staging", r.part.staging], data_version=version,
            metadata={**common,
                      "rows_loaded": dg.MetadataValue.int(r.rows_loaded),
                      "rows_rejected": dg.MetadataValue.int(r.rows_rejected),
                      "rejected_share": dg.MetadataValue.float(r.rejected_share),
                      "extra_columns_ignored": ", ".join(r.extra_columns) or "none",
                      "preview": dg.MetadataValue.md(_preview(con, r.part, year))})


def _check_results(feed: Feed, part_result: PartResult, outcomes: dict, recon: tuple,
                   gx_seconds: float) -> Iterator[dg.AssetCheckResult]:
    part = part_result.part
    key = dg.AssetKey(["staging", part.staging])
    for level, severity in (("critical", dg.AssetCheckSeverity.ERROR),
                            ("warning", dg.AssetCheckSeverity.WARN)):
        o = outcomes[part.staging, level]
        yield dg.AssetCheckResult(
            asset_key=key, check_name=f"{level}_expectations", passed=o.passed,
            severity=severity,
            metadata={"evaluated": o.evaluated, "failed": o.failed,
                      "gx_seconds": dg.MetadataValue.float(gx_seconds / 2),
                      "failures": dg.MetadataValue.json(o.failures),
                      "summary": o.summary()[:2000]})
    read, loaded, rejected = recon
    yield dg.AssetCheckResult(
        asset_key=key, check_name="rows_reconcile", passed=read == loaded + rejected,
        metadata={"rows_read": read, "rows_loaded": loaded, "rows_rejected": rejected})


def feed_assets(feed: Feed) -> dg.AssetsDefinition:
    specs, checks = [], []
    upstream = [dg.AssetKey(["reference", "districts"])]
    upstream += [dg.AssetKey(["staging", t]) for t in feed.depends_on]
    for part in feed.parts:
        raw = dg.AssetKey(["raw", part.raw_table])
        specs.append(dg.AssetSpec(
            raw, deps=upstream, kinds={"duckdb"},
            description=f"{part.grain.split('.')[0]}, as delivered: every row read, text as "
                        "in the file, with _year, _delivery_sha256, _line and _error."))
        specs.append(dg.AssetSpec(["staging", part.staging], deps=[raw], kinds={"duckdb"},
                                  description=f"{part.grain} Typed, English names; rows that "
                                              "break a rule of feeds.md are in "
                                              "quality.quarantine instead."))
        checks += [dg.AssetCheckSpec(name, asset=["staging", part.staging], blocking=blocking,
                                     description=desc)
                   for name, blocking, desc in _check_names(part)]

    @dg.multi_asset(name=f"ingest_{feed.id}", specs=specs, check_specs=checks,
                    partitions_def=reporting_year, pool=POOL,
                    # Largest feed first: its DuckDB work hides the GX import (see
                    # warm_validator), and a run that will fail on it fails early.
                    op_tags={"dagster/priority": str(feed.priority)},
                    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
                    description=f"Ingest the {feed.id} feed ({feed.department}) for one year.")
    def ingest(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
               landing: LandingZone):
        year = int(context.partition_key)
        warm_validator(str(warehouse.docs_dir))
        with warehouse.connect() as con:
            try:
                result = load_feed_year(con, feed, year, landing.path_obj, warehouse.archive_dir,
                                        context.run_id)
            except DeliveryError as exc:
                raise dg.Failure(
                    description=f"{feed.id} {year} not loaded, earlier data kept: {exc}",
                    metadata={"file": exc.file_name, "problem": exc.problem,
                              "line": exc.line or 0, "column": exc.column or ""},
                    allow_retries=False) from None
            for u in result.unexpected:
                context.log.warning(f"unexpected file {feed.id}/{year}/{u.file_name} "
                                    f"({u.problem}): recorded, not read")
            yield from _materializations(result, con, year)
            outcomes = _stored_outcomes(con, feed, year) if result.unchanged else {}
            t0 = time.perf_counter()
            if len(outcomes) < 2 * len(feed.parts):
                gx = validator(str(warehouse.docs_dir))
                fresh = []
                for r in result.parts:
                    prof = profile(con, r.part.staging, year, r.rows_read, r.rows_rejected)
                    data = gx.frame(con, r.part.staging, year, prof)
                    found = _GX.submit(gx.run, r.part.staging, year, data,
                                       context.run_id[:8]).result()
                    for level, o in found.items():
                        outcomes[r.part.staging, level] = o
                        fresh.append(o)
                _record(con, feed, year, fresh, context.run_id)
                _GX.submit(gx.build_docs).add_done_callback(_docs_done)
            gx_seconds = time.perf_counter() - t0
            for r in result.parts:
                yield from _check_results(feed, r, outcomes, _reconcile(con, feed, r.part, year),
                                          gx_seconds / len(result.parts))

    return ingest
