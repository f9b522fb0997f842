-- The rules of one home-care delivery (feeds.md): every row with its violations (an empty
-- list for a row that passes). township_code must be a township of that district in the
-- same year's population feed.
select
    d._line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when d._error is not null then [v('*', 'parsable row', d._error)] else violations([
        case when not_a_district(d.district_code) then v('区县代码', 'in districts.csv', d.district_code) end,
        case when t.township_code is null
                  then v('镇街代码', 'a township of that district in population', d.township_code)
             when count(*) over (partition by trim(d.township_code)) > 1
                  then v('镇街代码', 'one row per township', d.township_code) end,
        int_rule('接受上门服务老年人数', d.home_visit_elderly, 0)
    ]) end as _violations
from _delivery d
left join staging.stg_population__townships t
    on t.year = $year and t.township_code = trim(d.township_code)
   and t.district_code = trim(d.district_code)
