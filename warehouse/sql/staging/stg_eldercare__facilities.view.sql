-- One row per elderly-care facility and reporting year: the rows of
-- raw.eldercare__facilities whose line is not in quality.quarantine, typed.
-- Every value left passed its rule (stg_eldercare__facilities.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.facility_id) as facility_id,
    trim(r.facility_name) as facility_name,
    trim(r.district_code) as district_code,
    trim(r.township_code) as township_code,
    trim(r.facility_type) as facility_type,
    trim(r.comprehensive) = '是' as is_comprehensive,
    try_cast(trim(r.beds) as bigint) as beds,
    try_cast(trim(r.nursing_beds) as bigint) as nursing_beds
from {rows} r
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'eldercare' and q.table_name = 'eldercare__facilities'
      and q.year = r._year and q.line = r._line
)
