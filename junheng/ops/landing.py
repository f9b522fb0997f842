"""The landing zone as the pipeline sees it: which reporting years hold deliveries, what is
there that must not be read (and why), complete feed-years with their content hashes, and
when each feed's next delivery is due.

One set of rules for every reader (the runner, the schedule, the sensors, the ingest):
only regular files in `<landing>/<feed>/<year>/` of a plan year are deliveries. Symbolic
links are never followed and FIFOs, sockets and devices never opened (`os.lstat`, so a
link to /etc/passwd or a pipe that would block a reader is reported, not read); names
that are not UTF-8 (a zip made on Windows) are reported, printed with backslash escapes.
Dot-files and dot-folders (`.demo/`, an editor's swap file) are ignored silently.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from junheng import PLAN_YEARS
from junheng.ingest.feeds import FEEDS
from junheng.privacy import scrub

# When each department delivers year Y: (month, day) of year Y + 1 (the reporting cycle).
DUE = {
    "population": (3, 31),     # statistics bureau: resident population at 31 December
    "schools": (1, 31),        # education MIS: autumn-term census
    "health": (6, 30),         # health statistics yearbook
    "pension": (2, 28),        # human resources: enrolment at 31 December
    "eldercare": (3, 31),      # civil affairs
    "environment": (1, 31),    # environment: hourly readings of the whole year
    "submissions": (3, 31),    # the other departments' indicator submissions (feeds.md 7)
}

NOT_READ = ": not read"
_YEAR = re.compile(r"[0-9]{4}")   # not str.isdigit: that accepts full-width and other digits
PLAN_PERIOD = f"outside the plan period {PLAN_YEARS[0]}–{PLAN_YEARS[-1]}{NOT_READ}"


@dataclass(frozen=True)
class Finding:
    """Something in the landing zone that is not read, and why."""

    path: str       # relative to the landing zone, printable (non-UTF-8 bytes escaped)
    problem: str

    def __post_init__(self):
        # A name can carry anything, a person key too: it is printed, logged and recorded.
        object.__setattr__(self, "path", scrub(self.path))

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def printable(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 shown as `\\xb2`, and no part of a
    person key (a name can carry one: it is printed, logged and recorded)."""
    return scrub(os.fsencode(name).decode("utf-8", "backslashreplace"))


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")      # undecodable bytes are lone surrogates (surrogateescape)
    except UnicodeEncodeError:
        return False
    return True


def _entries(folder: Path, rel: str) -> tuple[list[tuple[str, os.stat_result]], list[Finding]]:
    """Non-dot entries of a folder, each with its lstat, sorted by name; findings for the
    names that are not UTF-8 and for the symbolic links (never followed)."""
    out, findings = [], []
    try:
        names = sorted(os.listdir(folder), key=os.fsencode)
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [Finding(rel or ".", f"cannot be listed ({exc.strerror}){NOT_READ}")]
    for name in names:
        if name.startswith("."):
            continue
        path = f"{rel}/{printable(name)}" if rel else printable(name)
        if not _is_utf8(name):
            findings.append(Finding(path, f"file name is not UTF-8{NOT_READ}"))
            continue
        try:
            st = os.lstat(folder / name)
        except FileNotFoundError:     # removed meanwhile
            continue
        if stat.S_ISLNK(st.st_mode):
            findings.append(Finding(path, f"a symbolic link{NOT_READ}"))
            continue
        out.append((name, st))
    return out, findings


def year_entries(folder: Path) -> tuple[list[Path], list[Finding]]:
    """The regular files of one `<landing>/<feed>/<year>` folder, and findings for every
    other entry (symbolic link, FIFO/socket/device, sub-folder, name not UTF-8).

    Nothing is opened: entries are told apart by `os.lstat`. A year folder, or its feed
    folder, that is a symbolic link is not listed either."""
    folder = Path(folder)
    rel = f"{folder.parent.name}/{folder.name}"
    for path, shown in ((folder.parent, folder.parent.name), (folder, rel)):
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return [], [Finding(shown, f"a symbolic link{NOT_READ}")]
        except FileNotFoundError:
            return [], []
    entries, findings = _entries(folder, rel)
    files = []
    for name, st in entries:
        if stat.S_ISREG(st.st_mode):
            files.append(folder / name)
        elif stat.S_ISDIR(st.st_mode):
            findings.append(Finding(f"{rel}/{name}", f"a folder inside a year folder{NOT_READ}"))
        else:
            findings.append(Finding(f"{rel}/{name}", f"not a regular file{NOT_READ}"))
    return files, findings


def _walk(landing: Path, feeds) -> tuple[dict[tuple[str, int], list[Path]], list[Finding]]:
    """Regular files per (feed, plan year) that holds any, and findings for the rest."""
    landing = Path(landing)
    ids = [getattr(f, "id", f) for f in feeds]
    found: dict[tuple[str, int], list[Path]] = {}
    top, findings = _entries(landing, "")
    feed_dirs = []
    for name, st in top:
        if name not in ids:
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "a file"
            findings.append(Finding(name, f"{what} that is no feed of feeds.md{NOT_READ}"))
        elif not stat.S_ISDIR(st.st_mode):
            findings.append(Finding(name, f"not a folder{NOT_READ}"))
        else:
            feed_dirs.append(name)
    for feed in feed_dirs:
        folder = landing / feed
        entries, more = _entries(folder, feed)
        findings += more
        for name, st in entries:
            rel = f"{feed}/{name}"
            if stat.S_ISREG(st.st_mode):
                findings.append(Finding(rel, f"a file directly in a feed folder (deliveries go "
                                             f"in {feed}/<year>/){NOT_READ}"))
            elif not stat.S_ISDIR(st.st_mode):
                findings.append(Finding(rel, f"not a regular file{NOT_READ}"))
            elif not _YEAR.fullmatch(name):
                findings.append(Finding(rel, "not a reporting-year folder (four digits)"
                                             f"{NOT_READ}"))
            elif int(name) not in PLAN_YEARS:
                findings.append(Finding(rel, PLAN_PERIOD))
            else:
                files, more = year_entries(folder / name)
                findings += more
                if files:
                    found[feed, int(name)] = files
                elif not more:
                    findings.append(Finding(rel, "empty folder"))
    return found, findings


def inventory(landing: Path, feeds) -> tuple[list[int], list[Finding]]:
    """The plan years that hold at least one regular file in some feed folder, and a finding
    for everything in the landing zone that is not read (each once).

    `feeds`: feed ids, or `Feed`s (`FEEDS` itself will do)."""
    found, findings = _walk(landing, feeds)
    return sorted({year for _, year in found}), findings


def years_in_landing(landing: Path, feeds) -> list[int]:
    """The reporting years to run: plan years with at least one delivered file."""
    return inventory(landing, feeds)[0]


# --------------------------------------------------------------------------- feed-years

@dataclass(frozen=True)
class FileState:
    path: str               # relative to the landing zone
    size: int
    mtime_ns: int
    ctime_ns: int           # inode change time: a rewrite that keeps size and mtime (cp -p)
    sha256: str | None      # None: still changing since the last look, not hashed yet


@dataclass(frozen=True)
class FeedYear:
    feed: str
    year: int
    files: tuple[FileState, ...]     # the feed's files for that year, in feeds.md order

    @property
    def settled(self) -> bool:
        """Every file has the size and modification time it had at the previous look."""
        return all(f.sha256 for f in self.files)

    @property
    def digest(self) -> str | None:
        """Hash of the files' SHA-256s: changes with any delivery (None until settled)."""
        if not self.settled:
            return None
        return hashlib.sha256("".join(f.sha256 for f in self.files).encode()).hexdigest()


def _stamp(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC).replace(tzinfo=None)


def arrived_at(st: os.stat_result) -> datetime:
    """A file's modification time as quality.deliveries records it (`arrived_at`, UTC)."""
    return _stamp(st.st_mtime_ns)


def changed_at(st: os.stat_result) -> datetime:
    """A file's inode change time as quality.deliveries records it (`changed_at`, UTC)."""
    return _stamp(st.st_ctime_ns)


def file_sha256(path: Path, chunk: int = 16 << 20) -> str:
    """SHA-256 of a regular file (landing files, archived copies, release files). Opened
    without following a link and without blocking, and checked again after opening: a file
    swapped for a link or a FIFO since it was listed is refused, never read (a FIFO would
    block the reader). Read in 16 MB chunks into one buffer: a 400 MB pension file is
    hashed at disk speed."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        digest, buf = hashlib.sha256(), bytearray(chunk)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def complete_feed_years(landing: Path, cache: dict, known: dict | None = None
                        ) -> list[FeedYear]:
    """Feed-years (plan years) whose expected files are all present as regular files; for a
    feed whose files are units of delivery of their own (submissions), the files of every
    unit present, when there is one.

    `cache` maps a file's path (relative to the landing zone) to [size, mtime_ns, ctime_ns,
    sha256 or None] as seen at the previous call, and is replaced by what is seen now. A
    file whose size and modification time (and inode change time: a corrected file copied
    with `cp -p` keeps the other two) are unchanged since then has settled: it is hashed
    (once; the hash is kept). A file seen for the first time or changed since is not hashed
    yet: it may still be being copied. `known` maps (path, size, arrived_at, changed_at) to
    the SHA-256 the warehouse recorded for a delivery (`recorded_deliveries`): such a file,
    untouched since it was archived, is settled without reading it again."""
    landing = Path(landing)
    found, _ = _walk(landing, FEEDS)
    now: dict[str, list] = {}
    out = []
    for (feed_id, year), files in sorted(found.items()):
        present = {p.name: p for p in files}
        names = [f.name(year) for f in FEEDS[feed_id].files]
        if FEEDS[feed_id].unit_column:
            names = [n for u in FEEDS[feed_id].units() for n in [f.name(year) for f in u.files]
                     if all(f.name(year) in present for f in u.files)]
        if not names or not all(n in present for n in names):
            continue
        states = []
        for name in names:
            path = present[name]
            rel = f"{feed_id}/{year}/{name}"
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                break
            stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
            prev = cache.get(rel)
            sha = (known or {}).get((rel, st.st_size, arrived_at(st), changed_at(st)))
            if sha is None and prev and prev[:3] == stamp:
                sha = prev[3] or file_sha256(path)
            now[rel] = [*stamp, sha]
            states.append(FileState(rel, *stamp, sha))
        else:
            out.append(FeedYear(feed_id, year, tuple(states)))
    cache.clear()
    cache.update(now)
    return out


def overdue(landing: Path, today: date) -> list[dict]:
    """Feed-years whose delivery date has passed without a complete delivery."""
    found, _ = _walk(landing, FEEDS)
    out = []
    for feed in FEEDS.values():
        month, day = DUE[feed.id]
        for year in (y for y in PLAN_YEARS if y < today.year):
            due = date(year + 1, month, min(day, 28 if month == 2 else day))
            if today <= due:
                continue
            present = {p.name for p in found.get((feed.id, year), [])}
            if not all(f.name(year) in present for f in feed.files):
                out.append({"feed": feed.id, "year": year, "due": due.isoformat(),
                            "days_overdue": (today - due).days})
    return out


def next_due(feed: str, today: date) -> date:
    month, day = DUE[feed]
    due = date(today.year, month, day)
    return due if due >= today else date(today.year + 1, month, day)


# --------------------------------------------------------------------------- the warehouse

PROCESSED = ("loaded", "rejected", "failed")


def recorded_deliveries(warehouse: Path) -> tuple[set[tuple[str, str]], dict]:
    """What the warehouse's quality.deliveries knows of the landing zone: the (path, sha256)
    of every delivery already processed (loaded, rejected or failed), and (path, size,
    arrived_at, changed_at) -> sha256 of every delivery it archived (paths relative to the
    landing zone; the key `load.archive` trusts too).

    Opened read-only; nothing is known when the warehouse or the table does not exist.
    Raises duckdb.IOException when another process holds the warehouse's write lock."""
    import duckdb

    if not Path(warehouse).exists():
        return set(), {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'quality' "
            "and table_name = 'deliveries'").fetchall()}
        if not columns:
            return set(), {}
        changed = "changed_at" if "changed_at" in columns else "null"  # older warehouses
        rows = con.execute(f"select feed, year, file_name, bytes, arrived_at, {changed}, "
                           "sha256, status from quality.deliveries").fetchall()
    finally:
        con.close()
    processed, by_stat = set(), {}
    for feed, year, name, size, arrived, changed_ts, sha, status in rows:
        path = f"{feed}/{year}/{name}"
        if changed_ts is not None:
            by_stat[path, size, arrived, changed_ts] = sha
        if status in PROCESSED:
            processed.add((path, sha))
    return processed, by_stat
