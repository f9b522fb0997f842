"""The person-level steps on Apache Spark (pyspark 4): a pension delivery's rows and rule
results, and its persons' per-district counts, as Parquet the DuckDB warehouse reads; and,
far smaller, the air-quality station-days of a year from the hourly readings.

Everything person-level that Spark writes, spills or logs stays under one restricted work
directory beside the warehouse (`<warehouse dir>/spark` by default): Parquet of the rows
(`pension/<sha256>/`), the air-quality readings and their station-days
(`air/<sha256>/`), shuffle and spill files (`tmp/`) and Spark's own log (`logs/`, level
WARN). Like the raw tables, none of it goes into the query snapshot, a release or a log
line: Spark's errors leave only scrubbed (`junheng.privacy.scrub`), without the JVM trace.

The SQL is warehouse/sql's, translated by `junheng.engine.translate`. Results equal the
DuckDB engine's: the same quarantined lines and rules, the same persons and counts, the same
station-days to the last bit.
"""

from __future__ import annotations

import gzip
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

from junheng.engine.translate import spark_file
from junheng.privacy import first_line, scrub

PENSION_COLUMNS = ("person_key", "district_code", "scheme", "birth_year", "sex", "status")
_lock = threading.Lock()
_sessions: dict[tuple, object] = {}

_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{ISO8601}} %p %c{{1}}: %m%n
"""


class SparkError(Exception):
    """A Spark step failed; the message is scrubbed and carries no JVM stack trace."""


def session(master: str, work_dir: str | Path, driver_memory: str = "2g",
            shuffle_partitions: int = 0):
    """One SparkSession per process and configuration (the in-process executor runs every
    step of a run in one process, so a run starts the JVM once). `master` is a Spark master
    URL (`local[2]`, `spark://host:7077`, `yarn`, `k8s://...`) or a Spark Connect URL
    (`sc://host:15002`)."""
    work = Path(work_dir)
    key = (master, str(work), driver_memory, shuffle_partitions)
    with _lock:
        if key in _sessions:
            return _sessions[key]
        from pyspark.sql import SparkSession

        if master.startswith("sc://"):
            spark = SparkSession.builder.remote(master).getOrCreate()
        else:
            for sub in ("logs", "tmp"):
                (work / sub).mkdir(parents=True, exist_ok=True)
            work.chmod(0o700)
            conf = work / "log4j2.properties"
            conf.write_text(_LOG4J.format(log=work / "logs" / "spark.log"))
            java_opts = f"-Dlog4j2.configurationFile=file:{conf}"
            cores = _cores(master)
            spark = (SparkSession.builder.master(master).appName("junheng")
                     .config("spark.driver.memory", driver_memory)
                     .config("spark.driver.extraJavaOptions", java_opts)
                     .config("spark.executor.extraJavaOptions", java_opts)
                     .config("spark.local.dir", str(work / "tmp"))
                     .config("spark.ui.enabled", "false")
                     .config("spark.ui.showConsoleProgress", "false")
                     .config("spark.eventLog.enabled", "false")
                     .config("spark.sql.shuffle.partitions",
                             str(shuffle_partitions or max(2, 4 * cores)))
                     .config("spark.sql.session.timeZone", "UTC")
                     # A key twice in one JSON line must not fail the whole delivery.
                     .config("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
                     .getOrCreate())
        spark.sparkContext.setLogLevel("WARN")
        _sessions[key] = spark
        return spark


def stop_all() -> None:
    with _lock:
        for spark in _sessions.values():
            spark.stop()
        _sessions.clear()


def _cores(master: str) -> int:
    inside = master.partition("[")[2].rstrip("]")
    if inside.isdigit():
        return int(inside)
    import os
    return os.cpu_count() or 2


@contextmanager
def _scrubbed(what: str):
    """Spark's exceptions quote rows and plans: only a scrubbed first line leaves."""
    try:
        yield
    except ValueError:         # a problem of the delivery, already worded
        raise
    except Exception as exc:   # Py4J, AnalysisException, SparkRuntimeException...
        raise SparkError(scrub(f"{what}: {first_line(exc)}")[:500]) from None


def delivery_dir(work_dir: str | Path, sha256: str) -> Path:
    return Path(work_dir) / "pension" / sha256


def _check_gzip(path: Path) -> str | None:
    """Why a file is no gzip of JSON Lines, as far as its head shows (as the DuckDB reader
    says it), or None. A truncated stream shows when Spark reaches its end."""
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(2)
    except (OSError, EOFError) as exc:
        return f"truncated or corrupt gzip stream ({exc})"
    if head == b"\x1f\x8b":
        return "compressed twice: the gzip stream holds another gzip stream, not JSON Lines"
    return None


_GZIP_ERRORS = ("Unexpected end of", "EOFException", "Not in GZIP format", "ZipException",
                "invalid block type", "incorrect header check", "CRC")


def read_pension(spark, archive_path: Path, out: Path, year: int,
                 district_codes: list[str]) -> None:
    """A pension delivery (gzip JSON Lines) -> `out/rows` (`_line`, `_error` and the
    contracted columns as text, as the DuckDB reader makes them) and `out/checked` (the
    suspect lines with their violations: warehouse/sql/staging/stg_pension__enrolments.sql).

    Lines are numbered in the single task that decompresses the file (gzip cannot be
    split), then spread over the cores for the JSON parsing and the rules."""
    from pyspark.sql import functions as F

    problem = _check_gzip(archive_path)
    if problem:
        raise ValueError(problem)
    tmp = out.with_name(out.name + ".incoming")
    shutil.rmtree(tmp, ignore_errors=True)
    with _scrubbed("reading the pension delivery on Spark"):
        lines = spark.read.text(str(archive_path))
        if lines.rdd.getNumPartitions() != 1:      # never for a .gz: one split
            raise ValueError("a gzip delivery must be read as one split to number its lines")
        lines = lines.select((F.monotonically_increasing_id() + 1).alias("_line"), "value")
        lines = lines.repartition(spark.sparkContext.defaultParallelism * 2)
        # One parse per line. A line that is not a JSON object (malformed, an array, a bare
        # value) lands in the corrupt-record field: `_error`, as DuckDB's reader sets it.
        schema = ", ".join(f"{c} string" for c in (*PENSION_COLUMNS, "_corrupt"))
        parsed = lines.select("_line", "value", F.from_json(
            "value", schema, {"columnNameOfCorruptRecord": "_corrupt"}).alias("j"))
        bad = F.col("j").isNull() | F.col("j._corrupt").isNotNull()
        rows = parsed.select(
            "_line",
            F.when(bad, F.concat(F.lit("not a JSON object: "),
                                 F.expr("left(value, 80)"))).alias("_error"),
            *[F.when(~bad, F.col(f"j.{c}")).alias(c) for c in PENSION_COLUMNS])
        try:
            rows.write.mode("overwrite").parquet(str(tmp / "rows"))
        except Exception as exc:
            if any(e in str(exc) for e in _GZIP_ERRORS):
                raise ValueError("truncated or corrupt gzip stream (Spark could not read "
                                 "the file to its end)") from None
            raise
        delivery = spark.read.parquet(str(tmp / "rows"))
        delivery.createOrReplaceTempView("_delivery")
        spark.createDataFrame([(c,) for c in district_codes], "district_code string") \
            .createOrReplaceTempView("reference_districts")
        checked = spark.sql(spark_file("staging/stg_pension__enrolments.sql", {"year": year},
                                       {"reference.districts": "reference_districts"}))
        checked.coalesce(1).write.mode("overwrite").parquet(str(tmp / "checked"))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def pension_districts(spark, out: Path, year: int) -> Path:
    """The delivery in `out` (rows and checked, from `read_pension`) -> `out/districts`: its
    staging rows (the rows whose line is not quarantined), its persons and their counts by
    district (int_pension_persons.sql, then int_pension_districts.sql)."""
    target = out / f"districts_{int(year)}"
    with _scrubbed("the pension persons on Spark"):
        rows = spark.read.parquet(str(out / "rows"))
        rows.selectExpr(f"{int(year)} as _year", "'' as _delivery_sha256", "*") \
            .createOrReplaceTempView("_rows")
        spark.read.parquet(str(out / "checked")).createOrReplaceTempView("_checked")
        spark.sql(f"select 'pension' as feed, 'pension__enrolments' as table_name, "
                  f"{int(year)} as year, _line as line from _checked where size(_violations) > 0"
                  ).createOrReplaceTempView("_quarantine")
        spark.sql(spark_file("staging/stg_pension__enrolments.view.sql",
                             rows="_rows", quarantine="_quarantine")) \
            .createOrReplaceTempView("_staging")
        spark.sql(spark_file("intermediate/int_pension_persons.sql", {"year": year},
                             {"staging.stg_pension__enrolments": "_staging"})) \
            .createOrReplaceTempView("_persons")
        spark.sql(spark_file("intermediate/int_pension_districts.sql")) \
            .coalesce(1).write.mode("overwrite").parquet(str(target))
    return target


def air_station_days(spark, hours: Path, out: Path, year: int) -> Path:
    """The year's staging air-quality rows (`hours`: Parquet the warehouse exported) -> `out`:
    one row per station and day, HJ 633-2012's validity rules
    (warehouse/sql/intermediate/int_air_station_days.sql)."""
    with _scrubbed("the air-quality station-days on Spark"):
        spark.read.parquet(str(hours)).createOrReplaceTempView("_air_hours")
        spark.sql(spark_file("intermediate/int_air_station_days.sql", {"year": year},
                             {"staging.stg_environment__air_quality": "_air_hours"})) \
            .coalesce(1).write.mode("overwrite").parquet(str(out))
    return out
