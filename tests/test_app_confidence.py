"""The dashboard's Confidence view and the Images view's confidence overlays, driven by AppTest.

The numbers shown are checked against the library (segviz.confidence, segviz.review) and, for the
threshold slider and the confidently wrong pixels, against a brute-force loop over the files.
"""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import conftest
from conftest import ROOT, unmarked
from segviz import open_dataset
from segviz.confidence import evaluate_confidence
from segviz.review import HYPOTHESIS, find_label_errors, rank_next

SAMPLE = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def clear_caches():
    """Caches survive between AppTest instances in one process (shared/NOTES.md)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_app(monkeypatch, **kwargs) -> AppTest:
    return conftest.run_app(monkeypatch, timeout=120, **kwargs)


def tiles(at: AppTest) -> dict:
    """label -> (value, help) of every metric tile."""
    return {m.label: (m.value, m.proto.help) for m in at.metric}


def pts(value: float) -> str:
    return f"{100 * value:.2f} pts"


def pct(value: float) -> str:
    return f"{100 * value:.2f} %"


@pytest.mark.parametrize("model", ["baseline", "candidate"])
def test_confidence_view_shows_the_library_numbers(monkeypatch, model):
    conf = evaluate_confidence(open_dataset(SAMPLE, model=model))
    cal, rc = conf.calibration(), conf.risk_coverage()
    at = run_app(monkeypatch, query={"view": "Confidence", "model": model})
    assert not at.exception, at.exception
    shown = tiles(at)
    for label, value in (("ECE", cal.ece), ("ACE", cal.ace), ("MCE", cal.mce), ("AURC", rc.aurc)):
        assert shown[label][0] == pts(value)
        assert shown[label][1].endswith(f"= {value:.7g}")
    assert shown["E-AURC"][0] == pts(rc.e_aurc)
    assert shown["AUROC"][0] == pct(rc.auroc)
    cw = conf.classwise_ece()
    if model == "candidate":  # full probabilities: class-wise ECE
        assert cw is not None and shown["Class-wise ECE"][0] == pts(cw["mean"])
    else:
        assert cw is None and "Class-wise ECE" not in shown
    assert any(cal.sentence() == m.value for m in at.markdown)
    figure = next(c for c in at.get("plotly_chart") if "cf:reliability" in c.proto.id)
    assert "ECE" in figure.proto.spec


def test_camvid_reference_values(monkeypatch, shared_data):
    """The shared data's calibration reference (camvid-val / tinyfcn, 15 bins): ECE 0.0081307,
    ACE 0.0149096, MCE 0.0379449."""
    at = run_app(
        monkeypatch, root=shared_data, dataset="camvid-val", query={"view": "Confidence", "model": "tinyfcn"}
    )
    assert not at.exception, at.exception
    shown = tiles(at)
    for label, value, reference in (
        ("ECE", "0.81 pts", 0.0081307),
        ("ACE", "1.49 pts", 0.0149096),
        ("MCE", "3.79 pts", 0.0379449),
    ):
        assert shown[label][0] == value
        assert abs(float(shown[label][1].rsplit("= ", 1)[1]) - reference) < 5e-8
    assert any("17,155,529 non-ignored pixels" in c.value for c in at.caption)


def _brute_force_threshold(model: str, t: float) -> tuple[float, float, np.ndarray]:
    """(share kept, pixel accuracy, per-class IoU) of the pixels with confidence ≥ t, read straight
    from the PNGs of sample_data (8-bit maps: kept ⟺ v ≥ ceil(255·t))."""
    j = math.ceil(255 * t - 1e-9)
    k = 19
    cm = np.zeros((k, k), np.int64)
    total = 0
    for gt_path in sorted((SAMPLE / "gt").glob("*.png")):
        gt = np.asarray(Image.open(gt_path)).astype(np.int64)
        pred = np.asarray(Image.open(SAMPLE / "pred" / model / gt_path.name)).astype(np.int64)
        v = np.asarray(Image.open(SAMPLE / "conf" / model / gt_path.name))
        valid = gt != 255
        total += int(valid.sum())
        keep = valid & (v >= j)
        np.add.at(cm, (gt[keep], pred[keep]), 1)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    return cm.sum() / total, tp.sum() / cm.sum(), iou


def test_threshold_slider_changes_the_numbers_as_the_explorer_says(monkeypatch):
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    before = tiles(at)
    at.slider(key="cf:t").set_value(0.9).run()
    assert not at.exception
    after = tiles(at)
    kept, pa, iou = _brute_force_threshold("baseline", 0.9)
    assert after["Threshold used"][0] == "≥ 0.902"
    assert after["Pixels kept"][0] == pct(kept) != before["Pixels kept"][0]
    assert after["Pixel accuracy"][0] == pct(pa) != before["Pixel accuracy"][0]
    assert after["mIoU"][0] == pct(np.nanmean(iou))
    table = next(d.value for d in at.dataframe if "IoU ≥ t %" in d.value.columns)
    np.testing.assert_allclose(table["IoU ≥ t %"].to_numpy(float), iou * 100, rtol=1e-9, equal_nan=True)
    # and the per-class best threshold is the library's
    explorer = evaluate_confidence(open_dataset(SAMPLE, model="baseline")).threshold_explorer()
    best = explorer.best_thresholds(min_kept=0.5)
    np.testing.assert_allclose(table["best t"].to_numpy(float), best["threshold"], equal_nan=True)
    figure = next(c for c in at.get("plotly_chart") if "cf:thresholds" in c.proto.id)
    assert '"x0":0.9019607843137255' in figure.proto.spec.replace(" ", "")


def test_iou_curves_are_chosen_by_class_index(monkeypatch):
    """The class box holds class indices and shows the names through widgets.plain (it held the
    marked names and looked the choice up by its display text); the curve is the explorer's."""
    import base64
    import json

    explorer = evaluate_confidence(open_dataset(SAMPLE, model="baseline")).threshold_explorer()
    names = list(open_dataset(SAMPLE, model="baseline").table.names)
    person = names.index("person")
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    box = at.multiselect(key="cf:classes")
    assert box.options == names  # what a viewer reads: the names (plain text)
    box.select(person).run()
    assert not at.exception
    spec = json.loads(next(c for c in at.get("plotly_chart") if "cf:thresholds" in c.proto.id).proto.spec)
    curves = [t for t in spec["data"] if t["name"].startswith("IoU ")]
    assert [unmarked(t["name"]) for t in curves] == ["IoU person"]
    y = curves[0]["y"]
    if isinstance(y, dict):  # plotly's typed array
        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    np.testing.assert_allclose(np.asarray(y, float), explorer.curve()["iou"][:, person], equal_nan=True)
    table = next(d.value for d in at.dataframe if "IoU ≥ t %" in d.value.columns)
    assert table["class"].tolist() == names


def test_view_absent_without_confidence_and_a_link_lands_on_a_valid_view(monkeypatch, shared_data):
    at = run_app(
        monkeypatch, root=shared_data, dataset="camvid-val", query={"view": "Confidence", "model": "pixelgbm"}
    )
    assert not at.exception
    assert at.session_state["view"] == "Overview"
    assert "Confidence" not in at.radio(key="view").options
    assert any(
        "The Confidence view needs confidence maps or probabilities for this model" in w.value
        for w in at.warning
    )
    assert at.query_params["view"] == "Overview"
    at.selectbox(key="model").select("tinyfcn").run()  # the model with confidence offers it
    assert "Confidence" in at.radio(key="view").options


def test_view_absent_on_a_dataset_without_confidence(monkeypatch, tiny_dataset):
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny", query={"view": "Confidence"})
    assert not at.exception
    assert at.session_state["view"] == "Overview" and "Confidence" not in at.radio(key="view").options
    assert any("The Confidence view needs" in w.value for w in at.warning)


def test_likely_label_errors_queue(monkeypatch):
    dataset = open_dataset(SAMPLE, model="baseline")
    queue = find_label_errors(evaluate_confidence(dataset), dataset)
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    assert any(HYPOTHESIS in i.value for i in at.info)
    assert not any(d.value.columns.tolist()[:2] == ["rank", "image"] for d in at.dataframe)  # built on demand
    at.button(key="cf:le_run").click().run()
    assert not at.exception
    images = queue.image_frame()
    images = images[images["regions"] > 0]
    shown = next(d.value for d in at.dataframe if "flagged_pixels" in d.value.columns)
    assert shown["image"].tolist() == images["image"].tolist()
    regions = next(d.value for d in at.dataframe if "model_says" in d.value.columns)
    assert len(regions) == len(queue.regions) and regions["pixels"].tolist() == [
        r.pixels for r in queue.regions
    ]
    assert {b.label for b in at.get("download_button")} >= {"images.csv", "regions.csv", "label_errors.json"}
    at.run()  # computed once, then shown from the shared cache without a click
    assert any("flagged_pixels" in d.value.columns for d in at.dataframe)


def test_queue_zip_holds_the_region_masks():
    from segviz.dashboard.views.confidence import queue_zip

    dataset = open_dataset(SAMPLE, model="baseline")
    queue = find_label_errors(evaluate_confidence(dataset), dataset)
    with zipfile.ZipFile(io.BytesIO(queue_zip(queue))) as zf:
        names = set(zf.namelist())
        assert {"images.csv", "regions.csv", "label_errors.json"} <= names
        for image, mask in queue.masks.items():
            png = np.asarray(Image.open(io.BytesIO(zf.read(f"masks/{image}.png"))))
            np.testing.assert_array_equal(png, mask)


def test_what_to_label_next(monkeypatch):
    dataset = open_dataset(SAMPLE, model="baseline")
    ranked = rank_next(
        evaluate_confidence(dataset), dataset, unlabelled=SAMPLE / "unlabelled", model="baseline"
    )
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    at.button(key="cf:next_run").click().run()
    assert not at.exception
    shown = tiles(at)
    assert shown["ρ fitted model"][0] == f"{ranked.spearman_model:+.3f}"
    assert shown["ρ mean confidence"][0] == f"{ranked.spearman_uncertainty:+.3f}"
    assert shown["Unlabelled images"][0] == "4"
    table = next(d.value for d in at.dataframe if "expected_error" in d.value.columns)
    assert table["image"].tolist() == ranked.frame["image"].tolist()
    assert any(b.label == "next_to_label.csv" for b in at.get("download_button"))


def test_image_view_confidently_wrong_pixels(monkeypatch):
    at = run_app(monkeypatch, query={"view": "Images", "model": "baseline", "image": "street_003"})
    assert not at.exception
    at.slider(key="cf:im_t").set_value(0.8).run()
    gt = np.asarray(Image.open(SAMPLE / "gt" / "street_003.png")).astype(np.int64)
    pred = np.asarray(Image.open(SAMPLE / "pred" / "baseline" / "street_003.png")).astype(np.int64)
    v = np.asarray(Image.open(SAMPLE / "conf" / "baseline" / "street_003.png")).astype(np.float64)
    wrong = (gt != 255) & (pred != gt)
    sure = int((wrong & (v / 255 >= 0.8)).sum())
    assert sure > 0
    assert any(f"{sure:,} px wrong with confidence ≥ 0.80" in m.value for m in at.markdown)
    assert at.segmented_control(key="cf:im_kind").options == ["1 − confidence"]


def test_image_view_entropy_with_probabilities(monkeypatch):
    at = run_app(monkeypatch, query={"view": "Images", "model": "candidate"})
    assert not at.exception
    assert at.segmented_control(key="cf:im_kind").options == ["1 − confidence", "entropy"]
    at.segmented_control(key="cf:im_kind").set_value("entropy").run()
    assert not at.exception


def test_second_open_reads_no_confidence_map(monkeypatch):
    """The per-image rows are kept under the results store: a fresh server process (empty app
    caches) opening the view again reads no map."""
    import segviz.confidence

    run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    reads = []
    original = segviz.confidence.read_confidence
    monkeypatch.setattr(
        segviz.confidence, "read_confidence", lambda *a, **k: reads.append(a) or original(*a, **k)
    )
    import streamlit as st

    st.cache_resource.clear()  # what a restart does to the dashboard's caches
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    assert not at.exception
    assert reads == [] and tiles(at)["ECE"][0].endswith("pts")


def test_per_image_calibration_table(monkeypatch):
    conf = evaluate_confidence(open_dataset(SAMPLE, model="candidate"))
    expected = conf.image_frame().sort_values("ece", ascending=False, kind="stable")
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "candidate"})
    table = next(d.value for d in at.dataframe if "mean_margin" in d.value.columns)
    assert table["name"].tolist() == expected["name"].tolist()
    np.testing.assert_allclose(table["ece"].to_numpy(float), expected["ece"].to_numpy() * 100)


# ---------------------------------------------------------------------- likely label errors drawn
def _queue(model: str = "baseline"):
    dataset = open_dataset(SAMPLE, model=model)
    return find_label_errors(evaluate_confidence(dataset), dataset)


def test_label_error_regions_are_drawn_on_one_image_with_a_toggle(monkeypatch):
    """Issue 14 follow-up (label-error regions were listed but never drawn): after the queue is
    found, the Confidence view draws the regions of the image chosen (the top one by default) on
    its ground truth and prediction; the toggle hides them, the style switches to hatched."""
    queue = _queue()
    first = queue.image_frame().query("regions > 0")["image"].tolist()
    at = run_app(monkeypatch, query={"view": "Confidence", "model": "baseline"})
    at.button(key="cf:le_run").click().run()
    assert not at.exception, at.exception
    box = at.selectbox(key="cf:le_image")
    assert box.options == first and box.value == first[0]
    mine = [r for r in queue.regions if r.image == first[0]]
    legend = next(m.value for m in at.markdown if "likely label error region" in m.value)
    assert f"{len(mine):,} likely label error region" in legend and "(drawn;" in legend
    top = mine[0]
    assert (
        f"1: {top.pixels:,} px labelled" in legend
        and f"(mean confidence {top.mean_confidence:.3f})" in legend
    )
    assert [i.proto.imgs[0].caption for i in at.get("image")][-2:] == ["ground truth", "prediction"]
    at.toggle(key="cf:le_show").set_value(False).run()
    assert not at.exception
    assert any("(hidden;" in m.value for m in at.markdown)
    at.toggle(key="cf:le_show").set_value(True).run()
    at.segmented_control(key="cf:le_style").set_value("hatched").run()
    assert not at.exception
    other = first[-1]
    at.selectbox(key="cf:le_image").select(other).run()
    assert not at.exception
    n = sum(1 for r in queue.regions if r.image == other)
    assert any(f"{n:,} likely label error region" in m.value for m in at.markdown)


def test_images_view_outlines_the_queue_of_the_same_files_only(monkeypatch):
    """The Images view outlines the regions of the queue found in the Confidence view — for the
    same ground-truth and prediction files only (another model's queue is never drawn)."""
    queue = _queue()
    image = queue.image_frame().query("regions > 0")["image"].tolist()[0]
    n = sum(1 for r in queue.regions if r.image == image)
    at = run_app(monkeypatch, query={"view": "Images", "model": "baseline", "image": image})
    assert not at.exception
    assert any("find them in the Confidence view" in m.value for m in at.markdown)
    assert not any(t.key == "cf:im_le" for t in at.toggle)
    at.session_state["view"] = "Confidence"
    at.run()
    at.button(key="cf:le_run").click().run()
    at.session_state["view"] = "Images"
    at.run()
    assert not at.exception, at.exception
    assert at.toggle(key="cf:im_le").value is True
    assert any(f"{n:,} likely label error region" in m.value and "(drawn;" in m.value for m in at.markdown)
    at.toggle(key="cf:im_le").set_value(False).run()
    assert any("(hidden;" in m.value for m in at.markdown)
    # the candidate model's files differ: the baseline's queue is not drawn on them
    at.selectbox(key="model").select("candidate").run()
    assert not at.exception
    assert not any(t.key == "cf:im_le" for t in at.toggle)
    assert any("find them in the Confidence view" in m.value for m in at.markdown)
