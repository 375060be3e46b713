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


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def counts(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(TP, GT, PRED)`` per class from a (..., K, K+1) or (..., K, K) confusion matrix."""
    cm = np.asarray(cm)
    k = cm.shape[-2]
    tp = np.diagonal(cm[..., :k], axis1=-2, axis2=-1)
    return tp, cm.sum(axis=-1), cm[..., :k].sum(axis=-2)


def class_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class IoU, accuracy, precision and Dice (float, NaN = undefined) and pixel counts.

    Example:
        >>> cm = np.array([[3, 1, 0], [0, 2, 0]])     # 2 classes, no invalid predictions
        >>> m = class_metrics(cm)
        >>> m["iou"].round(3).tolist(), m["accuracy"].tolist(), m["precision"].round(3).tolist()
        ([0.75, 0.667], [0.75, 1.0], [1.0, 0.667])
    """
    tp, gt, pred = counts(cm)
    union = gt + pred - tp
    return {
        "iou": _divide(tp, union),
        "accuracy": _divide(tp, gt),
        "precision": _divide(tp, pred),
        "dice": _divide(2 * tp, gt + pred),
        "gt_pixels": gt,
        "pred_pixels": pred,
        "tp_pixels": tp,
    }


def _mean_defined(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    defined = ~np.isnan(values)
    n = defined.sum(axis=-1)
    total = np.where(defined, values, 0.0).sum(axis=-1)
    return _divide(total, n), n


def summary_metrics(cm: np.ndarray) -> dict[str, np.ndarray | float | int]:
    """PA, MPA, mIoU, FWIoU and mean Dice, with how many classes each mean covers.

    Example:
        >>> s = summary_metrics(np.array([[3, 1, 0], [0, 2, 0]]))
        >>> round(s["pixel_accuracy"], 4), round(s["mean_iou"], 4), s["mean_iou_classes"]
        (0.8333, 0.7083, 2)
    """
    per = class_metrics(cm)
    tp, gt = per["tp_pixels"], per["gt_pixels"]
    total_gt = gt.sum(axis=-1)
    mpa, n_acc = _mean_defined(per["accuracy"])
    miou, n_iou = _mean_defined(per["iou"])
    mdice, n_dice = _mean_defined(per["dice"])
    fw = _divide((gt * np.nan_to_num(per["iou"])).sum(axis=-1), total_gt)
    out = {
        "pixel_accuracy": _divide(tp.sum(axis=-1), total_gt),
        "mean_pixel_accuracy": mpa,
        "mean_iou": miou,
        "frequency_weighted_iou": fw,
        "mean_dice": mdice,
        "mean_pixel_accuracy_classes": n_acc,
        "mean_iou_classes": n_iou,
        "mean_dice_classes": n_dice,
    }
    if np.ndim(total_gt) == 0:
        return {k: (float(v) if v.dtype.kind == "f" else int(v)) for k, v in out.items()}
    return out
