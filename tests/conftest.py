from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Before any project import (pipelines.resources reads the environment when the definitions
# load): tests never append to the user's alert log, nor post to a webhook configured in
# the shell that runs them.
_ALERTS = Path(tempfile.mkdtemp(prefix="junheng-test-alerts-"))
atexit.register(shutil.rmtree, _ALERTS, True)
os.environ["JUNHENG_ALERT_LOG"] = str(_ALERTS / "alerts.log")
os.environ.pop("JUNHENG_ALERT_WEBHOOK", None)


def _scratch_in_memory(root: Path = Path("/dev/shm"), room: int = 8 * 2**30) -> None:
    """The tests' temporary directories (warehouses, Dagster instances, releases, landing
    zones) in memory where the machine has a tmpfs with room for them: every `junheng run`
    commits its Dagster instance's SQLite event log once per event, and on a disk each
    commit waits for an fsync, which on a busy machine doubles a run's time. No test asserts
    that anything reached a disk (a killed process leaves what it wrote in the page cache,
    on a tmpfs as on a disk). pytest's own PYTEST_DEBUG_TEMPROOT, when set, is left alone
    (PYTEST_DEBUG_TEMPROOT=/tmp: the previous behaviour); so is an explicit --basetemp,
    which takes precedence anyway. Read once, before the first tmp_path is made."""
    if "PYTEST_DEBUG_TEMPROOT" in os.environ:
        return
    try:
        if root.is_dir() and os.access(root, os.W_OK | os.X_OK) and \
                shutil.disk_usage(root).free >= room:
            os.environ["PYTEST_DEBUG_TEMPROOT"] = str(root)
    except OSError:
        pass


_scratch_in_memory()

import pytest  # noqa: E402

from junheng.demo.generator import Options, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_env(root: Path, landing: Path) -> dict:
    """Environment for `junheng run` on a temporary instance, warehouse, extracts and alert
    log (never the user's, never a webhook)."""
    home = root / "dagster_home"
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k != "JUNHENG_ALERT_WEBHOOK"}
    return {**env, "DAGSTER_HOME": str(home), "JUNHENG_LANDING": str(landing),
            "JUNHENG_WAREHOUSE": str(root / "wh" / "junheng.duckdb"),
            "JUNHENG_EXTRACTS": str(root / "extracts"),
            "JUNHENG_ALERT_LOG": str(root / "alerts.log")}


def junheng_run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", *args], env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def demo_2020(tmp_path_factory) -> Path:
    """The default demo feeds (default scale and defect rates) for the baseline year."""
    landing = tmp_path_factory.mktemp("landing_2020")
    generate(landing, Options(years=(2020,)))
    return landing


@pytest.fixture(scope="session")
def demo_years(tmp_path_factory) -> Path:
    """All six demo years at a tiny scale: the submissions series, progress and defects."""
    landing = tmp_path_factory.mktemp("landing_years")
    generate(landing, Options(scale=0.003))
    return landing


@pytest.fixture(scope="session")
def demo_defects(tmp_path_factory) -> tuple[Path, Options]:
    """Demo feeds with a raised defect rate, to measure each defect class."""
    landing = tmp_path_factory.mktemp("landing_defects")
    opts = Options(years=(2021,), scale=0.01, defect_rate=0.01, dual_rate=0.02)
    generate(landing, opts)
    return landing, opts


@pytest.fixture(scope="session")
def full_run(tmp_path_factory):
    """Six demo years (tiny scale) through `junheng run`: ingest, marts, release, snapshot."""
    root = tmp_path_factory.mktemp("full_run")
    landing = root / "landing"
    generate(landing, Options(scale=0.003))
    out = junheng_run(run_env(root, landing))
    return root, root / "dagster_home", out


@pytest.hookimpl(tryfirst=True)   # before xdist's own hook turns the marks into groups
def pytest_collection_modifyitems(config, items):
    """Tests sharing an expensive fixture stay on one xdist worker, so it is built once: a
    session run (`full_run`, `untidy_run`), the one JVM of the Spark tests, and a module's
    own module-scoped fixtures (the Spark and DuckDB runs, the gate's base warehouse...)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((s for s in ("full_run", "untidy_run") if s in names), None)
        if group is None and item.get_closest_marker("spark"):
            group = "spark"
        if group is None:
            defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
            if any(d and d[-1].scope == "module" for d in defs.values()):
                group = item.nodeid.split("::", 1)[0]
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def untidy_run(tmp_path_factory) -> tuple[Path, dict, subprocess.CompletedProcess]:
    """`junheng run` on a landing zone with one good year (2020) beside what must not be
    read (an empty 2026 folder, a 2019 folder with a file, an empty 2023 folder, a file at
    the top), started while this process holds the warehouse's write lock: the lock is let
    go once the run says it is waiting for it."""
    import threading

    import duckdb

    root = tmp_path_factory.mktemp("untidy_run")
    landing = root / "landing"
    generate(landing, Options(years=(2020,), scale=0.002))
    (landing / "schools" / "2026").mkdir()
    (landing / "population" / "2019").mkdir()
    shutil.copy(landing / "population/2020/population_2020.csv",
                landing / "population/2019/population_2019.csv")
    (landing / "health" / "2023").mkdir()
    (landing / "README.txt").write_text("where the departments deliver\n")
    env = {**run_env(root, landing), "JUNHENG_LOCK_TIMEOUT_S": "300"}
    warehouse = Path(env["JUNHENG_WAREHOUSE"])
    warehouse.parent.mkdir(parents=True)
    holder = duckdb.connect(str(warehouse))
    cmd = [sys.executable, "-m", "pipelines.cli", "run"]
    with open(root / "stderr.txt", "w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        watchdog = threading.Timer(900, proc.kill)
        watchdog.start()
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "waiting for the warehouse" in line:
                break
        holder.close()
        rest = proc.communicate()[0]
        watchdog.cancel()
        err.seek(0)
        out = subprocess.CompletedProcess(cmd, proc.returncode, "".join(seen) + rest, err.read())
    return root, env, out


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One SparkSession (local[2]) for every Spark test of the worker; its work directory
    (spill files, Spark's log) is temporary."""
    from junheng.engine.spark import session, stop_all

    work = tmp_path_factory.mktemp("spark_work")
    yield session("local[2]", work, "1g")
    stop_all()
