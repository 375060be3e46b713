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
from segviz.conventions import (
    CONVENTIONS,
    Convention,
    conventions_frame,
    dataset_gt_mean,
    dataset_union_mean,
    miou_conventions,
)
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


# ---------------------------------------------------------------------- issue #10: what the tools do
def detectron2_evaluate(masks, k):
    """SemSegEvaluator.process + evaluate, transcribed: (K+1)² matrix [pred, gt] via bincount().reshape
    (which raises when a value falls outside it), ignored GT → K, then conf[:-1, :-1]."""
    conf = np.zeros((k + 1, k + 1), dtype=np.int64)
    for gt, pred in masks:
        gt = np.where(gt == VOID, k, gt)
        conf += np.bincount((k + 1) * pred.reshape(-1) + gt.reshape(-1), minlength=conf.size).reshape(
            conf.shape
        )
    tp = conf.diagonal()[:-1].astype(float)
    pos_gt = np.sum(conf[:-1, :-1], axis=0).astype(float)
    pos_pred = np.sum(conf[:-1, :-1], axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_weights = pos_gt / np.sum(pos_gt)
        acc_valid = pos_gt > 0
        union = pos_gt + pos_pred - tp
        iou_valid = acc_valid & (union > 0)
        iou = np.full(k, np.nan)
        iou[iou_valid] = tp[iou_valid] / union[iou_valid]
        miou = np.sum(iou[iou_valid]) / np.sum(iou_valid)
        fiou = np.sum(iou[iou_valid] * class_weights[iou_valid])
        pacc = np.sum(tp) / np.sum(pos_gt)
    return {"miou": float(miou), "fwiou": float(fiou), "pacc": float(pacc)}


def caveats(key: str) -> str:
    return " ".join(next(s for s in CONVENTIONS if s.key == key).caveats)


def test_detectron2_a_prediction_equal_to_k_vanishes():
    """Regression (issue #10): the notes said such a pixel lands "in a wrong cell"; it is sliced off."""
    b_with_k = (IMAGE_B[0], np.array([[0, 0, 3, 2]]))  # image b's invalid prediction is now K = 3
    d2 = detectron2_evaluate([IMAGE_A, b_with_k], 3)
    # class 0: TP 5; the pixel predicted K is in no count, so GT 6, PRED 5 → 5/6; class 1 → 1
    assert d2["miou"] == pytest.approx((5 / 6 + 1) / 2) == pytest.approx(0.916667, abs=5e-7)
    ours = by_key(evaluation_from_masks([IMAGE_A, b_with_k], 3))["detectron2"]
    assert (
        ours.value == pytest.approx((5 / 7 + 1) / 2) == pytest.approx(0.857143, abs=5e-7)
    )  # an error of class 0
    assert "vanish" in caveats("detectron2") and "wrong cell" not in caveats("detectron2")


@pytest.mark.parametrize("bad", [4, 255, -1])
def test_detectron2_a_prediction_above_k_or_negative_raises(bad):
    with pytest.raises(ValueError):
        detectron2_evaluate([(IMAGE_B[0], np.array([[0, 0, bad, 2]]))], 3)
    assert "above K or negative" in caveats("detectron2") and "raise" in caveats("detectron2")


def test_detectron2_only_the_column_is_the_ignore_label():
    assert "only the extra column is the ignore label" in caveats("detectron2")


def test_detectron2_fwiou_and_pacc_when_every_pixel_is_ignored():
    """detectron2 gives fwIoU 0.0 (a sum over no class) and pACC NaN; segviz leaves both undefined."""
    only_void = (np.full((1, 3), VOID), np.array([[0, 1, 1]]))
    d2 = detectron2_evaluate([only_void], 2)
    assert d2["fwiou"] == 0.0 and math.isnan(d2["pacc"])
    ev = evaluation_from_masks([only_void], 2)
    assert ev.to_dict()["frequency_weighted_iou"] is None and ev.to_dict()["pixel_accuracy"] is None
    assert "fwIoU 0.0" in caveats("detectron2") and "pACC NaN" in caveats("detectron2")
    # otherwise they match segviz's FWIoU and PA
    d2 = detectron2_evaluate([IMAGE_A, (IMAGE_B[0], np.array([[0, 0, 1, 2]]))], 3)
    s = evaluation_from_masks([IMAGE_A, (IMAGE_B[0], np.array([[0, 0, 1, 2]]))], 3).summary()
    assert d2["fwiou"] == pytest.approx(s["frequency_weighted_iou"]) and d2["pacc"] == pytest.approx(
        s["pixel_accuracy"]
    )


def test_cityscapes_script_raises_index_error_above_its_largest_label_id():
    """evaluatePair (its numpy path) adds confMatrix[gt_id][pred_id] to a (maxId+1)² matrix."""
    max_id = 33
    conf = np.zeros((max_id + 1, max_id + 1), dtype=np.ulonglong)
    gt, pred = np.array([7, 7]), np.array([7, max_id + 1])
    encoding = max(gt.max(), pred.max()) + 1
    values, counts = np.unique(gt * encoding + pred, return_counts=True)
    with pytest.raises(IndexError):
        for value, c in zip(values, counts, strict=True):
            conf[value // encoding][value % encoding] += c
    assert "IndexError" in caveats("cityscapes")


def test_mmsegmentation_rounds_its_summary_to_two_decimals():
    assert "2 decimals" in caveats("mmsegmentation")


def test_every_convention_has_caveats_as_data():
    """Issue #10: each convention's caveats are data (shown in the report and the app), not prose in a docstring."""
    ev = evaluation_from_masks([IMAGE_A, IMAGE_B], 3)
    frame = conventions_frame(ev)
    assert frame["key"].tolist() == KEYS
    for c, row in zip(miou_conventions(ev), frame.itertuples(index=False), strict=True):
        assert isinstance(c.caveats, tuple) and c.caveats and all(x.endswith(".") for x in c.caveats), c.key
        assert row.caveats == "\n".join(f"• {x}" for x in c.caveats)
        assert c.notes == " ".join(c.caveats)
    nan = conventions_frame(evaluation_from_masks([(np.full((1, 3), VOID), np.zeros((1, 3), int))], 2))
    assert set(nan["miou_text"]) == {"n/a"}


@pytest.mark.shared_data
def test_torchmetrics_jaccard_macro_leaves_absent_classes_out_on_voc(shared_data):
    """Regression (issue #10): the README said absent classes get zero_division and are averaged in
    (0.048028 on VOC mediapipe-selfie); since torchmetrics #1693 they get weight 0: 0.084050."""
    ev = evaluate(open_dataset(shared_data / "voc2012-deeplab", model="mediapipe-selfie"))
    got = by_key(ev)["torchmetrics_jaccard"].value
    assert got == pytest.approx(0.084050, abs=5e-7) and got == ev.summary()["mean_iou"]
    cm = ev.confusion[:, :-1].astype(float)  # no invalid predictions on VOC
    assert ev.invalid_pred_pixels == 0
    tp, union = np.diag(cm), cm.sum(0) + cm.sum(1) - np.diag(cm)
    averaged_in = np.where(union > 0, tp / np.maximum(union, 1), 0.0).mean()  # the README's old rule
    assert averaged_in == pytest.approx(0.048028, abs=5e-7)


@pytest.mark.shared_data
def test_torchmetrics_meaniou_is_not_the_per_image_mean_on_voc(shared_data):
    """Regression (issue #10): the README said MeanIoU averages per image first (segviz's per-image
    table); it averages over (image, class) pairs: 0.916563 against 0.930953 on VOC deeplabv3plus."""
    root = shared_data / "voc2012-deeplab"
    ev = evaluate(open_dataset(root, model="deeplabv3plus"))
    got = by_key(ev)
    assert got["torchmetrics_meaniou"].value == pytest.approx(0.916563, abs=5e-7)
    assert got["image_mean"].value == pytest.approx(0.930953, abs=5e-7)
    assert ev.image_frame()["mean_iou"].mean() == pytest.approx(0.930953, abs=5e-7)
    from PIL import Image

    masks = [
        (
            np.asarray(Image.open(pair.gt_path)).astype(np.int64),
            np.asarray(Image.open(pair.pred_path)).astype(np.int64),
        )
        for pair in ev.pairs
    ]
    assert torchmetrics_meaniou(masks, 21) == pytest.approx(0.916563, abs=5e-7)  # the port, on pixels


def test_readme_states_what_the_tools_do():
    """Regression (issue #10): the README's tool notes contradicted the tools' source."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    tools = readme.split("How this relates to other tools", 1)[1].split("\n## ", 1)[0]
    tools = " ".join(tools.split())  # line breaks are not part of a statement
    for wrong in ("*are* averaged in", "averages **per image** first", "wrong cell", "table gives it"):
        assert wrong not in tools, wrong
    for right in (
        "weight 0",
        "0.084050",
        "0.048028",
        "0.916563",
        "0.930953",
        "vanish from every count",
        "raises IndexError",
        "rounded to 2 decimals",
        "only the extra **column** is the ignore label",
        "fwIoU 0.0 and pACC NaN",
    ):
        assert right in tools, right
