"""Great Expectations suites (expectations/*.json) run on frames pulled from DuckDB.

GX 1.x cannot validate DuckDB through SQLAlchemy (great_expectations issues 10738
and 11579), so each suite runs on one pandas frame that DuckDB hands over:

- the staging rows of one year, only the columns the suite names (plus any
  `derived` expressions the suite defines), sampled for big tables (`max_rows` in
  the suite's meta: about that many rows, chosen by a hash of the line number);
- with the table-level figures broadcast as constant columns: rows read, loaded and
  rejected, the rejected share, last year's rows and the ratio to them, districts
  present, and `schema_signature` ("name:TYPE,..." of the staging table).

One validation per suite keeps GX cheap. Row rules that SQL does better (key
uniqueness over 9 million rows, cross-feed membership) stay in the staging SQL; GX
re-checks what it can cheaply and owns the table-level checks.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from junheng import PROJECT_ROOT
from junheng.sql import ident, one

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LEVELS = ("critical", "warning")

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
log = logging.getLogger(__name__)


@dataclass
class Outcome:
    table: str
    level: str
    passed: bool
    evaluated: int
    failed: int
    failures: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        if self.passed:
            return f"{self.evaluated} expectations met"
        return "; ".join(f"{f['expectation']}({f.get('column', '')}): {f['observed']}"
                         for f in self.failures)


def suite_path(table: str, level: str) -> Path:
    return EXPECTATIONS_DIR / f"staging.{table}.{level}.json"


@cache
def load_suite(table: str, level: str) -> dict:
    return json.loads(suite_path(table, level).read_text(encoding="utf-8"))


def _needed_columns(suite: dict, profile_columns) -> list[str]:
    cols: list[str] = []
    derived = suite.get("meta", {}).get("derived", {})
    for e in suite["expectations"]:
        kw = e["kwargs"]
        for key in ("column", "column_A", "column_B"):
            if key in kw:
                cols.append(kw[key])
        cols += kw.get("column_list", [])
    return [c for c in dict.fromkeys(cols) if c not in derived and c not in profile_columns]


def frame(con: duckdb.DuckDBPyConnection, table: str, year: int, suite: dict,
          profile: dict) -> pd.DataFrame:
    meta = suite.get("meta", {})
    derived = meta.get("derived", {})
    needed = _needed_columns(suite, profile)
    select = [ident(c) for c in needed]
    # Derived expressions come from the project's own suite files, never from data.
    select += [f"({expr}) as {ident(name)}" for name, expr in derived.items()]
    sample = ""
    loaded = profile.get("rows_loaded") or 0
    if meta.get("max_rows") and loaded > int(meta["max_rows"]):
        # About max_rows rows, chosen by a hash of the line number: the same rows on every
        # run whatever the threads (a reservoir sample is neither cheap nor, in parallel,
        # repeatable), and a view is never scanned twice.
        per_million = int(meta["max_rows"]) * 1_000_000 // loaded
        sample = f" and hash(_line) % 1000000 < {per_million}"
    df = pd.DataFrame(columns=needed)
    if select:
        df = con.execute(f"select {', '.join(select)} from staging.{ident(table)} "
                         f"where year = ?{sample}", [year]).df()
    if df.empty:  # table-level expectations must still see one row
        df = pd.DataFrame([{c: None for c in [*needed, *derived]}])
    for k, v in profile.items():
        df[k] = v
    return df


def profile(con: duckdb.DuckDBPyConnection, table: str, year: int, rows_read: int,
            rows_rejected: int) -> dict:
    loaded = one(con, f"select count(*) from staging.{ident(table)} where year = ?", [year])[0]
    previous = one(con, f"select count(*) from staging.{ident(table)} where year = ?",
                   [year - 1])[0]
    has_district = one(con, "select count(*) from duckdb_columns() where schema_name = 'staging' "
                            "and table_name = ? and column_name = 'district_code'", [table])[0]
    districts = one(con, f"select count(distinct district_code) from staging.{ident(table)} "
                         "where year = ?", [year])[0] if has_district else None
    signature = one(con, "select string_agg(column_name || ':' || data_type, ',' "
                         "order by column_index) from duckdb_columns() "
                         "where schema_name = 'staging' and table_name = ?", [table])[0]
    return {
        "schema_signature": signature,
        "rows_read": rows_read,
        "rows_loaded": loaded,
        "rows_rejected": rows_rejected,
        "rejected_share": rows_rejected / rows_read if rows_read else 0.0,
        "rows_previous_year": previous or None,
        "rows_vs_previous_year": loaded / previous if previous else None,
        "districts_present": districts,
    }


@cache
def merged_suite(table: str) -> dict:
    """The critical and warning suites of a table as one, each expectation tagged."""
    suites = {level: load_suite(table, level) for level in LEVELS}
    return {"name": f"staging.{table}",
            "meta": {k: v for s in suites.values() for k, v in s["meta"].items()},
            "expectations": [{**e, "meta": {**e.get("meta", {}), "severity": level}}
                             for level, s in suites.items() for e in s["expectations"]]}


class Validator:
    """One ephemeral GX context per process; Data Docs written beside the warehouse."""

    def __init__(self, docs_dir: Path | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX logs its ephemeral context's temporary docs directory at INFO: not ours to show.
        logging.getLogger("great_expectations").setLevel(logging.WARNING)

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.docs_dir = docs_dir
        if docs_dir is not None:
            self.context.add_data_docs_site(site_name="junheng", site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        self.source = self.context.data_sources.add_pandas("junheng")
        asset = self.source.add_dataframe_asset("staging")
        self._batch = asset.add_batch_definition_whole_dataframe("partition")
        self._definitions: dict[str, object] = {}
        self.results: list = []

    def _definition(self, key: str, expectations: list[dict]):
        if key not in self._definitions:
            from great_expectations.expectations.expectation_configuration import (
                ExpectationConfiguration,
            )
            suite = self.gx.ExpectationSuite(name=key)
            for e in expectations:
                suite.add_expectation_configuration(ExpectationConfiguration(
                    type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})))
            suite = self.context.suites.add(suite)
            self._definitions[key] = self.context.validation_definitions.add(
                self.gx.ValidationDefinition(name=key, data=self._batch, suite=suite))
        return self._definitions[key]

    @staticmethod
    def frame(con: duckdb.DuckDBPyConnection, table: str, year: int,
              profile_row: dict) -> pd.DataFrame:
        """The frame the suites of a table run on (DuckDB work: the caller's thread)."""
        return frame(con, table, year, merged_suite(table), profile_row)

    def run(self, table: str, year: int, data: pd.DataFrame,
            run_name: str = "") -> dict[str, Outcome]:
        """Both suites of a table in one GX validation, outcomes split by level (GX work:
        call it always from the same thread)."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        merged = merged_suite(table)
        vd = self._definition(merged["name"], merged["expectations"])
        run_id = RunIdentifier(run_name=f"{year} {run_name}".strip(),
                               run_time=datetime.now(UTC))
        result = vd.run(batch_parameters={"dataframe": data}, result_format="BASIC",
                        run_id=run_id)
        self.results.append(ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=merged["name"]),
            run_id=run_id, batch_identifier=result.batch_id))
        outcomes = {level: Outcome(table, level, True, 0, 0) for level in LEVELS}
        for r in result.results:
            o = outcomes[r.expectation_config.meta["severity"]]
            o.evaluated += 1
            if not r.success:
                o.passed = False
                o.failed += 1
                o.failures.append(_lean(r))
        return outcomes

    def build_docs(self) -> None:
        """Render the pages of the validations made since the last call, and the index."""
        if self.docs_dir is None or not self.results:
            return
        self.context.build_data_docs(site_names=["junheng"], resource_identifiers=self.results)
        self.results = []


def _lean(r) -> dict:
    cfg = r.expectation_config
    res = r.result or {}
    observed = res.get("observed_value")
    if observed is None:
        observed = f"{res.get('unexpected_count')} unexpected, e.g. " \
                   f"{res.get('partial_unexpected_list', [])[:3]}"
    if r.exception_info and r.exception_info.get("raised_exception"):
        observed = f"error: {r.exception_info.get('exception_message')}"
    return {"expectation": cfg.type, "column": cfg.kwargs.get("column", ""),
            "observed": str(observed)}
