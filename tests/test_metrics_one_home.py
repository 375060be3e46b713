"""One formula, one home: every public entry point that reports a metric gives exactly the numbers of
:func:`segviz.metrics.from_counts` (NaN in the same places), on random counts with absent classes.

Regression (issue 12): IoU was written four times (metrics, stats, conventions,
``Evaluation.image_frame``); the copies agreed only as long as nobody changed one of them. The
hand-computed and scikit-learn checks of the formulas themselves are in test_metrics.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segviz import conventions, metrics, stats
from segviz.classes import ClassTable
from segviz.dataset import Pair
from segviz.evaluate import Evaluation


@st.composite
def image_matrices(draw, max_images: int = 5, max_classes: int = 6) -> np.ndarray:
    """int64 (N, K, K+1) per-image confusion matrices in which some classes are absent from the
    ground truth (row zeroed), from the prediction (column zeroed), or from both, per image."""
    n = draw(st.integers(1, max_images))
    k = draw(st.integers(1, max_classes))
    cm = draw(arrays(np.int64, (n, k, k + 1), elements=st.integers(0, 50)))
    no_gt = draw(arrays(np.bool_, (n, k)))
    no_pred = draw(arrays(np.bool_, (n, k)))
    cm[no_gt] = 0
    cm[:, :, :k] *= ~no_pred[:, None, :]
    return cm


def assert_same(got, expected, what: str) -> None:
    """Bit-for-bit equal values, NaN in the same places, same shape."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{what}: NaN placement")
    np.testing.assert_array_equal(got, expected, err_msg=what)


def evaluation_of(stack: np.ndarray) -> Evaluation:
    """An Evaluation holding exactly these per-image matrices (sparse rows of the non-zero cells)."""
    n, k, _ = stack.shape
    img, g, p = np.nonzero(stack)
    rows = np.stack([img, g, p, stack[img, g, p]], axis=1).astype(np.int64)
    names = [f"im{i}" for i in range(n)]
    pairs = [Pair(x, Path(f"gt/{x}.png"), Path(f"pred/{x}.png")) for x in names]
    return Evaluation(
        ClassTable.generated(range(k)), names, pairs, stack.sum(axis=0), rows, np.zeros(n, np.int64)
    )


PER_CLASS = metrics.CLASS_METRICS
SUMMARY = (*metrics.SUMMARY_METRICS, *metrics.SUMMARY_COUNTS)


@settings(max_examples=60, deadline=None)
@given(stack=image_matrices())
def test_metrics_wrappers_are_from_counts(stack):
    for cm in (stack[0], stack):  # one matrix (K, K+1) and a stack (N, K, K+1)
        every = metrics.from_counts(*metrics.counts(cm))
        per = metrics.class_metrics(cm)
        for name in PER_CLASS:
            assert_same(per[name], every[name], name)
        summary = metrics.summary_metrics(cm)
        assert list(summary) == list(SUMMARY)
        for name in SUMMARY:
            assert_same(summary[name], every[name], name)
        assert_same(metrics.iou(*metrics.counts(cm)), every["iou"], "iou")


@settings(max_examples=60, deadline=None)
@given(stack=image_matrices(max_images=8))
def test_stats_formulas_are_from_counts(stack):
    """The bootstrap's formulas, on (B, K) float counts like its resamples."""
    tp, gt, pred = (x.astype(np.float64) for x in metrics.counts(stack))
    every = metrics.from_counts(tp, gt, pred)
    assert_same(stats.iou_from_counts(tp, gt, pred), every["iou"], "iou_from_counts")
    summary = stats.summary_from_counts(tp, gt, pred)
    assert list(summary) == list(stats.SUMMARY_KEYS)
    for name in stats.SUMMARY_KEYS:
        assert_same(summary[name], every[name], name)


@settings(max_examples=60, deadline=None)
@given(stack=image_matrices())
def test_conventions_use_the_shared_iou(stack):
    tp, gt, pred = metrics.counts(stack)  # (N, K) each
    dataset = metrics.from_counts(tp.sum(axis=0), gt.sum(axis=0), pred.sum(axis=0))
    per_image = metrics.from_counts(tp, gt, pred)
    value, n = conventions.dataset_union_mean(tp, gt, pred)  # segviz's own rule: exactly its mIoU
    assert_same(value, dataset["mean_iou"], "dataset_union_mean")
    assert n == dataset["mean_iou_classes"]
    present = gt.sum(axis=0) > 0  # detectron2: its own class rule over the shared IoU
    value, n = conventions.dataset_gt_mean(tp, gt, pred)
    assert_same(value, dataset["iou"][present].mean() if present.any() else np.nan, "dataset_gt_mean")
    assert n == present.sum()
    iou = per_image["iou"]  # torchmetrics MeanIoU: one mean over (image, class) pairs
    value, _ = conventions.pooled_image_class_mean(tp, gt, pred)
    assert_same(value, iou[~np.isnan(iou)].mean() if (~np.isnan(iou)).any() else np.nan, "pooled")
    miou = per_image["mean_iou"]  # mean of the per-image mIoU
    value, n = conventions.image_mean_of_means(tp, gt, pred)
    assert_same(value, miou[~np.isnan(miou)].mean() if (~np.isnan(miou)).any() else np.nan, "image_mean")
    assert n == (~np.isnan(iou)).any(axis=0).sum()


@settings(max_examples=40, deadline=None)
@given(stack=image_matrices())
def test_evaluation_tables_are_from_counts(stack):
    ev = evaluation_of(stack)
    tp, gt, pred = ev.image_counts()
    np.testing.assert_array_equal(np.stack([tp, gt, pred]), np.stack(metrics.counts(stack)))
    per_image = metrics.from_counts(tp, gt, pred)
    images = ev.image_frame()
    for name in ("pixel_accuracy", "mean_iou"):
        assert_same(images[name].to_numpy(), per_image[name], f"image_frame {name}")
    iou_columns = images[[f"iou:{c}" for c in ev.table.names]].to_numpy()
    assert_same(iou_columns, per_image["iou"], "image_frame iou:<class>")
    dataset = metrics.from_counts(*metrics.counts(ev.confusion))
    classes = ev.class_frame()
    for name in PER_CLASS:
        assert_same(classes[name].to_numpy(), dataset[name], f"class_frame {name}")
    summary = ev.summary()
    for name in SUMMARY:
        assert_same(summary[name], dataset[name], f"summary {name}")
    exported = ev.to_dict()
    for name in metrics.SUMMARY_METRICS:
        value = dataset[name]
        assert exported[name] == (None if np.isnan(value) else float(value)), name


@settings(max_examples=20, deadline=None)
@given(stack=image_matrices(max_images=6))
def test_bootstrap_estimates_are_from_counts(stack):
    """The point estimates of an interval are the metrics of the full data."""
    ev = evaluation_of(stack)
    result = stats.bootstrap(ev, resamples=20)
    dataset = metrics.from_counts(*metrics.counts(ev.confusion))
    for name in stats.SUMMARY_KEYS:
        assert_same(result.summary[name].estimate, dataset[name], name)
    assert_same(result.classes["iou"].to_numpy(), dataset["iou"], "bootstrap iou")


def test_real_data_conventions_equal_the_summary(shared_data):
    """Regression: the "segviz" entry of "Which mIoU?" averaged its own way and differed from the
    summary's mIoU in the last bit on ADE20K csail-2018 (0.47340025766500693 vs
    0.4734002576650069); both are now the same from_counts value."""
    from segviz import evaluate, open_dataset

    ev = evaluate(open_dataset(shared_data / "ade20k-csail", model="csail-2018"))
    convention = conventions.miou_conventions(ev)[0]
    assert convention.key == "segviz"
    assert convention.value == ev.summary()["mean_iou"] == pytest.approx(0.47340, abs=5e-6)
