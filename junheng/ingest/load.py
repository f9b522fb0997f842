"""Load one feed for one reporting year: archive, read, quarantine, audit, publish.

Write, audit, publish (feeds.md, last section). Every file of the feed-year is read
into temporary tables of this connection, its rules run there (the candidate rows and
their quarantine), and the candidate is audited (the critical and warning suites, by the
caller's `audit` function) before anything the pipeline publishes is touched. Only a
candidate whose critical expectations all pass is swapped in, in one DuckDB transaction
(raw, quarantine, staging, deliveries, check results). A candidate that fails replaces
nothing: its delivery is recorded as `rejected` with the failures, and the last good
data of the feed-year stays in use and published. A file that cannot be read raises
`DeliveryError`; its delivery is recorded as `failed`, likewise replacing nothing.

One path for every feed: each part has its rules, warehouse/sql/staging/<staging>.sql
(`_line, _violations` over the delivery `_delivery`: what is quarantined), and its staging
view, <staging>.view.sql (the typed SELECT over `{rows}` minus `{quarantine}`). The same
view SELECT is the candidate audited (over the read rows and their quarantine) and, once
published, staging.<staging> (over raw and quality.quarantine): staging is never a second
copy of the rows. A view must bind on every connection (the marts' and the snapshot's),
so its file uses DuckDB's own functions and the warehouse's tables, never the rules'
temporary macros.

A feed whose files are units of their own (`Feed.unit_column`: submissions, one file per
department) goes through the same steps once per unit (`load_feed_units`): each file has
its own delivery, outcomes and publication, which replaces only that unit's rows of the
year in raw, staging and quarantine. (Its units' candidates stand together, named per unit,
and are audited in one call: GX validates them together where that gives each its own
outcome.)
"""

from __future__ import annotations

import json
import os
import re
import stat as statmod
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from junheng.ingest import submissions
from junheng.ingest.feeds import Feed, FileSpec, Part
from junheng.ingest.readers import (
    DeliveryError,
    drop_read,
    read_big_csv,
    read_jsonl_gz,
    read_small_csv,
    read_xlsx,
)
from junheng.ops.landing import arrived_at, changed_at, file_sha256, year_entries
from junheng.privacy import first_line, scrub
from junheng.quality.expectations import Outcome
from junheng.reference import normalise_name
from junheng.sql import ident, one, relation_exists, relation_kind, sql_text

BIG_CSV_BYTES = 5_000_000  # above this a CSV goes straight into DuckDB
# A run tagged so re-reads every delivery (no size/mtime shortcut) and audits it again.
FORCE_TAG = "junheng/force"


@dataclass
class Delivery:
    feed: str
    year: int
    file_name: str
    path: Path
    spec: FileSpec | None = None
    problem: str | None = None        # why it is unexpected
    sha256: str = ""
    bytes: int = 0
    arrived_at: datetime | None = None
    changed_at: datetime | None = None  # inode change time: a rewrite keeping size and mtime
    archive_path: Path | None = None


@dataclass
class PartResult:
    part: Part
    file_name: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    extra_columns: list[str] = field(default_factory=list)
    unit: tuple[str, str] | None = None   # (column, value) of a unit of delivery's rows

    @property
    def rejected_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


# What became of the delivery a step looked at.
PUBLISHED = "published"          # audited, passed, swapped in
UNCHANGED = "unchanged"          # the deliveries in use already: nothing to do
REJECTED = "rejected"            # audited, failed its critical expectations: replaced nothing
REJECTED_BEFORE = "rejected before"  # the same files were rejected by an earlier run
FAILED = "failed"                # unreadable: replaced nothing
NOT_DELIVERED = "not delivered"  # a unit's file is missing: replaced nothing


@dataclass
class FeedResult:
    feed: str
    year: int
    parts: list[PartResult]                  # what staging holds now (the data in use)
    deliveries: list[Delivery]
    unexpected: list[Delivery]
    status: str = PUBLISHED
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)  # (table, level)
    audited: list[PartResult] = field(default_factory=list)  # the candidate's counts
    message: str | None = None               # why it was rejected
    seconds: dict[str, float] = field(default_factory=dict)  # archive, read, audit, write
    unit: str | None = None                  # the unit of delivery (submissions: department)

    @property
    def unchanged(self) -> bool:
        return self.status in (UNCHANGED, REJECTED_BEFORE)


# --------------------------------------------------------------------------- landing zone

def scan(landing: Path, feed: Feed, year: int) -> tuple[list[Delivery], list[Delivery]]:
    """Expected deliveries present for a feed-year, and unexpected entries (reported, not
    read): files of no contracted name, of another year, and whatever is not a regular
    file (symbolic links, FIFOs, folders, names that are not UTF-8)."""
    folder = Path(landing) / feed.id / str(year)
    files, findings = year_entries(folder) if folder.is_dir() else ([], [])
    expected, unexpected = [], []
    for f in findings:
        unexpected.append(Delivery(feed.id, year, Path(f.path).name, folder, problem=f.problem))
    for path in sorted(files):
        spec = next((f for f in feed.files if f.year_of(path.name) is not None), None)
        if spec is None:
            unexpected.append(Delivery(feed.id, year, path.name, path,
                                       problem="not a file of this feed in feeds.md"))
        elif spec.year_of(path.name) != year:
            unexpected.append(Delivery(feed.id, year, path.name, path, spec,
                                       problem=f"file is for {spec.year_of(path.name)}, "
                                               f"folder is {year}"))
        else:
            expected.append(Delivery(feed.id, year, path.name, path, spec))
    return expected, unexpected


def archive(delivery: Delivery, root: Path, known: dict | None = None) -> None:
    """Copy a delivery byte for byte into the content-addressed archive, then hash the copy.

    Everything downstream reads the archived copy, so what was hashed is what was read
    even if the department overwrites the landing file meanwhile. `known` maps
    (file name, size, modification time, inode change time) of deliveries already archived
    to their SHA-256: a file unchanged since is not read again. The change time is in the
    key because a corrected file copied with its old mtime (`cp -p`, a zip) keeps size and
    mtime but never its change time. Only regular files are copied: the file is opened
    without following a link and without blocking, and checked again once open (it may
    have been swapped for a link or a FIFO since the landing zone was listed).
    """
    root.mkdir(parents=True, exist_ok=True)
    st = os.lstat(delivery.path)
    delivery.arrived_at, delivery.changed_at = arrived_at(st), changed_at(st)
    hit = (known or {}).get((delivery.file_name, st.st_size, delivery.arrived_at,
                             delivery.changed_at))
    if hit and Path(hit[1]).is_file():
        delivery.sha256, delivery.bytes, delivery.archive_path = hit[0], st.st_size, Path(hit[1])
        return
    try:
        fd = os.open(delivery.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise DeliveryError(delivery.file_name, f"cannot be opened ({exc.strerror}): "
                            "not read") from None
    with os.fdopen(fd, "rb"), tempfile.NamedTemporaryFile(
            dir=root, prefix=".incoming-", delete=False) as tmp:
        if not statmod.S_ISREG(os.fstat(fd).st_mode):
            os.unlink(tmp.name)
            raise DeliveryError(delivery.file_name, "not a regular file: not read")
        # Copy in the kernel (sendfile): five times faster than through Python.
        offset = 0
        while n := os.sendfile(tmp.fileno(), fd, offset, 1 << 30):
            offset += n
    sha = file_sha256(Path(tmp.name))
    size = os.path.getsize(tmp.name)
    name = delivery.path.name
    suffix = ".jsonl.gz" if name.endswith(".jsonl.gz") else delivery.path.suffix
    target = root / sha[:2] / f"{sha}{suffix}"
    target.parent.mkdir(exist_ok=True)
    if target.exists():
        os.unlink(tmp.name)
    else:
        os.replace(tmp.name, target)
        os.chmod(target, 0o444)
    delivery.sha256, delivery.bytes, delivery.archive_path = sha, size, target


def clean_archive_tmp(root: Path, older_than_s: float = 86_400) -> None:
    """Remove half-copied files a killed run left in the archive (a day old: never one that
    a run going on right now is still writing). They are never read either way."""
    now = time.time()
    for p in Path(root).glob(".incoming-*"):
        try:
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------- reading

def _materialise_arrow(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register("_arrow_in", table)
    con.execute(f"create or replace temp table {ident(name)} as select * from _arrow_in")
    con.unregister("_arrow_in")


def _read(con: duckdb.DuckDBPyConnection, feed: Feed, d: Delivery,
          person_level: Callable | None = None) -> dict[str, list[str]]:
    """Read a delivery into temp tables `_read_<work>` (see `_work`); return extra columns
    per part. `person_level` (junheng/engine) reads a restricted delivery on another engine
    and runs its rules there: `_read_<work>` and `_checked_<work>` are then views of its
    output."""
    spec, path = d.spec, d.archive_path
    extras: dict[str, list[str]] = {}
    first = spec.parts[0]
    entity, work = first.entity, _work(feed, first)
    if person_level is not None and first.restricted:
        extras[entity] = person_level(con, d, first, f"_read_{work}", f"_checked_{work}")
    elif spec.format == "xlsx":
        parts = {p.entity: p for p in spec.parts}
        for name, (table, extra) in read_xlsx(path.read_bytes(), spec, d.file_name).items():
            _materialise_arrow(con, f"_read_{_work(feed, parts[name])}", table)
            extras[name] = extra
    elif spec.format == "jsonl.gz":
        extras[entity] = read_jsonl_gz(con, path, spec, d.file_name, f"_read_{work}")
    elif spec.encoding != "gbk" and d.bytes > BIG_CSV_BYTES:
        extras[entity] = read_big_csv(con, path, spec, d.file_name, f"_read_{work}")
    else:
        table, extra = read_small_csv(path.read_bytes(), spec, d.file_name)
        _materialise_arrow(con, f"_read_{work}", table)
        extras[entity] = extra
    return extras


def _read_while(con: duckdb.DuckDBPyConnection, feed: Feed, d: Delivery,
                person_level: Callable | None,
                work: Callable[[], object] | None) -> dict[str, list[str]]:
    """`_read`, and meanwhile `work` on this thread, when the read is DuckDB's alone.

    A city year's pension file takes DuckDB 6-11 s to read, with the GIL released; Great
    Expectations' import and context (2-4 s of Python, needed by the audit that follows)
    then run beside it instead of after it. Only a gzip JSON Lines read on this engine
    qualifies: it runs nothing but DuckDB statements, so the worker thread imports no
    module while this one imports GX (two threads importing at once can see a partially
    initialised module). The connection is used by the worker only, until it is done."""
    if work is None or person_level is not None or d.spec.format != "jsonl.gz":
        return _read(con, feed, d, person_level)
    with ThreadPoolExecutor(1, thread_name_prefix="junheng-read") as pool:
        read = pool.submit(_read, con, feed, d, None)
        try:
            work()
        finally:
            extras = read.result()   # the read's own error (a bad delivery) comes first
    return extras


def _add_unit_column(con: duckdb.DuckDBPyConnection, feed: Feed, d: Delivery) -> None:
    """A unit's rows carry their unit (raw keeps it beside the delivered columns)."""
    for part in d.spec.parts:
        read = f"_read_{_work(feed, part)}"
        con.execute(f"create or replace temp table {read} as select _line, _error, "
                    f"?::varchar as {ident(feed.unit_column)}, * exclude (_line, _error) "
                    f"from {read}", [d.spec.unit])


def district_texts(con: duckdb.DuckDBPyConnection, part: Part, relation: str) -> None:
    """Add the district texts of `relation` (a relation this module names) that
    reference.district_texts does not hold yet, each with its NFKC-normalised, trimmed
    form (DuckDB has no NFKC). reference.district_names resolves them by alias, for the
    rules and the staging view alike. Only texts not yet held are added, and the form is
    a fixed function of the text: no published row changes meaning, so this may run before
    the candidate is audited."""
    col = ident(part.district_column)
    values = [r[0] for r in con.execute(
        f"select distinct {col} from {relation} where {col} is not null and {col} not in "
        "(select raw_value from reference.district_texts)").fetchall()]
    if values:
        con.register("_texts_in", pa.table({
            "raw_value": pa.array(values, pa.string()),
            "normalised": pa.array([normalise_name(v) for v in values], pa.string())}))
        con.execute("insert into reference.district_texts select * from _texts_in")
        con.unregister("_texts_in")


# --------------------------------------------------------------------------- writing

@dataclass(frozen=True)
class Candidate:
    """What the audit validates: one part's candidate rows (`relation`, a temp view with the
    staging view's columns) and their counts."""
    part: Part
    relation: str
    counts: PartResult


# audit(con, candidates) -> {level: Outcome} for each candidate, in order.
Audit = Callable[[duckdb.DuckDBPyConnection, list[Candidate]], list[dict[str, Outcome]]]


def ensure_quality_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_text("create_schemas.sql"))
    con.execute(sql_text("create_quality_tables.sql"))
    con.execute(sql_text("create_macros.sql"))
    con.execute(sql_text("create_district_texts.sql"))
    # A view binds when it is made: only once the reference job has loaded the aliases (a
    # feed without district names, pension, loads without them).
    if relation_exists(con, "reference", "district_aliases"):
        con.execute(sql_text("create_district_names.sql"))
    submissions.catalogue_table(con)


def _known_files(con: duckdb.DuckDBPyConnection, feed: Feed, year: int) -> dict:
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in con.execute(
        "select file_name, bytes, arrived_at, changed_at, sha256, archive_path "
        "from quality.deliveries where feed = ? and year = ? and archive_path is not null",
        [feed.id, year]).fetchall()}


def _last_status(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                 deliveries: list[Delivery]) -> str | None:
    """UNCHANGED when every file's delivery is the one in use; REJECTED_BEFORE when these
    very files were audited before and rejected (a rejected delivery is audited once: run
    with --force to audit it again); else None (something new to audit)."""
    statuses = [_status(con, d) for d in deliveries]
    if None in statuses:
        return None
    if all(s == "loaded" for s in statuses):
        if all(relation_exists(con, "staging", p.staging) for p in feed.parts):
            return UNCHANGED
        return None
    # Rejected before only if these very files were audited together and failed: a good
    # file rejected beside a bad one is audited again once the bad one is put right.
    shas = sorted({d.sha256 for d in deliveries})
    together = one(con, "select count(*) from (select run_id from quality.check_results "
                        "where feed = ? and year = ? and list_contains(?, delivery_sha256) "
                        "group by run_id having count(distinct delivery_sha256) = ? and "
                        "bool_or(suite = 'critical' and not passed))",
                   [feed.id, year, shas, len(shas)])[0]
    return REJECTED_BEFORE if together else None


def record_deliveries(con: duckdb.DuckDBPyConnection, deliveries: list[Delivery], status: str,
                      run_id: str, message: str | None = None,
                      counts: dict[str, tuple[int, int, int]] | None = None) -> None:
    """One row per delivered file and content. Publishing one supersedes the file's
    earlier published (or failed) content; a rejected one supersedes nothing."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for d in deliveries:
        read, loaded, rejected = (counts or {}).get(d.file_name, (None, None, None))
        if status == "loaded":
            con.execute("update quality.deliveries set status = 'superseded' "
                        "where feed = ? and year = ? and file_name = ? and sha256 <> ? "
                        "and status in ('loaded', 'failed')",
                        [d.feed, d.year, d.file_name, d.sha256])
        name = scrub(d.file_name)    # an unexpected file's name can carry anything
        con.execute("delete from quality.deliveries where feed = ? and year = ? and file_name = ? "
                    "and sha256 = ?", [d.feed, d.year, name, d.sha256])
        con.execute(
            "insert into quality.deliveries (feed, year, file_name, sha256, bytes, arrived_at, "
            "recorded_at, run_id, status, message, rows_read, rows_loaded, rows_rejected, "
            "archive_path, changed_at, department) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [d.feed, d.year, name, d.sha256, d.bytes, d.arrived_at, now, run_id, status,
             scrub(message or d.problem), read, loaded, rejected,
             str(d.archive_path) if d.archive_path else None, d.changed_at,
             d.spec.unit if d.spec and not d.problem else None])


def record_checks(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                  audited: list[PartResult], outcomes: dict[tuple[str, str], Outcome],
                  run_id: str) -> None:
    """The suites' outcomes for the delivery audited, one row per table and suite."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for r in audited:
        for (table, level), o in outcomes.items():
            if table != r.part.staging:
                continue
            con.execute("delete from quality.check_results where feed = ? and year = ? and "
                        "table_name = ? and suite = ? and delivery_sha256 = ?",
                        [feed.id, year, table, level, r.sha256])
            con.execute(
                "insert into quality.check_results (feed, year, table_name, suite, passed, "
                "evaluated, failed, failures, checked_at, run_id, delivery_sha256) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [feed.id, year, table, level, o.passed, o.evaluated, o.failed,
                 scrub(json.dumps(o.failures, ensure_ascii=False)), now, run_id, r.sha256])


def stored_outcomes(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                    deliveries: list[Delivery]) -> dict[tuple[str, str], Outcome]:
    """The outcomes recorded for these deliveries when they were audited."""
    out = {}
    for d in deliveries:
        tables = {p.staging for p in d.spec.parts}
        for r in con.execute("select table_name, suite, passed, evaluated, failed, failures "
                             "from quality.check_results where feed = ? and year = ? "
                             "and delivery_sha256 = ?", [feed.id, year, d.sha256]).fetchall():
            if r[0] in tables:
                out[r[0], r[1]] = Outcome(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "[]"))
    return out


def _in_transaction(con: duckdb.DuckDBPyConnection, fn, *args) -> None:
    con.execute("begin transaction")
    try:
        fn(con, *args)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def rejection_message(outcomes: dict[tuple[str, str], Outcome], tables: list[str]) -> str:
    failed = [o for (_t, level), o in sorted(outcomes.items())
              if level == "critical" and not o.passed]
    unaudited = [t for t in tables if (t, "critical") not in outcomes]
    return "rejected, replaced nothing: " + "; ".join(
        [f"critical expectations failed on {o.table}: {o.summary()}" for o in failed]
        + [f"{t} was not audited" for t in unaudited])


def load_feed_year(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, landing: Path,
                   archive_root: Path, run_id: str, audit: Audit,
                   force: bool = False, person_level: Callable | None = None,
                   prepare: Callable[[], object] | None = None) -> FeedResult:
    """Write, audit, publish one feed-year (see the module's docstring).

    `audit(con, candidates)` validates the candidate rows of each part (`Candidate`: a
    temp relation with the staging view's columns) and returns {level: Outcome} for each.
    `force` re-reads every file (no size/mtime shortcut) and audits even an unchanged or
    previously rejected delivery again. `person_level`: see `_read`. `prepare`: what the
    audit needs first (Great Expectations' import and context), done while DuckDB reads a
    large delivery (`_read_while`)."""
    ensure_quality_tables(con)
    migrate_staging(con, feed)
    clean_archive_tmp(archive_root)
    deliveries, unexpected = scan(landing, feed, year)
    known = {} if force else _known_files(con, feed, year)
    t0 = time.perf_counter()
    for d in deliveries:
        archive(d, archive_root, known)
    _keep_unexpected(con, unexpected, archive_root, known, run_id)
    seconds = {"archive": time.perf_counter() - t0}
    return _load(con, feed, year, deliveries, unexpected, run_id, audit, force, seconds,
                 person_level, prepare)


def load_feed_units(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, landing: Path,
                    archive_root: Path, run_id: str, audit: Audit,
                    force: bool = False) -> list[FeedResult]:
    """Write, audit, publish each unit of delivery of a feed-year on its own (a feed with
    `unit_column`: submissions, one file per department), as `load_feed_year` does a
    feed-year. A unit whose file is missing (`not delivered`) or unreadable (`failed`), or
    whose candidate is rejected, replaces nothing, its last good data stays in use, and the
    other units go on; so does a unit whose file makes the warehouse refuse a statement
    while it is read or checked (`failed`, with DuckDB's first line). Every unit is read
    and staged first, then all their candidates go to one `audit` call (their suites run
    together, `Validator.run_together`), then each is published or rejected on its own
    outcomes. One result per unit, in feeds.md order; the landing zone's unexpected
    entries are on the first. The unit's raw table and staging view exist
    afterwards (empty while no unit has been published), so what reads them can run."""
    ensure_quality_tables(con)
    migrate_staging(con, feed)
    clean_archive_tmp(archive_root)
    deliveries, unexpected = scan(landing, feed, year)
    known = {} if force else _known_files(con, feed, year)
    _keep_unexpected(con, unexpected, archive_root, known, run_id)
    units = feed.units()
    results: list = []                         # a FeedResult per unit, once written
    staged: list[tuple[int, _Staged]] = []     # (position in results, the unit staged)
    try:
        for unit in units:
            mine = [d for d in deliveries if d.spec in unit.files]
            t0 = time.perf_counter()
            try:
                for d in mine:
                    archive(d, archive_root, known)
                step = _stage(con, unit, year, mine, [], run_id, force,
                              {"archive": time.perf_counter() - t0})
            except DeliveryError as exc:
                step = FeedResult(feed.id, year, published_parts(con, unit, year), mine, [],
                                  status=FAILED if mine else NOT_DELIVERED, message=str(exc))
            except duckdb.Error as exc:
                # Its file made the warehouse refuse a statement (its rules, its unit
                # column): that unit failed, the others go on.
                message = (f"{', '.join(d.file_name for d in mine)}: the warehouse refused "
                           f"a statement while checking it ({first_line(exc)[:300]}); "
                           "nothing of it was published")
                _in_transaction(con, record_deliveries, mine, "failed", run_id, message)
                step = FeedResult(feed.id, year, published_parts(con, unit, year), mine, [],
                                  status=FAILED, message=message)
            if isinstance(step, _Staged):
                staged.append((len(results), step))
            else:
                step.unit = unit.unit
            results.append(step)
        # Every unit's candidate stands: their suites run together (`_audit_staged`), then
        # each unit is published or rejected on its own outcomes, in its own transaction.
        for (i, step), outcomes in zip(staged, _audit_staged(con, [s for _, s in staged],
                                                             audit), strict=True):
            results[i] = _write(con, year, step, outcomes, run_id)
    finally:
        for unit in units:
            _drop_candidates(con, unit)
    if results:
        results[0].unexpected = unexpected
    _in_transaction(con, _ensure_tables, feed)
    return results


def _keep_unexpected(con: duckdb.DuckDBPyConnection, unexpected: list[Delivery],
                     archive_root: Path, known: dict, run_id: str) -> None:
    for d in unexpected:   # kept too (every delivered file is), but never read
        if d.path.name == d.file_name and d.problem and "not read" not in d.problem:
            try:
                archive(d, archive_root, known)
            except DeliveryError:
                pass       # swapped for a link or a FIFO meanwhile: still unexpected
    if unexpected:
        _in_transaction(con, record_deliveries, unexpected, "unexpected", run_id)


def _ensure_tables(con: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    """An empty raw table (the columns the reader gives an empty delivery) and its staging
    view, for each part of a feed where none exists yet."""
    for part in feed.parts:
        e = _work(feed, part)
        if relation_exists(con, "raw", part.raw_table) and \
                relation_exists(con, "staging", part.staging):
            continue
        unit = f"null::varchar as {ident(feed.unit_column)}, " if feed.unit_column else ""
        cols = ", ".join(f"null::varchar as {ident(c)}" for c in part.columns.values())
        con.execute(f"create or replace temp table _read_{e} as select null::bigint as _line, "
                    f"null::varchar as _error, {unit}{cols} limit 0")
        _create_raw(con, part, f"_read_{e}")
        _create_staging_view(con, part)
        drop_read(con, f"_read_{e}")


@dataclass
class _Staged:
    """A unit of delivery read and through its rules: its candidates stand, for the audit."""
    feed: Feed
    deliveries: list[Delivery]
    unexpected: list[Delivery]
    audited: list[PartResult]                # each part's candidate, counted
    seconds: dict[str, float]


def _load(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, deliveries: list[Delivery],
          unexpected: list[Delivery], run_id: str, audit: Audit, force: bool,
          seconds: dict[str, float], person_level: Callable | None = None,
          prepare: Callable[[], object] | None = None) -> FeedResult:
    """Write, audit, publish the archived deliveries of one unit of delivery."""
    step = _stage(con, feed, year, deliveries, unexpected, run_id, force, seconds,
                  person_level, prepare)
    if isinstance(step, FeedResult):
        return step
    try:
        return _write(con, year, step, _audit_staged(con, [step], audit)[0], run_id)
    finally:
        _drop_candidates(con, feed)


def _stage(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, deliveries: list[Delivery],
           unexpected: list[Delivery], run_id: str, force: bool, seconds: dict[str, float],
           person_level: Callable | None = None,
           prepare: Callable[[], object] | None = None) -> _Staged | FeedResult:
    """Read one unit of delivery and run its rules: its candidates, to be audited. Or, with
    nothing new to audit (the deliveries in use, or rejected before; copies of another
    year's), what became of it."""
    delivered = {d.file_name for d in deliveries}
    missing = [f.name(year) for f in feed.files if f.name(year) not in delivered]
    if missing:
        what = f"this {feed.unit_column}" if feed.unit else "this feed"
        raise DeliveryError(missing[0], f"not delivered: {feed.id}/{year}/ holds no such file "
                            f"(nothing of {what}-year was loaded)")
    copies = _copied_from_other_years(con, feed, year, deliveries)
    if copies:
        return _reject_copies(con, feed, year, deliveries, unexpected, copies, run_id)
    last = None if force else _last_status(con, feed, year, deliveries)
    if last is not None:
        return FeedResult(feed.id, year, published_parts(con, feed, year), deliveries,
                          unexpected, status=last,
                          outcomes=stored_outcomes(con, feed, year, deliveries),
                          message=_last_message(con, feed, year, deliveries))
    for dep in feed.depends_on:
        if not relation_exists(con, "staging", dep) or not one(
                con, f"select count(*) from staging.{ident(dep)} where year = ?", [year])[0]:
            raise DeliveryError(deliveries[0].file_name,
                                f"staging.{dep} holds nothing for {year}, and {feed.id} is "
                                "checked against it: load that feed first")
    extras: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    # What a killed run left behind (the JSON reader's table survives the process): never
    # published as this load's rows, whatever engine reads now.
    _drop_candidates(con, feed)
    try:
        try:
            for d in deliveries:
                extras |= _read_while(con, feed, d, person_level, prepare)
                if feed.unit_column:
                    _add_unit_column(con, feed, d)
        except DeliveryError as exc:
            bad = [d for d in deliveries if d.file_name == exc.file_name] or deliveries
            _in_transaction(con, record_deliveries, bad, "failed", run_id, str(exc))
            raise
        seconds["read"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        audited = [_stage_candidate(con, feed, year, d, part, run_id, extras.get(part.entity, []))
                   for d in deliveries for part in d.spec.parts]
        seconds["rules"] = time.perf_counter() - t0
    except BaseException:
        _drop_candidates(con, feed)
        raise
    return _Staged(feed, deliveries, unexpected, audited, seconds)


def _audit_staged(con: duckdb.DuckDBPyConnection, staged: list[_Staged],
                  audit: Audit) -> list[dict[tuple[str, str], Outcome]]:
    """Every candidate of these units through `audit` in one call (the units of a feed-year
    are validated together: `Validator.run_together`): each unit's outcomes, by (table,
    level). Each unit's `audit` time is its share of the call's."""
    t0 = time.perf_counter()
    items = [(i, r) for i, step in enumerate(staged) for r in step.audited]
    found = audit(con, [Candidate(r.part, _candidate(staged[i].feed, r.part), r)
                        for i, r in items]) if items else []
    outcomes: list[dict[tuple[str, str], Outcome]] = [{} for _ in staged]
    for (i, r), levels in zip(items, found, strict=True):   # one outcome per candidate
        for level, o in levels.items():
            outcomes[i][r.part.staging, level] = o
    for step in staged:
        step.seconds["audit"] = (time.perf_counter() - t0) / len(staged)
    return outcomes


def _write(con: duckdb.DuckDBPyConnection, year: int, step: _Staged,
           outcomes: dict[tuple[str, str], Outcome], run_id: str) -> FeedResult:
    """Publish a unit's audited candidates, or record their rejection (one transaction)."""
    feed, deliveries, audited, seconds = step.feed, step.deliveries, step.audited, step.seconds
    # Proven fit, or not published: every part needs a critical outcome that passed.
    passed = all(outcomes.get((r.part.staging, "critical")) is not None
                 and outcomes[r.part.staging, "critical"].passed for r in audited)
    counts: dict[str, tuple[int, int, int]] = {}
    for r in audited:
        c = counts.get(r.file_name, (0, 0, 0))
        counts[r.file_name] = (c[0] + r.rows_read, c[1] + r.rows_loaded, c[2] + r.rows_rejected)
    t0 = time.perf_counter()
    message = None if passed else rejection_message(outcomes, [r.part.staging for r in audited])

    def write(con: duckdb.DuckDBPyConnection) -> None:
        if passed:
            for r in audited:
                _publish_part(con, feed, year, r)
            record_deliveries(con, deliveries, "loaded", run_id, counts=counts)
        else:
            # Rejected: the files that are new. A file of the feed-year that did not
            # change (the other file of a two-file feed) is still the one in use.
            record_deliveries(con, [d for d in deliveries if _status(con, d) != "loaded"],
                              "rejected", run_id, message, counts=counts)
        record_checks(con, feed, year, audited, outcomes, run_id)

    _in_transaction(con, write)
    seconds["write"] = time.perf_counter() - t0
    # Published: the data in use is the candidate, counted already (no second count).
    in_use = audited if passed else published_parts(con, feed, year)
    return FeedResult(feed.id, year, in_use, deliveries, step.unexpected,
                      status=PUBLISHED if passed else REJECTED, outcomes=outcomes,
                      audited=audited, message=message, unit=feed.unit,
                      seconds={k: round(v, 2) for k, v in seconds.items()})


def _status(con: duckdb.DuckDBPyConnection, d: Delivery) -> str | None:
    """What this very delivery (file name and content) became: 'loaded' (in use),
    'rejected', or None (never audited; failed and superseded ones count as never)."""
    row = one(con, "select status from quality.deliveries where feed = ? and year = ? and "
                   "file_name = ? and sha256 = ? and status in ('loaded', 'rejected')",
              [d.feed, d.year, d.file_name, d.sha256])
    return row[0] if row else None


def _copied_from_other_years(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                             deliveries: list[Delivery]) -> dict[str, str]:
    """file name -> what it is a byte-for-byte copy of: the same content loaded for another
    reporting year (last year's file delivered again under this year's name passes every
    rule of most feeds, which carry no year in their rows)."""
    out = {}
    for d in deliveries:
        row = one(con, "select file_name, year from quality.deliveries where feed = ? and "
                       "sha256 = ? and year <> ? and status in ('loaded', 'superseded') "
                       "order by year limit 1", [feed.id, d.sha256, year])
        if row:
            out[d.file_name] = f"{row[0]} of {row[1]}"
    return out


def _reject_copies(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                   deliveries: list[Delivery], unexpected: list[Delivery],
                   copies: dict[str, str], run_id: str) -> FeedResult:
    message = "rejected, replaced nothing: " + "; ".join(
        f"{name} is byte for byte the delivery {other} (last year's file again?)"
        for name, other in sorted(copies.items()))
    outcomes = {}
    for d in deliveries:
        for part in d.spec.parts:
            failure = {"expectation": "a delivery differs from every other year's",
                       "column": "", "observed": message}
            outcomes[part.staging, "critical"] = Outcome(part.staging, "critical", False, 1, 1,
                                                         [failure])
    copied = [d for d in deliveries if d.file_name in copies]
    before = all(_status(con, d) == "rejected" for d in copied)
    if not before:
        _in_transaction(con, record_deliveries, copied, "rejected", run_id, message)
    return FeedResult(feed.id, year, published_parts(con, feed, year), deliveries, unexpected,
                      status=REJECTED_BEFORE if before else REJECTED, outcomes=outcomes,
                      message=message)


def _last_message(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                  deliveries: list[Delivery]) -> str | None:
    rows = con.execute(
        "select message from quality.deliveries where feed = ? and year = ? and status = "
        "'rejected' and list_contains(?, sha256) and message is not null limit 1",
        [feed.id, year, [d.sha256 for d in deliveries]]).fetchall()
    return rows[0][0] if rows else None


# --------------------------------------------------------------------------- candidates
# Temp relations of this connection, per part: `_read_<entity>` (the rows read),
# `_quarantine_<entity>` (quality.quarantine rows of the candidate: its rules' violations),
# `_rows_<entity>` (the read rows as raw will hold them) and `_candidate_<entity>` (the
# staging view's SELECT over those two: the rows that would be staged). `_checked_<entity>`
# is the rules' output when another engine ran them (junheng/engine).

def _work(feed: Feed, part: Part) -> str:
    """What a part's temp relations are named after: its entity, and for a unit of delivery
    its unit too, so that the candidates of all units of a feed-year stand at once (they are
    audited together). Both are the contract's names, never a delivery's text."""
    return ident(part.entity) + (f"__{ident(feed.unit)}" if feed.unit else "")


def _candidate(feed: Feed, part: Part) -> str:
    return f"_candidate_{_work(feed, part)}"


def _drop_candidates(con: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    """The temp relations of every part of a unit of delivery, and the JSON reader's table."""
    for part in feed.parts:
        e = _work(feed, part)
        for name in (f"_candidate_{e}", f"_rows_{e}", f"_checked_{e}", f"_quarantine_{e}"):
            kind = relation_kind(con, "main", name, database="temp")
            if kind:
                con.execute(f"drop {kind} {name}")
        drop_read(con, f"_read_{e}")


_QUARANTINE = ("create or replace temp table {target} as select $feed as feed, "
               "$year::integer as year, $file as file_name, $sha as delivery_sha256, "
               "$table as table_name, _line::bigint as line, v.column_name, v.rule, v.value, "
               "$run as run_id from (select _line, unnest(_violations) as v from ({rules}) "
               "where len(_violations) > 0)")
MAX_VALUE_CHARS = 200
_SHA = re.compile(r"[0-9a-f]{64}")


def _scrub_quarantine(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Quarantined values leave the warehouse in the snapshot: no person-key fragment, and
    no absurdly long value (a whole unparsable line), ever."""
    suspects = [r[0] for r in con.execute(
        f"select distinct value from {table} where regexp_matches(value, '[0-9a-fA-F]{{12,}}') "
        f"or length(value) > {MAX_VALUE_CHARS}").fetchall()]
    for value in suspects:
        clean = scrub(value)
        if len(clean) > MAX_VALUE_CHARS:
            clean = clean[:MAX_VALUE_CHARS] + "…"
        con.execute(f"update {table} set value = ? where value = ?", [clean, value])


def _stage_candidate(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, d: Delivery,
                     part: Part, run_id: str, extra: list[str]) -> PartResult:
    """The rules over one part's read rows (its quarantine), and its candidate: the read
    rows minus the quarantined lines, typed by the staging view's own SELECT."""
    e = _work(feed, part)
    read_table = f"_read_{e}"
    con.execute(f"create or replace temp view _delivery as select * from {read_table}")
    if part.district_column:
        district_texts(con, part, read_table)
    rules = sql_text(f"staging/{part.staging}.sql")
    if relation_kind(con, "main", f"_checked_{e}", database="temp") == "view":
        rules = f"select _line, _violations from _checked_{e}"   # run by another engine
    params = {"feed": feed.id, "year": year, "file": d.file_name, "sha": d.sha256,
              "table": part.raw_table, "run": run_id}
    # The rules run once over the read rows and nothing is materialised but the quarantine.
    con.execute(_QUARANTINE.format(target=f"_quarantine_{e}", rules=rules), params)
    if not _SHA.fullmatch(d.sha256):
        raise ValueError("not a SHA-256 digest")
    # A view cannot take parameters: the year (an int) and the digest (64 hex, checked
    # above) are the only values formatted in, and neither comes from a delivery's text.
    con.execute(f"create or replace temp view _rows_{e} as select {int(year)}::integer "
                f"as _year, '{d.sha256}' as _delivery_sha256, * from {read_table}")
    con.execute(f"create or replace temp view _candidate_{e} as " + staging_view_sql(
        part, rows=f"_rows_{e}", quarantine=f"_quarantine_{e}"))
    _scrub_quarantine(con, f"_quarantine_{e}")
    read = one(con, f"select count(*) from {read_table}")[0]
    rejected = one(con, f"select count(distinct line) from _quarantine_{e}")[0]
    unit = (feed.unit_column, feed.unit) if feed.unit else None
    return PartResult(part, d.file_name, d.sha256, read, read - rejected, rejected, extra,
                      unit=unit)


def staging_view_sql(part: Part, rows: str, quarantine: str) -> str:
    """A staging view's SELECT (warehouse/sql/staging/<name>.view.sql) over the given
    relations, named by this module, never by data: `rows` (raw's columns: _year,
    _delivery_sha256, _line, _error, the unit column if any, the delivered columns) and
    `quarantine` (quality.quarantine's columns), raw and quality.quarantine for the
    published view, a delivery's read rows and its quarantine for the candidate."""
    return sql_text(f"staging/{part.staging}.view.sql").format(rows=rows, quarantine=quarantine)


def _publish_part(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                  r: PartResult) -> None:
    """Swap an audited candidate in (inside the caller's transaction): the feed-year's rows,
    or a unit of delivery's rows of the year (its unit column; its files' quarantine)."""
    part, e = r.part, _work(feed, r.part)
    raw = f"raw.{ident(part.raw_table)}"
    unit, params = "", []
    if feed.unit:
        unit, params = f" and {ident(feed.unit_column)} = ?", [feed.unit]
    if by_year(part):
        _publish_year_table(con, part, year, r.sha256, f"_read_{e}")
    else:
        _create_raw(con, part, f"_read_{e}")
        con.execute(f"delete from {raw} where _year = ?{unit}", [year, *params])
        con.execute(f"insert into {raw} by name select ?::integer as _year, ? as "
                    f"_delivery_sha256, * from _read_{e}", [year, r.sha256])
    con.execute("delete from quality.quarantine where feed = ? and year = ? and table_name = ?"
                + (" and list_contains(?, file_name)" if feed.unit else ""),
                [feed.id, year, part.raw_table]
                + ([[f.name(year) for f in feed.files]] if feed.unit else []))
    con.execute(f"insert into quality.quarantine by name select * from _quarantine_{e}")
    _create_staging_view(con, part)


def _create_raw(con: duckdb.DuckDBPyConnection, part: Part, read_table: str,
                name: str | None = None) -> None:
    """raw.<table> (or raw.<name>): _year, _delivery_sha256, then the read columns (all text
    but _line)."""
    name = name or part.raw_table
    if relation_exists(con, "raw", name):
        return
    raw = f"raw.{ident(name)}"
    cols = con.execute(f"select column_name, column_type from (describe {read_table})").fetchall()
    defs = ["_year integer", "_delivery_sha256 varchar"] + [
        part.column_def(ident(c), t) for c, t in cols if c not in ("_year", "_delivery_sha256")]
    con.execute(f"create table {raw} ({', '.join(defs)})")


# ------------------------------------------------------------------ raw kept by year

def by_year(part: Part) -> bool:
    """The person-level part (9-65 million rows a year) keeps its raw rows in one table per
    year, raw.<table>__<year>, and raw.<table> is a view over them: a delivery read into
    the warehouse is published by renaming its table, never copied row by row (3 s of a
    city year, a quarter of a province year's load), and the disk never holds it twice."""
    return part.restricted


def year_table(part: Part, year: int) -> str:
    return f"{part.raw_table}__{int(year)}"


def _year_tables(con: duckdb.DuckDBPyConnection, part: Part) -> list[int]:
    prefix = f"{part.raw_table}__"
    names = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'raw' and starts_with(table_name, ?)", [prefix]).fetchall()]
    return sorted(int(n[len(prefix):]) for n in names if n[len(prefix):].isdigit())


def raw_view(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """(Re)define raw.<table> as the union of its year tables, in raw's columns (an empty
    view of them when no year is loaded)."""
    cols = ["_year", "_delivery_sha256", "_line", "_error", *part.columns.values()]
    select = ", ".join(ident(c) for c in cols)
    branches = [f"select {select} from raw.{ident(year_table(part, y))}"
                for y in _year_tables(con, part)]
    if not branches:
        types = {"_year": "integer", "_line": "bigint"}
        branches = ["select " + ", ".join(f"null::{types.get(c, 'varchar')} as {ident(c)}"
                                          for c in cols) + " where false"]
    con.execute(f"create or replace view raw.{ident(part.raw_table)} as "
                + "\nunion all ".join(branches))


def _split_by_year(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """A warehouse from before the year tables holds raw.<table> as one table: each year
    becomes its table (the same rows, in line order), once. The caller defines the view."""
    raw = f"raw.{ident(part.raw_table)}"
    if relation_kind(con, "raw", part.raw_table) != "table":
        return
    for (year,) in con.execute(f"select distinct _year from {raw} order by 1").fetchall():
        _create_raw(con, part, raw, year_table(part, year))
        con.execute(f"insert into raw.{ident(year_table(part, year))} by name select * "
                    f"from {raw} where _year = ? order by _line", [year])
    con.execute(f"drop table {raw}")          # the caller (re)defines the view


def _publish_year_table(con: duckdb.DuckDBPyConnection, part: Part, year: int, sha: str,
                        read_table: str) -> None:
    """Make a delivery's rows raw.<table>__<year> (inside the caller's transaction). The
    JSON reader's table (<read_table>__rows, numbered by its row id) is renamed and given
    raw's provenance columns; another reader's rows (a temp table, the Spark engine's
    Parquet) are written in line order."""
    if not _SHA.fullmatch(sha):
        raise ValueError("not a SHA-256 digest")
    _split_by_year(con, part)
    name = year_table(part, year)
    target = f"raw.{ident(name)}"
    con.execute(f"drop table if exists {target}")
    rows = f"{read_table}__rows"        # only this load's: `_stage` drops leftovers first
    if relation_kind(con, "raw", rows) == "table":
        con.execute(f"alter table raw.{ident(rows)} rename to {ident(name)}")
        # Formatted in: the year (an int) and the digest (64 hex, checked above).
        con.execute(f"alter table {target} add column _year integer default {int(year)}")
        con.execute(f"alter table {target} add column _delivery_sha256 varchar "
                    f"default '{sha}'")
        con.execute(f"alter table {target} add column _line bigint")
        con.execute(f"update {target} set _line = rowid + 1")
    else:
        _create_raw(con, part, read_table, name)
        con.execute(f"insert into {target} by name select ?::integer as _year, ? as "
                    f"_delivery_sha256, * from {read_table} order by _line", [year, sha])
    raw_view(con, part)


def _create_staging_view(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """(Re)define a staging view from warehouse/sql/staging/<name>.view.sql over raw and
    quality.quarantine. A staging *table* of that name (a warehouse from before the views)
    is dropped first; the district texts of raw are added where a warehouse from before
    reference.district_texts lacks them."""
    stg = f"staging.{ident(part.staging)}"
    if part.district_column:
        district_texts(con, part, f"raw.{ident(part.raw_table)}")
    if relation_kind(con, "staging", part.staging) == "table":
        con.execute(f"drop table {stg}")
    con.execute(f"create or replace view {stg} as " + staging_view_sql(
        part, rows=f"raw.{ident(part.raw_table)}", quarantine="quality.quarantine"))


def migrate_staging(con: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    """A warehouse from before the staging views holds staging *tables*: each becomes its
    view (the same rows: raw minus the quarantined lines, published in one transaction),
    on the next run whatever it loads."""
    for part in feed.parts:
        if relation_kind(con, "staging", part.staging) == "table" \
                and relation_exists(con, "raw", part.raw_table):
            _in_transaction(con, _create_staging_view, part)


def rejected_lines(con: duckdb.DuckDBPyConnection, feed_id: str, year: int, table: str,
                   file_names: list[str] | None = None) -> int:
    """Quarantined rows of a feed-year's raw table (a row breaking two rules counts once),
    or of some of its files only (one unit of delivery's)."""
    files = " and list_contains(?, file_name)" if file_names is not None else ""
    return one(con, "select count(distinct (file_name, line)) from quality.quarantine "
                    f"where feed = ? and year = ? and table_name = ?{files}",
               [feed_id, year, table] + ([file_names] if file_names is not None else []))[0]


def published_parts(con: duckdb.DuckDBPyConnection, feed: Feed, year: int) -> list[PartResult]:
    """The deliveries in use for a feed-year, with their counts (empty when none is)."""
    out = []
    for spec in feed.files:
        row = one(con, "select file_name, sha256 from quality.deliveries where feed = ? and "
                       "year = ? and file_name = ? and status = 'loaded'",
                  [feed.id, year, spec.name(year)])
        if row is None or not all(relation_exists(con, "raw", p.raw_table) and
                                  relation_exists(con, "staging", p.staging)
                                  for p in spec.parts):
            return []
        unit, params = "", []
        if feed.unit:
            unit, params = f" and {ident(feed.unit_column)} = ?", [feed.unit]
        for part in spec.parts:
            read = one(con, f"select count(*) from raw.{ident(part.raw_table)} where _year = ?"
                            f"{unit}", [year, *params])[0]
            rejected = rejected_lines(con, feed.id, year, part.raw_table,
                                      [spec.name(year)] if feed.unit else None)
            out.append(PartResult(part, row[0], row[1], read, read - rejected, rejected,
                                  unit=(feed.unit_column, feed.unit) if feed.unit else None))
    return out
