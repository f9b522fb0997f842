-- One row per township and reporting year: elderly residents receiving home-visit care.
-- The rows of raw.eldercare__home_care whose line is not in quality.quarantine, typed.
-- Every value left passed its rule (stg_eldercare__home_care.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.district_code) as district_code,
    trim(r.township_code) as township_code,
    try_cast(trim(r.home_visit_elderly) as bigint) as home_visit_elderly
from {rows} r
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'eldercare' and q.table_name = 'eldercare__home_care'
      and q.year = r._year and q.line = r._line
)
