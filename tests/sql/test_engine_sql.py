"""The person-level SQL on both engines: every file of `junheng.engine.translate.SHARED`
runs on DuckDB and, translated by SQLGlot, on Spark (local[2]), over the same delivery;
the rows must be equal (issue #16: one source for the SQL, the same results)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sql_helpers import warehouse

from junheng.engine.spark import pension_districts, read_pension
from junheng.engine.translate import SHARED, spark_file, to_spark
from junheng.ingest.feeds import FEEDS
from junheng.ingest.load import staging_view_sql
from junheng.ingest.readers import read_jsonl_gz
from junheng.sql import sql_text

YEAR = 2022
PART = FEEDS["pension"].parts[0]


def _key(i: int) -> str:
    return f"{i:064x}".replace("0", "a")[::-1]     # 64 lowercase hex, one per i


def _record(i, district="320508", scheme="employee", birth=1970, sex="F",
            status="contributing", **changes) -> str:
    rec = {"person_key": _key(i), "district_code": district, "scheme": scheme,
           "birth_year": birth, "sex": sex, "status": status} | changes
    return json.dumps(rec)


LINES = [
    _record(1),
    _record(2, district="320571", status="suspended", birth=2000),
    _record(3, scheme="resident", status="receiving", birth=1950),
    # dual enrolment: both schemes, other districts, one of them lapsed
    _record(4, district="320505"), _record(4, scheme="resident", district="320571",
                                           status="suspended"),
    _record(5, birth=1990, status="suspended"), _record(5, scheme="resident", birth=1990,
                                                         status="suspended"),
    # duplicate (person_key, scheme): both lines quarantined
    _record(6), _record(6, status="receiving"),
    _record(7, district="320503"),                    # unknown district
    _record(8, birth=1890), _record(9, birth="abc"), _record(10, birth=""),
    _record(11, birth=YEAR + 1), _record(12, birth=" 1970"),
    _record(13, sex="X"), _record(14, status=None), _record(15, scheme=" employee"),
    _record(16, person_key="ABC"), _record(17, person_key=None), _record(18, district=None),
    _record(19, birth="1970"),                        # birth year as text: fine
    '{"person_key": "not json',                       # unparsable
    "[1, 2, 3]",                                      # JSON, not an object
    _record(20, district="320585", birth=2006, sex="M"),  # aged 16
    _record(21, district="320585", birth=1963, sex="M"),  # aged 59
    _record(22, district="320585", birth=1962, sex="M"),  # aged 60: out of P1's scope
]


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("engines") / f"pension_{YEAR}.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(LINES) + "\n")
    return path


def _duckdb_results(path: Path) -> dict[str, list[tuple]]:
    """As the DuckDB engine runs them: read, rules, quarantine, staging view, persons,
    district counts."""
    con = warehouse()
    spec = FEEDS["pension"].files[0]
    read_jsonl_gz(con, path, spec, path.name, "_read")
    con.execute("create temp view _delivery as select * from _read")
    con.execute("create temp table _checked as " + sql_text(
        "staging/stg_pension__enrolments.sql"), {"year": YEAR})
    con.execute(f"create temp view _rows as select {YEAR} as _year, '' as _delivery_sha256, * "
                "from _read")
    con.execute(f"create temp table _quarantine as select 'pension' as feed, "
                f"'pension__enrolments' as table_name, {YEAR} as year, _line as line "
                "from _checked where len(_violations) > 0")
    con.execute("create schema if not exists staging")
    con.execute("create view staging.stg_pension__enrolments as "
                + staging_view_sql(PART, rows="_rows", quarantine="_quarantine"))
    con.execute("create temp table _persons as "
                + sql_text("intermediate/int_pension_persons.sql"), {"year": YEAR})
    q = {
        "rows": "select * from _read",
        "checked": "select _line, _violations from _checked",
        "staging": "select * from staging.stg_pension__enrolments",
        "persons": "select * from _persons",
        "districts": sql_text("intermediate/int_pension_districts.sql"),
    }
    return {k: sorted(con.execute(v).fetchall(), key=repr) for k, v in q.items()}


def _spark_results(spark, path: Path, out: Path) -> dict[str, list[tuple]]:
    import duckdb

    codes = [r[0] for r in warehouse().execute(
        "select district_code from reference.districts").fetchall()]
    read_pension(spark, path, out, YEAR, codes)
    target = pension_districts(spark, out, YEAR)
    con = duckdb.connect()

    def parquet(p: Path, cols: str = "*") -> list[tuple]:
        return sorted(con.execute(f"select {cols} from read_parquet('{p}/*.parquet')")
                      .fetchall(), key=repr)

    def table(name: str) -> list[tuple]:
        return sorted((tuple(r) for r in spark.table(name).collect()), key=repr)

    return {"rows": parquet(out / "rows"), "checked": parquet(out / "checked"),
            "staging": table("_staging"), "persons": table("_persons"),
            "districts": parquet(target)}


def test_every_shared_file_translates_for_spark():
    for relpath in SHARED:
        text = sql_text(relpath)
        if "{rows}" in text:
            text = text.format(rows="_rows", quarantine="_quarantine")
        sql = to_spark(text, {"year": YEAR})
        assert "$year" not in sql and ":year" not in sql, relpath
        assert "MATERIALIZED" not in sql.upper(), relpath
        assert "REGEXP_FULL_MATCH" not in sql.upper(), relpath


def test_macros_expand_from_their_one_definition():
    sql = spark_file("staging/stg_pension__enrolments.sql", {"year": YEAR})
    assert "IN_SET_EXACT" not in sql.upper() and "VIOLATIONS(" not in sql.upper()
    assert "'1900 to ' || 2022" in sql and "FILTER(ARRAY(" in sql


@pytest.mark.spark
def test_the_pension_steps_give_the_same_rows_on_both_engines(spark, delivery, tmp_path):
    duck = _duckdb_results(delivery)
    sp = _spark_results(spark, delivery, tmp_path / "out")
    assert len(duck["rows"]) == len(LINES)
    quarantined = {r[0] for r in duck["checked"] if r[1]}
    assert quarantined == set(range(8, 22)) - {15} | {23, 24}  # " 1970" reads as 1970
    for stage in ("rows", "checked", "staging", "persons", "districts"):
        assert sp[stage] == duck[stage], stage
    by_district = {r[0]: r[1:] for r in duck["districts"]}
    assert by_district["320585"] == (2, 2, 0, 0)   # aged 16 and 59 in, 60 out
    assert by_district["320505"][2:] == (1, 1)     # the dual person counts where employed


@pytest.mark.spark
def test_a_truncated_delivery_is_refused_on_spark(spark, delivery, tmp_path):
    bad = tmp_path / delivery.name
    bad.write_bytes(delivery.read_bytes()[:-20])
    with pytest.raises(ValueError, match="truncated or corrupt gzip"):
        read_pension(spark, bad, tmp_path / "out", YEAR, ["320508"])
