"""The Errors view (error anatomy, issue 13) driven by Streamlit's AppTest: the numbers shown are the
library's (and the IoU column the confusion matrix's), the error-type filter lists the right images
in the right order, the filter travels through the URL, and a malformed filter in a link gives a
notice and a valid view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import conftest
from conftest import ROOT, unmarked
from segviz import evaluate, open_dataset
from segviz.anatomy import analyse, analyse_pair, compare_anatomy, error_mask, error_type_map, read_indices

PERSON = 11  # sample_data's class index of "person"


@pytest.fixture(autouse=True)
def clear_caches():
    """Caches survive between AppTest instances in one process (shared/NOTES.md)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


_LIBRARY: dict = {}


def library(root, model: str, width=0.01):
    """The library's evaluation and anatomy (no store: computed from the masks)."""
    key = (str(root), model, width)
    if key not in _LIBRARY:
        ev = evaluate(open_dataset(root, model=model))
        _LIBRARY[key] = ev, analyse(ev, width=width)
    return _LIBRARY[key]


def run_app(monkeypatch, query: dict, **kwargs) -> AppTest:
    return conftest.run_app(monkeypatch, query=query, timeout=300, **kwargs)


def notices(at: AppTest) -> list[str]:
    """The notices as a viewer reads them (they are written with widgets.name)."""
    return [unmarked(e.value) for e in at.warning] + [unmarked(e.value) for e in at.error]


# st.dataframe without a selection carries no key: each of the view's tables is known by a column
TABLES = {
    "an:table": "Trimap IoU",
    "an:ranked": "share",
    "an:type_counts": "type",
    "an:cmp_table": "segment Δ pts",
}


def dataframe(at: AppTest, key: str) -> pd.DataFrame:
    for d in at.dataframe:
        if TABLES[key] in d.value.columns:
            return d.value
    raise AssertionError(f"no dataframe {key}")


def assert_shows_library_numbers(at: AppTest, ev, anat) -> None:
    assert not at.exception, at.exception
    shown = dataframe(at, "an:table")
    cf = anat.class_frame()
    assert shown["class"].tolist() == list(anat.table.names)
    for col, lib in (
        ("IoU", "iou"),
        ("boundary", "boundary_error"),
        ("extent", "extent_error"),
        ("segment", "segment_error"),
        ("Boundary IoU", "boundary_iou"),
        ("Trimap IoU", "trimap_iou"),
    ):
        np.testing.assert_allclose(shown[col].to_numpy(float), cf[lib].to_numpy(float) * 100, equal_nan=True)
    # an independent path: the anatomy's IoU is the confusion matrix's IoU
    np.testing.assert_allclose(shown["IoU"].to_numpy(float), ev.class_frame()["iou"] * 100, equal_nan=True)
    # the four parts are 100 % of the union wherever it is defined
    parts = shown[["IoU", "boundary", "extent", "segment"]].to_numpy(float).sum(axis=1)
    np.testing.assert_allclose(parts[~np.isnan(parts)], 100)
    assert shown["GT objects"].tolist() == cf["gt_objects"].tolist()
    assert shown["missed"].tolist() == (cf["gt_objects"] - cf["found_objects"]).tolist()
    assert shown["invented"].tolist() == cf["invented_objects"].tolist()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Found"] == f"{int(cf['found_objects'].sum()):,}"
    assert metrics["Missed"] == f"{int((cf['gt_objects'] - cf['found_objects']).sum()):,}"
    assert metrics["Invented"] == f"{int(cf['invented_objects'].sum()):,}"
    s = anat.summary()
    assert metrics["Boundary IoU"] == f"{100 * s['mean_boundary_iou']:.2f} %"
    assert metrics["Trimap IoU"] == f"{100 * s['mean_trimap_iou']:.2f} %"
    headlines = anat.headlines()
    assert unmarked(at.info[0].value) == headlines[0]
    assert "whole objects missed or invented" in headlines[0]
    text = "\n".join(unmarked(m.value) for m in at.markdown)
    assert all(f"- {line}" in text for line in headlines[1:])


def test_errors_view_shows_the_library_numbers(monkeypatch):
    at = run_app(monkeypatch, {"view": "Errors", "model": "baseline"})
    assert_shows_library_numbers(at, *library(ROOT / "sample_data", "baseline"))
    assert at.query_params["view"] == "Errors"


def test_errors_view_on_real_camvid(monkeypatch, shared_data):
    at = run_app(monkeypatch, {"view": "Errors", "model": "tinyfcn"}, root=shared_data, dataset="camvid-val")
    ev, anat = library(shared_data / "camvid-val", "tinyfcn")
    assert_shows_library_numbers(at, ev, anat)
    # the figure the view draws: stacked bars of the same shares, clickable (class, kind, pixels)
    import json

    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "an:bars" in c.proto.id)
    segment = next(t for t in spec["data"] if t["name"].startswith("segment"))
    cf = anat.class_frame().set_index("name")
    for cls_index, kind, pixels in segment["customdata"]:
        row = cf.iloc[cls_index]
        assert kind == "segment" and pixels == row["fp_segment"] + row["fn_segment"]
    # each bar's label (through widgets.plot_names) is the class its click selects
    assert [unmarked(y) for y in segment["y"]] == [anat.table.names[c] for c, _, _ in segment["customdata"]]


def test_filter_lists_the_images_ranked_by_those_pixels(monkeypatch):
    ev, anat = library(ROOT / "sample_data", "baseline")
    at = run_app(monkeypatch, {"view": "Errors", "model": "baseline", "errors": f"{PERSON}:fn_segment"})
    assert not at.exception, at.exception
    assert "person · missed segments" in [unmarked(s.value) for s in at.subheader]
    expected = anat.images_for_error(PERSON, "fn_segment")
    shown = dataframe(at, "an:ranked")
    assert shown["name"].tolist() == expected["name"].tolist()
    assert shown["pixels"].tolist() == expected["pixels"].tolist()
    assert (np.diff(shown["pixels"].to_numpy()) <= 0).all()  # most first
    # the thumbnails' buttons: the first 12 in rank order (laid out in 4 columns)
    labels = [unmarked(b.label) for b in at.button if " px (" in b.label]
    assert len(labels) == min(12, len(expected))
    assert sorted(labels) == sorted(
        f"{r.name} · {int(r.pixels):,} px ({100 * r.share:.0f} %)" for r in expected.head(12).itertuples()
    )
    # the highlighted pixels are exactly the ranked count: the per-image path agrees with the dataset's
    for r in expected.head(3).itertuples():
        pair = ev.pairs[int(r.image)]
        gt, pred = read_indices(pair, ev.table)
        one = analyse_pair(pair, ev.table)
        assert int(error_mask(one, gt, pred, PERSON, "fn_segment").sum()) == r.pixels
        # missed segments are ground-truth person pixels the prediction never touches in that segment
        assert (gt[error_mask(one, gt, pred, PERSON, "fn_segment")] == PERSON).all()
        assert not (pred[error_mask(one, gt, pred, PERSON, "fn_segment")] == PERSON).any()


def test_the_side_control_refines_the_filter(monkeypatch):
    at = run_app(monkeypatch, {"view": "Errors", "model": "baseline", "errors": f"{PERSON}:segment"})
    _, anat = library(ROOT / "sample_data", "baseline")
    both = dataframe(at, "an:ranked")
    assert both["pixels"].tolist() == anat.images_for_error(PERSON, "segment")["pixels"].tolist()
    at.segmented_control(key="an:side").set_value("fp_segment").run()
    assert not at.exception, at.exception
    assert at.query_params["errors"] == f"{PERSON}:fp_segment"
    assert "person · invented segments" in [unmarked(s.value) for s in at.subheader]
    assert (
        dataframe(at, "an:ranked")["name"].tolist()
        == anat.images_for_error(PERSON, "fp_segment")["name"].tolist()
    )


def test_filter_round_trips_through_the_url_and_opens_the_image_view(monkeypatch):
    ev, anat = library(ROOT / "sample_data", "baseline")
    at = run_app(monkeypatch, {"view": "Errors", "model": "baseline"})
    assert "errors" not in at.query_params
    at.session_state["errors"] = f"{PERSON}:segment"  # what a click on the bar segment stores
    at.run()
    assert at.query_params["errors"] == f"{PERSON}:segment"
    first = anat.images_for_error(PERSON, "segment")["name"].iloc[0]
    at.button(key=f"an:thumb:{first}").click().run()
    assert not at.exception, at.exception
    assert at.query_params["view"] == "Images"
    assert at.query_params["image"] == first
    assert at.query_params["errors"] == f"{PERSON}:segment"
    # the image view colours the error types of that class; the counts shown are the library's
    assert any("Error types" in unmarked(m.value) for m in at.markdown)
    pair = ev.pairs[ev.names.index(first)]
    gt, pred = read_indices(pair, ev.table)
    codes = error_type_map(analyse_pair(pair, ev.table), gt, pred, PERSON)
    counts = dataframe(at, "an:type_counts")
    assert counts["pixels"].tolist() == [int((codes == c).sum()) for c in range(1, 7)]
    assert (
        counts["pixels"].iloc[2] + counts["pixels"].iloc[5]
        == anat.images_for_error(PERSON, "segment")["pixels"].iloc[0]
    )
    # a link with the same parameters rebuilds the same view
    again = run_app(monkeypatch, dict(at.query_params))
    assert not again.exception and not notices(again)
    assert dataframe(again, "an:type_counts")["pixels"].tolist() == counts["pixels"].tolist()
    # clearing the filter removes it from the URL
    again.button(key="an:clear").click().run()
    assert "errors" not in again.query_params


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "error filter 'abc' is not class:type"),
        ("3:tp", "error filter '3:tp' is not class:type"),
        ("-1:segment", "is not class:type"),
        ("99:segment", "class 99 is not in this 19-class table"),
        ("1:segment" + "x" * 5000, "(5,009 characters) is not class:type"),
    ],
    ids=["words", "tp", "negative", "class-99", "huge"],
)
def test_malformed_filter_gives_a_notice_and_a_valid_view(monkeypatch, value, message):
    at = run_app(monkeypatch, {"view": "Errors", "model": "baseline", "errors": value})
    assert not at.exception, at.exception
    assert any(message in n for n in notices(at)), notices(at)
    assert "errors" not in at.query_params
    assert at.query_params["view"] == "Errors"
    assert dataframe(at, "an:table")["class"].tolist()  # the view is drawn


def test_width_control_recomputes_with_the_library(monkeypatch):
    at = run_app(monkeypatch, {"view": "Errors", "model": "baseline"})
    at.segmented_control(key="an:unit").set_value("pixels").run()
    at.number_input(key="an:px").set_value(3).run()
    assert not at.exception, at.exception
    ev, anat = library(ROOT / "sample_data", "baseline", width=3)
    assert "(boundary width 3 px)" in unmarked(at.info[0].value)
    assert_shows_library_numbers(at, ev, anat)
    default = library(ROOT / "sample_data", "baseline")[1].class_frame()["boundary_error"]
    assert not np.allclose(anat.class_frame()["boundary_error"], default, equal_nan=True)


def test_compare_shows_the_change_per_error_type(monkeypatch):
    at = run_app(monkeypatch, {"view": "Compare"})
    at.button(key="an:cmp_go").click().run()
    assert not at.exception, at.exception
    shown = dataframe(at, "an:cmp_table")
    _, a = library(ROOT / "sample_data", at.selectbox(key="cmp:a").value)
    _, b = library(ROOT / "sample_data", at.selectbox(key="cmp:b").value)
    expected = compare_anatomy(a, b, resamples=1000)
    assert shown["class"].iloc[0] == "mean"
    row = expected[(expected["class"] == "mean") & (expected["kind"] == "segment")].iloc[0]
    text = f"{100 * row['delta']:+.2f} [{100 * row['low']:+.2f}, {100 * row['high']:+.2f}]"
    assert shown["segment Δ pts"].iloc[0].startswith(text)
    assert shown["segment Δ pts"].iloc[0].endswith("★") == bool(row["significant"])


def test_thumbnail_highlights_exactly_the_filtered_pixels():
    """At full size the highlighted pixels are the error mask; downscaled, every masked pixel still
    shows (a one-pixel boundary error never vanishes from a thumbnail)."""
    from segviz.anatomy_figures import HIGHLIGHT, highlight_picture

    ev, anat = library(ROOT / "sample_data", "baseline")
    top = anat.images_for_error(PERSON, "fp_boundary").iloc[0]
    pair = ev.pairs[int(top["image"])]
    gt, pred = read_indices(pair, ev.table)
    mask = error_mask(analyse_pair(pair, ev.table), gt, pred, PERSON, "fp_boundary")
    h, w = mask.shape
    full = highlight_picture(None, mask, (w, h))
    assert ((full == HIGHLIGHT).all(axis=2) == mask).all()
    small = highlight_picture(None, mask, (w // 4, h // 4))
    lit = (small == HIGHLIGHT).all(axis=2)
    ys, xs = np.nonzero(mask)
    assert lit[np.minimum(ys // 4, h // 4 - 1), np.minimum(xs // 4, w // 4 - 1)].all()


def test_a_second_open_reads_no_mask(monkeypatch):
    """The anatomy's per-image counts are kept in the results store: with the app's caches emptied,
    opening the view again reads no mask (reading one now fails) and shows the same numbers."""
    import streamlit as st

    import segviz.anatomy

    first = run_app(monkeypatch, {"view": "Errors", "model": "candidate"})
    shown = dataframe(first, "an:table")
    st.cache_data.clear()
    st.cache_resource.clear()

    def no_reading(*args, **kwargs):
        raise AssertionError("a mask was read again")

    monkeypatch.setattr(segviz.anatomy, "read_indices", no_reading)
    again = run_app(monkeypatch, {"view": "Errors", "model": "candidate"})
    assert not again.exception, again.exception
    assert not any("could not be analysed" in c.value for c in again.caption)
    pd.testing.assert_frame_equal(dataframe(again, "an:table"), shown)


def test_a_width_larger_than_the_images_is_refused_with_its_value(monkeypatch, tiny_dataset):
    at = run_app(monkeypatch, {"view": "Errors"}, root=tiny_dataset.parent, dataset="tiny")
    assert not at.exception, at.exception
    at.segmented_control(key="an:unit").set_value("pixels").run()
    at.number_input(key="an:px").set_value(4).run()
    assert not at.exception, at.exception
    assert any("boundary width 4 px is larger than the image (3x2)" in e for e in notices(at)), notices(at)
    # the message names the mask relative to the data root, never the server's absolute folder
    assert any("tiny/gt/" in e for e in notices(at)) and not any(str(tiny_dataset) in e for e in notices(at))
    at.number_input(key="an:px").set_value(1).run()  # a usable width draws the view again
    assert not at.error and dataframe(at, "an:table")["class"].tolist() == ["road", "car", "person"]


def test_hostile_class_names_are_literal_and_distinct(monkeypatch, tiny_dataset):
    """Names from classes.csv reach the Errors view's table, bars and headings as text: table cells
    through widgets.plain (cut at 40), bar labels through plot_names (two names alike in their first
    40 characters stay two bars), headings through widgets.name; a bar's class comes from its id."""
    import html
    import json

    from segviz.dashboard.widgets import plain, plot_names

    long = "x" * 45
    names = [f"{long}road", f"{long}car", "*per*son_[x](http://e.example)"]
    rows = "".join(f"{i},{n},{i},{i},{i},0\n" for i, n in enumerate(names))
    (tiny_dataset / "classes.csv").write_text("id,name,r,g,b,ignore\n" + rows + "255,void,0,0,0,1\n")
    at = run_app(
        monkeypatch, {"view": "Errors", "errors": "2:segment"}, root=tiny_dataset.parent, dataset="tiny"
    )
    assert not at.exception and not at.error, notices(at)
    assert dataframe(at, "an:table")["class"].tolist() == [plain(n) for n in names]
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "an:bars" in c.proto.id)
    bars = spec["data"][0]
    shown = dict(
        zip((c for c, _, _ in bars["customdata"]), (html.unescape(y) for y in bars["y"]), strict=True)
    )
    assert shown == {c: plot_names(names)[c] for c in shown} and len(set(shown.values())) == len(shown) >= 2
    assert f"{names[2]} · segment errors (missed or invented)" in [unmarked(s.value) for s in at.subheader]


def test_compare_table_keeps_a_class_called_mean(tiny_dataset):
    """Regression (names are not keys): the per-error-type table pivoted on the class name, so a
    class called "mean" collided with the mean row (pandas: duplicate entries, a traceback)."""
    from segviz.dashboard.views.anatomy import compare_table

    (tiny_dataset / "classes.csv").write_text(
        "id,name,r,g,b,ignore\n0,road,1,1,1,0\n1,mean,2,2,2,0\n2,person,3,3,3,0\n255,void,0,0,0,1\n"
    )
    anat = analyse(evaluate(open_dataset(tiny_dataset)), width=1)
    frame = compare_anatomy(anat, anat, resamples=50)
    table = compare_table(frame)
    assert table["class"].tolist() == ["mean", "road", "mean", "person"]  # the mean row, then table order
    for row, cls in zip(range(1, 4), range(3), strict=True):
        lib = frame.iloc[3 * cls : 3 * cls + 3]
        for kind, delta in zip(lib["kind"], lib["delta"], strict=True):
            shown = table[f"{kind} Δ pts"].iloc[row]
            assert shown == "n/a" if np.isnan(delta) else shown.startswith(f"{100 * delta:+.2f} [")
