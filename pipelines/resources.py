"""Configuration and resources. The only module that reads the environment.

| variable            | default (relative to the project root) |
|---------------------|-----------------------------------------|
| JUNHENG_LANDING     | data/landing                            |
| JUNHENG_WAREHOUSE   | warehouse/junheng.duckdb                |
| JUNHENG_EXTRACTS    | data/extracts                           |
| DAGSTER_HOME        | .dagster_home (holds a link to ./dagster.yaml) |
| JUNHENG_ALERT_LOG   | data/alerts.log                         |
| JUNHENG_ALERT_WEBHOOK | (none: alerts go to the log only)     |
| JUNHENG_LOCK_TIMEOUT_S | 600: how long a writer waits for a warehouse locked by another process |
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from junheng import PROJECT_ROOT


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    extracts: Path
    dagster_home: Path
    alert_log: Path
    alert_webhook: str
    lock_timeout_s: float = 600.0


def _path(var: str, default: str) -> Path:
    value = os.environ.get(var) or default
    path = Path(value).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path)


def settings() -> Settings:
    """Read the configuration variables, applying the documented defaults."""
    return Settings(
        landing=_path("JUNHENG_LANDING", "data/landing"),
        warehouse=_path("JUNHENG_WAREHOUSE", "warehouse/junheng.duckdb"),
        extracts=_path("JUNHENG_EXTRACTS", "data/extracts"),
        dagster_home=_path("DAGSTER_HOME", ".dagster_home"),
        alert_log=_path("JUNHENG_ALERT_LOG", "data/alerts.log"),
        alert_webhook=os.environ.get("JUNHENG_ALERT_WEBHOOK", ""),
        lock_timeout_s=float(os.environ.get("JUNHENG_LOCK_TIMEOUT_S") or 600),
    )


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


class DuckDBWarehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file. Only one process may write it at a time.

    Writers are serialised across runs by the `duckdb_writer` concurrency pool
    (dagster.yaml); a writer that still finds the file locked (a statistician's
    write session, a run started outside Dagster) waits and retries instead of failing.
    """

    path: str
    memory_limit: str = "2GB"
    threads: int = 2
    lock_timeout_s: float = 600.0

    @property
    def archive_dir(self) -> Path:
        """Every delivery, byte for byte, named by its SHA-256 (beside the warehouse)."""
        return Path(self.path).parent / "archive"

    @property
    def docs_dir(self) -> Path:
        """Great Expectations Data Docs, rebuilt by every run (beside the warehouse)."""
        return Path(self.path).parent / "data_docs"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # get_dagster_logger: in the run's event log inside an op, Python logging outside.
        con = connect_waiting(self.path, dg.get_dagster_logger().warning, self.lock_timeout_s,
                              read_only=read_only, config={"memory_limit": self.memory_limit,
                                                           "threads": self.threads})
        con.execute("set enable_progress_bar = false")
        try:
            yield con
        finally:
            con.close()


class LandingZone(dg.ConfigurableResource):
    """Where the departments deliver: <landing>/<feed>/<year>/<file>."""

    path: str

    @property
    def path_obj(self) -> Path:
        return Path(self.path)


class Alerts(dg.ConfigurableResource):
    """Where alerts go: a JSON-lines log, and a webhook (POST, JSON) when one is set."""

    log_path: str
    webhook: str = ""

    @property
    def log_path_obj(self) -> Path:
        return Path(self.log_path)


class Releases(dg.ConfigurableResource):
    """Where evaluator releases are written: <extracts>/<release_id>/ and <extracts>/LATEST."""

    path: str

    @property
    def path_obj(self) -> Path:
        return Path(self.path)


class Methodology(dg.ConfigurableResource):
    """The choices an evaluator may change (methodology.md sections 3 and 6), in one place.

    Set them in the Dagster launchpad (resources.methodology.config) or here. Every result
    records them: `methodology_version` on every mart, the whole configuration in
    marts.methodology_config and in each release's manifest.json.
    """

    aggregation: str = "arithmetic"   # "geometric": product of max(domain, 1) ** weight
    domain_weights_json: str = ""     # e.g. {"education": 0.3, "health": 0.3, ...}
    indicator_weights_json: str = ""  # e.g. {"P1": 0.5}; default: the catalogue's weights
    draws: int = 1000
    seed: int = 20251231

    def config(self):
        import json

        from junheng.methodology.index import DOMAINS, Config

        domain = json.loads(self.domain_weights_json) if self.domain_weights_json else \
            dict.fromkeys(DOMAINS, 0.25)
        ind = json.loads(self.indicator_weights_json) if self.indicator_weights_json else {}
        return Config(aggregation=self.aggregation, domain_weights=domain,
                      indicator_weights=ind, draws=self.draws, seed=self.seed)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    s = settings()
    return {
        "warehouse": DuckDBWarehouse(path=str(s.warehouse), lock_timeout_s=s.lock_timeout_s),
        "landing": LandingZone(path=str(s.landing)),
        "methodology": Methodology(),
        "releases": Releases(path=str(s.extracts)),
        "alerts": Alerts(log_path=str(s.alert_log), webhook=s.alert_webhook),
    }
