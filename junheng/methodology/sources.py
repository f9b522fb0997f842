"""How many rows of its source tables each indicator value was computed from, and how many
were rejected (every published value carries both, methodology.md section 7)."""

from __future__ import annotations

import duckdb
import pandas as pd

from junheng.ingest.feeds import FEEDS
from junheng.methodology.formulas import declaration
from junheng.reference import CITY_CODE, alias_map, indicators, normalise_name
from junheng.sql import ident

_PARTS = {p.staging: (f.id, p) for f in FEEDS.values() for p in f.parts}
ANY = ""   # indicator_id of a table whose rows serve every indicator computed from it


def _district(text) -> str:
    """The district a delivered name or code names, after NFKC and trimming ('?' if
    none): a rejected row is counted for that district, or for the city only."""
    if text is None or pd.isna(text):
        return "?"
    name = normalise_name(str(text))
    return CITY_CODE if name == CITY_CODE else alias_map().get(name, "?")


def rejected_rows(con: duckdb.DuckDBPyConnection, year: int, staging: str) -> pd.DataFrame:
    """district_code, indicator_id (ANY unless the table is per indicator), line: one row
    per quarantined line of the staging table's raw table."""
    _feed, part = _PARTS[staging]
    per_indicator = staging in declaration().per_indicator_sources()
    col = part.district_column or "district_code"
    # Several files of a year share one raw table (the departments' submissions): a line
    # is a line of its own delivery.
    ind = ("trim(r.indicator_id) as indicator_id, r.department" if per_indicator
           else "'' as indicator_id, '' as department")
    rows = con.execute(
        f"select distinct q.delivery_sha256, q.line, r.{ident(col)} as delivered, {ind} "
        f"from quality.quarantine q join raw.{ident(part.raw_table)} r "
        "on r._year = q.year and r._line = q.line and r._delivery_sha256 = q.delivery_sha256 "
        "where q.year = ? and q.table_name = ?", [year, part.raw_table]).df()
    rows["district_code"] = rows.pop("delivered").map(_district)
    if per_indicator:
        # A row naming another department's indicator counts against its own file only
        # (feeds.md section 7), never against the indicator it names.
        source = {r["indicator_id"]: r["source"] for r in indicators()}
        own = [source.get(i) == f"submissions:{d}"
               for i, d in zip(rows["indicator_id"], rows["department"], strict=True)]
        rows = rows[own]
    rows["line"] = rows.pop("delivery_sha256") + ":" + rows["line"].astype(str)
    return rows.drop(columns=["department"])


def source_rows(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """table_name, indicator_id, district_code ('?' if unresolvable), used, rejected."""
    frames = []
    per_indicator = declaration().per_indicator_sources()
    for table in _PARTS:
        ind = "indicator_id" if table in per_indicator else f"'{ANY}' as indicator_id"
        used = con.execute(f"select district_code, {ind}, count(*) as used "
                           f"from staging.{ident(table)} where year = ? group by all",
                           [year]).df()
        rejected = (rejected_rows(con, year, table)
                    .groupby(["district_code", "indicator_id"], as_index=False)["line"]
                    .nunique().rename(columns={"line": "rejected"}))
        both = used.merge(rejected, on=["district_code", "indicator_id"], how="outer")
        both[["used", "rejected"]] = both[["used", "rejected"]].fillna(0)
        both["table_name"] = table
        frames.append(both)
    return pd.concat(frames, ignore_index=True)


def attach_source_rows(values: pd.DataFrame, rows: pd.DataFrame, city: str) -> pd.DataFrame:
    per = {(r.table_name, r.indicator_id, r.district_code): (int(r.used), int(r.rejected))
           for r in rows.itertuples(index=False)}
    totals = rows.groupby(["table_name", "indicator_id"])[["used", "rejected"]].sum()
    decl = declaration()
    sources, per_indicator = decl.sources(), decl.per_indicator_sources()
    used, rejected = [], []
    for r in values.itertuples(index=False):
        u = x = 0
        for t in sources[r.indicator_id]:
            key = r.indicator_id if t in per_indicator else ANY
            if r.district_code == city:
                if (t, key) in totals.index:
                    u += int(totals.loc[(t, key), "used"])
                    x += int(totals.loc[(t, key), "rejected"])
            else:
                a, b = per.get((t, key, r.district_code), (0, 0))
                u, x = u + a, x + b
        used.append(u)
        rejected.append(x)
    return values.assign(source_rows_used=used, source_rows_rejected=rejected)
