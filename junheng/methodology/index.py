"""Scores, domains, the attainment index, progress and rank sensitivity (methodology.md 2-6).

Plain functions on pandas frames (small: 18 indicators x 11 units x 6 years), so tests
call them without Dagster or DuckDB.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from junheng.methodology.measures import MEASURES, all_measures, ols

CITY = "320500"
DOMAINS = ("education", "health", "elderly", "environment")
BASELINE_YEAR, FINAL_YEAR = 2020, 2025
METHODOLOGY_VERSION = "1.0"


@dataclass(frozen=True)
class Config:
    """What an evaluator may change. Recorded with every result; changes nothing else."""

    aggregation: str = "arithmetic"            # or "geometric": prod max(domain, 1) ** w
    domain_weights: dict = field(default_factory=lambda: dict.fromkeys(DOMAINS, 0.25))
    indicator_weights: dict = field(default_factory=dict)  # id -> weight (catalogue default)
    draws: int = 1000
    seed: int = 20251231
    methodology_version: str = METHODOLOGY_VERSION

    def __post_init__(self):
        if self.aggregation not in ("arithmetic", "geometric"):
            raise ValueError("aggregation is 'arithmetic' or 'geometric'")
        if set(self.domain_weights) != set(DOMAINS):
            raise ValueError(f"domain_weights needs exactly {DOMAINS}")

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- scores

def score(value, zero, full):
    """100 x clip((value - zero) / (full - zero), 0, 1); works for lower-is-better too."""
    s = 100 * (np.asarray(value, float) - zero) / (full - zero)
    return np.clip(s, 0, 100)


def indicator_scores(values: pd.DataFrame, catalogue: pd.DataFrame, config: Config
                     ) -> pd.DataFrame:
    """values: year, district_code, indicator_id, value. One row per in-index indicator."""
    cat = catalogue[catalogue["is_in_index"]].set_index("indicator_id")
    weight = {i: float(config.indicator_weights.get(i, cat.loc[i, "weight"])) for i in cat.index}
    v = values[values["indicator_id"].isin(cat.index)].copy()
    v["score"] = [float(score(x, cat.loc[i, "score_zero"], cat.loc[i, "score_full"]))
                  if pd.notna(x) else np.nan for i, x in zip(v["indicator_id"], v["value"],
                                                              strict=True)]
    v["domain"] = v["indicator_id"].map(cat["domain"])
    v["weight"] = v["indicator_id"].map(weight)
    domain_total = {d: sum(weight[i] for i in cat.index if cat.loc[i, "domain"] == d)
                    for d in DOMAINS}
    w = v["weight"] / v["domain"].map(domain_total) * v["domain"].map(config.domain_weights)
    gap = w * (100 - v["score"])
    total = gap.groupby([v["year"], v["district_code"]]).transform("sum")
    v["obstacle_degree"] = np.where(total > 0, gap / total.where(total > 0), np.nan)
    return v[["year", "district_code", "indicator_id", "domain", "score", "weight",
              "obstacle_degree"]].reset_index(drop=True)


def domain_scores(scores: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    totals = catalogue[catalogue["is_in_index"]].groupby("domain").size()
    rows = []
    for (year, code, domain), g in scores.groupby(["year", "district_code", "domain"]):
        scored = g[g["score"].notna()]
        n_total = int(totals[domain])
        value = (float((scored["weight"] * scored["score"]).sum() / scored["weight"].sum())
                 if len(scored) * 2 >= n_total and scored["weight"].sum() > 0 else np.nan)
        rows.append((year, code, domain, value, len(scored), n_total))
    return pd.DataFrame(rows, columns=["year", "district_code", "domain", "score",
                                       "indicators_scored", "indicators_total"])


def aggregate(domains: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Attainment index from domain scores (last axis); null when any domain is null."""
    w = weights / weights.sum(axis=-1, keepdims=True)
    if method == "arithmetic":
        return np.sum(domains * w, axis=-1)
    return np.exp(np.sum(w * np.log(np.maximum(domains, 1.0)), axis=-1))


def rank_desc(values: np.ndarray) -> np.ndarray:
    """SQL RANK() on the last axis, highest first; ties share the best rank; NaN unranked."""
    v = np.where(np.isnan(values), -np.inf, values)
    r = 1 + (v[..., None, :] > v[..., :, None]).sum(axis=-1).astype(float)
    return np.where(np.isnan(values), np.nan, r)


def attainment_index(domains: pd.DataFrame, config: Config, districts: pd.DataFrame
                     ) -> pd.DataFrame:
    wide = domains.pivot_table(index=["year", "district_code"], columns="domain",
                               values="score", dropna=False).reindex(columns=list(DOMAINS))
    weights = np.array([config.domain_weights[d] for d in DOMAINS], float)
    wide["attainment_index"] = aggregate(wide[list(DOMAINS)].to_numpy(), weights,
                                         config.aggregation)
    out = wide.reset_index()
    out["rank"] = np.nan
    for _year, g in out.groupby("year"):
        m = g["district_code"] != CITY
        out.loc[g.index[m], "rank"] = rank_desc(g.loc[m, "attainment_index"].to_numpy())
    city = out[out["district_code"] == CITY].set_index("year")["attainment_index"]
    out["gap_to_city"] = out["attainment_index"] - out["year"].map(city)
    out["relative_to_city"] = out["attainment_index"] / out["year"].map(city)
    names = districts.set_index("district_code")
    out["name_zh"] = out["district_code"].map(names["name_zh"]).fillna("苏州市")
    out["name_en"] = out["district_code"].map(names["name_en"]).fillna("Suzhou (city)")
    out["group"] = out["district_code"].map(names["district_group"]).fillna("city")
    return out


# --------------------------------------------------------------------------- equalisation

def equalisation_measures(subjects: pd.DataFrame, weights: pd.DataFrame,
                          districts: pd.DataFrame) -> pd.DataFrame:
    """subjects: year, subject_kind, subject_id, district_code, value (districts only).
    weights: year, district_code, residents."""
    groups = districts.set_index("district_code")["district_group"]
    rows = []
    for (year, kind, sid), g in subjects.groupby(["year", "subject_kind", "subject_id"]):
        g = g[g["district_code"] != CITY].merge(weights[weights["year"] == year],
                                                on="district_code")
        m = all_measures(g["value"].to_numpy(), g["residents"].to_numpy(),
                         g["district_code"].map(groups).to_numpy())
        rows.append({"year": year, "subject_kind": kind, "subject_id": sid, **m.values,
                     "null_reasons": "; ".join(f"{k}: {v}" for k, v in m.reasons.items())
                     or None})
    return pd.DataFrame(rows, columns=["year", "subject_kind", "subject_id", *MEASURES,
                                       "null_reasons"])


def convergence(measures: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (kind, sid), g in measures[measures["subject_kind"] != "indicator"].groupby(
            ["subject_kind", "subject_id"]):
        g = g.sort_values("year")
        years = g["year"].to_numpy()
        first, last = int(years.min()), int(years.max())
        sigma = ols(years, g["williamson"].to_numpy(float))
        s = subjects[(subjects["subject_kind"] == kind) & (subjects["subject_id"] == sid)
                     & (subjects["district_code"] != CITY)]
        y0 = s[s["year"] == first].set_index("district_code")["value"]
        y1 = s[s["year"] == last].set_index("district_code")["value"]
        both = pd.concat([y0, y1], axis=1, keys=["y0", "y1"]).dropna()
        both = both[(both["y0"] > 0) & (both["y1"] > 0)]
        beta = None
        if last > first and len(both) >= 3:
            growth = (np.log(both["y1"]) - np.log(both["y0"])) / (last - first)
            beta = ols(np.log(both["y0"]), growth)
        rows.append({"subject_kind": kind, "subject_id": sid, "first_year": first,
                     "last_year": last, "sigma_slope": sigma[0] if sigma else None,
                     "beta": beta[0] if beta else None, "beta_se": beta[1] if beta else None,
                     "n": int(len(both))})
    return pd.DataFrame(rows, columns=["subject_kind", "subject_id", "first_year", "last_year",
                                       "sigma_slope", "beta", "beta_se", "n"])


# --------------------------------------------------------------------------- progress

def meets(value: float, rule: str, target: float) -> bool:
    return {">": value > target, ">=": value >= target, "=": value == target,
            "<=": value <= target, "<": value < target}[rule]


def progress_row(x0, xt, target, rule, year) -> dict:
    time_share = (year - BASELINE_YEAR) / (FINAL_YEAR - BASELINE_YEAR)
    out = {"progress": None, "time_share": time_share, "status": None, "actual_cagr": None,
           "required_cagr": None}
    if x0 is None or xt is None or (isinstance(xt, float) and math.isnan(xt)) \
            or (isinstance(x0, float) and math.isnan(x0)):
        return out
    if target != x0:
        out["progress"] = (xt - x0) / (target - x0)
    if meets(xt, rule, target):
        out["status"] = "achieved"
    elif out["progress"] is None:
        out["status"] = "off_track"
    elif out["progress"] >= time_share:
        out["status"] = "on_track"
    elif out["progress"] > 0:
        out["status"] = "off_track"
    else:
        out["status"] = "regressing"
    if x0 > 0 and xt > 0 and year > BASELINE_YEAR:
        out["actual_cagr"] = (xt / x0) ** (1 / (year - BASELINE_YEAR)) - 1
    if x0 > 0 and target > 0:
        out["required_cagr"] = (target / x0) ** (1 / (FINAL_YEAR - BASELINE_YEAR)) - 1
    return out


def target_progress(values: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    cat = catalogue[catalogue["target_rule"].notna()].set_index("indicator_id")
    v = values[values["indicator_id"].isin(cat.index)]
    base = v[v["year"] == BASELINE_YEAR].set_index(["district_code", "indicator_id"])["value"]
    rows = []
    for r in v.itertuples(index=False):
        c = cat.loc[r.indicator_id]
        x0 = base.get((r.district_code, r.indicator_id))
        x0 = None if x0 is None or pd.isna(x0) else float(x0)
        xt = None if pd.isna(r.value) else float(r.value)
        published = c["baseline_2020"] if r.district_code == CITY else None
        rows.append({"year": r.year, "district_code": r.district_code,
                     "indicator_id": r.indicator_id, "baseline": x0,
                     "baseline_published": None if pd.isna(published) else published,
                     "value": xt, "target": float(c["target_2025"]),
                     "target_rule": c["target_rule"],
                     **progress_row(x0, xt, float(c["target_2025"]), c["target_rule"], r.year)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- sensitivity

def rank_sensitivity(values: pd.DataFrame, catalogue: pd.DataFrame, config: Config
                     ) -> pd.DataFrame:
    """Monte Carlo over normalisation, aggregation and weights (section 6), vectorised."""
    cat = catalogue[catalogue["is_in_index"]].reset_index(drop=True)
    ids = list(cat["indicator_id"])
    dom = np.array([DOMAINS.index(d) for d in cat["domain"]])
    member = np.eye(len(DOMAINS))[dom]                       # indicators x domains
    base_w = np.array([float(config.indicator_weights.get(i, w))
                       for i, w in zip(ids, cat["weight"], strict=True)])
    base_dw = np.array([config.domain_weights[d] for d in DOMAINS], float)
    zero, full = cat["score_zero"].to_numpy(float), cat["score_full"].to_numpy(float)
    lower_better = (cat["direction"] == "-").to_numpy()
    rng = np.random.default_rng(config.seed)
    n = config.draws
    # The same draws for every year, so years compare.
    use_minmax = rng.random(n) < 0.5
    use_geometric = rng.random(n) < 0.5
    w_draw = base_w * rng.uniform(0.75, 1.25, (n, len(ids)))
    dw_draw = base_dw * rng.uniform(0.75, 1.25, (n, len(DOMAINS)))
    rows = []
    districts = values[values["district_code"] != CITY]
    for year, g in districts.groupby("year"):
        wide = g.pivot_table(index="district_code", columns="indicator_id", values="value",
                             dropna=False).reindex(columns=ids)
        x = wide.to_numpy(float)                                  # districts x indicators
        goal = np.clip(100 * (x - zero) / (full - zero), 0, 100)
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        span = np.where(hi > lo, hi - lo, np.nan)
        mm = 100 * np.where(lower_better, hi - x, x - lo) / span
        mm = np.where(np.isnan(span) & ~np.isnan(x), 100.0, mm)  # no spread: nobody behind
        default = _index(goal[None], base_w[None], base_dw[None],
                         np.array([config.aggregation == "geometric"]), member)[0]
        scores = np.where(use_minmax[:, None, None], mm[None], goal[None])
        idx = _index(scores, w_draw, dw_draw, use_geometric, member)
        ranks = rank_desc(idx)                                    # draws x districts
        r0 = rank_desc(default[None])[0]
        for k, code in enumerate(wide.index):
            col = ranks[:, k]
            ok = ~np.isnan(col)
            rows.append({"year": year, "district_code": code, "rank_default": r0[k],
                         "rank_median": float(np.median(col[ok])) if ok.any() else None,
                         "rank_p05": float(np.percentile(col[ok], 5)) if ok.any() else None,
                         "rank_p95": float(np.percentile(col[ok], 95)) if ok.any() else None,
                         "mean_abs_shift": float(np.mean(np.abs(col[ok] - r0[k])))
                         if ok.any() and not np.isnan(r0[k]) else None,
                         "draws": n, "seed": config.seed})
    return pd.DataFrame(rows)


def _index(scores, w, dw, geometric, member) -> np.ndarray:
    """scores: draws x districts x indicators (NaN = unscored) -> draws x districts."""
    scored = ~np.isnan(scores)
    s = np.nan_to_num(scores)
    wk = w[:, None, :] * scored                                   # draws x districts x ind
    num = np.einsum("dki,ij->dkj", wk * s, member)
    den = np.einsum("dki,ij->dkj", wk, member)
    n_scored = np.einsum("dki,ij->dkj", scored.astype(float), member)
    n_total = member.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        domains = np.where((n_scored * 2 >= n_total) & (den > 0), num / den, np.nan)
    dwn = dw / dw.sum(axis=-1, keepdims=True)
    arith = np.sum(domains * dwn[:, None, :], axis=-1)
    geom = np.exp(np.sum(dwn[:, None, :] * np.log(np.maximum(domains, 1.0)), axis=-1))
    return np.where(geometric[:, None], geom, arith)


# --------------------------------------------------------------------------- across years

def cross_year(values: pd.DataFrame, domains: pd.DataFrame, index: pd.DataFrame,
               measures: pd.DataFrame, cat: pd.DataFrame, config) -> dict[str, pd.DataFrame]:
    subjects = pd.concat([
        domains.rename(columns={"score": "value"}).assign(subject_kind="domain",
                                                         subject_id=domains["domain"]),
        index.rename(columns={"attainment_index": "value"}).assign(subject_kind="index",
                                                                  subject_id="attainment"),
    ])[["year", "subject_kind", "subject_id", "district_code", "value"]]
    out = {
        "target_progress": target_progress(values, cat),
        "convergence": convergence(measures, subjects),
        "rank_sensitivity": rank_sensitivity(values, cat, config),
    }
    for frame in out.values():
        frame["methodology_version"] = config.methodology_version
    return out
