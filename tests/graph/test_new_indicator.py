"""Adding an indicator from an existing feed is a catalogue row and its formula: in a
temporary copy of the project, a made-up indicator is computed and published by
`junheng run` without any other edit."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
from conftest import ROOT, run_env

import independent as ind
from junheng.demo.generator import Options, generate

COPIED = ("junheng", "assets", "pipelines", "expectations", "warehouse/sql", "warehouse/seeds",
          "docs/methodology.md",
          "dagster.yaml", "pyproject.toml")


def _copy_project(dest):
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / name)


def _add_indicator(seeds):
    """Z1, kindergarten children per kindergarten teacher: a row like E4's, a new figure
    over the schools' staging table, and its formula."""
    path = seeds / "indicators.csv"
    text = path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    z1 = {**next(r for r in rows if r["indicator_id"] == "E4"), "indicator_id": "Z1",
          "name_zh": "幼儿园生师比", "name_en": "Kindergarten children per teacher"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([*rows, z1])
    path.write_text(out.getvalue(), encoding="utf-8")
    formulas = seeds / "indicator_formulas.toml"
    text = formulas.read_text(encoding="utf-8").replace(
        "[figures.schools]\n",
        "[figures.schools]\nkg_teachers = \"sum(teachers) filter (level = '幼儿园')\"\n")
    formulas.write_text(
        text + 'Z1 = { numerator = "kg_enrolled", denominator = "kg_teachers", factor = 1 }\n',
        encoding="utf-8")


def test_a_made_up_indicator_is_computed_and_published(tmp_path):
    project = tmp_path / "project"
    _copy_project(project)
    _add_indicator(project / "warehouse" / "seeds")
    landing = tmp_path / "landing"
    generate(landing, Options(years=(2020,), scale=0.002))
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], cwd=project,
                         env=run_env(tmp_path, landing), capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    release = tmp_path / "extracts" / (tmp_path / "extracts" / "LATEST").read_text().strip()
    values = pq.read_table(release / "indicator_values.parquet").to_pandas()
    z1 = values[values["indicator_id"] == "Z1"].set_index("district_code")
    assert len(z1) == 11 and z1["value"].notna().all()
    # Independently, from the delivered schools file.
    schools = ind.read_schools(landing, 2020)
    kg = schools[schools["学段"].str.strip() == "幼儿园"].groupby("district_code")[
        ["在校生数", "专任教师数"]].sum()
    for code, row in kg.iterrows():
        assert abs(z1.loc[code, "value"] - row["在校生数"] / row["专任教师数"]) < 1e-9
    city = kg["在校生数"].sum() / kg["专任教师数"].sum()
    assert abs(z1.loc["320500", "value"] - city) < 1e-9
    assert (z1["source_rows_used"] > 0).all()
    # Scored (E4's row puts it outside the index) and in the project copy only.
    assert "Z1" not in (ROOT / "warehouse/seeds/indicators.csv").read_text(encoding="utf-8")
