"""Issue 17 (the dashboard at 100,000 images), the parts AppTest can pin on small data: nothing
O(N) on a page run that changes no data, the rule by which a changed file is noticed, the Images
view's table sorted, filtered and paged on the server, the bootstrap in the background, and the
byte-bounded cache's size estimate. The timings are in benchmarks/bench_app.py."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from test_signatures import stat_counter

import conftest
from conftest import ROOT, save_mask, unmarked
from segviz import evaluate, open_dataset


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_app(monkeypatch, **kwargs):
    return conftest.run_app(monkeypatch, timeout=60, **kwargs)


def _wait_for(name: str, timeout: float = 60) -> None:
    t0 = time.time()
    while any(t.name == name and t.is_alive() for t in threading.enumerate()):
        assert time.time() - t0 < timeout, f"{name} still running"
        time.sleep(0.02)


def _pixel_accuracy(at) -> str:
    return {m.label: m.value for m in at.metric}["Pixel accuracy"]


def _rewrite_in_place(path, array) -> None:
    """The same file name, new pixels, a later mtime (what a re-run of a model writes)."""
    save_mask(path, np.array(array))
    later = time.time_ns() + 10**9
    os.utime(path, ns=(later, later))


# ---------------------------------------------------------------- no O(N) work per page run
def test_the_first_open_stats_each_mask_once(monkeypatch):
    """Regression (issue 17, profiled at 100,000 images): opening a dataset stat'ed every mask twice
    (the dashboard's fingerprint, then the store's keys) and built a ``Path`` per file for the
    first (3.4 s of an 8.7 s first overview). The fingerprint is the store's keys, taken once and
    handed to the count."""
    stat_calls = stat_counter(monkeypatch)  # (os.stat and the C extension's stat_many)
    at = run_app(monkeypatch, query={"model": "baseline"})
    stats = list(stat_calls.elements())
    assert not at.exception
    masks = [p for p in stats if p.endswith(".png") and ("/gt/" in p or "/pred/baseline/" in p)]
    dataset = open_dataset(ROOT / "sample_data", model="baseline")
    assert len(masks) == 2 * len(dataset.pairs)  # each once
    assert len(set(masks)) == len(masks)


def test_a_page_run_stats_no_mask(monkeypatch):
    """Regression (issue 17): every whole-page run stat'ed every mask (fingerprint: ≈2 s at
    100,000 images) and walked every folder (listing every file). Now a run that changes no data
    stats the dataset's folders only."""
    from segviz.dashboard import cache

    at = run_app(monkeypatch, query={"model": "baseline"})
    assert not at.exception
    calls = {"fingerprint": 0, "walk": 0}
    real_fp, real_walk = cache.fingerprint, cache.folder_signature
    monkeypatch.setattr(
        cache,
        "fingerprint",
        lambda d: calls.__setitem__("fingerprint", calls["fingerprint"] + 1) or real_fp(d),
    )
    monkeypatch.setattr(
        cache, "folder_signature", lambda r: calls.__setitem__("walk", calls["walk"] + 1) or real_walk(r)
    )
    stat_calls = stat_counter(monkeypatch)  # (os.stat and the C extension's stat_many)
    at.run()
    at.segmented_control(key="cm:norm").set_value("column").run()
    stats = list(stat_calls.elements())
    assert not at.exception
    assert calls == {"fingerprint": 0, "walk": 0}
    masks = [p for p in stats if p.endswith(".png") and ("/gt/" in p or "/pred/" in p)]
    assert masks == [], masks[:5]


# ---------------------------------------------------------------- how a changed file is noticed
def test_a_file_rewritten_in_place_is_noticed_when_checked(monkeypatch, tiny_dataset):
    """The rule (README, "The dashboard at 100,000 images"): a file rewritten in place is noticed by
    the next check of every mask — the "Check files now" button, or the background check every
    CHECK_EVERY_S seconds — never silently assumed; the sidebar says when the files were checked."""
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny")
    assert not at.exception, at.exception
    assert _pixel_accuracy(at) == f"{800 / 11:.2f} %"  # 8 of 11 labelled pixels (tests/conftest.py)
    assert any("Results checked against the files at" in c.value for c in at.sidebar.caption)
    _rewrite_in_place(tiny_dataset / "pred" / "a.png", [[0, 0, 1], [1, 0, 2]])  # one more right
    at.run()
    assert _pixel_accuracy(at) == f"{800 / 11:.2f} %"  # not checked yet: the results as last checked
    at.button(key="files:check").click().run()
    assert not at.exception, at.exception
    assert _pixel_accuracy(at) == f"{900 / 11:.2f} %"
    assert any("Files changed on disk" in i.value for i in at.info)
    fresh = evaluate(open_dataset(tiny_dataset))
    assert _pixel_accuracy(at) == f"{100 * fresh.summary()['pixel_accuracy']:.2f} %"


def test_the_background_check_finds_a_rewritten_file(monkeypatch, tiny_dataset):
    """Every CHECK_EVERY_S seconds a page run starts a check in a background thread; the run after
    it found a change shows the new results with a notice."""
    from segviz.dashboard import cache

    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny")
    _rewrite_in_place(tiny_dataset / "pred" / "a.png", [[0, 0, 1], [1, 0, 2]])
    monkeypatch.setattr(cache, "CHECK_EVERY_S", 0.0)
    at.run()  # starts the check (which may end before this run reads the results: then it says so)
    said = [i.value for i in at.info]
    _wait_for("segviz-file-check")
    at.run()
    assert not at.exception, at.exception
    assert _pixel_accuracy(at) == f"{900 / 11:.2f} %"
    said += [i.value for i in at.info]
    assert sum("Files changed on disk" in text for text in said) == 1  # said once, with the new results


def test_an_added_image_is_noticed_on_the_next_page_run(monkeypatch, tiny_dataset):
    """A file added, removed or renamed changes its folder's mtime: one stat per folder on every
    page run notices it, without a check of every mask."""
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny")
    assert any(unmarked(c.value).startswith("2 images") for c in at.caption)
    for part, values in (("gt", [[0, 0, 0], [1, 1, 1]]), ("pred", [[0, 0, 0], [1, 1, 1]])):
        save_mask(tiny_dataset / part / "c.png", np.array(values))
    for part in ("gt", "pred"):  # (a coarse file-system clock: make the folders' change visible)
        later = time.time_ns() + 10**9
        os.utime(tiny_dataset / part, ns=(later, later))
    at.run()
    assert not at.exception, at.exception
    assert any(unmarked(c.value).startswith("3 images") for c in at.caption)


# ---------------------------------------------------------------- the Images view's table
def _order(result, column: str = "mean_iou", ascending: bool = True) -> list[str]:
    frame = result.image_frame()
    return frame.sort_values(column, ascending=ascending, na_position="last", kind="stable")["name"].tolist()


def test_the_image_table_is_paged_on_the_server(monkeypatch):
    """Regression (issue 17): the whole per-image table went to the browser (at 100,000 images the
    styled table raised: 500,000 cells > pandas' 262,144). Now one page of PAGE_ROWS rows is sent
    and the page follows the current image."""
    from segviz.dashboard.views import images

    monkeypatch.setattr(images, "PAGE_ROWS", 5)
    baseline = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    order = _order(baseline)
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images", "image": order[4]})
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["name"].tolist() == order[:5] and table.loc[table["now"] == "▶", "name"].tolist() == [
        order[4]
    ]
    assert any("Rows 1–5 of 24 · page 1 of 5" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Next ▶").click().run()  # the 6th image: page 2
    table = at.dataframe[0].value
    assert table["name"].tolist() == order[5:10] and at.session_state["image"] == order[5]
    at.button(key="im:page_next").click().run()  # paging does not change the image
    assert at.dataframe[0].value["name"].tolist() == order[10:15] and at.session_state["image"] == order[5]


def test_the_image_table_sorts_and_filters_on_the_server(monkeypatch):
    """Sort by any column (n/a last), filter by a class present in the ground truth: the same
    order as pandas over the library's own per-image table."""
    baseline = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images"})
    at.selectbox(key="im:sort").set_value("PA ↓").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["name"].tolist() == _order(baseline, "pixel_accuracy", ascending=False)
    name = baseline.table.names[3]  # wall: in the ground truth of 14 of the 24 images
    at.selectbox(key="im:class").set_value(name).run()
    at.selectbox(key="im:sort").set_value("class IoU ↑").run()
    shown = at.dataframe[0].value
    assert shown["name"].tolist() == _order(baseline, f"iou:{name}")
    frame = baseline.image_frame().set_index("name")
    got = shown.set_index("name")[f"IoU {name}"].to_numpy()
    want = frame.loc[shown["name"], f"iou:{name}"].to_numpy() * 100
    assert np.allclose(got, want, equal_nan=True)
    at.selectbox(key="im:contains").set_value(name).run()
    _, gt, _ = baseline.image_counts()
    having = {n for n, c in zip(baseline.names, gt[:, 3], strict=True) if c > 0}
    assert 0 < len(having) < 24
    assert at.dataframe[0].value["name"].tolist() == [
        n for n in _order(baseline, f"iou:{name}") if n in having
    ]


# ---------------------------------------------------------------- the bootstrap in the background
def test_large_datasets_get_their_intervals_in_the_background(monkeypatch):
    """Above BACKGROUND_ABOVE images the Overview is drawn at once, says the intervals are being
    computed, and shows them (the same numbers) once the background thread is done."""
    from segviz.dashboard.views import overview
    from segviz.stats import bootstrap

    monkeypatch.setattr(overview, "BACKGROUND_ABOVE", 0)
    at = run_app(monkeypatch, query={"model": "baseline"})
    assert not at.exception, at.exception
    assert any("computing in the background" in c.value for c in at.caption)
    _wait_for("segviz-background")
    at.run()
    assert not any("computing in the background" in c.value for c in at.caption)
    iv = bootstrap(evaluate(open_dataset(ROOT / "sample_data", model="baseline")), resamples=1000).summary[
        "mean_iou"
    ]
    assert any(f"mIoU 95 % interval {100 * iv.low:.2f} %" in c.value for c in at.caption)


# ---------------------------------------------------------------- the cache's size estimate
def test_size_of_a_long_list_is_estimated_not_walked(monkeypatch):
    """Regression (issue 17): size_of walked each of a dataset's pairs (20 s of a 40 s first
    overview at 100,000 images). A long list is now measured on SIZE_SAMPLE of its items, and the
    estimate is within 10 % of the full walk here."""
    from segviz.dashboard import cache

    rng = np.random.default_rng(0)
    items = [
        {"a": np.zeros(int(n), np.uint8), "b": "x" * int(m)} for n, m in rng.integers(1, 400, (20_000, 2))
    ]
    real = cache.size_of
    calls = []
    monkeypatch.setattr(cache, "size_of", lambda v, *a: calls.append(1) or real(v, *a))
    limit = cache.SIZE_SAMPLE
    estimate = real(items)
    sampled = len(calls)  # (each sampled dict: itself, its keys and values)
    monkeypatch.setattr(cache, "SIZE_SAMPLE", 10**9)
    calls.clear()
    exact = real(items)
    assert sampled <= 6 * limit and len(calls) >= 5 * len(items)
    assert abs(estimate - exact) < 0.1 * exact


# ---------------------------------------------------------------- what the cache keeps
def test_large_datasets_keep_the_evaluation_not_the_raw_counts(monkeypatch):
    """Above KEEP_COUNTS_UP_TO images the raw counts are dropped once folded (two models' counts
    and evaluations did not fit the cache at 100,000 images); changing the ignore ids then counts
    again from the results store and gives what the library gives."""
    from segviz.dashboard import cache

    monkeypatch.setattr(cache, "KEEP_COUNTS_UP_TO", 0)
    at = run_app(monkeypatch, query={"model": "baseline"})
    assert not at.exception, at.exception
    before = _pixel_accuracy(at)
    kinds = {k[0] for k in cache.results_cache()._data}
    assert "fold" in kinds and "counts" not in kinds
    at.text_input(key=next(k for k in _widget_keys(at) if k.startswith("ignore:"))).set_value("255,0").run()
    assert not at.exception, at.exception
    table = open_dataset(ROOT / "sample_data", model="baseline").table.with_ignore((255, 0))
    expected = evaluate(open_dataset(ROOT / "sample_data", model="baseline", classes=table))
    assert _pixel_accuracy(at) == f"{100 * expected.summary()['pixel_accuracy']:.2f} %" != before


def _widget_keys(at) -> list[str]:
    return [w.key for w in at.text_input if w.key]
