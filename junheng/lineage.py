"""What a year's marts follow from, as one fingerprint: the deliveries in use, the
methodology configuration and the code. Stored beside the marts when they are computed
(marts.year_fingerprints) and compared again before anything is published, so that a
release never names inputs its values were not computed from."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb

from junheng import PROJECT_ROOT

# Choices that only the cross-year results use (recomputed at every publication): a year's
# marts do not depend on them, so changing them does not make those marts stale.
CROSS_YEAR_ONLY = ("draws", "seed")


def config_json(config) -> str:
    return json.dumps(config.as_dict(), sort_keys=True, ensure_ascii=False)


def year_config_json(config) -> str:
    """The configuration a year's marts depend on."""
    return json.dumps({k: v for k, v in config.as_dict().items() if k not in CROSS_YEAR_ONLY},
                      sort_keys=True, ensure_ascii=False)


def code_fingerprint() -> str:
    """The SQL, the catalogue and its formulas, and the methodology code: a change to any
    recomputes every year."""
    h = hashlib.sha256()
    for path in sorted([*(PROJECT_ROOT / "warehouse" / "sql").rglob("*.sql"),
                        *(PROJECT_ROOT / "warehouse" / "seeds").glob("*.*"),
                        *(PROJECT_ROOT / "junheng" / "methodology").glob("*.py")]):
        h.update(path.read_bytes())
    return h.hexdigest()


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, year: int, config) -> str:
    """What a year's marts follow from: its deliveries in use, the configuration, the code.
    (The series that read other years are completed from every year's stored figures at
    each publication, so they follow from those years' own fingerprints.)"""
    shas = con.execute("select feed, file_name, sha256 from quality.deliveries where year = ? "
                       "and status = 'loaded' order by all", [year]).fetchall()
    return hashlib.sha256(json.dumps([shas, year_config_json(config), code_fingerprint()])
                          .encode()).hexdigest()


def stored_fingerprint(con: duckdb.DuckDBPyConnection, year: int) -> str | None:
    """The fingerprint a year's marts were computed with (None: never computed)."""
    try:
        rows = con.execute("select fingerprint from marts.year_fingerprints where year = ?",
                           [year]).fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def stale_years(con: duckdb.DuckDBPyConnection, years, config) -> list[int]:
    """Years whose marts were not computed from exactly the deliveries in use now (with
    this configuration and code)."""
    return [y for y in years if stored_fingerprint(con, y) != inputs_fingerprint(con, y, config)]


def year_unchanged(con: duckdb.DuckDBPyConnection, landing: Path, year: int, config) -> bool:
    """Is this year unchanged since it was last processed? The one place that says so:
    every file in its feed folders is a delivery in use (same name, size, modification and
    inode change time: no file is read), and the year's marts were computed from exactly
    the deliveries in use, with this configuration and code. A file that is missing does not
    make a year stale (its last good data stays in use, and a run could change nothing); a
    new, changed or still rejected file does."""
    from junheng.ingest.feeds import FEEDS
    from junheng.ops.landing import arrived_at, changed_at, year_entries

    in_use = {tuple(r) for r in con.execute(
        "select feed, file_name, bytes, arrived_at, changed_at from quality.deliveries "
        "where year = ? and status = 'loaded'", [year]).fetchall()}
    for feed in FEEDS.values():
        files, _ = year_entries(landing / feed.id / str(year))
        for p in files:
            st = os.lstat(p)
            if (feed.id, p.name, st.st_size, arrived_at(st), changed_at(st)) not in in_use:
                return False
    return stored_fingerprint(con, year) == inputs_fingerprint(con, year, config)
