"""Equalisation measures (methodology.md 2.0 section 4): hand-worked cases, 0 · ln 0,
zero values, a missing district, the population each indicator serves; and PySAL's
inequality package as an independent check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from inequality.atkinson import atkinson as pysal_atkinson
from inequality.gini import Gini
from inequality.theil import Theil, TheilD

from junheng.methodology import measures as m
from junheng.methodology.index import equalisation_measures, read_catalogue

rng = np.random.default_rng(7)
CASES = [rng.uniform(40, 100, 10) for _ in range(5)] + [np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
GROUPS = np.array(["urban_district"] * 6 + ["county_city"] * 4)
CODES = ["320505", "320506", "320507", "320508", "320509", "320571", "320581", "320582",
         "320583", "320585"]


def test_two_districts_by_hand():
    y, p = np.array([2.0, 4.0]), np.array([0.5, 0.5])      # mu = 3
    values, reason = m.all_measures(y, p, np.array(["a", "b"]))
    assert reason is None
    assert values["mean_weighted"] == pytest.approx(3)
    assert values["max_min_ratio"] == pytest.approx(2)
    assert values["cv"] == pytest.approx(1 / 3)             # sd 1 / mean 3
    assert values["williamson"] == pytest.approx(1 / 3)     # sqrt(0.5 + 0.5) / 3
    theil_t = (1 / 3) * math.log(2 / 3) + (2 / 3) * math.log(4 / 3)
    assert values["theil_t"] == pytest.approx(theil_t)
    assert values["theil_t_between"] == pytest.approx(theil_t)   # one district per group
    assert values["theil_t_within"] == pytest.approx(0, abs=1e-15)
    assert values["theil_l"] == pytest.approx(0.5 * math.log(9 / 8))
    assert values["gini"] == pytest.approx(1 / 6)            # 2 x 1/4 x 2 / (2 x 3)
    assert values["atkinson_1"] == pytest.approx(1 - math.sqrt(8) / 3)
    same_group, _ = m.all_measures(y, p, np.array(["a", "a"]))
    assert same_group["theil_t_between"] == pytest.approx(0, abs=1e-15)
    assert same_group["theil_t_within"] == pytest.approx(theil_t)


def test_weighted_by_hand():
    y, p = np.array([1.0, 4.0]), np.array([8.0, 2.0])        # shares 0.8, 0.2; mu = 1.6
    assert m.mean_weighted(y, p) == pytest.approx(1.6)
    assert m.gini(y, p) == pytest.approx(2 * 0.16 * 3 / 3.2)  # 0.3
    assert m.theil_l(y, p) == pytest.approx(0.8 * math.log(1.6) + 0.2 * math.log(0.4))
    assert m.williamson(y, p) == pytest.approx(math.sqrt(0.8 * 0.36 + 0.2 * 5.76) / 1.6)
    assert m.cv(y) == pytest.approx(1.5 / 2.5)               # unweighted


def test_zero_contributes_nothing_to_theil_t_and_nulls_theil_l_and_atkinson():
    y, p = np.array([0.0, 4.0]), np.array([0.5, 0.5])        # mu = 2
    values, reason = m.all_measures(y, p, np.array(["a", "b"]))
    assert values["theil_t"] == pytest.approx(math.log(2))   # 0 + 0.5 x 2 ln 2
    assert values["theil_t_between"] == pytest.approx(math.log(2))
    assert values["gini"] == pytest.approx(0.5)
    assert values["williamson"] == pytest.approx(1)
    for k in ("theil_l", "atkinson_1", "max_min_ratio"):
        assert values[k] is None, k
    assert reason == "zero value"


def test_all_zero_is_a_zero_mean():
    values, reason = m.all_measures(np.zeros(3), np.ones(3), np.array(["a", "a", "b"]))
    assert values["cv"] is None and values["gini"] is None and values["theil_t"] is None
    assert "zero mean" in reason and "zero value" in reason


def test_zero_for_equal_values():
    values, reason = m.all_measures(np.full(10, 42.0), np.full(10, 0.1), GROUPS)
    assert reason is None
    for k in ("cv", "williamson", "theil_t", "theil_t_between", "theil_t_within", "theil_l",
              "gini", "atkinson_1"):
        assert values[k] == pytest.approx(0.0, abs=1e-15), k
    assert values["max_min_ratio"] == 1.0


def _expanded(y, counts):
    """Population weights by expansion: each district repeated once per resident."""
    return np.repeat(y, counts), np.repeat(np.arange(len(y)), counts)


@pytest.mark.parametrize("y", CASES)
def test_against_pysal_with_population_weights(y):
    counts = rng.integers(5, 40, len(y))
    p = counts / counts.sum()
    ey, idx = _expanded(y, counts)
    assert m.theil_t(y, p) == pytest.approx(Theil(ey).T, rel=1e-10)
    assert m.gini(y, p) == pytest.approx(Gini(ey).g, rel=1e-10)
    assert m.atkinson_1(y, p) == pytest.approx(pysal_atkinson(ey, 1), rel=1e-10)
    d = TheilD(ey, GROUPS[idx])
    assert m.theil_t_between(y, p, GROUPS) == pytest.approx(float(d.bg[0]), rel=1e-9)
    within = m.theil_t(y, p) - m.theil_t_between(y, p, GROUPS)
    assert within == pytest.approx(float(d.wg[0]), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("y", CASES)
def test_identities(y):
    p = rng.dirichlet(np.ones(len(y)))
    assert m.theil_l(y, p) == pytest.approx(-math.log(1 - m.atkinson_1(y, p)), rel=1e-12)
    for f in (m.williamson, m.theil_t, m.theil_l, m.gini, m.atkinson_1):
        assert f(y * 37.5, p) == pytest.approx(f(y, p), rel=1e-12)


def test_ols_slope_and_standard_error():
    x = np.array([2020, 2021, 2022, 2023, 2024, 2025.0])
    y = np.array([1.0, 1.9, 3.2, 3.9, 5.1, 6.0])
    slope, se, _, n = m.ols(x, y)
    coef, cov = np.polyfit(x - 2020, y, 1, cov="unscaled")
    resid = y - np.polyval(coef, x - 2020)
    assert slope == pytest.approx(coef[0])
    assert se == pytest.approx(math.sqrt(cov[0, 0] * np.sum(resid ** 2) / (n - 2)))
    assert m.ols([2020, 2020], [1, 2]) is None


# --------------------------------------------------------------------------- per subject

def _catalogue():
    base = {"table1_no": "", "direction": "+", "form": "computed", "in_index": "yes",
            "weight": "1", "baseline_2020": "", "target_2025": "", "target_type": "",
            "target_rule": "", "score_zero": "0", "score_full": "100", "precision": "0.1"}
    return read_catalogue(pd.DataFrame([
        base | {"indicator_id": "K1", "area": "early_years", "weight_population": "age_0_14",
                "equalise": "yes"},
        base | {"indicator_id": "K2", "area": "early_years", "weight_population": "age_60_plus",
                "equalise": "yes"},
        base | {"indicator_id": "K3", "area": "early_years", "weight_population": "residents",
                "equalise": "no"},
    ]))


def _districts():
    return pd.DataFrame({"district_code": CODES,
                         "district_group": ["urban_district"] * 6 + ["county_city"] * 4})


def _population():
    # age_0_14 is deliberately wrong: the spec's 0_2 + 3_5 + 6_14 (3 for the first five
    # districts, 1 for the others) is what weighs.
    return pd.DataFrame({"year": 2023, "district_code": CODES,
                         "residents": [100] * 10, "age_0_2": 1, "age_3_5": [1] * 5 + [0] * 5,
                         "age_6_14": [1] * 5 + [0] * 5, "age_0_14": 999, "age_15_59": 1,
                         "age_60_plus": [0] * 9 + [1]})


def _frames(k1, k2):
    values = pd.DataFrame([(2023, c, i, v) for i, col in (("K1", k1), ("K2", k2), ("K3", k1))
                           for c, v in zip(CODES, col, strict=True)],
                          columns=["year", "district_code", "indicator_id", "value"])
    areas = pd.DataFrame({"year": 2023, "district_code": CODES, "area": "early_years",
                          "score": k1})
    index = pd.DataFrame({"year": 2023, "district_code": CODES, "attainment_index": k1})
    return values, areas, index


def test_measures_per_subject_weigh_by_the_population_served():
    k1 = [2.0] * 5 + [4.0] * 5                # p: 15/20 and 5/20 -> mu = 1.5 + 1 = 2.5
    k2 = [1.0] * 9 + [5.0]                    # only the last district has people aged 60+
    out = equalisation_measures(*_frames(k1, k2), _catalogue(), _population(), _districts())
    out = out.set_index("subject_id")
    assert list(out.index) == ["K1", "K2", "early_years", "attainment_index"]   # K3: no
    assert list(out["subject_kind"]) == ["indicator", "indicator", "area", "index"]
    assert out.loc["K1", "weight_population"] == "age_0_14"
    assert out.loc["K1", "mean_weighted"] == pytest.approx(2.5)
    assert out.loc["K2", "mean_weighted"] == pytest.approx(5.0)
    assert out.loc["early_years", "weight_population"] == "residents"
    assert out.loc["early_years", "mean_weighted"] == pytest.approx(3.0)
    # residents equal; groups urban (2, 2, 2, 2, 2, 4) and county (4, 4, 4, 4)
    mu, mu_u, mu_c = 3.0, 14 / 6, 4.0
    between = 0.6 * (mu_u / mu) * math.log(mu_u / mu) + 0.4 * (mu_c / mu) * math.log(mu_c / mu)
    assert out.loc["attainment_index", "theil_t_between"] == pytest.approx(between)
    theil_t = 0.5 * (2 / 3) * math.log(2 / 3) + 0.5 * (4 / 3) * math.log(4 / 3)
    assert out.loc["attainment_index", "theil_t"] == pytest.approx(theil_t)
    assert out.loc["attainment_index", "theil_t_within"] == pytest.approx(theil_t - between)
    assert out["null_reason"].isna().all()


def test_a_missing_district_nulls_every_measure():
    k1 = [2.0] * 9 + [np.nan]
    k2 = [0.0] + [1.0] * 9
    out = equalisation_measures(*_frames(k1, k2), _catalogue(), _population(), _districts())
    out = out.set_index("subject_id")
    for sid in ("K1", "early_years", "attainment_index"):
        assert out.loc[sid, list(m.MEASURES)].isna().all(), sid
        assert out.loc[sid, "null_reason"] == "district missing"
    # K2: a zero (outside the population served, but still a district's value)
    assert pd.isna(out.loc["K2", "theil_l"]) and pd.isna(out.loc["K2", "atkinson_1"])
    assert out.loc["K2", "null_reason"] == "zero value"
    assert out.loc["K2", "theil_t"] == pytest.approx(0)      # the only weighted value is 1
