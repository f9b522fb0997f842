"""One declaration per table: the assets, the release, the dictionary, the snapshot's
exclusions and the sensor's selection all agree with junheng.registry."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.marts_io import declared_type
from junheng.ingest.feeds import FEEDS
from junheng.publish import snapshot
from junheng.publish.dictionary import dictionary_rows, schema
from junheng.publish.release import YEAR_TABLES
from junheng.registry import REGISTRY, published, release_reads, restricted, table, tables
from pipelines.definitions import defs
from pipelines.sensors import DOWNSTREAM

WAREHOUSE_ASSET_SCHEMAS = ("reference", "raw", "staging", "marts")


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def _keys(graph, schemas) -> set[tuple[str, ...]]:
    return {tuple(k.path) for k in graph.get_all_asset_keys() if k.path[0] in schemas}


def test_every_asset_of_the_warehouse_is_a_registry_table_and_back(graph):
    declared = {(t.schema, t.name) for s in WAREHOUSE_ASSET_SCHEMAS for t in tables(s)
                if t.asset}
    assert _keys(graph, WAREHOUSE_ASSET_SCHEMAS) == declared


def test_raw_and_staging_follow_the_feed_contract():
    for feed in FEEDS.values():
        for part in feed.parts:
            raw, stg = REGISTRY[f"raw.{part.entity}"], REGISTRY[f"staging.{part.staging}"]
            for t in (raw, stg):
                assert t.grain == part.grain and t.owner == feed.department
                assert t.restricted == part.restricted
                assert set(part.keys) <= set(t.column_names)
    assert restricted() == {("raw", "pension__enrolments"),
                            ("staging", "stg_pension__enrolments")}


def test_asset_specs_carry_the_registry_declaration(graph):
    for t in tables("marts", asset=True) + tables("reference", asset=True):
        node = graph.get(dg.AssetKey([t.schema, t.name]))
        assert node.description == t.description and t.description.startswith(t.grain)
        assert node.owners == [f"team:{t.owner}"]
        columns = node.metadata["dagster/column_schema"].columns
        assert [(c.name, c.type) for c in columns] == [(c.name, c.sql_type) for c in t.columns]


def test_feed_asset_specs_carry_the_registry_declaration(graph):
    for feed in FEEDS.values():
        for part in feed.parts:
            for t in (table("raw", part.raw_table), table("staging", part.staging)):
                node = graph.get(dg.AssetKey([t.schema, t.name]))
                assert node.description == t.description and node.group_name == feed.id
                assert node.owners == [f"team:{feed.id}"]
                columns = node.metadata["dagster/column_schema"].columns
                assert [c.name for c in columns] == list(t.column_names)


def test_marts_tables_are_written_with_the_declared_types():
    for t in tables("marts"):
        for c in t.columns:
            assert declared_type(c.name, t.name) == c.sql_type, (t.name, c.name)


def test_every_published_column_is_described_and_typed():
    rows = dictionary_rows()
    assert [(r[0], r[1]) for r in rows] == [(f"{t.name}.parquet", c)
                                            for t in published() for c in t.column_names]
    for file, column, typ, _, zh, en, _ in rows:
        assert zh and en and typ and typ != "None", (file, column)
    for t in published():
        assert set(t.sort_keys) <= set(t.column_names)
        assert schema(t.name).names == list(t.column_names)
        assert t.description_zh and t.description.startswith("One row per")


def test_the_release_reads_and_the_sensor_selects_what_the_registry_says(graph):
    release = graph.get(dg.AssetKey(["extracts", "release"]))
    reads = {dg.AssetKey([t.schema, t.name]) for t in release_reads() if t.asset}
    assert set(release.parent_keys) == reads
    assert {k for k in reads if k.path[0] == "marts"} >= {
        dg.AssetKey(["marts", t.name]) for t in published() if t.schema == "marts"}
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert set(DOWNSTREAM) == marts | {dg.AssetKey(["extracts", "release"])}
    year_marts = {tuple(k.path) for k in graph.get(
        dg.AssetKey(["marts", "indicator_values"])).assets_def.keys}
    assert {("marts", t) for t in YEAR_TABLES} <= year_marts


def test_the_snapshot_keeps_every_restricted_table_out():
    assert snapshot.RESTRICTED == restricted()


def test_a_release_holds_exactly_the_published_tables(full_run):
    """The files of a release written from a small run, against the registry."""
    root = full_run[0]
    release = Path(root / "extracts" / (root / "extracts" / "LATEST").read_text().strip())
    manifest = json.loads((release / "manifest.json").read_text())
    outputs = [o["name"] for o in manifest["outputs"]]
    assert outputs == [f"{t.name}.parquet" for t in published()] + ["data_dictionary.csv"]
    for t in published():
        assert pq.read_schema(release / f"{t.name}.parquet") == t.arrow_schema(), t.name
    with open(release / "data_dictionary.csv", encoding="utf-8") as fh:
        assert [list(r.values()) for r in csv.DictReader(fh)] == dictionary_rows()


def test_every_marts_materialisation_reports_its_row_count(full_run):
    root, home, _ = full_run
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for t in tables("marts", asset=True):
            event = instance.get_latest_materialization_event(dg.AssetKey(["marts", t.name]))
            meta = event.asset_materialization.metadata
            assert isinstance(meta["dagster/row_count"].value, int), t.name
            assert meta["dagster/row_count"].value >= meta["rows"].value > 0, t.name
