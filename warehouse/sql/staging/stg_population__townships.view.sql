-- One row per township and reporting year, residents by age group: the rows of
-- raw.population__townships whose line is not in quality.quarantine, typed. Every value
-- left passed its rule (stg_population__townships.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.district_code) as district_code,
    trim(r.township_code) as township_code,
    trim(r.township_name) as township_name,
    try_cast(trim(r.resident_total) as bigint) as resident_total,
    try_cast(trim(r.age_0_2) as bigint) as age_0_2,
    try_cast(trim(r.age_3_5) as bigint) as age_3_5,
    try_cast(trim(r.age_6_14) as bigint) as age_6_14,
    try_cast(trim(r.age_15_59) as bigint) as age_15_59,
    try_cast(trim(r.age_60_plus) as bigint) as age_60_plus
from {rows} r
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'population' and q.table_name = 'population__townships'
      and q.year = r._year and q.line = r._line
)
