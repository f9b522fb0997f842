-- One row per person (person_key) enrolled in the reporting year, dual enrolment resolved:
-- a person with records in both schemes counts once, in the district (and with the birth
-- year) of the employee record. RESTRICTED: person-level, stays in the warehouse.
select
    person_key,
    coalesce(arg_min(district_code, scheme), any_value(district_code)) as district_code,
    $year - arg_min(birth_year, scheme) as age,
    count(distinct scheme) > 1 as is_dual,
    count(distinct status) > 1 and count(distinct scheme) > 1 as is_dual_disagreeing,
    bool_or(status = 'contributing') as has_contributing,
    bool_or(status in ('contributing', 'suspended')) as has_contributing_or_suspended
from staging.stg_pension__enrolments
where year = $year
group by person_key
