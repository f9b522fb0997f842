-- The rules of one population delivery (feeds.md): every row with its violations (an
-- empty list for a row that passes). The staging view, stg_population__townships.view.sql,
-- is the rows whose line is not quarantined, typed.
select
    _line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when _error is not null then [v('*', 'parsable row', _error)] else violations([
        case when blank(year) then v('年份', 'required', year)
             when not is_int(year) or as_int(year) <> $year then v('年份', 'equals ' || $year, year) end,
        case when not_a_district(district_code) then v('区县代码', 'in districts.csv', district_code) end,
        case when not coalesce(regexp_full_match(trim(township_code), '[0-9]{9}'), false)
                  then v('镇街代码', 'text(9) digits', township_code)
             when not starts_with(trim(township_code), coalesce(trim(district_code), '#'))
                  then v('镇街代码', 'starts with district_code', township_code)
             when count(*) over (partition by trim(township_code)) > 1
                  then v('镇街代码', 'unique in file', township_code) end,
        case when blank(township_name) then v('镇街名称', 'not empty', township_name) end,
        coalesce(int_rule('常住人口', resident_total, 0),
                 case when as_int(resident_total) = 0 then v('常住人口', '> 0', resident_total) end),
        int_rule('0-2岁', age_0_2, 0),
        int_rule('3-5岁', age_3_5, 0),
        int_rule('6-14岁', age_6_14, 0),
        int_rule('15-59岁', age_15_59, 0),
        int_rule('60岁及以上', age_60_plus, 0),
        case when as_int(age_0_2) + as_int(age_3_5) + as_int(age_6_14) + as_int(age_15_59)
                  + as_int(age_60_plus) <> as_int(resident_total)
             then v('常住人口', 'age groups add up to the total', resident_total) end
    ]) end as _violations
from _delivery
