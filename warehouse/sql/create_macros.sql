-- Helpers for the staging rules. `v(column, rule, value)` is one rule violation.
create or replace temp macro v(col, rule, val) as
    {'column_name': col, 'rule': rule, 'value': cast(val as varchar)};
-- Text that is a whole integer (optional sign, ASCII digits only: no separators).
create or replace temp macro is_int(x) as
    coalesce(regexp_full_match(trim(x), '[+-]?[0-9]+'), false);
-- Text that is a decimal number (ASCII, optional fraction and exponent).
create or replace temp macro is_num(x) as
    coalesce(regexp_full_match(trim(x), '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?'),
             false);
create or replace temp macro blank(x) as (x is null or trim(x) = '');
-- An integer column: missing, not an integer, or below a minimum.
create or replace temp macro int_rule(col, x, lo) as
    case
        when blank(x) then v(col, 'required', x)
        when not is_int(x) then v(col, 'integer', x)
        when cast(trim(x) as hugeint) < lo then v(col, '>= ' || lo, x)
    end;
create or replace temp macro num_rule(col, x, lo, hi) as
    case
        when blank(x) then v(col, 'required', x)
        when not is_num(x) then v(col, 'decimal', x)
        when cast(trim(x) as double) < lo or cast(trim(x) as double) > hi
            then v(col, lo || ' to ' || hi, x)
    end;
create or replace temp macro in_set(col, x, allowed) as
    case
        when blank(x) then v(col, 'required', x)
        when not list_contains(allowed, trim(x)) then v(col, 'one of ' || array_to_string(allowed, ', '), x)
    end;
create or replace temp macro as_int(x) as try_cast(trim(x) as bigint);
create or replace temp macro as_num(x) as try_cast(trim(x) as double);
create or replace temp macro violations(l) as list_filter(l, lambda x: x is not null);
