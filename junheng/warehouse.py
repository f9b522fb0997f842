"""Connecting to the DuckDB warehouse file, which admits one writing process at a time:
a connection that finds it locked waits, says so, and gives up clearly."""

from __future__ import annotations

import re
import time

import duckdb


class WarehouseLocked(RuntimeError):
    """The warehouse stayed locked by another process for longer than the lock timeout."""


LOCK_REPORT_EVERY_S = 10.0


def lock_holder(exc: Exception) -> str:
    """'locked by another process (PID 4242)', the PID as DuckDB's lock error names it."""
    m = re.search(r"\(PID (\d+)\)", str(exc))
    return "locked by another process" + (f" (PID {m.group(1)})" if m else "")


def connect_waiting(path: str, say, timeout_s: float, read_only: bool = False,
                    config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection, waiting while another process holds the file's lock, and saying
    so (`say`, every ~10 s): a run that waits is never mistaken for one that hangs.
    Raises WarehouseLocked after `timeout_s`."""
    start = time.monotonic()
    report_at = start
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            now = time.monotonic()
            if now - start > timeout_s:
                raise WarehouseLocked(
                    f"the warehouse {path} is still {lock_holder(exc)} after "
                    f"{now - start:.0f} s: gave up (JUNHENG_LOCK_TIMEOUT_S = {timeout_s:g})"
                ) from None
            if now >= report_at:
                say(f"waiting for the warehouse {path}: {lock_holder(exc)}, "
                    f"waited {now - start:.0f} s")
                report_at += LOCK_REPORT_EVERY_S
            time.sleep(1.0)
