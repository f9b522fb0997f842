-- The rules of one health delivery's institutions sheet (feeds.md): every row with its
-- violations (an empty list for a row that passes). District by name, alias or code after
-- NFKC and trimming (reference.district_names), as in the staging view.
select
    d._line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when d._error is not null then [v('*', 'parsable row', d._error)] else violations([
        case when not coalesce(regexp_full_match(trim(d.org_code), '[0-9A-Z]{18}'), false)
                  then v('机构代码', 'text(18) unified social credit code', d.org_code)
             when count(*) over (partition by trim(d.org_code)) > 1
                  then v('机构代码', 'unique in sheet', d.org_code) end,
        case when blank(d.org_name) then v('机构名称', 'not empty', d.org_name) end,
        case when n.district_code is null then v('区县', 'a district name, alias or code', d.district) end,
        in_set('机构类别', d.category, ['医院', '妇幼保健院', '专科疾病防治院', '社区卫生服务中心',
                                        '社区卫生服务站', '乡镇卫生院', '门诊部', '诊所']),
        int_rule('实有床位数', d.beds, 0),
        int_rule('执业（助理）医师数', d.physicians, 0),
        coalesce(int_rule('全科医生数', d.general_practitioners, 0),
                 case when as_int(d.general_practitioners) > as_int(d.physicians)
                      then v('全科医生数', '<= physicians', d.general_practitioners) end),
        int_rule('注册护士数', d.nurses, 0)
    ]) end as _violations
from _delivery d
left join reference.district_names n on n.raw_value = d.district
