-- One row per district and reporting year: life expectancy and two rates, as reported. The
-- rows of raw.health__districts whose line is not in quality.quarantine, typed.
-- Every value left passed its rule (stg_health__districts.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
select
    r._line,
    r._year as year,
    trim(r.district_code) as district_code,
    try_cast(trim(r.life_expectancy) as double) as life_expectancy,
    try_cast(trim(r.vaccination_rate) as double) as vaccination_rate,
    try_cast(trim(r.medical_insurance_rate) as double) as medical_insurance_rate
from {rows} r
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'health' and q.table_name = 'health__districts'
      and q.year = r._year and q.line = r._line
)
