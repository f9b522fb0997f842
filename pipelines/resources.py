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
| JUNHENG_ENGINE      | duckdb: where person-level steps run, duckdb or spark (docs/scale-out.md) |
| JUNHENG_SPARK_MASTER | local[2]: a Spark master URL, or a Spark Connect sc:// URL |
| JUNHENG_SPARK_MEMORY | 2g: the Spark driver's memory (local mode: the whole JVM's) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.engine import ENGINES, PersonLevelEngine
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
    engine: str = "duckdb"
    spark_master: str = "local[2]"
    spark_memory: str = "2g"


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
        engine=_engine(os.environ.get("JUNHENG_ENGINE") or "duckdb"),
        spark_master=os.environ.get("JUNHENG_SPARK_MASTER") or "local[2]",
        spark_memory=os.environ.get("JUNHENG_SPARK_MEMORY") or "2g",
    )


def _engine(value: str) -> str:
    if value.strip().lower() not in ENGINES:
        raise ValueError(f"JUNHENG_ENGINE={value!r}: one of {', '.join(ENGINES)}")
    return value.strip().lower()


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
        "engine": PersonLevelEngine(kind=s.engine, spark_master=s.spark_master,
                                    spark_driver_memory=s.spark_memory),
    }
