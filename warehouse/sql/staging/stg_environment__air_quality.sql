-- The rules of one air-quality delivery (feeds.md): every row with its violations (an
-- empty list for a row that passes). A negative value (-99) is the analyser's invalid
-- flag: not a reason to reject the row (the staging view keeps it as null and counts it).
select
    _line,
    -- An unparsable row gets that one reason, not a rule break per empty field.
    case when _error is not null then [v('*', 'parsable row', _error)] else violations([
        case when blank(station_code) then v('station_code', 'required', station_code) end,
        case when not_a_district(district_code) then v('district_code', 'in districts.csv', district_code) end,
        case when not coalesce(regexp_full_match(trim("time"), '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:00'), false)
                  or try_strptime(trim("time"), '%Y-%m-%d %H:%M') is null
                  then v('time', 'YYYY-MM-DD HH:00', "time")
             when year(strptime(trim("time"), '%Y-%m-%d %H:%M')) <> $year
                  then v('time', 'in reporting year ' || $year, "time")
             when count(*) over (partition by trim(station_code), trim("time")) > 1
                  then v('time', 'unique per station', "time") end,
        case when not blank(so2) and not is_num(so2) then v('so2', 'decimal', so2) end,
        case when not blank(no2) and not is_num(no2) then v('no2', 'decimal', no2) end,
        case when not blank(pm10) and not is_num(pm10) then v('pm10', 'decimal', pm10) end,
        case when not blank(o3) and not is_num(o3) then v('o3', 'decimal', o3) end,
        case when not blank(pm25) and not is_num(pm25) then v('pm25', 'decimal', pm25) end,
        case when not blank(co) and not is_num(co) then v('co', 'decimal', co) end
    ]) end as _violations
from _delivery
