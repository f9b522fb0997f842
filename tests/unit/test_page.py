"""The release page's pure helpers: round axis ticks, null reasons in Chinese."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from junheng.publish.html import REASONS_ZH, line_chart, nice_ticks, reason_zh


@pytest.mark.parametrize(("lo", "hi", "ticks", "decimals"), [
    (0, 3.9, [0, 1, 2, 3, 4], 0),
    (0, 121, [0, 25, 50, 75, 100, 125], 0),
    (0, 0.0042, [0, 0.001, 0.002, 0.003, 0.004, 0.005], 3),
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0], 1),
    (0, 0.9, [0, 0.2, 0.4, 0.6, 0.8, 1.0], 1),
])
def test_ticks_are_round_and_cover_the_values(lo, hi, ticks, decimals):
    got, d = nice_ticks(lo, hi)
    assert got == pytest.approx(ticks) and d == decimals


@given(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6))
def test_ticks_always_cover_the_range_with_one_round_step(lo, span):
    hi = lo + span * max(1.0, abs(lo))
    ticks, decimals = nice_ticks(lo, hi)
    assert ticks[0] <= lo + 1e-9 and ticks[-1] >= hi - 1e-9 * max(1, abs(hi))
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(ticks) >= 2 and len({round(s / min(steps), 6) for s in steps}) == 1
    step = min(steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)
    # the labels print each tick exactly: no two ticks share a label
    assert len({f"{t:.{decimals}f}" for t in ticks}) == len(ticks)


def test_the_chart_labels_its_axis_with_the_ticks():
    svg = line_chart({"city": [(2020, 2.1), (2025, 3.7)]}, title="t")
    assert ">4</text>" in svg and ">0</text>" in svg and "4.221" not in svg


def test_reasons_in_chinese_part_by_part_and_unknown_ones_as_written():
    assert reason_zh("not delivered") == REASONS_ZH["not delivered"]
    assert reason_zh("delivery rejected: sewage_2021.csv lacks 320585") == \
        "报送文件被拒收：sewage_2021.csv lacks 320585"
    assert reason_zh("submissions:health: not delivered; schools: delivery failed: bad") == \
        "submissions:health：未报送；schools：报送文件无法读取：bad"
    assert reason_zh("a reason nobody wrote down") == "a reason nobody wrote down"
