-- staging.stg_pension__enrolments is a VIEW, not a copy: the rows of raw.pension__enrolments
-- whose line is not in quality.quarantine, typed. RESTRICTED (person-level).
-- A second 9-million-row copy of the person keys would cost 7 s and 0.35 GB a year; the
-- rules in stg_pension__enrolments.sql decide what is quarantined, in the same transaction
-- that writes raw, so the view always matches them. Filters on year reach the raw scan.
-- {rows} and {quarantine} are relations named by the loader (identifiers, never values):
-- raw.pension__enrolments and quality.quarantine for the published view, a delivery's
-- read rows and its quarantine for the candidate that is audited before it is published.
select
    r._line,
    r._year as year,
    r.person_key,
    r.district_code,
    r.scheme,
    try_cast(trim(r.birth_year) as integer) as birth_year,
    r.sex,
    r.status
from {rows} r
where not exists (
    select 1 from {quarantine} q
    where q.feed = 'pension' and q.table_name = 'pension__enrolments'
      and q.year = r._year and q.line = r._line
)
