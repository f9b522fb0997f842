"""`make bench`: Junheng at city scale against a bare-DuckDB baseline, in one run.

Generates (or reuses) city-scale demo feeds (--scale 1.0, six years) in data/bench/landing,
then measures, each in its own process (wall time and peak RSS from wait4):

1. the pipeline for one reporting year (2025) on an empty warehouse, with per-stage times
   from the Dagster event log (ingest per feed and its load phases, expectations,
   indicators and index, progress and sensitivity, publication), alternately with the
   baseline (4.), three rounds by default, medians reported;
2. the pipeline for all six years on an empty warehouse;
3. a no-change re-run of the six years;
4. the baseline: bare DuckDB loading the same files of one year into tables and computing
   the same indicator aggregates with plain SQL (no Dagster, no GX, no rules);

and the CPU seconds (user + sys) of the one-year runs: with C cores no schedule runs the
pipeline in less than CPU / C seconds, so CPU / C / the baseline's wall time is the best
ratio the pipeline's work as it is could reach on this machine;

and prints a table, written also to data/bench/bench.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "data" / "bench"
LANDING = BENCH / "landing"
PY = sys.executable
YEAR = 2025


def measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command; its wall time and peak RSS (the child's own, from wait4)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(stdout[-3000:] + stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "stdout": stdout}


def fresh_env(name: str) -> dict:
    root = BENCH / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"),
            "JUNHENG_LANDING": str(LANDING), "JUNHENG_WAREHOUSE": str(root / "wh" / "w.duckdb"),
            "JUNHENG_EXTRACTS": str(root / "extracts"),
            "JUNHENG_ALERT_LOG": str(root / "alerts.log")}


def stage_times(env: dict) -> dict:
    """Seconds per stage from the step events of the runs in this instance."""
    import dagster as dg

    stages: dict[str, float] = {}
    phases: dict[str, float] = {}
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        for run in instance.get_runs():
            starts = {}
            for rec in instance.all_logs(run.run_id):
                ev = rec.dagster_event
                if ev is None:
                    continue
                if ev.event_type == dg.DagsterEventType.STEP_START:
                    starts[ev.step_key] = rec.timestamp
                elif ev.event_type == dg.DagsterEventType.STEP_SUCCESS and ev.step_key in starts:
                    name = ev.step_key.split(".")[0]
                    stages[name] = stages.get(name, 0.0) + rec.timestamp - starts[ev.step_key]
                elif ev.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                    meta = ev.event_specific_data.materialization.metadata
                    if "seconds_by_phase" in meta:  # once per feed (its first raw table)
                        feed = ev.step_key.split(".")[0].removeprefix("ingest_")
                        for k, v in meta["seconds_by_phase"].value.items():
                            # submissions: {department: {phase: s}}, summed over departments
                            for phase, s in (v.items() if isinstance(v, dict) else [(k, v)]):
                                key = f"{feed}: {phase}"
                                phases[key] = phases.get(key, 0.0) + s
    stages = {k: round(v, 2) for k, v in sorted(stages.items())}
    # The audit phase of every feed: Great Expectations' two suites on the candidate, and
    # the per-district figures beside them (before the write: write, audit, publish).
    stages["expectations (GX, inside ingest)"] = round(
        sum(v for k, v in phases.items() if k.endswith(": audit")), 2)
    stages["load phases"] = {k: round(v, 2) for k, v in sorted(phases.items())}
    return stages


BASELINE = r'''
import sys, time, duckdb, io, pyarrow as pa
from python_calamine import CalamineWorkbook
from junheng.methodology.formulas import values_sql
from junheng.engine import duckdb_pension_districts
from junheng.sql import sql_text, build_table
from junheng import SEEDS_DIR
landing, year, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = duckdb.connect(db, config={"threads": 2, "memory_limit": "2GB"})
con.execute("set enable_progress_bar = false")
for s in ("reference", "staging"):
    con.execute(f"create schema {s}")
for t in ("districts", "aqi_breakpoints"):
    build_table(con, "reference", t, f"reference/{t}.sql", {"seed": str(SEEDS_DIR / f"{t}.csv")})
con.execute(sql_text("create_macros.sql"))
f = lambda feed, name: f"{landing}/{feed}/{year}/{name}"
t0 = time.perf_counter()
con.execute(f"""create table staging.stg_population__townships as select {year} as year,
  区县代码 as district_code, 镇街代码 as township_code, 常住人口 as resident_total,
  "0-2岁" as age_0_2, "3-5岁" as age_3_5, "6-14岁" as age_6_14, "15-59岁" as age_15_59,
  "60岁及以上" as age_60_plus
  from read_csv('{f("population", f"population_{year}.csv")}', types={{'区县代码':'VARCHAR','镇街代码':'VARCHAR'}})""")
text = open(f("schools", f"schools_{year}.csv"), "rb").read().decode("gbk")
import pyarrow.csv as pacsv
con.register("_sch", pacsv.read_csv(io.BytesIO(text.encode())))
con.execute(f"""create table staging.stg_schools__schools as select {year} as year,
  d.district_code, 学段 as level, 普惠性 = '是' as is_inclusive, 集团化办学 = '是' as is_in_group,
  在校生数 as enrolled, 专任教师数 as teachers from _sch
  join (select distinct district_code, name_zh from reference.districts) d
  on d.name_zh = trim(所在区县)""")
wb = CalamineWorkbook.from_path(f("health", f"health_{year}.xlsx"))
rows = wb.get_sheet_by_name("机构").to_python()
con.register("_h", pa.table({h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])}))
con.execute(f"""create table staging.stg_health__institutions as select {year} as year,
  区县 as district_code, "执业（助理）医师数"::bigint as physicians,
  全科医生数::bigint as general_practitioners, 实有床位数::bigint as beds from _h""")
rows = wb.get_sheet_by_name("区县指标").to_python()
con.register("_hd", pa.table({h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])}))
con.execute(f"""create table staging.stg_health__districts as select {year} as year,
  cast(区县代码 as varchar) as district_code, "人均预期寿命（岁）" as life_expectancy,
  "免疫规划疫苗接种率（%）" as vaccination_rate, "基本医疗保险参保率（%）" as medical_insurance_rate
  from _hd""")
con.execute(f"""create table staging.stg_pension__enrolments as select {year} as year, *
  from read_json('{f("pension", f"pension_{year}.jsonl.gz")}', format='newline_delimited',
  columns={{person_key:'VARCHAR', district_code:'VARCHAR', scheme:'VARCHAR',
  birth_year:'INTEGER', sex:'VARCHAR', status:'VARCHAR'}})""")
con.execute(f"""create table staging.stg_eldercare__facilities as select {year} as year,
  区县代码 as district_code, 镇街代码 as township_code, 机构类型 as facility_type,
  具备综合功能 = '是' as is_comprehensive, 床位数 as beds, 护理型床位数 as nursing_beds
  from read_csv('{f("eldercare", f"eldercare_institutions_{year}.csv")}',
  types={{'区县代码':'VARCHAR','镇街代码':'VARCHAR'}})""")
con.execute(f"""create table staging.stg_eldercare__home_care as select {year} as year,
  区县代码 as district_code, 接受上门服务老年人数 as home_visit_elderly
  from read_csv('{f("eldercare", f"home_care_{year}.csv")}', types={{'区县代码':'VARCHAR'}})""")
con.execute(f"""create table staging.stg_environment__sewage as select {year} as year,
  区县代码 as district_code, "生活污水产生量（万吨）" as sewage_generated,
  "生活污水集中收集量（万吨）" as sewage_collected
  from read_csv('{f("environment", f"sewage_{year}.csv")}', types={{'区县代码':'VARCHAR'}})""")
con.execute(f"""create table staging.stg_environment__air_quality as select {year} as year,
  station_code, district_code, cast(time as timestamp) as measured_at,
  case when so2 >= 0 then so2 end as so2, case when no2 >= 0 then no2 end as no2,
  case when pm10 >= 0 then pm10 end as pm10, case when co >= 0 then co end as co,
  case when pm25 >= 0 then pm25 end as pm25, case when o3 >= 0 then o3 end as o3
  from read_csv('{f("environment", f"air_quality_{year}.csv")}', types={{'district_code':'VARCHAR'}})""")
# The 14 departments' submissions: district names by the reference aliases (NFKC in Python
# at build time, as the pipeline's), the text trimmed of ASCII and ideographic spaces.
import unicodedata
from junheng.reference import alias_rows
con.register("_al", pa.table({"alias": [unicodedata.normalize("NFKC", r[1]).strip()
                                        for r in alias_rows()],
                              "district_code": [r[0] for r in alias_rows()]}))
con.execute(f"""create table staging.stg_submissions__indicators as select {year} as year,
  regexp_extract(filename, '([a-z_]+)_[0-9]{{4}}[.]csv$', 1) as department,
  指标编码 as indicator_id, a.district_code, 分子::double as numerator,
  分母::double as denominator, 数值::double as value, 标准误::double as standard_error,
  样本量::integer as sample_size
  from read_csv('{f("submissions", "*.csv")}', filename = true, all_varchar = true) s
  left join (select distinct alias, district_code from _al) a
  on a.alias = trim(s.区县, ' 　')""")
load = time.perf_counter() - t0
t1 = time.perf_counter()
duckdb_pension_districts(con, year)   # the engine's own statement
con.execute("create temp table _station_days as " + sql_text("intermediate/int_air_station_days.sql"), {"year": year})
con.execute("create temp table _unit_days as " + sql_text("intermediate/int_air_unit_days.sql"))
n = len(con.execute(values_sql(), {"year": year}).fetchall())
print(f"load {load:.2f} aggregates {time.perf_counter() - t1:.2f} rows {n}")
'''


def cores() -> float:
    """The CPUs this process may use: its affinity, or a cgroup's CPU quota when lower."""
    n = float(len(os.sched_getaffinity(0)))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, int(quota) / int(period))
    except (OSError, ValueError):
        pass                         # no cgroup v2 quota to read
    return n


def _median(values: list, key=None):
    return sorted(values, key=key)[len(values) // 2]


def _median_run(runs: list[dict]) -> dict:
    return _median(runs, key=lambda r: r["wall_s"])


def main(one_year_only: bool = False, repeat: int = 3) -> None:
    BENCH.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    subprocess.run([PY, "-m", "pipelines.cli", "demo-feeds", "--landing", str(LANDING),
                    "--scale", "1.0", "--if-missing"], check=True)
    print(f"demo feeds ready ({time.perf_counter() - t:.0f} s)")
    results: dict = {}

    # One year and the baseline, alternately, `repeat` times: this machine's speed drifts by
    # ±15 % between minutes, so one pair is not a measurement. Medians are reported.
    pipeline_runs, baseline_runs = [], []
    base_db = BENCH / "baseline.duckdb"
    for i in range(repeat):
        for what in (("pipeline", "baseline") if i % 2 == 0 else ("baseline", "pipeline")):
            if what == "pipeline":
                env = fresh_env("one_year")
                r = measured([PY, "-m", "pipelines.cli", "run", "--years", str(YEAR)], env)
                pipeline_runs.append({**{k: r[k] for k in ("wall_s", "peak_rss_mb", "cpu_s")},
                                      "stages_s": stage_times(env)})
            else:
                base_db.unlink(missing_ok=True)
                r = measured([PY, "-c", BASELINE, str(LANDING), str(YEAR), str(base_db)])
                load, agg = (float(x) for x in r["stdout"].split()[1:4:2])
                baseline_runs.append({"wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                                      "cpu_s": r["cpu_s"], "load_s": load, "aggregates_s": agg})
        print(f"round {i + 1}/{repeat}: pipeline {pipeline_runs[-1]['wall_s']} s, "
              f"baseline {baseline_runs[-1]['wall_s']} s", flush=True)
    results["pipeline_one_year"] = _median_run(pipeline_runs)
    results["baseline_one_year"] = _median_run(baseline_runs)
    results["one_year_rounds"] = [{"pipeline_s": p["wall_s"], "baseline_s": b["wall_s"],
                                   "ratio": round(p["wall_s"] / b["wall_s"], 2),
                                   "pipeline_cpu_s": p["cpu_s"], "baseline_cpu_s": b["cpu_s"]}
                                  for p, b in zip(pipeline_runs, baseline_runs, strict=True)]
    print("one year (median run):", results["pipeline_one_year"])
    print("baseline (median run):", results["baseline_one_year"])
    # No schedule finishes a process's CPU seconds in less wall time than CPU / cores: the
    # ratio this machine could reach at best with the pipeline's work as it is.
    n = cores()
    cpu = _median([p["cpu_s"] for p in pipeline_runs])
    results["cpu"] = {
        "cores": n, "pipeline_cpu_s": cpu,
        "baseline_cpu_s": _median([b["cpu_s"] for b in baseline_runs]),
        "best_possible_ratio": round(cpu / n / results["baseline_one_year"]["wall_s"], 2)}
    print(f"CPU seconds (user + sys, medians): pipeline {cpu}, baseline "
          f"{results['cpu']['baseline_cpu_s']}; on {n:g} cores the pipeline cannot take "
          f"less than {cpu / n:.1f} s, {results['cpu']['best_possible_ratio']}x the "
          "baseline's wall time")

    if one_year_only:
        return
    env = fresh_env("six_years")
    r = measured([PY, "-m", "pipelines.cli", "run"], env)
    results["pipeline_six_years"] = {**{k: r[k] for k in ("wall_s", "peak_rss_mb")},
                                     "stages_s": stage_times(env)}
    print("six years:", {k: v for k, v in results["pipeline_six_years"].items()
                         if k != "stages_s"})
    r = measured([PY, "-m", "pipelines.cli", "run"], env)
    results["no_change_rerun_six_years"] = {k: r[k] for k in ("wall_s", "peak_rss_mb")}

    one, base = results["pipeline_one_year"], results["baseline_one_year"]
    six = results["pipeline_six_years"]
    gx_share = six["stages_s"]["expectations (GX, inside ingest)"] / six["wall_s"]
    results["ratios"] = {
        "one_year_pipeline_over_baseline": round(one["wall_s"] / base["wall_s"], 2),
        "gx_share_of_six_year_wall_time": round(gx_share, 3),
    }
    targets = [
        ("one year / baseline", f"{results['ratios']['one_year_pipeline_over_baseline']}x",
         "<= 2x"),
        ("  the best its CPU seconds allow on this machine",
         f"{results['cpu']['best_possible_ratio']}x", ""),
        ("six years end to end", f"{six['wall_s']:.0f} s", "< 360 s"),
        ("peak RSS (six years)", f"{six['peak_rss_mb']:.0f} MB", "< 3072 MB"),
        ("no-change re-run", f"{results['no_change_rerun_six_years']['wall_s']:.1f} s", "< 15 s"),
        ("GX share of wall time", f"{gx_share:.1%}", "< 20%"),
    ]
    print("\n| measure | value | target |\n|---|---|---|")
    for row in targets:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")
    rounds = ", ".join(f"{r['ratio']}x" for r in results["one_year_rounds"])
    print(f"\none year / baseline in each round: {rounds}")
    print("\n| stage (one year, median run) | s |\n|---|---|")
    for k, v in one["stages_s"].items():
        if k != "load phases":
            print(f"| {k} | {v} |")
    for k, v in one["stages_s"]["load phases"].items():
        print(f"| load {k} | {v} |")
    print("\n| run | wall s | peak RSS MB |\n|---|---|---|")
    for k in ("pipeline_one_year", "baseline_one_year", "pipeline_six_years",
              "no_change_rerun_six_years"):
        print(f"| {k} | {results[k]['wall_s']} | {results[k]['peak_rss_mb']} |")
    (BENCH / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {BENCH / 'bench.json'}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one-year-only", action="store_true",
                        help="measure one year and the baseline only, print them, "
                             "write nothing")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of one year + baseline, alternately (default 3; "
                             "medians are reported)")
    args = parser.parse_args()
    main(args.one_year_only, max(1, args.repeat))
