create schema if not exists quality;
create table if not exists quality.deliveries (
    feed varchar not null,
    year integer not null,
    file_name varchar not null,
    sha256 varchar not null,
    bytes bigint not null,
    arrived_at timestamp,          -- modification time of the file in the landing zone
    recorded_at timestamp not null,
    run_id varchar,
    -- loaded (audited, passed, in use) | rejected (failed its critical expectations:
    -- replaced nothing) | failed (unreadable) | superseded (replaced by a newer one that
    -- passed) | unexpected (not a contracted file: not read)
    status varchar not null,
    message varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    archive_path varchar,
    changed_at timestamp,          -- inode change time in the landing zone (see load.archive)
    -- the unit of delivery within the feed-year, where each file is its own (submissions:
    -- the department, from the file name); null where the feed-year is the unit
    department varchar
);
create table if not exists quality.quarantine (
    feed varchar not null,
    year integer not null,
    file_name varchar not null,
    delivery_sha256 varchar not null,
    table_name varchar not null,   -- raw table the row is kept in
    line bigint not null,          -- CSV/JSON Lines line, or XLSX sheet row (header = 1)
    column_name varchar not null,  -- as delivered; '*' for the whole row
    rule varchar not null,
    value varchar,
    run_id varchar
);
create table if not exists quality.check_results (
    feed varchar not null,
    year integer not null,
    table_name varchar not null,
    suite varchar not null,        -- critical | warning
    passed boolean not null,
    evaluated integer not null,
    failed integer not null,
    failures varchar,              -- JSON: the failed expectations, lean
    checked_at timestamp not null,
    run_id varchar,
    delivery_sha256 varchar        -- the delivery audited (passed or rejected)
);
-- Warehouses made before write-audit-publish.
alter table quality.deliveries add column if not exists changed_at timestamp;
alter table quality.check_results add column if not exists delivery_sha256 varchar;
-- Warehouses made before a unit of delivery could be one department's file.
alter table quality.deliveries add column if not exists department varchar;
