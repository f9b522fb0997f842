"""Junheng (均衡): the public-service equalisation monitor."""

import warnings
from pathlib import Path

# pyspark 4 warns on import that pandas >= 3 is "not yet fully supported", and Great
# Expectations imports pyspark whenever it is installed, so every run printed it, with the
# DuckDB engine too. Junheng hands Spark no pandas frames. Set here, where every entry point
# (CLI, code location, step subprocesses, tests) passes first.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "warehouse" / "seeds"
SQL_DIR = PROJECT_ROOT / "warehouse" / "sql"

# The plan's reporting years: 2020 is the baseline, 2025 the plan's final year. A landing
# folder for any other year is reported and never read (it would shift every trend).
PLAN_YEARS = tuple(range(2020, 2026))
