"""Equalisation measures against PySAL's inequality package and the identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from inequality.atkinson import atkinson as pysal_atkinson
from inequality.gini import Gini
from inequality.theil import Theil, TheilD

from junheng.methodology import measures as m

rng = np.random.default_rng(7)
CASES = [rng.uniform(40, 100, 10) for _ in range(5)] + [np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
GROUPS = np.array(["urban_district"] * 6 + ["county_city"] * 4)


def _expanded(y, counts):
    """Population weights by expansion: each district repeated once per (thousand) residents."""
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
    mu = np.sum(p * y)
    # theil_l = -ln(1 - atkinson_1)
    assert m.theil_l(y, p) == pytest.approx(-math.log(1 - m.atkinson_1(y, p)), rel=1e-12)
    # within + between = total, within as the weighted sum of group Theils
    within = 0.0
    for g in np.unique(GROUPS):
        k = GROUPS == g
        pg, mug = p[k].sum(), np.sum(p[k] * y[k]) / p[k].sum()
        within += pg * (mug / mu) * m.theil_t(y[k], p[k])
    assert m.theil_t_between(y, p, GROUPS) + within == pytest.approx(m.theil_t(y, p), rel=1e-12)
    # scale invariance
    for f in (m.williamson, m.theil_t, m.theil_l, m.gini, m.atkinson_1):
        assert f(y * 37.5, p) == pytest.approx(f(y, p), rel=1e-12)
    assert m.cv(y * 3) == pytest.approx(m.cv(y))
    assert m.williamson(y, p) == pytest.approx(math.sqrt(np.sum(p * (y - mu) ** 2)) / mu)
    assert m.cv(y) == pytest.approx(np.std(y) / np.mean(y))
    assert m.max_min_ratio(y) == pytest.approx(y.max() / y.min())


def test_zero_for_equal_values():
    y, p = np.full(10, 42.0), np.full(10, 0.1)
    res = m.all_measures(y, p, GROUPS).values
    for k in ("cv", "williamson", "theil_t", "theil_t_between", "theil_t_within", "theil_l",
              "gini", "atkinson_1"):
        assert res[k] == pytest.approx(0.0, abs=1e-15), k
    assert res["max_min_ratio"] == 1.0


def test_nulls_with_reasons_not_errors():
    y = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    res = m.all_measures(y, np.full(10, 0.1), GROUPS)
    for k in ("max_min_ratio", "theil_t", "theil_l", "atkinson_1", "theil_t_within"):
        assert res.values[k] is None and k in res.reasons
    assert res.values["gini"] is not None and res.values["williamson"] is not None


def test_ols_slope_and_standard_error():
    x = np.array([2020, 2021, 2022, 2023, 2024, 2025.0])
    y = np.array([1.0, 1.9, 3.2, 3.9, 5.1, 6.0])
    slope, se, _, n = m.ols(x, y)
    # numpy.polyfit with cov gives the same slope and standard error
    coef, cov = np.polyfit(x - 2020, y, 1, cov="unscaled")
    resid = y - np.polyval(coef, x - 2020)
    assert slope == pytest.approx(coef[0])
    assert se == pytest.approx(math.sqrt(cov[0, 0] * np.sum(resid ** 2) / (n - 2)))
