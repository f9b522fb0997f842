"""HJ 633-2012 daily AQI, on hand-worked days, through the project's SQL files."""

from __future__ import annotations

import pytest
from sql_helpers import stage, warehouse

from junheng.sql import sql_text

YEAR = 2023
STATION = {"1001A": "320508", "1002A": "320508", "1003A": "320571"}


def hours(station, day, **series):
    """24 hourly rows for one station-day; each pollutant a value or a list of 24 (None=blank)."""
    rows = []
    for h in range(24):
        row = {"station_code": station, "station_name": station,
               "district_code": STATION[station], "time": f"{day} {h:02d}:00"}
        for p in ("so2", "no2", "pm10", "o3", "pm25", "co"):
            v = series.get(p, 10.0 if p != "co" else 0.5)
            row[p] = v[h] if isinstance(v, list) else v
        rows.append(row)
    return rows


def run(rows):
    con = warehouse()
    stage(con, "stg_environment__air_quality", {k: [r[k] for r in rows] for k in rows[0]},
          YEAR)
    con.execute("create temp table _station_days as "
                + sql_text("intermediate/int_air_station_days.sql"), {"year": YEAR})
    return con, {(r[0], str(r[1])): r for r in con.execute(
        "select district_code, day, pm25_24h, o3_8h, iaqi_pm25, iaqi_o3_8h, aqi, is_valid, "
        "is_good, pm10_24h, o3_1h, iaqi_o3_1h from (" + sql_text(
            "intermediate/int_air_unit_days.sql") + ")").fetchall()}


def test_boundary_values_round_up():
    rows = (hours("1001A", "2023-01-01", pm25=75.0)      # IAQI exactly 100: good
            + hours("1001A", "2023-01-02", pm25=75.1)    # 100.125 -> 101: not good
            + hours("1001A", "2023-01-03", pm25=35.0)    # 50
            + hours("1001A", "2023-01-04", pm25=0.0, pm10=0.0, o3=0.0, so2=0.0, no2=0.0,
                    co=0.0)                              # C = 0 gives IAQI 0
            + hours("1001A", "2023-01-05", pm25=600.0))  # above the last breakpoint
    _, days = run(rows)
    d1 = days["320508", "2023-01-01"]
    assert (d1[4], d1[6], d1[8]) == (100, 100, True)
    d2 = days["320508", "2023-01-02"]
    assert (d2[4], d2[6], d2[8]) == (101, 101, False)
    assert days["320508", "2023-01-03"][4] == 50
    d4 = days["320508", "2023-01-04"]
    assert (d4[4], d4[5], d4[6]) == (0, 0, 0)
    assert days["320508", "2023-01-05"][4] == 500


def test_interpolation_inside_a_segment():
    # pm25 100: between 75 (100) and 115 (150): 50/40 * 25 + 100 = 131.25 -> 132
    _, days = run(hours("1001A", "2023-02-01", pm25=100.0))
    assert days["320508", "2023-02-01"][4] == 132


def test_invalid_hours_make_the_day_invalid():
    few = [50.0] * 19 + [None] * 5                       # 19 valid hours < 20
    _, days = run(hours("1001A", "2023-03-01", pm25=few))
    d = days["320508", "2023-03-01"]
    assert d[2] is None and d[7] is False and d[8] is False


def test_sentinels_are_missing_not_averaged():
    vals = [40.0] * 20 + [-99.0] * 4                     # 20 valid hours: still valid
    _, days = run(hours("1001A", "2023-03-02", pm25=vals))
    assert days["320508", "2023-03-02"][2] == pytest.approx(40.0)
    vals = [40.0] * 19 + [-99.0] * 5                     # 19 valid: invalid
    _, days = run(hours("1001A", "2023-03-03", pm25=vals))
    assert days["320508", "2023-03-03"][2] is None


def test_o3_eight_hour_windows():
    o3 = [0.0] * 10 + [200.0] * 8 + [0.0] * 6           # window 10:00-17:00 means 200
    _, days = run(hours("1001A", "2023-07-01", o3=o3))
    d = days["320508", "2023-07-01"]
    assert d[3] == pytest.approx(200.0)
    assert d[5] == 137                                   # 50/55 * 40 + 100 = 136.36 -> 137
    assert d[10] == 200.0 and d[11] == 100               # 1-hour max: IAQI 100
    # Hours 0-6 missing: windows starting 0..4 have < 6 valid hours -> 12 valid windows < 14
    o3 = [None] * 7 + [80.0] * 17
    _, days = run(hours("1001A", "2023-07-02", o3=o3))
    d = days["320508", "2023-07-02"]
    assert d[3] is None and d[7] is False
    # Window ending at 23:00 starts at 16:00: the last of the 17 windows counts
    o3 = [10.0] * 16 + [300.0] * 8
    _, days = run(hours("1001A", "2023-07-03", o3=o3))
    assert days["320508", "2023-07-03"][3] == pytest.approx(300.0)


def test_o3_eight_hour_above_800_is_left_to_the_one_hour_iaqi():
    o3 = [900.0] * 24
    _, days = run(hours("1001A", "2023-07-04", o3=o3))
    d = days["320508", "2023-07-04"]
    assert d[5] is None            # no 8-hour IAQI above 800
    assert d[11] == 350            # o3_1h 900: (400-300)/(1000-800) * 100 + 300 = 350
    assert d[6] == 350 and d[7] is True and d[8] is False  # valid (8-hour value exists)


def test_district_and_city_means_over_stations_with_valid_values():
    rows = (hours("1001A", "2023-04-01", pm25=20.0)
            + hours("1002A", "2023-04-01", pm25=[60.0] * 10 + [None] * 14)   # invalid day
            + hours("1003A", "2023-04-01", pm25=80.0))
    _, days = run(rows)
    assert days["320508", "2023-04-01"][2] == pytest.approx(20.0)   # 1002A left out
    assert days["320571", "2023-04-01"][2] == pytest.approx(80.0)
    assert days["320500", "2023-04-01"][2] == pytest.approx(50.0)   # mean of valid stations
    assert days["320571", "2023-04-01"][8] is False                 # 80 > 75
