"""The Slices view and the slice filter (issue 15), driven by AppTest on real CamVid.

camvid-val is one sequence, so the data root is a temporary folder whose ``camvid`` dataset links to
the shared gt/, pred/ and images/ folders and holds its own metadata.csv (nothing is written into
the shared data): ``time`` splits the frames by their order into dawn / day / dusk.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, SHARED, unmarked
from segviz import evaluate, open_dataset
from segviz.slices import compare_by, open_slices
from segviz.store import ResultsStore

APP = str(ROOT / "app.py")
MODEL = "tinyfcn"


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


@pytest.fixture(scope="module")
def camvid_root(shared_data, tmp_path_factory) -> Path:
    """A data root holding ``camvid``: links to the shared folders plus a metadata.csv of our own."""
    root = tmp_path_factory.mktemp("slices_root")
    source = shared_data / "camvid-val"
    dataset = root / "camvid"
    dataset.mkdir()
    for part in ("gt", "pred", "images", "classes.csv"):
        (dataset / part).symlink_to(source / part)
    names = sorted(p.stem for p in (source / "gt").glob("*.png"))
    time = ["dawn"] * 30 + ["day"] * 48 + ["dusk"] * (len(names) - 78)
    pd.DataFrame({"name": names, "time": time, "rain": [i % 7 == 0 for i in range(len(names))]}).to_csv(
        dataset / "metadata.csv", index=False
    )
    return root


@pytest.fixture(scope="module")
def library(camvid_root):
    """The library's own numbers for the same dataset: the evaluation and its Slicer."""
    result = evaluate(open_dataset(camvid_root / "camvid", model=MODEL))
    slicer, _ = open_slices(result, dataset_root=camvid_root / "camvid", store=ResultsStore())
    return result, slicer


def run_app(monkeypatch, root: Path, query: dict[str, str]) -> AppTest:
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(root))
    # the dataset's folders link into the shared data: a second allowed root (the data-root rule)
    monkeypatch.setenv("SEGVIZ_DATA_ROOTS", str(SHARED.resolve()))
    monkeypatch.setenv("SEGVIZ_DATASET", "camvid")
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def notices(at: AppTest) -> list[str]:
    """The notices as a viewer reads them (they are written with widgets.name)."""
    return [unmarked(e.value) for e in at.warning] + [unmarked(e.value) for e in at.error]


def pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def test_slices_view_shows_the_library_numbers(monkeypatch, camvid_root, library):
    result, slicer = library
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Slices"})
    assert not at.exception, at.exception
    assert notices(at) == []
    assert at.selectbox(key="sl:column").value == "time"  # a metadata column comes first
    shown = at.dataframe[0].value
    frame = slicer.frame("time")
    assert shown["value"].tolist() == ["dawn", "day", "dusk"] == frame["value"].tolist()
    assert shown["images"].tolist() == [30, 48, 23]
    for row, lib in zip(shown.itertuples(index=False), frame.itertuples(index=False), strict=True):
        # the slice's mIoU is an evaluation of its images alone (independent: Evaluation.subset)
        idx = np.flatnonzero(np.asarray(slicer.attributes["time"]) == row.value)
        alone = result.subset(idx).summary()
        assert row._4 == round(100 * alone["mean_iou"], 2) == round(100 * lib.mean_iou, 2)
        assert row._3 == round(100 * alone["pixel_accuracy"], 2)
        assert row.pixels == int(alone["evaluated_pixels"])
        assert row._5 == f"{100 * lib.mean_iou_low:.2f} – {100 * lib.mean_iou_high:.2f}"
        assert row._6 == round(100 * lib.delta_mean_iou, 2)
    # the bar chart draws the same values (labels through widgets.plot_names; a click carries the raw value)
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert [unmarked(x) for x in bars["x"]] == frame["value"].tolist()
    assert [c[0] for c in bars["customdata"]] == frame["value"].tolist()


def test_too_few_images_is_said(monkeypatch, camvid_root, library):
    _, slicer = library
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Slices", "slice": "rain=True"})
    at.selectbox(key="sl:column").select("rain").run()
    shown = at.dataframe[0].value.set_index("value")
    assert shown.loc["True", "images"] == 15 >= slicer.min_images  # 15 rainy frames: enough
    at.selectbox(key="sl:column").select("share:Bicyclist").run()
    shown = at.dataframe[0].value
    frame = slicer.frame("share:Bicyclist")
    few = frame.loc[frame["too_few"], "value"].tolist()
    assert shown.loc[shown["note"] == "too few images", "value"].tolist() == few


def test_the_slice_filters_the_overview(monkeypatch, camvid_root, library):
    result, slicer = library
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Overview", "slice": "time=dusk"})
    assert not at.exception, at.exception
    idx = np.flatnonzero(np.asarray(slicer.attributes["time"]) == "dusk")
    dusk = result.subset(idx).summary()
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["mIoU"] == pct(dusk["mean_iou"]) != pct(result.summary()["mean_iou"])
    assert tiles["Images"] == "23"
    assert any("Slice:** time = dusk (23 of 101 images)" in unmarked(i.value) for i in at.info)
    # ✕ clear: back to every image, and the URL forgets the slice
    at.button(key="sl:clear").click().run()
    assert {m.label: m.value for m in at.metric}["mIoU"] == pct(result.summary()["mean_iou"])
    assert "slice" not in at.query_params


def test_choosing_a_slice_round_trips_through_the_url(monkeypatch, camvid_root, library):
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Slices"})
    # what a click on the "dusk" bar or row does (AppTest cannot click: the callback's effect)
    at.session_state["slice"] = "time=dusk"
    at.run()
    assert at.query_params["slice"] == "time=dusk"
    assert at.dataframe[0].value.set_index("value").loc["dusk", "note"] == "● filtering"
    # a pair slice with characters that need encoding survives the link
    pair = "time=day&brightness=" + library[1].columns["brightness"].labels[0]
    link = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Images", "slice": pair})
    assert not link.exception and notices(link) == []
    kept = link.query_params["slice"]
    again = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Images", "slice": kept})
    assert again.query_params["slice"] == kept and notices(again) == []
    slicer = library[1]
    both = (np.asarray(slicer.attributes["time"]) == "day") & (slicer.columns["brightness"].codes == 0)
    assert any(f"({int(both.sum())} of 101 images)" in unmarked(i.value) for i in again.info)


BAD = {
    "unknown-column": ("weather=rain", "no attribute 'weather' in this dataset"),
    "unknown-value": ("time=midnight", "the attribute 'time' has no value 'midnight'"),
    "no-equals": ("time", "is not column=value"),
    "three-parts": ("a=1&b=2&c=3", "is not column=value"),
    "control-char": ("time=\x07", "is not column=value"),
    "empty-pair": ("time=dawn&rain=True&", "is not column=value"),
}


@pytest.mark.parametrize("text, expected", BAD.values(), ids=BAD.keys())
def test_malformed_slice_link_is_one_notice_and_a_valid_view(monkeypatch, camvid_root, text, expected):
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Overview", "slice": text})
    assert not at.exception, at.exception
    shown = notices(at)
    assert len(shown) == 1 and expected in shown[0] and "\n" not in shown[0], shown
    assert "showing all images" in shown[0]
    assert {m.label: m.value for m in at.metric}["Images"] == "101"
    assert "slice" not in at.query_params


def test_worst_slices_on_a_button_and_two_models(monkeypatch, camvid_root, library):
    result, slicer = library
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Slices"})
    assert len(at.dataframe) == 2  # per-value table and the two-model table: no search yet
    at.button(key="sl:find").click().run()
    assert not at.exception, at.exception
    worst = slicer.worst()
    table = at.dataframe[1].value
    assert table["slice"].tolist() == worst.frame["slice"].tolist()
    assert table["images"].tolist() == worst.frame["images"].tolist()
    assert any("Benjamini–Hochberg at FDR 0.05" in c.value for c in at.caption)
    # the search is cached: a rerun shows it without the button
    at.run()
    assert len(at.dataframe) == 3 and not [b for b in at.button if b.key == "sl:find"]
    # two models per value, paired, as the library computes it
    other = evaluate(open_dataset(camvid_root / "camvid", model="pixelgbm"))
    lib = compare_by(result, other, slicer.attributes, "time")
    shown = at.dataframe[2].value
    assert shown["value"].tolist() == lib["value"].tolist()
    delta = [None if math.isnan(v) else round(100 * v, 2) for v in lib["delta"]]
    assert shown["Δ (B − A)"].tolist() == delta
    assert shown["significant"].tolist() == lib["significant"].tolist()


def test_the_image_list_and_confusion_follow_the_slice(monkeypatch, camvid_root, library):
    result, slicer = library
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Images", "slice": "time=dawn"})
    assert not at.exception, at.exception
    dawn = [n for n, t in zip(result.names, slicer.attributes["time"], strict=True) if t == "dawn"]
    assert sorted(at.dataframe[0].value["name"]) == sorted(dawn)  # the per-image table: 30 rows
    # the confusion cell's image list counts the slice's images only
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "slice": "time=dawn", "cell": "4,3"})
    sub = result.subset([result.names.index(n) for n in dawn])
    expected = len(sub.images_for_cell(4, 3))
    assert expected < len(result.images_for_cell(4, 3))
    pixels = int(sub.images_for_cell(4, 3)["pixels"].sum())
    assert any(c.value.startswith(f"{expected} images, {pixels:,} pixels") for c in at.caption)


def test_unreadable_metadata_is_a_warning_and_the_automatic_attributes_still_slice(
    monkeypatch, shared_data, tmp_path
):
    dataset = tmp_path / "camvid"
    dataset.mkdir()
    for part in ("gt", "pred", "images", "classes.csv"):
        (dataset / part).symlink_to(shared_data / "camvid-val" / part)
    (dataset / "metadata.csv").write_text("image,time\n0016E5_07959,dawn\n")  # no 'name' column
    at = run_app(monkeypatch, tmp_path, {"model": MODEL, "view": "Slices"})
    assert not at.exception, at.exception
    warnings = at.expander[0].children[0].value["warning"].tolist()
    assert any("metadata.csv: no 'name' column" in w and "automatic attributes only" in w for w in warnings)
    assert at.selectbox(key="sl:column").value == "brightness"
    assert at.dataframe[1].value["images"].sum() == 101


def test_an_image_outside_the_slice_is_one_notice(monkeypatch, camvid_root, library):
    result, slicer = library
    day = next(n for n, t in zip(result.names, slicer.attributes["time"], strict=True) if t == "day")
    at = run_app(
        monkeypatch, camvid_root, {"model": MODEL, "view": "Images", "slice": "time=dusk", "image": day}
    )
    assert not at.exception, at.exception
    assert notices(at) == [f"Image '{day}' is not in the slice; showing the slice's first image."]
    first = at.session_state["image"]
    assert slicer.attributes["time"][result.names.index(first)] == "dusk"


def test_a_bin_labelled_equals_reads_once_in_the_banner(monkeypatch, camvid_root, library):
    """Regression (integration of the Slices view with widgets.name): the banner escaped the value
    before condition_text looked at it, so a bin labelled '= 1' read 'objects:Car = \\= 1'."""
    from segviz.dashboard.state import format_slice

    slicer = library[1]
    assert slicer.columns["objects:Car"].labels[0] == "= 1"
    images = int((slicer.columns["objects:Car"].codes == 0).sum())
    link = format_slice([("objects:Car", "= 1")])
    at = run_app(monkeypatch, camvid_root, {"model": MODEL, "view": "Overview", "slice": link})
    assert not at.exception and notices(at) == []
    banner = [unmarked(i.value) for i in at.info if "Slice:" in i.value]
    assert banner and f"Slice:** objects:Car = 1 ({images} of 101 images)" in banner[0], banner
    assert {m.label: m.value for m in at.metric}["Images"] == str(images)


def test_hostile_metadata_values_are_literal_and_clicks_keep_the_raw_value(
    monkeypatch, shared_data, tmp_path
):
    """A metadata value with Markdown, a link and a long one: table cells through widgets.plain,
    bar labels through plot_names, the banner through widgets.name; the bar's customdata and the
    slice chosen from it are the raw value (display text is never looked up)."""
    from segviz.dashboard.state import format_slice
    from segviz.dashboard.widgets import plain

    dataset = tmp_path / "camvid"
    dataset.mkdir()
    for part in ("gt", "pred", "images", "classes.csv"):
        (dataset / part).symlink_to(shared_data / "camvid-val" / part)
    names = sorted(p.stem for p in (shared_data / "camvid-val" / "gt").glob("*.png"))
    hostile, long = "*wet* [rain](http://e.example)", "y" * 45
    weather = [hostile if i % 2 else long for i in range(len(names))]
    pd.DataFrame({"name": names, "weather": weather}).to_csv(dataset / "metadata.csv", index=False)
    at = run_app(monkeypatch, tmp_path, {"model": MODEL, "view": "Slices"})
    assert not at.exception, at.exception
    assert at.selectbox(key="sl:column").value == "weather"
    values = sorted({hostile, long})
    assert at.dataframe[0].value["value"].tolist() == [plain(v) for v in values]
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert [c[0] for c in bars["customdata"]] == values  # what a click returns
    assert [unmarked(x) for x in bars["x"]] == [plain(v) for v in values]  # cut and isolated
    at.session_state["slice"] = format_slice([("weather", hostile)])  # what a click on that bar stores
    at.run()
    assert not at.exception and notices(at) == []
    banner = [unmarked(i.value) for i in at.info if "Slice:" in i.value]
    assert banner and f"weather = {hostile} ({weather.count(hostile)} of {len(names)} images)" in banner[0]
    assert at.dataframe[0].value.set_index("value").loc[plain(hostile), "note"] == "● filtering"
