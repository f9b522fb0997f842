"""Junheng (均衡): the public-service equalisation monitor."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "warehouse" / "seeds"
SQL_DIR = PROJECT_ROOT / "warehouse" / "sql"
