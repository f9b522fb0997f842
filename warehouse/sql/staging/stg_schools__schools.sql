-- The rules of one schools delivery (feeds.md): every row with its violations (an empty
-- list for a row that passes). District names are resolved by alias after NFKC and
-- trimming (reference.district_names), as in the staging view.
select
    d._line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when d._error is not null then [v('*', 'parsable row', d._error)] else violations([
        case when not coalesce(regexp_full_match(trim(d.school_id), '[0-9]{10}'), false)
                  then v('学校标识码', 'text(10) digits', d.school_id)
             when count(*) over (partition by trim(d.school_id)) > 1
                  then v('学校标识码', 'unique in file', d.school_id) end,
        case when blank(d.school_name) then v('学校名称', 'not empty', d.school_name) end,
        case when n.district_code is null then v('所在区县', 'a district name or alias', d.district) end,
        in_set('学段', d.level, ['幼儿园', '小学', '初中', '九年一贯制', '普通高中']),
        in_set('办学性质', d.ownership, ['公办', '民办']),
        coalesce(in_set('普惠性', d.inclusive, ['是', '否']),
                 case when trim(d.ownership) = '公办' and trim(d.level) = '幼儿园'
                           and trim(d.inclusive) = '否'
                      then v('普惠性', 'every 公办 幼儿园 is 是', d.inclusive) end),
        in_set('集团化办学', d.in_group, ['是', '否']),
        int_rule('在校生数', d.enrolled, 0),
        coalesce(int_rule('专任教师数', d.teachers, 0),
                 case when as_int(d.teachers) = 0 and as_int(d.enrolled) > 0
                      then v('专任教师数', '> 0 where enrolled > 0', d.teachers) end)
    ]) end as _violations
from _delivery d
left join reference.district_names n on n.raw_value = d.district
