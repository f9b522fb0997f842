"""The reporting cycle: a monthly full run, early morning in Suzhou."""

import dagster as dg

from assets.partitions import reporting_year
from junheng.ingest.feeds import FEEDS
from junheng.ops.landing import years_in_landing
from pipelines.jobs import monitoring_run
from pipelines.resources import LandingZone


@dg.schedule(job=monitoring_run, cron_schedule="0 6 2 * *", execution_timezone="Asia/Shanghai",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="06:00 Asia/Shanghai on the 2nd of every month: the full run for every "
                         "reporting year in the landing zone (unchanged deliveries are skipped "
                         "in seconds).")
def monthly_monitoring_run(context: dg.ScheduleEvaluationContext, landing: LandingZone):
    years = [str(y) for y in years_in_landing(landing.path_obj, FEEDS)]
    known = set(context.instance.get_dynamic_partitions(reporting_year.name))
    stamp = context.scheduled_execution_time.strftime("%Y-%m")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{stamp}/{y}", partition_key=y) for y in years],
        dynamic_partitions_requests=[reporting_year.build_add_request(
            [y for y in years if y not in known])] if set(years) - known else [])
