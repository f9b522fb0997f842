-- One row per health institution and reporting year: the rows of raw.health__institutions
-- whose line is not in quality.quarantine, typed; district by name, alias or code.
-- Every value left passed its rule (stg_health__institutions.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.org_code) as org_code,
    trim(r.org_name) as org_name,
    n.district_code,
    r.district as district_as_delivered,
    trim(r.category) as category,
    try_cast(trim(r.beds) as bigint) as beds,
    try_cast(trim(r.physicians) as bigint) as physicians,
    try_cast(trim(r.general_practitioners) as bigint) as general_practitioners,
    try_cast(trim(r.nurses) as bigint) as nurses
from {rows} r
left join reference.district_names n on n.raw_value = r.district
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'health' and q.table_name = 'health__institutions'
      and q.year = r._year and q.line = r._line
)
