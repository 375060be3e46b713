"""The overview's confusion section driven by AppTest (issue 16): most-confused pairs, the
"(other)" bucket, the class search, the selected-cell outline and the confusion order."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import conftest
from conftest import ROOT, unmarked
from segviz import evaluate, open_dataset
from segviz.figures import OTHER_INDEX


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_app(monkeypatch, **kwargs) -> AppTest:
    return conftest.run_app(monkeypatch, timeout=90, **kwargs)


def matrix(at: AppTest) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if any(t.get("name") == "cells" for t in spec["data"]):
            return spec
    raise AssertionError("no confusion matrix")


def brute_force_pairs(cm: np.ndarray, limit: int) -> list[tuple[int, int, int]]:
    """Every off-diagonal cell with pixels, most pixels first (a plain loop)."""
    cells = [
        (int(cm[g, p]), g, p)
        for g in range(cm.shape[0])
        for p in range(cm.shape[1])
        if g != p and cm[g, p] > 0
    ]
    cells.sort(key=lambda c: -c[0])
    return [(g, p, n) for n, g, p in cells[:limit]]


def matrix_chart(at: AppTest):
    return next(c for c in at.get("plotly_chart") if '"cells"' in c.proto.spec)


def outline_style(at: AppTest) -> str:
    return next(m.value for m in at.markdown if ".st-key-ov-cm" in m.value)


def test_most_confused_pairs_are_ranked_and_select_their_cell(monkeypatch):
    at = run_app(monkeypatch, query={"model": "baseline"})
    assert not at.exception, at.exception
    result = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    expected = brute_force_pairs(result.confusion, 12)
    buttons = [b for b in at.button if b.key and b.key.startswith("pair:")]
    assert [tuple(map(int, b.key.split(":")[1:])) for b in buttons] == [(g, p) for g, p, _ in expected]
    g, p, n = expected[0]
    names = result.table.names
    share = n / result.confusion[g].sum() * 100
    assert unmarked(buttons[0].label) == f"1. {names[g]} → {names[p]} · {share:.1f} % · {n:,} px"
    before = matrix_chart(at).proto
    spec_before, id_before = before.spec, before.id
    assert "::after" not in outline_style(at)  # nothing chosen, nothing outlined
    buttons[1].click().run()  # the second pair: the same path as a click on its cell
    g2, p2, _ = expected[1]
    assert at.session_state["cell"] == (g2, p2) and at.query_params["cell"] == f"{g2},{p2}"
    assert any(f"GT {names[g2]} → predicted {names[p2]}" in unmarked(s.value) for s in at.subheader)
    # the figure is the same message as before (Streamlit sends the browser a reference to its
    # copy and plotly does not redraw): the chosen cell is outlined by CSS over the chart
    chart = matrix_chart(at).proto
    assert chart.spec == spec_before and chart.id == id_before
    spec = matrix(at)
    assert not spec["layout"].get("shapes")
    heat = [t for t in spec["data"] if t["type"] == "heatmap"][-1]
    rows, cols = [unmarked(y) for y in heat["y"]], [unmarked(x) for x in heat["x"]]
    i, j = rows.index(names[g2]), cols.index(names[p2])
    m, pitch = (
        spec["layout"]["margin"],
        (spec["layout"]["height"] - spec["layout"]["margin"]["t"] - spec["layout"]["margin"]["b"])
        / len(rows),
    )
    style = outline_style(at)
    assert f"(100% - {m['l'] + m['r']}px) / {len(cols)} * {j} - 2px)" in style
    assert f"top:{m['t'] + pitch * i - 2:.2f}px;height:{pitch + 4:.2f}px" in style
    assert spec["layout"]["meta"]["rows"][i] == g2 and spec["layout"]["meta"]["cols"][j] == p2


def test_other_bucket_click_lists_its_pooled_pairs(monkeypatch):
    at = run_app(monkeypatch, query={"model": "baseline"})
    at.number_input(key="cm:top").set_value(5).run()
    heat = [t for t in matrix(at)["data"] if t["type"] == "heatmap"][-1]
    assert unmarked(heat["y"][-1]) == "(other 14 classes)"
    result = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    shown = [result.table.names.index(unmarked(n)) for n in heat["y"][:-1]]
    pooled = sorted(set(range(19)) - set(shown))
    road = result.table.names.index("road")
    # a click on the (other) row × road column arrives as OTHER_INDEX (what _on_cell_select stores)
    at.session_state["ov:other"] = (OTHER_INDEX, road)
    at.run()
    assert not at.exception, at.exception
    assert any(unmarked(s.value) == "GT (other 14 classes) → predicted road" for s in at.subheader)
    buttons = [b for b in at.button if b.key and b.key.startswith("opair:")]
    cm = result.confusion
    expected = sorted(((int(cm[g, road]), g) for g in pooled if g != road and cm[g, road]), reverse=True)
    assert [int(b.key.split(":")[1]) for b in buttons] == [g for _, g in expected[: len(buttons)]]
    buttons[0].click().run()
    assert at.session_state["cell"] == (expected[0][1], road) and at.session_state["ov:other"] is None


def test_search_adds_and_outlines_a_class(monkeypatch):
    at = run_app(monkeypatch, query={"model": "baseline"})
    at.number_input(key="cm:top").set_value(3).run()
    at.text_input(key="cm:find").input("BICY").run()
    assert not at.exception, at.exception
    spec = matrix(at)
    heat = [t for t in spec["data"] if t["type"] == "heatmap"][-1]
    assert "bicycle" in [unmarked(y) for y in heat["y"]] and len(heat["y"]) == 5  # top 3 + bicycle + (other)
    i = [unmarked(y) for y in heat["y"]].index("bicycle")
    outlines = [(s["y0"], s["y1"]) for s in spec["layout"]["shapes"]]
    assert (i - 0.5, i + 0.5) in outlines  # its row is outlined (and its column)
    assert any("Found 1 class (outlined): bicycle" in unmarked(c.value) for c in at.caption)
    pairs = [b for b in at.button if b.key and b.key.startswith("pair:")]
    bicycle = list(evaluate(open_dataset(ROOT / "sample_data", model="baseline")).table.names).index(
        "bicycle"
    )
    assert pairs and all(bicycle in map(int, b.key.split(":")[1:]) for b in pairs)
    at.text_input(key="cm:find").input("zzz").run()
    assert any("No class name contains 'zzz'" in unmarked(c.value) for c in at.caption)


def test_ade_opens_ordered_by_confusion_with_short_labels(monkeypatch, shared_data):
    at = run_app(monkeypatch, root=shared_data, dataset="ade20k-csail", query={"model": "csail-2018"})
    assert not at.exception, at.exception
    assert at.segmented_control(key="cm:order").value == "confusion"
    spec = matrix(at)
    ticks = spec["layout"]["yaxis"]["ticktext"]
    assert len(ticks) == 26 and ticks[-1].startswith("(other ")  # top 25 + (other)
    assert all(";" not in t for t in ticks) and max(len(unmarked(t)) for t in ticks) <= 18
    assert any(";" in v for v in spec["layout"]["yaxis"]["tickvals"])  # categories: full names (hover)
