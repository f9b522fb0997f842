"""index.html of a release: what an evaluator opens first. Self-contained: inline CSS and
SVG, no script, font or image from anywhere else."""

from __future__ import annotations

import html
import math

import pyarrow as pa

STATUS_COLOURS = {"achieved": "#1a7f37", "substantial_progress": "#4c9be8",
                  "moderate_progress": "#8fb8e8", "limited_progress": "#d9822b",
                  "deterioration": "#c62828", "not_met": "#7b1fa2",
                  "insufficient_data": "#9e9e9e", None: "#9e9e9e"}
AREA_NAMES = {"early_years": "幼有所育 Early years", "education": "学有所教 Education",
              "employment": "劳有所得 Employment", "health": "病有所医 Health",
              "elderly": "老有所养 Elderly", "funeral": "逝有所安 Funeral services",
              "housing": "住有所居 Housing", "assistance": "弱有所扶 Assistance",
              "transport": "行有所畅 Transport", "environment": "环境有改善 Environment",
              "veterans": "优军服务保障 Veterans",
              "culture_sport": "文体服务保障 Culture and sport",
              "safety": "安全服务保障 Safety"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _num(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{digits}f}"


def _rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def bar_chart(items: list[tuple[str, float]], ref: float | None, width=760, title="") -> str:
    """Horizontal bars (label, value 0-100) with an optional reference line (the city).

    The axis starts at the tens below the lowest value, so that close scores stay apart;
    the axis labels say where it starts."""
    h = 24 * len(items) + 40
    left, right = 270, width - 60
    values = [v for _, v in items if v is not None] + ([ref] if ref is not None else [])
    lo = max(0.0, math.floor((min(values, default=0) - 2) / 10) * 10)

    def scale(v: float) -> float:
        return left + (right - left) * (max(lo, min(v, 100.0)) - lo) / (100 - lo)

    out = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{h}" '
           f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">']
    step = 2 if 100 - lo <= 20 else (5 if 100 - lo <= 50 else 10)
    for tick in range(int(lo), 101, step):
        x = scale(tick)
        out.append(f'<line x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{h - 25}" stroke="#eee"/>'
                   f'<text x="{x:.1f}" y="{h - 8}" font-size="11" text-anchor="middle">'
                   f'{tick}</text>')
    for i, (label, v) in enumerate(items):
        y = 14 + 24 * i
        if v is None:
            continue
        out.append(f'<text x="{left - 8}" y="{y + 13}" font-size="12" text-anchor="end">'
                   f'{_e(label)}</text><rect x="{left}" y="{y}" width="{scale(v) - left:.1f}" '
                   f'height="17" fill="#4c78a8"/><text x="{scale(v) + 4:.1f}" y="{y + 13}" '
                   f'font-size="11">{v:.1f}</text>')
    if ref is not None:
        x = scale(ref)
        out.append(f'<line x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{h - 25}" stroke="#c62828" '
                   f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="10" font-size="11" '
                   f'fill="#c62828">city {ref:.1f}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(series: dict[str, list[tuple[int, float]]], width=640, height=240,
               title="") -> str:
    points = [(x, y) for s in series.values() for x, y in s if y is not None]
    if not points:
        return "<p>No data.</p>"
    xs = sorted({x for x, _ in points})
    ymax = max(y for _, y in points) * 1.15 or 1.0
    left, right, top, bottom = 60, width - 140, 15, height - 30
    sx = lambda x: left + (right - left) * (xs.index(x) / max(1, len(xs) - 1))  # noqa: E731
    sy = lambda y: bottom - (bottom - top) * y / ymax  # noqa: E731
    out = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>']
    for x in xs:
        out.append(f'<text x="{sx(x):.1f}" y="{height - 10}" font-size="11" '
                   f'text-anchor="middle">{x}</text>')
    for k in range(5):
        y = ymax * k / 4
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="10" text-anchor="end">'
                   f'{y:.{3 if ymax > 0.01 else 5}f}</text><line x1="{left}" '
                   f'y1="{sy(y):.1f}" x2="{right}" y2="{sy(y):.1f}" stroke="#f0f0f0"/>')
    for i, (name, s) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(sx(x), sy(y)) for x, y in s if y is not None]
        if pts:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
            out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts]
        out.append(f'<rect x="{right + 12}" y="{top + 18 * i}" width="12" height="12" '
                   f'fill="{colour}"/><text x="{right + 30}" y="{top + 10 + 18 * i}" '
                   f'font-size="12">{_e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def rank_chart(rows: list[dict], names: dict[str, str], width=760) -> str:
    rows = sorted(rows, key=lambda r: (r["rank_default"] or 99))
    h = 24 * len(rows) + 40
    left, right = 270, width - 30
    sx = lambda r: left + (right - left) * (r - 1) / 9  # noqa: E731
    out = [f'<svg role="img" aria-label="rank intervals" width="{width}" height="{h}" '
           f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">']
    for r in range(1, 11):
        out.append(f'<line x1="{sx(r):.1f}" y1="10" x2="{sx(r):.1f}" y2="{h - 25}" '
                   f'stroke="#eee"/><text x="{sx(r):.1f}" y="{h - 8}" font-size="11" '
                   f'text-anchor="middle">{r}</text>')
    for i, row in enumerate(rows):
        y = 22 + 24 * i
        out.append(f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">'
                   f'{_e(names.get(row["district_code"], row["district_code"]))}</text>')
        if row["rank_p05"] is not None:
            out.append(f'<line x1="{sx(row["rank_p05"]):.1f}" y1="{y}" '
                       f'x2="{sx(row["rank_p95"]):.1f}" y2="{y}" stroke="#4c78a8" '
                       f'stroke-width="6" stroke-linecap="round" opacity="0.5"/>'
                       f'<circle cx="{sx(row["rank_median"]):.1f}" cy="{y}" r="4" '
                       f'fill="#4c78a8"/>')
        if row["rank_default"] is not None:
            out.append(f'<path d="M{sx(row["rank_default"]):.1f},{y - 7} l5,7 l-5,7 l-5,-7 z" '
                       f'fill="#c62828"/>')
    out.append("</svg>")
    return "".join(out)


def _table(header: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _badge(status) -> str:
    return (f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#9e9e9e")}">'
            f'{_e(status or "n/a")}</span>')


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #eee;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
.note{color:#555;font-size:13px}.warn{background:#fff4e5;border-left:4px solid #d9822b;
padding:.5rem 1rem}code{font-size:12px}.mono{font-family:monospace;font-size:11px}
"""


def _indicator_sections(tables: dict[str, pa.Table], plan, years: list[int],
                        areas: list[str], names: dict[str, str]) -> str:
    """Per service area, every indicator: name, unit, target, the city's value by year,
    the districts' range in the last year, and the city's status."""
    cat = plan.extras.get("catalogue")
    if cat is None:
        return ""
    values = _rows(tables["indicator_values"])
    city = {(r["indicator_id"], r["year"]): r for r in values if r["district_code"] == "320500"}
    last = years[-1]
    spread: dict[str, list[float]] = {}
    for r in values:
        if r["year"] == last and r["district_code"] != "320500" and r["value"] is not None:
            spread.setdefault(r["indicator_id"], []).append(r["value"])
    status = {r["indicator_id"]: r["status"] for r in _rows(tables["target_progress"])
              if r["year"] == last and r["district_code"] == "320500"}
    out = ["<h2>Indicators by service area</h2>"]
    rows_by_area: dict[str, list] = {}
    for c in cat.to_dict("records"):
        rows_by_area.setdefault(c["area"], []).append(c)
    for area in [*areas, *(a for a in rows_by_area if a not in areas)]:
        out.append(f"<h3>{_e(AREA_NAMES.get(area, area))}</h3>")
        body = []
        for c in rows_by_area.get(area, []):
            i = c["indicator_id"]
            target = ("–" if c["target_rule"] is None or c["target_2025"] != c["target_2025"]
                      else f"{_e(c['target_rule'])} {_num(c['target_2025'])}")
            cells = []
            for y in years:
                r = city.get((i, y))
                cells.append(_num(r["value"]) if r and r["value"] is not None else
                             f"<span class='note' title='{_e(r['null_reason'] if r else '')}'>"
                             "–</span>")
            rng = spread.get(i)
            body.append([f"<b>{_e(i)}</b> {_e(c['name_zh'])}<br><span class='note'>"
                         f"{_e(c['name_en'])}{'' if c['in_index'] else ' (not in the index)'}"
                         "</span>", _e(c["unit"]), target, *cells,
                         f"{_num(min(rng))}–{_num(max(rng))}" if rng else "–",
                         _badge(status.get(i)) if i in status else "–"])
        out.append(_table(["Indicator", "Unit", "Target 2025", *map(str, years),
                           f"Districts {last}", f"City status {last}"], body))
    return "".join(out)


def render_index(manifest: dict, tables: dict[str, pa.Table], plan) -> str:
    idx = _rows(tables["equalisation_index"])
    years = sorted({r["year"] for r in idx})
    last = years[-1]
    names = {r["district_code"]: f'{r["name_zh"]} {r["name_en"]}' for r in idx}
    latest = [r for r in idx if r["year"] == last]
    city = next((r for r in latest if r["district_code"] == "320500"), None)
    districts = sorted([r for r in latest if r["district_code"] != "320500"],
                       key=lambda r: -(r["attainment_index"] or 0))
    parts = [f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
             f"<title>Junheng release {_e(manifest['release_id'])}</title>"
             f"<style>{CSS}</style></head><body>"]
    parts.append(
        f"<h1>苏州市基本公共服务均等化监测 · Equalisation monitor release</h1>"
        f"<p class='note'>Release <b>{_e(manifest['release_id'])}</b>, created "
        f"{_e(manifest['created_at'])} (UTC), methodology {_e(manifest['methodology_version'])}, "
        f"code {_e(manifest['code_version'])}. Years published: "
        f"{', '.join(map(str, manifest['published_years']))}.</p>"
        "<p>This release holds, for the 10 county-level units of Suzhou and the city as a "
        "whole, the plan's indicators, an attainment index (达标指数, 0–100, how far each "
        "district has reached the 2025 standard), how evenly the districts are served "
        "(equalisation measures), progress towards the 2025 targets, and how robust the "
        "district ranks are. Every table is a Parquet file listed at the end with its "
        "checksum; <code>data_dictionary.csv</code> describes every column.</p>")
    if manifest["withheld_years"]:
        items = "".join(f"<li><b>{w['year']}</b>: {_e('; '.join(w['reasons']))}</li>"
                        for w in manifest["withheld_years"])
        parts.append(f"<div class='warn'><b>Withheld years</b> (not published):<ul>{items}"
                     "</ul></div>")

    parts.append(f"<h2>Attainment index by district, {last}</h2>")
    parts.append(bar_chart([(names[r["district_code"]], r["attainment_index"])
                            for r in districts],
                           city["attainment_index"] if city else None,
                           title=f"attainment index {last}"))
    trend_rows = []
    for code in sorted({r["district_code"] for r in idx}, key=lambda c: (c == "320500", c)):
        by_year = {r["year"]: r for r in idx if r["district_code"] == code}
        trend_rows.append([_e(names[code])] + [
            _num(by_year.get(y, {}).get("attainment_index"), 1) +
            (f" <span class='note'>({by_year[y]['rank']})</span>"
             if y in by_year and by_year[y]["rank"] else "") for y in years])
    parts.append("<p class='note'>Index by year; rank among the 10 districts in brackets "
                 "(the city is not ranked).</p>")
    parts.append(_table(["District"] + [str(y) for y in years], trend_rows))
    if city and city.get("equality_adjusted_attainment") is not None:
        parts.append(f"<p>City attainment index {last}: <b>{_num(city['attainment_index'])}"
                     f"</b>; equality-adjusted (IHDI form, Π max(I, 1)<sup>p</sup>) "
                     f"<b>{_num(city['equality_adjusted_attainment'])}</b>, a loss of "
                     f"{_num(city.get('loss_pct'))} % to inequality between districts.</p>")
    if city and city.get("attainment_index") is None and city.get("null_reason"):
        parts.append(f"<p class='note'>City index {last}: {_e(city['null_reason'])}.</p>")

    area_rows = _rows(tables["area_scores"])
    present = {r["area"] for r in area_rows}
    areas = [a for a in AREA_NAMES if a in present] + sorted(present - set(AREA_NAMES))
    area_grid = {(r["district_code"], r["area"]): r for r in area_rows if r["year"] == last}
    parts.append(f"<h2>Area scores, {last}</h2>")
    parts.append("<p class='note'>Weighted mean score (0–100) of each service area's "
                 "indicators in the index; * provisional (an in-index indicator is missing: "
                 "see missing_indicators).</p>")
    parts.append(_table(["District", *(AREA_NAMES.get(a, a) for a in areas), "Index",
                         "Targets met"],
                        [[_e(names[r["district_code"]]),
                          *(_num((area_grid.get((r["district_code"], a)) or {}).get("score"), 1)
                            for a in areas),
                          _num(r["attainment_index"], 1) + ("*" if r.get("provisional") else ""),
                          f"{r['targets_met']}/{r['targets_total']}"]
                         for r in sorted(latest, key=lambda r: r["district_code"])]))
    parts.append(_indicator_sections(tables, plan, years, areas, names))

    meas = [r for r in _rows(tables["equalisation_measures"]) if r["subject_kind"] == "index"]
    parts.append("<h2>Equalisation trend (attainment index across the districts)</h2>")
    parts.append(line_chart({
        "Williamson": [(r["year"], r["williamson"]) for r in meas],
        "Gini": [(r["year"], r["gini"]) for r in meas],
    }, title="Williamson and Gini"))
    parts.append(line_chart({
        "Theil T": [(r["year"], r["theil_t"]) for r in meas],
        "between groups": [(r["year"], r["theil_t_between"]) for r in meas],
        "within groups": [(r["year"], r["theil_t_within"]) for r in meas],
    }, title="Theil T and its decomposition"))
    parts.append("<p class='note'>Lower is more equal. Theil T splits into the gap between "
                 "urban districts and county-level cities (between groups) and the gaps within "
                 "each group. Population-weighted across the ten districts.</p>")
    conv = [r for r in _rows(tables["convergence"])]
    parts.append(_table(["Subject", "σ slope (per year)", "β", "β s.e.", "n"],
                        [[_e(f"{r['subject_kind']}: {r['subject_id']}"),
                          _num(r["sigma_slope"], 5), _num(r["beta"], 4),
                          _num(r["beta_se"], 4), r["n"]] for r in conv]))

    prog = _rows(tables["target_progress"])
    parts.append(f"<h2>Progress towards the 2025 targets, {last}</h2>")
    city_prog = sorted([r for r in prog if r["year"] == last and r["district_code"] == "320500"],
                       key=lambda r: r["indicator_id"])
    parts.append(_table(["Indicator", "Type", "Base (computed)", "Table 1 baseline", "Value",
                         "Target", "Progress share", "Ratio", "Status"],
                        [[r["indicator_id"], _e(r["target_type"]),
                          f"{_num(r['baseline'])} ({r['base_year'] or '–'})",
                          _num(r["baseline_published"]), _num(r["value"]),
                          f"{_e(r['target_rule'])} {_num(r['target'])}",
                          _num(r["progress_share"]), _num(r["ratio"]), _badge(r["status"])]
                         for r in city_prog]))
    ids = sorted({r["indicator_id"] for r in prog})
    grid = {(r["district_code"], r["indicator_id"]): r["status"] for r in prog
            if r["year"] == last}
    parts.append("<p class='note'>Status of every district and indicator:</p>")
    parts.append(_table(["District"] + ids,
                        [[_e(names[c])] + [f'<span title="{_e(grid.get((c, i)))}" '
                                           f'style="color:{STATUS_COLOURS.get(grid.get((c, i)))}">'
                                           "■</span>" for i in ids]
                         for c in sorted(names)], cls="grid"))
    parts.append("<p class='note'>" + " ".join(_badge(s) for s in STATUS_COLOURS if s)
                 + "</p>")

    sens = [r for r in _rows(tables["rank_sensitivity"]) if r["year"] == last]
    parts.append(f"<h2>How robust are the ranks? ({last})</h2>")
    parts.append(rank_chart(sens, names))
    parts.append(f"<p class='note'>Red diamond: rank under the default choices; bar: 5th–95th "
                 f"percentile over {sens[0]['draws'] if sens else 0} draws varying "
                 "normalisation, aggregation and weights (±25%); dot: median.</p>")

    parts.append("<h2>Data quality per delivery</h2>")
    dq = _rows(tables["data_quality"])
    parts.append(_table(["Feed", "Year", "File", "Status", "Read", "Loaded", "Rejected",
                         "Expectations failed", "Dual enrolments"],
                        [[_e(r["feed"]), r["year"], _e(r["file_name"]), _e(r["status"]),
                          _num(r["rows_read"], 0), _num(r["rows_loaded"], 0),
                          _num(r["rows_rejected"], 0),
                          "–" if r["expectations_failed"] is None else
                          f"{r['expectations_failed']}/{r['expectations_run']}",
                          _num(r["dual_enrolments"], 0)] for r in dq]))

    parts.append("<h2>Files</h2>")
    parts.append(_table(["File", "Rows", "SHA-256"],
                        [[f"<a href='{_e(o['name'])}'>{_e(o['name'])}</a>", o["rows"],
                          f"<span class='mono'>{_e(o['sha256'])}</span>"]
                         for o in manifest["outputs"]]))
    parts.append("<p class='note'>Also: <a href='manifest.json'>manifest.json</a> (inputs with "
                 "their checksums, configuration). Read the Parquet files with pandas, "
                 "pyarrow, R arrow or DuckDB.</p></body></html>")
    return "".join(parts)
