"""index.html of a release: what an evaluator opens first.

In Chinese, with an English switch that needs no script (two radio buttons and CSS: every
text is written in both languages, each in an element with its own `lang`, and the one not
chosen is hidden). Self-contained: inline CSS and SVG, no script, font or image from
anywhere else. Readable from a 390 px phone to a desktop: the charts scale with their
viewBox at width 100 %, wide tables scroll inside their own box, the page itself never
scrolls sideways. Times are shown in Beijing time (UTC+8)."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa

STATUS_COLOURS = {"achieved": "#1a7f37", "substantial_progress": "#4c9be8",
                  "moderate_progress": "#8fb8e8", "limited_progress": "#d9822b",
                  "deterioration": "#c62828", "not_met": "#7b1fa2",
                  "insufficient_data": "#9e9e9e", None: "#9e9e9e"}
AREAS = {"early_years": ("幼有所育", "Early years"), "education": ("学有所教", "Education"),
         "employment": ("劳有所得", "Employment"), "health": ("病有所医", "Health"),
         "elderly": ("老有所养", "Elderly"), "funeral": ("逝有所安", "Funeral services"),
         "housing": ("住有所居", "Housing"), "assistance": ("弱有所扶", "Assistance"),
         "transport": ("行有所畅", "Transport"), "environment": ("环境有改善", "Environment"),
         "veterans": ("优军服务保障", "Veterans"),
         "culture_sport": ("文体服务保障", "Culture and sport"),
         "safety": ("安全服务保障", "Safety")}
AREA_NAMES = {k: f"{zh} {en}" for k, (zh, en) in AREAS.items()}
CITY = "320500"
BEIJING = timezone(timedelta(hours=8))

# Every status, in one plain sentence in each language (methodology.md section 5).
STATUSES = {
    "achieved": ("已达标", "achieved",
                 "当年数值已达到2025年目标。",
                 "The value already meets the 2025 target."),
    "substantial_progress": ("进展显著", "substantial progress",
                             "尚未达标，但进度不慢于按时达标所需（进度比≥0.95）。",
                             "Not met yet, but moving at least as fast as needed to meet it "
                             "by 2025 (ratio ≥ 0.95)."),
    "moderate_progress": ("进展一般", "moderate progress",
                          "尚未达标，进度为按时达标所需的60%至95%。",
                          "Not met yet, moving at 60–95 % of the pace needed by 2025."),
    "limited_progress": ("进展有限", "limited progress",
                         "尚未达标，进度不足按时达标所需的60%。",
                         "Not met yet, moving at less than 60 % of the pace needed."),
    "deterioration": ("退步", "deterioration",
                      "数值比基期更远离目标（或曾达标后又未达标）。",
                      "The value moved away from the target since the base year (or fell "
                      "back below a target it had met)."),
    "not_met": ("未达标", "not met",
                "只判断是否达标的指标（如是否具备某项服务）当年未达标。",
                "A yes/no or level-only indicator that does not meet the target this year."),
    "insufficient_data": ("数据不足", "insufficient data",
                          "只有基期一年的数据，尚无法判断进度。",
                          "Only the base year is known: progress cannot be judged yet."),
}

# Every measure the page shows, in one plain sentence in each language.
MEASURES = {
    "attainment_index": ("达标指数", "Attainment index",
                         "各指标得分（0–100，100为达到2025年标准）按权重汇总，越高越好。",
                         "The indicators' scores (0–100, 100 = the 2025 standard reached), "
                         "weighted together: higher is better."),
    "area_score": ("领域得分", "Area score",
                   "一个服务领域内计入指数的指标得分的加权平均（0–100）。",
                   "The weighted mean score (0–100) of a service area's indicators in the "
                   "index."),
    "equality_adjusted": ("不均等调整后指数", "Equality-adjusted index",
                          "考虑区县间差距后的全市指数：差距越大，比平均值低得越多。",
                          "The city's index after a penalty for gaps between districts: the "
                          "wider the gaps, the further below the average."),
    "loss_pct": ("不均等损失", "Loss to inequality",
                 "调整后指数比区县人口加权平均低百分之几。",
                 "How many per cent the adjusted index lies below the districts' "
                 "population-weighted mean."),
    "williamson": ("威廉森系数", "Williamson coefficient",
                   "人口加权的区县差异相对于平均值的大小，0表示完全均等。",
                   "The population-weighted spread of the districts around the mean, "
                   "relative to it: 0 is perfectly even."),
    "gini": ("基尼系数", "Gini coefficient",
             "任意两区县差距的平均值相对于平均水平，0为完全均等，越大越不均等。",
             "The average gap between any two districts relative to the mean: 0 is "
             "perfectly even."),
    "theil_t": ("泰尔指数", "Theil T",
                "衡量总体不均等，可分解为城区与县级市两组之间和组内的差距。",
                "Overall inequality, which splits into the gap between the urban districts "
                "and the county-level cities and the gaps within each group."),
    "theil_t_between": ("组间差距", "Between groups",
                        "城区与县级市两组之间的差距在泰尔指数中的部分。",
                        "The part of Theil T due to the gap between urban districts and "
                        "county-level cities."),
    "theil_t_within": ("组内差距", "Within groups",
                       "各组内部区县之间差距在泰尔指数中的部分。",
                       "The part of Theil T due to gaps among districts of the same group."),
    "sigma_slope": ("σ收敛", "σ slope",
                    "威廉森系数每年的变化趋势，负值表示差距在缩小。",
                    "The yearly trend of the Williamson coefficient: negative means the gaps "
                    "are closing."),
    "beta": ("β收敛", "β",
             "起点低的区县是否增长更快，负值表示落后区县在追赶。",
             "Whether districts that started lower grow faster: negative means those "
             "behind are catching up."),
    "progress_share": ("完成进度", "Progress share",
                       "从基期到目标已走完的比例（1为已到达目标）。",
                       "The share of the way from the base year to the target already "
                       "covered (1 = target reached)."),
    "ratio": ("进度比", "Ratio",
              "完成进度除以已过去的时间比例，≥0.95表示按时达标在望。",
              "Progress share divided by the share of the plan's time elapsed: ≥ 0.95 "
              "means on course for 2025."),
    "rank_interval": ("排名区间", "Rank interval",
                      "改变标准化、汇总方式和权重后区县排名的5%–95%范围，越窄越稳健。",
                      "The 5th–95th percentile of a district's rank when normalisation, "
                      "aggregation and weights are varied: narrower is more robust."),
}
# The catalogue's units (warehouse/seeds/indicators.csv) in Chinese; a unit not listed shows
# as written in both languages.
UNITS_ZH = {"%": "%", "10000 person-times": "万人次", "m2 per resident": "平方米/人",
            "per 1000 aged 60+": "每千名60岁及以上老年人", "per 1000 residents": "每千常住人口",
            "per 10000 residents": "每万常住人口", "students per teacher": "学生数/专任教师数",
            "ug/m3": "微克/立方米", "visits per resident": "次/人", "years": "年"}
# The reasons of marts.indicator_values.null_reason (junheng/methodology/values.py,
# formulas.py), in Chinese: each "; "-separated part's head (before ": ") is translated, the
# detail (a department, a delivery's message, a list of districts) is kept as written.
REASONS_ZH = {"not delivered": "未报送", "delivery rejected": "报送文件被拒收",
              "delivery failed": "报送文件无法读取", "not submitted": "未填报",
              "submitted row rejected": "填报行被拒收", "incomplete series": "序列不完整",
              "cumulative from 2021": "自2021年起累计（2020年无值）",
              "no 2020 count": "缺2020年基数", "no district rows": "没有区县数据",
              "no district with both counts": "没有同时具备两年数据的区县",
              "no source rows": "没有源数据行", "denominator is zero": "分母为零",
              "no value": "无数值", "no row": "无记录"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def reason_zh(reason: str) -> str:
    """A null reason in Chinese, part by part; a part whose head is not known stays as is."""
    parts = []
    for part in reason.split("; "):
        head, sep, detail = part.partition(": ")
        if head in REASONS_ZH:
            parts.append(REASONS_ZH[head] + ("：" + detail if sep else ""))
        elif sep and detail.partition(": ")[0] in REASONS_ZH:   # "<unit>: <reason>"
            parts.append(f"{head}：{reason_zh(detail)}")
        else:
            parts.append(part)
    return "；".join(parts)


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _num(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{digits}f}"


def _rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def _svg_open(title: str, width: int, height: int) -> str:
    """An SVG that scales to its container (width 100 %, at most its drawn width)."""
    return (f'<svg role="img" aria-label="{_e(title)}" class="chart" width="100%" '
            f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
            f'style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">')


def _label(label) -> str:
    """SVG text of a label: a (Chinese, English) pair becomes two tspans with their lang."""
    if isinstance(label, tuple):
        return (f'<tspan lang="zh-CN">{_e(label[0])}</tspan>'
                f'<tspan lang="en">{_e(label[1])}</tspan>')
    return _e(label)


def bar_chart(items: list[tuple], ref: float | None, width=640, title="") -> str:
    """Horizontal bars (label, value 0-100) with an optional reference line (the city).

    The axis starts at the tens below the lowest value, so that close scores stay apart;
    the axis labels say where it starts."""
    h = 24 * len(items) + 40
    left, right = 150, width - 50
    values = [v for _, v in items if v is not None] + ([ref] if ref is not None else [])
    lo = max(0.0, math.floor((min(values, default=0) - 2) / 10) * 10)

    def scale(v: float) -> float:
        return left + (right - left) * (max(lo, min(v, 100.0)) - lo) / (100 - lo)

    out = [_svg_open(title, width, h)]
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
                   f'{_label(label)}</text><rect x="{left}" y="{y}" width="{scale(v) - left:.1f}" '
                   f'height="17" fill="#4c78a8"/><text x="{scale(v) + 4:.1f}" y="{y + 13}" '
                   f'font-size="11">{v:.1f}</text>')
    if ref is not None:
        x = scale(ref)
        out.append(f'<line x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{h - 25}" stroke="#c62828" '
                   f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="10" font-size="11" '
                   f'fill="#c62828">{_label(("全市 ", "city "))}{ref:.1f}</text>')
    out.append("</svg>")
    return "".join(out)


def nice_ticks(lo: float, hi: float, most: int = 5) -> tuple[list[float], int]:
    """Axis ticks from at or below `lo` to at or above `hi`, a round step apart (1, 2, 2.5
    or 5 times a power of ten), about `most` + 1 of them; and the decimals that print every
    tick exactly. A range narrower than a millionth of its values' size is widened."""
    if not hi - lo > 1e-6 * max(abs(lo), abs(hi), 1e-300):
        lo, hi = lo, lo + (abs(lo) or 1.0)
    exp = math.floor(math.log10((hi - lo) / most))
    mult = next(m for m in (1, 2, 2.5, 5, 10) if m * 10.0**exp >= (hi - lo) / most * (1 - 1e-9))
    if mult == 10:
        mult, exp = 1, exp + 1
    step = mult * 10.0**exp
    decimals = max(0, -exp + (1 if mult == 2.5 else 0))
    first = math.floor(lo / step)           # a float just below a tick adds one below: harmless
    count = math.ceil(hi / step - first - 1e-9)
    return [round((first + k) * step, decimals) for k in range(count + 1)], decimals


def line_chart(series: dict[str, list[tuple[int, float]]], width=640, height=240,
               title="") -> str:
    points = [(x, y) for s in series.values() for x, y in s if y is not None]
    if not points:
        return "<p>No data.</p>"
    xs = sorted({x for x, _ in points})
    ys = [y for _, y in points]
    ticks, decimals = nice_ticks(min(0.0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 0.0)
    ylo, yhi = ticks[0], ticks[-1]
    left, right, top, bottom = 60, width - 140, 15, height - 30
    sx = lambda x: left + (right - left) * (xs.index(x) / max(1, len(xs) - 1))  # noqa: E731
    sy = lambda y: bottom - (bottom - top) * (y - ylo) / (yhi - ylo)  # noqa: E731
    out = [_svg_open(title, width, height),
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>']
    for x in xs:
        out.append(f'<text x="{sx(x):.1f}" y="{height - 10}" font-size="11" '
                   f'text-anchor="middle">{x}</text>')
    for y in ticks:
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="10" text-anchor="end">'
                   f'{y:,.{decimals}f}</text><line x1="{left}" '
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
                   f'font-size="12">{_label(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def rank_chart(rows: list[dict], names: dict, width=640) -> str:
    rows = sorted(rows, key=lambda r: (r["rank_default"] or 99))
    h = 24 * len(rows) + 40
    left, right = 150, width - 30
    sx = lambda r: left + (right - left) * (r - 1) / 9  # noqa: E731
    out = [_svg_open("rank intervals", width, h)]
    for r in range(1, 11):
        out.append(f'<line x1="{sx(r):.1f}" y1="10" x2="{sx(r):.1f}" y2="{h - 25}" '
                   f'stroke="#eee"/><text x="{sx(r):.1f}" y="{h - 8}" font-size="11" '
                   f'text-anchor="middle">{r}</text>')
    for i, row in enumerate(rows):
        y = 22 + 24 * i
        out.append(f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">'
                   f'{_label(names.get(row["district_code"], row["district_code"]))}</text>')
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


def _t(zh: str, en: str, tag: str = "span", cls: str = "") -> str:
    """The same text in both languages, each in an element with its lang (the switch shows
    one). Both arguments are HTML already (escape with _e first where needed)."""
    c = f' class="{cls}"' if cls else ""
    return f'<{tag} lang="zh-CN"{c}>{zh}</{tag}><{tag} lang="en"{c}>{en}</{tag}>'


def _h(level: int, zh: str, en: str, anchor: str = "") -> str:
    a = f' id="{_e(anchor)}"' if anchor else ""
    return f"<h{level}{a}>{_t(_e(zh), _e(en))}</h{level}>"


def _p(zh: str, en: str, cls: str = "") -> str:
    return _t(zh, en, "p", cls)


def _table(header: list, rows: list[list], cls: str = "") -> str:
    """A table in its own scrolling box (a wide table never widens the page). A header
    cell is text or a (Chinese, English) pair."""
    head = "".join(f"<th>{_t(_e(h[0]), _e(h[1])) if isinstance(h, tuple) else _e(h)}</th>"
                   for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _status_name(status) -> tuple[str, str]:
    if status in STATUSES:
        return STATUSES[status][0], STATUSES[status][1]
    return "无", "n/a"


def _badge(status) -> str:
    zh, en = _status_name(status)
    return (f'<span class="badge" title="{_e(status or "")}" '
            f'style="background:{STATUS_COLOURS.get(status, "#9e9e9e")}">'
            f"{_t(_e(zh), _e(en))}</span>")


def _explain(key: str) -> str:
    """'Name: one plain sentence.' in both languages."""
    zh, en, szh, sen = MEASURES[key]
    return _p(f"<b>{_e(zh)}</b>：{_e(szh)}", f"<b>{_e(en)}</b>: {_e(sen)}", "note")


def beijing(ts: str | None) -> str:
    """An ISO time (UTC when it has no offset) as Beijing time, 'YYYY-MM-DD HH:MM:SS'."""
    if not ts:
        return "–"
    t = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:0;color:#222;line-height:1.5;overflow-wrap:break-word}
.page{max-width:1100px;margin:0 auto;padding:.5rem 1rem 3rem}
h1{font-size:1.5rem;margin:.6rem 0 .2rem}h2{font-size:1.25rem;margin-top:2.2rem;
border-bottom:2px solid #eee;padding-bottom:.2rem}h3{font-size:1.1rem;margin-top:1.6rem}
h4{margin:1.2rem 0 .3rem;font-size:1rem}
.scroll{max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.6rem 0}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left;white-space:nowrap}
.chart{display:block;height:auto;margin:.4rem 0}
.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px;white-space:nowrap}
.note{color:#555;font-size:13px}
.warn{background:#fff4e5;border-left:4px solid #d9822b;padding:.5rem 1rem;margin:1rem 0}
.demo{background:#fdecea;border-left:4px solid #c62828;padding:.5rem 1rem;margin:1rem 0}
code{font-size:12px}.mono{font-family:monospace;font-size:11px;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));
gap:.8rem;margin:.8rem 0}
.ind{border:1px solid #e4e4e4;border-radius:6px;padding:.4rem .8rem;min-width:0}
.ind h4{margin-top:.3rem}.facts{display:flex;flex-wrap:wrap;gap:.2rem 1.4rem;font-size:14px}
nav.lang{position:sticky;top:0;background:#fff;padding:.4rem 0;border-bottom:1px solid #eee;
z-index:1;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
nav.lang label{border:1px solid #4c78a8;border-radius:4px;padding:2px 10px;cursor:pointer;
color:#4c78a8}
.toc{font-size:14px}.toc a{margin-right:.8rem;white-space:nowrap}
input.sw{position:absolute;opacity:0;width:1px;height:1px}
#lang-zh:checked~.page label[for=lang-zh],#lang-en:checked~.page label[for=lang-en]{
background:#4c78a8;color:#fff}
#lang-zh:focus-visible~.page label[for=lang-zh],#lang-en:focus-visible~.page label[for=lang-en]{
outline:2px solid #222}
#lang-zh:checked~.page [lang=en]:not(.keep){display:none}
#lang-en:checked~.page [lang=zh-CN]:not(.keep){display:none}
@media (max-width:600px){body{font-size:15px}h1{font-size:1.25rem}.page{padding:.3rem .6rem 2rem}
table{font-size:12px}th,td{padding:2px 5px}}
"""


def _demo_notice(manifest: dict, plan) -> str:
    demo = manifest.get("demo_feeds") or (getattr(plan, "extras", None) or {}).get("demo_feeds")
    if not demo:
        return ""
    opts = demo.get("options", {}) if isinstance(demo, dict) else {}
    detail = ", ".join(f"{k} {opts[k]}" for k in ("seed", "scale", "defect_rate")
                       if k in opts)
    detail = f" ({_e(detail)})" if detail else ""
    return ("<div class='demo' role='alert'>" + _p(
        f"<b>演示数据</b>：本发布的输入是 <code>junheng demo-feeds</code> 生成的模拟数据{detail}，"
        "不是各部门报送的真实数据，数值不能用于评估。",
        f"<b>Demo feeds</b>: the inputs of this release were generated by "
        f"<code>junheng demo-feeds</code>{detail}, not delivered by the departments: the "
        "figures are not real and must not be used in an evaluation.") + "</div>")


def _indicator_sections(tables: dict[str, pa.Table], plan, years: list[int],
                        areas: list[str], names: dict) -> str:
    """A section per service area, and in it a card per indicator: name, unit, target, the
    city's trend (chart and values), every district's values, the status."""
    cat = (getattr(plan, "extras", None) or {}).get("catalogue")
    if cat is None:
        return ""
    values = _rows(tables["indicator_values"])
    by_key = {(r["indicator_id"], r["district_code"], r["year"]): r for r in values}
    last = years[-1]
    progress = {(r["indicator_id"], r["district_code"]): r
                for r in _rows(tables["target_progress"]) if r["year"] == last}
    rows_by_area: dict[str, list] = {}
    for c in cat.to_dict("records"):
        rows_by_area.setdefault(c["area"], []).append(c)
    districts = sorted(c for c in names if c != CITY)
    out = [_h(2, "各服务领域的指标", "Indicators by service area", "indicators"),
           _p("每个指标：名称、单位、2025年目标、全市历年数值、各区县数值和达标状态。"
              "“–”表示没有数值，其原因列在区县数值表下方。",
              "For every indicator: name, unit, 2025 target, the city's trend, every "
              "district's values and the status. “–” marks a missing value; the reasons are "
              "listed under the district table.", "note")]
    for area in [*areas, *(a for a in rows_by_area if a not in areas)]:
        zh, en = AREAS.get(area, (area, area))
        out.append(f'<section class="area" id="area-{_e(area)}">{_h(3, zh, en)}'
                   '<div class="cards">')
        for c in rows_by_area.get(area, []):
            i = c["indicator_id"]
            unit = _t(_e(UNITS_ZH.get(c["unit"], c["unit"])), _e(c["unit"])) if c["unit"] \
                else "–"
            if c["target_rule"] is None or c["target_2025"] != c["target_2025"]:
                target = _t("无", "none")
            else:
                target = f"{_e(c['target_rule'])} {_num(c['target_2025'])}"
            city = progress.get((i, CITY))
            status = city["status"] if city else None
            szh, sen = ((STATUSES[status][2], STATUSES[status][3]) if status in STATUSES
                        else ("没有该年的达标判断（无目标或无数值）。",
                              "No status this year (no target, or no value)."))
            in_index = "" if c["in_index"] else _t("（不计入指数）", " (not in the index)")
            trend = [(y, (by_key.get((i, CITY, y)) or {}).get("value")) for y in years]
            chart = (line_chart({("全市", "City"): trend}, width=420, height=150,
                                title=f"{i} city trend")
                     if any(v is not None for _, v in trend) else
                     _p("全市无数值。", "No city value.", "note"))

            missing: dict[str, list[tuple]] = {}   # reason -> (zh, en) places, table order

            def cell(code, y, i=i, missing=missing):
                r = by_key.get((i, code, y))
                if r and r["value"] is not None:
                    return _num(r["value"])
                reason = r["null_reason"] if r else "no row"
                n = names[code] if isinstance(names[code], tuple) else (names[code],) * 2
                missing.setdefault(reason, []).append((f"{n[0]} {y}", f"{n[1]} {y}"))
                return f"<span class='note' title='{_e(reason)}'>–</span>"

            grid = [[_label_html(names[code])] + [cell(code, y) for y in years]
                    + [_badge((progress.get((i, code)) or {}).get("status"))]
                    for code in [CITY, *districts] if code in names]
            reasons = "".join(
                "<li>" + _t(_e(f"{reason_zh(why)}：" + "、".join(z for z, _ in at)),
                            _e(f"{why}: " + ", ".join(e for _, e in at))) + "</li>"
                for why, at in missing.items())
            reasons = (_p("无数值的原因：", "Why a value is missing:", "note")
                       + f"<ul class='note'>{reasons}</ul>") if reasons else ""
            out.append(
                f'<div class="ind" id="ind-{_e(i)}"><h4>{_e(i)} '
                f'{_t(_e(c["name_zh"]), _e(c["name_en"]))}{in_index}</h4>'
                '<div class="facts">'
                f'<span>{_t("单位", "Unit")}: {unit}</span>'
                f'<span>{_t("2025年目标", "Target 2025")}: {target}</span>'
                f'<span>{_t(f"{last}年全市状态", f"City status {last}")}: {_badge(status)}</span>'
                "</div>" + _p(_e(szh), _e(sen), "note") + chart
                + "<details><summary>" + _t("各区县数值", "District values") + "</summary>"
                + _table([("区县", "District"), *map(str, years),
                          (f"{last}年状态", f"Status {last}")], grid) + reasons
                + "</details></div>")
        out.append("</div></section>")
    return "".join(out)


def _label_html(label) -> str:
    if isinstance(label, tuple):
        return _t(_e(label[0]), _e(label[1]))
    return _e(label)


def _withheld_and_revised(manifest: dict, tables: dict[str, pa.Table], last: int) -> str:
    out = [_h(2, "扣留与修订", "What was withheld or revised", "withheld")]
    items = []
    for w in manifest.get("withheld_years", []):
        reasons = _e("; ".join(w["reasons"]))
        items.append("<li>" + _t(f"{w['year']}年整年未发布：{reasons}",
                                 f"{w['year']}: the whole year is withheld: {reasons}") + "</li>")
    dq = _rows(tables["data_quality"])
    for r in dq:
        if r["status"] in ("rejected", "failed"):
            why = _e(r.get("reason") or "")
            kept = ("，沿用上一次合格数据" if r.get("status") == "rejected" else "")
            items.append("<li>" + _t(
                f"{_e(r['feed'])} {r['year']} <code>{_e(r['file_name'])}</code> 未采用"
                f"（{'被拒收' if r['status'] == 'rejected' else '无法读取'}{kept}）{why}",
                f"{_e(r['feed'])} {r['year']} <code>{_e(r['file_name'])}</code> not used "
                f"({r['status']}{'; the last good delivery stays' if kept else ''}) {why}")
                + "</li>")
    nulls: dict[str, int] = {}
    for r in _rows(tables["indicator_values"]):
        if r["year"] == last and r["value"] is None and r.get("null_reason"):
            nulls[r["null_reason"]] = nulls.get(r["null_reason"], 0) + 1
    for reason, n in sorted(nulls.items(), key=lambda kv: -kv[1]):
        items.append("<li>" + _t(f"{last}年有 {n} 个指标值为空：{_e(reason)}",
                                 f"{last}: {n} indicator values are null: {_e(reason)}")
                     + "</li>")
    if items:
        out.append(f"<ul>{''.join(items)}</ul>")
    else:
        out.append(_p("本发布没有扣留任何年份、报送文件或指标值。",
                      "Nothing was withheld from this release: no year, delivery or value."))
    superseded = [r for r in dq if r["status"] == "superseded"]
    revisions = tables.get("revisions")
    if revisions is not None and revisions.num_rows:
        causes: dict[str, int] = {}
        for r in _rows(revisions):
            causes[r["cause"]] = causes.get(r["cause"], 0) + 1
        lines = "".join(f"<li>{_e(c)}: {n}</li>" for c, n in sorted(causes.items()))
        out.append(_p(f"与上一次发布相比有 {revisions.num_rows} 个数值被修订（按原因）：",
                      f"{revisions.num_rows} published values differ from the previous "
                      "release, by cause:") + f"<ul>{lines}</ul>")
    elif revisions is not None:
        out.append(_p("与上一次发布相比没有数值被修订。",
                      "No published value differs from the previous release."))
    else:
        out.append(_p("本发布尚不含修订表（revisions.parquet）：与上一次发布的差异请比较两次发布的"
                      "文件。",
                      "This release does not carry a revisions table (revisions.parquet) yet: "
                      "compare the files with the previous release's.", "note"))
    if superseded:
        files = ", ".join(f"{_e(r['feed'])} {r['year']} <code>{_e(r['file_name'])}</code>"
                          for r in superseded)
        out.append(_p(f"已被新交付替代的文件：{files}。",
                      f"Deliveries replaced by a newer one: {files}.", "note"))
    return "".join(out)


def render_index(manifest: dict, tables: dict[str, pa.Table], plan) -> str:
    idx = _rows(tables["equalisation_index"])
    years = sorted({r["year"] for r in idx})
    last = years[-1]
    names = {r["district_code"]: (r["name_zh"], r["name_en"]) for r in idx}
    latest = [r for r in idx if r["year"] == last]
    city = next((r for r in latest if r["district_code"] == CITY), None)
    districts = sorted([r for r in latest if r["district_code"] != CITY],
                       key=lambda r: -(r["attainment_index"] or 0))
    rid = _e(manifest["release_id"])
    created = beijing(manifest.get("created_at"))
    published = ", ".join(map(str, manifest["published_years"]))
    parts = ["<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>苏州市基本公共服务均等化监测 {rid}</title>"
             f"<style>{CSS}</style></head><body>"
             "<input type='radio' name='lang' id='lang-zh' class='sw' checked "
             "aria-label='中文'>"
             "<input type='radio' name='lang' id='lang-en' class='sw' aria-label='English'>"
             "<div class='page'>"
             "<nav class='lang'><label for='lang-zh' lang='zh-CN' class='keep'>中文</label>"
             "<label for='lang-en' lang='en' class='keep'>English</label></nav>"]
    parts.append(
        "<h1>" + _t("苏州市基本公共服务均等化监测", "Suzhou public-service equalisation monitor")
        + "</h1>"
        + _p(f"发布 <b>{rid}</b>，生成于 {created}（北京时间，UTC+8），方法版本 "
             f"{_e(manifest['methodology_version'])}，代码 {_e(manifest['code_version'])}。"
             f"发布年份：{published}。",
             f"Release <b>{rid}</b>, created {created} (Beijing time, UTC+8), methodology "
             f"{_e(manifest['methodology_version'])}, code {_e(manifest['code_version'])}. "
             f"Years published: {published}.", "note"))
    parts.append(_demo_notice(manifest, plan))
    parts.append(_p(
        "本发布包含苏州市10个县级单位及全市的规划指标、达标指数（0–100，衡量各区县达到2025年标准的程度）、"
        "各区县之间服务均等程度（均等化测度）、2025年目标的完成进度，以及区县排名的稳健性。"
        "每个表都是一个 Parquet 文件，列在页末并附校验值；<code>data_dictionary.csv</code> "
        "说明每一列。",
        "This release holds, for the 10 county-level units of Suzhou and the city as a whole, "
        "the plan's indicators, an attainment index (达标指数, 0–100, how far each district "
        "has reached the 2025 standard), how evenly the districts are served (equalisation "
        "measures), progress towards the 2025 targets, and how robust the district ranks "
        "are. Every table is a Parquet file listed at the end with its checksum; "
        "<code>data_dictionary.csv</code> describes every column."))
    if manifest["withheld_years"]:
        items = "".join("<li>" + _t(f"<b>{w['year']}</b>：{_e('; '.join(w['reasons']))}",
                                    f"<b>{w['year']}</b>: {_e('; '.join(w['reasons']))}")
                        + "</li>" for w in manifest["withheld_years"])
        parts.append("<div class='warn'>" + _t("<b>未发布的年份</b>", "<b>Withheld years</b> "
                                               "(not published)") + f"<ul>{items}</ul></div>")

    area_rows = _rows(tables["area_scores"])
    present = {r["area"] for r in area_rows}
    areas = [a for a in AREAS if a in present] + sorted(present - set(AREAS))
    toc = [("index", "达标指数", "Attainment index"), ("areas", "领域得分", "Area scores"),
           ("indicators", "各领域指标", "Indicators"), ("equality", "均等化", "Equalisation"),
           ("progress", "目标进度", "Target progress"), ("ranks", "排名稳健性", "Rank robustness"),
           ("withheld", "扣留与修订", "Withheld and revised"),
           ("quality", "数据质量", "Data quality"), ("files", "文件", "Files")]
    parts.append("<p class='toc'>" + " ".join(
        f"<a href='#{a}'>{_t(zh, en)}</a>" for a, zh, en in toc) + "<br>" + " ".join(
        f"<a href='#area-{_e(a)}'>{_t(_e(AREAS.get(a, (a, a))[0]), _e(AREAS.get(a, (a, a))[1]))}"
        "</a>" for a in areas) + "</p>")

    parts.append(_h(2, f"{last}年各区县达标指数", f"Attainment index by district, {last}",
                    "index"))
    parts.append(_explain("attainment_index"))
    parts.append(bar_chart([(names[r["district_code"]], r["attainment_index"])
                            for r in districts],
                           city["attainment_index"] if city else None,
                           title=f"attainment index {last}"))
    trend_rows = []
    for code in sorted({r["district_code"] for r in idx}, key=lambda c: (c == CITY, c)):
        by_year = {r["year"]: r for r in idx if r["district_code"] == code}
        trend_rows.append([_label_html(names[code])] + [
            _num(by_year.get(y, {}).get("attainment_index"), 1) +
            (f" <span class='note'>({by_year[y]['rank']})</span>"
             if y in by_year and by_year[y]["rank"] else "") for y in years])
    parts.append(_p("历年指数；括号内为在10个区县中的排名（全市不参与排名）。",
                    "Index by year; rank among the 10 districts in brackets (the city is not "
                    "ranked).", "note"))
    parts.append(_table([("区县", "District")] + [str(y) for y in years], trend_rows))
    if city and city.get("equality_adjusted_attainment") is not None:
        a, ea, loss = (_num(city["attainment_index"]), _num(city["equality_adjusted_attainment"]),
                       _num(city.get("loss_pct")))
        parts.append(_p(f"{last}年全市达标指数 <b>{a}</b>；不均等调整后 <b>{ea}</b>，"
                        f"因区县间不均等损失 {loss}%。",
                        f"City attainment index {last}: <b>{a}</b>; equality-adjusted "
                        f"(IHDI form, Π max(I, 1)<sup>p</sup>) <b>{ea}</b>, a loss of {loss} % "
                        "to inequality between districts."))
        parts.append(_explain("equality_adjusted") + _explain("loss_pct"))
    if city and city.get("attainment_index") is None and city.get("null_reason"):
        parts.append(_p(f"{last}年全市指数：{_e(city['null_reason'])}。",
                        f"City index {last}: {_e(city['null_reason'])}.", "note"))

    area_grid = {(r["district_code"], r["area"]): r for r in area_rows if r["year"] == last}
    parts.append(_h(2, f"{last}年各领域得分", f"Area scores, {last}", "areas"))
    parts.append(_explain("area_score"))
    parts.append(_p("* 为暂定值（有计入指数的指标缺失，见 missing_indicators）。",
                    "* provisional (an in-index indicator is missing: see "
                    "missing_indicators).", "note"))
    parts.append(_table([("区县", "District"), *(AREAS.get(a, (a, a)) for a in areas),
                         ("指数", "Index"), ("达标目标数", "Targets met")],
                        [[_label_html(names[r["district_code"]]),
                          *(_num((area_grid.get((r["district_code"], a)) or {}).get("score"), 1)
                            for a in areas),
                          _num(r["attainment_index"], 1) + ("*" if r.get("provisional") else ""),
                          f"{r['targets_met']}/{r['targets_total']}"]
                         for r in sorted(latest, key=lambda r: r["district_code"])]))
    parts.append(_indicator_sections(tables, plan, years, areas, names))

    meas = [r for r in _rows(tables["equalisation_measures"]) if r["subject_kind"] == "index"]
    parts.append(_h(2, "均等化趋势（各区县达标指数之间）",
                    "Equalisation trend (attainment index across the districts)", "equality"))
    parts.append(line_chart({
        ("威廉森系数", "Williamson"): [(r["year"], r["williamson"]) for r in meas],
        ("基尼系数", "Gini"): [(r["year"], r["gini"]) for r in meas],
    }, title="Williamson and Gini"))
    parts.append(line_chart({
        ("泰尔指数", "Theil T"): [(r["year"], r["theil_t"]) for r in meas],
        ("组间", "between groups"): [(r["year"], r["theil_t_between"]) for r in meas],
        ("组内", "within groups"): [(r["year"], r["theil_t_within"]) for r in meas],
    }, title="Theil T and its decomposition"))
    parts.append(_p("数值越低越均等；按常住人口加权，覆盖10个区县。",
                    "Lower is more equal. Population-weighted across the ten districts.", "note"))
    for k in ("williamson", "gini", "theil_t", "theil_t_between", "theil_t_within",
              "sigma_slope", "beta"):
        parts.append(_explain(k))
    conv = _rows(tables["convergence"])
    parts.append(_table([("对象", "Subject"), ("σ斜率（每年）", "σ slope (per year)"), "β",
                         ("β标准误", "β s.e."), "n"],
                        [[_e(f"{r['subject_kind']}: {r['subject_id']}"),
                          _num(r["sigma_slope"], 5), _num(r["beta"], 4),
                          _num(r["beta_se"], 4), r["n"]] for r in conv]))

    prog = _rows(tables["target_progress"])
    parts.append(_h(2, f"2025年目标完成进度（{last}年）",
                    f"Progress towards the 2025 targets, {last}",
                    "progress"))
    parts.append(_explain("progress_share") + _explain("ratio"))
    parts.append("<ul class='note'>" + "".join(
        f"<li>{_badge(k)} {_t(_e(v[2]), _e(v[3]))}</li>" for k, v in STATUSES.items())
        + "</ul>")
    city_prog = sorted([r for r in prog if r["year"] == last and r["district_code"] == CITY],
                       key=lambda r: r["indicator_id"])
    parts.append(_table([("指标", "Indicator"), ("类型", "Type"),
                         ("基期（计算）", "Base (computed)"),
                         ("规划表1基期值", "Table 1 baseline"), ("数值", "Value"),
                         ("目标", "Target"), ("完成进度", "Progress share"), ("进度比", "Ratio"),
                         ("状态", "Status")],
                        [[f"<a href='#ind-{_e(r['indicator_id'])}'>{_e(r['indicator_id'])}</a>",
                          _e(r["target_type"]),
                          f"{_num(r['baseline'])} ({r['base_year'] or '–'})",
                          _num(r["baseline_published"]), _num(r["value"]),
                          f"{_e(r['target_rule'])} {_num(r['target'])}",
                          _num(r["progress_share"]), _num(r["ratio"]), _badge(r["status"])]
                         for r in city_prog]))
    ids = sorted({r["indicator_id"] for r in prog})
    grid = {(r["district_code"], r["indicator_id"]): r["status"] for r in prog
            if r["year"] == last}
    parts.append(_p("每个区县、每个指标的状态（颜色见上方图例）：",
                    "Status of every district and indicator (colours as in the key above):",
                    "note"))
    parts.append(_table([("区县", "District")] + ids,
                        [[_label_html(names[c])] + [
                            f'<span title="{_e(grid.get((c, i)))}" '
                            f'style="color:{STATUS_COLOURS.get(grid.get((c, i)))}">■</span>'
                            for i in ids] for c in sorted(names)], cls="grid"))

    sens = [r for r in _rows(tables["rank_sensitivity"]) if r["year"] == last]
    draws = sens[0]["draws"] if sens else 0
    parts.append(_h(2, f"排名有多稳健？（{last}年）", f"How robust are the ranks? ({last})",
                    "ranks"))
    parts.append(_explain("rank_interval"))
    parts.append(rank_chart(sens, names))
    parts.append(_p(f"红色菱形：默认方法下的排名；横条：{draws} 次抽样"
                    "（改变标准化、汇总方式和权重±25%）的5%–95%区间；圆点：中位数。",
                    f"Red diamond: rank under the default choices; bar: 5th–95th percentile "
                    f"over {draws} draws varying normalisation, aggregation and weights "
                    "(±25%); dot: median.", "note"))

    parts.append(_withheld_and_revised(manifest, tables, last))

    parts.append(_h(2, "各次交付的数据质量", "Data quality per delivery", "quality"))
    dq = _rows(tables["data_quality"])
    parts.append(_table([("数据源", "Feed"), ("年度", "Year"), ("文件", "File"),
                         ("状态", "Status"), ("读取行", "Read"), ("载入行", "Loaded"),
                         ("拒收行", "Rejected"), ("未通过的检查", "Expectations failed"),
                         ("重复参保", "Dual enrolments")],
                        [[_e(r["feed"]), r["year"], _e(r["file_name"]), _e(r["status"]),
                          _num(r["rows_read"], 0), _num(r["rows_loaded"], 0),
                          _num(r["rows_rejected"], 0),
                          "–" if r["expectations_failed"] is None else
                          f"{r['expectations_failed']}/{r['expectations_run']}",
                          _num(r["dual_enrolments"], 0)] for r in dq]))

    parts.append(_h(2, "文件", "Files", "files"))
    parts.append(_table([("文件", "File"), ("行数", "Rows"), "SHA-256"],
                        [[f"<a href='{_e(o['name'])}'>{_e(o['name'])}</a>", o["rows"],
                          f"<span class='mono'>{_e(o['sha256'])}</span>"]
                         for o in manifest["outputs"]]))
    parts.append(_p("另有 <a href='manifest.json'>manifest.json</a>（输入文件及其校验值、配置）。"
                    "可用 pandas、pyarrow、R arrow 或 DuckDB 读取 Parquet 文件。",
                    "Also: <a href='manifest.json'>manifest.json</a> (inputs with their "
                    "checksums, configuration). Read the Parquet files with pandas, pyarrow, "
                    "R arrow or DuckDB.", "note"))
    parts.append("</div></body></html>")
    return "".join(parts)
