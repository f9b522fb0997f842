-- The rules of one department's submissions file (feeds.md section 7): every row with its
-- violations (an empty list for a row that passes). The department is the file's (the
-- loader adds it to every row read); `_submission_indicators` is the catalogue's submitted
-- indicators with their department, form and unit factor (junheng.ingest.submissions);
-- district names, aliases and codes are resolved after NFKC and trimming
-- (reference.district_names), as in the staging view.
with rows as (
    select
        d.*,
        i.sub_department as indicator_department,
        i.sub_form as form,
        i.sub_factor as factor,
        i.sub_is_percent as is_percent,
        case when n.is_city then '320500' else n.district_code end as code,
        as_num(d.numerator) as num,
        as_num(d.denominator) as den
    from _delivery d
    left join _submission_indicators i on i.sub_indicator_id = trim(d.indicator_id)
    left join reference.district_names n on n.raw_value = d.district
)
select
    _line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when _error is not null then [v('*', 'parsable row', _error)] else violations([
        case when blank(indicator_id) then v('指标编码', 'required', indicator_id)
             when indicator_department is distinct from department
                  then v('指标编码', 'an indicator of this department in the catalogue',
                         indicator_id)
             when count(*) over (partition by trim(indicator_id),
                                 coalesce(code, 'unresolved: ' || trim(district))) > 1
                  then v('指标编码', 'unique (indicator, district) in file',
                         trim(indicator_id) || ' ' || district) end,
        case when blank(district) then v('区县', 'required', district)
             when code is null then v('区县', 'a district code or alias', district)
             when code = '320500' and form is not null and form <> 'estimate'
                  then v('区县', 'the city code 320500 only for estimate rows', district) end,
        case when blank(numerator)
                  then case when form in ('ratio', 'count', 'flag')
                            then v('分子', 'required for form ' || form, numerator) end
             else coalesce(dec_rule('分子', numerator), case
                  when num < 0 then v('分子', '>= 0', numerator)
                  when form = 'flag' and num not in (0, 1) then v('分子', 'flag: 0 or 1', numerator)
                  when form = 'ratio' and is_percent and den > 0 and num > den
                       then v('分子', '<= denominator where the unit is %', numerator) end) end,
        case when blank(denominator)
                  then case when form in ('ratio', 'flag')
                            then v('分母', 'required for form ' || form, denominator) end
             else coalesce(dec_rule('分母', denominator), case
                  when den <= 0 then v('分母', '> 0', denominator)
                  when form = 'flag' and den <> 1 then v('分母', 'flag: 1', denominator) end) end,
        case when blank(value)
                  then case when form = 'estimate'
                            then v('数值', 'required for form estimate', value) end
             else coalesce(dec_rule('数值', value), case
                  when form = 'ratio' and num >= 0 and den > 0
                       and abs(as_num(value) - factor * num / den) > 0.005 * (factor * num / den)
                       then v('数值', 'equals the ratio x unit factor within 0.5 %', value) end) end,
        case when form = 'estimate'
                  then coalesce(dec_rule('标准误', standard_error),
                                case when as_num(standard_error) <= 0
                                     then v('标准误', '> 0', standard_error) end)
             when not blank(standard_error) and form is not null
                  then v('标准误', 'estimate only', standard_error) end,
        case when form = 'estimate'
                  then coalesce(int_rule('样本量', sample_size, 1),
                                case when as_int(sample_size) > 2147483647
                                     then v('样本量', 'integer within range', sample_size) end)
             when not blank(sample_size) and form is not null
                  then v('样本量', 'estimate only', sample_size) end
    ]) end as _violations
from rows
