-- One row per district with enrolled persons (from _persons, int_pension_persons.sql): the
-- counts P1 needs (persons aged 16-59 contributing, or contributing or suspended) and the
-- dual enrolments. District-level: this is what leaves the person-level engine.
select
    district_code,
    count(*) filter (where age between 16 and 59 and has_contributing_or_suspended
                     and has_contributing) as contributing,
    count(*) filter (where age between 16 and 59 and has_contributing_or_suspended)
        as eligible,
    count(*) filter (where is_dual) as dual_enrolments,
    count(*) filter (where is_dual_disagreeing) as dual_status_disagreeing
from _persons
group by district_code
