-- The district each delivered text names by code, name or alias of
-- reference.district_aliases (null: none), and whether it is the city's own code
-- (submissions' estimate rows). Read by the rules and the staging views alike.
create or replace view reference.district_names as
select t.raw_value, a.district_code, t.normalised = '320500' as is_city
from reference.district_texts t
left join (select distinct alias_normalised, district_code from reference.district_aliases) a
       on a.alias_normalised = t.normalised;
