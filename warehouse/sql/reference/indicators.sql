-- One row per indicator of the catalogue (methodology.md section 1).
select
    indicator_id,
    try_cast(table1_no as integer) as table1_no,
    name_zh,
    name_en,
    domain,
    unit,
    direction,
    source_feeds,
    in_index = 'yes' as is_in_index,
    cast(weight as double) as weight,
    try_cast(baseline_2020 as double) as baseline_2020,
    try_cast(target_2025 as double) as target_2025,
    nullif(target_rule, '') as target_rule,
    cast(score_zero as double) as score_zero,
    cast(score_full as double) as score_full
from read_csv($seed, header = true, all_varchar = true)
order by indicator_id
