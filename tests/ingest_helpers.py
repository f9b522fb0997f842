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


def accept_all(con, candidates) -> list[dict[str, Outcome]]:
    """An audit that passes every candidate. Only for tests of the readers and the rules
    on their own; the gate itself is tested with the real suites (test_gate.py)."""
    return [{level: Outcome(c.part.staging, level, True, 0, 0) for level in LEVELS}
            for c in candidates]


# --------------------------------------------------------------------------- submissions

SUBMISSION_HEADER = ["指标编码", "区县", "分子", "分母", "数值", "标准误", "样本量", "备注"]
# The district as a department writes it: codes, names and aliases (full-width too).
DISTRICT_TEXT = {"320505": "高新区", "320506": "320506", "320507": "相城区",
                 "320508": "姑苏", "320509": "320509", "320571": "　园区 ",
                 "320581": "常熟市", "320582": "320582", "320583": "昆山",
                 "320585": "３２０５８５"}


def submission_rows(department: str, year: int = 2021) -> list[list[str]]:
    """A good file's rows for one department: every indicator of it, every district (and the
    city for a survey estimate), values that pass every rule and suite."""
    from junheng.ingest.feeds import submission_indicators

    rows = []
    for k, ind in enumerate(submission_indicators()[department]):
        for j, text in enumerate(DISTRICT_TEXT.values()):
            i, form, unit = ind["indicator_id"], ind["form"], ind["unit"]
            n = 50 + 3 * j + k + (year - 2020)
            if form == "ratio" and unit == "%":
                rows.append([i, text, str(n), "100", str(n) if j % 2 else "", "", "", ""])
            elif form == "ratio":
                rows.append([i, text, str(n * 27), "100", "", "", "", "mean years"])
            elif form == "count":
                rows.append([i, text, str(n * 10), "", "", "", "", ""])
            elif form == "flag":
                rows.append([i, text, str(j % 2), "1", "", "", "", ""])
            else:
                shift = (year - 2020) / 10   # no two years' files alike
                rows.append([i, text, "", "", f"{90 + j / 2 + shift:.1f}", "0.8", "400", ""])
                if j == 0:
                    rows.append([i, "320500", "", "", f"{94 + shift:.1f}", "0.3", "4000",
                                 "city"])
    return rows


def write_submission(landing: Path, department: str, year: int, rows=None,
                     header=None, encoding: str = "utf-8-sig") -> Path:
    """<landing>/submissions/<year>/<department>_<year>.csv with the given rows (default:
    a good file)."""
    import csv
    import io

    folder = landing / "submissions" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header or SUBMISSION_HEADER)
    w.writerows(submission_rows(department, year) if rows is None else rows)
    path = folder / f"{department}_{year}.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def write_submissions(landing: Path, year: int, departments=None,
                      replace: bool = False) -> None:
    """Good files of every department (or of some) for one year, unless one is there (or
    in its place: `replace`)."""
    from junheng.ingest.feeds import SUBMISSION_DEPARTMENTS

    for d in departments or SUBMISSION_DEPARTMENTS:
        if replace or not (landing / "submissions" / str(year) / f"{d}_{year}.csv").exists():
            write_submission(landing, d, year)
