"""Great Expectations suites (expectations/*.json) run on frames pulled from DuckDB.

GX 1.x cannot validate DuckDB through SQLAlchemy (great_expectations issues 10738
and 11579), so the suites run on one pandas frame that DuckDB hands over:

- the rows of one year, from the published `staging.<table>` or from a candidate
  relation (write, audit, publish: a delivery is checked before it replaces anything),
  only the columns the suites name (plus any `derived` expressions they define),
  sampled for big tables (`max_rows` in the suite's meta: about that many rows, chosen
  by a hash of the line number);
- with the table-level figures of `profile` broadcast as constant columns: rows read,
  loaded and rejected, the rejected share, last year's rows and the ratio to them,
  districts present, `schema_signature` ("name:TYPE,..." of the rows checked), and the
  per-district figures the suites ask for in their meta (see `profile`).

The critical and the warning suite of a table are two GX validations of that frame.
GX keeps one expectation per type and column in a suite, so one merged suite let the
warning limits replace the critical ones; a suite file that holds two expectations GX
would collapse is refused, and a validation that evaluates fewer expectations than its
file holds is an error.

Row rules that SQL does better (key uniqueness over 9 million rows, cross-feed
membership) stay in the staging SQL; GX re-checks what it can cheaply and owns the
table-level checks. Nothing that leaves (failure texts, Data Docs pages) carries a
person key: see `junheng.privacy.scrub`.
"""

from __future__ import annotations

import fcntl
import html
import json
import logging
import os
import re
import sys
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import accumulate
from numbers import Integral
from pathlib import Path
from urllib.parse import quote

import duckdb
import pandas as pd

from junheng import PROJECT_ROOT
from junheng.privacy import scrub
from junheng.sql import ident, one, relation_exists

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LEVELS = ("critical", "warning")
RESTRICTED_COLUMNS = ("person_key",)  # person-level: no expectation may read it

# Per-district figures a suite may ask for in its meta (name -> SQL aggregate over one
# district's rows); each becomes broadcast columns of the frame:
#   district_totals  {name: expr} -> <name>_ratio_min / _max: this year's total over last
#                    year's published total, the lowest and highest district (a district
#                    that is missing this year counts as 0);
#   census_totals    {name: expr} -> <name>_vs_census_min / _max: over the district's
#                    2020 census population (reference.districts);
#   district_changes {name: expr} -> <name>_change_max: the largest absolute change of a
#                    district's value from last year (in the value's own unit).
# A figure with nothing to compare with (no previous year, no reference) is None, which
# every expectation on it lets pass.
FIGURE_KINDS = {"district_totals": ("_ratio_min", "_ratio_max"),
                "census_totals": ("_vs_census_min", "_vs_census_max"),
                "district_changes": ("_change_max",)}

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
log = logging.getLogger(__name__)


class SuiteError(RuntimeError):
    """A suite file GX cannot evaluate as written, or a validation that skipped some of it."""


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
        return scrub("; ".join(f"{f['expectation']}({f.get('column', '')}): {f['observed']}"
                               for f in self.failures))


def suite_path(table: str, level: str) -> Path:
    return EXPECTATIONS_DIR / f"staging.{table}.{level}.json"


def _domain(kwargs: dict) -> tuple:
    """What GX matches an expectation on within a suite, besides its type."""
    return (kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"),
            tuple(kwargs.get("column_list") or ()), kwargs.get("row_condition"))


def _columns(kwargs: dict) -> list[str]:
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return cols + list(kwargs.get("column_list") or ())


def check_suite(suite: dict, source: str) -> dict:
    """`suite` unchanged, or ValueError naming `source`: two expectations GX would collapse
    into one, or an expectation (or an expression) that reads a restricted column."""
    seen: dict[tuple, int] = {}
    for i, e in enumerate(suite["expectations"]):
        key = (e["type"], *_domain(e["kwargs"]))
        if key in seen:
            raise ValueError(
                f"{source}: expectations {seen[key] + 1} and {i + 1} are both {e['type']} on "
                f"{', '.join(_columns(e['kwargs'])) or 'the table'}: GX keeps only one of "
                "them (put the other limit in the other level's suite, or merge them)")
        seen[key] = i
        restricted = set(_columns(e["kwargs"])) & set(RESTRICTED_COLUMNS)
        if restricted:
            raise ValueError(f"{source}: expectation {i + 1} ({e['type']}) reads "
                             f"{', '.join(sorted(restricted))}, which is person-level")
    meta = suite.get("meta", {})
    for kind in ("derived", *FIGURE_KINDS):
        for name, expr in meta.get(kind, {}).items():
            if any(re.search(rf"\b{c}\b", expr) for c in RESTRICTED_COLUMNS):
                raise ValueError(f"{source}: {kind} {name!r} reads a person-level column")
    return suite


@cache
def load_suite(table: str, level: str) -> dict:
    path = suite_path(table, level)
    return check_suite(json.loads(path.read_text(encoding="utf-8")), path.name)


@cache
def _table_meta(table: str) -> dict:
    """The meta of a table's suites together (derived columns, per-district figures); an
    expression defined differently by the two suites is an error."""
    merged: dict = {"derived": {}, **{k: {} for k in FIGURE_KINDS}}
    for level in LEVELS:
        if not suite_path(table, level).exists():
            continue
        meta = load_suite(table, level).get("meta", {})
        for kind in ("derived", *FIGURE_KINDS):
            for name, expr in meta.get(kind, {}).items():
                if merged[kind].get(name, expr) != expr:
                    raise ValueError(f"{suite_path(table, level).name}: {kind} {name!r} differs "
                                     "from the other level's suite")
                merged[kind][name] = expr
        if "max_rows" in meta:
            merged["max_rows"] = min(int(meta["max_rows"]), merged.get("max_rows", 1 << 62))
    return merged


def _relation(table: str, relation: str | None) -> str:
    """The rows checked: a candidate relation made by the project's code (a temp table or
    view, optionally schema-qualified), or the published staging table."""
    if relation is None:
        return f"staging.{ident(table)}"
    return ".".join(ident(part) for part in relation.split("."))


def _needed_columns(suite: dict, profile_columns) -> list[str]:
    cols: list[str] = []
    derived = suite.get("meta", {}).get("derived", {})
    for e in suite["expectations"]:
        cols += _columns(e["kwargs"])
    return [c for c in dict.fromkeys(cols) if c not in derived and c not in profile_columns]


def frame(con: duckdb.DuckDBPyConnection, table: str, year: int, suite: dict,
          profile: dict, relation: str | None = None) -> pd.DataFrame:
    """The rows of `year` from `relation` (default staging.<table>) a suite runs on, with
    the profile's figures as constant columns."""
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
        df = con.execute(f"select {', '.join(select)} from {_relation(table, relation)} "
                         f"where year = ?{sample}", [year]).df()
    if df.empty:  # table-level expectations must still see one row
        df = pd.DataFrame([{c: None for c in [*needed, *derived]}])
    for k, v in profile.items():
        df[k] = v
    return df


def _asked(table: str) -> list[tuple[str, str, str]]:
    """(kind, name, SQL aggregate) of every per-district figure the suites declare."""
    meta = _table_meta(table)
    return [(kind, name, expr) for kind in FIGURE_KINDS for name, expr in meta[kind].items()]


def _no_figures(table: str) -> dict:
    return {f"{name}{suffix}": None for kind, name, _ in _asked(table)
            for suffix in FIGURE_KINDS[kind]}


def _unit_filter(unit: tuple[str, str] | None) -> tuple[str, list]:
    """SQL condition and parameters keeping one unit of delivery's rows (or all)."""
    return (f" and {ident(unit[0])} = ?", [unit[1]]) if unit else ("", [])


def _by_district(con: duckdb.DuckDBPyConnection, source: str, year: int,
                 exprs: list[str], unit: tuple[str, str] | None = None
                 ) -> dict[str | None, tuple]:
    """district_code -> (rows, figure, ...) of one year of `source`, in one scan (for the
    pension candidate, a view over 9 million rows, every scan counts). Rows without a
    district are under None."""
    cols = ", ".join(["count(*)", *(f"({e})" for e in exprs)])
    where, params = _unit_filter(unit)
    rows = con.execute(f"select district_code, {cols} from {source} where year = ?{where} "
                       "group by district_code", [year, *params]).fetchall()
    return {r[0]: r[1:] for r in rows}


def _district_figures(con: duckdb.DuckDBPyConnection, table: str, current: dict,
                      previous: dict) -> dict:
    """The declared per-district figures from this year's and last year's groups (as
    `_by_district` returns them)."""
    asked = _asked(table)
    figures = _no_figures(table)
    if not asked:
        return figures
    current = {d: r for d, r in current.items() if d is not None}
    previous = {d: r for d, r in previous.items() if d is not None}
    census = dict(con.execute("select district_code, resident_population_2020 "
                              "from reference.districts").fetchall()) \
        if _table_meta(table)["census_totals"] and relation_exists(con, "reference",
                                                                    "districts") else {}

    def now(district: str, i: int) -> float:  # a district without rows this year: 0
        row = current.get(district)
        return float(row[i] or 0) if row else 0.0

    for i, (kind, name, _) in enumerate(asked, start=1):   # 0 is the row count
        if kind == "district_totals":  # every district of last year
            values = [now(d, i) / float(p[i]) for d, p in previous.items() if p[i]]
        elif kind == "census_totals":
            values = [now(d, i) / float(c) for d, c in census.items() if c]
        else:
            values = [abs(float(current[d][i]) - float(p[i])) for d, p in previous.items()
                      if d in current and current[d][i] is not None and p[i] is not None]
        if not values:
            continue
        if kind == "district_changes":
            figures[f"{name}_change_max"] = max(values)
        else:
            low, high = FIGURE_KINDS[kind]
            figures[f"{name}{low}"], figures[f"{name}{high}"] = min(values), max(values)
    return figures


def profile(con: duckdb.DuckDBPyConnection, table: str, year: int, rows_read: int,
            rows_rejected: int, relation: str | None = None,
            unit: tuple[str, str] | None = None) -> dict:
    """Table-level figures of the rows of `year` in `relation` (default: the published
    staging.<table>); last year's figures always come from the published table. One
    grouped scan of each: rows, districts and the declared figures together. `unit`
    (column, value): a unit of delivery's rows only (a department's submissions), this
    year's and last year's."""
    source = _relation(table, relation)
    described = con.execute(f"describe select * from {source}").fetchall()
    columns = {r[0] for r in described}
    signature = ",".join(f"{r[0]}:{r[1]}" for r in described)
    published = relation_exists(con, "staging", table)
    if "district_code" in columns:
        exprs = [expr for _, _, expr in _asked(table)]
        current = _by_district(con, source, year, exprs, unit)
        last = _by_district(con, f"staging.{ident(table)}", year - 1, exprs, unit) \
            if published else {}
        loaded = sum(r[0] for r in current.values())
        previous = sum(r[0] for r in last.values())
        districts = sum(1 for d in current if d is not None)
        figures = _district_figures(con, table, current, last)
    else:
        where, params = _unit_filter(unit)
        loaded = one(con, f"select count(*) from {source} where year = ?{where}",
                     [year, *params])[0]
        previous = one(con, f"select count(*) from staging.{ident(table)} where year = ?"
                            f"{where}", [year - 1, *params])[0] if published else 0
        districts = None
        figures = _no_figures(table)
    return {
        "schema_signature": signature,
        "rows_read": rows_read,
        "rows_loaded": loaded,
        "rows_rejected": rows_rejected,
        "rejected_share": rows_rejected / rows_read if rows_read else 0.0,
        "rows_previous_year": previous or None,
        "rows_vs_previous_year": loaded / previous if previous else None,
        "districts_present": districts,
        **figures,
    }


def _frame_suite(table: str) -> dict:
    """Both suites' expectations and meta, to pull one frame that serves both."""
    meta = _table_meta(table)
    return {"meta": {"derived": meta["derived"], **({"max_rows": meta["max_rows"]}
                                                    if "max_rows" in meta else {})},
            "expectations": [e for level in LEVELS for e in load_suite(table, level)
                             ["expectations"]]}


def import_gx():
    """great_expectations, imported as a process that has no pyspark sees it.

    GX imports pyspark and its Spark data sources whenever pyspark is installed (it is, for
    the Spark engine: junheng/engine), though Junheng validates pandas frames only: 1-2 s
    of the 3-9 s GX's import takes on this project's 2-core machine, in every process
    that audits a delivery. Unless this process uses pyspark already, pyspark is hidden
    while GX is imported (GX then takes it for not installed, as it handles an install
    without its spark extra); it can be imported as usual afterwards."""
    hidden = "pyspark" not in sys.modules and "great_expectations" not in sys.modules
    if hidden:
        sys.modules["pyspark"] = None      # `import pyspark` raises ImportError
    try:
        import great_expectations
    finally:
        if hidden and sys.modules.get("pyspark", False) is None:
            del sys.modules["pyspark"]
    return great_expectations


class Validator:
    """One ephemeral GX context per process; Data Docs written beside the warehouse.
    Build it and call it from one thread (GX's context is not thread-safe); it starts none."""

    def __init__(self, docs_dir: Path | None = None):
        gx = import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX logs its ephemeral context's temporary docs directory at INFO: not ours to show.
        # (That module's logger has its own level, so the parent's is not enough.)
        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)

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
        # The validations since the last build_docs: (GX's identifier, index.html's row).
        self.results: list[tuple[object, dict]] = []

    def _definition(self, table: str, level: str):
        name = f"staging.{table}.{level}"
        if name not in self._definitions:
            from great_expectations.expectations.expectation_configuration import (
                ExpectationConfiguration,
            )
            expectations = load_suite(table, level)["expectations"]
            suite = self.gx.ExpectationSuite(name=name)
            for e in expectations:
                suite.add_expectation_configuration(ExpectationConfiguration(
                    type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})))
            if len(suite.expectations) != len(expectations):
                raise SuiteError(f"{suite_path(table, level).name}: GX holds "
                                 f"{len(suite.expectations)} of its {len(expectations)} "
                                 "expectations")
            suite = self.context.suites.add(suite)
            self._definitions[name] = self.context.validation_definitions.add(
                self.gx.ValidationDefinition(name=name, data=self._batch, suite=suite))
        return self._definitions[name]

    @staticmethod
    def frame(con: duckdb.DuckDBPyConnection, table: str, year: int, profile_row: dict,
              relation: str | None = None) -> pd.DataFrame:
        """The frame both suites of a table run on (DuckDB work: the caller's thread)."""
        return frame(con, table, year, _frame_suite(table), profile_row, relation)

    def _validate(self, table: str, level: str, data: pd.DataFrame, run_id,
                  result_format: str = "BASIC") -> tuple[Outcome, object]:
        """One GX validation of `data` by one suite, listed for Data Docs: its Outcome, and
        GX's result."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        vd = self._definition(table, level)
        result = vd.run(batch_parameters={"dataframe": data}, result_format=result_format,
                        run_id=run_id)
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=vd.suite.name),
            run_id=run_id, batch_identifier=result.batch_id)
        self.results.append((identifier, {
            "status": "Success" if result.success else "Failed",
            "at": run_id.run_time.isoformat(), "run_name": run_id.run_name,
            "suite": vd.suite.name,
            "page": "validations/" + "/".join(identifier.to_tuple()) + ".html"}))
        o = Outcome(table, level, True, 0, 0)
        for r in result.results:
            o.evaluated += 1
            if not r.success:
                o.passed = False
                o.failed += 1
                o.failures.append(_lean(r))
        expected = len(load_suite(table, level)["expectations"])
        if o.evaluated != expected:
            raise SuiteError(f"{suite_path(table, level).name}: GX evaluated {o.evaluated} "
                             f"of its {expected} expectations for {run_id.run_name}")
        return o, result

    def run(self, table: str, year: int, data: pd.DataFrame, run_name: str = "",
            levels: tuple[str, ...] = LEVELS) -> dict[str, Outcome]:
        """The critical and the warning suite of a table (or only `levels`), each its own
        GX validation of `data` (GX work: call it always from the same thread)."""
        run_id = _run_id(year, run_name)
        return {level: self._validate(table, level, data, run_id)[0] for level in levels}

    def run_together(self, table: str, year: int, frames: list[pd.DataFrame],
                     names: list[str], run_name: str = "",
                     levels: tuple[str, ...] = LEVELS) -> list[dict[str, Outcome]]:
        """Each frame's outcomes, as `run` gives them frame by frame, with fewer validations.

        A validation costs GX about 0.1 s whatever its frame's size, and a year's 14
        department files are 14 frames of one table. Each suite runs once on their union
        (`together`); a frame is validated on its own only where that union's failures
        touch its rows. This gives every frame exactly its own outcome because of what
        `together` admits: every expectation is row-wise or a uniqueness (a row of the
        union fails only if it fails in its own frame; a duplicate within a frame is one in
        the union) with only the arguments that keep it so (`ROW_WISE_KWARGS`: no share,
        no row condition), and the frames' columns and types are equal, so every row is
        evaluated as it is alone. Otherwise, or when a failed result does not say which
        rows failed, every frame is validated on its own. `names` (a frame's unit) name the
        validations in Data Docs."""
        out: list[dict[str, Outcome]] = [{} for _ in frames]
        alike = all(list(f.dtypes.items()) == list(frames[0].dtypes.items()) for f in frames)
        for level in levels:
            alone = range(len(frames))
            if len(frames) > 1 and alike and together(table, level):
                union = pd.concat(frames, ignore_index=True)
                o, result = self._validate(
                    table, level, union,
                    _run_id(year, f"{run_name} {len(frames)} together"), "COMPLETE")
                alone = _touched(result, [len(f) for f in frames])
                for i in set(range(len(frames))) - set(alone):
                    out[i][level] = Outcome(table, level, True, o.evaluated, 0)
            for i in alone:
                out[i][level] = self._validate(table, level, frames[i],
                                               _run_id(year, f"{run_name} {names[i]}"))[0]
        return out

    def build_docs(self) -> None:
        """Render the pages of the validations made since the last call, and the index,
        readable offline.

        The index is ours, not GX's: GX's lists the validations its ephemeral context
        holds (this process's, so one `junheng run` forgot the last), and rebuilding it
        after every feed cost 0.2-0.5 s each time. Ours lists every validation written
        to this folder (`validations.json`), newest first."""
        if self.docs_dir is None or not self.results:
            return
        started = time.time()
        docs = Path(self.docs_dir)
        self.context.build_data_docs(site_names=["junheng"],
                                     resource_identifiers=[i for i, _ in self.results],
                                     build_index=False)
        listed = docs / "validations.json"
        # Runs end in their own time (a build is a run's last act, outside the warehouse's
        # pool): the list is read, extended and written by one process at a time.
        with open(docs / ".validations.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                rows = json.loads(listed.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                rows = []                  # none yet, or unreadable: start the list again
            rows += [r for _, r in self.results if (docs / r["page"]).exists()]
            _atomic_text(listed, json.dumps(rows, ensure_ascii=False, indent=0))
            _atomic_text(docs / "index.html", index_page(rows))
        self.results = []
        make_offline(docs, since=started - 1)


def _lean(r) -> dict:
    cfg = r.expectation_config
    res = r.result or {}
    observed = res.get("observed_value")
    if observed is None:
        observed = f"{res.get('unexpected_count')} unexpected, e.g. " \
                   f"{res.get('partial_unexpected_list', [])[:3]}"
    error = _error(r)
    if error is not None:
        observed = f"error: {error}"
    lean = {"expectation": cfg.type, "column": ",".join(_columns(cfg.kwargs)),
            "observed": scrub(str(observed))}
    if (cfg.meta or {}).get("why"):
        lean["why"] = cfg.meta["why"]
    return lean


# Expectations for which a union of frames passing means each frame passes: row-wise
# (each row judged alone: nulls, sets, ranges, column pairs) or uniqueness (a duplicate
# within a frame is one in the union). Aggregates (a mean, a row count, a set of distinct
# values) and a share (`mostly`) are not: the union's figure is not each frame's.
ROW_WISE = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between", "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal",
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
    "expect_select_column_values_to_be_unique_within_record",
})


# The arguments of those expectations that keep them row-wise. Anything else is refused:
# a `row_condition` (pandas can filter on a column's mean, which the union changes), a
# share (`mostly` below 1), or an argument this list has not been proven with.
ROW_WISE_KWARGS = frozenset({
    "column", "column_A", "column_B", "column_list", "value_set", "min_value", "max_value",
    "strict_min", "strict_max", "or_equal", "regex", "ignore_row_if", "mostly"})


def together(table: str, level: str) -> bool:
    """Whether a suite may validate a union of frames for each of them (see
    `Validator.run_together`)."""
    return all(e["type"] in ROW_WISE and set(e["kwargs"]) <= ROW_WISE_KWARGS
               and e["kwargs"].get("mostly", 1) == 1
               for e in load_suite(table, level)["expectations"])


def _error(r) -> str | None:
    """The message of an expectation that raised instead of being evaluated, else None. GX
    1.x keeps it under the failing metric's identifier (older: at the top level)."""
    info = r.exception_info or {}
    for found in (info, *(v for v in info.values() if isinstance(v, dict))):
        if found.get("raised_exception"):
            return str(found.get("exception_message"))
    return None


def _touched(result, sizes: list[int]) -> list[int]:
    """The frames (by position, of these sizes, in the union's order) holding a row that
    failed an expectation of a union's validation; every frame when a failed expectation
    does not list its rows (an exception, a table-level result)."""
    bounds = list(accumulate(sizes))
    touched: set[int] = set()
    for r in result.results:
        if r.success:
            continue
        rows = (r.result or {}).get("unexpected_index_list")
        if _error(r) is not None or not rows \
                or not all(isinstance(i, Integral) for i in rows):
            return list(range(len(sizes)))
        touched |= {bisect_right(bounds, i) for i in rows}
    return sorted(touched)


def _run_id(year: int, run_name: str):
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=f"{year} {run_name}".strip(), run_time=datetime.now(UTC))


# --------------------------------------------------------------------------- Data Docs

# GX's pages load Bootstrap, jQuery, bootstrap-table and Font Awesome from CDNs; offline
# the index (a table drawn by JavaScript) is empty. The pages are rewritten to need no
# network: remote tags and scripts dropped, this sheet inlined, the index as plain HTML.
_OFFLINE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:14px;color:#212529;
margin:0;line-height:1.4}
a{color:#0b5ed7}
nav{display:flex;align-items:center;gap:1rem;padding:.4rem 1rem;border-bottom:1px solid #ddd}
.breadcrumb{list-style:none;display:flex;gap:.5rem;margin:0;padding:0}
.container-fluid{padding:.5rem 1.5rem}
.row{display:flex;flex-wrap:wrap;gap:1.5rem}
.col-lg-2,.col-md-2{flex:0 0 14rem}
.col-md-10,.col-lg-10{flex:1 1 40rem;min-width:0}
.col-12{width:100%}
table{border-collapse:collapse;margin:.4rem 0;max-width:100%}
th,td{border:1px solid #dee2e6;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f5f7}
.card{border:1px solid #dee2e6;border-radius:4px;margin:.5rem 0}
.card-header{background:#f4f5f7;padding:.4rem .6rem;border-bottom:1px solid #dee2e6}
.card-body{padding:.4rem .6rem}
.alert{padding:.5rem .75rem;border-radius:4px;margin:.4rem 0}
.alert-secondary{background:#e9ecef}
.ge-section{margin-bottom:1.5rem}
.text-success{color:#198754}.text-danger{color:#dc3545}
.fa-check-circle::before{content:"\\2714"}.fa-times::before{content:"\\2718"}
.cooltip .top,.d-none,.invisible,.btn,.modal{display:none}
ul{padding-inline-start:20px}
pre,code{white-space:pre-wrap;word-break:break-all}
"""
_REMOTE_TAG = re.compile(
    r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>"
    r"|<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.I | re.S)
_STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.I | re.S)
_FOOTER = re.compile(r"<footer\b.*?</footer>", re.I | re.S)
_REMOTE_LINK = re.compile(r"<a\b[^>]*\bhref\s*=\s*[\"'](?:https?:)?//[^\"']*[\"'][^>]*>(.*?)</a>",
                          re.I | re.S)
_REMOTE_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"'](?:https?:)?//[^>]*>", re.I | re.S)
_REMOTE_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", re.I)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def index_page(rows: list[dict]) -> str:
    """The Data Docs index: every validation listed, newest first, as plain HTML (no
    script, no network); texts scrubbed as every page is."""
    cells = []
    for r in sorted(rows, key=lambda r: (r["at"], r["suite"]), reverse=True):
        link = html.escape(quote(r["page"]), quote=True)
        when = datetime.fromisoformat(r["at"]).strftime("%Y-%m-%d %H:%M:%S UTC")
        cells.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r["status"], when, r["run_name"], r["suite"]))
            + f'<td><a href="{link}">page</a></td></tr>')
    table = ("<table><thead><tr><th>Status</th><th>Run time</th><th>Run name</th>"
             "<th>Expectation suite</th><th></th></tr></thead><tbody>" + "".join(cells)
             + "</tbody></table>") if cells else "<p>No validation yet.</p>"
    return scrub('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
                 '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
                 f"<title>Junheng: Great Expectations Data Docs</title><style>{_OFFLINE_CSS}"
                 '</style></head><body><nav><img src="static/images/logo-long.png" '
                 'alt="Great Expectations" style="height:40px"/><strong>Junheng: '
                 "validations of every delivery</strong></nav><div class=\"container-fluid\">"
                 f"{table}</div></body></html>\n")


def offline_page(page: str, depth: int) -> str:
    """A GX Data Docs page that needs no network (depth: its folder's levels below the
    docs root, to reach the local static files); every person-key-like text withheld."""
    page = _REMOTE_TAG.sub("", page)
    page = _SCRIPT.sub("", page)  # all of it drives the CDN libraries; none draws content
    page = _FOOTER.sub("", page)  # a newsletter call and a walkthrough banner
    page = _REMOTE_LINK.sub(r"\1", page)
    logo = "../" * depth + "static/images/logo-long.png"
    page = _REMOTE_IMG.sub(f'<img src="{logo}" alt="Great Expectations" style="height:40px"/>',
                           page)
    page = _STYLE.sub("", page)
    page = page.replace("</head>", f"<style>{_OFFLINE_CSS}</style>\n</head>", 1)
    return scrub(page)


def make_offline(docs_dir: Path, since: float = 0.0) -> int:
    """Rewrite the pages (and style sheets) written since `since` (a time.time()) to need
    no network; returns how many files were rewritten."""
    done = 0
    for path in docs_dir.rglob("*"):
        # Style sheets are copied with their old times: always looked at (two small files).
        if path.suffix not in (".html", ".css") or (
                path.suffix == ".html" and path.stat().st_mtime < since):
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".css":
            new = _REMOTE_URL.sub("none", text)
        else:
            new = offline_page(text, len(path.relative_to(docs_dir).parts) - 1)
        if new != text:
            path.write_text(new, encoding="utf-8")
            done += 1
    return done
