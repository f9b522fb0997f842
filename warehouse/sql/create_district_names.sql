-- District names as departments deliver them, resolved in the warehouse, so that a staging
-- view over raw resolves them too (DuckDB has no NFKC: Python normalises each text once).
-- reference.district_texts: every district text delivered (loader: load.district_texts),
-- with its NFKC-normalised, trimmed form, a fixed function of the text.
-- reference.district_names: the district each text names by code, name or alias of
-- reference.district_aliases, and whether it is the city's own code (submissions' estimates).
create table if not exists reference.district_texts (
    raw_value varchar not null,
    normalised varchar not null
);
create or replace view reference.district_names as
select t.raw_value, a.district_code, t.normalised = '320500' as is_city
from reference.district_texts t
left join (select distinct alias_normalised, district_code from reference.district_aliases) a
       on a.alias_normalised = t.normalised;
