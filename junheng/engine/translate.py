"""DuckDB SQL of warehouse/sql, translated for Spark SQL with SQLGlot.

The rules and aggregates are written once, in DuckDB's dialect. For Spark, a file's SQL is
parsed by SQLGlot and rewritten where the dialects differ beyond what SQLGlot's own
transpiler knows:

- the project's DuckDB macros (warehouse/sql/create_macros.sql) are expanded in place, from
  that same file, so a rule has one definition;
- `$name` parameters become literals (ints and the project's own strings, never data);
- `regexp_full_match(x, p)` becomes `x rlike '^(?:p)$'` (Java and RE2 agree on the
  patterns used: character classes and counts);
- `as not materialized` CTE hints are dropped (Spark plans CTEs its own way);
- tables are renamed to the Spark views that hold them (`staging.stg_x` -> `stg_x`);
- an ordered mean or sum, `avg(x order by k)`, becomes a fold over the group's values sorted
  by `k` (`aggregate(array_sort(collect_list(...)))`): Spark's `avg` adds in the order its
  partitions arrive, DuckDB's ordered aggregate in `k`'s, and the last bits of a sum of
  doubles depend on the order. The fold adds from 0.0 in `k`'s order and divides by the
  count, as DuckDB does, so both engines give the same double, bit for bit (`k` should be
  unique in the group: ties are broken by the value).

`SHARED` lists the files that run on both engines; tests/sql/test_engine_sql.py runs each on
both and compares the rows.
"""

from __future__ import annotations

import re
from functools import cache

import sqlglot
from sqlglot import exp

from junheng.sql import sql_text

# Every SQL file that runs on both engines (the person-level steps, the air-quality
# station-days).
SHARED = (
    "staging/stg_pension__enrolments.sql",
    "staging/stg_pension__enrolments.view.sql",
    "intermediate/int_pension_persons.sql",
    "intermediate/int_pension_districts.sql",
    "intermediate/int_air_station_days.sql",
)

_MACRO = re.compile(r"create or replace temp macro (\w+)\(([^)]*)\) as\s*(.*?);\s*$",
                    re.S | re.M | re.I)


@cache
def macros() -> dict[str, tuple[list[str], exp.Expression]]:
    """name -> (parameters, body) of every macro in create_macros.sql."""
    text = "\n".join(line for line in sql_text("create_macros.sql").splitlines()
                     if not line.lstrip().startswith("--"))
    out = {}
    for name, params, body in _MACRO.findall(text):
        out[name.lower()] = ([p.strip().lower() for p in params.split(",") if p.strip()],
                             sqlglot.parse_one(body, read="duckdb"))
    return out


def _call_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return None


def _expand(node: exp.Expression) -> exp.Expression:
    defs = macros()
    name = _call_name(node)
    if name in defs and not isinstance(node, exp.Column):
        params, body = defs[name]
        args = node.expressions if isinstance(node, exp.Anonymous) else \
            [a for a in node.args.values() if isinstance(a, exp.Expression)]
        if len(args) != len(params):
            raise ValueError(f"macro {name} takes {len(params)} arguments, got {len(args)}")
        binding = dict(zip(params, args, strict=True))
        lambda_vars = {str(v.this).lower() for lam in body.find_all(exp.Lambda)
                       for v in lam.expressions}

        def bind(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Column) and not n.table and n.name.lower() in binding \
                    and n.name.lower() not in lambda_vars:
                return binding[n.name.lower()].copy()
            return n

        expanded = body.copy().transform(bind)
        return exp.paren(expanded.transform(_expand), copy=False) \
            if isinstance(expanded, exp.Connector) else expanded.transform(_expand)
    return node


def _literal(value) -> exp.Expression:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"parameter of type {type(value).__name__}")
    return exp.Literal.number(value) if isinstance(value, int | float) else \
        exp.Literal.string(value)


def to_spark(sql: str, params: dict | None = None, tables: dict[str, str] | None = None) -> str:
    """`sql` (DuckDB dialect, one SELECT) as Spark SQL. `tables` maps 'schema.table' or
    'table' to the Spark view that holds it."""
    params, tables = params or {}, tables or {}
    tree = sqlglot.parse_one(sql, read="duckdb")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder | exp.Parameter):
            key = str(node.name or node.this).lstrip("$:")
            if key not in params:
                raise KeyError(f"no value for parameter ${key}")
            return _literal(params[key])
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)
            return node
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            full = ".".join(p for p in (node.db, node.name) if p)
            target = tables.get(full) or tables.get(node.name)
            if target:
                alias = node.args.get("alias")
                new = exp.to_table(target)
                new.set("alias", alias or exp.TableAlias(this=exp.to_identifier(node.name)))
                return new
            return node
        if _call_name(node) == "regexp_full_match":
            args = node.expressions if isinstance(node, exp.Anonymous) else \
                [node.this, node.expression]
            pattern = args[1]
            if not isinstance(pattern, exp.Literal):
                raise ValueError("regexp_full_match needs a literal pattern")
            return exp.RegexpLike(this=args[0],
                                  expression=exp.Literal.string(f"^(?:{pattern.this})$"))
        return node

    tree = tree.transform(_expand).transform(rewrite).transform(_ordered_aggregate)
    return tree.sql(dialect="spark")


# The group's non-null values sorted by their keys, added from 0.0 in that order.
_FOLD = ("aggregate(array_sort(collect_list(case when {value} is not null then "
         "named_struct({keys}, 'v', cast({value} as double)) end)), "
         "named_struct('s', cast(0 as double), 'n', cast(0 as bigint)), "
         "(_acc, _el) -> named_struct('s', _acc.s + _el.v, 'n', _acc.n + 1), "
         "_acc -> case when _acc.n > 0 then {result} end)")


def _ordered_aggregate(node: exp.Expression) -> exp.Expression:
    """`avg(x order by k)` / `sum(x order by k)` (DuckDB) -> a fold in `k`'s order (Spark)."""
    if not isinstance(node, exp.Avg | exp.Sum) or not isinstance(node.this, exp.Order):
        return node
    order = node.this
    if any(o.args.get("desc") for o in order.expressions):
        raise ValueError("an ordered aggregate for Spark must sort ascending")
    keys = ", ".join(f"'k{i}', {o.this.sql(dialect='spark')}"
                     for i, o in enumerate(order.expressions))
    result = "_acc.s / _acc.n" if isinstance(node, exp.Avg) else "_acc.s"
    return sqlglot.parse_one(_FOLD.format(value=order.this.sql(dialect="spark"), keys=keys,
                                          result=result), read="spark")


def spark_file(relpath: str, params: dict | None = None,
               tables: dict[str, str] | None = None, **fmt: str) -> str:
    """A SQL file of warehouse/sql for Spark (`fmt` fills a file's {relation} slots)."""
    text = sql_text(relpath)
    return to_spark(text.format(**fmt) if fmt else text, params, tables)
