"""The landing zone as the sensor sees it: complete feed-years and their content hashes,
and when each feed's next delivery is due."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from junheng.ingest.feeds import FEEDS

# When each department delivers year Y: (month, day) of year Y + 1 (the reporting cycle).
DUE = {
    "population": (3, 31),     # statistics bureau: resident population at 31 December
    "schools": (1, 31),        # education MIS: autumn-term census
    "health": (6, 30),         # health statistics yearbook
    "pension": (2, 28),        # human resources: enrolment at 31 December
    "eldercare": (3, 31),      # civil affairs
    "environment": (1, 31),    # environment: hourly readings of the whole year
}


@dataclass(frozen=True)
class FeedYear:
    feed: str
    year: int
    digest: str          # hash of the feed-year's files' SHA-256s: changes with any delivery


def _file_sha(path: Path, cache: dict) -> str:
    st = path.stat()
    key = str(path)
    hit = cache.get(key)
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    cache[key] = [st.st_size, st.st_mtime_ns, h.hexdigest()]
    return cache[key][2]


def complete_feed_years(landing: Path, cache: dict) -> list[FeedYear]:
    """Feed-years whose expected files are all present, with a digest of their contents.

    `cache` (path -> [size, mtime_ns, sha256]) avoids re-hashing unchanged files."""
    out = []
    for feed in FEEDS.values():
        folder = Path(landing) / feed.id
        if not folder.is_dir():
            continue
        for yd in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
            year = int(yd.name)
            paths = [yd / f.name(year) for f in feed.files]
            if not all(p.is_file() for p in paths):
                continue
            shas = [_file_sha(p, cache) for p in paths]
            out.append(FeedYear(feed.id, year, hashlib.sha256("".join(shas).encode())
                                .hexdigest()))
    return out


def overdue(landing: Path, today: date) -> list[dict]:
    """Feed-years whose delivery date has passed without a complete delivery."""
    out = []
    for feed in FEEDS.values():
        month, day = DUE[feed.id]
        for year in range(2020, today.year):
            due = date(year + 1, month, min(day, 28 if month == 2 else day))
            if today <= due:
                continue
            folder = Path(landing) / feed.id / str(year)
            if not all((folder / f.name(year)).is_file() for f in feed.files):
                out.append({"feed": feed.id, "year": year, "due": due.isoformat(),
                            "days_overdue": (today - due).days})
    return out


def next_due(feed: str, today: date) -> date:
    month, day = DUE[feed]
    due = date(today.year, month, day)
    return due if due >= today else date(today.year + 1, month, day)
