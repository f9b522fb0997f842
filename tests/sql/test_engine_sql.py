"""The SQL of the Spark engine on both engines: every file of `junheng.engine.translate.SHARED`
runs on DuckDB and, translated by SQLGlot, on Spark (local[2]), over the same rows (a pension
delivery; air-quality readings); the rows must be equal, doubles to the last bit (issue #16:
one source for the SQL, the same results)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
import sql_helpers
from sql_helpers import warehouse

from assets.engine import AIR_COLUMNS, AIR_STAGING
from junheng.engine.spark import air_station_days, pension_districts, read_pension
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
        assert " ORDER BY " not in sql.upper(), relpath     # ordered means: folded


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


# --------------------------------------------------------------------------- air quality

STATIONS = {"1001A": "320508", "1002A": "320571"}
POLLUTANTS = ("so2", "no2", "pm10", "o3", "pm25", "co")
O3_GAPS = {                    # day -> O3 hours not delivered
    "2022-03-03": range(0, 5),   # windows 0-2 invalid (window 2: 5 valid hours): 14 valid
    "2022-03-04": range(0, 6),   # windows 0-3 invalid: 13 valid windows, no 8-hour value
}


def _air_rows() -> dict[str, list]:
    """Two stations, four days, every hour; values with one or three decimals (their sums
    of doubles depend on the order they are added in), delivered in shuffled order."""
    rng = random.Random(16)
    rows = []
    for station, district in STATIONS.items():
        for day in ("2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04"):
            for h in range(24):
                row = {"station_code": station, "station_name": station,
                       "district_code": district, "time": f"{day} {h:02d}:00"}
                for p in POLLUTANTS:
                    row[p] = round(rng.uniform(0.2, 3.0), 3) if p == "co" else \
                        round(rng.uniform(5, 150), 1)
                if day == "2022-03-02":
                    if h < 5:
                        row["pm25"] = None          # 19 valid hours: no 24-hour mean
                    if h < 4:
                        row["pm10"] = ""            # 20 valid hours: a mean
                    if h in (3, 7, 11):
                        row["so2"] = -99            # the analyser's invalid flag
                if h in O3_GAPS.get(day, ()):
                    row["o3"] = -99 if h % 2 else None
                rows.append(row)
    rng.shuffle(rows)
    return {k: [r[k] for r in rows] for k in rows[0]}


@pytest.fixture(scope="module")
def air_staging(tmp_path_factory) -> tuple[list[tuple], Path]:
    """The DuckDB engine's station-days, and the staging rows exported as the Spark engine
    does it (assets/engine.py: the year's rows, the columns the SQL reads)."""
    con = warehouse()
    sql_helpers.stage(con, AIR_STAGING, _air_rows(), YEAR)
    assert con.execute(f"select count(*), count(measured_at) from staging.{AIR_STAGING}"
                       ).fetchall() == [(192, 192)]
    con.execute("create temp table _station_days as "
                + sql_text("intermediate/int_air_station_days.sql"), {"year": YEAR})
    duck = con.execute("select * from _station_days order by station_code, day").fetchall()
    hours = tmp_path_factory.mktemp("air") / "hours"
    hours.mkdir()
    con.execute(f"copy (select {', '.join(AIR_COLUMNS)} from staging.{AIR_STAGING} "
                f"where year = ?) to '{hours / 'hours.parquet'}' (format parquet)", [YEAR])
    return duck, hours


def test_the_station_days_apply_hj_633s_validity_rules(air_staging):
    duck, _ = air_staging
    assert len(duck) == 8
    day = {(r[0], str(r[2])): dict(zip(("so2", "no2", "pm10", "co", "pm25", "o3_1h",
                                         "o3_8h"), r[3:], strict=True)) for r in duck}
    for station in STATIONS:
        full = day[station, "2022-03-01"]
        assert None not in full.values()
        gaps = day[station, "2022-03-02"]
        assert gaps["pm25"] is None and gaps["pm10"] is not None and gaps["so2"] is not None
        early = day[station, "2022-03-03"]
        assert early["o3_8h"] is not None and early["o3_1h"] is None  # 14 windows, 19 hours
        late = day[station, "2022-03-04"]
        assert late["o3_8h"] is None and late["o3_1h"] is None        # 13 windows, 18 hours


def _hand_o3_8h(day: str, station: str) -> float:
    """The 8-hour maximum as HJ 633-2012 defines it, from the delivered rows."""
    rows = _air_rows()
    o3 = {int(t[11:13]): v for s, t, v in zip(rows["station_code"], rows["time"], rows["o3"],
                                              strict=True)
          if s == station and t.startswith(day) and v not in (None, "", -99)}
    means = []
    for start in range(17):
        vals = [o3[h] for h in range(start, start + 8) if h in o3]
        if len(vals) >= 6:
            means.append(sum(vals) / len(vals))
    return max(means) if len(means) >= 14 else None


def test_the_o3_8_hour_maximum_is_hj_633s(air_staging):
    duck, _ = air_staging
    for r in duck:
        expected = _hand_o3_8h(str(r[2]), r[0])
        assert (r[9] is None) == (expected is None)
        if expected is not None:
            assert r[9] == pytest.approx(expected, rel=1e-12)


@pytest.mark.spark
def test_the_station_days_are_the_same_on_both_engines(spark, air_staging, tmp_path):
    import duckdb

    duck, hours = air_staging
    target = air_station_days(spark, hours, tmp_path / f"station_days_{YEAR}", YEAR)
    sp = duckdb.connect().execute(f"select * from read_parquet('{target}/*.parquet') "
                                  "order by station_code, day").fetchall()
    assert len(sp) == len(duck)
    assert sp == duck        # doubles equal to the last bit, not only to a tolerance
    assert [repr(v) for r in sp for v in r] == [repr(v) for r in duck for v in r]


@pytest.mark.spark
def test_an_ordered_mean_adds_in_its_order_on_spark(spark):
    # 1 + 1e16 - 1e16 + 1 is 1 in this order, 0 or 2 in others: the fold keeps DuckDB's.
    import duckdb

    sql = ("select g, avg(x order by k) as m, sum(x order by k) as s from (values "
           "(1, 2, 1e16), (1, 1, 1.0), (1, 3, -1e16), (1, 4, 1.0), (2, 1, null)) t(g, k, x) "
           "group by g order by g")
    duck = duckdb.connect().execute(sql).fetchall()
    assert duck == [(1, 0.25, 1.0), (2, None, None)]
    assert [tuple(r) for r in spark.sql(to_spark(sql)).collect()] == duck
