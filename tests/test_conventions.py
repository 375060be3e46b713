"""Which mIoU? Hand-computed cases where the conventions differ, per-pixel ports of each tool's code
for agreement, and the real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segviz import ClassTable, evaluate, open_dataset
from segviz.conventions import CONVENTIONS, Convention, dataset_gt_mean, dataset_union_mean, miou_conventions
from segviz.dataset import Pair
from segviz.evaluate import Evaluation, PairCounts, fold
from segviz.masks import joint_counts

VOID = 255  # the ignored ground-truth id in every test table here
KEYS = [s.key for s in CONVENTIONS]


def evaluation_from_masks(masks: list[tuple[np.ndarray, np.ndarray]], num_classes: int) -> Evaluation:
    """Evaluate (gt, pred) arrays through segviz's own fold: classes 0..K−1, 255 ignored; any other
    predicted value is an invalid prediction."""
    rows = [(c, f"c{c}", (c, 10 * c, 20), False) for c in range(num_classes)]
    table = ClassTable.from_rows([*rows, (VOID, "void", (255, 255, 255), True)])
    counted = [
        PairCounts(
            Pair(f"im{i}", Path(f"gt/im{i}.png"), Path(f"pred/im{i}.png")), *joint_counts(g, p), g.shape
        )
        for i, (g, p) in enumerate(masks)
    ]
    return fold(counted, table)


def by_key(evaluation: Evaluation) -> dict[str, Convention]:
    return {c.key: c for c in miou_conventions(evaluation)}


# ---------------------------------------------------------------------- hand-computed
# Classes 0, 1, 2; 255 = void (ignored).
#   image a: class 0: 4 px, 3 right, 1 predicted as class 2 (absent from every GT);
#            class 1: 2 px, both right; one void pixel predicted 1 (ignored: no count).
#   image b: class 0: 3 px, 2 right, 1 predicted 255 (invalid: a false negative of class 0);
#            classes 1 and 2 absent from both GT and prediction; one void pixel predicted 2.
IMAGE_A = (np.array([[0, 0, 0, 0, 1, 1, VOID]]), np.array([[0, 0, 0, 2, 1, 1, 1]]))
IMAGE_B = (np.array([[0, 0, 0, VOID]]), np.array([[0, 0, VOID, 2]]))
# Dataset: class 0 TP 5, GT 7, PRED 5 → 5/7; class 1 → 2/2 = 1; class 2 TP 0, GT 0, PRED 1 → 0.
# Image a: IoU 3/4, 1, 0 → 7/12.  Image b: class 0 2/3; classes 1, 2 undefined → 2/3.
EXPECTED = {
    "segviz": ((5 / 7 + 1 + 0) / 3, 3),  # = 4/7
    "mmsegmentation": ((5 / 7 + 1 + 0) / 3, 3),
    "detectron2": ((5 / 7 + 1) / 2, 2),  # class 2 has no GT pixel: left out
    "cityscapes": ((5 / 7 + 1 + 0) / 3, 3),
    "torchmetrics_jaccard": ((5 / 7 + 1 + 0) / 3, 3),
    "torchmetrics_meaniou": ((3 / 4 + 1 + 0 + 2 / 3) / 4, 3),  # 4 (image, class) pairs = 29/48
    "image_mean": ((7 / 12 + 2 / 3) / 2, 3),  # = 5/8
}


def test_hand_computed_conventions_differ():
    ev = evaluation_from_masks([IMAGE_A, IMAGE_B], 3)
    assert ev.confusion.tolist() == [[5, 0, 1, 1], [0, 2, 0, 0], [0, 0, 0, 0]]
    assert ev.ignored_pixels == 2 and ev.invalid_pred_pixels == 1
    got = by_key(ev)
    assert list(got) == KEYS == list(EXPECTED)
    for key, (value, counted) in EXPECTED.items():
        assert got[key].value == pytest.approx(value), key
        assert got[key].classes_counted == counted, key
    assert got["segviz"].value == pytest.approx(4 / 7)
    assert got["torchmetrics_meaniou"].value == pytest.approx(29 / 48)
    assert got["image_mean"].value == pytest.approx(5 / 8)
    assert got["segviz"].value == pytest.approx(ev.summary()["mean_iou"])
    assert got["image_mean"].value == pytest.approx(ev.image_frame()["mean_iou"].mean())


def test_without_predicted_but_absent_classes_dataset_conventions_agree():
    # drop image a's class-2 prediction: every dataset-accumulated convention gives the same number
    a = (IMAGE_A[0], np.array([[0, 0, 0, 1, 1, 1, 1]]))
    got = by_key(evaluation_from_masks([a, IMAGE_B], 3))
    # class 0: TP 5, GT 7, PRED 5 → 5/7; class 1: TP 2, GT 2, PRED 3 → 2/3
    for key in ("segviz", "mmsegmentation", "detectron2", "cityscapes", "torchmetrics_jaccard"):
        assert got[key].value == pytest.approx((5 / 7 + 2 / 3) / 2), key
        assert got[key].classes_counted == 2
    # per image: a → (3/4 + 2/3) / 2, b → 2/3; pooled over the 3 (image, class) pairs
    assert got["image_mean"].value == pytest.approx(((3 / 4 + 2 / 3) / 2 + 2 / 3) / 2)
    assert got["torchmetrics_meaniou"].value == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)


def test_a_small_image_weighs_as_much_as_a_large_one_per_image():
    big = (np.zeros((1, 100), int), np.zeros((1, 100), int))  # class 0, all right
    small = (np.array([[1, 1]]), np.array([[1, 0]]))  # class 1: 1 of 2 right, 1 px into class 0
    got = by_key(evaluation_from_masks([big, small], 2))
    # dataset: class 0 TP 100 / union 101; class 1 1/2
    assert got["segviz"].value == pytest.approx((100 / 101 + 1 / 2) / 2)
    # per image: big → 1 (class 0 only); small → (0 + 1/2) / 2 (class 0 predicted, absent) = 1/4
    assert got["image_mean"].value == pytest.approx((1 + 1 / 4) / 2)
    assert got["torchmetrics_meaniou"].value == pytest.approx((1 + 0 + 1 / 2) / 3)


def test_nothing_to_count_is_undefined():
    only_void = (np.full((1, 3), VOID), np.zeros((1, 3), int))
    for c in miou_conventions(evaluation_from_masks([only_void], 2)):
        assert math.isnan(c.value) and c.classes_counted == 0, c.key


def test_every_convention_is_described_and_sourced():
    for c in miou_conventions(evaluation_from_masks([IMAGE_A], 3)):
        assert c.tool and c.rule.endswith(".") and c.source and c.notes, c.key
    assert len(set(KEYS)) == len(KEYS)


# ---------------------------------------------------------------------- ports of each tool's code
# Straight numpy transcriptions of the code each convention cites, run on the pixels; segviz's
# numbers come from its sparse counts. They must agree.
def mmseg_miou(masks, k):
    """mmseg IoUMetric: intersect_and_union() per image (histc over 0..K-1), summed, nanmean."""
    inter = union = 0
    for gt, pred in masks:
        keep = gt != VOID
        label, pred = gt[keep], pred[keep]

        def hist(x):
            return np.bincount(x[(x >= 0) & (x <= k - 1)], minlength=k).astype(float)

        i, p, t = hist(pred[pred == label]), hist(pred), hist(label)
        inter, union = inter + i, union + p + t - i
    with np.errstate(invalid="ignore"):
        iou = inter / union
    return np.nanmean(iou) if (~np.isnan(iou)).any() else np.nan


def detectron2_miou(masks, k):
    """SemSegEvaluator: (K+1)×(K+1) matrix [pred, gt], ignored GT → K, iou_valid = pos_gt > 0 & union > 0."""
    cm = np.zeros((k + 1, k + 1), dtype=np.int64)
    for gt, pred in masks:
        gt = np.where(gt == VOID, k, gt)
        cm += np.bincount((k + 1) * pred.reshape(-1) + gt.reshape(-1), minlength=cm.size).reshape(cm.shape)
    tp = cm.diagonal()[:-1].astype(float)
    pos_gt = cm[:-1, :-1].sum(axis=0).astype(float)
    pos_pred = cm[:-1, :-1].sum(axis=1).astype(float)
    union = pos_gt + pos_pred - tp
    valid = (pos_gt > 0) & (union > 0)
    return np.sum(tp[valid] / union[valid]) / np.sum(valid) if valid.any() else np.nan


def cityscapes_miou(masks, k):
    """evalPixelLevelSemanticLabeling: matrix over all label ids, getIouScoreForLabel, getScoreAverage."""
    cm = np.zeros((256, 256), dtype=np.int64)
    for gt, pred in masks:
        np.add.at(cm, (gt.ravel(), pred.ravel()), 1)
    not_ignored = list(range(k))
    scores = []
    for label in range(k):
        tp = cm[label, label]
        fn = cm[label, :].sum() - tp
        fp = cm[[x for x in not_ignored if x != label], label].sum()
        denom = tp + fp + fn
        scores.append(np.nan if denom == 0 else tp / denom)
    valid = [s for s in scores if not math.isnan(s)]
    return sum(valid) / len(valid) if valid else np.nan


def torchmetrics_jaccard_macro(masks, k):
    """MulticlassJaccardIndex(average="macro", ignore_index=255): accumulated confmat, _jaccard_index_reduce."""
    confmat = np.zeros((k, k))
    for gt, pred in masks:
        keep = gt != VOID
        confmat += np.bincount(gt[keep] * k + pred[keep], minlength=k * k).reshape(k, k)
    num = np.diag(confmat)
    denom = confmat.sum(0) + confmat.sum(1) - num
    jaccard = np.where(denom != 0, num / np.where(denom != 0, denom, 1), 0.0)  # zero_division=0
    weights = np.ones(k)
    weights[confmat.sum(1) + confmat.sum(0) == 0] = 0.0
    return ((weights * jaccard) / weights.sum()).sum() if weights.sum() else np.nan


def torchmetrics_meaniou(masks, k):
    """segmentation.MeanIoU(num_classes=k, input_format="one-hot"): ignored pixels as all-zero one-hot."""
    score, num_batches = 0.0, 0
    for gt, pred in masks:
        keep = gt != VOID
        t = np.stack([(gt == c) & keep for c in range(k)])
        p = np.stack([(pred == c) & keep for c in range(k)])
        inter = (p & t).sum(axis=(1, 2))
        union = t.sum(axis=(1, 2)) + p.sum(axis=(1, 2)) - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)  # zero_division=0.0
        valid = union > 0
        score += (iou * valid).sum()
        num_batches += valid.sum()
    return score / num_batches if num_batches else np.nan


PORTS = {
    "mmsegmentation": mmseg_miou,
    "detectron2": detectron2_miou,
    "cityscapes": cityscapes_miou,
    "torchmetrics_jaccard": torchmetrics_jaccard_macro,
    "torchmetrics_meaniou": torchmetrics_meaniou,
}


@st.composite
def datasets(draw, *, invalid: bool):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 4))
    gt_values = st.sampled_from([*range(k), VOID])
    pred_values = st.sampled_from([*range(k), VOID, k]) if invalid else st.integers(0, k - 1)
    masks = []
    for _ in range(n):
        shape = draw(st.tuples(st.integers(1, 5), st.integers(1, 6)))
        masks.append(
            (
                draw(arrays(np.int64, shape, elements=gt_values)),
                draw(arrays(np.int64, shape, elements=pred_values)),
            )
        )
    return masks, k


def check_against_ports(masks, k, keys):
    got = by_key(evaluation_from_masks(masks, k))
    for key in keys:
        expected = PORTS[key](masks, k)
        if math.isnan(expected):
            assert math.isnan(got[key].value), key
        else:
            assert got[key].value == pytest.approx(expected, abs=1e-12), key


@settings(max_examples=150, deadline=None)
@given(data=datasets(invalid=True))
def test_tools_that_accept_invalid_predictions_agree_with_their_ports(data):
    # mmseg (histc drops out-of-range predictions) and Cityscapes (ignored label ids predicted)
    check_against_ports(*data, ["mmsegmentation", "cityscapes"])


@settings(max_examples=150, deadline=None)
@given(data=datasets(invalid=False))
def test_every_tool_agrees_with_its_port(data):
    check_against_ports(*data, list(PORTS))


@settings(max_examples=150, deadline=None)
@given(data=datasets(invalid=True))
def test_detectron2_never_below_segviz_and_segviz_is_the_summary(data):
    """Leaving out classes with no GT pixel removes zeros from the mean: detectron2 ≥ segviz."""
    ev = evaluation_from_masks(*data)
    tp, gt, pred = ev.image_counts()
    seg, d2 = dataset_union_mean(tp, gt, pred), dataset_gt_mean(tp, gt, pred)
    if not math.isnan(d2[0]):
        assert d2[0] >= seg[0] - 1e-12 and d2[1] <= seg[1]
    s = ev.summary()
    assert seg[1] == s["mean_iou_classes"]
    assert seg[0] == pytest.approx(s["mean_iou"], nan_ok=True)
    means = ev.image_frame()["mean_iou"]
    got = by_key(ev)["image_mean"].value
    assert (math.isnan(got) and means.isna().all()) or got == pytest.approx(means.mean())


# ---------------------------------------------------------------------- real data
@pytest.mark.shared_data
def test_voc_deeplab_conventions(shared_data):
    ev = evaluate(open_dataset(shared_data / "voc2012-deeplab", model="deeplabv3plus"))
    got = by_key(ev)
    assert got["segviz"].value == ev.summary()["mean_iou"]
    assert got["segviz"].value == pytest.approx(0.83475, abs=5e-6)
    assert got["segviz"].classes_counted == ev.summary()["mean_iou_classes"]
    for key in ("mmsegmentation", "cityscapes", "torchmetrics_jaccard"):
        assert got[key].value == got["segviz"].value, key
    assert got["detectron2"].value >= got["segviz"].value
    assert got["image_mean"].value == pytest.approx(ev.image_frame()["mean_iou"].mean())
