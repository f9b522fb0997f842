"""The code location loads, and asset keys are table addresses."""

import dagster as dg

from pipelines.definitions import defs

SCHEMAS = {"reference", "raw", "staging", "intermediate", "marts", "quality", "extracts"}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("ingest_year").partitions_def is not None


def test_asset_keys_are_schema_and_table():
    graph = defs.resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assert keys
    for key in keys:
        assert len(key.path) == 2 and key.path[0] in SCHEMAS, key


def test_every_asset_states_its_grain():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        description = graph.get(key).description or ""
        assert description.startswith("One row per"), key
