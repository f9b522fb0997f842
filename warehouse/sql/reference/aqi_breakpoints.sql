-- One row per IAQI breakpoint and pollutant averaging period (HJ 633-2012, long form).
-- An empty cell means the standard has no breakpoint at that level for that column.
select
    cast(iaqi as integer) as iaqi,
    pollutant,
    cast(concentration as double) as concentration
from (
    unpivot (select * from read_csv($seed, header = true, all_varchar = true))
    on columns(* exclude (iaqi))
    into name pollutant value concentration
)
order by pollutant, iaqi
