"""The dashboard's logic, driven by Streamlit's AppTest (no browser)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from segviz import evaluate, open_dataset

APP = str(ROOT / "app.py")
TIMEOUT = 60


@pytest.fixture(autouse=True)
def clear_caches():
    """Caches survive between AppTest instances in one process (shared/NOTES.md)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_app(monkeypatch, *, root=ROOT, dataset="sample_data", query=None) -> AppTest:
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(root))
    monkeypatch.setenv("SEGVIZ_DATASET", dataset)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_shows_the_library_numbers(monkeypatch):
    at = run_app(monkeypatch)
    assert not at.exception, at.exception
    model = at.selectbox(key="model").value
    s = evaluate(open_dataset(ROOT / "sample_data", model=model)).summary()
    shown = metric_values(at)
    assert shown["mIoU"] == f"{100 * s['mean_iou']:.2f} %"
    assert shown["Pixel accuracy"] == f"{100 * s['pixel_accuracy']:.2f} %"
    assert shown["FWIoU"] == f"{100 * s['frequency_weighted_iou']:.2f} %"
    assert shown["Images"] == str(s["num_images"])
    assert shown["Ignored px"] == f"{s['ignored_pixels']:,}"


def test_switching_model_changes_the_numbers(monkeypatch):
    at = run_app(monkeypatch)
    first = metric_values(at)["mIoU"]
    models = at.selectbox(key="model").options
    assert len(models) == 2
    at.selectbox(key="model").select(models[1]).run()
    assert not at.exception
    s = evaluate(open_dataset(ROOT / "sample_data", model=models[1])).summary()
    assert metric_values(at)["mIoU"] == f"{100 * s['mean_iou']:.2f} %" != first
    assert at.query_params["model"] == models[1]


def _chart(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if chart.proto.id and key in chart.proto.id:
            return spec
    raise AssertionError(f"no plotly chart {key}")


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_confusion_controls_change_the_figure(monkeypatch):
    at = run_app(monkeypatch)
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [t for t in heat["data"] if t["type"] == "heatmap"][-1]["y"]
    assert "road" in ys
    at.multiselect(key="cm:hide").select("road").run()
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [t for t in heat["data"] if t["type"] == "heatmap"][-1]["y"]
    assert "road" not in ys and "car" in ys
    at.number_input(key="cm:top").set_value(5).run()
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [t for t in heat["data"] if t["type"] == "heatmap"][-1]["y"]
    assert len(ys) == 6 and ys[-1] == "(other 13 classes)"  # 5 classes + the 18 - 5 others pooled


def test_metric_toggle_changes_the_bars(monkeypatch):
    at = run_app(monkeypatch)
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert bars["layout"]["xaxis"]["title"]["text"] == "IoU (%)"
    at.segmented_control(key="ov:metric").set_value("dice").run()
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert bars["layout"]["xaxis"]["title"]["text"] == "Dice (%)"


def test_selected_cell_lists_images_and_opens_one(monkeypatch):
    at = run_app(monkeypatch)
    model = at.selectbox(key="model").value
    result = evaluate(open_dataset(ROOT / "sample_data", model=model))
    names = list(result.table.names)
    cell = (names.index("sidewalk"), names.index("road"))
    ranked = result.images_for_cell(*cell)
    at.session_state["cell"] = cell
    at.run()
    assert not at.exception
    assert any("GT sidewalk → predicted road" in s.value for s in at.subheader)
    first = at.button(key=f"thumb:{ranked['name'].iloc[0]}")
    assert first.label.startswith(f"{ranked['name'].iloc[0]} · {int(ranked['pixels'].iloc[0]):,} px")
    first.click().run()
    assert not at.exception
    assert at.session_state["view"] == "Images" and at.session_state["image"] == ranked["name"].iloc[0]
    assert at.query_params["cell"] == f"{cell[0]},{cell[1]}"
    assert at.query_params["image"] == ranked["name"].iloc[0]
    assert any(ranked["name"].iloc[0] == s.value for s in at.subheader)


def test_url_reproduces_the_view(monkeypatch):
    result = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    name = result.names[3]
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images", "image": name, "cell": "1,0"})
    assert not at.exception
    assert at.selectbox(key="model").value == "baseline"
    assert any(s.value == name for s in at.subheader)
    assert at.checkbox(key="im:hl").label == "Highlight only GT sidewalk → predicted road"


def test_image_view_navigation(monkeypatch):
    at = run_app(monkeypatch, query={"view": "Images"})
    assert not at.exception
    first = at.session_state["image"]
    next_button = next(b for b in at.button if b.label == "Next ▶")
    next_button.click().run()
    assert at.session_state["image"] != first
    next(b for b in at.button if b.label == "◀ Prev").click().run()
    assert at.session_state["image"] == first
    at.slider(key="im:alpha").set_value(0.2).run()
    at.segmented_control(key="im:style").set_value("boundary").run()
    assert not at.exception


def test_ignore_ids_control_refolds(monkeypatch):
    at = run_app(monkeypatch)
    before = metric_values(at)["Ignored px"]
    key = next(t.key for t in at.text_input if t.key.startswith("ignore:"))
    at.text_input(key=key).input("255,0").run()
    assert not at.exception
    after = metric_values(at)["Ignored px"]
    assert int(after.replace(",", "")) > int(before.replace(",", ""))
    at.text_input(key=key).input("x").run()
    assert any("Ignore ids must be comma-separated integers" in e.value for e in at.error)


def test_dataset_outside_the_root_is_refused(monkeypatch):
    at = run_app(monkeypatch, query={"dataset": "../"})
    assert any("outside the data root" in e.value for e in at.error)


def test_broken_dataset_still_shows_what_it_can(monkeypatch, tiny_dataset):
    (tiny_dataset / "gt" / "broken.png").write_bytes(b"not a png")
    (tiny_dataset / "pred" / "broken.png").write_bytes(b"not a png")
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny")
    assert not at.exception
    assert metric_values(at)["Images"] == "2"
    assert any("1 skipped" in e.label for e in at.expander)


def test_compare_view_shows_the_library_comparison(monkeypatch):
    from segviz.compare import compare

    at = run_app(monkeypatch, query={"view": "Compare"})
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp:a").value == "baseline" and at.selectbox(key="cmp:b").value == "candidate"
    a = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    b = evaluate(open_dataset(ROOT / "sample_data", model="candidate"))
    expected = compare(a, b, resamples=1000).summary_frame().set_index("metric")
    shown = {m.label.rstrip(" ★"): m for m in at.metric}
    assert shown["mIoU"].value == f"{100 * b.summary()['mean_iou']:.2f} %"
    assert shown["mIoU"].delta == f"{100 * expected.loc['mean_iou', 'delta']:+.2f} pts"
    assert any(s.value.startswith("sample_data: candidate vs baseline") for s in at.title)
    at.segmented_control(key="cmp:which").set_value("baseline").run()
    assert not at.exception


def test_overview_intervals_and_conventions(monkeypatch):
    at = run_app(monkeypatch)
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert "error_x" in bars["data"][0]
    assert any("mIoU 95 % interval" in c.value for c in at.caption)
    assert any(e.label.startswith("Which mIoU?") for e in at.expander)


def test_presentation_mode_hides_controls(monkeypatch):
    at = run_app(monkeypatch, query={"present": "1"})
    assert not at.exception
    keys = {w.key for w in at.segmented_control}
    assert "ov:metric" not in keys and "cm:norm" not in keys
    assert metric_values(at)["mIoU"].endswith("%")
    at.toggle(key="cvd").set_value(True).run()
    assert not at.exception


def test_export_panel_builds_the_report(monkeypatch):
    at = run_app(monkeypatch)
    assert {b.label for b in at.get("download_button")} >= {
        "classes.csv",
        "images.csv",
        "confusion_matrix.csv",
        "results.json",
    }
    at.button(key="ex:report").click().run()
    assert not at.exception
    html = at.session_state["ex:report_html"]
    assert html.startswith("<!DOCTYPE html>") and "sample_data" in html
