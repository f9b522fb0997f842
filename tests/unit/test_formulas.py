"""The indicator declaration (warehouse/seeds/indicator_formulas.toml) and what is derived
from it (tier 1: no warehouse)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from conftest import ROOT

from junheng.methodology.formulas import (
    FormulaError,
    check_catalogue,
    declaration,
    formula_table,
    parse,
    values_sql,
)

GOOD = """
[figures.pop]
from = "staging.stg_population__townships"
residents = "sum(resident_total)"
[figures.air]
from = "_unit_days"
per_year = false
city_rows = true
good = "count(*) filter (is_good)"
valid = "count(*)"
[indicators]
X1 = { numerator = "good", denominator = "valid", factor = 100, city = "own" }
X2 = { numerator = "good * residents", denominator = "residents", factor = 1 }
"""


def _catalogue_ids() -> list[str]:
    with open(ROOT / "warehouse/seeds/indicators.csv", encoding="utf-8") as fh:
        return [r["indicator_id"] for r in csv.DictReader(fh)]


def test_every_catalogue_indicator_has_exactly_one_formula():
    check_catalogue(declaration(), _catalogue_ids())


def test_a_catalogue_row_without_formula_is_named():
    with pytest.raises(FormulaError, match=r"without a formula \['Z9'\]"):
        check_catalogue(declaration(), [*_catalogue_ids(), "Z9"])


def test_sources_follow_the_figures_used():
    decl = parse(GOOD)
    assert decl.sources() == {"X1": ["_unit_days"], "X2": ["_unit_days",
                                                           "stg_population__townships"]}


@pytest.mark.parametrize("broken, message", [
    (GOOD.replace('valid = "count(*)"', 'residents = "count(*)"'), "declared in both"),
    (GOOD.replace('city = "own" }', 'city = "mean" }'), "'pooled' or 'own'"),
    (GOOD.replace('city_rows = true', ''), "city rows"),
    (GOOD.replace('numerator = "good", ', ''), "missing"),
    (GOOD.replace('numerator = "good", ', 'numerator = "1", '), "uses no figure"),
    (GOOD.replace('city = "own" }', 'series = "rolling" }'), "series is one of"),
    (GOOD.replace('city = "own" }', 'weights = "x" }'), "unknown keys"),
    (GOOD.replace('from = "_unit_days"', ''), "'from' relation"),
])
def test_an_inconsistent_declaration_is_refused_with_its_place(broken, message):
    with pytest.raises(FormulaError, match=message):
        parse(broken)


def test_own_city_rows_come_from_their_relation_and_pooled_ones_are_summed():
    sql = values_sql(parse(GOOD))
    # The city's own row exists even when the relation has none for the city.
    assert "from (select 1) one left join air on air.district_code = '320500'" in sql
    assert "where indicator_id not in ('X1')" in sql
    assert "where year = $year" in sql            # staging relations: the reporting year
    assert "from _unit_days group by all" in sql   # temp relations are of one year already


PER_INDICATOR = """
[figures.pop]
from = "staging.stg_population__townships"
residents = "sum(resident_total)"
[figures.sub]
from = "staging.stg_submissions__indicators"
per_indicator = true
city_rows = true
submitted = "sum(numerator)"
[indicators]
C1 = { numerator = "submitted", denominator = "residents", factor = 1000 }
R1 = { numerator = "submitted", denominator = "residents", factor = 1 }
"""


def test_a_per_indicator_figure_is_taken_over_each_indicators_own_rows():
    sql = values_sql(parse(PER_INDICATOR))
    assert ("left join sub sub__c1 on sub__c1.district_code = d.district_code and "
            "sub__c1.indicator_id = 'C1'") in sql
    assert "('C1', submitted__c1, residents" in sql and "('R1', submitted__r1, residents" in sql
    assert parse(PER_INDICATOR).per_indicator_sources() == {"stg_submissions__indicators"}


def test_the_sql_runs_on_given_rows():
    """Two districts submit C1 places; the city pools only the districts with both parts."""
    import duckdb

    con = duckdb.connect()
    con.execute("create schema staging; create schema reference")
    con.execute("create table reference.districts as select * from (values ('320505'), "
                "('320506'), ('320507')) t(district_code)")
    con.execute("create table staging.stg_population__townships as select * from (values "
                "(2023, '320505', 1000), (2023, '320506', 3000), (2023, '320507', 5000)) "
                "t(year, district_code, resident_total)")
    con.execute("create table staging.stg_submissions__indicators as select * from (values "
                "(2023, 'C1', '320505', 3.0), (2023, 'C1', '320506', 6.0)) "
                "t(year, indicator_id, district_code, numerator)")
    rows = con.execute(values_sql(parse(PER_INDICATOR)), {"year": 2023}).df()
    c1 = rows[rows["indicator_id"] == "C1"].set_index("district_code")
    assert c1.loc["320505", "value"] == pytest.approx(3.0)       # 1000 x 3 / 1000
    assert c1.loc["320506", "value"] == pytest.approx(2.0)       # 1000 x 6 / 3000
    assert pd.isna(c1.loc["320507", "value"])
    assert c1.loc["320500", "value"] == pytest.approx(2.25)      # 1000 x 9 / 4000, not 9000
    assert rows[rows["indicator_id"] == "R1"]["value"].isna().all()


def test_docs_carry_the_formula_table_as_declared():
    text = (ROOT / "docs/methodology.md").read_text(encoding="utf-8")
    begin, end = "<!-- formulas:begin -->\n", "<!-- formulas:end -->"
    assert begin in text and end in text, "docs/methodology.md lost its formula-table markers"
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == formula_table(), (
        "docs/methodology.md is out of date: run `python -m junheng.methodology.formulas "
        "--docs` to rewrite its formula table")
