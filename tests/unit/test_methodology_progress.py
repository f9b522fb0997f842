"""Progress towards the 2025 targets (methodology.md 2.0 section 5): every target type and
status class, the t = t0 rules, level-only rows, type per unit, the base-year fallback,
cumulative and reduction series, flags, estimates and their significance, with numbers
worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from junheng.methodology.index import (
    CITY,
    PROGRESS_COLUMNS,
    assess,
    meets,
    read_catalogue,
    resolve_type,
    target_progress,
)

A, B, C, D = "320505", "320506", "320507", "320508"


@pytest.mark.parametrize("year, x, t0, x0, target, rule, kind, precision, flag, status, p, r", [
    # threshold >= 90 from 80 in 2020; in 2025 the time share is 1, so R = P
    (2025, 89.5, 2020, 80, 90, ">=", "threshold", 0.1, False, "substantial_progress", .95, .95),
    (2025, 86.0, 2020, 80, 90, ">=", "threshold", 0.1, False, "moderate_progress", .6, .6),
    (2025, 85.9, 2020, 80, 90, ">=", "threshold", 0.1, False, "limited_progress", .59, .59),
    (2025, 80.0, 2020, 80, 90, ">=", "threshold", 0.1, False, "limited_progress", 0, 0),
    (2025, 79.0, 2020, 80, 90, ">=", "threshold", 0.1, False, "deterioration", -.1, -.1),
    (2023, 90.0, 2020, 80, 90, ">=", "threshold", 0.1, False, "achieved", 1, 1 / .6),
    (2021, 82.0, 2020, 80, 90, ">=", "threshold", 0.1, False, "substantial_progress", .2, 1),
    # lower is better: <= 35 from 55; 2023: time share 0.6
    (2023, 43.0, 2020, 55, 35, "<=", "threshold", 0.1, False, "substantial_progress", .6, 1),
    (2023, 58.0, 2020, 55, 35, "<=", "threshold", 0.1, False, "deterioration", -.15, -.25),
    # maintain: no P, no R
    (2023, 96.0, 2020, 97, 95, ">", "maintain", 0.1, False, "achieved", None, None),
    (2023, 95.0, 2020, 97, 95, ">", "maintain", 0.1, False, "deterioration", None, None),
    # about: x >= 0.95 x 4.5 = 4.275
    (2023, 4.3, 2020, 2.1, 4.5, "~", "about", 0.1, False, "achieved", 2.2 / 2.4, 2.2 / 2.4 / .6),
    (2025, 3.9, 2020, 2.1, 4.5, "~", "about", 0.1, False, "moderate_progress", .75, .75),
    (2023, 2.0, 2020, 2.1, 4.5, "~", "about", 0.1, False, "deterioration", -.1 / 2.4,
     -.1 / 2.4 / .6),
    # level only: |100 - 99.97| < 0.1 / 2
    (2023, 99.98, 2020, 99.97, 100, ">=", "threshold", 0.1, False, "not_met", None, None),
    (2023, 100.0, 2020, 99.97, 100, ">=", "threshold", 0.1, False, "achieved", None, None),
    # cumulative: R = value / (T x time share)
    (2023, 60.0, 2020, 0, 100, ">=", "cumulative", 0.1, False, "substantial_progress", .6, 1),
    (2023, 30.0, 2020, 0, 100, ">=", "cumulative", 0.1, False, "limited_progress", .3, .5),
    (2024, 100.0, 2020, 0, 100, ">=", "cumulative", 0.1, False, "achieved", 1, 1.25),
    # reduction: R = x / (T x time share); below 0: more than in 2020
    (2023, 9.0, 2020, 0, 15, ">", "reduction", 0.1, False, "substantial_progress", .6, 1),
    (2023, 4.5, 2020, 0, 15, ">", "reduction", 0.1, False, "limited_progress", .3, .5),
    (2023, -5.0, 2020, 0, 15, ">", "reduction", 0.1, False, "deterioration", -1 / 3, -5 / 9),
    (2023, 16.0, 2020, 0, 15, ">", "reduction", 0.1, False, "achieved", 16 / 15, 16 / 9),
    (2023, 15.0, 2020, 0, 15, ">", "reduction", 0.1, False, "substantial_progress", 1, 1 / .6),
    # a flag district: achieved or not_met
    (2023, 0.0, 2020, 0, 100, ">=", "threshold", 0.1, True, "not_met", None, None),
    (2023, 100.0, 2020, 0, 100, ">=", "threshold", 0.1, True, "achieved", None, None),
    (2023, 0.0, 2020, 100, 100, ">=", "maintain", 0.1, True, "not_met", None, None),
    # t = t0
    (2020, 85.0, 2020, 85, 90, ">=", "threshold", 0.1, False, "insufficient_data", 0, None),
    (2021, 99.97, 2021, 99.97, 100, ">=", "threshold", 0.1, False, "not_met", None, None),
    (2020, 0.0, 2020, 0, 100, ">=", "threshold", 0.1, True, "not_met", None, None),
    (2022, 95.0, 2022, 95, 90, ">=", "maintain", 0.1, False, "achieved", None, None),
    (2020, 0.0, 2020, 0, 15, ">", "reduction", 0.1, False, "insufficient_data", 0, None),
])
def test_statuses(year, x, t0, x0, target, rule, kind, precision, flag, status, p, r):
    out = assess(year, x, t0, x0, target, rule, kind, precision, flag)
    assert out["status"] == status
    assert (math.isnan(out["progress_share"]) if p is None
            else out["progress_share"] == pytest.approx(p))
    assert math.isnan(out["ratio"]) if r is None else out["ratio"] == pytest.approx(r)
    assert out["time_share"] == pytest.approx((year - t0) / (2025 - t0))


def test_null_reasons_of_assess():
    assert assess(2023, 96.0, 2020, 97, 95, ">", "maintain")["null_reason"] == \
        "maintain target"
    assert "level only" in assess(2023, 99.98, 2020, 99.97, 100, ">=", "threshold",
                                  0.1)["null_reason"]
    assert assess(2020, 85.0, 2020, 85, 90, ">=", "threshold", 0.1)["null_reason"] == \
        "base year"
    assert assess(2023, 9.0, 2020, 0, 15, ">", "reduction")["null_reason"] == "baseline <= 0"


def test_growth_rates():
    out = assess(2022, 88.2, 2020, 80, 90, ">=", "threshold", 0.1)
    assert out["actual_growth"] == pytest.approx(0.05)          # sqrt(88.2 / 80) = 1.05
    assert out["required_growth"] == pytest.approx(1.125 ** 0.2 - 1)
    out = assess(2023, 9.0, 2020, 0, 15, ">", "reduction")
    assert math.isnan(out["actual_growth"]) and math.isnan(out["required_growth"])


def test_rules_and_type_per_unit():
    assert meets(4.275, "~", 4.5) and not meets(4.27, "~", 4.5)
    assert meets(90, ">=", 90) and not meets(90, ">", 90) and meets(35, "<=", 35)
    assert not meets(35, "<", 35)
    assert resolve_type("threshold", 92, ">=", 90) == "maintain"
    assert resolve_type("maintain", 93, ">", 95) == "threshold"
    assert resolve_type("about", 4.4, "~", 4.5) == "maintain"
    assert resolve_type("about", 2.1, "~", 4.5) == "about"
    assert resolve_type("reduction", 0, ">", 15) == "reduction"
    assert resolve_type("threshold", np.nan, ">=", 90) == "threshold"


# --------------------------------------------------------------------------- on frames

def _catalogue():
    base = {"table1_no": "", "area": "health", "direction": "+", "form": "computed",
            "weight_population": "residents", "in_index": "yes", "weight": "1",
            "baseline_2020": "", "score_zero": "0", "score_full": "100", "precision": "0.1",
            "equalise": "yes"}
    rows = [
        {"indicator_id": "TH", "target_type": "threshold", "target_rule": ">=",
         "target_2025": "90", "baseline_2020": "80"},
        {"indicator_id": "MA", "target_type": "maintain", "target_rule": ">",
         "target_2025": "95"},
        {"indicator_id": "CU", "target_type": "cumulative", "target_rule": ">=",
         "target_2025": "100", "in_index": "no"},
        {"indicator_id": "RE", "target_type": "reduction", "target_rule": ">",
         "target_2025": "15", "in_index": "no", "baseline_2020": "0"},
        {"indicator_id": "FL", "target_type": "threshold", "target_rule": ">=",
         "target_2025": "100", "form": "flag"},
        {"indicator_id": "ES", "target_type": "maintain", "target_rule": ">=",
         "target_2025": "98", "form": "estimate", "precision": "0.01"},
        {"indicator_id": "NT", "target_type": "", "target_rule": "", "target_2025": ""},
    ]
    return read_catalogue(pd.DataFrame([base | r for r in rows]))


def _progress(rows) -> pd.DataFrame:
    """rows: (year, unit, indicator, value[, standard_error[, null_reason]])."""
    full = [(*r, *(np.nan, None)[len(r) - 4:]) for r in rows]
    values = pd.DataFrame(full, columns=["year", "district_code", "indicator_id", "value",
                                         "standard_error", "null_reason"])
    return target_progress(values, _catalogue()).set_index(
        ["indicator_id", "district_code", "year"]).sort_index()


def test_columns_and_untargeted_indicators():
    out = target_progress(pd.DataFrame({"year": [2020, 2020], "district_code": [A, A],
                                        "indicator_id": ["TH", "NT"], "value": [80.0, 1.0]}),
                          _catalogue())
    assert list(out.columns) == PROGRESS_COLUMNS
    # a targeted indicator without a row counts as a null value; NT has no target
    assert sorted(out["indicator_id"]) == ["CU", "ES", "FL", "MA", "RE", "TH"]
    assert (out.loc[out["indicator_id"] == "MA", "null_reason"] == "no value").all()


def test_type_resolved_per_unit_and_the_published_baseline():
    p = _progress([(2020, CITY, "TH", 80.0), (2020, A, "TH", 92.0), (2023, A, "TH", 89.0),
                   (2020, B, "MA", 93.0), (2023, B, "MA", 94.2), (2023, CITY, "TH", 86.0)])
    assert p.loc[("TH", CITY, 2023), "target_type"] == "threshold"
    assert p.loc[("TH", CITY, 2023), "status"] == "substantial_progress"   # P .6 / ts .6
    assert p.loc[("TH", CITY, 2023), "baseline_published"] == 80
    assert np.isnan(p.loc[("TH", A, 2023), "baseline_published"])
    # A met the threshold target in 2020: maintain, and falling below is deterioration
    assert p.loc[("TH", A, 2023), "target_type"] == "maintain"
    assert p.loc[("TH", A, 2023), "status"] == "deterioration"
    assert np.isnan(p.loc[("TH", A, 2023), "ratio"])
    assert p.loc[("TH", A, 2023), "null_reason"] == "maintain target"
    assert p.loc[("TH", A, 2020), "status"] == "achieved"
    # B had not met the maintain target: threshold, P = 1.2 / 2, R = 0.6 / 0.6
    assert p.loc[("MA", B, 2023), "target_type"] == "threshold"
    assert p.loc[("MA", B, 2023), "progress_share"] == pytest.approx(0.6)
    assert p.loc[("MA", B, 2023), "ratio"] == pytest.approx(1.0)
    assert p.loc[("MA", B, 2023), "status"] == "substantial_progress"
    assert p.loc[("MA", B, 2023), "target_rule"] == ">"


def test_base_falls_to_the_first_later_year_and_a_met_target_without_2020_is_achieved():
    p = _progress([(2020, C, "TH", np.nan, np.nan, "not submitted"), (2021, C, "TH", 85.0),
                   (2023, C, "TH", 88.0), (2020, D, "TH", np.nan, np.nan, "not submitted"),
                   (2021, D, "TH", np.nan, np.nan, "not submitted"), (2022, D, "TH", 95.0),
                   (2023, D, "TH", np.nan, np.nan, "delivery failed: schema")])
    assert (p.loc[("TH", C), "base_year"] == 2021).all()
    assert (p.loc[("TH", C), "baseline"] == 85).all()
    assert pd.isna(p.loc[("TH", C, 2020), "status"])
    assert p.loc[("TH", C, 2020), "null_reason"] == "not submitted"
    assert p.loc[("TH", C, 2021), "status"] == "insufficient_data"     # t = t0, not met
    r = p.loc[("TH", C, 2023)]                                        # ts 2/4, P 3/5
    assert r["time_share"] == pytest.approx(0.5) and r["progress_share"] == pytest.approx(0.6)
    assert r["ratio"] == pytest.approx(1.2) and r["status"] == "substantial_progress"
    assert r["actual_growth"] == pytest.approx((88 / 85) ** 0.5 - 1)
    assert r["required_growth"] == pytest.approx((90 / 85) ** 0.25 - 1)
    d = p.loc[("TH", D, 2022)]
    assert d["status"] == "achieved" and d["base_year"] == 2022
    assert d["target_type"] == "maintain"
    assert pd.isna(p.loc[("TH", D, 2023), "status"])
    assert p.loc[("TH", D, 2023), "null_reason"] == "delivery failed: schema"


def test_cumulative_is_assessed_for_the_city_only():
    p = _progress([(2020, CITY, "CU", np.nan, np.nan, "cumulative from 2021"),
                   (2021, CITY, "CU", 20.0), (2023, CITY, "CU", 30.0), (2025, CITY, "CU", 100.0),
                   (2021, A, "CU", 2.0)])
    assert pd.isna(p.loc[("CU", CITY, 2020), "status"])
    assert p.loc[("CU", CITY, 2020), "null_reason"] == "cumulative from 2021"
    assert p.loc[("CU", CITY, 2021), "ratio"] == pytest.approx(1.0)      # 20 / (100 x .2)
    assert p.loc[("CU", CITY, 2021), "status"] == "substantial_progress"
    assert p.loc[("CU", CITY, 2023), "ratio"] == pytest.approx(0.5)      # 30 / (100 x .6)
    assert p.loc[("CU", CITY, 2023), "status"] == "limited_progress"
    assert p.loc[("CU", CITY, 2025), "status"] == "achieved"
    assert (p.loc[("CU", CITY), "baseline"] == 0).all()
    assert (p.loc[("CU", CITY), "base_year"] == 2020).all()
    assert pd.isna(p.loc[("CU", A, 2021), "status"])
    assert p.loc[("CU", A, 2021), "null_reason"] == "city target only"


def test_reduction_starts_at_zero_in_2020():
    p = _progress([(2020, A, "RE", 0.0), (2023, A, "RE", -5.0), (2024, A, "RE", 12.0),
                   (2020, CITY, "RE", 0.0)])
    assert p.loc[("RE", A, 2020), "status"] == "insufficient_data"
    assert p.loc[("RE", A, 2023), "status"] == "deterioration"
    assert p.loc[("RE", A, 2024), "ratio"] == pytest.approx(1.0)         # 12 / (15 x .8)
    assert p.loc[("RE", A, 2024), "status"] == "substantial_progress"
    assert p.loc[("RE", CITY, 2020), "baseline_published"] == 0
    assert "baseline <= 0" in p.loc[("RE", A, 2024), "null_reason"]


def test_flag_districts_are_level_only_the_city_share_follows_its_type():
    p = _progress([(2020, A, "FL", 0.0), (2023, A, "FL", 100.0), (2024, A, "FL", 0.0),
                   (2020, B, "FL", 100.0), (2023, B, "FL", 0.0),
                   (2020, CITY, "FL", 80.0), (2023, CITY, "FL", 90.0)])
    assert p.loc[("FL", A, 2020), "status"] == "not_met"                 # t = t0, level only
    assert p.loc[("FL", A, 2023), "status"] == "achieved"
    assert p.loc[("FL", A, 2024), "status"] == "not_met"
    assert np.isnan(p.loc[("FL", A, 2024), "ratio"])
    assert p.loc[("FL", A, 2024), "null_reason"].startswith("level only")
    # B had the flag in 2020 (type maintain) and lost it: not_met, not deterioration
    assert p.loc[("FL", B, 2023), "target_type"] == "maintain"
    assert p.loc[("FL", B, 2023), "status"] == "not_met"
    assert p.loc[("FL", CITY, 2020), "status"] == "insufficient_data"
    assert p.loc[("FL", CITY, 2023), "ratio"] == pytest.approx(0.5 / 0.6)
    assert p.loc[("FL", CITY, 2023), "status"] == "moderate_progress"


def test_estimates_and_their_significance():
    p = _progress([(2020, CITY, "ES", 98.84, 0.3), (2022, CITY, "ES", 98.9, np.nan),
                   (2023, CITY, "ES", 98.5, 0.2), (2024, CITY, "ES", 97.0, 0.2),
                   (2025, CITY, "ES", 97.9, 0.3), (2023, A, "TH", 85.0)])
    r = p.loc[("ES", CITY)]
    assert (r["target_type"] == "maintain").all()
    # 2023: 98.5 - 0.392 > 98; |98.5 - 98.84| = 0.34 < 1.96 sqrt(0.04 + 0.09) = 0.707
    assert r.loc[2023, "status"] == "achieved"
    assert r.loc[2023, "significant"] and not r.loc[2023, "significant_change"]
    # 2024: 97 + 0.392 < 98; 1.84 > 0.707
    assert r.loc[2024, "status"] == "deterioration"
    assert r.loc[2024, "significant"] and r.loc[2024, "significant_change"]
    # 2025: 97.9 + 0.588 straddles 98; 0.94 > 1.96 sqrt(0.09 + 0.09) = 0.832
    assert not r.loc[2025, "significant"] and r.loc[2025, "significant_change"]
    assert r.loc[2020, "significant"] and not r.loc[2020, "significant_change"]
    assert pd.isna(r.loc[2022, "significant"]) and pd.isna(r.loc[2022, "significant_change"])
    assert "no standard error" in r.loc[2022, "null_reason"]
    assert pd.isna(p.loc[("TH", A, 2023), "significant"])                # not an estimate
