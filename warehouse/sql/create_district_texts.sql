-- Every district text a department has delivered (the loader adds them: load.district_texts),
-- with its NFKC-normalised, trimmed form, a fixed function of the text. DuckDB has no NFKC,
-- so Python normalises each text once; reference.district_names resolves them in the
-- warehouse, so that a staging view over raw resolves names too.
create table if not exists reference.district_texts (
    raw_value varchar not null,
    normalised varchar not null
);
