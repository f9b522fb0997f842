"""The indicator declaration (warehouse/seeds/indicator_formulas.toml) and what is derived
from it (tier 1: no warehouse)."""

from __future__ import annotations

import csv

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
    (GOOD.replace('denominator = "valid"', 'denominator = "1"'), "uses no figure"),
    (GOOD.replace('from = "_unit_days"', ''), "'from' relation"),
])
def test_an_inconsistent_declaration_is_refused_with_its_place(broken, message):
    with pytest.raises(FormulaError, match=message):
        parse(broken)


def test_own_city_rows_come_from_their_relation_and_pooled_ones_are_summed():
    sql = values_sql(parse(GOOD))
    assert "from air where district_code = '320500'" in sql
    assert "where indicator_id not in ('X1')" in sql
    assert "where year = $year" in sql            # staging relations: the reporting year
    assert "from _unit_days group by all" in sql   # temp relations are of one year already


def test_docs_carry_the_formula_table_as_declared():
    text = (ROOT / "docs/methodology.md").read_text(encoding="utf-8")
    begin, end = "<!-- formulas:begin -->\n", "<!-- formulas:end -->"
    assert begin in text and end in text, "docs/methodology.md lost its formula-table markers"
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == formula_table(), (
        "docs/methodology.md is out of date: run `python -m junheng.methodology.formulas "
        "--docs` to rewrite its formula table")
