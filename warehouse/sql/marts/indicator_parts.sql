-- One row per district (and the city, 320500) and catalogue indicator of one year: numerator
-- and denominator, pooled for the city as a ratio of sums (methodology.md section 1).
-- Needs the temp tables _unit_days (int_air_unit_days) and _pension_districts
-- (int_pension_districts, made by the person-level engine).
-- The value factor turns the ratio into the catalogue's unit (%, per 1000, per 10000).
with
pop as (
    select district_code, sum(resident_total) as residents, sum(age_3_5) as age_3_5,
           sum(age_60_plus) as age_60_plus, count(*) as townships
    from staging.stg_population__townships where year = $year group by all
),
sch as (
    select district_code,
           sum(enrolled) filter (level = '幼儿园' and is_inclusive) as kg_inclusive,
           sum(enrolled) filter (level = '幼儿园') as kg_enrolled,
           count(*) filter (level in ('小学', '初中', '九年一贯制') and is_in_group) as comp_grouped,
           count(*) filter (level in ('小学', '初中', '九年一贯制')) as comp_schools,
           sum(enrolled) filter (level in ('小学', '初中', '九年一贯制')) as comp_enrolled,
           sum(teachers) filter (level in ('小学', '初中', '九年一贯制')) as comp_teachers
    from staging.stg_schools__schools where year = $year group by all
),
hin as (
    select district_code, sum(physicians) as physicians,
           sum(general_practitioners) as gps, sum(beds) as beds
    from staging.stg_health__institutions where year = $year group by all
),
hdi as (
    select * from staging.stg_health__districts where year = $year
),
eld as (
    select district_code,
           sum(nursing_beds) filter (facility_type in ('养老机构', '区域性养老服务中心'))
               as care_nursing_beds,
           sum(beds) filter (facility_type in ('养老机构', '区域性养老服务中心')) as care_beds,
           sum(beds) as all_beds,
           count(distinct township_code) filter (is_comprehensive) as townships_covered
    from staging.stg_eldercare__facilities where year = $year group by all
),
home as (
    select district_code, sum(home_visit_elderly) as home_visit
    from staging.stg_eldercare__home_care where year = $year group by all
),
pen as (
    select district_code, contributing, eligible
    from _pension_districts
    where eligible > 0
),
sew as (
    select district_code, sewage_collected, sewage_generated
    from staging.stg_environment__sewage where year = $year
),
air as (
    select district_code,
           count(*) filter (is_good) as good_days,
           count(*) filter (is_valid) as valid_days,
           sum(pm25_24h order by day) as pm25_sum,
           count(pm25_24h) as pm25_days
    from _unit_days group by all
),
factors(indicator_id, value_factor) as (
    values ('E1', 100), ('E2', 100), ('E3', 100), ('E4', 1), ('H1', 1000), ('H2', 10000),
           ('H3', 1000), ('H4', 1), ('H5', 1), ('H6', 1), ('O1', 100), ('O2', 1000),
           ('O3', 100), ('O4', 100), ('P1', 100), ('A1', 100), ('A2', 1), ('W1', 100)
),
wide as (
    -- One row per district with every figure the indicators need (nulls where a feed
    -- has no rows for it).
    select d.district_code, pop.residents, pop.age_3_5, pop.age_60_plus, pop.townships,
           sch.kg_inclusive, sch.kg_enrolled, sch.comp_grouped, sch.comp_schools,
           sch.comp_enrolled, sch.comp_teachers, hin.physicians, hin.gps, hin.beds,
           hdi.life_expectancy, hdi.vaccination_rate, hdi.medical_insurance_rate,
           eld.care_nursing_beds, eld.care_beds, eld.all_beds,
           coalesce(eld.townships_covered, 0) as townships_covered, home.home_visit,
           pen.contributing, pen.eligible, sew.sewage_collected, sew.sewage_generated,
           air.good_days, air.valid_days, air.pm25_sum, air.pm25_days
    from reference.districts d
    left join pop using (district_code)
    left join sch using (district_code)
    left join hin using (district_code)
    left join hdi using (district_code)
    left join eld using (district_code)
    left join home using (district_code)
    left join pen using (district_code)
    left join sew using (district_code)
    left join air using (district_code)
),
district_parts as (
    select w.district_code, p.indicator_id, p.numerator, p.denominator
    from wide w, lateral (values
        ('E1', w.kg_inclusive, w.kg_enrolled),
        ('E2', w.comp_grouped, w.comp_schools),
        ('E3', w.kg_enrolled, w.age_3_5),
        ('E4', w.comp_enrolled, w.comp_teachers),
        ('H1', w.physicians, w.residents),
        ('H2', w.gps, w.residents),
        ('H3', w.beds, w.residents),
        ('H4', w.life_expectancy * w.residents, w.residents),
        ('H5', w.vaccination_rate * w.residents, w.residents),
        ('H6', w.medical_insurance_rate * w.residents, w.residents),
        ('O1', w.care_nursing_beds, w.care_beds),
        ('O2', w.all_beds, w.age_60_plus),
        ('O3', w.townships_covered, w.townships),
        ('O4', w.home_visit, w.age_60_plus),
        ('P1', w.contributing, w.eligible),
        ('A1', w.good_days, w.valid_days),
        ('A2', w.pm25_sum, w.pm25_days),
        ('W1', w.sewage_collected, w.sewage_generated)
    ) p(indicator_id, numerator, denominator)
),
city_parts as (
    -- Pooled: sums of numerators and denominators. Air is computed from the city's own
    -- daily series (mean of all stations), never pooled from districts.
    -- Summed in district order: a sum of doubles must not depend on the join plan.
    select '320500' as district_code, indicator_id,
           sum(numerator order by district_code) as numerator,
           sum(denominator order by district_code) as denominator
    from district_parts where indicator_id not in ('A1', 'A2') group by all
    union all
    select '320500', 'A1', good_days, valid_days from air where district_code = '320500'
    union all
    select '320500', 'A2', pm25_sum, pm25_days from air where district_code = '320500'
)
select
    p.district_code,
    p.indicator_id,
    cast(p.numerator as double) as numerator,
    cast(p.denominator as double) as denominator,
    case when p.denominator is null or p.denominator = 0 or p.numerator is null then null
         else c.value_factor * p.numerator / p.denominator end as value,
    case when p.numerator is null or p.denominator is null then 'no source rows'
         when p.denominator = 0 then 'denominator is zero' end as null_reason
from (select * from district_parts union all select * from city_parts) p
join factors c using (indicator_id)
order by p.indicator_id, p.district_code
