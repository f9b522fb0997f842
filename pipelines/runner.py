"""The full monitoring run, as a sequence of Dagster runs in the configured instance.

Dagster runs one partition per run: the reference tables first, then one
`ingest_year` run per reporting year found in the landing zone (registered as a
`reporting_year` partition). Every run is recorded in $DAGSTER_HOME and shows in
the UI. A year whose run fails (unreadable delivery, critical expectation) is
reported; the other years still run. What the landing zone holds that is not read (a
link, a folder for a year outside the plan, an empty year folder) is printed first,
once each; it never starts a run.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import reporting_year
from junheng import PLAN_YEARS
from junheng.ingest.feeds import FEEDS
from junheng.ingest.load import FORCE_TAG
from junheng.lineage import year_unchanged
from junheng.ops.alerts import (
    ALERTED_TAG,
    failure_alert,
    rejected_deliveries,
    rejection_alerts,
    send,
)
from junheng.ops.landing import inventory
from junheng.warehouse import WarehouseLocked, connect_waiting
from pipelines.definitions import defs
from pipelines.resources import default_resources, settings

# Which process runs it: a run whose process died (killed, crashed) is recognised by the
# next `junheng run`, marked failed and its concurrency slots freed, so that nothing waits
# for it forever. (Runs launched by the daemon are watched by run monitoring instead.)
PID_TAG, HOST_TAG = "junheng/pid", "junheng/host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_runs(instance: dg.DagsterInstance, echo: Callable[[str], None]) -> list[str]:
    """Fail the runs of this host whose process is gone, and free what they held."""
    recovered = []
    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.CANCELING]
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=active)):
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if not pid or host != socket.gethostname() or _alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"the process running it ({pid}) died: "
                                                "killed or crashed; recovered by junheng run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        echo(f"recovered run {run.run_id[:8]} ({run.job_name}) whose process {pid} died")
        recovered.append(run.run_id)
    return recovered


def register_years(instance: dg.DagsterInstance, keys: list[str]) -> None:
    """Add reporting-year partitions; safe when another run adds the same ones meanwhile."""
    for _ in range(5):
        missing = [k for k in keys if not instance.has_dynamic_partition(reporting_year.name, k)]
        if not missing:
            return
        try:
            instance.add_dynamic_partitions(reporting_year.name, missing)
        except Exception:  # noqa: BLE001 - a concurrent insert of the same key; look again
            time.sleep(0.2)
    raise RuntimeError(f"could not register reporting years {keys}")


def year_is_current(warehouse: Path, landing: Path, year: int, config) -> bool:
    """True when nothing about a year changed since it was last processed successfully
    (junheng.lineage.year_unchanged): such a year needs no run at all."""
    import duckdb

    if not Path(warehouse).exists():
        return False
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:  # a writer holds it: let the run decide
        return False
    try:
        return year_unchanged(con, Path(landing), year, config)
    except duckdb.Error:
        return False
    finally:
        con.close()


def run_all(years: tuple[int, ...] | None = None, echo: Callable[[str], None] = print,
            instance: dg.DagsterInstance | None = None, force: bool = False) -> bool:

    conf = settings()
    landing = conf.landing
    found, findings = inventory(landing, FEEDS)
    for finding in findings:
        echo(f"landing: {finding}")
    for year in sorted(set(years or ()) - set(found)):
        echo(f"ingest {year}: " + ("nothing delivered for it, not run" if year in PLAN_YEARS
                                   else f"outside the plan period {PLAN_YEARS[0]}–"
                                        f"{PLAN_YEARS[-1]}, not run"))
    years = tuple(y for y in (years or found) if y in found)
    if not years:
        echo(f"no reporting years found in {landing}")
        return False
    if conf.warehouse.exists():
        # Say so before anything starts when another process holds the warehouse (a
        # statistician's write session, another run): a wait must never look like a hang.
        try:
            connect_waiting(str(conf.warehouse), echo, conf.lock_timeout_s).close()
        except WarehouseLocked as exc:
            echo(f"{exc}; nothing was run")
            send({"at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "kind": "warehouse_locked", "job": None, "run_id": None,
                  "reporting_year": None, "feeds": [],
                  "message": f"junheng run did not start: {exc}"},
                 conf.alert_log, conf.alert_webhook or None)
            echo(f"  alert written to {conf.alert_log}")
            return False
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    tags = {ALERTED_TAG: "junheng run", PID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname()}

    def alert(result) -> None:
        """A failed run's alert; for a run that succeeded, the deliveries it rejected."""
        raised = failure_alert(instance, result.run_id) if not result.success else \
            rejection_alerts(instance, result.run_id)
        if raised:
            send(raised, conf.alert_log, conf.alert_webhook or None)
            echo(f"  alert ({raised['kind']}) written to {conf.alert_log}")

    owned = instance is None
    instance = instance or dg.DagsterInstance.get()
    try:
        keys = [str(y) for y in years]
        register_years(instance, keys)
        for run_id in recover_dead_runs(instance, echo):
            send(failure_alert(instance, run_id), conf.alert_log, conf.alert_webhook or None)
        ok = True
        t0 = time.perf_counter()
        result = defs.resolve_job_def("reference_data").execute_in_process(
            instance=instance, raise_on_error=False, run_config=quiet, tags=tags)
        alert(result)
        echo(f"reference data: {'ok' if result.success else 'FAILED'}")
        ok &= result.success
        config = default_resources()["methodology"].config()
        for key in keys:
            t = time.perf_counter()
            if not force and year_is_current(conf.warehouse, landing, int(key), config):
                echo(f"ingest {key}: unchanged since its last run, skipped "
                     f"(junheng run --force to run it anyway)")
                continue
            result = defs.resolve_job_def("ingest_year").execute_in_process(
                instance=instance, partition_key=key, raise_on_error=False, run_config=quiet,
                tags={**tags, FORCE_TAG: "true"} if force else tags)
            ok &= result.success
            status = "ok" if result.success else "FAILED (see the run in the UI)"
            echo(f"ingest {key}: {status} in {time.perf_counter() - t:.1f} s "
                 f"(run {result.run_id[:8]})")
            for r in rejected_deliveries(instance, result.run_id):
                kept = "the last good delivery stays in use" if r["last_good_data_in_use"] \
                    else "no good delivery: the year is withheld"
                echo(f"  rejected {r['feed']} {r['file_name']}: {kept}")
            alert(result)
        t = time.perf_counter()
        result = defs.resolve_job_def("cross_year").execute_in_process(
            instance=instance, raise_on_error=False, run_config=quiet, tags=tags)
        ok &= result.success
        alert(result)
        echo(f"progress, convergence, ranks, publication: "
             f"{'ok' if result.success else 'FAILED'} in {time.perf_counter() - t:.1f} s")
        if result.success:
            meta = next(e.materialization.metadata
                        for e in result.get_asset_materialization_events()
                        if e.materialization.asset_key.path == ["extracts", "release"])
            echo(f"release        {meta['path'].value}"
                 f"{'  (unchanged: same content as before)' if meta['unchanged'].value else ''}")
            echo(f"LATEST         {settings().extracts / 'LATEST'}")
            echo(f"query snapshot {meta['query_snapshot'].value}  "
                 f"(duckdb -readonly {meta['query_snapshot'].value})")
        echo(f"done in {time.perf_counter() - t0:.1f} s")
        return ok
    finally:
        if owned:
            instance.dispose()
