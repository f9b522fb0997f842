"""Scores, area scores, the attainment index, equalisation measures, progress and rank
sensitivity (methodology.md 2.0, sections 2 to 6).

Plain functions on pandas frames (small: 41 indicators x 11 units x 6 years), so tests call
them without Dagster or DuckDB. The assets call two of them:

- `year_results(values, catalogue, population, districts, config, year=None)`: the
  per-year tables (indicator_scores, area_scores, equalisation_index,
  equalisation_measures) of one reporting year;
- `cross_year(values, area_scores, equalisation_index, equalisation_measures, catalogue,
  config, districts=None)`: target_progress, convergence and rank_sensitivity over
  every year given.

Input contract:
- values: year, district_code (10 districts and the city, `CITY`), indicator_id, value
  (float, NaN when null), null_reason (str or None), standard_error (NaN except for the
  `estimate` form, I3). One row per unit and indicator and year; a missing row counts as a
  null value with reason `no value`.
- catalogue: `reference/indicators.csv` as read by pandas (or DuckDB), passed through
  `read_catalogue` (every public function does so; it is idempotent).
- population: year, district_code, residents, age_0_2, age_3_5, age_6_14, age_0_14,
  age_15_59, age_60_plus (districts only).
- districts: district_code, name_zh, name_en, district_group.

Choices where the spec is silent
--------------------------------
- Config: `area_weights` may name only some areas; the others keep weight 1. Weights must be
  finite numbers >= 0 (bools refused). An `indicator_weights` key that is not in the
  catalogue, or names an indicator with in_index = no (its weight would take no part), is
  refused. An area with weight 0 takes no part in the index (its null score does not make
  the index null); its indicators then have obstacle degree 0.
- Obstacle degree is a share (0..1; the shares of a unit sum to 1). Only indicators with a
  positive obstacle degree are ranked; ties share the best rank (SQL RANK), so a tie at
  third place publishes more than three ranks. Computed for the city row too.
- `provisional` / `missing_indicators` on area_scores are those of the area's own
  in-index indicators; on equalisation_index those of all the unit's in-index indicators.
  `missing_indicators` is the ids sorted, joined by ",".
- `null_reason` joins the distinct reasons of the row's null values with "; ". Columns
  that are null by construction (equality-adjusted figures on district rows, the city's
  rank, `significant*` on indicators without a standard error) carry no reason.
- The city row has gap_to_city 0 and relative_to_city 1; its group is `city`.
- Ranks are withheld (`indicator sets differ`) also when a district has no index; then the
  reason is `not every district has an index`.
- Section 7 is applied in `year_results` (`withhold_incomplete_years`): when a district
  lacks an area score, every unit's area scores and index of that year, the ranks and the
  area and index measures are null with reason `withheld: not every district has every
  area scored (<code>: <areas>)`. Indicator scores and measures stay. Note: several
  areas rest on one department's feed (employment L1, funeral F1, veterans V1, safety I3,
  housing U1 U2, transport T1 T2), so one late department does withhold a year.
- `year_results` computes targets_met / targets_total from `target_progress` over the
  values it is given (years <= the reporting year; the earlier years give the bases; a
  base is always a year <= t when x_t has a value, so the statuses are those of
  `cross_year`).
- Progress: `about` (C1) is resolved per unit like `threshold` (a unit whose base already
  meets the `~` rule is `maintain`), so a unit above the target is never assessed on a
  negative gap. Level-only rows (flag districts, |T - x0| < precision / 2) publish no P and
  R (reason `level only`); a flag district is `achieved` or `not_met` even when its base
  had the flag (type `maintain`). P is published at t = t0 (0); R is then null
  (`base year`).
  `cumulative` and `reduction` are never level-only. `significant` uses strict sides
  (x - 1.96 se > T or x + 1.96 se < T). A base-year row with a null value has status null
  with the value's reason. Null reasons: `maintain target`, `level only`, `base year`,
  `city target only`, `baseline <= 0`, `target <= 0`, `negative value`, `no standard
  error`. `target_type` on a row is the type resolved for that unit. A targeted indicator
  with no row for a unit and year gets a row with status null (`no value`).
- Area scores with weight 0 among the scored indicators are null (`zero weight`).
- Equalisation: max_min_ratio is null (`zero value`) when min y <= 0; cv, williamson and gini
  null (`zero mean`) when the mean is 0; Theil T null (`negative value`) when a y < 0. Weights
  missing for a district: all null, `population missing`.
- Convergence uses the years in which all districts have an attainment index (the same
  years for every subject); β over districts with y > 0 in the first and last year;
  beta_se needs 3 districts. A null_reason column is added.
- Rank sensitivity: each draw picks goalposts or min-max with probability 1/2 and
  arithmetic or geometric with probability 1/2; the same draws serve every year. Ranks are
  withheld under the same rule as the published ranks (null_reason column added).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from junheng.methodology.measures import MEASURES, all_measures, ols

CITY = "320500"
AREAS = ("early_years", "education", "employment", "health", "elderly", "funeral", "housing",
         "assistance", "transport", "environment", "veterans", "culture_sport", "safety")
BASELINE_YEAR, FINAL_YEAR = 2020, 2025
METHODOLOGY_VERSION = "2.0"
INDEX_ID = "attainment_index"
RULES = (">", ">=", "<=", "<", "~")
TARGET_TYPES = ("threshold", "maintain", "about", "cumulative", "reduction")
STATUSES = ("achieved", "substantial_progress", "moderate_progress", "limited_progress",
            "deterioration", "not_met", "insufficient_data")
WEIGHT_POPULATIONS = ("residents", "age_0_2", "age_3_5", "age_6_14", "age_0_14", "age_15_59",
                      "age_60_plus")
CITY_NAMES = {"name_zh": "苏州市", "name_en": "Suzhou (city)", "district_group": "city"}

NO_VALUE = "no value"
NO_SHORTFALL = "no shortfall"
FEWER_THAN_HALF = "fewer than half scored"
DISTRICT_MISSING = "district missing"
SETS_DIFFER = "indicator sets differ"

_NUMERIC = ("weight", "baseline_2020", "target_2025", "score_zero", "score_full", "precision")
_TEXT = ("indicator_id", "area", "direction", "form", "weight_population", "target_type",
         "target_rule")
_REQUIRED = ("indicator_id", "table1_no", "area", "direction", "form", "weight_population",
             "in_index", "weight", "baseline_2020", "target_2025", "target_type", "target_rule",
             "score_zero", "score_full", "precision", "equalise")


# --------------------------------------------------------------------------- catalogue

def _text(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    s = str(v).strip()
    return s or None


def _yes_no(column: str, v) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = _text(v)
    if s is not None and s.lower() in ("yes", "no"):
        return s.lower() == "yes"
    raise ValueError(f"catalogue column {column!r}: {v!r} is not 'yes' or 'no'")


def read_catalogue(frame: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with typed columns: in_index and equalise bool, the numbers float (NaN
    when blank), table1_no nullable Int64, blank text None. Idempotent; checks the codes."""
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"catalogue lacks columns {missing}")
    cat = frame.copy().reset_index(drop=True)
    for c in _TEXT:
        cat[c] = pd.Series([_text(v) for v in cat[c]], dtype=object)
    for c in ("in_index", "equalise"):
        cat[c] = pd.Series([_yes_no(c, v) for v in cat[c]], dtype=bool)
    for c in _NUMERIC:
        cat[c] = pd.to_numeric(pd.Series([_text(v) for v in cat[c]], dtype=object)
                               ).astype(float)
    cat["table1_no"] = pd.to_numeric(pd.Series([_text(v) for v in cat["table1_no"]],
                                               dtype=object)).astype("Int64")
    dup = cat["indicator_id"][cat["indicator_id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"catalogue: indicator ids repeated: {dup}")
    for r in cat.itertuples(index=False):
        if r.area not in AREAS:
            raise ValueError(f"catalogue: {r.indicator_id} has unknown area {r.area!r}")
        if r.target_rule is not None and r.target_rule not in RULES:
            raise ValueError(f"catalogue: {r.indicator_id} has unknown rule {r.target_rule!r}")
        if r.target_type is not None and r.target_type not in TARGET_TYPES:
            raise ValueError(f"catalogue: {r.indicator_id} has unknown target type "
                             f"{r.target_type!r}")
        if (r.target_type is None) != (r.target_rule is None) or (
                r.target_type is not None and math.isnan(r.target_2025)):
            raise ValueError(f"catalogue: {r.indicator_id} needs target_type, target_rule "
                             "and target_2025 together")
        if r.weight_population not in WEIGHT_POPULATIONS:
            raise ValueError(f"catalogue: {r.indicator_id} has unknown weight_population "
                             f"{r.weight_population!r}")
        if r.in_index and not (np.isfinite(r.weight) and r.weight >= 0):
            raise ValueError(f"catalogue: {r.indicator_id} is in the index without a weight "
                             ">= 0")
        if r.in_index and not (np.isfinite(r.score_zero) and np.isfinite(r.score_full)
                               and r.score_zero != r.score_full):
            raise ValueError(f"catalogue: {r.indicator_id} is in the index without two "
                             "distinct goalposts")
    return cat


def index_areas(catalogue: pd.DataFrame) -> tuple[str, ...]:
    """The areas that take part: those with an in-index indicator, in the plan's order."""
    present = set(catalogue.loc[catalogue["in_index"], "area"])
    return tuple(a for a in AREAS if a in present)


# --------------------------------------------------------------------------- configuration

def _checked_weight(name: str, key: str, v) -> float:
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer |
                                                          np.floating):
        raise ValueError(f"{name}[{key!r}] = {v!r}: a weight is a number")
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name}[{key!r}] = {v!r}: a weight is finite and >= 0")
    return float(v)


@dataclass(frozen=True)
class Config:
    """What an evaluator may change (sections 3 and 6). Recorded with every result.

    area_weights: area -> weight (missing areas keep 1; normalised over the areas that take
    part). indicator_weights: in-index indicator id -> weight (else the catalogue's).
    Checks that need the catalogue run in `validate`, which every function calls.
    """

    aggregation: str = "arithmetic"   # or "geometric": prod max(area, 1) ** w
    area_weights: Mapping = field(default_factory=lambda: dict.fromkeys(AREAS, 1.0))
    indicator_weights: Mapping = field(default_factory=dict)
    draws: int = 1000
    seed: int = 20251231
    methodology_version: str = METHODOLOGY_VERSION

    def __post_init__(self):
        if self.aggregation not in ("arithmetic", "geometric"):
            raise ValueError(f"aggregation = {self.aggregation!r}: 'arithmetic' or "
                             "'geometric'")
        if not isinstance(self.area_weights, Mapping):
            raise ValueError("area_weights is a mapping area -> weight")
        if not isinstance(self.indicator_weights, Mapping):
            raise ValueError("indicator_weights is a mapping indicator id -> weight")
        unknown = [k for k in self.area_weights if k not in AREAS]
        if unknown:
            raise ValueError(f"area_weights: unknown area {unknown[0]!r} (areas: "
                             f"{', '.join(AREAS)})")
        areas = {a: _checked_weight("area_weights", a, self.area_weights.get(a, 1.0))
                 for a in AREAS}
        indicators = {str(k): _checked_weight("indicator_weights", k, v)
                      for k, v in sorted(self.indicator_weights.items())}
        object.__setattr__(self, "area_weights", areas)
        object.__setattr__(self, "indicator_weights", indicators)
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or self.draws < 1:
            raise ValueError(f"draws = {self.draws!r}: a whole number >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed = {self.seed!r}: a whole number >= 0")
        if self.methodology_version != METHODOLOGY_VERSION:
            raise ValueError(f"methodology_version = {self.methodology_version!r}: this code "
                             f"implements {METHODOLOGY_VERSION}")

    def as_dict(self) -> dict:
        return asdict(self) | {"area_weights": dict(self.area_weights),
                               "indicator_weights": dict(self.indicator_weights)}

    def validate(self, catalogue: pd.DataFrame) -> None:
        """The checks that need the catalogue; a ValueError names the bad key."""
        cat = catalogue.set_index("indicator_id")
        for k in self.indicator_weights:
            if k not in cat.index:
                raise ValueError(f"indicator_weights: unknown indicator {k!r}")
            if not cat.loc[k, "in_index"]:
                raise ValueError(f"indicator_weights: {k!r} is not in the index "
                                 "(in_index = no); its weight would take no part")
        weights = effective_weights(catalogue, self, checked=False)
        for area in index_areas(catalogue):
            w = weights[(weights["area"] == area) & weights["in_index"]]
            if not w["weight"].sum() > 0:
                raise ValueError(f"indicator_weights: the in-index weights of area {area!r} "
                                 f"({', '.join(w['indicator_id'])}) sum to 0")
        if not sum(self.area_weights[a] for a in index_areas(catalogue)) > 0:
            raise ValueError("area_weights: the weights of the areas in the index sum to 0")


def _prepared(catalogue: pd.DataFrame, config: Config) -> pd.DataFrame:
    cat = read_catalogue(catalogue)
    config.validate(cat)
    return cat


def effective_weights(catalogue: pd.DataFrame, config: Config, checked: bool = True
                      ) -> pd.DataFrame:
    """One row per indicator: indicator_id, area, in_index, weight (the catalogue's after
    configuration) and index_weight w_i = weight / the area's in-index weights x the area's
    normalised weight (0 outside the index; sums to 1 over the index)."""
    cat = _prepared(catalogue, config) if checked else catalogue
    out = cat[["indicator_id", "area", "in_index"]].copy()
    out["weight"] = [config.indicator_weights.get(i, w) if inx else w for i, w, inx in
                     zip(cat["indicator_id"], cat["weight"], cat["in_index"], strict=True)]
    areas = index_areas(cat)
    total = sum(config.area_weights[a] for a in areas)
    in_area = out[out["in_index"]].groupby("area")["weight"].sum()
    out["index_weight"] = [
        w / in_area[a] * config.area_weights[a] / total if inx and in_area[a] > 0 and total > 0
        else 0.0 for a, w, inx in zip(out["area"], out["weight"], out["in_index"], strict=True)]
    return out


# --------------------------------------------------------------------------- helpers

def _join(reasons) -> str | None:
    out = []
    for r in reasons:
        if r and r not in out:
            out.append(r)
    return "; ".join(out) or None


def _id_set(ids) -> set[str]:
    """The ids of a comma-separated list (empty for null)."""
    return set() if _text(ids) is None else set(ids.split(","))


def _floats(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype(float)


def _district_codes(districts: pd.DataFrame) -> list[str]:
    return sorted(str(c) for c in districts["district_code"])


def population_weights(population: pd.DataFrame, year: int, weight_population: str,
                       codes: list[str]) -> pd.Series:
    """The population a subject serves per district (age_0_14 = 0_2 + 3_5 + 6_14)."""
    pop = population[population["year"] == year]
    pop = pop.set_index(pop["district_code"].astype(str))
    if weight_population == "age_0_14":
        w = pop["age_0_2"] + pop["age_3_5"] + pop["age_6_14"]
    else:
        w = pop[weight_population]
    return _floats(w).reindex(codes)


def equality_adjusted(y: pd.Series, p: pd.Series) -> tuple[float, float, str | None]:
    """Π max(y_d, 1)^{p_d} and the loss 100 (1 - that / μ), μ = Σ p_d y_d (IHDI form)."""
    if y.isna().any():
        return np.nan, np.nan, DISTRICT_MISSING
    if p.isna().any() or not p.sum() > 0:
        return np.nan, np.nan, "population missing"
    p = p / p.sum()
    ea = float(np.exp(np.sum(p * np.log(np.maximum(y.to_numpy(float), 1.0)))))
    mu = float(np.sum(p * y))
    if mu == 0:
        return ea, np.nan, "zero mean"
    return ea, 100 * (1 - ea / mu), None


# --------------------------------------------------------------------------- scores

def score(value, zero, full):
    """100 x clip((value - zero) / (full - zero), 0, 1); works for lower-is-better too."""
    s = 100 * (np.asarray(value, float) - zero) / (full - zero)
    return np.clip(s, 0, 100)


def _grid(values: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Every (year, unit) of `values` x ids, with value, null_reason, standard_error."""
    v = values.copy()
    v["district_code"] = v["district_code"].astype(str)
    for c in ("null_reason", "standard_error"):
        if c not in v.columns:
            v[c] = None if c == "null_reason" else np.nan
    units = v[["year", "district_code"]].drop_duplicates()
    grid = units.merge(pd.DataFrame({"indicator_id": ids}), how="cross")
    out = grid.merge(v[["year", "district_code", "indicator_id", "value", "null_reason",
                        "standard_error"]], how="left", on=["year", "district_code",
                                                            "indicator_id"])
    out["value"] = _floats(out["value"])
    out["standard_error"] = _floats(out["standard_error"])
    out["null_reason"] = [(_text(r) or NO_VALUE) if pd.isna(x) else _text(r)
                          for x, r in zip(out["value"], out["null_reason"], strict=True)]
    return out


def indicator_scores(values: pd.DataFrame, catalogue: pd.DataFrame, config: Config
                     ) -> pd.DataFrame:
    """One row per year, unit and in-index indicator: year, district_code, indicator_id,
    area, score, weight, obstacle_degree, obstacle_rank, null_reason (section 2, 3)."""
    cat = _prepared(catalogue, config)
    weights = effective_weights(cat, config, checked=False).set_index("indicator_id")
    incat = cat[cat["in_index"]].set_index("indicator_id")
    ids = list(incat.index)
    v = _grid(values, ids)
    zero = v["indicator_id"].map(incat["score_zero"])
    full = v["indicator_id"].map(incat["score_full"])
    v["score"] = score(v["value"], zero, full)
    v["area"] = v["indicator_id"].map(incat["area"])
    v["weight"] = v["indicator_id"].map(weights["weight"]).astype(float)
    gap = v["indicator_id"].map(weights["index_weight"]) * (100 - v["score"])
    total = gap.groupby([v["year"], v["district_code"]]).transform("sum")
    v["obstacle_degree"] = np.where(total > 0, gap / total.where(total > 0), np.nan)
    scored = v["score"].notna()
    no_shortfall = scored & ~(total > 0)
    v["null_reason"] = v["null_reason"].where(~scored, None)
    v.loc[no_shortfall, "null_reason"] = NO_SHORTFALL
    positive = v["obstacle_degree"].where(v["obstacle_degree"] > 0)
    rank = positive.groupby([v["year"], v["district_code"]]).rank(method="min",
                                                                   ascending=False)
    v["obstacle_rank"] = rank.where(rank <= 3).astype("Int64")
    return v[["year", "district_code", "indicator_id", "area", "score", "weight",
              "obstacle_degree", "obstacle_rank", "null_reason"]].sort_values(
        ["year", "district_code", "indicator_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------- areas

def area_scores(scores: pd.DataFrame, catalogue: pd.DataFrame, config: Config,
                population: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
    """One row per year, unit and area that takes part: year, district_code, area, score,
    indicators_scored, indicators_total, provisional, missing_indicators,
    equality_adjusted, loss_pct (city rows), null_reason (section 3)."""
    cat = _prepared(catalogue, config)
    totals = cat[cat["in_index"]].groupby("area").size()
    ok = scores["score"].notna()
    s = scores.assign(ok=ok, w_ok=scores["weight"].where(ok, 0.0),
                      ws=(scores["weight"] * scores["score"]).where(ok, 0.0),
                      miss=scores["indicator_id"].where(~ok))
    out = s.groupby(["year", "district_code", "area"], sort=True).agg(
        indicators_scored=("ok", "sum"), wsum=("w_ok", "sum"), wss=("ws", "sum"),
        missing_indicators=("miss", lambda m: ",".join(sorted(m.dropna())) or None)
    ).reset_index()
    out["indicators_total"] = out["area"].map(totals).astype(int)
    out["indicators_scored"] = out["indicators_scored"].astype(int)
    few = out["indicators_scored"] * 2 < out["indicators_total"]
    zero = ~few & ~(out["wsum"] > 0)
    out["score"] = (out["wss"] / out["wsum"].where(out["wsum"] > 0)).where(~few & ~zero)
    out["provisional"] = out["indicators_scored"] < out["indicators_total"]
    out["equality_adjusted"] = np.nan
    out["loss_pct"] = np.nan
    out["null_reason"] = pd.Series(np.where(few, FEWER_THAN_HALF, np.where(
        zero, "zero weight", None)), index=out.index, dtype=object)
    out = out[["year", "district_code", "area", "score", "indicators_scored",
               "indicators_total", "provisional", "missing_indicators", "equality_adjusted",
               "loss_pct", "null_reason"]]
    codes = _district_codes(districts)
    for (year, _area), g in out.groupby(["year", "area"]):
        city = g.index[g["district_code"] == CITY]
        if len(city) == 0:
            continue
        y = g.set_index("district_code")["score"].reindex(codes)
        ea, loss, why = equality_adjusted(y, population_weights(population, year, "residents",
                                                                codes))
        out.loc[city, ["equality_adjusted", "loss_pct"]] = [ea, loss]
        out.loc[city, "null_reason"] = _join([out.loc[city[0], "null_reason"], why])
    return out.sort_values(["year", "district_code", "area"]).reset_index(drop=True)


# --------------------------------------------------------------------------- the index

def aggregate(areas: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Attainment index from area scores (last axis); NaN when any area is NaN."""
    w = weights / weights.sum(axis=-1, keepdims=True)
    if method == "arithmetic":
        return np.sum(areas * w, axis=-1)
    return np.exp(np.sum(w * np.log(np.maximum(areas, 1.0)), axis=-1))


def rank_desc(values: np.ndarray) -> np.ndarray:
    """SQL RANK() on the last axis, highest first; ties share the best rank; NaN unranked."""
    v = np.where(np.isnan(values), -np.inf, values)
    r = 1 + (v[..., None, :] > v[..., :, None]).sum(axis=-1).astype(float)
    return np.where(np.isnan(values), np.nan, r)


def _rank_reason(index: pd.Series, scored_sets: pd.Series, codes: list[str]) -> str | None:
    """Why the districts of a year get no rank (None: they do). Indexed by district code."""
    if index.reindex(codes).isna().any():
        return "not every district has an index"
    if scored_sets.reindex(codes).nunique() != 1:
        return SETS_DIFFER
    return None


def attainment_index(areas: pd.DataFrame, catalogue: pd.DataFrame, config: Config,
                     population: pd.DataFrame, districts: pd.DataFrame,
                     progress: pd.DataFrame) -> pd.DataFrame:
    """One row per year and unit, the columns of equalisation_index (section 3).

    progress: target_progress rows of the same year(s) (for targets_met / targets_total).
    """
    cat = _prepared(catalogue, config)
    in_index = sorted(cat.loc[cat["in_index"], "indicator_id"])
    gating = [a for a in index_areas(cat) if config.area_weights[a] > 0]
    weights = np.array([config.area_weights[a] for a in gating], float)
    wide = areas.set_index(["year", "district_code", "area"])["score"].unstack(
        "area").reindex(columns=gating)
    wide.columns.name = None
    out = wide.reset_index()[["year", "district_code"]]
    out["attainment_index"] = aggregate(wide.to_numpy(float), weights, config.aggregation)
    missing = areas.groupby(["year", "district_code"])["missing_indicators"].agg(
        lambda s: ",".join(sorted(set().union(*map(_id_set, s)))) or None)
    out["missing_indicators"] = [missing.get((y, c)) for y, c in
                                 zip(out["year"], out["district_code"], strict=True)]
    out["provisional"] = out["missing_indicators"].notna()
    reasons = {k: [] for k in range(len(out))}
    for k, row in enumerate(wide.isna().to_numpy()):
        if row.any():
            reasons[k].append("area not scored: " + ", ".join(np.array(gating)[row]))
    codes = _district_codes(districts)
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["gap_to_city"] = np.nan
    out["relative_to_city"] = np.nan
    out["equality_adjusted_attainment"] = np.nan
    out["loss_pct"] = np.nan
    for year, g in out.groupby("year"):
        by_code = g.set_index("district_code")
        scored = by_code["missing_indicators"].map(
            lambda m: ",".join(i for i in in_index if i not in _id_set(m)))
        why = _rank_reason(by_code["attainment_index"], scored, codes)
        districts_here = g.index[g["district_code"].isin(codes)]
        if why is None:
            r = rank_desc(g.loc[districts_here, "attainment_index"].to_numpy(float))
            out.loc[districts_here, "rank"] = r.astype(int)
        else:
            for k in districts_here:
                reasons[k].append(why)
        city = g.index[g["district_code"] == CITY]
        city_index = float(g.loc[city[0], "attainment_index"]) if len(city) else np.nan
        for k in g.index:
            if pd.isna(out.loc[k, "attainment_index"]):
                continue
            if np.isnan(city_index):
                reasons[k].append("city index null")
                continue
            out.loc[k, "gap_to_city"] = out.loc[k, "attainment_index"] - city_index
            if city_index == 0:
                reasons[k].append("city index is 0")
            else:
                out.loc[k, "relative_to_city"] = out.loc[k, "attainment_index"] / city_index
        if len(city):
            ea, loss, why = equality_adjusted(
                by_code["attainment_index"].reindex(codes),
                population_weights(population, year, "residents", codes))
            out.loc[city, ["equality_adjusted_attainment", "loss_pct"]] = [ea, loss]
            reasons[city[0]].append(why)
    out["null_reason"] = [_join(reasons[k]) for k in range(len(out))]
    out = with_targets(out, progress)
    names = districts.set_index(districts["district_code"].astype(str))
    for c in ("name_zh", "name_en", "district_group"):
        out[c] = out["district_code"].map(names[c]).where(out["district_code"] != CITY,
                                                         CITY_NAMES[c])
    return out[["year", "district_code", "name_zh", "name_en", "district_group",
                "attainment_index", "rank", "gap_to_city", "relative_to_city", "targets_met",
                "targets_total", "provisional", "missing_indicators",
                "equality_adjusted_attainment", "loss_pct", "null_reason"]].sort_values(
        ["year", "district_code"]).reset_index(drop=True)


# --------------------------------------------------------------------------- equalisation

MEASURE_COLUMNS = ["year", "subject_kind", "subject_id", "weight_population", *MEASURES,
                   "null_reason"]


def measure_row(y: pd.Series, p: pd.Series, groups: pd.Series) -> tuple[dict, str | None]:
    """The measures of one subject and year from district-indexed y, p and groups."""
    if y.isna().any():
        return dict.fromkeys(MEASURES), DISTRICT_MISSING
    if p.isna().any() or not p.sum() > 0:
        return dict.fromkeys(MEASURES), "population missing"
    return all_measures(y.to_numpy(float), p.to_numpy(float), groups.to_numpy())


def equalisation_measures(values: pd.DataFrame, areas: pd.DataFrame, index: pd.DataFrame,
                          catalogue: pd.DataFrame, population: pd.DataFrame,
                          districts: pd.DataFrame) -> pd.DataFrame:
    """One row per year and subject (section 4): every equalise=yes indicator, every area
    score and the attainment index, across the districts."""
    cat = read_catalogue(catalogue)
    codes = _district_codes(districts)
    groups = districts.set_index(districts["district_code"].astype(str))[
        "district_group"].reindex(codes)
    eq = cat[cat["equalise"]]
    v = values.assign(district_code=values["district_code"].astype(str))
    rows = []
    for year in sorted(set(v["year"]) | set(areas["year"]) | set(index["year"])):
        subjects = []
        vy = v[v["year"] == year]
        for r in eq.itertuples(index=False):
            y = _floats(vy.loc[vy["indicator_id"] == r.indicator_id].set_index(
                "district_code")["value"]).reindex(codes)
            subjects.append(("indicator", r.indicator_id, r.weight_population, y))
        ay = areas[areas["year"] == year]
        for area in [a for a in AREAS if a in set(ay["area"])]:
            y = ay[ay["area"] == area].set_index("district_code")["score"].reindex(codes)
            subjects.append(("area", area, "residents", y))
        iy = index[index["year"] == year]
        if len(iy):
            subjects.append(("index", INDEX_ID, "residents", iy.set_index("district_code")[
                "attainment_index"].reindex(codes)))
        for kind, sid, wp, y in subjects:
            m, why = measure_row(_floats(y), population_weights(population, year, wp, codes),
                                 groups)
            rows.append({"year": year, "subject_kind": kind, "subject_id": sid,
                         "weight_population": wp, **m, "null_reason": why})
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS).astype(
        dict.fromkeys(MEASURES, float))


# --------------------------------------------------------------------------- progress

def meets(value: float, rule: str, target: float) -> bool:
    """x_t satisfies the rule; `~` ("about"): x_t >= 0.95 T."""
    return {">": value > target, ">=": value >= target, "<=": value <= target,
            "<": value < target, "~": value >= 0.95 * target}[rule]


def resolve_type(catalogue_type: str, baseline: float | None, rule: str, target: float
                 ) -> str:
    """The type for one unit: threshold, maintain and about become `maintain` when the
    unit's own base meets the rule, else `threshold` (`about` stays `about`)."""
    if catalogue_type in ("threshold", "maintain", "about") and baseline is not None \
            and not math.isnan(baseline):
        if meets(baseline, rule, target):
            return "maintain"
        return "about" if catalogue_type == "about" else "threshold"
    return catalogue_type


def progress_class(ratio: float) -> str:
    """Open SDG's classes on a linear path."""
    if ratio >= 0.95:
        return "substantial_progress"
    if ratio >= 0.6:
        return "moderate_progress"
    if ratio >= 0:
        return "limited_progress"
    return "deterioration"


def assess(year: int, value: float, base_year: int, baseline: float, target: float,
           rule: str, unit_type: str, precision: float = np.nan, flag: bool = False) -> dict:
    """Status, P, R, time share and growth of one unit and year whose value is not null.

    unit_type: the resolved type (threshold, maintain, about, cumulative, reduction);
    flag: a district row of the flag form (level only).
    """
    out = {"status": None, "progress_share": np.nan, "ratio": np.nan, "time_share": np.nan,
           "actual_growth": np.nan, "required_growth": np.nan, "null_reason": None}
    reasons = []
    span = FINAL_YEAR - base_year
    if span > 0:
        out["time_share"] = (year - base_year) / span
    met = meets(value, rule, target)
    # A flag district is judged on its level whatever its resolved type.
    level_only = flag or (unit_type in ("threshold", "about") and not np.isnan(precision)
                          and abs(target - baseline) < precision / 2)
    if level_only:
        reasons.append("level only")
    elif unit_type == "maintain":
        reasons.append("maintain target")
    elif target == baseline:
        reasons.append("no gap at base")
    else:
        out["progress_share"] = (value - baseline) / (target - baseline)
        if year == base_year:
            reasons.append("base year")
        else:
            out["ratio"] = out["progress_share"] / out["time_share"]
    if met:
        out["status"] = "achieved"
    elif level_only:
        out["status"] = "not_met"
    elif year == base_year:
        out["status"] = "insufficient_data"
    elif unit_type == "maintain":
        out["status"] = "deterioration"
    elif np.isnan(out["ratio"]):
        out["status"] = "not_met"
    else:
        out["status"] = progress_class(out["ratio"])
    if baseline <= 0:
        reasons.append("baseline <= 0")
    elif target <= 0:
        reasons.append("target <= 0")
    else:
        if year == base_year:
            reasons.append("base year")
        elif value < 0:
            reasons.append("negative value")
        else:
            out["actual_growth"] = (value / baseline) ** (1 / (year - base_year)) - 1
        if span > 0:
            out["required_growth"] = (target / baseline) ** (1 / span) - 1
    out["null_reason"] = _join(reasons)
    return out


def significance(value: float, se: float, baseline: float, se_base: float, target: float
                 ) -> tuple[bool | None, bool | None]:
    """(significant, significant_change) of an estimate; None where a se is missing."""
    significant = change = None
    if not (np.isnan(value) or np.isnan(se)):
        significant = bool(value - 1.96 * se > target or value + 1.96 * se < target)
        if not (np.isnan(baseline) or np.isnan(se_base)):
            change = bool(abs(value - baseline) > 1.96 * math.sqrt(se ** 2 + se_base ** 2))
    return significant, change


PROGRESS_COLUMNS = ["year", "district_code", "indicator_id", "target_type", "base_year",
                    "baseline", "baseline_published", "value", "target", "target_rule",
                    "actual_growth", "required_growth", "ratio", "progress_share",
                    "time_share", "status", "significant", "significant_change",
                    "null_reason"]


def target_progress(values: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per year, unit and targeted indicator (section 5)."""
    cat = read_catalogue(catalogue)
    targeted = cat[cat["target_type"].notna()].set_index("indicator_id")
    v = _grid(values, list(targeted.index)).sort_values(["indicator_id", "district_code",
                                                         "year"])
    groups: dict[tuple, list[dict]] = {}
    for r in v.to_dict("records"):
        groups.setdefault((r["indicator_id"], r["district_code"]), []).append(r)
    info = targeted.to_dict("index")
    rows = []
    for (iid, code), g in groups.items():
        c = info[iid]
        target, rule, ctype = float(c["target_2025"]), c["target_rule"], c["target_type"]
        known = [r for r in g if not np.isnan(r["value"])]
        if ctype in ("cumulative", "reduction"):
            t0, x0, se0 = BASELINE_YEAR, 0.0, np.nan
        elif known:
            t0, x0, se0 = int(known[0]["year"]), known[0]["value"], known[0]["standard_error"]
        else:
            t0, x0, se0 = None, np.nan, np.nan
        unit_type = resolve_type(ctype, x0, rule, target)
        flag = c["form"] == "flag" and code != CITY
        estimate = c["form"] == "estimate"
        for r in g:
            year, value = int(r["year"]), float(r["value"])
            row = {"year": year, "district_code": code, "indicator_id": iid,
                   "target_type": unit_type, "base_year": t0, "baseline": x0,
                   "baseline_published": c["baseline_2020"] if code == CITY else np.nan,
                   "value": value, "target": target, "target_rule": rule,
                   "significant": None, "significant_change": None}
            if t0 is not None and FINAL_YEAR > t0:
                row["time_share"] = (year - t0) / (FINAL_YEAR - t0)
            if ctype == "cumulative" and code != CITY:
                row["null_reason"] = "city target only"
            elif np.isnan(value):
                row["null_reason"] = r["null_reason"]
            elif year < t0:
                row["null_reason"] = "before base year"
            else:
                row |= assess(year, value, t0, x0, target, rule, unit_type,
                              float(c["precision"]), flag)
            if estimate and not np.isnan(value):
                row["significant"], row["significant_change"] = significance(
                    value, float(r["standard_error"]), x0, float(se0), target)
                if row["significant"] is None or row["significant_change"] is None:
                    row["null_reason"] = _join([row.get("null_reason"), "no standard error"])
            rows.append(row)
    out = pd.DataFrame(rows, columns=PROGRESS_COLUMNS)
    out["base_year"] = out["base_year"].astype("Int64")
    for c in ("significant", "significant_change"):
        out[c] = out[c].astype("boolean")
    for c in ("baseline", "baseline_published", "value", "target", "actual_growth",
              "required_growth", "ratio", "progress_share", "time_share"):
        out[c] = out[c].astype(float)
    return out.sort_values(["year", "district_code", "indicator_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------- convergence

def convergence(area_scores: pd.DataFrame, index: pd.DataFrame, measures: pd.DataFrame,
                districts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per subject (the index, each area): σ and β convergence over the years in
    which every district has an attainment index (section 4)."""
    d = index[index["district_code"] != CITY]
    n_districts = len(districts) if districts is not None else d.groupby("year").size().max()
    per_year = d.groupby("year")["attainment_index"].agg(lambda s: s.notna().sum())
    years = sorted(int(y) for y, n in per_year.items() if n == n_districts and n > 0)
    subjects = [("index", INDEX_ID, d.rename(columns={"attainment_index": "value"}))]
    a = area_scores[area_scores["district_code"] != CITY].rename(columns={"score": "value"})
    subjects += [("area", area, a[a["area"] == area]) for area in AREAS
                 if area in set(a["area"])]
    rows = []
    for kind, sid, s in subjects:
        row = {"subject_kind": kind, "subject_id": sid,
               "first_year": years[0] if years else None,
               "last_year": years[-1] if years else None, "sigma_slope": np.nan,
               "beta": np.nan, "beta_se": np.nan, "n": 0}
        reasons = []
        m = measures[(measures["subject_kind"] == kind) & (measures["subject_id"] == sid)
                     & measures["year"].isin(years)]
        sigma = ols(m["year"], _floats(m["williamson"]))
        if sigma is None:
            reasons.append("fewer than 2 years")
        else:
            row["sigma_slope"] = sigma[0]
        if len(years) >= 2:
            first, last = years[0], years[-1]
            y0 = s[s["year"] == first].set_index("district_code")["value"]
            y1 = s[s["year"] == last].set_index("district_code")["value"]
            both = pd.concat([y0, y1], axis=1, keys=["y0", "y1"]).astype(float).dropna()
            both = both[(both["y0"] > 0) & (both["y1"] > 0)]
            row["n"] = len(both)
            growth = (np.log(both["y1"]) - np.log(both["y0"])) / (last - first)
            beta = ols(np.log(both["y0"]), growth)
            if beta is None:
                reasons.append("no spread in the first year")
            else:
                row["beta"], row["beta_se"] = beta[0], beta[1]
                if np.isnan(beta[1]):
                    reasons.append("fewer than 3 districts")
        rows.append(row | {"null_reason": _join(reasons)})
    out = pd.DataFrame(rows, columns=["subject_kind", "subject_id", "first_year", "last_year",
                                      "sigma_slope", "beta", "beta_se", "n", "null_reason"])
    return out.astype({"first_year": "Int64", "last_year": "Int64", "n": "Int64",
                       "sigma_slope": float, "beta": float, "beta_se": float})


# --------------------------------------------------------------------------- sensitivity

def _index_draws(scores, w, aw, geometric, member, n_total) -> np.ndarray:
    """scores: draws x districts x indicators (NaN = unscored) -> draws x districts."""
    scored = ~np.isnan(scores)
    s = np.nan_to_num(scores)
    wk = w[:, None, :] * scored
    num = np.einsum("dki,ij->dkj", wk * s, member)
    den = np.einsum("dki,ij->dkj", wk, member)
    n_scored = np.einsum("dki,ij->dkj", scored.astype(float), member)
    with np.errstate(invalid="ignore", divide="ignore"):
        areas = np.where((n_scored * 2 >= n_total) & (den > 0), num / den, np.nan)
    awn = aw / aw.sum(axis=-1, keepdims=True)
    arith = np.sum(areas * awn[:, None, :], axis=-1)
    with np.errstate(invalid="ignore"):
        geom = np.exp(np.sum(awn[:, None, :] * np.log(np.maximum(areas, 1.0)), axis=-1))
    return np.where(geometric[:, None], geom, arith)


def rank_sensitivity(values: pd.DataFrame, catalogue: pd.DataFrame, config: Config,
                     districts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per year and district: Monte Carlo over normalisation, aggregation and the
    indicator and area weights (section 6), vectorised over the draws."""
    cat = _prepared(catalogue, config)
    ew = effective_weights(cat, config, checked=False)
    ew = ew[ew["in_index"]].reset_index(drop=True)
    inc = cat[cat["in_index"]].reset_index(drop=True)
    ids = list(inc["indicator_id"])
    gating = [a for a in index_areas(cat) if config.area_weights[a] > 0]
    member = np.array([[a == g for g in gating] for a in inc["area"]], float)
    n_total = np.array([(inc["area"] == g).sum() for g in gating], float)
    base_w = ew["weight"].to_numpy(float)
    base_aw = np.array([config.area_weights[a] for a in gating], float)
    zero, full = inc["score_zero"].to_numpy(float), inc["score_full"].to_numpy(float)
    lower_better = (inc["direction"] == "-").to_numpy()
    rng = np.random.default_rng(config.seed)
    n = config.draws
    # The same draws serve every year, so that years compare.
    use_minmax = rng.random(n) < 0.5
    use_geometric = rng.random(n) < 0.5
    w_draw = base_w * rng.uniform(0.75, 1.25, (n, len(ids)))
    aw_draw = base_aw * rng.uniform(0.75, 1.25, (n, len(gating)))
    v = values.assign(district_code=values["district_code"].astype(str))
    v = v[v["district_code"] != CITY]
    codes = _district_codes(districts) if districts is not None else sorted(
        v["district_code"].unique())
    rows = []
    for year, g in v.groupby("year"):
        wide = g.set_index(["district_code", "indicator_id"])["value"].unstack(
            "indicator_id").reindex(index=codes, columns=ids)
        x = wide.to_numpy(float)
        goal = np.clip(100 * (x - zero) / (full - zero), 0, 100)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a column with no value
            lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
            span = np.where(hi > lo, hi - lo, np.nan)
            mm = 100 * np.where(lower_better, hi - x, x - lo) / span
        mm = np.where(np.isnan(span) & ~np.isnan(x), 100.0, mm)  # no spread: nobody behind
        default = _index_draws(goal[None], base_w[None], base_aw[None],
                               np.array([config.aggregation == "geometric"]), member,
                               n_total)[0]
        scored = pd.Series([",".join(i for i, ok in zip(ids, ~np.isnan(row), strict=True)
                                     if ok) for row in x], index=codes)
        why = _rank_reason(pd.Series(default, index=codes), scored, codes)
        if why is None:
            r0 = rank_desc(default[None])[0]
            ranks = rank_desc(_index_draws(np.where(use_minmax[:, None, None], mm[None],
                                                    goal[None]), w_draw, aw_draw,
                                           use_geometric, member, n_total))
        for k, code in enumerate(codes):
            row = {"year": year, "district_code": code, "rank_default": None,
                   "rank_median": np.nan, "rank_p05": np.nan, "rank_p95": np.nan,
                   "mean_abs_shift": np.nan, "draws": n, "seed": config.seed,
                   "null_reason": why}
            if why is None:
                col = ranks[:, k]
                row |= {"rank_default": int(r0[k]), "rank_median": float(np.median(col)),
                        "rank_p05": float(np.percentile(col, 5)),
                        "rank_p95": float(np.percentile(col, 95)),
                        "mean_abs_shift": float(np.mean(np.abs(col - r0[k])))}
            rows.append(row)
    out = pd.DataFrame(rows, columns=["year", "district_code", "rank_default", "rank_median",
                                      "rank_p05", "rank_p95", "mean_abs_shift", "draws",
                                      "seed", "null_reason"])
    return out.astype({"rank_default": "Int64", "rank_median": float, "rank_p05": float,
                       "rank_p95": float, "mean_abs_shift": float})


# --------------------------------------------------------------------------- entry points

def withhold_incomplete_years(areas: pd.DataFrame, index: pd.DataFrame,
                              measures: pd.DataFrame, districts: pd.DataFrame
                              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Section 7: a year's index, area scores, their measures and ranks are published only
    when every district has every area scored; otherwise they are null with the reason."""
    areas, index, measures = areas.copy(), index.copy(), measures.copy()
    codes = _district_codes(districts)
    for year in sorted(set(areas["year"])):
        a = areas[(areas["year"] == year) & areas["district_code"].isin(codes)]
        absent = [c for c in codes if c not in set(a["district_code"])]
        if not a["score"].isna().any() and not absent:
            continue
        unscored = a[a["score"].isna()]
        missing = ", ".join(f"{area} ({n} of {len(codes)} districts)" for area, n in
                            unscored.groupby("area")["district_code"].nunique().items())
        detail = missing + ("; " if missing and absent else "") + (
            f"no scores for {', '.join(absent)}" if absent else "")
        reason = f"withheld: not every district has every area scored: {detail}"
        ay, iy = areas["year"] == year, index["year"] == year
        areas.loc[ay, ["score", "equality_adjusted", "loss_pct"]] = np.nan
        areas.loc[ay, "null_reason"] = reason
        index.loc[iy, ["attainment_index", "gap_to_city", "relative_to_city",
                       "equality_adjusted_attainment", "loss_pct"]] = np.nan
        index.loc[iy, "rank"] = pd.NA
        index.loc[iy, "null_reason"] = reason
        my = (measures["year"] == year) & measures["subject_kind"].isin(["area", "index"])
        measures.loc[my, list(MEASURES)] = np.nan
        measures.loc[my, "null_reason"] = reason
    return areas, index, measures


def year_results(values: pd.DataFrame, catalogue: pd.DataFrame, population: pd.DataFrame,
                 districts: pd.DataFrame, config: Config, year: int | None = None
                 ) -> dict[str, pd.DataFrame]:
    """The per-year tables of one reporting year: indicator_scores, area_scores,
    equalisation_index, equalisation_measures (each with methodology_version).

    values: the indicator values of the year and of the earlier years (2020 ..): the
    earlier ones give the progress bases behind targets_met. year: default the latest.
    """
    cat = _prepared(catalogue, config)
    year = int(values["year"].max()) if year is None else int(year)
    upto = values[values["year"] <= year]
    this = upto[upto["year"] == year]
    progress = target_progress(upto, cat)
    scores = indicator_scores(this, cat, config)
    areas = area_scores(scores, cat, config, population, districts)
    index = attainment_index(areas, cat, config, population, districts,
                             progress[progress["year"] == year])
    measures = equalisation_measures(this, areas, index, cat, population, districts)
    areas, index, measures = withhold_incomplete_years(areas, index, measures, districts)
    out = {"indicator_scores": scores, "area_scores": areas, "equalisation_index": index,
           "equalisation_measures": measures}
    for frame in out.values():
        frame["methodology_version"] = config.methodology_version
    return out


def with_targets(index: pd.DataFrame, progress: pd.DataFrame) -> pd.DataFrame:
    """index with targets_met / targets_total counted from target_progress rows: the
    unit's targeted indicators with status `achieved` / with any status."""
    met = progress.assign(met=progress["status"] == "achieved",
                          any=progress["status"].notna()).groupby(
        ["year", "district_code"])[["met", "any"]].sum()
    keys = list(zip(index["year"], index["district_code"], strict=True))
    return index.assign(
        targets_met=pd.array([int(met["met"].get(k, 0)) for k in keys], dtype="Int64"),
        targets_total=pd.array([int(met["any"].get(k, 0)) for k in keys], dtype="Int64"))


def cross_year(values: pd.DataFrame, area_scores: pd.DataFrame, equalisation_index:
               pd.DataFrame, equalisation_measures: pd.DataFrame, catalogue: pd.DataFrame,
               config: Config, districts: pd.DataFrame | None = None
               ) -> dict[str, pd.DataFrame]:
    """target_progress, convergence and rank_sensitivity over every year given (each with
    methodology_version). The frames are those year_results made (or read back)."""
    cat = _prepared(catalogue, config)
    out = {
        "target_progress": target_progress(values, cat),
        "convergence": convergence(area_scores, equalisation_index, equalisation_measures,
                                   districts),
        "rank_sensitivity": rank_sensitivity(values, cat, config, districts),
    }
    for frame in out.values():
        frame["methodology_version"] = config.methodology_version
    return out
