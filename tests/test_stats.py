"""Bootstrap over images: the metric helper, coverage on a simulated truth, determinism, pairing."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segviz import ClassTable, SegvizError, evaluate, metrics, open_dataset
from segviz.evaluate import Evaluation
from segviz.stats import (
    SUMMARY_KEYS,
    Interval,
    _replicates,
    bootstrap,
    iou_from_counts,
    paired_bootstrap,
    resample_weights,
    summary_from_counts,
)


def evaluation_from_rows(rows, num_classes: int, names=None) -> Evaluation:
    """An Evaluation built from sparse (image, gt, pred, count) rows; pred == K is invalid."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    rows = rows[rows[:, 3] > 0]
    n = int(rows[:, 0].max()) + 1 if names is None else len(names)
    cm = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
    np.add.at(cm, (rows[:, 1], rows[:, 2]), rows[:, 3])
    names = [f"img{i:04d}" for i in range(n)] if names is None else list(names)
    table = ClassTable.generated(range(num_classes))
    return Evaluation(table, names, [], cm, rows, np.zeros(n, dtype=np.int64))


def simulated(gt: np.ndarray, correct: np.ndarray, names=None) -> Evaluation:
    """Per image and class: ``gt`` pixels, of which ``correct`` are right and the rest predicted as
    the next class (N, K)."""
    n, k = gt.shape
    img, cls = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    right = np.stack([img, cls, cls, correct.ravel()], axis=1)
    wrong = np.stack([img, cls, (cls + 1) % k, (gt - correct).ravel()], axis=1)
    return evaluation_from_rows(np.concatenate([right, wrong]), k, names)


def beta_population(rng, n: int, *, mean: float, k: int = 3, concentration: float = 8.0):
    """Images of 200..2000 pixels split over k classes; each image's accuracy ~ Beta(mean, κ), so
    the population pixel accuracy (E correct / E pixels, sizes independent of accuracy) is ``mean``."""
    size = rng.integers(200, 2001, n)
    share = rng.dirichlet(np.ones(k), n)
    gt = rng.multinomial(size, share)
    accuracy = rng.beta(mean * concentration, (1 - mean) * concentration, n)
    return gt, rng.binomial(gt, accuracy[:, None])


# ---------------------------------------------------------------------- metric helper
def test_summary_from_counts_hand_checked():
    # TP, GT, PRED of 3 classes: IoU 2/4, 3/3, undefined (class 2 nowhere)
    tp, gt, pred = np.array([2, 3, 0]), np.array([3, 4, 0]), np.array([3, 3, 0])
    s = summary_from_counts(tp, gt, pred)
    assert s["pixel_accuracy"] == pytest.approx(5 / 7)
    assert s["mean_iou"] == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert s["mean_pixel_accuracy"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert s["frequency_weighted_iou"] == pytest.approx((3 * 2 / 4 + 4 * 3 / 4) / 7)
    assert s["mean_dice"] == pytest.approx((4 / 6 + 6 / 7) / 2)
    assert np.isnan(iou_from_counts(tp, gt, pred)[2])


def test_summary_from_counts_undefined_everything():
    s = summary_from_counts(np.zeros(2), np.zeros(2), np.zeros(2))
    assert all(math.isnan(s[k]) for k in SUMMARY_KEYS)


matrices = arrays(
    np.int64,
    st.tuples(st.integers(1, 4), st.integers(1, 6)).map(lambda t: (t[0], t[1], t[1] + 1)),
    elements=st.integers(0, 30) | st.just(0),
)


@settings(max_examples=200, deadline=None)
@given(stack=matrices)
def test_summary_from_counts_equals_summary_metrics(stack):
    ours = summary_from_counts(*metrics.counts(stack))
    ref = metrics.summary_metrics(stack)
    for key in SUMMARY_KEYS:
        np.testing.assert_allclose(ours[key], ref[key], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        iou_from_counts(*metrics.counts(stack)), metrics.class_metrics(stack)["iou"], equal_nan=True
    )


# ---------------------------------------------------------------------- resampling
def test_resample_weights_count_the_draws():
    w = resample_weights(5, resamples=4, seed=3)
    draws = np.random.default_rng(3).integers(0, 5, (4, 5))
    assert w.dtype == np.int64 and w.shape == (4, 5)
    for row, d in zip(w, draws, strict=True):
        assert row.tolist() == np.bincount(d, minlength=5).tolist()


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("chunk_weights", [7, 40, 1 << 22])
def test_resampled_sums_in_threads_equal_the_dense_weights_product(monkeypatch, threads, chunk_weights):
    """Issue #17 (compare at 100,000 images): the chunks drawn in this thread and multiplied in
    ``PRODUCT_THREADS`` threads give exactly the sums of the dense (resamples, n) weights, in
    resample order, whatever the threads and the chunk size (the same intervals as before, bit for bit)."""
    import scipy.sparse as sp

    import segviz.stats as stats_module

    monkeypatch.setattr(stats_module, "PRODUCT_THREADS", threads)
    monkeypatch.setattr(stats_module, "CHUNK_WEIGHTS", chunk_weights)
    rng = np.random.default_rng(2)
    dense = rng.integers(0, 5000, (13, 9)) * (rng.random((13, 9)) < 0.4)
    got = stats_module._resampled_sums(sp.csr_matrix(dense), 13, resamples=23, seed=4)
    pair = stats_module._resampled_sums(
        [sp.csr_matrix(dense[:, :4]), sp.csr_matrix(dense)], 13, resamples=23, seed=4
    )
    assert [p.tolist() for p in pair] == [got[:, :4].tolist(), got.tolist()]  # (the same weights for both)
    expected = resample_weights(13, resamples=23, seed=4) @ dense  # int64: an exact reference
    assert got.dtype == np.float64 and got.shape == (23, 9)
    assert got.tolist() == expected.astype(np.float64).tolist()


def test_one_resample_equals_the_metrics_of_the_drawn_images():
    rng = np.random.default_rng(5)
    gt, correct = beta_population(rng, 12, mean=0.7)
    ev = simulated(gt, correct)
    w = resample_weights(12, resamples=1, seed=11)[0]
    drawn = np.repeat(np.arange(12), w)
    cm = ev.image_confusions()[drawn].sum(axis=0)
    reps, iou = _replicates(ev.image_counts(), w[None, :])
    ref = metrics.summary_metrics(cm)
    for key in SUMMARY_KEYS:
        assert reps[key][0] == pytest.approx(ref[key])
    np.testing.assert_allclose(iou[0], metrics.class_metrics(cm)["iou"], equal_nan=True)


def test_point_estimate_is_the_metric_on_the_full_data(tiny_dataset):
    ev = evaluate(open_dataset(tiny_dataset))
    r = bootstrap(ev, resamples=50)
    s = ev.summary()
    for key in SUMMARY_KEYS:
        assert r.summary[key].estimate == pytest.approx(s[key])
    assert r.classes["iou"].tolist() == pytest.approx(ev.class_frame()["iou"].tolist())
    assert r.classes.columns.tolist() == ["id", "name", "iou", "low", "high"]
    assert r.classes["name"].tolist() == ["road", "car", "person"]
    assert (r.num_images, r.resamples, r.confidence, r.seed) == (2, 50, 0.95, 0)


def test_same_seed_same_intervals_other_seed_other_intervals():
    rng = np.random.default_rng(1)
    ev = simulated(*beta_population(rng, 40, mean=0.8))
    a, b, c = bootstrap(ev, seed=7), bootstrap(ev, seed=7), bootstrap(ev, seed=8)
    assert a.summary == b.summary
    assert a.classes.equals(b.classes)
    assert a.summary["mean_iou"].low != c.summary["mean_iou"].low


def test_one_image_collapses_the_interval():
    ev = simulated(np.array([[10, 5]]), np.array([[8, 5]]))
    r = bootstrap(ev, resamples=20)
    for iv in r.summary.values():
        assert iv.low == pytest.approx(iv.estimate) and iv.high == pytest.approx(iv.estimate)


def test_class_undefined_in_some_resamples():
    # class 2 appears in image 0 only (its errors make class 3 appear there too): the resamples that
    # miss image 0 leave both undefined, the others still give them an interval; class 4 appears
    # nowhere: NaN throughout. No warning either way.
    gt = np.zeros((10, 5), dtype=np.int64)
    gt[:, :2] = 50
    gt[0, 2] = 20
    correct = gt.copy()
    correct[:, 0] = 40  # errors of class 0 go to class 1
    correct[0, 2] = 16  # 4 pixels of class 2 predicted as class 3
    ev = simulated(gt, correct)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = bootstrap(ev, resamples=300)
    rows = r.classes.set_index("name")
    assert rows.loc["class_2", "iou"] == pytest.approx(0.8) and rows.loc["class_3", "iou"] == 0
    assert rows.loc["class_2", "low"] == pytest.approx(0.8) == rows.loc["class_2", "high"]
    assert rows.loc["class_3", "low"] == 0 == rows.loc["class_3", "high"]
    assert rows.loc["class_4", ["iou", "low", "high"]].isna().all()
    assert 0 < rows.loc["class_0", "low"] <= rows.loc["class_0", "high"] < 1


def test_options_are_checked():
    ev = simulated(np.array([[10, 5]]), np.array([[8, 5]]))
    with pytest.raises(ValueError, match=r"resamples must be a positive integer \(got 0\)"):
        bootstrap(ev, resamples=0)
    with pytest.raises(ValueError, match=r"confidence must be between 0 and 1, e.g. 0.95 \(got 95\)"):
        bootstrap(ev, confidence=95)
    empty = evaluation_from_rows(np.zeros((0, 4)), 2, names=[])
    with pytest.raises(SegvizError, match=r"evaluation: no evaluated image to resample"):
        bootstrap(empty)


def test_interval_excludes():
    iv = Interval(np.array([0.1, 0.0, np.nan]), np.array([0.05, -0.1, np.nan]), np.array([0.2, 0.1, np.nan]))
    assert iv.excludes(0.0).tolist() == [True, False, False]
    assert Interval(-0.3, -0.5, -0.1).excludes() is True


# ---------------------------------------------------------------------- coverage
def test_coverage_of_the_population_pixel_accuracy():
    """200 datasets of 60 images from a known process: the 95 % interval should hold the true
    population pixel accuracy in about 95 % of them."""
    truth, hits, replicates = 0.8, 0, 200
    rng = np.random.default_rng(2024)
    for r in range(replicates):
        ev = simulated(*beta_population(rng, 60, mean=truth))
        iv = bootstrap(ev, resamples=300, seed=r).summary["pixel_accuracy"]
        hits += iv.low <= truth <= iv.high
    coverage = hits / replicates
    assert 0.88 <= coverage <= 0.99, coverage


# ---------------------------------------------------------------------- paired
def test_model_against_itself_has_zero_delta_and_no_significance():
    ev = simulated(*beta_population(np.random.default_rng(3), 30, mean=0.7))
    r = paired_bootstrap(ev, ev, resamples=200)
    for key in SUMMARY_KEYS:
        iv = r.summary[key]
        assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)
        assert r.summary_significant[key] is False
    assert r.classes.columns.tolist() == ["id", "name", "delta", "low", "high", "significant"]
    assert (r.classes["delta"] == 0).all() and not r.classes["significant"].any()
    assert r.dropped == 0 and r.num_images == 30


def test_clearly_better_model_is_significant():
    rng = np.random.default_rng(4)
    gt, _ = beta_population(rng, 40, mean=0.7)
    weak = simulated(gt, rng.binomial(gt, 0.6))
    strong = simulated(gt, rng.binomial(gt, 0.9))
    r = paired_bootstrap(weak, strong, resamples=500)
    assert r.summary["pixel_accuracy"].estimate == pytest.approx(
        strong.summary()["pixel_accuracy"] - weak.summary()["pixel_accuracy"]
    )
    assert r.summary["pixel_accuracy"].low > 0.2
    assert all(r.summary_significant.values())
    assert r.classes["significant"].all() and (r.classes["delta"] > 0).all()
    # the other way round: the same intervals, negated
    back = paired_bootstrap(strong, weak, resamples=500)
    assert back.summary["mean_iou"].high == pytest.approx(-r.summary["mean_iou"].low)
    assert all(back.summary_significant.values())


def test_pairing_narrows_the_interval_of_a_difference():
    # image difficulty varies a lot, both models share it: paired differences vary far less
    rng = np.random.default_rng(6)
    gt, _ = beta_population(rng, 50, mean=0.7)
    difficulty = rng.beta(2, 2, 50)[:, None]
    a = simulated(gt, rng.binomial(gt, 0.9 * difficulty))
    b = simulated(gt, rng.binomial(gt, np.minimum(1, 0.9 * difficulty + 0.03)))
    paired = paired_bootstrap(a, b).summary["pixel_accuracy"]
    ia, ib = bootstrap(a).summary["pixel_accuracy"], bootstrap(b).summary["pixel_accuracy"]
    assert paired.high - paired.low < 0.5 * min(ia.high - ia.low, ib.high - ib.low)
    assert paired.low > 0  # significant although the two separate intervals overlap
    assert ia.high > ib.low


def test_images_are_matched_by_name_and_the_dropped_ones_reported():
    rng = np.random.default_rng(8)
    gt, correct = beta_population(rng, 6, mean=0.8)
    a = simulated(gt[:5], correct[:5], names=["a", "b", "c", "d", "e"])
    # b lists the shared images in another order, lacks "a" and adds "z"
    order = [4, 3, 2, 1, 5]
    b = simulated(gt[order], correct[order], names=["e", "d", "c", "b", "z"])
    r = paired_bootstrap(a, b, resamples=100)
    assert r.num_images == 4 and r.only_in_a == ("a",) and r.only_in_b == ("z",) and r.dropped == 2
    # the shared images are identical: every difference is exactly 0
    assert all(iv.estimate == 0.0 and iv.low == 0.0 == iv.high for iv in r.summary.values())


def test_paired_errors_name_the_argument():
    a = simulated(np.array([[10, 5]]), np.array([[8, 5]]), names=["x"])
    b = simulated(np.array([[10, 5]]), np.array([[8, 5]]), names=["y"])
    with pytest.raises(SegvizError, match=r"a and b share no image name \(a has 1 images, b 1\)"):
        paired_bootstrap(a, b)
    c = simulated(np.array([[10, 5, 1]]), np.array([[8, 5, 1]]), names=["x"])
    with pytest.raises(SegvizError, match=r"b: its class table \(3 classes.*differs from a's \(2 classes"):
        paired_bootstrap(a, c)


# ---------------------------------------------------------------------- speed
def test_fast_for_2000_images_150_classes_1000_resamples():
    rng = np.random.default_rng(9)
    n, k = 2000, 150
    gt = rng.integers(0, 5000, (n, k)) * (rng.random((n, k)) < 0.1)
    ev = simulated(gt, rng.binomial(gt, 0.8))
    start = time.perf_counter()
    r = bootstrap(ev, resamples=1000)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"{elapsed:.2f} s (about 0.2 s expected)"
    assert r.classes["low"].notna().all()
