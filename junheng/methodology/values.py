"""Completing a year's indicator values (methodology.md sections 1 and 7): the special
series that read other years (L2 cumulative, I1/I2 reduction since 2020) and the reason
every null value carries, from the state of its source deliveries."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from junheng import PLAN_YEARS
from junheng.ingest.submissions import IN_USE, NOT_DELIVERED, submission_status
from junheng.methodology.formulas import Declaration, Formula, declaration
from junheng.reference import BASELINE_YEAR, CITY_CODE
from junheng.sql import relation_exists

# --------------------------------------------------------------------------- series

SERIES_FIGURES = ["year", "district_code", "indicator_id", "numerator", "denominator",
                  "null_reason"]


def own_figures(values: pd.DataFrame, decl: Declaration | None = None) -> pd.DataFrame:
    """The series indicators' own figures of the years in `values` (values_sql's output
    with a year column): what marts.series_figures keeps, so that a series is completed
    from the stored years in any order the years were computed."""
    decl = decl or declaration()
    ids = {f.indicator_id for f in decl.formulas if f.series}
    return values.loc[values["indicator_id"].isin(ids), SERIES_FIGURES].reset_index(drop=True)


def stored_figures(con: duckdb.DuckDBPyConnection, exclude: int | None = None) -> pd.DataFrame:
    """marts.series_figures of the plan's years (but `exclude`)."""
    if not relation_exists(con, "marts", "series_figures"):
        return pd.DataFrame(columns=SERIES_FIGURES)
    return con.execute(f"select {', '.join(SERIES_FIGURES)} from marts.series_figures "
                       "where year between ? and ? and year is distinct from ? order by all",
                       [PLAN_YEARS[0], PLAN_YEARS[-1], exclude]).df()


def by_year(figures: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {int(y): g.drop(columns="year") for y, g in figures.groupby("year")}


def _figures_of(figures: dict[int, pd.DataFrame], year: int, ind: str) -> pd.Series:
    """A year's own numerators of one series indicator by district (empty when that year
    has not been computed: its districts then lack the year)."""
    frame = figures.get(year)
    if frame is None:
        return pd.Series(dtype=float)
    return frame[frame["indicator_id"] == ind].set_index("district_code")["numerator"]


def _cumulative(f: Formula, year: int, figures: dict[int, pd.DataFrame], now: pd.DataFrame
                ) -> pd.DataFrame:
    first = f.first_year or BASELINE_YEAR
    rows = now.set_index("district_code")
    out = rows.copy()
    if year < first:
        out[["numerator", "value"]] = np.nan
        out["null_reason"] = f"cumulative from {first}"
        return out.reset_index()
    years = range(first, year + 1)
    per_year = {y: _figures_of(figures, y, f.indicator_id) for y in years}
    districts = [c for c in rows.index if c != CITY_CODE]
    for code in districts:
        nums = [per_year[y].get(code) for y in years]
        if pd.isna(nums[-1]):
            out.loc[code, ["numerator", "value"]] = np.nan    # this year's own reason
            continue
        if any(pd.isna(n) for n in nums[:-1]):
            out.loc[code, ["numerator", "value"]] = np.nan
            out.loc[code, "null_reason"] = "incomplete series"
            continue
        total = float(sum(nums))
        out.loc[code, "numerator"] = total
        out.loc[code, "value"] = f.factor * total / out.loc[code, "denominator"]
        out.loc[code, "null_reason"] = None
    # The city sums every district's series: a district without a complete one leaves the
    # city's total null (never an undercount of a city-only target).
    have = out.loc[districts, "numerator"].dropna()
    lacking = sorted(set(districts) - set(have.index))
    if lacking:
        out.loc[CITY_CODE, ["numerator", "value"]] = np.nan
        out.loc[CITY_CODE, "null_reason"] = f"incomplete series: {', '.join(lacking)}"
    elif len(have):
        total = float(have.sort_index().sum())
        # The series' denominator is the formula's constant (10 000 for L2), the same on
        # every district row; the city's pooled one would be ten of them.
        den = float(out.loc[have.index[0], "denominator"])
        out.loc[CITY_CODE, ["numerator", "denominator", "value", "null_reason"]] = [
            total, den, f.factor * total / den, None]
    else:
        out.loc[CITY_CODE, ["numerator", "value"]] = np.nan
        out.loc[CITY_CODE, "null_reason"] = "no district rows"
    return out.reset_index()


def _reduction(f: Formula, year: int, figures: dict[int, pd.DataFrame], now: pd.DataFrame
               ) -> pd.DataFrame:
    out = now.set_index("district_code").copy()
    n0 = _figures_of(figures, BASELINE_YEAR, f.indicator_id)
    own = _figures_of(figures, year, f.indicator_id)
    districts = [c for c in out.index if c != CITY_CODE]
    nums, dens = {}, {}
    for code in districts:
        nt, b = own.get(code), n0.get(code)
        if pd.isna(nt):
            out.loc[code, ["denominator", "value"]] = np.nan  # this year's own reason
            continue
        if b is None or pd.isna(b) or b == 0:
            out.loc[code, ["numerator", "denominator", "value"]] = np.nan
            out.loc[code, "null_reason"] = ("no 2020 count" if b is None or pd.isna(b)
                                            else "2020 count is zero")
            continue
        nums[code], dens[code] = float(b) - float(nt), float(b)
        out.loc[code, ["numerator", "denominator", "value", "null_reason"]] = [
            nums[code], dens[code], f.factor * nums[code] / dens[code], None]
    if dens:
        num = float(sum(nums[c] for c in sorted(nums)))
        den = float(sum(dens[c] for c in sorted(dens)))
        out.loc[CITY_CODE, ["numerator", "denominator", "value", "null_reason"]] = [
            num, den, f.factor * num / den, None]
    else:
        out.loc[CITY_CODE, ["numerator", "denominator", "value"]] = np.nan
        out.loc[CITY_CODE, "null_reason"] = "no district with both counts"
    return out.reset_index()


def apply_series(values: pd.DataFrame, year: int, figures: dict[int, pd.DataFrame],
                 decl: Declaration | None = None) -> pd.DataFrame:
    """values (one year, from values_sql) with the series indicators completed."""
    decl = decl or declaration()
    done = []
    for f in decl.formulas:
        if not f.series:
            continue
        now = values[values["indicator_id"] == f.indicator_id]
        if now.empty:
            continue
        fn = _cumulative if f.series == "cumulative" else _reduction
        done.append(fn(f, year, figures, now)[now.columns])
    if not done:
        return values
    rest = values[~values["indicator_id"].isin({f.indicator_id for f in decl.formulas
                                                if f.series})]
    return (pd.concat([rest, *done], ignore_index=True)
            .sort_values(["indicator_id", "district_code"]).reset_index(drop=True))


def finalize_series(values: pd.DataFrame, figures: pd.DataFrame,
                    decl: Declaration | None = None) -> pd.DataFrame:
    """values of several years with every series completed from the stored yearly figures
    (marts.series_figures) of every year: what the cross-year step and the release
    publish, whatever order the years were computed in."""
    split = by_year(figures)
    return pd.concat([apply_series(g, int(y), split, decl) for y, g in values.groupby("year")],
                     ignore_index=True) if len(values) else values


# --------------------------------------------------------------------------- reasons

def source_units(source: str) -> list[str]:
    """The catalogue's `source` as units of delivery: 'schools|population' -> the two
    feeds; 'submissions:health' -> that department's submissions."""
    return [s for s in source.split("|") if s]


def delivery_reasons(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, str | None]:
    """Per unit of delivery of the year: None when good data are in use, else why not
    ('not delivered' is the default for a unit absent here). The departments' submissions
    are units of their own ('submissions:<department>')."""
    state: dict[str, str | None] = {}
    for feed, status, message in con.execute(
            "select feed, status, message from quality.deliveries where year = ? and feed <> "
            "'submissions' and status in ('loaded', 'rejected', 'failed') "
            "order by recorded_at, file_name", [year]).fetchall():
        if status == "loaded":
            state[feed] = None
        elif state.get(feed, "") is not None:
            state[feed] = f"delivery {status}: {message}" if message else f"delivery {status}"
    for department, (status, message) in submission_status(con, year).items():
        state[f"submissions:{department}"] = (
            None if status == IN_USE else "not delivered" if status == NOT_DELIVERED
            else f"delivery {status}: {message}")
    return state


def explain_nulls(values: pd.DataFrame, catalogue: pd.DataFrame,
                  reasons: dict[str, str | None], submitted: set[tuple[str, str]],
                  rejected: set[tuple[str, str]]) -> pd.DataFrame:
    """Every null value's reason: a source delivery not in use for the year comes first,
    then, for submissions, the district's row (rejected or never submitted), then what the
    formula found (no source rows, a zero denominator, an incomplete series)."""
    source = catalogue.set_index("indicator_id")["source"]
    own_city = {f.indicator_id for f in declaration().formulas if f.city == "own"}
    out, value = [], values["value"].copy()
    for k, r in enumerate(values.itertuples(index=False)):
        units = source_units(source[r.indicator_id])
        missing = [f"{u}: {reasons.get(u, 'not delivered')}" if len(units) > 1
                   else reasons.get(u, "not delivered")
                   for u in units if reasons.get(u, "not delivered") is not None]
        if missing:
            # Not computed from fit deliveries: null whatever the formula made of no rows
            # (a count that defaults to 0 where a feed has no rows, O3).
            value.iloc[k] = np.nan
            out.append("; ".join(missing))
            continue
        if pd.notna(r.value):
            out.append(None)
            continue
        reason = r.null_reason
        row_level = r.district_code != CITY_CODE or r.indicator_id in own_city
        if (units[0].startswith("submissions:") and row_level
              and (r.indicator_id, r.district_code) not in submitted
              and reason in (None, "no source rows")):
            reason = ("submitted row rejected"
                      if (r.indicator_id, r.district_code) in rejected else "not submitted")
        out.append(reason or "no value")
    return values.assign(value=value,
                         null_reason=pd.Series(out, index=values.index, dtype=object))
