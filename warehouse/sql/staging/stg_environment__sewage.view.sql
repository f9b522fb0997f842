-- One row per district and reporting year: domestic sewage generated and collected
-- (10,000 t). The rows of raw.environment__sewage whose line is not in quality.quarantine,
-- typed. Every value left passed its rule (stg_environment__sewage.sql): a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.district_code) as district_code,
    try_cast(trim(r.sewage_generated) as double) as sewage_generated,
    try_cast(trim(r.sewage_collected) as double) as sewage_collected
from {rows} r
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'environment' and q.table_name = 'environment__sewage'
      and q.year = r._year and q.line = r._line
)
