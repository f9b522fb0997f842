"""Scores, obstacle degrees, area scores, the index, ranks, equality-adjusted attainment,
section 7 withholding, convergence and rank sensitivity (methodology.md 2.0, sections 2-6),
on small hand-made catalogues with numbers worked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from junheng import PROJECT_ROOT
from junheng.methodology.index import (
    AREAS,
    CITY,
    Config,
    area_scores,
    attainment_index,
    convergence,
    effective_weights,
    index_areas,
    indicator_scores,
    rank_desc,
    rank_sensitivity,
    read_catalogue,
    score,
    target_progress,
    year_results,
)

CODES = ["320505", "320506", "320507", "320508", "320509", "320571", "320581", "320582",
         "320583", "320585"]
URBAN = CODES[:6]


def catalogue(*rows: dict) -> pd.DataFrame:
    """A catalogue as read from the CSV: strings, 'yes'/'no', blanks."""
    base = {"table1_no": "", "direction": "+", "form": "computed",
            "weight_population": "residents", "in_index": "yes", "weight": "1",
            "baseline_2020": "", "target_2025": "", "target_type": "", "target_rule": "",
            "score_zero": "0", "score_full": "100", "precision": "0.1", "equalise": "yes"}
    return read_catalogue(pd.DataFrame([base | r for r in rows]))


# X1, X2 in early_years (weights 1 and 3), Y1 in health (lower is better), N1 outside.
MINI = catalogue(
    {"indicator_id": "X1", "area": "early_years", "target_2025": "90",
     "target_type": "threshold", "target_rule": ">=", "baseline_2020": "80"},
    {"indicator_id": "X2", "area": "early_years", "weight": "3", "score_zero": "50"},
    {"indicator_id": "Y1", "area": "health", "direction": "-", "score_zero": "20",
     "score_full": "10"},
    {"indicator_id": "N1", "area": "health", "in_index": "no", "weight": "0",
     "equalise": "no"},
)


def districts() -> pd.DataFrame:
    return pd.DataFrame({"district_code": CODES, "name_zh": [f"区{i}" for i in range(10)],
                         "name_en": [f"D{i}" for i in range(10)],
                         "district_group": ["urban_district" if c in URBAN else "county_city"
                                            for c in CODES]})


def population(residents=None, year=2023) -> pd.DataFrame:
    residents = residents or [100] * 10
    return pd.DataFrame({"year": year, "district_code": CODES, "residents": residents,
                         "age_0_2": 1, "age_3_5": 1, "age_6_14": 1, "age_0_14": 3,
                         "age_15_59": 50, "age_60_plus": 20})


def values_for(level: dict[str, float], year=2023, **override) -> pd.DataFrame:
    """Each unit's X1, X2, Y1 set so that all three score `level` (index = level)."""
    rows = []
    for code, v in level.items():
        vals = {"X1": v, "X2": 50 + v / 2, "Y1": 20 - v / 10, "N1": 1.0}
        vals |= override.get(code, {})
        rows += [(year, code, i, x, None if not np.isnan(x) else "not submitted", np.nan)
                 for i, x in vals.items()]
    return pd.DataFrame(rows, columns=["year", "district_code", "indicator_id", "value",
                                       "null_reason", "standard_error"])


def run_year(level, residents=None, config=None, **override):
    values = values_for(level, **override)
    return year_results(values, MINI, population(residents), districts(), config or Config())


# --------------------------------------------------------------------------- catalogue, config

def test_read_catalogue_types_and_is_idempotent():
    assert MINI["in_index"].dtype == bool and MINI["equalise"].dtype == bool
    assert MINI.set_index("indicator_id").loc["X1", "target_2025"] == 90.0
    assert math.isnan(MINI.set_index("indicator_id").loc["X2", "target_2025"])
    assert MINI.set_index("indicator_id").loc["X2", "target_type"] is None
    assert str(MINI["table1_no"].dtype) == "Int64"
    pd.testing.assert_frame_equal(read_catalogue(MINI), MINI)
    assert index_areas(MINI) == ("early_years", "health")


def _real_catalogue() -> pd.DataFrame:
    for path in (PROJECT_ROOT / "warehouse" / "seeds" / "indicators.csv",
                 PROJECT_ROOT.parent / "shared" / "reference" / "indicators.csv"):
        if Path(path).exists():
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            if "area" in frame.columns:
                return frame
    pytest.skip("no 2.0 catalogue here")


def test_the_plan_catalogue_and_its_effective_weights():
    cat = read_catalogue(_real_catalogue())
    assert len(cat) == 41 and index_areas(cat) == AREAS
    w = effective_weights(cat, Config()).set_index("indicator_id")
    assert w["index_weight"].sum() == pytest.approx(1.0)
    # health: H1 H2 H3 H4 at 1, H6 H7 at 0.5 -> 5; 13 equal areas
    assert w.loc["H6", "index_weight"] == pytest.approx(0.5 / 5 / 13)
    assert w.loc["A2", "index_weight"] == 0 and w.loc["I1", "index_weight"] == 0
    w = effective_weights(cat, Config(area_weights={"health": 2},
                                      indicator_weights={"H1": 2})).set_index("indicator_id")
    assert w.loc["H1", "index_weight"] == pytest.approx(2 / 6 * 2 / 14)


def test_config_defaults_fill_every_area():
    c = Config(area_weights={"health": 2})
    assert c.area_weights["health"] == 2.0 and c.area_weights["safety"] == 1.0
    assert set(c.as_dict()["area_weights"]) == set(AREAS)


@pytest.mark.parametrize("kwargs, match", [
    ({"aggregation": "median"}, "aggregation"),
    ({"area_weights": {"healthcare": 1}}, "healthcare"),
    ({"area_weights": {"health": -1}}, "health"),
    ({"area_weights": {"health": float("nan")}}, "health"),
    ({"area_weights": {"health": float("inf")}}, "health"),
    ({"area_weights": {"health": True}}, "health"),
    ({"area_weights": {"health": "1"}}, "health"),
    ({"indicator_weights": {"X1": -0.5}}, "X1"),
    ({"draws": 0}, "draws"),
    ({"methodology_version": "1.0"}, "methodology_version"),
])
def test_config_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Config(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"indicator_weights": {"ZZ": 1}}, "unknown indicator 'ZZ'"),
    ({"indicator_weights": {"N1": 1}}, "'N1' is not in the index"),
    ({"indicator_weights": {"Y1": 0}}, "area 'health'"),
    ({"area_weights": {"early_years": 0, "health": 0}}, "sum to 0"),
])
def test_config_refuses_weights_that_do_not_fit_the_catalogue(kwargs, match):
    with pytest.raises(ValueError, match=match):
        indicator_scores(values_for({"320505": 50}), MINI, Config(**kwargs))


# --------------------------------------------------------------------------- scores, obstacles

def test_scores_with_fixed_goalposts():
    assert score(70, 50, 90) == pytest.approx(50.0)
    assert score(95, 50, 90) == 100 and score(40, 50, 90) == 0
    assert score(17, 20, 14) == pytest.approx(50.0)        # lower is better
    assert score(13, 20, 14) == 100 and score(25, 20, 14) == 0


def test_scores_and_obstacle_degrees():
    # X1 = 40 -> 40; X2 = 75 -> 50; Y1 = 15 -> 50. Area weights 1/2 each.
    # w: X1 = 1/4 x 1/2, X2 = 3/4 x 1/2, Y1 = 1 x 1/2; gaps 7.5, 18.75, 25 of 51.25.
    v = values_for({"320505": 0}, **{"320505": {"X1": 40.0, "X2": 75.0, "Y1": 15.0}})
    s = indicator_scores(v, MINI, Config()).set_index("indicator_id")
    assert list(s.index) == ["X1", "X2", "Y1"]                   # N1 is not in the index
    assert s.loc["X1", "score"] == pytest.approx(40)
    assert s.loc["X2", "score"] == pytest.approx(50) and s.loc["X2", "weight"] == 3
    assert s.loc["Y1", "score"] == pytest.approx(50) and s.loc["Y1", "area"] == "health"
    assert s.loc["X1", "obstacle_degree"] == pytest.approx(7.5 / 51.25)
    assert s.loc["X2", "obstacle_degree"] == pytest.approx(18.75 / 51.25)
    assert s.loc["Y1", "obstacle_degree"] == pytest.approx(25 / 51.25)
    assert list(s["obstacle_rank"]) == [3, 2, 1]


def test_obstacle_ranks_top_three_with_ties_and_no_shortfall():
    cat = catalogue(*[{"indicator_id": f"Z{k}", "area": "safety"} for k in range(5)])
    rows = [(2023, "320505", f"Z{k}", x) for k, x in enumerate([0.0, 50, 80, 80, 100])]
    rows += [(2023, "320506", f"Z{k}", 100.0) for k in range(5)]
    rows += [(2023, "320507", f"Z{k}", x) for k, x in enumerate([0.0, 50, 50, 80, np.nan])]
    v = pd.DataFrame(rows, columns=["year", "district_code", "indicator_id", "value"])
    s = indicator_scores(v, cat, Config()).set_index(["district_code", "indicator_id"])
    # gaps 100, 50, 20, 20, 0 of 190: a tie at third place shares it; 0 is no obstacle
    assert list(s.loc["320505", "obstacle_rank"].astype(object).fillna(0)) == [1, 2, 3, 3, 0]
    assert s.loc[("320505", "Z0"), "obstacle_degree"] == pytest.approx(100 / 190)
    assert s.loc[("320505", "Z4"), "obstacle_degree"] == 0
    # all at 100: no shortfall
    assert s.loc["320506", "obstacle_degree"].isna().all()
    assert (s.loc["320506", "null_reason"] == "no shortfall").all()
    assert s.loc["320506", "obstacle_rank"].isna().all()
    # gaps 100, 50, 50, 20 (Z4 unscored): ranks 1, 2, 2, then none
    assert list(s.loc["320507", "obstacle_rank"].astype(object).fillna(0)) == [1, 2, 2, 0, 0]
    assert s.loc[("320507", "Z4"), "null_reason"] == "no value"


# --------------------------------------------------------------------------- areas, index

def _index_inputs(v, cat=MINI, config=None, residents=None, progress=None):
    config = config or Config()
    s = indicator_scores(v, cat, config)
    a = area_scores(s, cat, config, population(residents), districts())
    if progress is None:
        progress = target_progress(v, cat)
    return s, a, attainment_index(a, cat, config, population(residents), districts(), progress)


def test_area_scores_and_the_index_arithmetic_and_geometric():
    v = values_for({"320505": 0}, **{"320505": {"X1": 40.0, "X2": 75.0, "Y1": 15.0}})
    _, a, idx = _index_inputs(v)
    a = a.set_index("area")
    assert a.loc["early_years", "score"] == pytest.approx((40 + 3 * 50) / 4)   # 47.5
    assert a.loc["health", "score"] == pytest.approx(50)
    assert a.loc["early_years", "indicators_total"] == 2 and not a["provisional"].any()
    assert idx["attainment_index"].iloc[0] == pytest.approx((47.5 + 50) / 2)
    geo = Config(aggregation="geometric")
    assert _index_inputs(v, config=geo)[2]["attainment_index"].iloc[0] == pytest.approx(
        math.sqrt(47.5 * 50))
    weighted = Config(area_weights={"health": 3})
    assert _index_inputs(v, config=weighted)[2]["attainment_index"].iloc[0] == pytest.approx(
        (47.5 + 3 * 50) / 4)
    # geometric floors an area at 1: health 0 -> sqrt(47.5 x 1)
    v0 = values_for({"320505": 0}, **{"320505": {"X1": 40.0, "X2": 75.0, "Y1": 25.0}})
    assert _index_inputs(v0, config=geo)[2]["attainment_index"].iloc[0] == pytest.approx(
        math.sqrt(47.5))


def test_half_of_an_area_is_enough_fewer_is_null_and_marked_provisional():
    # early_years with X2 missing: 1 of 2 scored (half) -> X1's score alone
    v = values_for({"320505": 60}, **{"320505": {"X2": np.nan}})
    _, a, idx = _index_inputs(v)
    ey = a.set_index("area").loc["early_years"]
    assert ey["score"] == pytest.approx(60) and ey["provisional"]
    assert ey["missing_indicators"] == "X2" and ey["indicators_scored"] == 1
    assert not a.set_index("area").loc["health", "provisional"]
    row = idx.iloc[0]
    assert row["attainment_index"] == pytest.approx(60)
    assert row["provisional"] and row["missing_indicators"] == "X2"
    # health with Y1 missing: 0 of 1 -> null area, null index
    v = values_for({"320505": 60}, **{"320505": {"Y1": np.nan, "X2": np.nan}})
    _, a, idx = _index_inputs(v)
    assert pd.isna(a.set_index("area").loc["health", "score"])
    assert a.set_index("area").loc["health", "null_reason"] == "fewer than half scored"
    assert pd.isna(idx["attainment_index"].iloc[0])
    assert idx["missing_indicators"].iloc[0] == "X2,Y1"
    assert "area not scored: health" in idx["null_reason"].iloc[0]


def test_ranks_ties_gaps_and_the_city():
    level = dict(zip(CODES, [50.0, 60, 60, 70, 20, 30, 40, 80, 90, 10], strict=True))
    level[CITY] = 40.0
    idx = run_year(level)["equalisation_index"].set_index("district_code")
    assert idx.loc["320506", "rank"] == 4 and idx.loc["320507", "rank"] == 4
    assert idx.loc["320583", "rank"] == 1 and idx.loc["320585", "rank"] == 10
    assert idx.loc["320505", "rank"] == 6
    assert pd.isna(idx.loc[CITY, "rank"]) and pd.isna(idx.loc[CITY, "null_reason"])
    assert idx.loc["320505", "gap_to_city"] == pytest.approx(10)
    assert idx.loc["320505", "relative_to_city"] == pytest.approx(50 / 40)
    assert idx.loc[CITY, "name_en"] == "Suzhou (city)"
    assert idx.loc["320505", "district_group"] == "urban_district"


def test_rank_withheld_when_indicator_sets_differ_but_not_when_all_miss_the_same():
    level = dict(zip(CODES, range(10, 110, 10), strict=True)) | {CITY: 50.0}
    idx = run_year(level, **{"320505": {"X2": np.nan}})["equalisation_index"]
    d = idx.set_index("district_code")
    assert d["rank"].isna().all()
    assert d.loc["320506", "null_reason"] == "indicator sets differ"
    assert d.loc["320505", "provisional"] and not d.loc["320506", "provisional"]
    idx = run_year(level, **{c: {"X2": np.nan} for c in CODES})["equalisation_index"]
    d = idx.set_index("district_code")
    assert d.loc["320585", "rank"] == 1 and d.loc[CODES, "provisional"].all()
    assert not d.loc[CITY, "provisional"]


def test_equality_adjusted_attainment_and_loss():
    # p = 1/10 each; five at 40 and five at 90: 40^0.5 x 90^0.5 = 60, mu = 65
    level = dict(zip(CODES, [40.0] * 5 + [90.0] * 5, strict=True)) | {CITY: 70.0}
    out = run_year(level)
    city = out["equalisation_index"].set_index("district_code").loc[CITY]
    assert city["equality_adjusted_attainment"] == pytest.approx(60)
    assert city["loss_pct"] == pytest.approx(100 * (1 - 60 / 65))
    assert pd.isna(out["equalisation_index"].set_index("district_code").loc[
        "320505", "equality_adjusted_attainment"])
    area = out["area_scores"].set_index(["district_code", "area"]).loc[(CITY, "health")]
    assert area["equality_adjusted"] == pytest.approx(60)
    assert area["loss_pct"] == pytest.approx(100 * (1 - 60 / 65))
    # residents 1:3 and a value under 1 floored at 1: 1^0.25 x 16^0.75 = 8
    level = dict(zip(CODES, [0.5] * 5 + [16.0] * 5, strict=True)) | {CITY: 10.0}
    city = run_year(level, residents=[100] * 5 + [300] * 5)["equalisation_index"].set_index(
        "district_code").loc[CITY]
    mu = 0.25 * 0.5 + 0.75 * 16
    assert city["equality_adjusted_attainment"] == pytest.approx(8)
    assert city["loss_pct"] == pytest.approx(100 * (1 - 8 / mu))


def test_targets_met_come_from_the_statuses_of_the_year():
    # X1 (target >= 90): 2020 at 80 everywhere; 2023: the first district 95, the others 85
    base = values_for(dict.fromkeys([*CODES, CITY], 80.0), year=2020)
    year = values_for(dict.fromkeys([*CODES, CITY], 85.0), **{"320505": {"X1": 95.0}})
    out = year_results(pd.concat([base, year]), MINI, population(), districts(), Config())
    idx = out["equalisation_index"].set_index("district_code")
    assert (idx.loc["320505", "targets_met"], idx.loc["320505", "targets_total"]) == (1, 1)
    assert (idx.loc["320506", "targets_met"], idx.loc["320506", "targets_total"]) == (0, 1)
    assert set(out["equalisation_index"]["year"]) == {2023}


def test_a_year_is_withheld_when_a_district_lacks_an_area():
    level = dict(zip(CODES, range(10, 110, 10), strict=True)) | {CITY: 50.0}
    out = run_year(level, **{"320505": {"Y1": np.nan}})
    idx, areas, m = out["equalisation_index"], out["area_scores"], out["equalisation_measures"]
    assert idx["attainment_index"].isna().all() and idx["rank"].isna().all()
    assert idx["null_reason"].str.startswith("withheld").all()
    assert "health (1 of 10 districts)" in idx["null_reason"].iloc[0]
    assert areas["score"].isna().all()
    assert m.loc[m["subject_kind"] != "indicator", "williamson"].isna().all()
    assert m.loc[m["subject_id"] == "X1", "williamson"].notna().all()   # indicators stay
    assert out["indicator_scores"]["score"].notna().sum() == 32


def test_year_results_columns():
    level = dict(zip([*CODES, CITY], range(10, 120, 10), strict=True))
    out = run_year(level)
    assert list(out) == ["indicator_scores", "area_scores", "equalisation_index",
                         "equalisation_measures"]
    assert list(out["equalisation_index"].columns) == [
        "year", "district_code", "name_zh", "name_en", "district_group", "attainment_index",
        "rank", "gap_to_city", "relative_to_city", "targets_met", "targets_total",
        "provisional", "missing_indicators", "equality_adjusted_attainment", "loss_pct",
        "null_reason", "methodology_version"]
    assert list(out["area_scores"].columns) == [
        "year", "district_code", "area", "score", "indicators_scored", "indicators_total",
        "provisional", "missing_indicators", "equality_adjusted", "loss_pct", "null_reason",
        "methodology_version"]
    assert list(out["indicator_scores"].columns) == [
        "year", "district_code", "indicator_id", "area", "score", "weight",
        "obstacle_degree", "obstacle_rank", "null_reason", "methodology_version"]
    for frame in out.values():
        assert (frame["methodology_version"] == "2.0").all()
    m = out["equalisation_measures"]
    # X1, X2, Y1 and N1? N1 has equalise = no; two areas; the index
    assert list(m["subject_id"]) == ["X1", "X2", "Y1", "early_years", "health",
                                     "attainment_index"]


# --------------------------------------------------------------------------- ranks, convergence

def test_ranks_share_the_best_rank_on_ties():
    r = rank_desc(np.array([90.0, 80.0, 90.0, np.nan, 70.0]))
    assert list(r[:3]) == [1, 3, 1] and np.isnan(r[3]) and r[4] == 4


def test_rank_sensitivity_is_seeded_and_stable_when_every_choice_agrees():
    # district k scores 10 (k+1) on every indicator: no weight, normalisation or mean
    # reorders them
    level = dict(zip(CODES, range(10, 110, 10), strict=True))
    v = pd.concat([values_for(level, year=2022), values_for(level)])
    a = rank_sensitivity(v, MINI, Config(draws=200, seed=5), districts())
    b = rank_sensitivity(v, MINI, Config(draws=200, seed=5), districts())
    pd.testing.assert_frame_equal(a, b)
    d = a[a["year"] == 2023].set_index("district_code")
    assert list(d["rank_default"]) == list(range(10, 0, -1))
    assert (d["rank_median"] == d["rank_default"]).all()
    assert (d["rank_p05"] == d["rank_p95"]).all() and (d["mean_abs_shift"] == 0).all()
    assert (d["draws"] == 200).all() and (d["seed"] == 5).all()


def test_rank_sensitivity_moves_ranks_and_is_withheld_when_sets_differ():
    rng = np.random.default_rng(3)
    rows = [(2023, c, i, rng.uniform(0, 100) if i == "X1" else
             rng.uniform(50, 100) if i == "X2" else rng.uniform(10, 20))
            for c in CODES for i in ("X1", "X2", "Y1")]
    v = pd.DataFrame(rows, columns=["year", "district_code", "indicator_id", "value"])
    a = rank_sensitivity(v, MINI, Config(draws=300, seed=1), districts())
    c = rank_sensitivity(v, MINI, Config(draws=300, seed=2), districts())
    assert (a["rank_p05"] <= a["rank_median"]).all()
    assert (a["rank_median"] <= a["rank_p95"]).all()
    assert a["mean_abs_shift"].sum() > 0 and not a["mean_abs_shift"].equals(c["mean_abs_shift"])
    # the default rank is the published rank
    _, _, idx = _index_inputs(v)
    assert list(a["rank_default"]) == list(idx.set_index("district_code").loc[CODES, "rank"])
    v.loc[0, "value"] = np.nan
    w = rank_sensitivity(v, MINI, Config(draws=50), districts())
    assert w["rank_default"].isna().all() and w["rank_median"].isna().all()
    assert (w["null_reason"] == "indicator sets differ").all()


def test_convergence_sigma_and_beta_by_hand():
    # 3 districts; williamson 0.3, 0.2, 0.1 in 2020-2022 -> slope -0.1.
    # ln y0 = 1, 2, 3; growth per year 0.5 - 0.1 ln y0 exactly -> beta -0.1, se 0.
    three = districts().iloc[:3]
    codes = list(three["district_code"])
    ln0 = np.array([1.0, 2.0, 3.0])
    ln1 = ln0 + 2 * (0.5 - 0.1 * ln0)
    rows = []
    for year, lny in ((2020, ln0), (2021, (ln0 + ln1) / 2), (2022, ln1)):
        rows += [(year, c, float(np.exp(y))) for c, y in zip(codes, lny, strict=True)]
    rows += [(2023, codes[0], np.nan), (2023, codes[1], 5.0), (2023, codes[2], 5.0)]
    idx = pd.DataFrame(rows, columns=["year", "district_code", "attainment_index"])
    areas = idx.rename(columns={"attainment_index": "score"}).assign(area="health")
    m = pd.DataFrame({"year": [2020, 2021, 2022, 2023] * 2,
                      "subject_kind": ["index"] * 4 + ["area"] * 4,
                      "subject_id": ["attainment_index"] * 4 + ["health"] * 4,
                      "williamson": [0.3, 0.2, 0.1, np.nan] * 2})
    out = convergence(areas, idx, m, three).set_index("subject_id")
    for sid in ("attainment_index", "health"):
        r = out.loc[sid]
        assert (r["first_year"], r["last_year"], r["n"]) == (2020, 2022, 3)   # 2023 incomplete
        assert r["sigma_slope"] == pytest.approx(-0.1)
        assert r["beta"] == pytest.approx(-0.1) and r["beta_se"] == pytest.approx(0, abs=1e-9)
    assert out.loc["health", "subject_kind"] == "area"


# --------------------------------------------------------------------------- P1 (SQL)
