-- One row per pension enrolment (person and scheme) and reporting year. RESTRICTED.
-- Quarantined values of person_key are never stored: the rule and line are enough.
-- Duplicate keys by a hash aggregate, not a window: 9 million rows a year.
with duplicated as (
    select person_key, scheme from _delivery group by all having count(*) > 1
)
select
    _line,
    $year::integer as year,
    person_key,
    district_code,
    scheme,
    as_int(birth_year)::integer as birth_year,
    sex,
    status,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    -- Fast path: a row that passes every rule gets an empty list without building one
    -- (the list of structs per row is what costs, over 9 million rows).
    case when _error is not null then [v('*', 'parsable row', 'line is not a JSON object')]
         when d.person_key is null
          and regexp_full_match(person_key, '[0-9a-f]{64}')
          and district_code in (select district_code from reference.districts)
          and scheme in ('employee', 'resident')
          and regexp_full_match(birth_year, '[0-9]{4}')
          and as_int(birth_year) between 1900 and $year
          and sex in ('M', 'F')
          and status in ('contributing', 'receiving', 'suspended')
         then []
         else violations([
        case when not coalesce(regexp_full_match(person_key, '[0-9a-f]{64}'), false)
                  then v('person_key', '64 lowercase hex', '(withheld)')
             when d.person_key is not null
                  then v('person_key', '(person_key, scheme) unique in file', '(withheld)') end,
        case when district_code is null or district_code not in
                  (select district_code from reference.districts)
             then v('district_code', 'in districts.csv', district_code) end,
        in_set('scheme', scheme, ['employee', 'resident']),
        case when blank(birth_year) then v('birth_year', 'required', birth_year)
             when not is_int(birth_year) then v('birth_year', 'integer', birth_year)
             when as_int(birth_year) < 1900 or as_int(birth_year) > $year
                  then v('birth_year', '1900 to ' || $year, birth_year) end,
        in_set('sex', sex, ['M', 'F']),
        in_set('status', status, ['contributing', 'receiving', 'suspended'])
    ]) end as _violations
from _delivery
left join duplicated d using (person_key, scheme)
