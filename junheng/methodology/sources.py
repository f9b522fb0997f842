"""Which staging tables each indicator is computed from, and how many of their rows
were used and rejected (every published value carries both, methodology.md section 7)."""

from __future__ import annotations

import duckdb
import pandas as pd

from junheng.ingest.feeds import FEEDS
from junheng.methodology.formulas import declaration
from junheng.sql import ident

_PARTS = {p.staging: (f.id, p) for f in FEEDS.values() for p in f.parts}


def source_rows(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """table_name, district_code ('?' if unresolvable), used, rejected."""
    frames = []
    for table, (_feed, part) in _PARTS.items():
        used = con.execute(f"select district_code, count(*) as used from staging.{ident(table)} "
                           "where year = ? group by all", [year]).df()
        col = part.district_column or "district_code"
        # A rejected row is attributed to the district its delivered text names, when it
        # names one (trimmed alias match); otherwise to the city only ('?').
        rejected = con.execute(
            f"select coalesce(a.district_code, '?') as district_code, "
            f"count(distinct q.line) as rejected from quality.quarantine q "
            f"join raw.{ident(part.raw_table)} r on r._year = q.year and r._line = q.line "
            f"left join reference.district_aliases a on a.alias_normalised = trim(r.{ident(col)}) "
            "where q.year = ? and q.table_name = ? group by all",
            [year, part.raw_table]).df()
        both = used.merge(rejected, on="district_code", how="outer").fillna(0)
        both["table_name"] = table
        frames.append(both)
    return pd.concat(frames, ignore_index=True)


def attach_source_rows(values: pd.DataFrame, rows: pd.DataFrame, city: str) -> pd.DataFrame:
    per = {(r.table_name, r.district_code): (int(r.used), int(r.rejected))
           for r in rows.itertuples(index=False)}
    sources = declaration().sources()
    totals = rows.groupby("table_name")[["used", "rejected"]].sum()
    used, rejected = [], []
    for r in values.itertuples(index=False):
        u = x = 0
        for t in sources[r.indicator_id]:
            if r.district_code == city:
                u += int(totals.loc[t, "used"]) if t in totals.index else 0
                x += int(totals.loc[t, "rejected"]) if t in totals.index else 0
            else:
                a, b = per.get((t, r.district_code), (0, 0))
                u, x = u + a, x + b
        used.append(u)
        rejected.append(x)
    return values.assign(source_rows_used=used, source_rows_rejected=rejected)
