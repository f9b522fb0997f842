"""`junheng` command line: demo feeds and runs.

    junheng demo-feeds [--landing DIR] [--scale 0.02] [--seed 2020] [--years 2020-2025]
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import sys
import time
from pathlib import Path

from junheng.reference import YEARS


def _years(text: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += range(int(a), int(b) + 1)
        else:
            out.append(int(part))
    return tuple(sorted(set(out)))


def _demo_feeds(args: argparse.Namespace) -> int:
    from junheng.demo.generator import LEDGER_DIR, Options, generate, if_missing
    from pipelines.resources import settings

    landing = Path(args.landing) if args.landing else settings().landing
    opts = Options(seed=args.seed, scale=args.scale, years=args.years,
                   defect_rate=args.defect_rate, dual_rate=args.dual_rate,
                   missing_rate=args.missing_rate, broken=args.broken,
                   broken_year=args.broken_year)
    if args.if_missing and (why := if_missing(landing, opts)):
        print(why)
        return 0
    t0 = time.perf_counter()
    summary = generate(landing, opts)
    print(f"demo feeds for {', '.join(map(str, opts.years))} written to {landing} "
          f"in {time.perf_counter() - t0:.1f} s")
    for year, c in summary["counts"].items():
        print(f"  {year}: " + ", ".join(f"{k} {v:,}" for k, v in c.items()))
    if summary["broken"]:
        print("  broken deliveries: " + "; ".join(summary["broken"]))
    print(f"  injected defects listed in {landing / LEDGER_DIR / 'defects.csv'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from pipelines.resources import settings
    from pipelines.runner import run_all

    if args.whole_process:
        # Dagster and the code location, just imported, live as long as the process:
        # frozen, they are not walked again by each of the run's full collections.
        gc.freeze()
    s = settings()
    print(f"landing zone {s.landing}\nwarehouse    {s.warehouse}\nDAGSTER_HOME {s.dagster_home}")
    # Flushed line by line: a run that waits (for a locked warehouse) says so at once, even
    # when its output goes to a pipe or a log file.
    return 0 if run_all(years=args.years, echo=functools.partial(print, flush=True),
                        force=args.force) else 1


def main(argv: list[str] | None = None, *, whole_process: bool = False) -> int:
    """The command line. `whole_process`: the process ends when this returns (`entry`),
    so the collector's heap may be frozen; a caller that goes on (a test) leaves it alone."""
    parser = argparse.ArgumentParser(prog="junheng", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo-feeds", help="write demo departmental feeds into a landing zone")
    demo.add_argument("--landing", help="landing zone (default: $JUNHENG_LANDING or data/landing)")
    demo.add_argument("--scale", type=float, default=0.02,
                      help="1.0 = city scale (9 M pension records, 50 stations); default 0.02")
    demo.add_argument("--seed", type=int, default=2020)
    demo.add_argument("--years", type=_years, default=YEARS, help="e.g. 2020-2025 or 2020,2023")
    demo.add_argument("--defect-rate", type=float, default=0.002,
                      help="share of rows per defect class and file (never zero)")
    demo.add_argument("--dual-rate", type=float, default=0.01,
                      help="share of pension persons enrolled in both schemes")
    demo.add_argument("--missing-rate", type=float, default=0.01,
                      help="share of missing hourly air-quality values")
    demo.add_argument("--broken", action="store_true",
                      help="also break three deliveries (truncated gzip, not-GBK, missing column)")
    demo.add_argument("--broken-year", type=int, help="year to break (default: the last)")
    demo.add_argument("--if-missing", action="store_true",
                      help="write only into an empty landing zone: demo feeds already there "
                           "(whatever their options) and other files are kept")
    demo.set_defaults(func=_demo_feeds)
    run = sub.add_parser("run", help="run a job end to end on the configured landing zone")
    run.add_argument("--years", type=_years, default=None,
                     help="reporting years to ingest (default: every year in the landing zone)")
    run.add_argument("--force", action="store_true",
                     help="run every year, even those unchanged since their last run")
    run.set_defaults(func=_run)
    args = parser.parse_args(argv)
    args.whole_process = whole_process
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("junheng").setLevel(logging.INFO)
    try:
        return args.func(args)
    finally:
        if whole_process:
            # The process ends now: the interpreter's last collection would walk the whole
            # heap (Dagster, Great Expectations, pandas), 1.5-4 s after a city-scale year on
            # a 2-core machine, to free memory the OS takes back anyway. Frozen objects are
            # not walked. Files and DuckDB connections are closed before this (each asset
            # closes its own; the runner disposes of the Dagster instance).
            gc.freeze()


def entry() -> None:
    """The `junheng` command and `python -m pipelines.cli`: main() as the whole process."""
    sys.exit(main(whole_process=True))


if __name__ == "__main__":
    entry()
