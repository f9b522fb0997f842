"""The causes of revisions.parquet (docs/methodology.md section 8), without a run."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from junheng.publish.bundle import REVISED_TABLES, revisions
from junheng.publish.release import to_arrow


def _values(value: float, year: int = 2021) -> pa.Table:
    import pandas as pd
    return to_arrow("indicator_values", pd.DataFrame({
        "year": [year], "district_code": ["320505"], "indicator_id": ["W1"], "value": [value],
        "methodology_version": ["2.0"]}))


def _tables(value: float) -> dict[str, pa.Table]:
    import pandas as pd
    out = {n: to_arrow(n, pd.DataFrame()) for n in REVISED_TABLES}
    out["indicator_values"] = _values(value)
    return out


def _previous(tmp_path, value: float):
    prev = tmp_path / "20250101T000000Z-deadbeef"
    prev.mkdir(parents=True)
    for name, table in _tables(value).items():
        pq.write_table(table, prev / f"{name}.parquet")
    return prev


INPUTS = [{"feed": "environment", "year": 2021, "name": "sewage_2021.csv", "sha256": "a"},
          {"feed": "health", "year": 2022, "name": "h.xlsx", "sha256": "b"}]
MANIFEST = {"inputs": INPUTS, "configuration": {"seed": 1}, "methodology_version": "2.0"}


def _causes(tmp_path, inputs=INPUTS, configuration=None, version="2.0", value=2.0):
    prev = _previous(tmp_path, 1.0)
    rev = revisions(prev, MANIFEST, _tables(value), inputs, configuration or {"seed": 1},
                    version)
    return rev


def test_the_first_release_has_no_revisions():
    rev = revisions(None, None, _tables(1.0), INPUTS, {}, "2.0")
    assert rev.empty and list(rev.columns)[:3] == ["previous_release_id", "table", "key"]


def test_a_changed_delivery_of_the_rows_year_is_the_cause(tmp_path):
    changed = [dict(INPUTS[0], sha256="c"), INPUTS[1]]
    rev = _causes(tmp_path, inputs=changed, configuration={"seed": 2})
    assert rev[["table", "key", "column", "old_value", "new_value", "cause"]].values.tolist() \
        == [["indicator_values", "year=2021|district_code=320505|indicator_id=W1", "value",
             "1.0", "2.0", "new delivery: environment 2021"]]
    assert rev["previous_release_id"].tolist() == ["20250101T000000Z-deadbeef"]


def test_otherwise_configuration_then_other_years_deliveries_methodology_code(tmp_path):
    assert _causes(tmp_path / "a", configuration={"seed": 2})["cause"].tolist() == [
        "configuration"]
    other_year = [INPUTS[0], dict(INPUTS[1], sha256="z")]
    assert _causes(tmp_path / "b", inputs=other_year)["cause"].tolist() == [
        "new delivery: health 2022"]
    assert _causes(tmp_path / "c", version="2.1")["cause"].tolist() == ["methodology"]
    assert _causes(tmp_path / "d")["cause"].tolist() == ["code"]
    assert _causes(tmp_path / "e", value=1.0).empty
