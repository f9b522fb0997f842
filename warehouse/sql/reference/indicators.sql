-- One row per indicator of the catalogue (methodology.md sections 1 to 5), with Table 1's
-- baseline and target as printed (table1.csv: a row may name two indicators, H6|H7, I1|I2).
with printed as (
    select unnest(string_split(indicator_ids, '|')) as indicator_id,
           baseline_2020_as_printed, target_2025_as_printed
    from read_csv($table1, header = true, all_varchar = true)
)
select
    c.indicator_id,
    try_cast(c.table1_no as integer) as table1_no,
    c.area,
    c.name_zh,
    c.name_en,
    c.unit,
    c.direction,
    c.source,
    c.form,
    c.weight_population,
    c.in_index = 'yes' as in_index,
    cast(c.weight as double) as weight,
    try_cast(c.baseline_2020 as double) as baseline_2020,
    try_cast(c.target_2025 as double) as target_2025,
    nullif(c.target_type, '') as target_type,
    nullif(c.target_rule, '') as target_rule,
    nullif(c.target_source, '') as target_source,
    try_cast(c.score_zero as double) as score_zero,
    try_cast(c.score_full as double) as score_full,
    cast(c.precision as double) as precision,
    c.equalise = 'yes' as equalise,
    p.baseline_2020_as_printed as table1_baseline_printed,
    p.target_2025_as_printed as table1_target_printed
from read_csv($seed, header = true, all_varchar = true) c
left join printed p using (indicator_id)
order by c.indicator_id
