"""Reference tables loaded into a real DuckDB file by a real materialisation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import pytest

from assets import reference
from pipelines.resources import DuckDBWarehouse, settings


@pytest.fixture()
def warehouse(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))


def test_reference_tables(warehouse):
    result = dg.materialize(
        dg.load_assets_from_modules([reference]) + dg.load_asset_checks_from_modules([reference]),
        resources={"warehouse": warehouse},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    con = duckdb.connect(warehouse.path, read_only=True)
    assert con.execute("select count(*), sum(resident_population_2020) from reference.districts"
                   ).fetchone() == (10, 12_748_262)
    # Full-width parentheses in the seed are matched on their NFKC form.
    assert con.execute("select district_code from reference.district_aliases "
                       "where alias_normalised = ?", ["高新区(虎丘区)"]).fetchone() == ("320505",)
    assert con.execute("select district_code from reference.district_aliases "
                       "where alias_normalised = 'SIP'").fetchone() == ("320571",)
    targeted = con.execute("select count(*) from reference.indicators where target_rule is not null"
                       ).fetchone()[0]
    assert targeted == 39  # E4 and O2 have no target
    # Table 1 as printed, beside the numbers: one row of it may name two indicators.
    assert con.execute("select table1_baseline_printed, table1_target_printed from "
                       "reference.indicators where indicator_id = 'I2'").fetchone() == \
        ("79.7、75.8", ">15")
    assert con.execute("select count(*) from reference.indicators where in_index").fetchone() \
        == (35,)
    # o3_8h has no breakpoints above IAQI 300; the long form leaves them out.
    assert con.execute("select max(iaqi) from reference.aqi_breakpoints where pollutant = 'o3_8h'"
                   ).fetchone() == (300,)
    assert con.execute("select concentration from reference.aqi_breakpoints "
                   "where pollutant = 'pm25_24h' and iaqi = 100").fetchone() == (75.0,)


def test_settings_defaults_and_overrides(monkeypatch, tmp_path):
    for var in ("JUNHENG_LANDING", "JUNHENG_WAREHOUSE", "JUNHENG_EXTRACTS", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    s = settings()
    assert s.landing.parts[-2:] == ("data", "landing")
    assert s.warehouse.parts[-2:] == ("warehouse", "junheng.duckdb")
    assert s.extracts.parts[-2:] == ("data", "extracts")
    monkeypatch.setenv("JUNHENG_WAREHOUSE", str(tmp_path / "x.duckdb"))
    monkeypatch.setenv("JUNHENG_LANDING", "relative/landing")
    s = settings()
    assert s.warehouse == tmp_path / "x.duckdb"
    assert s.landing.is_absolute() and s.landing.parts[-2:] == ("relative", "landing")


def test_writer_waits_for_a_lock_instead_of_failing(tmp_path):
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time, sys
        con = duckdb.connect({str(path)!r})
        con.execute("create table t as select 1 as x")
        print("locked", flush=True)
        time.sleep(3)
        con.close()
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    t0 = time.monotonic()
    with DuckDBWarehouse(path=str(path), lock_timeout_s=30).connect() as con:
        assert con.execute("select x from t").fetchone() == (1,)
    assert time.monotonic() - t0 > 0.5  # it did wait for the other process
    holder.wait()
