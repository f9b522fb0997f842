-- One row per department, indicator, district (and the city, 320500, for a survey estimate)
-- and reporting year, as the department submitted it: the rows of raw.submissions__indicators
-- whose line is not in quality.quarantine, typed; district names, aliases and codes resolved
-- after NFKC and trimming. The note is kept as delivered and never parsed. Every value left
-- passed its rule (stg_submissions__indicators.sql), so a plain cast is exact.
-- Each department's file is its own delivery: a quarantined line is its file's line (feeds.md
-- section 7 names the file <department>_<year>.csv).
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    r.department,
    trim(r.indicator_id) as indicator_id,
    case when n.is_city then '320500' else n.district_code end as district_code,
    r.district as district_as_delivered,
    try_cast(trim(r.numerator) as double) as numerator,
    try_cast(trim(r.denominator) as double) as denominator,
    try_cast(trim(r.value) as double) as value,
    try_cast(trim(r.standard_error) as double) as standard_error,
    try_cast(try_cast(trim(r.sample_size) as bigint) as integer) as sample_size,
    nullif(r.note, '') as note
from {rows} r
left join reference.district_names n on n.raw_value = r.district
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'submissions' and q.table_name = 'submissions__indicators'
      and q.year = r._year and q.line = r._line
      and q.file_name = r.department || '_' || r._year || '.csv'
)
