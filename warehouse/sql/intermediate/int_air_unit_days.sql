-- One row per unit (district, or the city 320500) and day: pollutant concentrations as the
-- mean over the unit's stations with a valid station-day value, the IAQI of each
-- (HJ 633-2012 interpolation, rounded up), the AQI and whether the day is valid and good.
with units as (
    select district_code, day, avg(so2_24h order by station_code) as so2_24h,
           avg(no2_24h order by station_code) as no2_24h,
           avg(pm10_24h order by station_code) as pm10_24h,
           avg(co_24h order by station_code) as co_24h,
           avg(pm25_24h order by station_code) as pm25_24h,
           avg(o3_1h order by station_code) as o3_1h, avg(o3_8h order by station_code) as o3_8h
    from _station_days group by all
    union all
    select '320500', day, avg(so2_24h order by station_code), avg(no2_24h order by station_code),
           avg(pm10_24h order by station_code), avg(co_24h order by station_code),
           avg(pm25_24h order by station_code), avg(o3_1h order by station_code),
           avg(o3_8h order by station_code)
    from _station_days group by all
),
long as (
    unpivot units
    on so2_24h, no2_24h, pm10_24h, co_24h, pm25_24h, o3_1h, o3_8h
    into name pollutant value concentration
),
segments as (
    select pollutant, iaqi as i_lo, concentration as bp_lo,
           lead(iaqi) over w as i_hi, lead(concentration) over w as bp_hi
    from reference.aqi_breakpoints
    where concentration is not null
    window w as (partition by pollutant order by iaqi)
),
tops as (
    select pollutant, max(concentration) as bp_max from reference.aqi_breakpoints group by all
),
iaqi as (
    select l.district_code, l.day, l.pollutant, l.concentration,
           case
               when l.concentration = 0 then 0
               when l.concentration > t.bp_max and l.pollutant = 'o3_8h' then null
               when l.concentration > t.bp_max then 500
               else ceil((s.i_hi - s.i_lo) / (s.bp_hi - s.bp_lo) * (l.concentration - s.bp_lo)
                         + s.i_lo - 1e-9)
           end as iaqi
    from long l
    join tops t using (pollutant)
    left join segments s
      on s.pollutant = l.pollutant and l.concentration > s.bp_lo and l.concentration <= s.bp_hi
),
unit_iaqi as (
    select district_code, day,
           max(iaqi) filter (pollutant = 'pm25_24h') as iaqi_pm25,
           max(iaqi) filter (pollutant = 'pm10_24h') as iaqi_pm10,
           max(iaqi) filter (pollutant = 'o3_8h') as iaqi_o3_8h,
           max(iaqi) filter (pollutant = 'o3_1h') as iaqi_o3_1h,
           max(iaqi) as aqi
    from iaqi group by all
)
select
    u.*, i.iaqi_pm25, i.iaqi_pm10, i.iaqi_o3_8h, i.iaqi_o3_1h, i.aqi,
    (u.pm25_24h is not null and u.pm10_24h is not null and u.o3_8h is not null) as is_valid,
    (u.pm25_24h is not null and u.pm10_24h is not null and u.o3_8h is not null
     and i.aqi <= 100) as is_good
from units u
left join unit_iaqi i using (district_code, day)
