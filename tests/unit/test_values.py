"""The special series and the null reasons of the indicator values (methodology.md
sections 1 and 7), on hand-made frames with hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from junheng.methodology.formulas import declaration
from junheng.methodology.values import apply_series, explain_nulls

CITY, A, B = "320500", "320505", "320506"


def _year(ind: str, nums: dict[str, float | None], den: float = 1.0) -> pd.DataFrame:
    """What values_sql gives for one series indicator: the year's own figures (city
    pooled over the districts where both parts are present)."""
    rows = [(c, ind, n, den if n is not None else den, np.nan, np.nan,
             None if n is not None else "no source rows") for c, n in nums.items()]
    have = [n for n in nums.values() if n is not None]
    rows.append((CITY, ind, float(sum(have)) if have else np.nan, den * len(have),
                 np.nan, np.nan, None))
    return pd.DataFrame(rows, columns=["district_code", "indicator_id", "numerator",
                                       "denominator", "value", "standard_error",
                                       "null_reason"])


def _by_code(frame: pd.DataFrame, ind: str) -> pd.DataFrame:
    return frame[frame["indicator_id"] == ind].set_index("district_code")


def test_l2_sums_the_person_times_from_2021_in_ten_thousands():
    figures = {2020: _year("L2", {A: 500.0, B: 700.0}, 10000),
               2021: _year("L2", {A: 10000.0, B: 20000.0}, 10000),
               2022: _year("L2", {A: 5000.0, B: 15000.0}, 10000)}
    out = _by_code(apply_series(figures[2022], 2022, figures), "L2")
    assert out.loc[A, "value"] == pytest.approx(1.5)          # (10000 + 5000) / 10000
    assert out.loc[B, "value"] == pytest.approx(3.5)
    assert out.loc[CITY, "value"] == pytest.approx(5.0)       # 50000 / 10000, 2020 left out
    assert out.loc[CITY, "denominator"] == 10000


def test_l2_is_null_in_2020_and_when_a_year_is_missing():
    figures = {2020: _year("L2", {A: 500.0, B: 700.0}, 10000),
               2021: _year("L2", {A: None, B: 20000.0}, 10000),
               2022: _year("L2", {A: 5000.0, B: None}, 10000)}
    base = _by_code(apply_series(figures[2020], 2020, figures), "L2")
    assert base["value"].isna().all()
    assert set(base["null_reason"]) == {"cumulative from 2021"}
    out = _by_code(apply_series(figures[2022], 2022, figures), "L2")
    assert out.loc[A, "null_reason"] == "incomplete series"    # 2021 missing
    assert out.loc[B, "null_reason"] == "no source rows"        # this year's own reason
    assert out.loc[CITY, "null_reason"] == "incomplete series: 320505, 320506"


def test_i1_is_the_decline_since_2020_in_percent():
    figures = {2020: _year("I1", {A: 40.0, B: 0.0}),
               2021: _year("I1", {A: 30.0, B: 5.0})}
    out = _by_code(apply_series(figures[2021], 2021, figures), "I1")
    assert out.loc[A, "value"] == pytest.approx(25.0)           # 100 x (40 - 30) / 40
    assert (out.loc[A, "numerator"], out.loc[A, "denominator"]) == (10.0, 40.0)
    assert pd.isna(out.loc[B, "value"]) and out.loc[B, "null_reason"] == "2020 count is zero"
    assert out.loc[CITY, "value"] == pytest.approx(25.0)        # pooled over A only
    same = _by_code(apply_series(figures[2020], 2020, figures), "I1")
    assert same.loc[A, "value"] == 0 and same.loc[CITY, "value"] == 0


def test_a_rise_is_a_negative_reduction():
    figures = {2020: _year("I2", {A: 10.0}), 2023: _year("I2", {A: 12.0})}
    out = _by_code(apply_series(figures[2023], 2023, figures), "I2")
    assert out.loc[A, "value"] == pytest.approx(-20.0)


def _catalogue() -> pd.DataFrame:
    return pd.DataFrame({"indicator_id": ["C1", "H1", "I3"],
                         "source": ["submissions:health", "health|population",
                                    "submissions:public_security"]})


def _values(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["district_code", "indicator_id", "value",
                                       "null_reason"])


def test_a_null_carries_the_state_of_its_deliveries_first():
    values = _values([(A, "C1", np.nan, "no source rows"), (A, "H1", np.nan, "no source rows"),
                      (B, "H1", 2.5, None)])
    reasons = {"health": None, "population": "delivery rejected: critical expectations failed",
               "submissions:health": "delivery failed: not UTF-8"}
    out = explain_nulls(values, _catalogue(), reasons, set(), set())
    assert list(out["null_reason"]) == [
        "delivery failed: not UTF-8",
        "population: delivery rejected: critical expectations failed",
        "population: delivery rejected: critical expectations failed"]
    assert out["value"].isna().all()    # B's 2.5 rested on a population not in use
    fit = explain_nulls(values, _catalogue(), {**reasons, "population": None}, set(), set())
    assert fit["value"].iloc[2] == 2.5 and fit["null_reason"].iloc[2] is None


def test_a_value_from_a_delivery_not_in_use_is_null_whatever_the_formula_made():
    """O3 counts covered townships with 0 where eldercare has no rows: without a fit
    eldercare delivery that 0 is no value."""
    cat = pd.DataFrame({"indicator_id": ["O3"], "source": ["eldercare|population"]})
    out = explain_nulls(_values([(A, "O3", 0.0, None)]), cat,
                        {"population": None}, set(), set())
    assert pd.isna(out["value"].iloc[0])
    assert out["null_reason"].iloc[0] == "eldercare: not delivered"


def test_a_submitted_indicator_without_a_row_is_not_submitted_or_rejected():
    values = _values([(A, "C1", np.nan, "no source rows"), (B, "C1", np.nan, "no source rows"),
                      (CITY, "C1", np.nan, "no source rows"),
                      (CITY, "I3", np.nan, "no source rows")])
    reasons = {"submissions:health": None, "submissions:public_security": None}
    out = explain_nulls(values, _catalogue(), reasons, submitted=set(),
                        rejected={("C1", B)})
    assert list(out["null_reason"]) == ["not submitted", "submitted row rejected",
                                        "no source rows",   # a pooled city: its own reason
                                        "not submitted"]    # I3's city row is submitted
    assert explain_nulls(_values([(A, "C1", np.nan, None)]), _catalogue(), {}, set(),
                         set())["null_reason"].iloc[0] == "not delivered"


def test_every_series_is_declared_with_a_known_kind():
    kinds = {f.indicator_id: f.series for f in declaration().formulas if f.series}
    assert kinds == {"L2": "cumulative", "I1": "reduction", "I2": "reduction"}
