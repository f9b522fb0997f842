-- One row per name a department may use for a district: code, official name, aliases.
-- alias_normalised is what a delivered name is compared with after NFKC and trimming;
-- the NFKC step itself runs in Python (DuckDB has no NFKC), so here it is passed in.
select district_code, alias, alias_normalised, alias_kind
from aliases
order by district_code, alias_kind, alias
