"""Great Expectations suites (expectations/*.json) run on frames pulled from DuckDB.

GX 1.x cannot validate DuckDB through SQLAlchemy (great_expectations issues 10738
and 11579), so each suite runs on pandas frames that DuckDB hands over:

- `rows`: the staging rows of one year, only the columns the suite names (plus
  any `derived` expressions the suite defines), sampled for big tables
  (`max_rows` in the suite's meta: a repeatable reservoir sample);
- `profile`: one row of table-level figures: rows read, loaded and rejected, the
  rejected share, the previous year's rows and the ratio to them, districts present;
- `schema`: one row per column, `signature` = "name:TYPE".

Each expectation names its frame in `meta.frame` (default `rows`). Row rules that
SQL does better (key uniqueness over 9 million rows, cross-feed membership) stay
in the staging SQL; GX re-checks what it can cheaply and owns the table-level ones.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from junheng import PROJECT_ROOT
from junheng.sql import ident, one

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LEVELS = ("critical", "warning")
FRAMES = ("rows", "profile", "schema")

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


def _needed_columns(suite: dict) -> list[str]:
    cols: list[str] = []
    derived = suite.get("meta", {}).get("derived", {})
    for e in suite["expectations"]:
        if e.get("meta", {}).get("frame", "rows") != "rows":
            continue
        kw = e["kwargs"]
        for key in ("column", "column_A", "column_B"):
            if key in kw:
                cols.append(kw[key])
        cols += kw.get("column_list", [])
    return [c for c in dict.fromkeys(cols) if c not in derived]


def frames(con: duckdb.DuckDBPyConnection, table: str, year: int, suite: dict,
           profile: dict) -> dict[str, pd.DataFrame]:
    meta = suite.get("meta", {})
    derived = meta.get("derived", {})
    select = [ident(c) for c in _needed_columns(suite)]
    # Derived expressions come from the project's own suite files, never from data.
    select += [f"({expr}) as {ident(name)}" for name, expr in derived.items()]
    sample = ""
    if meta.get("max_rows"):
        sample = f" using sample reservoir({int(meta['max_rows'])} rows) repeatable (42)"
    out = {"profile": pd.DataFrame([profile])}
    if select:
        out["rows"] = con.execute(
            f"select {', '.join(select)} from (select * from staging.{ident(table)} "
            f"where year = ?){sample}", [year]).df()
    cols = con.execute("select column_name || ':' || data_type from duckdb_columns() "
                       "where schema_name = 'staging' and table_name = ?", [table]).fetchall()
    out["schema"] = pd.DataFrame({"signature": [c[0] for c in cols]})
    return out


def profile(con: duckdb.DuckDBPyConnection, table: str, year: int, rows_read: int,
            rows_rejected: int) -> dict:
    loaded = one(con, f"select count(*) from staging.{ident(table)} where year = ?", [year])[0]
    previous = one(con, f"select count(*) from staging.{ident(table)} where year = ?",
                   [year - 1])[0]
    has_district = one(con, "select count(*) from duckdb_columns() where schema_name = 'staging' "
                            "and table_name = ? and column_name = 'district_code'", [table])[0]
    districts = one(con, f"select count(distinct district_code) from staging.{ident(table)} "
                         "where year = ?", [year])[0] if has_district else None
    return {
        "rows_read": rows_read,
        "rows_loaded": loaded,
        "rows_rejected": rows_rejected,
        "rejected_share": rows_rejected / rows_read if rows_read else 0.0,
        "rows_previous_year": previous or None,
        "rows_vs_previous_year": loaded / previous if previous else None,
        "districts_present": districts,
    }


class Validator:
    """One ephemeral GX context per process; Data Docs written beside the warehouse."""

    def __init__(self, docs_dir: Path | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

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
        self._batches: dict[str, object] = {}
        self._definitions: dict[str, object] = {}

    def _batch_definition(self, frame: str):
        if frame not in self._batches:
            asset = self.source.add_dataframe_asset(frame)
            self._batches[frame] = asset.add_batch_definition_whole_dataframe(frame)
        return self._batches[frame]

    def _definition(self, name: str, frame: str, expectations: list[dict]):
        key = f"{name}.{frame}"
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
                self.gx.ValidationDefinition(name=key, data=self._batch_definition(frame),
                                             suite=suite))
        return self._definitions[key]

    def validate(self, con: duckdb.DuckDBPyConnection, table: str, level: str, year: int,
                 profile_row: dict) -> Outcome:
        suite = load_suite(table, level)
        data = frames(con, table, year, suite, profile_row)
        outcome = Outcome(table, level, True, 0, 0)
        for frame in FRAMES:
            exps = [e for e in suite["expectations"] if e.get("meta", {}).get("frame", "rows")
                    == frame]
            if not exps:
                continue
            vd = self._definition(suite["name"], frame, exps)
            result = vd.run(batch_parameters={"dataframe": data[frame]}, result_format="BASIC")
            for r in result.results:
                outcome.evaluated += 1
                if not r.success:
                    outcome.passed = False
                    outcome.failed += 1
                    outcome.failures.append(_lean(r))
        return outcome

    def build_docs(self) -> None:
        if self.docs_dir is not None:
            self.context.build_data_docs(site_names=["junheng"])


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
