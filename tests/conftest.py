from __future__ import annotations

from pathlib import Path

import pytest

from junheng.demo.generator import Options, generate


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
