-- One row per station and local day (HJ 633-2012): 24-hour means valid with >= 20 valid
-- hours; O3 1-hour maximum valid with >= 20 valid hours; O3 8-hour maximum over the 17
-- windows starting 00:00..16:00 of the day, a window valid with >= 6 valid hours, the day
-- valid with >= 14 valid windows. Invalid (-99) values are already null in staging.
with hours as (
    select station_code, district_code, cast(measured_at as date) as day,
           hour(measured_at) as hr, so2, no2, pm10, co, pm25, o3
    from staging.stg_environment__air_quality
    where year = $year
),
daily as (
    select station_code, district_code, day,
           case when count(so2) >= 20 then avg(so2) end as so2_24h,
           case when count(no2) >= 20 then avg(no2) end as no2_24h,
           case when count(pm10) >= 20 then avg(pm10) end as pm10_24h,
           case when count(co) >= 20 then avg(co) end as co_24h,
           case when count(pm25) >= 20 then avg(pm25) end as pm25_24h,
           case when count(o3) >= 20 then max(o3) end as o3_1h
    from hours
    group by all
),
windows as (
    select h.station_code, h.day, w.start_hr,
           case when count(h.o3) >= 6 then avg(h.o3) end as window_mean
    from hours h
    join range(0, 17) w(start_hr) on h.hr between w.start_hr and w.start_hr + 7
    group by all
),
o3_8h as (
    select station_code, day,
           case when count(window_mean) >= 14 then max(window_mean) end as o3_8h
    from windows
    group by all
)
select d.*, o.o3_8h
from daily d
left join o3_8h o using (station_code, day)
