"""What a year's marts follow from, as one fingerprint: the deliveries in use, the
methodology configuration and the code. Stored beside the marts when they are computed
(marts.year_fingerprints) and compared again before anything is published, so that a
release never names inputs its values were not computed from."""

from __future__ import annotations

import hashlib
import json

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
    """What a year's marts follow from: its deliveries in use, the configuration, the code."""
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
