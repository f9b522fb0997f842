"""`make bench-scale`: how the person-level work's cost grows with volume, on both engines.

For each --scale (default 0.25, 1, 3 and 6.7: a city is 1, Jiangsu province about 6.7), the
demo generator writes one year (2025) of feeds (reused when present) in data/bench-scale;
then, each in its own process, alternately:

- the pension ingest (the real Dagster step: archive, read, rules, quarantine, audit,
  publish) and P1 (persons, dual enrolment resolved, per-district counts, the P1 values),
  with JUNHENG_ENGINE=duckdb and with JUNHENG_ENGINE=spark (local[2] by default);
- the same-run floor: bare DuckDB reading the same file into a table and computing the
  same persons and per-district counts with the same SQL (no rules, archive, audit).

It reports wall time, the peak RSS of every process of the run (the Python process, and
Spark's JVM: /proc's VmHWM, sampled while they live), seconds per million records, and the
ratio to the floor; prints a table and writes data/bench-scale/bench-scale.json. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "bench-scale"
PY = sys.executable
YEAR = 2025

# One engine's pension ingest and P1, in a fresh process on an empty warehouse.
ONE = r'''
import json, sys, time
t0 = time.perf_counter()
import dagster as dg
from assets import reference
from assets.feeds import INGEST
from assets.indicators import compute_values
from assets.partitions import reporting_year
from pipelines.resources import default_resources
year = int(sys.argv[1])
res = default_resources()
instance = dg.DagsterInstance.ephemeral()
instance.add_dynamic_partitions(reporting_year.name, [str(year)])
assert dg.materialize(dg.load_assets_from_modules([reference]), resources=res).success
t1 = time.perf_counter()
assert dg.materialize([INGEST["pension"]], partition_key=str(year), instance=instance,
                      resources=res).success
t2 = time.perf_counter()
warehouse, engine = res["warehouse"], res["engine"]
with warehouse.connect() as con:
    engine.pension_step(warehouse)(con, year)
    p1 = con.execute("select sum(contributing) * 100.0 / sum(eligible), sum(dual_enrolments) "
                     "from _pension_districts where eligible > 0").fetchall()[0]
    records, rejected = con.execute("select rows_read, rows_rejected from quality.deliveries "
                                    "where feed = 'pension' and status = 'loaded'").fetchall()[0]
t3 = time.perf_counter()
print(json.dumps({"setup_s": round(t1 - t0, 2), "ingest_s": round(t2 - t1, 2),
                  "p1_s": round(t3 - t2, 2), "records": records, "rejected": rejected,
                  "p1_city": round(p1[0], 6), "dual": p1[1]}))
'''

# The floor: bare DuckDB, the same file, the same persons and district statement.
FLOOR = r'''
import json, sys, time, duckdb
from junheng.engine import duckdb_pension_districts
path, year, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
con = duckdb.connect(db, config={"threads": 2, "memory_limit": "2GB"})
con.execute("set enable_progress_bar = false; create schema staging")
con.execute(f"""create table staging.stg_pension__enrolments as select {year} as year, *
  from read_json(?, format='newline_delimited', columns={{person_key:'VARCHAR',
  district_code:'VARCHAR', scheme:'VARCHAR', birth_year:'INTEGER', sex:'VARCHAR',
  status:'VARCHAR'}})""", [path])
t1 = time.perf_counter()
duckdb_pension_districts(con, year)   # the engine's own statement
p1 = con.execute("select sum(contributing) * 100.0 / sum(eligible) from _pension_districts "
                 "where eligible > 0").fetchall()[0][0]
records = con.execute("select count(*) from staging.stg_pension__enrolments").fetchall()[0][0]
print(json.dumps({"load_s": round(t1 - t0, 2), "p1_s": round(time.perf_counter() - t1, 2),
                  "records": records, "p1_city": round(p1, 6)}))
'''


def _tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _hwm(pid: int) -> tuple[str, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmHWM" not in fields:
        return None
    return fields["Name"].strip(), int(fields["VmHWM"].split()[0]) // 1024


def measured(cmd: list[str], env: dict) -> dict:
    """Run a command; wall time, and the peak RSS of each process of its tree (MB)."""
    peaks: dict[int, tuple[str, int]] = {}
    seen: dict[int, int] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            got = _hwm(pid)
            if got:
                peaks[pid] = max(peaks.get(pid, got), got, key=lambda x: x[1])
                seen[pid] = seen.get(pid, 0) + 1
        time.sleep(0.25)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(stdout[-3000:] + stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd[:3])}")
    lines = [x for x in stdout.strip().splitlines() if x.startswith("{")]
    if not lines:
        sys.stderr.write(stdout[-3000:] + stderr[-3000:])
        raise SystemExit("no result printed")
    # A fork the JVM makes for a moment (jspawnhelper) starts with its parent's high-water
    # mark: only processes seen in two samples or more are counted.
    peaks = {pid: v for pid, v in peaks.items() if seen[pid] > 1}
    by_name: dict[str, int] = {}
    for name, mb in peaks.values():
        by_name[name] = max(by_name.get(name, 0), mb)
    return {"wall_s": round(wall, 2), "peak_rss_mb": by_name,
            "peak_rss_sum_mb": sum(mb for _n, mb in peaks.values()),
            **json.loads(lines[-1])}


def _script(name: str, code: str) -> str:
    """A file, not `python -c`: pyspark.sql.connect, which Great Expectations imports when
    pyspark is installed, calls sys.exit(0) in a process whose main module has no file."""
    path = OUT / f"_{name}.py"
    path.write_text(code)
    return str(path)


def landing_for(scale: float) -> Path:
    landing = OUT / f"landing-{scale:g}"
    if not (landing / ".demo" / "manifest.json").is_file():
        t = time.perf_counter()
        subprocess.run([PY, "-m", "pipelines.cli", "demo-feeds", "--landing", str(landing),
                        "--scale", f"{scale:g}", "--years", str(YEAR), "--if-missing"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"demo feeds at scale {scale:g}: {time.perf_counter() - t:.0f} s", flush=True)
    return landing


def run_engine(engine: str, landing: Path, master: str, memory: str) -> dict:
    work = OUT / f"run-{engine}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    env = {**os.environ, "DAGSTER_HOME": str(work / "home"), "JUNHENG_LANDING": str(landing),
           "JUNHENG_WAREHOUSE": str(work / "wh" / "w.duckdb"),
           "JUNHENG_EXTRACTS": str(work / "extracts"),
           "JUNHENG_ALERT_LOG": str(work / "alerts.log"), "JUNHENG_ENGINE": engine,
           "JUNHENG_SPARK_MASTER": master, "JUNHENG_SPARK_MEMORY": memory}
    try:
        return measured([PY, _script("one", ONE), str(YEAR)], env)
    finally:
        shutil.rmtree(work, ignore_errors=True)   # person-level data: not kept


def run_floor(landing: Path) -> dict:
    db = OUT / "floor.duckdb"
    db.unlink(missing_ok=True)
    path = landing / "pension" / str(YEAR) / f"pension_{YEAR}.jsonl.gz"
    try:
        return measured([PY, _script("floor", FLOOR), str(path), str(YEAR), str(db)],
                        dict(os.environ))
    finally:
        db.unlink(missing_ok=True)


def main(scales: list[float], engines: list[str], master: str, memory: str,
         keep: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for scale in scales:
        landing = landing_for(scale)
        row: dict = {"scale": scale}
        row["floor"] = run_floor(landing)
        for engine in engines:
            row[engine] = run_engine(engine, landing, master, memory)
            print(f"scale {scale:g} {engine}: {row[engine]}", flush=True)
        print(f"scale {scale:g} floor: {row['floor']}", flush=True)
        results.append(row)
        if not keep:
            shutil.rmtree(landing, ignore_errors=True)
    report = {"year": YEAR, "spark_master": master, "spark_memory": memory,
              "cores": os.cpu_count(), "results": results}
    (OUT / "bench-scale.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n| scale | records (M) | run | wall s | ingest s | P1 s | s per M records | "
          "x floor | peak RSS MB by process |\n|---|---|---|---|---|---|---|---|---|")
    for row in results:
        m = row["floor"]["records"] / 1e6
        for what in ["floor", *engines]:
            r = row[what]
            wall = r["wall_s"]
            ingest = r.get("ingest_s", r.get("load_s"))
            rss = ", ".join(f"{k} {v:,}" for k, v in sorted(r["peak_rss_mb"].items()))
            print(f"| {row['scale']:g} | {m:.2f} | {what} | {wall:.1f} | {ingest:.1f} | "
                  f"{r['p1_s']:.1f} | {wall / m:.2f} | {wall / row['floor']['wall_s']:.2f} | "
                  f"{rss} |")
    print(f"\nwritten to {OUT / 'bench-scale.json'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="0.25,1,3,6.7",
                        help="demo scales, comma-separated (1 = a city year, 9 M records)")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-memory", default="3g", help="Spark driver memory")
    parser.add_argument("--keep", action="store_true",
                        help="keep each scale's demo feeds (reused by the next run)")
    a = parser.parse_args()
    main([float(s) for s in a.scales.split(",")], a.engines.split(","), a.spark_master,
         a.spark_memory, a.keep)
