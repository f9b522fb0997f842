"""The release's tables: columns, types, units and bilingual descriptions (extracts.md).

Thin views over `junheng.registry`, where each table is declared once. Each table lists
its columns in published order; the keys sort the Parquet file.
"""

from __future__ import annotations

import pyarrow as pa

from junheng.registry import published

# column -> (type, unit, 中文, English), of the release's columns
COLUMNS: dict[str, tuple] = {c.name: (c.type, c.unit, c.zh, c.en)
                             for t in published() for c in t.columns}

# table: (columns in order, sort keys), in the release's order
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    t.name: (t.column_names, t.sort_keys) for t in published()}

TABLE_DESCRIPTIONS = {t.name: (t.description_zh, t.description) for t in published()}


def _published(name: str):
    return next(t for t in published() if t.name == name)


def schema(name: str) -> pa.Schema:
    return _published(name).arrow_schema()


def dictionary_rows() -> list[list[str]]:
    rows = []
    for t in published():
        for c in t.columns:
            rows.append([f"{t.name}.parquet", c.name, str(c.type), c.unit, c.zh, c.en,
                         "yes" if c.name in t.sort_keys else ""])
    return rows

