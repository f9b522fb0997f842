-- One row per school or kindergarten and reporting year: the rows of raw.schools__schools
-- whose line is not in quality.quarantine, typed; district names resolved by alias.
-- Every value left passed its rule (stg_schools__schools.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.school_id) as school_id,
    trim(r.school_name) as school_name,
    n.district_code,
    r.district as district_as_delivered,
    trim(r.level) as level,
    trim(r.ownership) as ownership,
    trim(r.inclusive) = '是' as is_inclusive,
    trim(r.in_group) = '是' as is_in_group,
    try_cast(trim(r.enrolled) as bigint) as enrolled,
    try_cast(trim(r.teachers) as bigint) as teachers
from {rows} r
left join reference.district_names n on n.raw_value = r.district
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'schools' and q.table_name = 'schools__schools'
      and q.year = r._year and q.line = r._line
)
