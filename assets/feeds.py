"""Ingest assets for one departmental feed: raw and staging tables per reporting year,
with Great Expectations suites and a row reconciliation as asset checks.

One multi-asset per feed, because a feed-year loads all or nothing: a feed with two
files (eldercare, environment) or two sheets (health) is one delivery unit. The
submissions feed is the exception the contract makes: each department's file is a unit of
its own (load.load_feed_units), and a department's missing, unreadable or rejected file
blocks nothing downstream (its indicators are null for the year, with the reason).
"""

import hashlib
import logging
import warnings
from collections.abc import Iterator

import dagster as dg
import duckdb

from assets.engine import PersonLevelEngine
from assets.marts_io import column_schema
from assets.partitions import reporting_year
from assets.resources import DuckDBWarehouse, GreatExpectations, LandingZone
from junheng import registry
from junheng.ingest.feeds import FEEDS, Feed, Part
from junheng.ingest.load import (
    FAILED,
    FORCE_TAG,
    PUBLISHED,
    REJECTED,
    REJECTED_BEFORE,
    Candidate,
    FeedResult,
    by_year,
    load_feed_units,
    load_feed_year,
    published_parts,
    rejected_lines,
)
from junheng.ingest.readers import DeliveryError
from junheng.privacy import first_line, scrub, scrub_all
from junheng.quality.expectations import Outcome, profile
from junheng.sql import ident, one

POOL = "duckdb_writer"
log = logging.getLogger("junheng")
RESTRICTED_COLUMNS = {"person_key"}  # never in metadata, logs or previews


def _preview(con: duckdb.DuckDBPyConnection, part: Part, year: int) -> str:
    """Five rows of the staging table; for a restricted (person-level) table, never rows:
    its counts by district instead."""
    if part.restricted:
        rows = con.execute(f"select district_code, count(*) from staging.{ident(part.staging)} "
                           "where year = ? group by all order by all", [year]).fetchall()
        return "| district_code | rows |\n|---|---|\n" + "\n".join(
            f"| {scrub(str(d))} | {n} |" for d, n in rows)
    cols = [c[0] for c in con.execute(
        "select column_name from duckdb_columns() where schema_name = 'staging' "
        "and table_name = ? order by column_index", [part.staging]).fetchall()]
    cols = [ident(c) for c in cols if c not in RESTRICTED_COLUMNS]
    rows = con.execute(f"select {', '.join(cols)} from staging.{ident(part.staging)} "
                       "where year = ? order by _line limit 5", [year]).fetchall()
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return scrub(head + "\n".join("| " + " | ".join("" if v is None else str(v) for v in r)
                                   + " |" for r in rows))


def _check_names(feed: Feed, part: Part) -> list[tuple[str, bool, str]]:
    unit = feed.unit_column
    return [
        ("critical_expectations", True, f"GX suite expectations/staging.{part.staging}."
         "critical.json, run on each delivery BEFORE it is published. A failure rejects the "
         "delivery: it replaces nothing, the last good data stays in use (severity WARN); "
         "with no good data for the year the failure blocks everything downstream (ERROR)."
         if not unit else
         f"GX suite expectations/staging.{part.staging}.critical.json, run on each "
         f"{unit}'s delivery BEFORE it is published. Fails when a {unit}'s delivery was "
         f"rejected or could not be read: it replaces nothing, that {unit}'s last good data "
         "stays in use, and downstream goes on (always WARN: a "
         f"{unit} without good data has its indicators null for the year)."),
        ("warning_expectations", False, f"GX suite expectations/staging.{part.staging}."
         "warning.json: shown, blocks nothing."),
        ("rows_reconcile", True, "For the delivery in use: rows read = rows loaded + rows "
                                 "rejected."),
    ]


def _reconcile(con: duckdb.DuckDBPyConnection, feed: Feed, part: Part, year: int) -> tuple:
    read = one(con, f"select count(*) from raw.{ident(part.raw_table)} where _year = ?",
               [year])[0]
    loaded = one(con, f"select count(*) from staging.{ident(part.staging)} where year = ?",
                 [year])[0]
    rejected = rejected_lines(con, feed.id, year, part.raw_table)
    return read, loaded, rejected


def _warehouse_refused(feed: Feed, year: int, exc: duckdb.Error) -> dg.Failure:
    """A statement the warehouse refused: its text can quote the data it failed on, so only
    a scrubbed first line leaves, without DuckDB's traceback."""
    return dg.Failure(description=f"{feed.id} {year}: the warehouse refused a statement "
                                  f"({first_line(exc)[:500]}); nothing of this delivery was "
                                  "published",
                      allow_retries=False)


def _audit(resource: GreatExpectations, run_id: str, year: int):
    """The candidates of a feed-year (or of its units) through their suites (see
    load_feed_year): each candidate's profile and frame (DuckDB work), then the suites of
    each table on its frames, together where that gives each its own outcome
    (`Validator.run_together`: a year's department files). GX is imported only when there
    is a delivery to audit."""
    def audit(con: duckdb.DuckDBPyConnection,
              candidates: list[Candidate]) -> list[dict[str, Outcome]]:
        gx = resource.validator()
        by_table: dict[str, list[int]] = {}
        for i, c in enumerate(candidates):
            by_table.setdefault(c.part.staging, []).append(i)
        found: list[dict[str, Outcome]] = [{} for _ in candidates]
        for table, positions in by_table.items():
            frames, names = [], []
            for c in (candidates[i] for i in positions):
                prof = profile(con, table, year, c.counts.rows_read, c.counts.rows_rejected,
                               relation=c.relation, unit=c.counts.unit)
                frames.append(gx.frame(con, table, year, prof, relation=c.relation))
                names.append(c.counts.unit[1] if c.counts.unit else "")
            for i, outcomes in zip(positions, gx.run_together(table, year, frames, names,
                                                              run_id[:8]), strict=True):
                found[i] = outcomes
        return found
    return audit


def _materializations(result: FeedResult, con, year: int) -> Iterator[dg.MaterializeResult]:
    """The raw and staging tables as they are now: the data in use, which a rejected or
    unreadable delivery did not replace (same data version as before)."""
    audited = {r.part.staging: r for r in result.audited}
    for i, r in enumerate(result.parts):
        version = dg.DataVersion(r.sha256[:16])
        common = {"delivery_sha256": r.sha256, "file_name": r.file_name,
                  "rows_read": dg.MetadataValue.int(r.rows_read),
                  "delivery_status": result.status,
                  "unchanged": result.status != PUBLISHED}
        if result.message:
            common["rejected_delivery"] = scrub(result.message)[:2000]
        # The feed-year's load phases, once (on its first raw table).
        timing = {"seconds_by_phase": dg.MetadataValue.json(result.seconds)} \
            if i == 0 and result.seconds else {}
        yield dg.MaterializeResult(asset_key=["raw", r.part.raw_table], data_version=version,
                                   metadata={**common, **timing})
        a = audited.get(r.part.staging)
        extra = {"extra_columns_ignored": scrub(", ".join(a.extra_columns)) or "none"} \
            if a else {}
        yield dg.MaterializeResult(
            asset_key=["staging", r.part.staging], data_version=version,
            metadata={**common, **extra,
                      "rows_loaded": dg.MetadataValue.int(r.rows_loaded),
                      "rows_rejected": dg.MetadataValue.int(r.rows_rejected),
                      "rejected_share": dg.MetadataValue.float(r.rejected_share),
                      "preview": dg.MetadataValue.md(_preview(con, r.part, year))})


def _check_results(part: Part, outcomes: dict, in_use: bool, recon: tuple | None,
                   about: dict) -> Iterator[dg.AssetCheckResult]:
    """The delivery's suites, and the reconciliation of the data in use. A failed critical
    suite is an ERROR (blocking downstream) only when no good data of the year is in use."""
    key = dg.AssetKey(["staging", part.staging])
    for level in ("critical", "warning"):
        o = outcomes.get((part.staging, level))
        severity = dg.AssetCheckSeverity.ERROR if level == "critical" and not in_use \
            else dg.AssetCheckSeverity.WARN
        if o is None:  # the delivery could not be read: there was nothing to validate
            yield dg.AssetCheckResult(asset_key=key, check_name=f"{level}_expectations",
                                      passed=level == "warning", severity=severity,
                                      metadata=scrub_all(about))
            continue
        yield dg.AssetCheckResult(
            asset_key=key, check_name=f"{level}_expectations", passed=o.passed,
            severity=severity,
            metadata={**scrub_all({**about, "evaluated": o.evaluated, "failed": o.failed,
                                   "summary": o.summary()[:2000]}),
                      "failures": dg.MetadataValue.json(scrub_all(o.failures))})
    if recon is None:
        yield dg.AssetCheckResult(asset_key=key, check_name="rows_reconcile", passed=False,
                                  metadata={"rows_read": 0, "rows_loaded": 0,
                                            "rows_rejected": 0})
        return
    read, loaded, rejected = recon
    yield dg.AssetCheckResult(
        asset_key=key, check_name="rows_reconcile", passed=read == loaded + rejected,
        metadata={"rows_read": read, "rows_loaded": loaded, "rows_rejected": rejected})


def feed_assets(feed: Feed) -> dg.AssetsDefinition:
    specs, checks = [], []
    # The rules and the staging views read the districts and their aliases.
    upstream = [dg.AssetKey(["reference", "districts"]),
                dg.AssetKey(["reference", "district_aliases"])]
    upstream += [dg.AssetKey(["staging", t]) for t in feed.depends_on]
    for part in feed.parts:
        raw = dg.AssetKey(["raw", part.raw_table])
        # Skippable: with no good delivery of the feed-year there is nothing to materialise,
        # and what depends on it does not run. Description, owner and columns come from the
        # table registry, as for every other table.
        for address, deps in ((("raw", part.raw_table), upstream),
                              (("staging", part.staging), [raw])):
            t = registry.table(*address)
            specs.append(dg.AssetSpec(
                list(address), deps=deps, skippable=True,
                kinds={"duckdb", "table" if address[0] == "raw" and not by_year(part)
                       else "view"},
                group_name=feed.id, description=t.description, owners=[f"team:{feed.id}"],
                metadata={"dagster/column_schema": column_schema(t)}))
        # Partitioned like the asset: every result shows its reporting year in the UI. A
        # preview feature in Dagster 1.13 (pinned to that minor in pyproject.toml): its
        # warning is expected, not shown.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            checks += [dg.AssetCheckSpec(name, asset=["staging", part.staging],
                                         blocking=blocking, description=desc,
                                         partitions_def=reporting_year)
                       for name, blocking, desc in _check_names(feed, part)]

    @dg.multi_asset(name=f"ingest_{feed.id}", specs=specs, check_specs=checks,
                    partitions_def=reporting_year, pool=POOL,
                    # Largest feed first: a run that will fail on it fails early.
                    op_tags={"dagster/priority": str(feed.priority)},
                    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
                    description=f"Ingest the {feed.id} feed ({feed.department}) for one year.")
    def ingest(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
               landing: LandingZone, gx: GreatExpectations, engine: PersonLevelEngine):
        year = int(context.partition_key)
        force = context.run.tags.get(FORCE_TAG) == "true"
        if feed.unit_column:
            yield from _ingest_units(context, feed, year, warehouse, landing, gx, force)
            return
        with warehouse.connect() as con:
            try:
                result = load_feed_year(con, feed, year, landing.path_obj, warehouse.archive_dir,
                                        context.run_id, _audit(gx, context.run_id, year),
                                        force=force,
                                        person_level=engine.pension_reader(warehouse),
                                        prepare=gx.validator)
            except DeliveryError as exc:
                problem = f"{feed.id} {year}: {exc}"
                in_use = published_parts(con, feed, year)
                if not in_use:
                    raise dg.Failure(
                        description=f"{problem} (nothing of it was loaded, and there is no "
                                    "earlier good delivery of this feed-year)",
                        metadata=scrub_all({"file": exc.file_name, "problem": exc.problem,
                                            "line": exc.line or 0, "column": exc.column or ""}),
                        allow_retries=False) from None
                context.log.warning(scrub(f"{problem}; the last good delivery stays in use"))
                result = FeedResult(feed.id, year, in_use, [], [], status=FAILED,
                                    message=str(exc))
            except duckdb.Error as exc:
                raise _warehouse_refused(feed, year, exc) from None
            for u in result.unexpected:
                context.log.warning(scrub(f"unexpected {feed.id}/{year}/{u.file_name}: "
                                          f"{u.problem}: recorded, not read"))
            if result.status in (REJECTED, REJECTED_BEFORE):
                context.log.warning(scrub(
                    f"{feed.id} {year} delivery {'was ' if result.unchanged else ''}rejected"
                    f"{' by an earlier run' if result.unchanged else ''}: "
                    f"{result.message}")[:2000]
                    + ("; the last good delivery stays in use" if result.parts else
                       "; no good delivery of this feed-year: the year is withheld"))
            if result.parts:
                yield from _materializations(result, con, year)
            about = {"delivery_status": result.status,
                     "delivery_files": ", ".join(d.file_name for d in result.deliveries),
                     "in_use": ", ".join(sorted({r.file_name for r in result.parts}))
                     or "nothing: no good delivery of this feed-year"}
            if result.message:
                about["message"] = result.message[:2000]
            for spec in feed.files:
                for part in spec.parts:
                    recon = _reconcile(con, feed, part, year) if result.parts else None
                    yield from _check_results(part, result.outcomes, bool(result.parts),
                                              recon, {**about, "file_name": spec.name(year)})

    return ingest


# --------------------------------------------------------------------------- units

def _unit_rows(results: list[FeedResult]) -> list[dict]:
    return [{"department": r.unit, "status": r.status,
             "file_name": r.parts[0].file_name if r.parts else "",
             "in_use": bool(r.parts),
             "rows_loaded": sum(p.rows_loaded for p in r.parts),
             "rows_rejected": sum(p.rows_rejected for p in r.parts),
             "message": scrub(r.message or "")[:500]} for r in results]


def _units_table(rows: list[dict]) -> str:
    head = "| department | status | in use | rows loaded | rows rejected | message |\n" \
           "|---|---|---|---|---|---|\n"
    return head + "\n".join(
        f"| {r['department']} | {r['status']} | {r['file_name'] or 'nothing'} | "
        f"{r['rows_loaded']} | {r['rows_rejected']} | "
        f"{r['message'].replace('|', '/').replace(chr(10), ' ')[:200]} |" for r in rows)


def _ingest_units(context: dg.AssetExecutionContext, feed: Feed, year: int,
                  warehouse: DuckDBWarehouse, landing: LandingZone, gx: GreatExpectations,
                  force: bool) -> Iterator:
    """A feed whose files are units of delivery: each unit written, audited and published on
    its own; the tables materialised with every unit's status. The critical check fails
    when a unit's delivery was rejected or could not be read, always as a WARN: a unit
    without good data has its indicators null, it holds back nothing else."""
    part = feed.parts[0]
    with warehouse.connect() as con:
        try:
            results = load_feed_units(con, feed, year, landing.path_obj, warehouse.archive_dir,
                                      context.run_id, _audit(gx, context.run_id, year),
                                      force=force)
        except duckdb.Error as exc:
            raise _warehouse_refused(feed, year, exc) from None
        for u in results[0].unexpected if results else []:
            context.log.warning(scrub(f"unexpected {feed.id}/{year}/{u.file_name}: "
                                      f"{u.problem}: recorded, not read"))
        for r in results:
            if r.status in (REJECTED, REJECTED_BEFORE, FAILED):
                context.log.warning(scrub(
                    f"{feed.id} {year} {r.unit}: {r.status}: {r.message}")[:2000]
                    + ("; its last good delivery stays in use" if r.parts else
                       "; no good delivery of this department-year: its indicators are null"))
        rows = _unit_rows(results)
        in_use = [p for r in results for p in r.parts]
        shas = sorted(p.sha256 for p in in_use)
        version = dg.DataVersion(hashlib.sha256("".join(shas).encode()).hexdigest()[:16])
        read, loaded, rejected = _reconcile(con, feed, part, year)
        statuses = {r.unit: r.status for r in results}
        common = {"delivery_status": dg.MetadataValue.json(statuses),
                  "departments_in_use": dg.MetadataValue.int(sum(bool(r.parts)
                                                                 for r in results)),
                  "departments": dg.MetadataValue.md(_units_table(rows)),
                  "unchanged": all(r.status != PUBLISHED for r in results),
                  "rows_read": dg.MetadataValue.int(read)}
        timing = {r.unit: r.seconds for r in results if r.seconds}
        yield dg.MaterializeResult(
            asset_key=["raw", part.raw_table], data_version=version,
            metadata={**common, "seconds_by_phase": dg.MetadataValue.json(timing)})
        extra = sorted({c for r in results for a in r.audited for c in a.extra_columns})
        yield dg.MaterializeResult(
            asset_key=["staging", part.staging], data_version=version,
            metadata={**common,
                      "extra_columns_ignored": scrub(", ".join(extra)) or "none",
                      "rows_loaded": dg.MetadataValue.int(loaded),
                      "rows_rejected": dg.MetadataValue.int(rejected),
                      "rejected_share": dg.MetadataValue.float(rejected / read if read
                                                               else 0.0),
                      "preview": dg.MetadataValue.md(_preview(con, part, year))})
        key = dg.AssetKey(["staging", part.staging])
        for level in ("critical", "warning"):
            # Critical: the units whose delivery was rejected or unreadable (a unit not
            # delivered had nothing to audit: its status is in the metadata).
            failing = {r.unit: scrub(r.message or "")[:1000] for r in results
                       if r.status in (REJECTED, REJECTED_BEFORE, FAILED)} \
                if level == "critical" else \
                {r.unit: r.outcomes[part.staging, level].summary()[:1000] for r in results
                 if (part.staging, level) in r.outcomes
                 and not r.outcomes[part.staging, level].passed}
            yield dg.AssetCheckResult(
                asset_key=key, check_name=f"{level}_expectations", passed=not failing,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"delivery_status": dg.MetadataValue.json(statuses),
                          "departments": dg.MetadataValue.md(_units_table(rows)),
                          "failures": dg.MetadataValue.json(failing)})
        yield dg.AssetCheckResult(
            asset_key=key, check_name="rows_reconcile", passed=read == loaded + rejected,
            metadata={"rows_read": read, "rows_loaded": loaded, "rows_rejected": rejected})


# One ingest multi-asset per departmental feed, generated from the feed contract
# (junheng/ingest/feeds.py): a new feed is a declaration there, its rules and its suites.
INGEST: dict[str, dg.AssetsDefinition] = {feed.id: feed_assets(feed) for feed in FEEDS.values()}
