-- One row per person (person_key) enrolled in the reporting year, dual enrolment resolved:
-- a person with records in both schemes counts once, in the district (and with the birth
-- year) of the employee record. RESTRICTED: person-level, stays in the warehouse.
-- (person_key, scheme) is unique in staging, so count(*) is the number of schemes; no
-- DISTINCT aggregates: they are slow over 9 million groups.
-- Grouping every row by its 64-character key holds a group per person (60 million at
-- province scale, which spill under the memory limit), though only about one row in a
-- hundred shares its key. As the duplicate rule does, a 64-bit hash of the key finds the
-- candidates cheaply; only they are grouped by the key itself. A row whose hash no other
-- row has is a person of one record (no other row can have its key); a hash collision only
-- makes more candidates, which the key then decides: the result is the plain group by's.
with rows as not materialized (
    select * from staging.stg_pension__enrolments where year = $year
),
shared as (
    select hash(person_key) as h from rows group by 1 having count(*) > 1
)
select
    person_key,
    arg_min(district_code, scheme) as district_code,      -- 'employee' sorts first
    $year - arg_min(birth_year, scheme) as age,
    count(*) > 1 as is_dual,
    count(*) > 1 and min(status) <> max(status) as is_dual_disagreeing,
    bool_or(status = 'contributing') as has_contributing,
    bool_or(status in ('contributing', 'suspended')) as has_contributing_or_suspended
from rows
where hash(person_key) in (select h from shared)
group by person_key
union all
select
    person_key,
    district_code,
    $year - birth_year as age,
    false as is_dual,
    false as is_dual_disagreeing,
    status = 'contributing' as has_contributing,
    status in ('contributing', 'suspended') as has_contributing_or_suspended
from rows
where hash(person_key) not in (select h from shared)
