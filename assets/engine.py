"""The engine for the person-level steps, as a Dagster resource: DuckDB (default) or Spark.

`PersonLevelEngine(kind="spark", spark_master=...)` runs the pension delivery's read and
rules, its persons' per-district counts, and the air-quality station-days on Spark
(junheng/engine/spark.py); the warehouse reads the Parquet it writes. Its values come from
`pipelines/resources.py` (JUNHENG_ENGINE, JUNHENG_SPARK_MASTER, JUNHENG_SPARK_MEMORY).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb

from assets.resources import DuckDBWarehouse
from junheng.engine import duckdb_pension_districts
from junheng.ingest.feeds import FEEDS, Part
from junheng.ingest.load import Delivery
from junheng.ingest.readers import DeliveryError
from junheng.sql import ident, sql_text

ENGINES = ("duckdb", "spark")
AIR_STAGING = "stg_environment__air_quality"
AIR_FILE = next(f for f in FEEDS["environment"].files
                if any(p.staging == AIR_STAGING for p in f.parts))
# What the station-days read of the staging rows (warehouse/sql/intermediate/
# int_air_station_days.sql): Spark gets these columns of the year, nothing else.
AIR_COLUMNS = ("year", "station_code", "district_code", "measured_at",
               "so2", "no2", "pm10", "co", "pm25", "o3")


def _quote(path: Path) -> str:
    """A path of this module's own making as a SQL string literal (views take no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_station_days(con: duckdb.DuckDBPyConnection, year: int) -> None:
    con.execute("create or replace temp table _station_days as "
                + sql_text("intermediate/int_air_station_days.sql"), {"year": year})


class PersonLevelEngine(dg.ConfigurableResource):
    """Where the person-level steps run: `duckdb` (in the warehouse's process) or `spark`
    (`spark_master`: `local[2]`, a cluster's master URL, or a Spark Connect `sc://` URL).
    Spark's Parquet, spill files and logs go to `work_dir` (default: `spark/` beside the
    warehouse), which is restricted like the warehouse itself."""

    kind: str = "duckdb"
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"
    work_dir: str = ""

    @property
    def is_spark(self) -> bool:
        if self.kind not in ENGINES:
            raise ValueError(f"engine {self.kind!r}: one of {', '.join(ENGINES)}")
        return self.kind == "spark"

    def work(self, warehouse: DuckDBWarehouse) -> Path:
        return Path(self.work_dir) if self.work_dir else Path(warehouse.path).parent / "spark"

    def spark(self, warehouse: DuckDBWarehouse):
        from junheng.engine.spark import session

        return session(self.spark_master, self.work(warehouse), self.spark_driver_memory)

    def pension_reader(self, warehouse: DuckDBWarehouse) -> Callable | None:
        """For `load_feed_year`: None (DuckDB reads and checks the delivery), or a function
        that reads a person-level delivery on Spark and makes its rows and rule results
        temp views of the connection."""
        if not self.is_spark:
            return None

        def read(con: duckdb.DuckDBPyConnection, d: Delivery, part: Part, rows: str,
                 checked: str) -> list[str]:
            from junheng.engine.spark import delivery_dir, read_pension

            out = delivery_dir(self.work(warehouse), d.sha256)
            codes = [r[0] for r in con.execute(
                "select district_code from reference.districts order by 1").fetchall()]
            try:
                read_pension(self.spark(warehouse), d.archive_path, out, d.year, codes)
            except ValueError as exc:
                raise DeliveryError(d.file_name, str(exc)) from None
            self._views(con, out, rows, checked)
            return []

        return read

    @staticmethod
    def _views(con: duckdb.DuckDBPyConnection, out: Path, rows: str, checked: str) -> None:
        con.execute(f"create or replace temp view {ident(rows)} as select * from "
                    f"read_parquet({_quote(out / 'rows' / '*.parquet')})")
        con.execute(f"create or replace temp view {ident(checked)} as select _line, "
                    f"_violations from read_parquet({_quote(out / 'checked' / '*.parquet')})")

    def pension_step(self, warehouse: DuckDBWarehouse) -> Callable:
        """For `compute_values`: makes the temp table `_pension_districts` of one year (the
        per-district counts of int_pension_districts.sql) on this engine."""
        if not self.is_spark:
            return duckdb_pension_districts

        def step(con: duckdb.DuckDBPyConnection, year: int) -> None:
            from junheng.engine.spark import delivery_dir, pension_districts, read_pension

            row = con.execute("select sha256, archive_path from quality.deliveries where "
                              "feed = 'pension' and year = ? and status = 'loaded'",
                              [year]).fetchall()
            if not row:   # nothing in use: the counts of an empty staging, as DuckDB has it
                duckdb_pension_districts(con, year)
                return
            sha, archived = row[0]
            out = delivery_dir(self.work(warehouse), sha)
            spark = self.spark(warehouse)
            if not (out / "rows").is_dir() or not (out / "checked").is_dir():
                # Loaded by the DuckDB engine, or its Parquet removed: read the archived copy.
                codes = [r[0] for r in con.execute(
                    "select district_code from reference.districts order by 1").fetchall()]
                read_pension(spark, Path(archived), out, year, codes)
            target = pension_districts(spark, out, year)
            con.execute("create or replace temp table _pension_districts as select * from "
                        f"read_parquet({_quote(target / '*.parquet')})")
            self._prune(con, warehouse, "pension", "pension")

        return step

    def air_step(self, warehouse: DuckDBWarehouse) -> Callable:
        """For `compute_values`: makes the temp table `_station_days` of one year (one row
        per station and day, int_air_station_days.sql) on this engine.

        With Spark, the warehouse exports the year's staging rows (the columns the SQL reads)
        to Parquet under `<work>/air/<sha256 of the delivery in use>/hours/`; Spark writes
        the station-days beside them (`station_days_<year>/`), which DuckDB reads back."""
        if not self.is_spark:
            return _duckdb_station_days

        def step(con: duckdb.DuckDBPyConnection, year: int) -> None:
            from junheng.engine.spark import air_station_days

            row = con.execute("select sha256 from quality.deliveries where feed = ? and "
                              "year = ? and file_name = ? and status = 'loaded'",
                              ["environment", year, AIR_FILE.name(year)]).fetchall()
            if not row:   # nothing in use: the station-days of an empty staging
                _duckdb_station_days(con, year)
                return
            spark = self.spark(warehouse)          # creates the restricted work directory
            out = self.work(warehouse) / "air" / row[0][0]
            hours = out / "hours"
            shutil.rmtree(hours, ignore_errors=True)
            hours.mkdir(parents=True)
            con.execute(f"copy (select {', '.join(map(ident, AIR_COLUMNS))} from "
                        f"staging.{ident(AIR_STAGING)} where year = ?) to "
                        f"{_quote(hours / 'hours.parquet')} (format parquet)", [year])
            target = air_station_days(spark, hours, out / f"station_days_{int(year)}", year)
            con.execute("create or replace temp table _station_days as select * from "
                        f"read_parquet({_quote(target / '*.parquet')})")
            self._prune(con, warehouse, "air", "environment")

        return step

    def _prune(self, con: duckdb.DuckDBPyConnection, warehouse: DuckDBWarehouse, kind: str,
               feed: str) -> None:
        """Parquet of deliveries no longer in use (superseded, rejected) is removed."""
        root = self.work(warehouse) / kind
        in_use = {r[0] for r in con.execute("select sha256 from quality.deliveries where "
                                            "feed = ? and status = 'loaded'", [feed]).fetchall()}
        for path in root.iterdir() if root.is_dir() else []:
            if path.name.removesuffix(".incoming") not in in_use:
                shutil.rmtree(path, ignore_errors=True)
