"""What a release holds beside its Parquet tables (extracts.md, issue #15).

- `indicators_table`: the catalogue as the release used it, with the effective weights.
- `revisions`: every published value that differs from the previous release, with its cause.
- `write_csvs`: `csv/<table>.csv`, UTF-8 with a BOM, the same rows and columns.
- `datapackage`: a Frictionless Data Package (v2) of every Parquet and CSV file.
- `write_sha256sums`: `SHA256SUMS`, as `sha256sum -c` reads it.
- `write_zip`, `write_listing`: `<extracts>/<release_id>.zip` and `<extracts>/index.html`,
  each written under a temporary name and renamed.

Which values count as revisions: every column of every published table but `revisions`
itself and `methodology_version`, compared row by row on the table's key columns (the
`indicators` catalogue and `data_quality` included). A row present in only one release
counts as a change of each of its non-null values (the other side null). Values are
compared exactly and written as text (floats in Python's shortest round-trip form).
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from junheng.methodology.index import effective_weights, read_catalogue
from junheng.ops.landing import file_sha256
from junheng.registry import published

BOM = "\ufeff".encode()
DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
# Compared for revisions: every published table but the revisions themselves.
REVISED_TABLES = tuple(t.name for t in published() if t.name != "revisions")
NOT_REVISED = {"methodology_version"}


# --------------------------------------------------------------------------- indicators

def indicators_table(catalogue: pd.DataFrame, config) -> pd.DataFrame:
    """reference.indicators with effective_weight, index_weight, area_weight, aggregation."""
    cat = catalogue.copy()
    ew = effective_weights(read_catalogue(catalogue), config)
    ew = ew.set_index("indicator_id")
    cat["effective_weight"] = cat["indicator_id"].map(ew["weight"]).astype(float)
    cat["index_weight"] = cat["indicator_id"].map(ew["index_weight"]).astype(float)
    cat["area_weight"] = cat["area"].map(config.area_weights).astype(float)
    cat["aggregation"] = config.aggregation
    cat["methodology_version"] = config.methodology_version
    return cat


# --------------------------------------------------------------------------- revisions

def _text(v) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _rows(table: pa.Table, keys: tuple[str, ...]) -> dict[str, dict]:
    out = {}
    for r in table.to_pylist():
        out["|".join(f"{k}={_text(r[k])}" for k in keys)] = r
    return out


def _changed_feeds(old_inputs: list[dict], new_inputs: list[dict]) -> dict[int, list[str]]:
    """year -> the feeds whose inputs of that year differ between the two manifests."""
    def by(inputs):
        d: dict[tuple[str, int], set] = {}
        for i in inputs:
            d.setdefault((i["feed"], int(i["year"])), set()).add((i["name"], i["sha256"]))
        return d
    a, b = by(old_inputs), by(new_inputs)
    out: dict[int, list[str]] = {}
    for feed, year in sorted(set(a) | set(b), key=lambda k: (k[1], k[0])):
        if a.get((feed, year)) != b.get((feed, year)):
            out.setdefault(year, []).append(feed)
    return out


def _delivery_cause(pairs: list[tuple[str, int]]) -> str:
    return "; ".join(f"new delivery: {f} {y}" for f, y in pairs)


def revisions(previous: Path | None, previous_manifest: dict | None,
              tables: dict[str, pa.Table], inputs: list[dict], configuration: dict,
              methodology_version: str) -> pd.DataFrame:
    """The published values of `tables` that differ from those of the release at
    `previous` (empty for the first release), with their cause:

    - `new delivery: <feed> <year>` when the row's year has inputs of that feed that
      changed between the two manifests (data_quality: the row's own feed and year);
    - else `configuration` when the configuration differs;
    - else, for a row without a changed year of its own (cross-year tables, a year's
      neighbours), the deliveries that changed in any year;
    - else `methodology` when methodology_version differs, else `code`.
    """
    cols = ["previous_release_id", "table", "key", "column", "old_value", "new_value",
            "cause", "methodology_version"]
    if previous is None or previous_manifest is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    changed = _changed_feeds(previous_manifest.get("inputs", []), inputs)
    all_changed = [(f, y) for y, fs in changed.items() for f in fs]
    config_changed = previous_manifest.get("configuration") != configuration
    method_changed = previous_manifest.get("methodology_version") != methodology_version
    keys_of = {t.name: t.sort_keys for t in published()}
    out = []
    for name in REVISED_TABLES:
        new = tables[name]
        path = previous / f"{name}.parquet"
        old = pq.read_table(path) if path.exists() else pa.table({})
        keys = keys_of[name]
        old_rows = _rows(old, keys) if set(keys) <= set(old.column_names) else {}
        new_rows = _rows(new, keys)
        columns = [c for c in new.column_names if c not in keys and c not in NOT_REVISED]
        for key in sorted(set(old_rows) | set(new_rows)):
            a, b = old_rows.get(key, {}), new_rows.get(key, {})
            row = b or a
            diffs = [(c, _text(a.get(c)), _text(b.get(c))) for c in columns]
            diffs = [d for d in diffs if d[1] != d[2]]
            if not diffs:
                continue
            year = row.get("year")
            if name == "data_quality":
                cause = _delivery_cause([(row["feed"], int(year))])
            elif year is not None and changed.get(int(year)):
                cause = _delivery_cause([(f, int(year)) for f in changed[int(year)]])
            elif config_changed:
                cause = "configuration"
            elif all_changed:
                cause = _delivery_cause(all_changed)
            elif method_changed:
                cause = "methodology"
            else:
                cause = "code"
            out += [[previous.name, name, key, c, o, n, cause, methodology_version]
                    for c, o, n in diffs]
    return pd.DataFrame(out, columns=cols, dtype=object)


def revision_summary(release: Path) -> str:
    """One line: how many values were revised since the previous release, and why."""
    path = release / "revisions.parquet"
    if not path.exists():
        return "—"
    rev = pq.read_table(path).to_pandas()
    if rev.empty:
        return "no values revised (or first release)"
    causes = rev.groupby("cause").size().sort_values(ascending=False)
    return (f"{len(rev)} values revised since {rev['previous_release_id'].iloc[0]}: "
            + ", ".join(f"{c} ({n})" for c, n in causes.items()))


# --------------------------------------------------------------------------- CSV

def write_csv(table: pa.Table, path: Path) -> None:
    """UTF-8 with a BOM; nulls empty; booleans true/false."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(BOM)
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=True,
                                                      quoting_style="needed"))


# --------------------------------------------------------------------------- datapackage

def _field_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "number"
    if pa.types.is_boolean(t):
        return "boolean"
    return "string"


def _table_schema(name: str) -> dict:
    t = next(x for x in published() if x.name == name)
    fields = []
    for c in t.columns:
        f = {"name": c.name, "type": _field_type(c.type), "title": c.en, "description": c.en,
             "title_zh": c.zh, "description_zh": c.zh}
        if c.unit:
            f["unit"] = c.unit
        if pa.types.is_boolean(c.type):
            f["trueValues"] = ["true"]
            f["falseValues"] = ["false"]
        fields.append(f)
    return {"fields": fields, "primaryKey": list(t.sort_keys), "missingValues": [""]}


DICTIONARY_SCHEMA = {"fields": [
    {"name": n, "type": "string", "title": en, "description": en, "title_zh": zh,
     "description_zh": zh}
    for n, zh, en in (("file", "文件", "File"), ("column", "列", "Column"),
                      ("type", "类型", "Arrow type"), ("unit", "单位", "Unit"),
                      ("description_zh", "中文说明", "Description in Chinese"),
                      ("description_en", "英文说明", "Description in English"),
                      ("key", "是否键列", "yes: a key column of the table"))],
    "primaryKey": ["file", "column"], "missingValues": []}


def datapackage(folder: Path, release_id: str, manifest: dict) -> dict:
    """Every Parquet and CSV file of the release as a resource with its Table Schema,
    bytes and SHA-256."""
    resources = []
    for t in published():
        for path, fmt in ((f"{t.name}.parquet", "parquet"), (f"csv/{t.name}.csv", "csv")):
            p = folder / path
            res = {"name": f"{t.name}-{fmt}".replace("_", "-"), "type": "table",
                   "path": path, "format": fmt,
                   "mediatype": "application/vnd.apache.parquet" if fmt == "parquet"
                   else "text/csv",
                   "title": t.description, "description": t.description,
                   "title_zh": t.description_zh, "description_zh": t.description_zh,
                   "bytes": p.stat().st_size, "hash": f"sha256:{file_sha256(p)}",
                   "schema": _table_schema(t.name)}
            if fmt == "csv":
                res["encoding"] = "utf-8-sig"
                res["dialect"] = {"header": True, "delimiter": ",", "quoteChar": '"'}
            resources.append(res)
    p = folder / "data_dictionary.csv"
    resources.append({
        "name": "data-dictionary", "type": "table", "path": "data_dictionary.csv",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8-sig",
        "title": "Data dictionary: every column of every table",
        "description": "Data dictionary: every column of every table, with type, unit and a "
                       "description in Chinese and English",
        "title_zh": "数据字典", "description_zh": "每个表的每一列：类型、单位及中英文说明",
        "bytes": p.stat().st_size, "hash": f"sha256:{file_sha256(p)}",
        "schema": DICTIONARY_SCHEMA})
    return {
        "$schema": DATAPACKAGE_PROFILE,
        "name": "junheng-" + release_id.lower(),
        "id": release_id,
        "title": "Junheng: basic public services equalisation, Suzhou — evaluator release "
                 + release_id,
        "title_zh": "苏州市基本公共服务均等化第三方评估数据包 " + release_id,
        "description": "The attainment index, scores, equalisation measures, target progress "
                       "and data quality of the published years "
                       + ", ".join(map(str, manifest["published_years"]))
                       + f"; methodology {manifest['methodology_version']}.",
        "version": release_id,
        "created": manifest["created_at"],
        "licenses": [{"name": "other-at", "title": "For the third-party evaluation"}],
        "resources": resources,
    }


# --------------------------------------------------------------------------- checksums

def write_sha256sums(folder: Path) -> None:
    lines = [f"{file_sha256(p)}  {p.relative_to(folder).as_posix()}\n"
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "SHA256SUMS"]
    (folder / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- beside releases

def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_zip(extracts: Path, release: Path) -> Path:
    """`<extracts>/<release_id>.zip`: the release whole, under its folder name."""
    target = extracts / f"{release.name}.zip"

    def write(tmp: Path):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(release.rglob("*")):
                if p.is_file():
                    z.write(p, f"{release.name}/{p.relative_to(release).as_posix()}")
    _atomic_write(target, write)
    return target


def releases(extracts: Path) -> list[Path]:
    """Complete releases, newest first (their ids start with the UTC time)."""
    return sorted((p for p in extracts.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and (p / "manifest.json").exists()), key=lambda p: p.name, reverse=True)


def listing_html(extracts: Path, latest_id: str | None = None) -> str:
    rows = []
    for rel in releases(extracts):
        m = json.loads((rel / "manifest.json").read_text(encoding="utf-8"))
        withheld = "; ".join(f"{w['year']}: {', '.join(w['reasons'])}"
                             for w in m.get("withheld_years", [])) or "—"
        years = ", ".join(map(str, m.get("published_years", [])))
        zip_link = (f'<a href="{html.escape(rel.name)}.zip">zip</a>'
                    if (extracts / f"{rel.name}.zip").exists() else "")
        mark = " (LATEST)" if rel.name == latest_id else ""
        rows.append(
            f'<tr><td><a href="{html.escape(rel.name)}/index.html">{html.escape(rel.name)}'
            f"</a>{mark}</td><td>{html.escape(m.get('created_at', '')[:10])}</td>"
            f"<td>{html.escape(years)}</td><td>{html.escape(withheld)}</td>"
            f"<td>{html.escape(revision_summary(rel))}</td><td>{zip_link}</td></tr>")
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>均衡数据包 Junheng releases</title>"
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em;vertical-align:top}</style></head><body>"
        "<h1>第三方评估数据包 / Evaluator releases</h1>"
        "<p>最新在前 / Newest first.</p><table><thead><tr><th>数据包 Release</th>"
        "<th>日期 Date</th><th>年度 Years</th><th>暂缓发布 Withheld</th>"
        "<th>修订 Revisions</th><th>下载 Download</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></body></html>\n")


def write_listing(extracts: Path, latest_id: str | None = None) -> None:
    text = listing_html(extracts, latest_id)
    _atomic_write(extracts / "index.html", lambda p: p.write_text(text, encoding="utf-8"))
