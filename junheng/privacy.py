"""Scrubbing what leaves the warehouse: person keys, whole or in part, never travel.

A pension person_key is 64 lowercase hex characters. Anything that leaves the warehouse
(error texts, quarantine values, file and folder names, free text, Dagster metadata, logs,
alerts, pages, the query snapshot) passes through `scrub`, which replaces every run of hex
characters that could be part of one: 16 or more hex characters (digits alone included:
about one key in a hundred holds a run of 16 digits), or 12 or more with at least one
letter a-f. The replacement names no part of the run. `HEX_RUN_SQL` is the first rule as
a DuckDB regular expression, for scrubbing whole columns in SQL.
"""

from __future__ import annotations

import re
from typing import Any

WITHHELD = "(withheld)"
HEX_RUN_SQL = "[0-9a-fA-F]{16,}"
_HEX_RUN = re.compile(r"[0-9a-fA-F]{12,}")


def _replace(m: re.Match) -> str:
    run = m.group()
    if len(run) >= 16 or re.search(r"[a-fA-F]", run):
        return WITHHELD
    return run


def scrub(text: Any) -> Any:
    """`text` with every possible person-key fragment replaced; non-strings unchanged."""
    if not isinstance(text, str):
        return text
    return _HEX_RUN.sub(_replace, text)


def first_line(exc: BaseException) -> str:
    """What a message may say of an error whose text can quote the data that caused it
    (DuckDB's, Spark's): its first line, scrubbed (its type when it has no text)."""
    text = str(exc).strip()
    return scrub(text.splitlines()[0] if text else type(exc).__name__)


def scrub_all(obj: Any) -> Any:
    """`scrub` applied to every string inside dicts, lists and tuples (keys included)."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub_all(k): scrub_all(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):   # plain ones only: records and named tuples pass as is
        return type(obj)(scrub_all(v) for v in obj)
    return obj
