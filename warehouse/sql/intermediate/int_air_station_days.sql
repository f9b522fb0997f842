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
           case when count(so2) >= 20 then avg(so2 order by hr) end as so2_24h,
           case when count(no2) >= 20 then avg(no2 order by hr) end as no2_24h,
           case when count(pm10) >= 20 then avg(pm10 order by hr) end as pm10_24h,
           case when count(co) >= 20 then avg(co order by hr) end as co_24h,
           case when count(pm25) >= 20 then avg(pm25 order by hr) end as pm25_24h,
           case when count(o3) >= 20 then max(o3) end as o3_1h
    from hours
    group by all
),
windows as (
    select h.station_code, h.day, w.start_hr,
           case when count(h.o3) >= 6 then avg(h.o3 order by h.hr) end as window_mean
    from hours h
    join (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13),
                 (14), (15), (16)) w(start_hr) on h.hr between w.start_hr and w.start_hr + 7
    group by all
),
o3_8h as (
    select station_code, day,
           case when count(window_mean) >= 14 then max(window_mean) end as o3_8h
    from windows
    group by all
)
select d.station_code, d.district_code, d.day, d.so2_24h, d.no2_24h, d.pm10_24h, d.co_24h,
       d.pm25_24h, d.o3_1h, o.o3_8h
from daily d
left join o3_8h o on o.station_code = d.station_code and o.day = d.day
