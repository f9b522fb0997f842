-- The rules of one eldercare facilities delivery (feeds.md): every row with its violations
-- (an empty list for a row that passes). township_code must be a township of that district
-- in the same year's population feed.
select
    d._line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when d._error is not null then [v('*', 'parsable row', d._error)] else violations([
        case when blank(d.facility_id) then v('机构编码', 'required', d.facility_id)
             when count(*) over (partition by trim(d.facility_id)) > 1
                  then v('机构编码', 'unique in file', d.facility_id) end,
        case when blank(d.facility_name) then v('机构名称', 'not empty', d.facility_name) end,
        case when not_a_district(d.district_code) then v('区县代码', 'in districts.csv', d.district_code) end,
        case when t.township_code is null
             then v('镇街代码', 'a township of that district in population', d.township_code) end,
        in_set('机构类型', d.facility_type, ['养老机构', '区域性养老服务中心', '社区综合养老服务中心',
                                            '日间照料中心']),
        in_set('具备综合功能', d.comprehensive, ['是', '否']),
        int_rule('床位数', d.beds, 0),
        coalesce(int_rule('护理型床位数', d.nursing_beds, 0),
                 case when as_int(d.nursing_beds) > as_int(d.beds)
                      then v('护理型床位数', '<= beds', d.nursing_beds) end)
    ]) end as _violations
from _delivery d
left join staging.stg_population__townships t
    on t.year = $year and t.township_code = trim(d.township_code)
   and t.district_code = trim(d.district_code)
