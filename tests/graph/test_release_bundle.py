"""A release an evaluator can reproduce (issue #15): recompute the published scores from
indicators.parquet and indicator_values.parquet with pyarrow and pandas only, validate
datapackage.json with frictionless, check SHA256SUMS with sha256sum, read the CSV copies.

Deliberately no junheng import in the recomputation: it is what a third party would write
from docs/methodology.md sections 2, 3 and 7.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

CITY = "320500"


def _release(root: Path) -> Path:
    return root / "extracts" / (root / "extracts" / "LATEST").read_text().strip()


def _read(release: Path, name: str) -> pd.DataFrame:
    return pq.read_table(release / f"{name}.parquet").to_pandas()


def _close(a: pd.Series, b: pd.Series) -> bool:
    a, b = a.astype(float).to_numpy(), b.astype(float).to_numpy()
    return bool(np.array_equal(np.isnan(a), np.isnan(b))
                and np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-9))


def test_scores_areas_and_index_recompute_from_the_published_catalogue(full_run):
    release = _release(full_run[0])
    cat = _read(release, "indicators")
    values = _read(release, "indicator_values")
    published_scores = _read(release, "indicator_scores")
    published_areas = _read(release, "area_scores")
    published_index = _read(release, "equalisation_index")
    aggregation = cat["aggregation"].iloc[0]
    inx = cat[cat["in_index"]].set_index("indicator_id")

    # Section 2: fixed goalposts, for the in-index indicators.
    s = values[values["indicator_id"].isin(inx.index)].copy()
    zero = s["indicator_id"].map(inx["score_zero"])
    full = s["indicator_id"].map(inx["score_full"])
    s["score"] = (100 * (s["value"] - zero) / (full - zero)).clip(0, 100)
    s["w"] = s["indicator_id"].map(inx["effective_weight"])
    s["area"] = s["indicator_id"].map(inx["area"])
    key = ["year", "district_code", "indicator_id"]
    mine = s.sort_values(key).reset_index(drop=True)
    theirs = published_scores.sort_values(key).reset_index(drop=True)
    assert mine[key].equals(theirs[key])
    assert _close(mine["score"], theirs["score"])
    assert _close(mine["w"], theirs["weight"])

    # Section 3: areas (at least half scored; weighted mean over those scored).
    total = inx.groupby("area").size()
    rows = []
    for (year, code, area), g in mine.groupby(["year", "district_code", "area"]):
        ok = g[g["score"].notna()]
        n = len(ok)
        wsum = ok["w"].sum()
        score = (ok["w"] * ok["score"]).sum() / wsum if 2 * n >= total[area] and wsum > 0 \
            else math.nan
        rows.append((year, code, area, score, n, total[area], n < total[area]))
    areas = pd.DataFrame(rows, columns=["year", "district_code", "area", "score",
                                        "indicators_scored", "indicators_total",
                                        "provisional"])
    # Section 7: a year where a district has an area unscored is withheld (every unit).
    withheld = set(areas[(areas["district_code"] != CITY) & areas["score"].isna()]["year"])
    areas.loc[areas["year"].isin(withheld), "score"] = math.nan
    akey = ["year", "district_code", "area"]
    areas = areas.sort_values(akey).reset_index(drop=True)
    pub = published_areas.sort_values(akey).reset_index(drop=True)
    assert areas[akey].astype(str).values.tolist() == pub[akey].astype(str).values.tolist()
    assert _close(areas["score"], pub["score"])
    assert (areas["indicators_scored"].to_numpy() == pub["indicators_scored"].to_numpy()).all()
    assert (areas["provisional"].to_numpy() == pub["provisional"].to_numpy()).all()

    # The attainment index: area weights normalised over the areas that take part.
    aw = cat[cat["in_index"]].groupby("area")["area_weight"].first()
    aw = aw[aw > 0] / aw[aw > 0].sum()
    wide = areas.pivot(index=["year", "district_code"], columns="area", values="score")[aw.index]
    if aggregation == "arithmetic":
        index = (wide * aw).sum(axis=1, min_count=len(aw)).where(wide.notna().all(axis=1))
    else:
        index = np.exp((np.log(wide.clip(lower=1)) * aw).sum(axis=1)).where(
            wide.notna().all(axis=1))
    missing = mine[mine["score"].isna()].groupby(["year", "district_code"]).size()
    pub = published_index.set_index(["year", "district_code"]).sort_index()
    index = index.reindex(pub.index)
    assert _close(index, pub["attainment_index"])
    provisional = pd.Series([k in missing.index for k in pub.index], index=pub.index)
    assert (provisional == pub["provisional"]).all()
    assert pub["attainment_index"].notna().any()          # not a vacuous comparison
    assert withheld < set(pub.reset_index()["year"])


def test_the_datapackage_validates_with_frictionless(full_run):
    frictionless = pytest.importorskip("frictionless")
    release = _release(full_run[0])
    descriptor = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["$schema"].startswith("https://datapackage.org/profiles/2.0/")
    parquet = {r["path"] for r in descriptor["resources"] if r["format"] == "parquet"}
    csvs = {r["path"] for r in descriptor["resources"] if r["format"] == "csv"}
    assert parquet == {p.name for p in release.glob("*.parquet")}
    assert csvs == {f"csv/{p.name}" for p in (release / "csv").glob("*.csv")} | {
        "data_dictionary.csv"}
    for r in descriptor["resources"]:
        data = (release / r["path"]).read_bytes()
        assert r["bytes"] == len(data)
        assert r["hash"] == "sha256:" + __import__("hashlib").sha256(data).hexdigest()
        for f in r["schema"]["fields"]:
            assert f["title"] and f["description"] and f["title_zh"], (r["name"], f["name"])
        assert r["schema"]["primaryKey"]
    # The descriptor against the Data Package v2 profile, then `frictionless validate` on
    # every CSV resource: its rows against its Table Schema (types, primary key) and its
    # bytes and hash. (frictionless 5.21's Parquet reader reports no byte count and reads a
    # null integer as NaN, so the Parquet resources are described and checked above, not
    # validated row by row.)
    report = frictionless.Package.validate_descriptor(descriptor)
    assert report.valid, report.flatten(["type", "note"])[:5]
    cli = shutil.which("frictionless") or str(Path(sys.executable).parent / "frictionless")
    for r in descriptor["resources"]:
        if r["format"] != "csv":
            continue
        out = subprocess.run([cli, "validate", "datapackage.json", "--resource-name",
                              r["name"], "--json"], cwd=release, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, (r["name"], out.stdout[-2000:], out.stderr[-2000:])
        assert json.loads(out.stdout)["valid"], r["name"]


def test_sha256sums_verifies_with_sha256sum(full_run):
    release = _release(full_run[0])
    out = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=release,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = {line.split("  ", 1)[1] for line in
              (release / "SHA256SUMS").read_text().splitlines()}
    files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    assert listed == files - {"SHA256SUMS"}
    assert {"datapackage.json", "methodology.md", "manifest.json", "index.html",
            "data_dictionary.csv", "csv/indicators.csv", "revisions.parquet"} <= listed


def test_csv_copies_have_a_bom_and_the_parquet_rows(full_run):
    release = _release(full_run[0])
    for parquet in sorted(release.glob("*.parquet")):
        path = release / "csv" / f"{parquet.stem}.csv"
        assert path.read_bytes()[:3] == b"\xef\xbb\xbf", path
        table = pq.read_table(parquet)
        got = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert list(got.columns) == table.column_names, parquet.stem
        assert len(got) == table.num_rows, parquet.stem
        for f in table.schema:
            a, b = table.column(f.name).to_pylist(), got[f.name]
            if str(f.type) in ("double", "float"):
                assert _close(pd.Series(a, dtype=float), pd.to_numeric(b.replace("", None))), \
                    (parquet.stem, f.name)
            elif str(f.type) == "bool":
                assert [None if x is None else str(x).lower() for x in a] == \
                    [x or None for x in b], (parquet.stem, f.name)
            else:
                assert [None if x is None else str(x) for x in a] == [x or None for x in b], \
                    (parquet.stem, f.name)


def test_indicators_and_data_quality_carry_the_new_columns(full_run):
    release = _release(full_run[0])
    cat = _read(release, "indicators")
    seed = pd.read_csv(Path(__file__).resolve().parents[2] / "warehouse/seeds/indicators.csv")
    assert set(seed.columns) <= set(cat.columns)
    assert sorted(cat["indicator_id"]) == sorted(seed["indicator_id"])
    assert cat["table1_baseline_printed"].notna().any()
    inx = cat[cat["in_index"]]
    assert abs(inx["index_weight"].sum() - 1) < 1e-12
    assert (cat.loc[~cat["in_index"], "index_weight"] == 0).all()
    dq = _read(release, "data_quality")
    assert set(dq.loc[dq["feed"] == "submissions", "department"].dropna()) and \
        dq.loc[dq["feed"] != "submissions", "department"].isna().all()
    assert (dq["in_use"] == (dq["status"] == "loaded")).all()
    assert dq.loc[~dq["status"].isin(["rejected", "failed"]), "reason"].isna().all()


def test_the_releases_page_and_zip_beside_the_releases(full_run):
    extracts = full_run[0] / "extracts"
    latest = (extracts / "LATEST").read_text().strip()
    page = (extracts / "index.html").read_text(encoding="utf-8")
    ids = sorted((p.name for p in extracts.iterdir() if p.is_dir()
                  and not p.name.startswith(".")), reverse=True)
    assert ids and ids[0] == latest
    positions = [page.index(f'href="{i}/index.html"') for i in ids]
    assert positions == sorted(positions)                 # newest first
    assert "2020, 2021, 2022, 2023, 2024, 2025" in page
    with zipfile.ZipFile(extracts / f"{latest}.zip") as z:
        names = set(z.namelist())
    release = extracts / latest
    assert names == {f"{latest}/{p.relative_to(release).as_posix()}"
                     for p in release.rglob("*") if p.is_file()}
