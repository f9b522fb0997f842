"""Configuration and resources. The only module that reads the environment:
it gives the resource classes of `assets/resources.py` their values.

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
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.resources import (
    Alerts,
    DuckDBWarehouse,
    GreatExpectations,
    LandingZone,
    Methodology,
    Releases,
)
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


def default_resources() -> dict[str, dg.ConfigurableResource]:
    s = settings()
    return {
        "warehouse": DuckDBWarehouse(path=str(s.warehouse), lock_timeout_s=s.lock_timeout_s),
        "landing": LandingZone(path=str(s.landing)),
        "methodology": Methodology(),
        "releases": Releases(path=str(s.extracts)),
        "alerts": Alerts(log_path=str(s.alert_log), webhook=s.alert_webhook),
        # Data Docs beside the warehouse, rebuilt by every run.
        "gx": GreatExpectations(docs_dir=str(s.warehouse.parent / "data_docs")),
    }
