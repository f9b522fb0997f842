"""Engines for the person-level work: DuckDB (the default, in the warehouse's own process)
or Apache Spark (`JUNHENG_ENGINE=spark`), for volumes beyond one machine.

Only the steps that grow with the population run on the engine: reading a pension delivery
and its rules (the quarantine, duplicate keys), the persons (dual enrolment resolved) and
their per-district counts (P1 and the dual-enrolment mart). Everything after them is a few
thousand district-level rows and stays in DuckDB. The SQL is written once, in DuckDB's
dialect under warehouse/sql, and translated for Spark by `junheng.engine.translate`.
"""
