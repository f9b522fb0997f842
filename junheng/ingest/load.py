"""Load one feed for one reporting year: archive, read, quarantine, stage.

All or nothing per feed-year: every file of the feed is read before anything is
written, and the writes (raw, quarantine, staging, deliveries) happen in one
DuckDB transaction. A file that cannot be read raises `DeliveryError`; its
delivery is recorded as failed and the feed-year's earlier data stays in place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from junheng.ingest.feeds import Feed, FileSpec, Part
from junheng.ingest.readers import (
    DeliveryError,
    drop_read,
    read_big_csv,
    read_jsonl_gz,
    read_small_csv,
    read_xlsx,
)
from junheng.reference import alias_map, normalise_name
from junheng.sql import ident, one, relation_exists, relation_kind, sql_text

BIG_CSV_BYTES = 5_000_000  # above this a CSV goes straight into DuckDB


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

    @property
    def rejected_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


@dataclass
class FeedResult:
    feed: str
    year: int
    parts: list[PartResult]
    deliveries: list[Delivery]
    unexpected: list[Delivery]
    unchanged: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # archive, read, write


# --------------------------------------------------------------------------- landing zone

def years_in_landing(landing: Path, feeds) -> list[int]:
    years = set()
    for feed in feeds:
        folder = Path(landing) / feed
        if folder.is_dir():
            years |= {int(p.name) for p in folder.iterdir()
                      if p.is_dir() and p.name.isdigit() and len(p.name) == 4}
    return sorted(years)


def scan(landing: Path, feed: Feed, year: int) -> tuple[list[Delivery], list[Delivery]]:
    """Expected deliveries present for a feed-year, and unexpected files (reported, not read)."""
    folder = Path(landing) / feed.id / str(year)
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    expected, unexpected = [], []
    for path in files:
        if path.name.startswith("."):
            continue
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
    """Copy a delivery byte for byte into the content-addressed archive, hashing as it goes.

    Everything downstream reads the archived copy, so what was hashed is what was read
    even if the department overwrites the landing file meanwhile. `known` maps
    (file name, size, modification time) of deliveries already archived to their SHA-256:
    a file unchanged since (same size and nanosecond mtime) is not read again.
    """
    root.mkdir(parents=True, exist_ok=True)
    stat = delivery.path.stat()
    arrived = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
    hit = (known or {}).get((delivery.file_name, stat.st_size, arrived))
    if hit and Path(hit[1]).is_file():
        delivery.sha256, delivery.bytes, delivery.archive_path = hit[0], stat.st_size, Path(hit[1])
        delivery.arrived_at = arrived
        return
    # Copy in the kernel (sendfile), then hash the copy: the archived bytes are what is
    # hashed and what is read (five times faster than hashing while copying in Python).
    with tempfile.NamedTemporaryFile(dir=root, prefix=".incoming-", delete=False) as tmp:
        pass
    shutil.copyfile(delivery.path, tmp.name)
    sha = _sha256(Path(tmp.name))
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
    delivery.arrived_at = arrived


def _sha256(path: Path, chunk: int = 16 << 20) -> str:
    """SHA-256 of a file in 16 MB chunks: reading and hashing release the GIL, and with few
    chunks this thread seldom waits for it (the GX import runs in another thread meanwhile;
    with 256 KB chunks that wait tripled the time)."""
    digest, buf = hashlib.sha256(), bytearray(chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


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


def _read(con: duckdb.DuckDBPyConnection, d: Delivery) -> dict[str, list[str]]:
    """Read a delivery into temp tables `_read_<entity>`; return extra columns per part."""
    spec, path = d.spec, d.archive_path
    extras: dict[str, list[str]] = {}
    entity = spec.parts[0].entity
    if spec.format == "xlsx":
        for name, (table, extra) in read_xlsx(path.read_bytes(), spec, d.file_name).items():
            _materialise_arrow(con, f"_read_{name}", table)
            extras[name] = extra
    elif spec.format == "jsonl.gz":
        extras[entity] = read_jsonl_gz(con, path, spec, d.file_name, f"_read_{entity}")
    elif spec.encoding != "gbk" and d.bytes > BIG_CSV_BYTES:
        extras[entity] = read_big_csv(con, path, spec, d.file_name, f"_read_{entity}")
    else:
        table, extra = read_small_csv(path.read_bytes(), spec, d.file_name)
        _materialise_arrow(con, f"_read_{entity}", table)
        extras[entity] = extra
    return extras


def _district_names(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """Map every distinct delivered district text to a code after NFKC and trimming."""
    col = ident(part.district_column)
    values = [r[0] for r in con.execute(
        f"select distinct {col} from _delivery where {col} is not null").fetchall()]
    aliases = alias_map()
    codes = [aliases.get(normalise_name(v)) for v in values]
    _materialise_arrow(con, "_district_names",
                       pa.table({"raw_value": pa.array(values, pa.string()),
                                 "district_code": pa.array(codes, pa.string())}))


# --------------------------------------------------------------------------- writing

def ensure_quality_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_text("create_schemas.sql"))
    con.execute(sql_text("create_quality_tables.sql"))
    con.execute(sql_text("create_macros.sql"))


def _unchanged(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
               deliveries: list[Delivery]) -> bool:
    """True when every file's newest delivery was loaded before with the same content."""
    for d in deliveries:
        row = one(con, 
            "select sha256, status from quality.deliveries where feed = ? and year = ? "
            "and file_name = ? and status in ('loaded', 'failed') "
            "order by recorded_at desc limit 1", [feed.id, year, d.file_name])
        if row is None or tuple(row) != (d.sha256, "loaded"):
            return False
    return all(relation_exists(con, "staging", p.staging) for p in feed.parts)


def record_deliveries(con: duckdb.DuckDBPyConnection, deliveries: list[Delivery], status: str,
                      run_id: str, message: str | None = None,
                      counts: dict[str, tuple[int, int, int]] | None = None) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for d in deliveries:
        read, loaded, rejected = (counts or {}).get(d.file_name, (None, None, None))
        if status == "loaded":
            con.execute("update quality.deliveries set status = 'superseded' "
                        "where feed = ? and year = ? and file_name = ? and sha256 <> ? "
                        "and status in ('loaded', 'failed')",
                        [d.feed, d.year, d.file_name, d.sha256])
        con.execute("delete from quality.deliveries where feed = ? and year = ? and file_name = ? "
                    "and sha256 = ?", [d.feed, d.year, d.file_name, d.sha256])
        con.execute(
            "insert into quality.deliveries values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [d.feed, d.year, d.file_name, d.sha256, d.bytes, d.arrived_at, now, run_id, status,
             message or d.problem, read, loaded, rejected,
             str(d.archive_path) if d.archive_path else None])


def _in_transaction(con: duckdb.DuckDBPyConnection, fn, *args) -> None:
    con.execute("begin transaction")
    try:
        fn(con, *args)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def load_feed_year(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, landing: Path,
                   archive_root: Path, run_id: str, force: bool = False) -> FeedResult:
    ensure_quality_tables(con)
    clean_archive_tmp(archive_root)
    deliveries, unexpected = scan(landing, feed, year)
    known = {(r[0], r[1], r[2]): (r[3], r[4]) for r in con.execute(
        "select file_name, bytes, arrived_at, sha256, archive_path from quality.deliveries "
        "where feed = ? and year = ? and archive_path is not null", [feed.id, year]).fetchall()}
    t0 = time.perf_counter()
    for d in [*deliveries, *unexpected]:
        archive(d, archive_root, known)
    seconds = {"archive": time.perf_counter() - t0}
    if unexpected:
        _in_transaction(con, record_deliveries, unexpected, "unexpected", run_id)
    delivered = {d.file_name for d in deliveries}
    missing = [f.name(year) for f in feed.files if f.name(year) not in delivered]
    if missing:
        raise DeliveryError(missing[0], f"not delivered: {feed.id}/{year}/ holds no such file "
                            "(nothing of this feed-year was loaded)")
    if not force and _unchanged(con, feed, year, deliveries):
        return FeedResult(feed.id, year, _previous_counts(con, feed, year, deliveries),
                          deliveries, unexpected, unchanged=True)
    for dep in feed.depends_on:
        if not relation_exists(con, "staging", dep) or not one(con, 
                f"select count(*) from staging.{ident(dep)} where year = ?", [year])[0]:
            raise DeliveryError(deliveries[0].file_name,
                                f"staging.{dep} holds nothing for {year}, and {feed.id} is "
                                "checked against it: load that feed first")
    extras: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    try:
        for d in deliveries:
            extras |= _read(con, d)
    except DeliveryError as exc:
        bad = [d for d in deliveries if d.file_name == exc.file_name] or deliveries
        _in_transaction(con, record_deliveries, bad, "failed", run_id, str(exc))
        raise
    results: list[PartResult] = []

    def write(con: duckdb.DuckDBPyConnection) -> None:
        for d in deliveries:
            for part in d.spec.parts:
                results.append(_stage_part(con, feed, year, d, part, run_id,
                                           extras.get(part.entity, [])))
        counts: dict[str, tuple[int, int, int]] = {}
        for r in results:
            c = counts.get(r.file_name, (0, 0, 0))
            counts[r.file_name] = (c[0] + r.rows_read, c[1] + r.rows_loaded,
                                   c[2] + r.rows_rejected)
        record_deliveries(con, deliveries, "loaded", run_id, counts=counts)

    seconds["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        _in_transaction(con, write)
    finally:
        for part in feed.parts:
            drop_read(con, f"_read_{ident(part.entity)}")
    seconds["rules_and_write"] = time.perf_counter() - t0
    return FeedResult(feed.id, year, results, deliveries, unexpected,
                      seconds={k: round(v, 2) for k, v in seconds.items()})


def _create_raw(con: duckdb.DuckDBPyConnection, part: Part, raw: str, read_table: str) -> None:
    """raw.<table>: _year, _delivery_sha256, then the read columns (all text but _line)."""
    if relation_exists(con, "raw", part.raw_table):
        return
    cols = con.execute(f"select column_name, column_type from (describe {read_table})").fetchall()
    defs = ["_year integer", "_delivery_sha256 varchar"] + [
        f"{ident(c)} {t}" + (" using compression uncompressed" if c in part.uncompressed else "")
        for c, t in cols]
    con.execute(f"create table {raw} ({', '.join(defs)})")


def _stage_part(con: duckdb.DuckDBPyConnection, feed: Feed, year: int, d: Delivery, part: Part,
                run_id: str, extra: list[str]) -> PartResult:
    read_table = f"_read_{ident(part.entity)}"
    con.execute(f"create or replace temp view _delivery as select * from {read_table}")
    if part.district_column:
        _district_names(con, part)
    raw, stg = f"raw.{ident(part.raw_table)}", f"staging.{ident(part.staging)}"
    _create_raw(con, part, raw, read_table)
    con.execute(f"delete from {raw} where _year = ?", [year])
    con.execute(f"insert into {raw} by name select ?::integer as _year, ? as _delivery_sha256, * "
                f"from {read_table}", [year, d.sha256])
    con.execute("delete from quality.quarantine where feed = ? and year = ? and table_name = ?",
                [feed.id, year, part.raw_table])
    rules = sql_text(f"staging/{part.staging}.sql")
    quarantine = ("insert into quality.quarantine select $feed, $year, $file, $sha, $table, "
                  "_line, v.column_name, v.rule, v.value, $run from (select _line, "
                  "unnest(_violations) as v from ({}) where len(_violations) > 0)")
    params = {"feed": feed.id, "year": year, "file": d.file_name, "sha": d.sha256,
              "table": part.raw_table, "run": run_id}
    if part.staging_view:
        # The rules run once over the read rows and nothing is materialised: only the
        # failing rows build a list. Staging is then raw minus the quarantined lines.
        con.execute(quarantine.format(rules), params)
        _create_staging_view(con, part, stg)
        read = one(con, f"select count(*) from {read_table}")[0]
        rejected = rejected_lines(con, feed.id, year, part.raw_table)
        return PartResult(part, d.file_name, d.sha256, read, read - rejected, rejected, extra)
    con.execute("create or replace temp table _checked as " + rules, {"year": year})
    con.execute(quarantine.format("select * from _checked"), params)
    con.execute(f"create table if not exists {stg} as select * exclude (_violations) "
                "from _checked limit 0")
    con.execute(f"delete from {stg} where year = ?", [year])
    con.execute(f"insert into {stg} by name select * exclude (_violations) from _checked "
                "where len(_violations) = 0")
    read, rejected = one(con, "select count(*), count(*) filter (len(_violations) > 0) "
                                 "from _checked")
    con.execute("drop table _checked")
    return PartResult(part, d.file_name, d.sha256, read, read - rejected, rejected, extra)


def _create_staging_view(con: duckdb.DuckDBPyConnection, part: Part, stg: str) -> None:
    """(Re)define a staging view from warehouse/sql/staging/<name>.view.sql. A staging
    *table* of that name (a warehouse from before the view) is dropped first."""
    if relation_kind(con, "staging", part.staging) == "table":
        con.execute(f"drop table {stg}")
    con.execute(f"create or replace view {stg} as "
                + sql_text(f"staging/{part.staging}.view.sql"))


def rejected_lines(con: duckdb.DuckDBPyConnection, feed_id: str, year: int, table: str) -> int:
    """Quarantined rows of a feed-year's raw table (a row breaking two rules counts once)."""
    return one(con, "select count(distinct line) from quality.quarantine where feed = ? "
                    "and year = ? and table_name = ?", [feed_id, year, table])[0]


def _previous_counts(con: duckdb.DuckDBPyConnection, feed: Feed, year: int,
                     deliveries: list[Delivery]) -> list[PartResult]:
    out = []
    for d in deliveries:
        for part in d.spec.parts:
            read = one(con, f"select count(*) from raw.{ident(part.raw_table)} where _year = ?",
                               [year])[0]
            rejected = rejected_lines(con, feed.id, year, part.raw_table)
            out.append(PartResult(part, d.file_name, d.sha256, read, read - rejected, rejected))
    return out
