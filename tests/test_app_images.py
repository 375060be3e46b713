"""Issue 16 (image view and stakeholder mode) driven by AppTest; the browser-only parts are in
tests/test_browser_images.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import conftest
from conftest import ROOT, unmarked
from segviz import evaluate, open_dataset
from segviz.panels import clamp_crop, top_confusions


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


@pytest.fixture(scope="module")
def baseline():
    return evaluate(open_dataset(ROOT / "sample_data", model="baseline"))


def run_app(monkeypatch, **kwargs) -> AppTest:
    return conftest.run_app(monkeypatch, timeout=60, **kwargs)


def _cell_with(result, count: int) -> tuple[int, int]:
    """A confusion cell that exactly ``count`` images have (brute force over the matrix)."""
    k = result.table.num_classes
    for g in range(k):
        for p in range(k):
            if g != p and result.confusion[g, p] > 0 and len(result.images_for_cell(g, p)) == count:
                return g, p
    raise AssertionError(f"no cell with {count} images")


def _table_order(result) -> list[str]:
    return result.image_frame().sort_values("mean_iou", na_position="last", kind="stable")["name"].tolist()


def test_current_image_is_marked_in_the_table(monkeypatch, baseline):
    """Regression (issue 16 §5): the current image was not highlighted in the image table."""
    name = _table_order(baseline)[5]
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images", "image": name})
    assert not at.exception
    table = at.dataframe[0].value
    marked = table.loc[table["now"] == "▶", "name"].tolist()
    assert marked == [name]
    next(b for b in at.button if b.label == "Next ▶").click().run()
    table = at.dataframe[0].value
    assert table.loc[table["now"] == "▶", "name"].tolist() == [_table_order(baseline)[6]]


def test_prev_next_walk_the_images_of_the_chosen_confusion(monkeypatch, baseline):
    """Regression (issue 16 §5): Prev/Next walked all images, not the confusion's."""
    cell = _cell_with(baseline, 3)
    with_cell = set(baseline.images_for_cell(*cell)["name"])
    expected = [n for n in _table_order(baseline) if n in with_cell]
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images", "cell": f"{cell[0]},{cell[1]}"})
    assert not at.exception
    seen = [at.session_state["image"]]
    for _ in range(len(expected) - 1):
        next(b for b in at.button if b.label == "Next ▶").click().run()
        seen.append(at.session_state["image"])
    assert seen == expected
    assert next(b for b in at.button if b.label == "Next ▶").disabled
    assert any(f"{len(expected)} of {len(expected)} with GT" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "◀ Prev").click().run()
    assert at.session_state["image"] == expected[-2]


def test_a_link_with_a_cell_opens_an_image_that_has_it(monkeypatch, baseline):
    """Regression (issue 16 §5): a shared link with a cell opened an image without that confusion."""
    cell = _cell_with(baseline, 1)
    (only,) = baseline.images_for_cell(*cell)["name"]
    other = next(n for n in baseline.names if n != only)
    at = run_app(
        monkeypatch,
        query={"model": "baseline", "view": "Images", "image": other, "cell": f"{cell[0]},{cell[1]}"},
    )
    assert not at.exception
    assert at.session_state["image"] == only
    assert any(
        f"{other} has no pixels of GT" in unmarked(i.value) and only in unmarked(i.value) for i in at.info
    )
    assert at.query_params["image"] == only
    # without an image in the link: the first image that has the cell
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images", "cell": f"{cell[0]},{cell[1]}"})
    assert at.session_state["image"] == only


def test_thumbnails_are_paged(monkeypatch, baseline):
    """Regression (issue 16 §5): only 12 thumbnails; now pages of PAGE_SIZE, built per page."""
    from segviz.dashboard.views import images

    monkeypatch.setattr(images, "PAGE_SIZE", 5)  # sample_data has 24 images: make several pages
    cell = _cell_with(baseline, 24)
    ranked = baseline.images_for_cell(*cell)["name"].tolist()
    at = run_app(monkeypatch, query={"model": "baseline"})
    at.session_state["cell"] = cell
    at.run()
    shown = [b.key.removeprefix("thumb:") for b in at.button if b.key and b.key.startswith("thumb:")]
    assert set(shown) == set(ranked[:5]) and len(shown) == 5  # (the grid lists column by column)
    assert any("Page 1 of 5" in c.value for c in at.caption)
    for _ in range(4):
        at.button(key="thumbs:next").click().run()
    shown = [b.key.removeprefix("thumb:") for b in at.button if b.key and b.key.startswith("thumb:")]
    assert set(shown) == set(ranked[20:24]) and len(shown) == 4
    assert at.button(key="thumbs:next").disabled


def test_back_button_reapplies_the_url(monkeypatch, baseline):
    """Regression (issue 16 §5): Back did nothing. Streamlit pushes a history entry per URL change
    and reruns with the old query string on Back; the app now follows it (browser test:
    test_browser_images.py::test_back_button_returns_to_the_previous_image)."""
    order = _table_order(baseline)
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images"})
    first = at.session_state["image"]
    assert first == order[0]
    next(b for b in at.button if b.label == "Next ▶").click().run()
    assert at.query_params["image"] == order[1]
    at.query_params["image"] = first  # what the browser sends after Back
    at.run()
    assert at.session_state["image"] == first
    at.query_params["view"] = "Overview"
    at.run()
    assert at.session_state["view"] == "Overview"


def test_crop_is_full_resolution(baseline):
    from segviz.dashboard.views.images import _crop_png, crop_pictures

    pair = baseline.pairs[0]
    photo = np.asarray(Image.open(pair.image_path).convert("RGB"))
    h, w = photo.shape[:2]
    crop = clamp_crop((w - 100, 10, w + 50, 70), w, h)
    assert crop == (w - 100, 10, w, 70)
    look = (0.5, "fill", tuple(range(baseline.table.num_classes)), None)
    pictures = crop_pictures(pair, baseline.table, look, crop)
    assert np.array_equal(pictures["Photo"], photo[10:70, w - 100 :])
    png = Image.open(io.BytesIO(_crop_png(pair, baseline.table, look, crop, "all four")))
    assert png.size == (4 * 100 + 3 * 8, 60)
    assert Image.open(io.BytesIO(_crop_png(pair, baseline.table, look, crop, "Error map"))).size == (100, 60)


def test_top_confusions_match_a_loop(baseline):
    cm = baseline.confusion
    names = [*baseline.table.names, "invalid"]
    cells = [
        (cm[g, p] / cm[g].sum(), cm[g, p], names[g], names[p])
        for g in range(cm.shape[0])
        for p in range(cm.shape[1])
        if g != p and cm[g, p] >= 500
    ]
    cells.sort(key=lambda c: (-c[0], -c[1]))
    got = top_confusions(cm, names, n=6, by="share", min_pixels=500)
    assert list(zip(got["gt"], got["predicted"], strict=True)) == [(c[2], c[3]) for c in cells[:6]]
    by_px = top_confusions(cm, names, n=3)
    assert by_px["pixels"].tolist() == sorted((c[1] for c in cells), reverse=True)[:3]


# ---------------------------------------------------------------- stakeholder mode
def _steps(at) -> list[str]:
    titles = []
    while True:
        titles.append(at.header[0].value)
        body = " ".join(e.value for e in [*at.caption, *at.markdown] if isinstance(e.value, str))
        assert "click" not in body.lower()  # captions that make sense in a meeting
        assert str(ROOT) not in body and "ignore ids" not in body.lower()
        nxt = at.button(key="pr:next")
        if nxt.disabled:
            return titles
        nxt.click().run()
        assert not at.exception, at.exception


def test_presentation_steps_with_two_models(monkeypatch, baseline):
    at = run_app(monkeypatch, query={"present": "1"})
    assert not at.exception
    s = baseline.summary()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["mIoU"] == f"{100 * s['mean_iou']:.2f} %"
    assert any(c.value.startswith("95 % interval") for c in at.caption)
    # the sidebar (upload box, ignore ids, paths) is drawn but hidden, with Streamlit's chrome
    css = next(m.value for m in at.markdown if "<style>" in m.value)
    assert (
        '[data-testid="stSidebar"]' in css and '[data-testid="stToolbar"]' in css and "display: none" in css
    )
    titles = _steps(at)
    assert [unmarked(t) for t in titles] == [
        "How good is the model overall?",
        "Which classes does it get right?",
        "What does it confuse?",
        "Where does it fail worst?",
        "What changed from baseline to candidate?",
    ]
    assert any('class="pr-step">5 / 5<' in m.value for m in at.markdown)
    at.button(key="pr:prev").click().run()
    assert at.header[0].value == titles[3]
    at.button(key="pr:report").click().run()
    html = at.session_state["pr:report_html"]
    assert html.startswith("<!DOCTYPE html>") and "sample_data" in html and "candidate" in html
    at.button(key="pr:exit").click().run()
    assert not at.exception
    assert "present" not in at.query_params and at.session_state["present"] is False


def test_presentation_without_a_second_model_skips_the_change_step(monkeypatch, tiny_dataset):
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny", query={"present": "1"})
    assert not at.exception
    assert _steps(at)[-1] == "Where does it fail worst?"
    assert any('class="pr-step">4 / 4<' in m.value for m in at.markdown)


def test_panel_hover_escapes_class_names():
    """Class names are untrusted: plotly reads markup in hover text, so they are escaped."""
    from segviz.panels import linked_panels_figure

    rgb = np.zeros((4, 4, 3), np.uint8)
    gt = np.zeros((4, 4), np.uint8)
    pred = np.ones((4, 4), np.uint8)
    names = ['<a href="x">road</a>', "car"]
    fig = linked_panels_figure([("Photo", rgb)] * 4, gt, pred, names, names, full_size=(8, 8), step=2)
    hover = [t for t in fig.data if t.type == "heatmap"]
    assert len(hover) == 4 and all(t.xaxis == a for t, a in zip(hover, ["x", "x2", "x3", "x4"], strict=True))
    assert hover[0].text[0][0] == '&lt;a href="x"&gt;road&lt;/a&gt;</b><br>pred: <b>car'
    # display pixels 1 and 3 (of 4) cover full-resolution [2, 4) and [6, 8): their centres
    assert list(hover[0].x) == [3.0, 7.0] and list(hover[0].y) == [3.0, 7.0]
