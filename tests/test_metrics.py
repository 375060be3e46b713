"""Metric definitions: hand-computed cases, scikit-learn agreement, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import jaccard_score

from segviz.metrics import class_metrics, counts, from_counts, summary_metrics


def test_hand_computed_two_classes():
    # rows = GT, columns = pred, last column = invalid predictions
    cm = np.array([[3, 1, 0], [0, 2, 0]])
    m = class_metrics(cm)
    assert m["iou"].tolist() == pytest.approx([3 / 4, 2 / 3])
    assert m["accuracy"].tolist() == pytest.approx([3 / 4, 1.0])
    assert m["precision"].tolist() == pytest.approx([1.0, 2 / 3])
    assert m["dice"].tolist() == pytest.approx([6 / 7, 4 / 5])
    s = summary_metrics(cm)
    assert s["pixel_accuracy"] == pytest.approx(5 / 6)
    assert s["mean_iou"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert s["frequency_weighted_iou"] == pytest.approx((4 * 3 / 4 + 2 * 2 / 3) / 6)


def test_absent_class_is_undefined_not_zero():
    cm = np.array([[5, 0, 0, 0], [0, 5, 0, 0], [0, 0, 0, 0]])
    m = class_metrics(cm)
    assert math.isnan(m["iou"][2]) and math.isnan(m["accuracy"][2]) and math.isnan(m["precision"][2])
    s = summary_metrics(cm)
    assert s["mean_iou"] == 1.0 and s["mean_iou_classes"] == 2


def test_class_predicted_but_absent_from_gt_counts_as_zero():
    cm = np.array([[4, 1, 0], [0, 0, 0]])  # class 1 never in GT, predicted once
    m = class_metrics(cm)
    assert m["iou"][1] == 0.0 and math.isnan(m["accuracy"][1]) and m["precision"][1] == 0.0
    s = summary_metrics(cm)
    assert s["mean_iou"] == pytest.approx((4 / 5 + 0) / 2)
    assert s["mean_iou_classes"] == 2 and s["mean_pixel_accuracy_classes"] == 1


def test_invalid_predictions_are_errors_of_their_gt_class():
    cm = np.array([[3, 0, 1], [0, 2, 0]])  # one pixel of class 0 predicted as a non-class value
    m = class_metrics(cm)
    assert m["gt_pixels"].tolist() == [4, 2] and m["pred_pixels"].tolist() == [3, 2]
    assert m["iou"][0] == pytest.approx(3 / 4) and m["precision"][0] == 1.0
    assert summary_metrics(cm)["pixel_accuracy"] == pytest.approx(5 / 6)


def test_empty_matrix_gives_undefined_summary():
    s = summary_metrics(np.zeros((3, 4), dtype=np.int64))
    assert all(math.isnan(s[k]) for k in ("pixel_accuracy", "mean_iou", "mean_dice"))
    assert s["mean_iou_classes"] == 0


def test_batched_matches_single():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 50, size=(5, 4, 5))
    batched = summary_metrics(stack)
    for i in range(5):
        single = summary_metrics(stack[i])
        assert batched["mean_iou"][i] == pytest.approx(single["mean_iou"])
        assert batched["pixel_accuracy"][i] == pytest.approx(single["pixel_accuracy"])


labels = arrays(np.int64, st.integers(1, 200), elements=st.integers(0, 5))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_agrees_with_scikit_learn(data):
    gt = data.draw(labels)
    pred = data.draw(arrays(np.int64, gt.shape, elements=st.integers(0, 5)))
    cm = sk_confusion(gt, pred, labels=range(6))
    ours = class_metrics(np.concatenate([cm, np.zeros((6, 1), int)], axis=1))
    present = np.union1d(gt, pred)
    sk_iou = jaccard_score(gt, pred, labels=present, average=None, zero_division=0)
    assert np.allclose(ours["iou"][present], sk_iou)
    absent = np.setdiff1d(np.arange(6), present)
    assert np.isnan(ours["iou"][absent]).all()
    assert summary_metrics(cm)["pixel_accuracy"] == pytest.approx(np.mean(gt == pred))


@settings(max_examples=200, deadline=None)
@given(
    cm=arrays(
        np.int64, st.tuples(st.integers(1, 6)).map(lambda t: (t[0], t[0] + 1)), elements=st.integers(0, 1000)
    )
)
def test_every_metric_in_unit_interval_or_undefined(cm):
    per = class_metrics(cm)
    for name in ("iou", "accuracy", "precision", "dice"):
        v = per[name][~np.isnan(per[name])]
        assert ((v >= 0) & (v <= 1)).all()
    s = summary_metrics(cm)
    for name in ("pixel_accuracy", "mean_pixel_accuracy", "mean_iou", "frequency_weighted_iou", "mean_dice"):
        assert math.isnan(s[name]) or 0 <= s[name] <= 1 + 1e-12
    # Dice is never below IoU, and both vanish together
    both = ~np.isnan(per["iou"])
    assert (per["dice"][both] >= per["iou"][both] - 1e-12).all()


@settings(max_examples=100, deadline=None)
@given(cm=arrays(np.int64, (4, 5), elements=st.integers(0, 1000)), perm=st.permutations(range(4)))
def test_permuting_classes_permutes_results(cm, perm):
    perm = np.array(perm)
    permuted = cm.copy()
    permuted[:, :4] = cm[np.ix_(perm, perm)]
    permuted[:, 4] = cm[perm, 4]
    a, b = class_metrics(cm), class_metrics(permuted)
    np.testing.assert_allclose(a["iou"][perm], b["iou"], equal_nan=True)
    sa, sb = summary_metrics(cm), summary_metrics(permuted)
    for k in ("pixel_accuracy", "mean_iou", "frequency_weighted_iou", "mean_dice"):
        assert (math.isnan(sa[k]) and math.isnan(sb[k])) or sa[k] == pytest.approx(sb[k])


@given(diag=arrays(np.int64, st.integers(1, 8), elements=st.integers(1, 10**9)))
def test_perfect_prediction_scores_one(diag):
    k = len(diag)
    cm = np.zeros((k, k + 1), dtype=np.int64)
    cm[np.arange(k), np.arange(k)] = diag
    s = summary_metrics(cm)
    for name in ("pixel_accuracy", "mean_pixel_accuracy", "mean_iou", "frequency_weighted_iou", "mean_dice"):
        assert s[name] == pytest.approx(1.0)


# ---------------------------------------------------------------------- from_counts
def test_from_counts_hand_computed():
    # cm = [[3, 1, 0], [0, 2, 1], [0, 0, 0], [0, 0, 0]] over classes 0..3 (columns 0..2 shown, the
    # rest 0): class 0: TP 3, GT 4, PRED 3; class 1: TP 2, GT 3, PRED 3; class 2 predicted once but
    # absent from the ground truth; class 3 absent from both.
    m = from_counts(np.array([3, 2, 0, 0]), np.array([4, 3, 0, 0]), np.array([3, 3, 1, 0]))
    np.testing.assert_array_equal(m["iou"], [3 / 4, 2 / 4, 0.0, np.nan])
    np.testing.assert_array_equal(m["accuracy"], [3 / 4, 2 / 3, np.nan, np.nan])
    np.testing.assert_array_equal(m["precision"], [1.0, 2 / 3, 0.0, np.nan])
    np.testing.assert_array_equal(m["dice"], [6 / 7, 4 / 6, 0.0, np.nan])
    assert float(m["pixel_accuracy"]) == pytest.approx(5 / 7)
    assert float(m["mean_iou"]) == pytest.approx((3 / 4 + 2 / 4 + 0) / 3) and int(m["mean_iou_classes"]) == 3
    assert float(m["mean_pixel_accuracy"]) == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert float(m["mean_dice"]) == pytest.approx((6 / 7 + 4 / 6 + 0) / 3)
    assert int(m["mean_pixel_accuracy_classes"]) == 2 and int(m["mean_dice_classes"]) == 3
    assert float(m["frequency_weighted_iou"]) == pytest.approx((4 * 3 / 4 + 3 * 2 / 4) / 7)
    assert class_metrics(np.array([[3, 1, 0, 0, 0], [0, 2, 1, 0, 0], [0] * 5, [0] * 5]))["iou"][1] == 2 / 4


def test_from_counts_is_vectorised_over_leading_axes():
    rng = np.random.default_rng(1)
    cm = rng.integers(0, 20, size=(3, 4, 5, 6))  # (R, N, K, K+1)
    cm[0, 1, 2] = 0  # a class absent from one image's ground truth
    stacked = from_counts(*counts(cm))
    assert stacked["iou"].shape == (3, 4, 5) and stacked["mean_iou"].shape == (3, 4)
    assert stacked["mean_iou_classes"].dtype.kind == "i"
    for r in range(3):
        for n in range(4):
            single = from_counts(*counts(cm[r, n]))
            for key, value in single.items():
                np.testing.assert_array_equal(stacked[key][r, n], value, err_msg=key)


def test_from_counts_all_empty_is_undefined_not_zero():
    m = from_counts(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)))
    assert np.isnan(m["iou"]).all() and np.isnan(m["mean_iou"]).all() and np.isnan(m["pixel_accuracy"]).all()
    assert np.isnan(m["frequency_weighted_iou"]).all() and m["mean_iou_classes"].tolist() == [0, 0]


def test_from_counts_rejects_mismatched_shapes():
    with pytest.raises(
        ValueError, match=r"tp, gt and pred must share one shape \(\.\.\., K\).*\(2,\), \(3,\), \(2,\)"
    ):
        from_counts(np.zeros(2), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"K classes last \(got \(\), \(\), \(\)\)"):
        from_counts(1, 1, 1)


def test_from_counts_agrees_with_scikit_learn_on_precision_and_dice():
    from sklearn.metrics import f1_score, precision_score

    rng = np.random.default_rng(2)
    gt, pred = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    m = from_counts(*counts(sk_confusion(gt, pred, labels=range(4))))
    np.testing.assert_allclose(m["precision"], precision_score(gt, pred, labels=range(4), average=None))
    np.testing.assert_allclose(m["dice"], f1_score(gt, pred, labels=range(4), average=None))
