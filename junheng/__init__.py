"""Junheng (均衡): the public-service equalisation monitor."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "warehouse" / "seeds"
SQL_DIR = PROJECT_ROOT / "warehouse" / "sql"

# The plan's reporting years: 2020 is the baseline, 2025 the plan's final year. A landing
# folder for any other year is reported and never read (it would shift every trend).
PLAN_YEARS = tuple(range(2020, 2026))
