"""The resources the assets use: the warehouse, the landing zone, the releases, the
alerts and the methodology choices. Their values come from `pipelines/resources.py`, the
only module that reads the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from junheng.quality.expectations import Validator
from junheng.warehouse import connect_waiting


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

    aggregation: str = "arithmetic"   # "geometric": product of max(area, 1) ** weight
    area_weights_json: str = ""       # e.g. {"health": 2}; areas not named weigh 1
    indicator_weights_json: str = ""  # e.g. {"P1": 0.5}; default: the catalogue's weights
    draws: int = 1000
    seed: int = 20251231

    def config(self):
        """The validated Config: a weight that is negative, not a number, or names no area
        or indicator is refused here, with the key it concerns."""
        import json

        from junheng.methodology.index import Config

        def parsed(name: str, text: str) -> dict:
            try:
                value = json.loads(text) if text else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"methodology.{name}: not JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise ValueError(f"methodology.{name}: a JSON object of weights")
            return value

        return Config(aggregation=self.aggregation,
                      area_weights=parsed("area_weights_json", self.area_weights_json),
                      indicator_weights=parsed("indicator_weights_json",
                                               self.indicator_weights_json),
                      draws=self.draws, seed=self.seed)


# One Validator (one GX context) per Data Docs folder, for the life of the process.
_VALIDATORS: dict[str, Validator] = {}


def _validator(docs_dir: str) -> Validator:
    if docs_dir not in _VALIDATORS:
        _VALIDATORS[docs_dir] = Validator(docs_dir=Path(docs_dir) if docs_dir else None)
    return _VALIDATORS[docs_dir]


class GreatExpectations(dg.ConfigurableResource):
    """The Great Expectations context: one ephemeral context per process (the in-process
    executor runs every step there), with the suites of expectations/ and Data Docs written
    to `docs_dir`. Built on the calling thread: importing GX on a second thread raced with
    Dagster's own imports of SQLAlchemy ("partially initialized module")."""

    docs_dir: str = ""   # empty: no Data Docs

    def validator(self) -> Validator:
        return _validator(self.docs_dir)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Data Docs once a run, when it ends (failed or not): the pages of every
        validation its steps made, and the index. Building them after each feed cost
        0.1-0.3 s a step, mostly the same site work again. Nothing is built, and GX is
        not loaded, when no step validated anything for this folder.

        Dagster logs a failure here (a full disk) as an error of the run, which still
        succeeds: the outcomes are in quality.check_results already, and the pages not
        built stay pending in this process for the next run's build. A run whose process
        is killed loses the pages of its validations (not their outcomes)."""
        validator = _VALIDATORS.get(self.docs_dir)
        if validator is not None:
            validator.build_docs()
