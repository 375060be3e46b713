"""Every metric is a function of a confusion matrix — never a second pass over pixels.

The confusion matrix ``cm`` has shape (K, K+1): rows are ground-truth classes, columns the predicted
classes in the same order, plus a last column of *invalid* predictions (values that are not a class
id, the ignore value included). Ignored ground-truth pixels are not in it at all. For class c::

    TP_c   = cm[c, c]
    GT_c   = cm[c, :].sum()          (invalid predictions included: they are errors of class c)
    PRED_c = cm[:, c].sum()
    IoU_c  = TP / (GT + PRED - TP)   accuracy_c = TP / GT   precision_c = TP / PRED
    Dice_c = 2 TP / (GT + PRED)

A ratio whose denominator is 0 is undefined (NaN here, ``null`` in JSON), never 0. The means (MPA,
mIoU, mean Dice) average the defined values only; FWIoU weights IoU_c by GT_c / ΣGT. All functions
also accept stacks of matrices (..., K, K+1) and return arrays with the same leading shape.

Every formula above is written once, in :func:`from_counts` (per-class counts (..., K) in, every
metric out); :func:`class_metrics`, :func:`summary_metrics`, the bootstrap (:mod:`segviz.stats`), the
other tools' conventions (:mod:`segviz.conventions`) and the per-image table
(:meth:`segviz.evaluate.Evaluation.image_frame`) all call it (or :func:`iou`, :func:`divide`,
:func:`mean_defined`, its building blocks) rather than writing a ratio again.
"""

from __future__ import annotations

import numpy as np

CLASS_METRICS = ("iou", "accuracy", "precision", "dice")
SUMMARY_METRICS = (
    "pixel_accuracy",
    "mean_pixel_accuracy",
    "mean_iou",
    "frequency_weighted_iou",
    "mean_dice",
)
#: How many classes each mean of :data:`SUMMARY_METRICS` covers (int).
SUMMARY_COUNTS = ("mean_pixel_accuracy_classes", "mean_iou_classes", "mean_dice_classes")

DEFINITIONS = {
    "pixel_accuracy": "PA = Σ TP / Σ valid ground-truth pixels",
    "mean_pixel_accuracy": "MPA = mean over classes present in the ground truth of TP / GT",
    "mean_iou": "mIoU = mean over classes with a non-empty union of TP / (TP + FP + FN)",
    "frequency_weighted_iou": "FWIoU = Σ_c (GT_c / Σ GT) · IoU_c",
    "mean_dice": "mean Dice = mean over classes with a non-empty union of 2TP / (2TP + FP + FN)",
    "iou": "IoU = TP / (TP + FP + FN)",
    "accuracy": "accuracy (recall) = TP / GT pixels of the class",
    "precision": "precision = TP / predicted pixels of the class",
    "dice": "Dice = 2TP / (2TP + FP + FN)",
}


def divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float64, NaN where ``den == 0`` (an undefined ratio, never 0); shapes broadcast.

    Example:
        >>> divide(np.array([1, 0]), np.array([4, 0])).tolist()
        [0.25, nan]
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def mean_defined(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis of the defined (non-NaN) values, and how many there were.

    ``values`` (..., K) float; returns the mean (...) float64 (NaN when no value is defined) and the
    count (...) int64.

    Example:
        >>> mean, n = mean_defined(np.array([0.5, np.nan, 1.0]))
        >>> float(mean), int(n)
        (0.75, 2)
    """
    defined = ~np.isnan(values)
    n = defined.sum(axis=-1)
    total = np.where(defined, values, 0.0).sum(axis=-1)
    return divide(total, n), n


def iou(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (GT + PRED − TP), NaN where the union is empty; the inputs' shape.

    Example:
        >>> iou(np.array([3, 0, 0]), np.array([4, 0, 0]), np.array([3, 1, 0])).tolist()
        [0.75, 0.0, nan]
    """
    tp, gt, pred = _float_counts(tp, gt, pred)
    return divide(tp, gt + pred - tp)


def from_counts(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric from per-class counts: the one home of each formula in segviz.

    Args:
        tp, gt, pred: per-class TP, GT and PRED pixel counts (:func:`counts`), integer or float, one
            shape (..., K): K classes on the last axis, any leading axes (a dataset (K,), images
            (N, K), bootstrap resamples (B, K)).

    Returns:
        float64 (..., K): ``iou``, ``accuracy`` (recall), ``precision``, ``dice`` (:data:`CLASS_METRICS`);
        float64 (...): ``pixel_accuracy``, ``mean_pixel_accuracy``, ``mean_iou``,
        ``frequency_weighted_iou``, ``mean_dice`` (:data:`SUMMARY_METRICS`); int64 (...):
        ``mean_pixel_accuracy_classes``, ``mean_iou_classes``, ``mean_dice_classes`` (how many classes
        each mean covers). A ratio with a zero denominator is NaN (undefined); the means average the
        defined values only (NaN when none is); FWIoU weights each defined IoU by GT_c / ΣGT.

    Example:
        >>> m = from_counts(np.array([3, 2, 0]), np.array([4, 2, 0]), np.array([3, 3, 0]))
        >>> m["iou"].round(3).tolist(), round(float(m["mean_iou"]), 4), int(m["mean_iou_classes"])
        ([0.75, 0.667, nan], 0.7083, 2)
        >>> from_counts(np.zeros((5, 3)), np.zeros((5, 3)), np.zeros((5, 3)))["mean_iou"].shape
        (5,)
    """
    tp, gt, pred = _float_counts(tp, gt, pred)
    per_class = {
        "iou": iou(tp, gt, pred),
        "accuracy": divide(tp, gt),
        "precision": divide(tp, pred),
        "dice": divide(2 * tp, gt + pred),
    }
    total_gt = gt.sum(axis=-1)
    mpa, n_acc = mean_defined(per_class["accuracy"])
    miou, n_iou = mean_defined(per_class["iou"])
    mdice, n_dice = mean_defined(per_class["dice"])
    return {
        **per_class,
        "pixel_accuracy": divide(tp.sum(axis=-1), total_gt),
        "mean_pixel_accuracy": mpa,
        "mean_iou": miou,
        "frequency_weighted_iou": divide((gt * np.nan_to_num(per_class["iou"])).sum(axis=-1), total_gt),
        "mean_dice": mdice,
        "mean_pixel_accuracy_classes": n_acc,
        "mean_iou_classes": n_iou,
        "mean_dice_classes": n_dice,
    }


def _float_counts(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    """The three count arrays as float64 (exact below 2**53), checked to share one shape (..., K)."""
    arrays = tuple(np.asarray(x, dtype=np.float64) for x in (tp, gt, pred))
    shapes = [a.shape for a in arrays]
    if len(set(shapes)) != 1 or arrays[0].ndim == 0:
        raise ValueError(
            f"tp, gt and pred must share one shape (..., K) with K classes last (got {', '.join(map(str, shapes))})"
        )
    return arrays


def counts(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(TP, GT, PRED)`` per class from a (..., K, K+1) or (..., K, K) confusion matrix."""
    cm = np.asarray(cm)
    k = cm.shape[-2]
    tp = np.diagonal(cm[..., :k], axis1=-2, axis2=-1)
    return tp, cm.sum(axis=-1), cm[..., :k].sum(axis=-2)


def class_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class IoU, accuracy, precision and Dice (float, NaN = undefined) and pixel counts.

    The values are :func:`from_counts`'s for ``counts(cm)``.

    Example:
        >>> cm = np.array([[3, 1, 0], [0, 2, 0]])     # 2 classes, no invalid predictions
        >>> m = class_metrics(cm)
        >>> m["iou"].round(3).tolist(), m["accuracy"].tolist(), m["precision"].round(3).tolist()
        ([0.75, 0.667], [0.75, 1.0], [1.0, 0.667])
    """
    tp, gt, pred = counts(cm)
    every = from_counts(tp, gt, pred)
    return {
        **{name: every[name] for name in CLASS_METRICS},
        "gt_pixels": gt,
        "pred_pixels": pred,
        "tp_pixels": tp,
    }


def summary_metrics(cm: np.ndarray) -> dict[str, np.ndarray | float | int]:
    """PA, MPA, mIoU, FWIoU and mean Dice, with how many classes each mean covers.

    The values are :func:`from_counts`'s for ``counts(cm)``; Python floats and ints for one matrix.

    Example:
        >>> s = summary_metrics(np.array([[3, 1, 0], [0, 2, 0]]))
        >>> round(s["pixel_accuracy"], 4), round(s["mean_iou"], 4), s["mean_iou_classes"]
        (0.8333, 0.7083, 2)
    """
    every = from_counts(*counts(cm))
    out = {name: every[name] for name in (*SUMMARY_METRICS, *SUMMARY_COUNTS)}
    if np.ndim(out["pixel_accuracy"]) == 0:
        return {k: (float(v) if v.dtype.kind == "f" else int(v)) for k, v in out.items()}
    return out
