"""Each indicator's computation, declared once (warehouse/seeds/indicator_formulas.toml),
and what is derived from it: the SQL of the indicator values, the staging tables each
indicator is counted from, and the formula table of docs/methodology.md.

Adding an indicator from an existing feed = a catalogue row (indicators.csv), its formula
here (and a figure, if no existing one carries its sums) and a test.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from junheng import SEEDS_DIR
from junheng.reference import CITY_CODE

FORMULAS = SEEDS_DIR / "indicator_formulas.toml"
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_WORD = re.compile(r"\b[a-z_][a-z0-9_]*\b")


class FormulaError(ValueError):
    """The declaration is inconsistent; the message names the indicator or figure."""


@dataclass(frozen=True)
class Figure:
    name: str
    relation: str
    sql: str
    when_absent: float | int | None = None


@dataclass(frozen=True)
class Relation:
    name: str
    source: str            # what it is read from (schema.table or a temp table)
    staging: str           # the staging table its rows come from
    per_year: bool
    where: str | None
    grouped: bool
    city_rows: bool
    per_indicator: bool    # rows carry indicator_id: a figure is taken per indicator
    figures: tuple[Figure, ...]


SERIES = ("cumulative", "reduction")


@dataclass(frozen=True)
class Formula:
    indicator_id: str
    numerator: str
    denominator: str
    factor: float | int
    city: str                       # pooled | own
    district_value: str | None = None   # a district's value as reported (H4-H6)
    standard_error: str | None = None   # survey estimates (I3)
    series: str | None = None           # cumulative (L2) | reduction (I1, I2)
    first_year: int | None = None       # cumulative: summed from this year

    def expressions(self) -> list[str]:
        return [e for e in (self.numerator, self.denominator, self.district_value,
                            self.standard_error) if e]

    def figures(self, known: dict[str, Figure]) -> list[Figure]:
        words = _WORD.findall(" ".join(self.expressions()))
        return [known[w] for w in dict.fromkeys(words) if w in known]


@dataclass(frozen=True)
class Declaration:
    relations: tuple[Relation, ...]
    formulas: tuple[Formula, ...]

    @property
    def figures(self) -> dict[str, Figure]:
        return {f.name: f for r in self.relations for f in r.figures}

    def relation(self, name: str) -> Relation:
        return next(r for r in self.relations if r.name == name)

    def formula(self, indicator_id: str) -> Formula:
        return next(f for f in self.formulas if f.indicator_id == indicator_id)

    def subset(self, ids) -> Declaration:
        return Declaration(self.relations, tuple(f for f in self.formulas
                                                 if f.indicator_id in set(ids)))

    def sources(self) -> dict[str, list[str]]:
        """indicator id -> the staging tables (names, schema staging) it is computed
        from, in declaration order."""
        known = self.figures
        out = {}
        for f in self.formulas:
            rels = dict.fromkeys(self.relation(g.relation).staging for g in f.figures(known))
            out[f.indicator_id] = [t.split(".", 1)[-1] for t in rels]
        return out

    def per_indicator_sources(self) -> set[str]:
        """Staging tables (names) whose rows belong to one indicator each."""
        return {r.staging.split(".", 1)[-1] for r in self.relations if r.per_indicator}


_RELATION_KEYS = {"from", "source", "per_year", "where", "grouped", "city_rows",
                  "per_indicator"}
_FORMULA_KEYS = {"numerator", "denominator", "factor", "city", "district_value",
                 "standard_error", "series", "first_year"}


def _relation(name: str, spec: dict) -> Relation:
    if not _NAME.fullmatch(name) or "from" not in spec:
        raise FormulaError(f"figures.{name}: a lower-case name and a 'from' relation")
    figures = []
    for key, value in spec.items():
        if key in _RELATION_KEYS:
            continue
        if not _NAME.fullmatch(key):
            raise FormulaError(f"figures.{name}.{key}: figure names are lower-case words")
        sql, absent = (value, None) if isinstance(value, str) else (value["sql"],
                                                                     value.get("when_absent"))
        figures.append(Figure(key, name, sql, absent))
    source = spec["from"]
    return Relation(name, source, spec.get("source", source), spec.get("per_year", True),
                    spec.get("where"), spec.get("grouped", True), spec.get("city_rows", False),
                    spec.get("per_indicator", False), tuple(figures))


def _formula(ind: str, spec: dict) -> Formula:
    missing = {"numerator", "denominator", "factor"} - set(spec)
    if missing:
        raise FormulaError(f"indicators.{ind}: missing {sorted(missing)}")
    unknown = set(spec) - _FORMULA_KEYS
    if unknown:
        raise FormulaError(f"indicators.{ind}: unknown keys {sorted(unknown)}")
    formula = Formula(ind, spec["numerator"], spec["denominator"], spec["factor"],
                      spec.get("city", "pooled"), spec.get("district_value"),
                      spec.get("standard_error"), spec.get("series"), spec.get("first_year"))
    if formula.city not in ("pooled", "own"):
        raise FormulaError(f"indicators.{ind}: city is 'pooled' or 'own'")
    if formula.series is not None and formula.series not in SERIES:
        raise FormulaError(f"indicators.{ind}: series is one of {SERIES}")
    return formula


def parse(text: str) -> Declaration:
    raw = tomllib.loads(text)
    relations = tuple(_relation(n, s) for n, s in raw.get("figures", {}).items())
    seen: dict[str, str] = {}
    for r in relations:
        for f in r.figures:
            if f.name in seen:
                raise FormulaError(f"figure {f.name} declared in both {seen[f.name]} and "
                                   f"{r.name}")
            seen[f.name] = r.name
    decl = Declaration(relations, tuple(_formula(i, s)
                                        for i, s in raw.get("indicators", {}).items()))
    known = decl.figures
    for f in decl.formulas:
        if not [w for w in _WORD.findall(f.numerator) if w in known]:
            raise FormulaError(f"indicators.{f.indicator_id}: '{f.numerator}' uses no figure")
        rels = {g.relation for g in f.figures(known)}
        if f.city == "own" and (len(rels) != 1 or not decl.relation(next(iter(rels))).city_rows):
            raise FormulaError(f"indicators.{f.indicator_id}: city 'own' needs figures of one "
                               "relation that has city rows")
        if f.series and any(decl.relation(r).per_year is False for r in rels):
            raise FormulaError(f"indicators.{f.indicator_id}: a series reads other years, so "
                               "only relations filtered by year")
    return decl


@cache
def declaration(path: Path = FORMULAS) -> Declaration:
    return parse(path.read_text(encoding="utf-8"))


def check_catalogue(decl: Declaration, catalogue_ids: list[str]) -> None:
    """Every catalogue indicator has exactly one formula, and no formula is orphaned."""
    declared = [f.indicator_id for f in decl.formulas]
    missing = sorted(set(catalogue_ids) - set(declared))
    extra = sorted(set(declared) - set(catalogue_ids))
    if missing or extra:
        raise FormulaError(f"indicator_formulas.toml and indicators.csv disagree: without a "
                           f"formula {missing}, without a catalogue row {extra}")


# --------------------------------------------------------------------------- SQL

def _cte(r: Relation) -> str:
    conds = (["year = $year"] if r.per_year else []) + ([f"({r.where})"] if r.where else [])
    where = f" where {' and '.join(conds)}" if conds else ""
    figs = ", ".join(f"{f.sql} as {f.name}" for f in r.figures)
    keys = "district_code, indicator_id" if r.per_indicator else "district_code"
    group = " group by all" if r.grouped else ""
    return f"{r.name} as (\n    select {keys}, {figs}\n    from {r.source}{where}{group}\n)"


def _alias(relation: str, indicator_id: str) -> str:
    return f"{relation}__{indicator_id.lower()}"


def _bind(expr: str | None, f: Formula, decl: Declaration) -> str | None:
    """An expression with each per-indicator figure renamed to this indicator's column."""
    if expr is None:
        return None
    known = decl.figures

    def sub(m: re.Match) -> str:
        g = known.get(m.group(0))
        if g is None or not decl.relation(g.relation).per_indicator:
            return m.group(0)
        return f"{g.name}__{f.indicator_id.lower()}"

    return _WORD.sub(sub, expr)


def values_sql(decl: Declaration | None = None) -> str:
    """One row per district (and the city, 320500) and declared indicator of the year
    $year: numerator, denominator, value, standard_error and null_reason (methodology.md
    section 1). Series (cumulative, reduction) come out as that year's own figures;
    `apply_series` completes them.

    Needs the temp tables the declaration reads besides staging (_persons, _unit_days).
    Sums of doubles run in district order: a sum must not depend on the join plan.
    """
    decl = decl or declaration()
    known = decl.figures
    used = {g.relation for f in decl.formulas for g in f.figures(known)}
    relations = [r for r in decl.relations if r.name in used]
    # Integer factors stay integers (an exact product before the division); any other
    # factor is a double, never a decimal.
    factors = ", ".join(f"('{f.indicator_id}', "
                        + (repr(f.factor) if isinstance(f.factor, int)
                           else f"cast({float(f.factor)!r} as double)") + ")"
                        for f in decl.formulas)
    cols, joins = [], []
    for r in relations:
        if not r.per_indicator:
            joins.append(f"left join {r.name} using (district_code)")
            cols += [f"coalesce({r.name}.{g.name}, {g.when_absent!r}) as {g.name}"
                     if g.when_absent is not None else f"{r.name}.{g.name}" for g in r.figures]
            continue
        for f in decl.formulas:
            mine = [g for g in f.figures(known) if g.relation == r.name]
            if not mine:
                continue
            a = _alias(r.name, f.indicator_id)
            joins.append(f"left join {r.name} {a} on {a}.district_code = d.district_code "
                         f"and {a}.indicator_id = '{f.indicator_id}'")
            cols += [f"coalesce({a}.{g.name}, {g.when_absent!r}) as {g.name}__"
                     f"{f.indicator_id.lower()}" if g.when_absent is not None
                     else f"{a}.{g.name} as {g.name}__{f.indicator_id.lower()}" for g in mine]
    parts = ",\n        ".join(
        f"('{f.indicator_id}', {_bind(f.numerator, f, decl)}, {_bind(f.denominator, f, decl)}, "
        f"{_bind(f.district_value, f, decl) or 'null'}, "
        f"{_bind(f.standard_error, f, decl) or 'null'})" for f in decl.formulas)
    own = [f for f in decl.formulas if f.city == "own"]
    # Pooled: the districts whose numerator and denominator are both present.
    city = ("    select '{c}' as district_code, indicator_id,\n"
            "           sum(numerator order by district_code) filter (numerator is not null and "
            "denominator is not null) as numerator,\n"
            "           sum(denominator order by district_code) filter (numerator is not null "
            "and denominator is not null) as denominator,\n"
            "           null as district_value, null as standard_error\n"
            "    from district_parts{excl} group by all").format(
        c=CITY_CODE, excl=(" where indicator_id not in ("
                           + ", ".join(f"'{f.indicator_id}'" for f in own) + ")") if own else "")
    for f in own:
        # A left join from one row: the city's row exists (null, with its reason) even when
        # the relation has none for the city.
        r = decl.relation(f.figures(known)[0].relation)
        cond = f"{r.name}.district_code = '{CITY_CODE}'" + (
            f" and {r.name}.indicator_id = '{f.indicator_id}'" if r.per_indicator else "")
        city += (f"\n    union all\n    select '{CITY_CODE}', '{f.indicator_id}', "
                 f"{f.numerator}, {f.denominator}, null, {f.standard_error or 'null'} "
                 f"from (select 1) one left join {r.name} on {cond}")
    ctes = ",\n".join(_cte(r) for r in relations)
    return f"""with
{ctes},
factors(indicator_id, value_factor) as (
    values {factors}
),
wide as (
    select d.district_code, {", ".join(cols)}
    from reference.districts d
    {chr(10).join("    " + j for j in joins).lstrip()}
),
district_parts as (
    select w.district_code, p.indicator_id, p.numerator, p.denominator, p.district_value,
           p.standard_error
    from wide w, lateral (values
        {parts}
    ) p(indicator_id, numerator, denominator, district_value, standard_error)
),
city_parts as (
{city}
)
select
    p.district_code,
    p.indicator_id,
    cast(p.numerator as double) as numerator,
    cast(p.denominator as double) as denominator,
    case when p.denominator is null or p.denominator = 0 or p.numerator is null then null
         when p.district_value is not null then cast(p.district_value as double)
         else c.value_factor * p.numerator / p.denominator end as value,
    cast(p.standard_error as double) as standard_error,
    case when p.numerator is null or p.denominator is null then 'no source rows'
         when p.denominator = 0 then 'denominator is zero' end as null_reason
from (select * from district_parts union all select * from city_parts) p
join factors c using (indicator_id)
order by p.indicator_id, p.district_code
"""


# --------------------------------------------------------------------------- docs

def formula_table(decl: Declaration | None = None) -> str:
    """The formula table of docs/methodology.md, as Markdown."""
    decl = decl or declaration()
    known, sources = decl.figures, decl.sources()
    lines = ["| id | value | city | figures | sources |", "|---|---|---|---|---|"]
    for f in decl.formulas:
        figs = []
        for g in f.figures(known):
            r = decl.relation(g.relation)
            figs.append(f"`{g.name}` = `{g.sql}` over `{r.source}`"
                        + (f" where `{r.where}`" if r.where else ""))
        value = f"{f.factor} × ({f.numerator}) / ({f.denominator})"
        extras = [f"district value: {f.district_value}" if f.district_value else "",
                  f"standard error: {f.standard_error}" if f.standard_error else "",
                  f"series: {f.series}" + (f" from {f.first_year}" if f.first_year else "")
                  if f.series else ""]
        value = "`" + value + "`" + "".join(f"<br>{e}" for e in extras if e)
        lines.append(f"| {f.indicator_id} | {value} | {f.city} | {'<br>'.join(figs)} | "
                     f"{', '.join(sources[f.indicator_id])} |")
    return "\n".join(lines) + "\n"


def write_docs(path: Path) -> None:
    """Rewrite the formula table between the markers of docs/methodology.md."""
    begin, end = "<!-- formulas:begin -->\n", "<!-- formulas:end -->"
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(begin, 1)
    path.write_text(head + begin + formula_table() + end + rest.split(end, 1)[1],
                    encoding="utf-8")


if __name__ == "__main__":
    import sys

    from junheng import PROJECT_ROOT

    if sys.argv[1:] == ["--docs"]:
        write_docs(PROJECT_ROOT / "docs" / "methodology.md")
    else:
        sys.stdout.write(formula_table())
