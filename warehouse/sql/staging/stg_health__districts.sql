-- The rules of one health delivery's district sheet (feeds.md): every row with its
-- violations (an empty list for a row that passes).
select
    _line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when _error is not null then [v('*', 'parsable row', _error)] else violations([
        case when not_a_district(district_code) then v('区县代码', 'in districts.csv', district_code)
             when count(*) over (partition by trim(district_code)) > 1
                  then v('区县代码', 'each district once', district_code) end,
        num_rule('人均预期寿命（岁）', life_expectancy, 60, 95),
        num_rule('免疫规划疫苗接种率（%）', vaccination_rate, 0, 100),
        num_rule('基本医疗保险参保率（%）', medical_insurance_rate, 0, 100)
    ]) end as _violations
from _delivery
