"""The `submissions` feed (feeds.md section 7): what its rules look up, and what the
indicators layer asks of it.

Each department's file is its own unit of delivery (load.load_feed_units): a department
whose file is missing, unreadable or rejected leaves its indicators null for the year,
with the reason `submission_status` gives, and holds back no other department.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from junheng.ingest.feeds import SUBMISSION_DEPARTMENTS, SUBMISSIONS, submission_indicators
from junheng.privacy import scrub
from junheng.sql import relation_exists

CATALOGUE = "_submission_indicators"

IN_USE = "in use"                # good data of the department-year is published
NOT_DELIVERED = "not delivered"  # no file of the department-year has been processed
FAILED = "failed"                # its file could not be read; no good data
REJECTED = "rejected"            # its file failed its critical expectations; no good data


def unit_factor(unit: str) -> float:
    """methodology.md section 1: a ratio is f x numerator / denominator, f = 100 for %."""
    return 100.0 if unit == "%" else 1.0


def catalogue_table(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `_submission_indicators` of this connection: every submitted indicator of
    the catalogue, its department, form, unit and unit factor (what the rules of
    stg_submissions__indicators and its expectations look up)."""
    rows = [(r["indicator_id"], department, r["form"], r["unit"], unit_factor(r["unit"]),
             r["unit"] == "%")
            for department, items in submission_indicators().items() for r in items]
    table = pa.table({
        "sub_indicator_id": pa.array([r[0] for r in rows], pa.string()),
        "sub_department": pa.array([r[1] for r in rows], pa.string()),
        "sub_form": pa.array([r[2] for r in rows], pa.string()),
        "sub_unit": pa.array([r[3] for r in rows], pa.string()),
        "sub_factor": pa.array([r[4] for r in rows], pa.float64()),
        "sub_is_percent": pa.array([r[5] for r in rows], pa.bool_()),
    })
    con.register("_catalogue_in", table)
    con.execute(f"create or replace temp table {CATALOGUE} as select * from _catalogue_in")
    con.unregister("_catalogue_in")


def file_name(department: str, year: int) -> str:
    spec = next(f for f in SUBMISSIONS.files if f.unit == department)
    return spec.name(year)


def submission_status(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, tuple[str, str]]:
    """department -> (status, message) for one reporting year, every department of feeds.md
    section 7. Status: 'in use' (good data of the department-year is published: the
    message names the file, and a newer delivery that was rejected or failed beside it),
    'not delivered', 'failed' (unreadable) or 'rejected' (failed its critical
    expectations), the last three with no good data in use. Messages are scrubbed."""
    rows: dict[str, list[tuple]] = {d: [] for d in SUBMISSION_DEPARTMENTS}
    if relation_exists(con, "quality", "deliveries"):
        for r in con.execute(
                "select department, file_name, status, message, rows_loaded, rows_rejected "
                "from quality.deliveries where feed = ? and year = ? and status in "
                "('loaded', 'rejected', 'failed') and department is not null "
                "order by recorded_at desc", [SUBMISSIONS.id, year]).fetchall():
            if r[0] in rows:
                rows[r[0]].append(r[1:])
    out = {}
    for department, found in rows.items():
        name = file_name(department, year)
        loaded = next((r for r in found if r[1] == "loaded"), None)
        newest = found[0] if found else None
        if loaded:
            msg = f"{loaded[0]} in use: {loaded[3]} rows loaded, {loaded[4]} rejected"
            if newest is not loaded:
                msg += f"; the newer delivery was {newest[1]} ({_why(newest)})"
            out[department] = (IN_USE, scrub(msg))
        elif newest:
            out[department] = (newest[1], scrub(_why(newest)))
        else:
            out[department] = (NOT_DELIVERED, scrub(
                f"{name} not delivered: {SUBMISSIONS.id}/{year}/ holds no good delivery of it"))
    return out


def _why(delivery: tuple) -> str:
    """What became of a delivery, naming its file once (a reader's message names it)."""
    name, status, message = delivery[:3]
    message = message or status
    return message if message.startswith(name) else f"{name}: {message}"
