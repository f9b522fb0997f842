"""The indicator values' SQL, generated from the declaration, on given rows (tier 2)."""

from __future__ import annotations

import pytest
from sql_helpers import empty_staging, stage, warehouse

from junheng.engine import duckdb_pension_districts
from junheng.methodology.formulas import values_sql
from junheng.sql import sql_text

CITY = "320500"


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
    duckdb_pension_districts(con, year)
    parts = con.execute(values_sql(), {"year": year}).df()
    p1 = parts[parts["indicator_id"] == "P1"].set_index("district_code")
    # 320508: k0 (contributing, via the employee record) and k1 (suspended): 1 of 2
    assert (p1.loc["320508", "numerator"], p1.loc["320508", "denominator"]) == (1, 2)
    # 320571: only k2 (k0 counts in its employee district, k3 too old, k4 receiving)
    assert (p1.loc["320571", "numerator"], p1.loc["320571", "denominator"]) == (1, 1)
    assert p1.loc[CITY, "value"] == pytest.approx(100 * 2 / 3)
    duals = dict(con.execute("select district_code, dual_enrolments from _pension_districts"
                             ).fetchall())
    assert duals == {"320508": 2, "320571": 0}
    disagree = con.execute("select sum(dual_status_disagreeing) from _pension_districts"
                           ).fetchone()[0]
    assert disagree == 1
