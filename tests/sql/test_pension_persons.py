"""int_pension_persons.sql groups by the key only the rows whose hash of the key is shared
(the candidates of dual enrolment): the persons must be exactly those of a plain group by
of every row, also when hashes collide; and the pension reader keeps the rows it read in a
warehouse table (compressed, not an uncompressed temp table that spills), in file order."""

from __future__ import annotations

import gzip
import json

import pytest
from sql_helpers import warehouse

from junheng.ingest.feeds import FEEDS
from junheng.ingest.readers import SCRATCH_SCHEMA, drop_read, read_jsonl_gz
from junheng.sql import relation_kind, sql_text

YEAR = 2024

# The persons step before the hash candidates: one group per key, every row.
PLAIN = """
select person_key,
    arg_min(district_code, scheme) as district_code,
    $year - arg_min(birth_year, scheme) as age,
    count(*) > 1 as is_dual,
    count(*) > 1 and min(status) <> max(status) as is_dual_disagreeing,
    bool_or(status = 'contributing') as has_contributing,
    bool_or(status in ('contributing', 'suspended')) as has_contributing_or_suspended
from staging.stg_pension__enrolments where year = $year group by person_key
"""


def _key(i: int) -> str:
    return f"{i * 7919:064x}"


ROWS = [  # (person, district, scheme, birth year, status)
    (1, "320508", "employee", 1970, "contributing"),
    (2, "320571", "resident", 2000, "suspended"),
    (3, "320505", "employee", 1950, "receiving"),
    (4, "320505", "employee", 1980, "contributing"),   # dual, statuses disagree
    (4, "320571", "resident", 1981, "suspended"),
    (5, "320585", "resident", 1990, "suspended"),      # dual, resident record first
    (5, "320508", "employee", 1991, "suspended"),
    (6, "320571", "resident", 2008, "contributing"),
    (7, "320508", "employee", YEAR - 60, "contributing"),
]


@pytest.fixture()
def con():
    con = warehouse()
    con.execute("create schema if not exists staging")
    con.execute("create table staging.stg_pension__enrolments (year integer, "
                "person_key varchar, district_code varchar, scheme varchar, "
                "birth_year integer, sex varchar, status varchar)")
    con.executemany("insert into staging.stg_pension__enrolments values (?, ?, ?, ?, ?, 'F', ?)",
                    [(YEAR, _key(p), d, s, b, st) for p, d, s, b, st in ROWS]
                    + [(YEAR - 1, _key(8), "320508", "employee", 1970, "contributing")])
    return con


def _persons(con, sql: str) -> list[tuple]:
    return sorted(con.execute(sql, {"year": YEAR}).fetchall())


def test_persons_are_the_plain_group_by(con):
    got = _persons(con, sql_text("intermediate/int_pension_persons.sql"))
    assert got == _persons(con, PLAIN)
    assert len(got) == 7
    assert sum(r[3] for r in got) == 2 and sum(r[4] for r in got) == 1


def test_persons_are_the_plain_group_by_when_every_hash_collides(con):
    # Every key hashes alike: every row is a candidate, and the key alone decides.
    con.execute("create temp macro hash(x) as 42::ubigint")
    assert _persons(con, sql_text("intermediate/int_pension_persons.sql")) == \
        _persons(con, PLAIN)


def test_the_read_rows_are_a_warehouse_table_in_file_order(tmp_path):
    import duckdb

    path = tmp_path / f"pension_{YEAR}.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(5000):
            fh.write(json.dumps({"person_key": _key(i), "district_code": "320508",
                                 "scheme": "employee", "birth_year": str(1900 + i % 100),
                                 "sex": "F", "status": "contributing"}) + "\n")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    read_jsonl_gz(con, path, FEEDS["pension"].files[0], path.name, "_read_x")
    assert relation_kind(con, SCRATCH_SCHEMA, "_read_x__rows") == "table"
    assert relation_kind(con, "main", "_read_x__rows", database="temp") is None
    lines = con.execute("select _line, person_key, birth_year from _read_x").fetchall()
    assert [(n, k, b) for n, k, b in lines] == [
        (i + 1, _key(i), str(1900 + i % 100)) for i in range(5000)]
    drop_read(con, "_read_x")
    assert relation_kind(con, SCRATCH_SCHEMA, "_read_x__rows") is None
    assert relation_kind(con, "main", "_read_x", database="temp") is None


def _staging_view(con) -> None:
    """staging.stg_pension__enrolments as the warehouse has it: the view over raw minus the
    quarantine (the fixture's table stands for it elsewhere)."""
    from junheng.ingest.load import staging_view_sql

    part = FEEDS["pension"].files[0].parts[0]
    con.execute("drop table staging.stg_pension__enrolments")
    con.execute("create table raw_rows (_year integer, _delivery_sha256 varchar, _line bigint, "
                "_error varchar, person_key varchar, district_code varchar, scheme varchar, "
                "birth_year varchar, sex varchar, status varchar)")
    con.executemany("insert into raw_rows values (?, 'x', ?, null, ?, ?, ?, ?, 'F', ?)",
                    [(YEAR, n, _key(p), d, s, str(b), st)
                     for n, (p, d, s, b, st) in enumerate(ROWS, start=2)])
    con.execute("insert into quality.quarantine values ('pension', ?, 'f', 'x', "   # person 2's
                "'pension__enrolments', 3, 'status', 'x', 'y', 'r')", [YEAR])   # only line
    con.execute("create view staging.stg_pension__enrolments as "
                + staging_view_sql(part, "raw_rows", "quality.quarantine"))


def test_the_districts_statement_counts_the_plain_persons(con):
    from junheng.engine import duckdb_pension_districts

    _staging_view(con)
    con.execute("set disabled_optimizers = 'top_n'")
    duckdb_pension_districts(con, YEAR)
    assert con.execute("select current_setting('disabled_optimizers')").fetchall() == \
        [("top_n",)]                                      # the connection's setting is back
    assert not con.execute("select 1 from duckdb_tables() where table_name = '_persons'"
                           ).fetchall()                   # the persons are never a table
    con.execute("create temp table _persons as " + PLAIN, {"year": YEAR})
    expected = con.execute(sql_text("intermediate/int_pension_districts.sql") + " order by 1"
                           ).fetchall()
    assert con.execute("select * from _pension_districts order by 1").fetchall() == expected
    # six persons (person 2's only line is quarantined), two of them dual
    assert sum(r[2] for r in expected) == 4 and sum(r[3] for r in expected) == 2


def test_the_districts_statement_reads_staging_without_materialising_its_rows(con):
    # DuckDB 2's common_subplan optimizer would materialise the view's rows (every key) once
    # for the persons' three reads: at city scale 3.7 GB spilled under a 300 MB limit.
    from junheng.engine import PENSION_DISTRICTS_OFF, optimizers_disabled, pension_districts_sql

    _staging_view(con)
    plan = "explain " + pension_districts_sql().replace("$year", str(YEAR))
    assert "__common_subplan" in con.execute(plan).fetchall()[0][1]   # what is turned off
    with optimizers_disabled(con, *PENSION_DISTRICTS_OFF):
        assert "__common_subplan" not in con.execute(plan).fetchall()[0][1]
