-- One row per county-level unit (6 urban districts, 4 county-level cities).
select
    district_code,
    name_zh,
    name_en,
    "group" as district_group,
    cast(resident_population_2020 as bigint) as resident_population_2020
from read_csv($seed, header = true, all_varchar = true)
order by district_code
