-- Helpers for the staging rules. `v(column, rule, value)` is one rule violation.
-- No delivered text can make these raise or yield inf/nan: every cast is a try_cast,
-- and a number too large to hold, or not finite, is a violation of its own.
create or replace temp macro v(col, rule, val) as
    {'column_name': col, 'rule': rule, 'value': cast(val as varchar)};
-- Written as a whole integer (optional sign, ASCII digits only: no separators).
create or replace temp macro int_text(x) as
    coalesce(regexp_full_match(trim(x), '[+-]?[0-9]+'), false);
-- Integers are held within +-(10^15 - 1): far above any count in the feeds, and small
-- enough that sums and products of a few of them (age groups adding up to the total)
-- stay within BIGINT instead of raising an overflow.
create or replace temp macro int_in_range(x) as
    coalesce(try_cast(trim(x) as bigint) between -999999999999999 and 999999999999999, false);
-- Text that is a whole integer within that range.
create or replace temp macro is_int(x) as (int_text(x) and int_in_range(x));
-- Written as a decimal number (ASCII, optional fraction and exponent).
create or replace temp macro num_text(x) as
    coalesce(regexp_full_match(trim(x), '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?'),
             false);
-- A value that reads as infinity or not-a-number: 'inf', 'Infinity', 'nan', or a decimal
-- beyond the range of a double (1e309, 400 digits).
create or replace temp macro non_finite(x) as
    (coalesce(regexp_full_match(lower(trim(x)), '[+-]?(inf|infinity|nan)'), false)
     or (num_text(x) and not coalesce(isfinite(try_cast(trim(x) as double)), false)));
-- Text that is a finite decimal number.
create or replace temp macro is_num(x) as
    (num_text(x) and coalesce(isfinite(try_cast(trim(x) as double)), false));
create or replace temp macro blank(x) as (x is null or trim(x) = '');
-- An integer column: missing, not an integer, beyond the range, or below a minimum.
create or replace temp macro int_rule(col, x, lo) as
    case
        when blank(x) then v(col, 'required', x)
        when not int_text(x) then v(col, 'integer', x)
        when not int_in_range(x) then v(col, 'integer within range', x)
        when try_cast(trim(x) as bigint) < lo then v(col, '>= ' || lo, x)
    end;
-- A decimal column: missing, not finite, not a decimal, or outside [lo, hi].
create or replace temp macro num_rule(col, x, lo, hi) as
    case
        when blank(x) then v(col, 'required', x)
        when non_finite(x) then v(col, 'finite number', x)
        when not num_text(x) then v(col, 'decimal', x)
        when try_cast(trim(x) as double) < lo or try_cast(trim(x) as double) > hi
            then v(col, lo || ' to ' || hi, x)
    end;
create or replace temp macro in_set(col, x, allowed) as
    case
        when blank(x) then v(col, 'required', x)
        when not list_contains(allowed, trim(x)) then v(col, 'one of ' || array_to_string(allowed, ', '), x)
    end;
-- The value of a column that passed its rule; null for anything else (never inf or nan).
create or replace temp macro as_int(x) as
    case when is_int(x) then try_cast(trim(x) as bigint) end;
create or replace temp macro as_num(x) as
    case when isfinite(try_cast(trim(x) as double)) then try_cast(trim(x) as double) end;
create or replace temp macro violations(l) as list_filter(l, lambda x: x is not null);
-- A value that must be exactly one of `allowed` (no trimming: person-level feeds are read
-- as delivered, and the staging view keeps the raw text, so ' employee' must not pass).
create or replace temp macro in_set_exact(col, x, allowed) as
    case
        when x is null or x = '' then v(col, 'required', x)
        when not list_contains(allowed, x) then v(col, 'one of ' || array_to_string(allowed, ', '), x)
    end;
-- The district rule of feeds.md: a district code of districts.csv (codes only; names are
-- resolved by alias before the rules run).
create or replace temp macro not_a_district(x) as
    x is null or trim(x) not in (select district_code from reference.districts);
-- A decimal column whose range depends on the row (submissions): missing, not finite, or
-- not a decimal; the range rules follow it.
create or replace temp macro dec_rule(col, x) as
    case
        when blank(x) then v(col, 'required', x)
        when non_finite(x) then v(col, 'finite number', x)
        when not num_text(x) then v(col, 'decimal', x)
    end;
