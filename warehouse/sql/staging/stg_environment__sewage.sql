-- The rules of one sewage delivery (feeds.md): every row with its violations (an empty
-- list for a row that passes).
select
    _line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when _error is not null then [v('*', 'parsable row', _error)] else violations([
        case when not_a_district(district_code) then v('区县代码', 'in districts.csv', district_code)
             when count(*) over (partition by trim(district_code)) > 1
                  then v('区县代码', 'one row per district', district_code) end,
        coalesce(num_rule('生活污水产生量（万吨）', sewage_generated, 0, 1e12),
                 case when as_num(sewage_generated) = 0
                      then v('生活污水产生量（万吨）', '> 0', sewage_generated) end),
        coalesce(num_rule('生活污水集中收集量（万吨）', sewage_collected, 0, 1e12),
                 case when as_num(sewage_collected) > as_num(sewage_generated)
                      then v('生活污水集中收集量（万吨）', '<= generated', sewage_collected) end)
    ]) end as _violations
from _delivery
