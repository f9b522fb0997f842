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
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class Formula:
    indicator_id: str
    numerator: str
    denominator: str
    factor: float | int
    city: str              # pooled | own

    def figures(self, known: dict[str, Figure]) -> list[Figure]:
        words = _WORD.findall(f"{self.numerator} {self.denominator}")
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

    def sources(self) -> dict[str, list[str]]:
        """indicator id -> the staging tables (names, schema staging) it is computed
        from, in declaration order."""
        known = self.figures
        out = {}
        for f in self.formulas:
            rels = dict.fromkeys(self.relation(g.relation).staging for g in f.figures(known))
            out[f.indicator_id] = [t.split(".", 1)[-1] for t in rels]
        return out


def _relation(name: str, spec: dict) -> Relation:
    reserved = {"from", "source", "per_year", "where", "grouped", "city_rows"}
    if not _NAME.fullmatch(name) or "from" not in spec:
        raise FormulaError(f"figures.{name}: a lower-case name and a 'from' relation")
    figures = []
    for key, value in spec.items():
        if key in reserved:
            continue
        if not _NAME.fullmatch(key):
            raise FormulaError(f"figures.{name}.{key}: figure names are lower-case words")
        sql, absent = (value, None) if isinstance(value, str) else (value["sql"],
                                                                     value.get("when_absent"))
        figures.append(Figure(key, name, sql, absent))
    source = spec["from"]
    return Relation(name, source, spec.get("source", source), spec.get("per_year", True),
                    spec.get("where"), spec.get("grouped", True), spec.get("city_rows", False),
                    tuple(figures))


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
    formulas = []
    for ind, spec in raw.get("indicators", {}).items():
        missing = {"numerator", "denominator", "factor"} - set(spec)
        if missing:
            raise FormulaError(f"indicators.{ind}: missing {sorted(missing)}")
        formula = Formula(ind, spec["numerator"], spec["denominator"], spec["factor"],
                          spec.get("city", "pooled"))
        if formula.city not in ("pooled", "own"):
            raise FormulaError(f"indicators.{ind}: city is 'pooled' or 'own'")
        formulas.append(formula)
    decl = Declaration(relations, tuple(formulas))
    known = decl.figures
    for f in decl.formulas:
        for side in (f.numerator, f.denominator):
            used = [w for w in _WORD.findall(side) if w in known]
            if not used:
                raise FormulaError(f"indicators.{f.indicator_id}: '{side}' uses no figure")
        rels = {g.relation for g in f.figures(known)}
        if f.city == "own" and (len(rels) != 1 or not decl.relation(rels.pop()).city_rows):
            raise FormulaError(f"indicators.{f.indicator_id}: city 'own' needs figures of one "
                               "relation that has city rows")
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
    group = " group by all" if r.grouped else ""
    return f"{r.name} as (\n    select district_code, {figs}\n    from {r.source}{where}{group}\n)"


def values_sql(decl: Declaration | None = None) -> str:
    """One row per district (and the city, 320500) and declared indicator of the year
    $year: numerator, denominator, value and null_reason (methodology.md section 1).

    Needs the temp tables the declaration reads besides staging (_persons, _unit_days).
    Sums of doubles run in district order: a sum must not depend on the join plan.
    """
    decl = decl or declaration()
    used = {g.relation for f in decl.formulas for g in f.figures(decl.figures)}
    relations = [r for r in decl.relations if r.name in used]
    factors = ", ".join(f"('{f.indicator_id}', {f.factor!r})" for f in decl.formulas)
    wide_cols = ", ".join(
        f"coalesce({r.name}.{g.name}, {g.when_absent!r}) as {g.name}"
        if g.when_absent is not None else f"{r.name}.{g.name}"
        for r in relations for g in r.figures)
    joins = "\n    ".join(f"left join {r.name} using (district_code)" for r in relations)
    parts = ",\n        ".join(f"('{f.indicator_id}', {f.numerator}, {f.denominator})"
                               for f in decl.formulas)
    own = [f for f in decl.formulas if f.city == "own"]
    city = ("    select '{c}' as district_code, indicator_id,\n"
            "           sum(numerator order by district_code) as numerator,\n"
            "           sum(denominator order by district_code) as denominator\n"
            "    from district_parts{excl} group by all").format(
        c=CITY_CODE, excl=(" where indicator_id not in ("
                           + ", ".join(f"'{f.indicator_id}'" for f in own) + ")") if own else "")
    for f in own:
        rel = f.figures(decl.figures)[0].relation
        city += (f"\n    union all\n    select '{CITY_CODE}', '{f.indicator_id}', "
                 f"{f.numerator}, {f.denominator} from {rel} "
                 f"where district_code = '{CITY_CODE}'")
    ctes = ",\n".join(_cte(r) for r in relations)
    return f"""with
{ctes},
factors(indicator_id, value_factor) as (
    values {factors}
),
wide as (
    select d.district_code, {wide_cols}
    from reference.districts d
    {joins}
),
district_parts as (
    select w.district_code, p.indicator_id, p.numerator, p.denominator
    from wide w, lateral (values
        {parts}
    ) p(indicator_id, numerator, denominator)
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
         else c.value_factor * p.numerator / p.denominator end as value,
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
        lines.append(f"| {f.indicator_id} | `{value}` | {f.city} | {'<br>'.join(figs)} | "
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
