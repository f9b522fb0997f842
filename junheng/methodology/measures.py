"""Equalisation measures across the districts of one year (methodology.md section 4).

Plain functions on arrays: y the values, p the population weights (normalised here to sum
to 1), groups the urban-district / county-city labels. A formula that divides by zero or
takes the log of a value <= 0 gives None, and `all_measures` says why, never 0 or an error.
Terms with y = 0 contribute 0 to Theil T (0 · ln 0 = 0).
"""

from __future__ import annotations

import math

import numpy as np

MEASURES = ("mean_weighted", "max_min_ratio", "cv", "williamson", "theil_t", "theil_t_between",
            "theil_t_within", "theil_l", "gini", "atkinson_1")

ZERO_VALUE = "zero value"          # a y <= 0 where a log or a division needs y > 0
ZERO_MEAN = "zero mean"            # μ (or the plain mean) is 0: nothing to divide by
NEGATIVE_VALUE = "negative value"  # y < 0: a share of the total is meaningless


def _arrays(y, p) -> tuple[np.ndarray, np.ndarray, float]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    p = p / p.sum()
    return y, p, float(np.sum(p * y))


def _xlogx_over(y: np.ndarray, mu: float) -> np.ndarray:
    """(y/μ) ln(y/μ) with 0 · ln 0 = 0."""
    r = y / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, r * np.log(np.where(r > 0, r, 1.0)), 0.0)


def mean_weighted(y, p) -> float:
    return _arrays(y, p)[2]


def max_min_ratio(y) -> float | None:
    y = np.asarray(y, float)
    return float(y.max() / y.min()) if y.min() > 0 else None


def cv(y) -> float | None:
    y = np.asarray(y, float)
    return float(y.std(ddof=0) / y.mean()) if y.mean() != 0 else None


def williamson(y, p) -> float | None:
    y, p, mu = _arrays(y, p)
    return float(math.sqrt(np.sum(p * (y - mu) ** 2)) / mu) if mu != 0 else None


def theil_t(y, p) -> float | None:
    y, p, mu = _arrays(y, p)
    if mu <= 0 or (y < 0).any():
        return None
    return float(np.sum(p * _xlogx_over(y, mu)))


def theil_t_between(y, p, groups) -> float | None:
    y, p, mu = _arrays(y, p)
    groups = np.asarray(groups)
    if mu <= 0 or (y < 0).any():
        return None
    total = 0.0
    for g in np.unique(groups):
        m = groups == g
        pg = p[m].sum()
        if pg > 0:
            mug = np.sum(p[m] * y[m]) / pg
            total += pg * float(_xlogx_over(np.array([mug]), mu)[0])
    return float(total)


def theil_l(y, p) -> float | None:
    y, p, mu = _arrays(y, p)
    if (y <= 0).any():
        return None
    return float(np.sum(p * np.log(mu / y)))


def gini(y, p) -> float | None:
    y, p, mu = _arrays(y, p)
    if mu == 0:
        return None
    return float(np.sum(p[:, None] * p[None, :] * np.abs(y[:, None] - y[None, :])) / (2 * mu))


def atkinson_1(y, p) -> float | None:
    y, p, mu = _arrays(y, p)
    if (y <= 0).any():
        return None
    return float(1 - math.exp(np.sum(p * np.log(y))) / mu)


def all_measures(y, p, groups) -> tuple[dict[str, float | None], str | None]:
    """Every measure of one subject and year, and the reason(s) why any is null.

    The caller has checked that every district has a value and a population weight.
    """
    y = np.asarray(y, float)
    t = theil_t(y, p)
    tb = theil_t_between(y, p, groups)
    values = {
        "mean_weighted": mean_weighted(y, p),
        "max_min_ratio": max_min_ratio(y),
        "cv": cv(y),
        "williamson": williamson(y, p),
        "theil_t": t,
        "theil_t_between": tb,
        "theil_t_within": None if t is None or tb is None else t - tb,
        "theil_l": theil_l(y, p),
        "gini": gini(y, p),
        "atkinson_1": atkinson_1(y, p),
    }
    reasons = []
    if any(v is None for v in values.values()):
        if (y < 0).any():
            reasons.append(NEGATIVE_VALUE)
        if (y <= 0).any():
            reasons.append(ZERO_VALUE)
        if values["mean_weighted"] == 0 or y.mean() == 0:
            reasons.append(ZERO_MEAN)
    return values, "; ".join(reasons) or None


def ols(x, y) -> tuple[float, float, float, int] | None:
    """Slope, its standard error (NaN with 2 points), intercept and n of y on x.

    None when fewer than 2 points or no spread in x.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 2 or np.all(x == x[0]):
        return None
    xm, ym = x.mean(), y.mean()
    sxx = np.sum((x - xm) ** 2)
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    se = float("nan")
    if n > 2:
        resid = y - (intercept + slope * x)
        se = float(math.sqrt(np.sum(resid ** 2) / (n - 2) / sxx))
    return slope, se, intercept, n
