-- The rules of one pension delivery: the suspect rows, with their violations.
-- staging.stg_pension__enrolments itself is a view (stg_pension__enrolments.view.sql):
-- raw minus the lines quarantined here. So this file yields only suspect rows (a list
-- that is empty for a row that only shared a hash with another); a row that passes every
-- rule costs one predicate and one hash, never a list (9 to 10 million rows a year).
-- Quarantined values of person_key are never stored: the rule and line are enough.
-- Duplicate keys: a 64-bit hash of (person_key, scheme) finds the candidates cheaply,
-- then the keys themselves decide, among the candidates only.
with dup_hash as (
    select hash(person_key, scheme) as h from _delivery group by 1 having count(*) > 1
),
duplicated as (
    select person_key, scheme from _delivery
    where hash(person_key, scheme) in (select h from dup_hash)
    group by all having count(*) > 1
),
suspect as not materialized (
    select * from _delivery
    where _error is not null
       or hash(person_key, scheme) in (select h from dup_hash)
       or not coalesce(regexp_full_match(person_key, '[0-9a-f]{64}')
                   and district_code in (select district_code from reference.districts)
                   and scheme in ('employee', 'resident')
                   and regexp_full_match(birth_year, '[0-9]{4}')
                   and as_int(birth_year) between 1900 and $year
                   and sex in ('M', 'F')
                   and status in ('contributing', 'receiving', 'suspended'), false)
)
select
    _line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when _error is not null then [v('*', 'parsable row', 'line is not a JSON object')]
         else violations([
        case when not coalesce(regexp_full_match(person_key, '[0-9a-f]{64}'), false)
                  then v('person_key', '64 lowercase hex', '(withheld)')
             when d.person_key is not null
                  then v('person_key', '(person_key, scheme) unique in file', '(withheld)') end,
        case when suspect.district_code is null or k.district_code is null
             then v('district_code', 'in districts.csv', suspect.district_code) end,
        in_set_exact('scheme', scheme, ['employee', 'resident']),
        case when blank(birth_year) then v('birth_year', 'required', birth_year)
             when not is_int(birth_year) then v('birth_year', 'integer', birth_year)
             when as_int(birth_year) < 1900 or as_int(birth_year) > $year
                  then v('birth_year', '1900 to ' || $year, birth_year) end,
        in_set_exact('sex', sex, ['M', 'F']),
        in_set_exact('status', status, ['contributing', 'receiving', 'suspended'])
    ]) end as _violations
from suspect
left join duplicated d using (person_key, scheme)
-- A join, not `not in (select ...)` inside the list: Spark runs this file too
-- (junheng/engine/translate.py), and takes no subquery inside an array function.
left join (select distinct district_code from reference.districts) k
       on k.district_code = suspect.district_code
