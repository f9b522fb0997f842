-- One row per person (person_key) enrolled in the reporting year, dual enrolment resolved:
-- a person with records in both schemes counts once, in the district (and with the birth
-- year) of the employee record. RESTRICTED: person-level, stays in the warehouse.
-- (person_key, scheme) is unique in staging, so count(*) is the number of schemes; no
-- DISTINCT aggregates: they are slow over 9 million groups.
select
    person_key,
    arg_min(district_code, scheme) as district_code,      -- 'employee' sorts first
    $year - arg_min(birth_year, scheme) as age,
    count(*) > 1 as is_dual,
    count(*) > 1 and min(status) <> max(status) as is_dual_disagreeing,
    bool_or(status = 'contributing') as has_contributing,
    bool_or(status in ('contributing', 'suspended')) as has_contributing_or_suspended
from staging.stg_pension__enrolments
where year = $year
group by person_key
