"""Equalisation measures across the districts of one year (methodology.md section 4).

Plain functions on arrays: y the values, p the population weights (summing to 1),
groups the urban-district / county-city labels. A formula that divides by zero or
takes the log of a value <= 0 gives None with a reason, never 0 or an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MEASURES = ("mean_weighted", "max_min_ratio", "cv", "williamson", "theil_t", "theil_t_between",
            "theil_t_within", "theil_l", "gini", "atkinson_1")


@dataclass
class Measures:
    values: dict[str, float | None]
    reasons: dict[str, str]


def _clean(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    return y, p / p.sum()


def mean_weighted(y, p) -> float:
    y, p = _clean(y, p)
    return float(np.sum(p * y))


def max_min_ratio(y) -> float | None:
    y = np.asarray(y, float)
    return float(y.max() / y.min()) if y.min() > 0 else None


def cv(y) -> float | None:
    y = np.asarray(y, float)
    return float(y.std(ddof=0) / y.mean()) if y.mean() != 0 else None


def williamson(y, p) -> float | None:
    y, p = _clean(y, p)
    mu = np.sum(p * y)
    return float(math.sqrt(np.sum(p * (y - mu) ** 2)) / mu) if mu != 0 else None


def theil_t(y, p) -> float | None:
    y, p = _clean(y, p)
    mu = np.sum(p * y)
    if mu <= 0 or (y <= 0).any():
        return None
    r = y / mu
    return float(np.sum(p * r * np.log(r)))


def theil_t_between(y, p, groups) -> float | None:
    y, p = _clean(y, p)
    groups = np.asarray(groups)
    mu = np.sum(p * y)
    if mu <= 0 or (y <= 0).any():
        return None
    total = 0.0
    for g in np.unique(groups):
        m = groups == g
        pg = p[m].sum()
        mug = np.sum(p[m] * y[m]) / pg
        total += pg * (mug / mu) * math.log(mug / mu)
    return float(total)


def theil_l(y, p) -> float | None:
    y, p = _clean(y, p)
    mu = np.sum(p * y)
    if mu <= 0 or (y <= 0).any():
        return None
    return float(np.sum(p * np.log(mu / y)))


def gini(y, p) -> float | None:
    y, p = _clean(y, p)
    mu = np.sum(p * y)
    if mu == 0:
        return None
    return float(np.sum(p[:, None] * p[None, :] * np.abs(y[:, None] - y[None, :])) / (2 * mu))


def atkinson_1(y, p) -> float | None:
    y, p = _clean(y, p)
    mu = np.sum(p * y)
    if mu <= 0 or (y <= 0).any():
        return None
    return float(1 - math.exp(np.sum(p * np.log(y))) / mu)


def all_measures(y, p, groups) -> Measures:
    """Every measure for one subject and year, with a reason for each that is null."""
    y = np.asarray(y, float)
    if len(y) == 0 or np.isnan(y).any():
        reason = "a district has no value"
        return Measures(dict.fromkeys(MEASURES), dict.fromkeys(MEASURES, reason))
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
    reasons = {}
    for k, v in values.items():
        if v is None:
            reasons[k] = ("mean is zero" if mean_weighted(y, p) == 0 else
                          "a value <= 0 (log undefined or division by zero)")
    return Measures(values, reasons)


def ols(x, y) -> tuple[float, float, float, int] | None:
    """Slope, its standard error, intercept and n of y on x (None below 3 points for se)."""
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
    if n > 2:
        resid = y - (intercept + slope * x)
        se = float(math.sqrt(np.sum(resid ** 2) / (n - 2) / sxx))
    else:
        se = float("nan")
    return slope, se, intercept, n
