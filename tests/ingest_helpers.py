"""Real materialisations of the ingest assets on a temporary warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets import reference
from assets.feeds import INGEST
from assets.partitions import reporting_year
from junheng.quality.expectations import LEVELS, Outcome
from pipelines.resources import (
    DuckDBWarehouse,
    GreatExpectations,
    LandingZone,
    PersonLevelEngine,
)

FEED_ASSETS = INGEST


def resources(landing: Path, db: Path, engine: PersonLevelEngine | None = None) -> dict:
    return {"warehouse": DuckDBWarehouse(path=str(db)), "landing": LandingZone(path=str(landing)),
            "gx": GreatExpectations(docs_dir=str(Path(db).parent / "data_docs")),
            "engine": engine or PersonLevelEngine()}


def load_reference(landing: Path, db: Path) -> None:
    result = dg.materialize(dg.load_assets_from_modules([reference]),
                            resources=resources(landing, db))
    assert result.success


def ingest(landing: Path, db: Path, year: int, feeds=None, instance=None,
           raise_on_error: bool = False) -> dg.ExecuteInProcessResult:
    """Materialise the ingest assets of some feeds for one year (a real Dagster run)."""
    instance = instance or dg.DagsterInstance.ephemeral()
    if not instance.has_dynamic_partition(reporting_year.name, str(year)):
        instance.add_dynamic_partitions(reporting_year.name, [str(year)])
    chosen = [FEED_ASSETS[f] for f in (feeds or FEED_ASSETS)]
    return dg.materialize(chosen, partition_key=str(year), instance=instance,
                          resources=resources(landing, db), raise_on_error=raise_on_error)


def accept_all(con, part, relation: str, counts) -> dict[str, Outcome]:
    """An audit that passes every candidate. Only for tests of the readers and the rules
    on their own; the gate itself is tested with the real suites (test_gate.py)."""
    return {level: Outcome(part.staging, level, True, 0, 0) for level in LEVELS}
