from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from junheng.demo.generator import Options, generate

ROOT = Path(__file__).resolve().parents[1]


def run_env(root: Path, landing: Path) -> dict:
    """Environment for `junheng run` on a temporary instance, warehouse and extracts."""
    home = root / "dagster_home"
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(home), "JUNHENG_LANDING": str(landing),
            "JUNHENG_WAREHOUSE": str(root / "wh" / "junheng.duckdb"),
            "JUNHENG_EXTRACTS": str(root / "extracts")}


def junheng_run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "junheng.cli", "run", *args], env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def demo_2020(tmp_path_factory) -> Path:
    """The default demo feeds (default scale and defect rates) for the baseline year."""
    landing = tmp_path_factory.mktemp("landing_2020")
    generate(landing, Options(years=(2020,)))
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


def pytest_collection_modifyitems(config, items):
    """Tests sharing the six-year run stay on one xdist worker, so it is built once."""
    for item in items:
        if "full_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("full_run"))
