"""Scores, domains, ranks, obstacle degrees, statuses and P1, on small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sql_helpers import empty_staging, stage, warehouse

from junheng.methodology.index import (
    CITY,
    Config,
    attainment_index,
    domain_scores,
    indicator_scores,
    progress_row,
    rank_desc,
    rank_sensitivity,
    score,
)
from junheng.sql import sql_text


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return warehouse().execute("select * from reference.indicators").df()


@pytest.fixture(scope="module")
def districts() -> pd.DataFrame:
    return warehouse().execute("select * from reference.districts").df()


def test_scores_with_fixed_goalposts():
    assert score(70, 50, 90) == pytest.approx(50.0)        # E1: halfway
    assert score(95, 50, 90) == 100 and score(40, 50, 90) == 0
    assert score(17, 20, 14) == pytest.approx(50.0)        # E4: lower is better
    assert score(13, 20, 14) == 100 and score(25, 20, 14) == 0


def _values(rows):
    return pd.DataFrame(rows, columns=["year", "district_code", "indicator_id", "value"])


def test_domains_obstacles_and_the_index(catalogue, districts):
    # One district: education E1..E4 = scores 50, 100, 0, missing; the rest at 100.
    full = {r.indicator_id: r.score_full for r in catalogue.itertuples()}
    rows = [(2023, "320508", i, full[i]) for i in full]
    rows = [r for r in rows if r[2] not in ("E1", "E2", "E3", "E4")]
    rows += [(2023, "320508", "E1", 70.0), (2023, "320508", "E2", 95.0),
             (2023, "320508", "E3", 50.0), (2023, "320508", "E4", np.nan)]
    scores = indicator_scores(_values(rows), catalogue, Config())
    s = scores.set_index("indicator_id")
    assert s.loc["E1", "score"] == pytest.approx(50) and pd.isna(s.loc["E4", "score"])
    assert "A2" not in s.index                              # not in the index
    # Obstacle degrees: w = 1/4 (weights in education) x 1/4; gaps 50 and 100 -> 1/3, 2/3
    assert s.loc["E1", "obstacle_degree"] == pytest.approx(1 / 3)
    assert s.loc["E3", "obstacle_degree"] == pytest.approx(2 / 3)
    assert s.loc["H1", "obstacle_degree"] == 0
    assert s["obstacle_degree"].sum() == pytest.approx(1.0)
    domains = domain_scores(scores, catalogue).set_index("domain")
    assert domains.loc["education", "score"] == pytest.approx(50.0)   # (50+100+0)/3
    assert domains.loc["education", "indicators_scored"] == 3
    assert domains.loc["education", "indicators_total"] == 4
    index = attainment_index(domains.reset_index(), Config(), districts)
    assert index["attainment_index"].iloc[0] == pytest.approx((50 + 300) / 4)
    geo = attainment_index(domains.reset_index(), Config(aggregation="geometric"), districts)
    assert geo["attainment_index"].iloc[0] == pytest.approx((50 * 100 ** 3) ** 0.25)


def test_a_domain_with_fewer_than_half_scored_is_null(catalogue, districts):
    rows = [(2023, "320508", "E1", 70.0)] + [(2023, "320508", i, np.nan)
                                            for i in ("E2", "E3", "E4")]
    domains = domain_scores(indicator_scores(_values(rows), catalogue, Config()), catalogue)
    assert pd.isna(domains.set_index("domain").loc["education", "score"])
    rows[1] = (2023, "320508", "E2", 90.0)                  # 2 of 4: exactly half is enough
    domains = domain_scores(indicator_scores(_values(rows), catalogue, Config()), catalogue)
    assert domains.set_index("domain").loc["education", "score"] == pytest.approx(75.0)


def test_ranks_share_the_best_rank_on_ties():
    r = rank_desc(np.array([90.0, 80.0, 90.0, np.nan, 70.0]))
    assert list(r[:3]) == [1, 3, 1] and np.isnan(r[3]) and r[4] == 4


def test_city_has_no_rank_and_gaps_are_to_the_city(districts):
    rows = []
    for code, v in (("320508", 80.0), ("320571", 90.0), ("320581", 90.0), (CITY, 85.0)):
        rows += [(2023, code, d, v) for d in ("education", "health", "elderly", "environment")]
    domains = pd.DataFrame(rows, columns=["year", "district_code", "domain", "score"])
    idx = attainment_index(domains, Config(), districts).set_index("district_code")
    assert pd.isna(idx.loc[CITY, "rank"])
    assert idx.loc["320571", "rank"] == 1 and idx.loc["320581", "rank"] == 1
    assert idx.loc["320508", "rank"] == 3
    assert idx.loc["320508", "gap_to_city"] == pytest.approx(-5)
    assert idx.loc["320571", "relative_to_city"] == pytest.approx(90 / 85)


@pytest.mark.parametrize("x0, xt, target, rule, year, status, progress", [
    (80, 90, 90, ">=", 2023, "achieved", 1.0),
    (80, 90, 90, ">", 2023, "on_track", 1.0),        # strict rule not met
    (80, 86, 90, ">=", 2023, "on_track", 0.6),       # time share 0.6
    (80, 85, 90, ">=", 2023, "off_track", 0.5),
    (80, 79, 90, ">=", 2023, "regressing", -0.1),
    (80, 80, 90, ">=", 2023, "regressing", 0.0),
    (95, 94, 95, ">", 2023, "off_track", None),      # target = baseline, not met
    (40, 37, 35, "<=", 2024, "off_track", 0.6),      # lower is better: time share 0.8
    (40, 36, 35, "<=", 2024, "on_track", 0.8),
    (40, 30, 35, "<=", 2021, "achieved", 2.0),
])
def test_statuses(x0, xt, target, rule, year, status, progress):
    out = progress_row(x0, xt, target, rule, year)
    assert out["status"] == status
    assert out["progress"] == (None if progress is None else pytest.approx(progress))
    assert out["required_cagr"] == pytest.approx((target / x0) ** 0.2 - 1)
    assert out["actual_cagr"] == pytest.approx((xt / x0) ** (1 / (year - 2020)) - 1)


def test_rank_sensitivity_is_seeded_and_reproducible(catalogue):
    rng = np.random.default_rng(1)
    codes = ["320505", "320506", "320507", "320508", "320509", "320571", "320581", "320582",
             "320583", "320585"]
    ids = list(catalogue.loc[catalogue["is_in_index"], "indicator_id"])
    rows = [(y, c, i, rng.uniform(min(lo, hi), max(lo, hi))) for y in (2020, 2021) for c in codes
            for i, lo, hi in zip(ids, catalogue.loc[catalogue["is_in_index"], "score_zero"],
                                 catalogue.loc[catalogue["is_in_index"], "score_full"],
                                 strict=True)]
    values = _values(rows)
    a = rank_sensitivity(values, catalogue, Config(draws=300, seed=5))
    b = rank_sensitivity(values, catalogue, Config(draws=300, seed=5))
    c = rank_sensitivity(values, catalogue, Config(draws=300, seed=6))
    pd.testing.assert_frame_equal(a, b)
    assert not a["rank_median"].equals(c["rank_median"]) or \
        not a["mean_abs_shift"].equals(c["mean_abs_shift"])
    assert (a["rank_p05"] <= a["rank_median"]).all() and (a["rank_median"] <= a["rank_p95"]).all()
    assert sorted(a.loc[a["year"] == 2020, "rank_default"]) == list(range(1, 11))


def test_p1_counts_a_dual_person_once_in_the_employee_district():
    con = warehouse()
    year = 2023
    empty_staging(con, year, skip=("stg_pension__enrolments",))
    k = [f"{i:064x}" for i in range(1, 6)]
    rows = [  # person_key, district, scheme, birth_year, sex, status
        (k[0], "320508", "employee", 1980, "M", "contributing"),
        (k[0], "320571", "resident", 1980, "M", "suspended"),    # dual, disagreeing
        (k[1], "320508", "resident", 1985, "F", "suspended"),
        (k[1], "320508", "employee", 1985, "F", "suspended"),    # dual, agreeing
        (k[2], "320571", "resident", 1990, "F", "contributing"),
        (k[3], "320571", "employee", 1950, "M", "contributing"),  # aged 73: out of scope
        (k[4], "320571", "resident", 2000, "F", "receiving"),     # neither status: out
    ]
    cols = ["person_key", "district_code", "scheme", "birth_year", "sex", "status"]
    stage(con, "stg_pension__enrolments", {c: [r[i] for r in rows] for i, c in enumerate(cols)},
          year)
    con.execute("create temp table _station_days as "
                + sql_text("intermediate/int_air_station_days.sql"), {"year": year})
    con.execute("create temp table _unit_days as "
                + sql_text("intermediate/int_air_unit_days.sql"))
    con.execute("create temp table _persons as "
                + sql_text("intermediate/int_pension_persons.sql"), {"year": year})
    con.execute("create temp table _pension_districts as "
                + sql_text("intermediate/int_pension_districts.sql"))
    parts = con.execute(sql_text("marts/indicator_parts.sql"), {"year": year}).df()
    p1 = parts[parts["indicator_id"] == "P1"].set_index("district_code")
    # 320508: k0 (contributing, via the employee record) and k1 (suspended): 1 of 2
    assert (p1.loc["320508", "numerator"], p1.loc["320508", "denominator"]) == (1, 2)
    # 320571: only k2 (k0 counts in its employee district, k3 too old, k4 receiving)
    assert (p1.loc["320571", "numerator"], p1.loc["320571", "denominator"]) == (1, 1)
    assert p1.loc[CITY, "value"] == pytest.approx(100 * 2 / 3)
    duals = dict(con.execute("select district_code, count(*) filter (is_dual) from _persons "
                             "group by all").fetchall())
    assert duals == {"320508": 2, "320571": 0}
    disagree = con.execute("select count(*) filter (is_dual_disagreeing) from _persons"
                           ).fetchone()[0]
    assert disagree == 1
