-- One row per station and hour (local time, the hour that starts then): the rows of
-- raw.environment__air_quality whose line is not in quality.quarantine, typed.
-- A negative value (-99) is the analyser's invalid flag: kept as null, counted in
-- flagged_invalid, never averaged. Every value left is empty or a finite decimal
-- (stg_environment__air_quality.sql), so a plain cast is exact.
-- {rows}, {quarantine}: raw and quality.quarantine, or a candidate's (load.staging_view_sql).
with typed as (
    select
        _line, _year, station_code, station_name, district_code, "time",
        try_cast(trim(so2) as double) as so2,
        try_cast(trim(no2) as double) as no2,
        try_cast(trim(pm10) as double) as pm10,
        try_cast(trim(o3) as double) as o3,
        try_cast(trim(pm25) as double) as pm25,
        try_cast(trim(co) as double) as co
    from {rows} r
    where not exists (
        select 1 from {quarantine} q
        where q.feed = 'environment' and q.table_name = 'environment__air_quality'
          and q.year = r._year and q.line = r._line
    )
)
select
    _line,
    _year as year,
    trim(station_code) as station_code,
    station_name,
    trim(district_code) as district_code,
    try_strptime(trim("time"), '%Y-%m-%d %H:%M') as measured_at,
    case when so2 >= 0 then so2 end as so2,
    case when no2 >= 0 then no2 end as no2,
    case when pm10 >= 0 then pm10 end as pm10,
    case when o3 >= 0 then o3 end as o3,
    case when pm25 >= 0 then pm25 end as pm25,
    case when co >= 0 then co end as co,
    (coalesce(so2 < 0, false)::int + coalesce(no2 < 0, false)::int
     + coalesce(pm10 < 0, false)::int + coalesce(o3 < 0, false)::int
     + coalesce(pm25 < 0, false)::int + coalesce(co < 0, false)::int)::integer as flagged_invalid
from typed
