"""What a person should look at next: likely label errors, and which images to label next.

**Likely label errors.** A pixel is flagged where the ground truth disagrees with a *confident*
prediction, scored with per-class thresholds in the manner of confident learning (Northcutt et al.,
JAIR 2021; an independent implementation):

* ``rule="top1"`` (only the top-1 confidence is known): t_k = the mean confidence of the model's
  class-k predictions on pixels labelled k; a pixel labelled i ≠ k and predicted k with confidence
  ≥ t_k is flagged (the confident-disagreement rule on the top class);
* ``rule="probabilities"`` (full probabilities): t_k = the mean of p_k over the pixels labelled k;
  a pixel's confident classes are those with p_k ≥ t_k, its confident label the most probable of
  them; it is flagged when that label differs from the ground truth.

Flagged pixels are grouped into regions (8-connected pieces); regions smaller than ``min_pixels``
are dropped. Regions are ranked by their score, Σ over their pixels of the confidence of the
disagreeing class; images by the sum of their regions' scores. A *likely label error* is a
hypothesis for a person to check, never a correction: the model may simply be wrong.

**What to label next.** Images with a prediction and a confidence map but no ground truth are
ranked by expected error: ``by="uncertainty"`` (1 − mean confidence), or ``by="model"``: a ridge
regression fitted on the labelled images' per-image confidence features predicts each image's mIoU
(expected error = 1 − predicted mIoU); it is cross-validated on the labelled images and its
Spearman rank correlation with the true mIoU is reported.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from segviz.confidence import (
    LEVELS,
    ConfidenceFiles,
    ConfidenceMap,
    ConfidenceResult,
    find_confidence,
    normalised_entropy,
    read_confidence,
)
from segviz.dataset import Dataset, Location, Problem, index_files
from segviz.errors import SegvizError
from segviz.evaluate import count_pair_arrays
from segviz.masks import MASK_SUFFIXES
from segviz.overlay import class_indices
from segviz.safety import csv_safe_frame

if TYPE_CHECKING:
    import pandas as pd

Rule = Literal["auto", "top1", "probabilities"]
RankBy = Literal["auto", "model", "uncertainty"]

HYPOTHESIS = (
    "A likely label error is a hypothesis for a person to check: a place where a confident "
    "prediction disagrees with the ground truth. The model may be the one that is wrong."
)


# ====================================================================== flagging pixels
def flag_top1(gt: np.ndarray, pred: np.ndarray, confidence: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Pixels labelled i, predicted k ≠ i with confidence ≥ t_k: bool (H, W).

    ``gt``: class indices (≥ K: ignored); ``pred``: 0…K−1 (K: invalid, never flagged);
    ``thresholds``: (K,) t_k (NaN: never flagged).

    Example:
        >>> flag_top1(np.array([[0, 0, 1]]), np.array([[1, 1, 1]]), np.array([[0.9, 0.5, 0.9]]),
        ...           np.array([0.8, 0.8])).tolist()
        [[True, False, False]]
    """
    k = len(thresholds)
    t = np.append(np.asarray(thresholds, dtype=np.float64), np.nan)  # t[K] for invalid predictions
    t = np.where(np.isnan(t), np.inf, t)
    return (gt < k) & (pred < k) & (pred != gt) & (confidence >= t[np.minimum(pred, k)])


def flag_probabilities(
    gt: np.ndarray, probs: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Confident-learning flags from full probabilities: (flagged bool (H, W), confident label
    int (H, W), −1 where no class reaches its threshold).

    Example:
        >>> p = np.array([[[0.7, 0.2]], [[0.3, 0.8]]])          # K=2, 1×2 pixels
        >>> f, label = flag_probabilities(np.array([[1, 1]]), p, np.array([0.6, 0.9]))
        >>> f.tolist(), label.tolist()
        ([[True, False]], [[0, -1]])
    """
    k = probs.shape[0]
    t = np.where(np.isnan(thresholds), np.inf, thresholds).astype(np.float32)[:, None, None]
    above = probs >= t
    masked = np.where(above, probs, -1.0)
    label = np.argmax(masked, axis=0)
    label = np.where(above.any(axis=0), label, -1)
    flagged = (gt < k) & (label >= 0) & (label != gt)
    return flagged, label


# ====================================================================== regions
@dataclass(frozen=True)
class Region:
    """A connected piece of flagged pixels in one image."""

    image: str
    region: int
    pixels: int
    labelled_as: dict[str, int]
    model_says: str
    mean_confidence: float
    score: float
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive ends)


def regions_of(
    flagged: np.ndarray,
    gt: np.ndarray,
    suggested: np.ndarray,
    confidence: np.ndarray,
    names: Sequence[str],
    *,
    image: str = "",
    min_pixels: int = 20,
) -> tuple[np.ndarray, list[Region]]:
    """Label the 8-connected pieces of ``flagged`` with at least ``min_pixels`` pixels.

    Returns (uint16 (H, W) region numbers 1…n in order of decreasing score, 0 = none; the regions).

    Example:
        >>> f = np.array([[1, 1, 0, 0], [0, 0, 0, 1]], bool)
        >>> m, rs = regions_of(f, np.zeros((2, 4), int), np.ones((2, 4), int), np.full((2, 4), 0.9),
        ...                    ["a", "b"], min_pixels=1)
        >>> m.tolist(), [(r.region, r.pixels, r.labelled_as, r.model_says) for r in rs]
        ([[1, 1, 0, 0], [0, 0, 0, 2]], [(1, 2, {'a': 2}, 'b'), (2, 1, {'a': 1}, 'b')])
    """
    from scipy import ndimage

    labels, n = ndimage.label(flagged, structure=np.ones((3, 3), dtype=bool))
    out = np.zeros(flagged.shape, dtype=np.uint16)
    if n == 0:
        return out, []
    k = len(names)
    flat = labels.ravel()
    on = flat > 0
    lab = flat[on]
    size = np.bincount(lab, minlength=n + 1)
    conf = np.bincount(lab, weights=confidence.ravel()[on], minlength=n + 1)
    g = np.minimum(gt.ravel()[on], k).astype(np.int64)
    s = np.minimum(suggested.ravel()[on], k).astype(np.int64)
    gt_hist = np.bincount(lab * (k + 1) + g, minlength=(n + 1) * (k + 1)).reshape(n + 1, k + 1)
    s_hist = np.bincount(lab * (k + 1) + s, minlength=(n + 1) * (k + 1)).reshape(n + 1, k + 1)
    boxes = ndimage.find_objects(labels)
    keep = [r for r in range(1, n + 1) if size[r] >= min_pixels]
    keep.sort(key=lambda r: (-conf[r], r))
    renumber = np.zeros(n + 1, dtype=np.uint16)
    regions = []
    for new, r in enumerate(keep, start=1):
        renumber[r] = new
        ys, xs = boxes[r - 1]
        regions.append(
            Region(
                image=image,
                region=new,
                pixels=int(size[r]),
                labelled_as={
                    names[c]: int(gt_hist[r, c])
                    for c in np.argsort(-gt_hist[r, :k], kind="stable")
                    if gt_hist[r, c]
                },
                model_says=names[int(np.argmax(s_hist[r, :k]))],
                mean_confidence=float(conf[r] / size[r]),
                score=float(conf[r]),
                bbox=(int(xs.start), int(ys.start), int(xs.stop), int(ys.stop)),
            )
        )
    if len(keep) > 65535:
        raise SegvizError(f"{image}: more than 65535 flagged regions")
    out = renumber[labels]
    return out, regions


# ====================================================================== the queue
@dataclass
class LabelErrorQueue:
    """Likely label errors of a dataset, ranked.

    Attributes:
        rule: ``top1`` or ``probabilities``; thresholds: (K,) the per-class thresholds used.
        images: one row per image with confidence: name, flagged_pixels, flagged_share, regions, score.
        regions: every kept :class:`Region`, ranked by score.
        masks: image name → uint16 region-number mask (0 = none), for images with regions.
    """

    rule: str
    thresholds: np.ndarray
    class_names: list[str]
    images: list[dict]
    regions: list[Region]
    masks: dict[str, np.ndarray]
    warnings: list[Problem] = field(default_factory=list)

    def image_frame(self) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame(
            self.images, columns=["image", "flagged_pixels", "flagged_share", "regions", "score"]
        )
        frame = frame.sort_values(["score", "image"], ascending=[False, True], kind="stable")
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        return frame.reset_index(drop=True)

    def region_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {
                "rank": i + 1,
                "image": r.image,
                "region": r.region,
                "pixels": r.pixels,
                "labelled_as": ";".join(f"{n}:{c}" for n, c in r.labelled_as.items()),
                "model_says": r.model_says,
                "mean_confidence": round(r.mean_confidence, 6),
                "score": round(r.score, 3),
                "x0": r.bbox[0],
                "y0": r.bbox[1],
                "x1": r.bbox[2],
                "y1": r.bbox[3],
                "mask": _mask_name(r.image),
            }
            for i, r in enumerate(self.regions)
        ]
        cols = ["rank", "image", "region", "pixels", "labelled_as", "model_says", "mean_confidence", "score"]
        return pd.DataFrame(rows, columns=[*cols, "x0", "y0", "x1", "y1", "mask"])

    def to_dict(self) -> dict:
        return {
            "note": HYPOTHESIS,
            "rule": self.rule,
            "thresholds": {
                n: (None if math.isnan(t) else float(t))
                for n, t in zip(self.class_names, self.thresholds, strict=True)
            },
            "images": _records(self.image_frame()),
            "regions": _records(self.region_frame()),
            "warnings": [{"name": p.name, "message": p.reason} for p in self.warnings],
        }

    def write(self, out: Path) -> list[Path]:
        """Write ``images.csv``, ``regions.csv``, ``label_errors.json`` and ``masks/NAME.png`` (region
        numbers as in ``regions.csv``, 0 = none; 8-bit when they fit, else 16-bit) into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "images.csv", out / "regions.csv", out / "label_errors.json"]
        # names are data: formula-like cells neutralised as in every CSV segviz writes
        csv_safe_frame(self.image_frame()).to_csv(written[0], index=False, float_format="%.6f")
        csv_safe_frame(self.region_frame()).to_csv(written[1], index=False, quoting=csv.QUOTE_MINIMAL)
        written[2].write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        for name, mask in self.masks.items():
            path = out / _mask_name(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = mask.astype(np.uint8) if mask.max(initial=0) <= 255 else mask
            Image.fromarray(data).save(path)
            written.append(path)
        return written


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values, NaN (undefined) as None."""
    return [
        {
            k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
            for k, v in row.items()
        }
        for row in frame.to_dict(orient="records")
    ]


def _mask_name(image: str) -> str:
    return f"masks/{image}.png"


def find_label_errors(  # noqa: C901 -- two confident-learning rules, each with its thresholds and regions
    result: ConfidenceResult,
    dataset: Dataset,
    *,
    rule: Rule = "auto",
    min_pixels: int = 20,
    workers: int = 2,
    files: ConfidenceFiles | None = None,
) -> LabelErrorQueue:
    """Rank the likely label errors of an evaluated dataset (reads each image with confidence
    once more, to find the regions). ``rule="auto"``: ``probabilities`` when every image has full
    probabilities, else ``top1``."""
    if rule not in ("auto", "top1", "probabilities"):
        raise ValueError(f"rule must be 'auto', 'top1' or 'probabilities' (got {rule!r})")
    if min_pixels < 1:
        raise ValueError(f"min_pixels must be at least 1 (got {min_pixels})")
    if rule == "auto":
        rule = "probabilities" if result.has_probabilities else "top1"
    if rule == "probabilities":
        thresholds = result.self_confidence_thresholds()
        if thresholds is None:
            raise SegvizError("rule 'probabilities' needs full probabilities (prob/) for every image")
    else:
        thresholds = result.class_thresholds()
    files = files or find_confidence(dataset)
    table = result.evaluation.table
    names = list(table.names)
    k = table.num_classes
    todo = [(i, p) for i, p in enumerate(result.evaluation.pairs) if result.images[i] is not None]

    def work(item):
        try:
            return _work(item)
        except Exception as exc:  # a file changed since the evaluation, …: never a traceback
            return Problem(item[1].name, f"{type(exc).__name__}: {exc} (left out of the label-error queue)")

    def _work(item):
        _, pair = item
        try:
            _, gt_raw, pred_raw = count_pair_arrays(pair, table)
            cmap = read_confidence(
                files.files[pair.name], num_classes=k, logits=files.logits, shape=gt_raw.shape
            )
        except (SegvizError, KeyError) as exc:
            return Problem(pair.name, f"{exc} (left out of the label-error queue)")
        gt = class_indices(gt_raw, table, kind="gt", encoding=pair.gt_encoding)
        pred = class_indices(pred_raw, table, kind="pred", encoding=pair.pred_encoding)
        top = cmap.top()
        if rule == "probabilities":
            flagged, label = flag_probabilities(gt, cmap.probs, thresholds)
            conf = np.take_along_axis(cmap.probs, np.maximum(label, 0)[None], axis=0)[0]
            suggested = np.where(label >= 0, label, k)
        else:
            flagged = flag_top1(gt, pred, top, thresholds)
            conf, suggested = top, pred
        mask, regions = regions_of(
            flagged, gt, suggested, conf, names, image=pair.name, min_pixels=min_pixels
        )
        valid = int((gt < k).sum())
        return mask, regions, int(flagged.sum()), valid

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(work, todo))
    images, regions, masks, warnings = [], [], {}, []
    for (_, pair), outcome in zip(todo, outcomes, strict=True):
        if isinstance(outcome, Problem):
            warnings.append(outcome)
            continue
        mask, found, flagged, valid = outcome
        images.append(
            {
                "image": pair.name,
                "flagged_pixels": flagged,
                "flagged_share": flagged / valid if valid else math.nan,
                "regions": len(found),
                "score": round(sum(r.score for r in found), 6),
            }
        )
        regions.extend(found)
        if found:
            masks[pair.name] = mask
    regions.sort(key=lambda r: (-r.score, r.image, r.region))
    return LabelErrorQueue(
        rule, np.asarray(thresholds, dtype=np.float64), names, images, regions, masks, warnings
    )


# ====================================================================== what to label next
FEATURES = ("mean_confidence", "low_0.5", "low_0.75", "low_0.9", "mean_entropy", "mean_margin")


def features_from_map(cmap: ConfidenceMap) -> dict[str, float]:
    """Per-image features of a confidence map over all its pixels: mean confidence, the share of
    pixels with confidence < 0.5 / 0.75 / 0.9, and (with probabilities) mean entropy and margin."""
    hist = np.bincount(cmap.levels().ravel(), minlength=LEVELS + 1)
    out = features_from_levels(hist, float(cmap.top().mean()))
    if cmap.probs is not None:
        out["mean_entropy"] = float(normalised_entropy(cmap.probs).mean())
        out["mean_margin"] = float(cmap.margin().mean())
    return out


def features_from_levels(level_hist: np.ndarray, mean_confidence: float) -> dict[str, float]:
    """The level-based features of :func:`features_from_map` from a 256-level histogram.

    Example:
        >>> features_from_levels(np.bincount([0, 255], minlength=256), 0.5)["low_0.5"]
        0.5
    """
    n = max(int(level_hist.sum()), 1)
    below = np.concatenate([[0], np.cumsum(level_hist)])  # below[j] = pixels at level < j
    out = {"mean_confidence": mean_confidence}
    for t in (0.5, 0.75, 0.9):
        j = math.ceil(t * LEVELS - 1e-9)  # level ≥ j ⟺ confidence ≥ j/255 ≥ t (exact for 8-bit)
        out[f"low_{t}"] = float(below[j] / n)
    return out


def ridge_fit(
    x: np.ndarray, y: np.ndarray, *, alpha: float = 1.0
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Ridge regression on standardised features: (weights, intercept, mean, scale); predict with
    ``((x − mean) / scale) @ w + b``. The intercept is not penalised.

    Example:
        >>> w, b, m, s = ridge_fit(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0]), alpha=0.0)
        >>> round(float(ridge_predict((w, b, m, s), np.array([[3.0]]))[0]), 6)
        7.0
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    yc = y - y.mean()
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ yc)
    return w, float(y.mean()), mean, scale


def ridge_predict(model: tuple, x: np.ndarray) -> np.ndarray:
    w, b, mean, scale = model
    return ((x - mean) / scale) @ w + b


def cross_validated(x: np.ndarray, y: np.ndarray, *, folds: int = 5, alpha: float = 1.0) -> np.ndarray:
    """Out-of-fold predictions: image i is in fold i mod ``folds`` (leave-one-out when fewer images
    than folds) and is predicted by a model fitted on the other folds."""
    n = len(y)
    folds = min(folds, n)
    pred = np.empty(n)
    fold = np.arange(n) % folds
    for f in range(folds):
        test = fold == f
        model = ridge_fit(x[~test], y[~test], alpha=alpha)
        pred[test] = ridge_predict(model, x[test])
    return pred


@dataclass
class NextToLabel:
    """Unlabelled images ranked by expected error, and how the ranking was validated."""

    by: str
    frame: pd.DataFrame
    labelled: int
    spearman_model: float
    spearman_uncertainty: float
    features: list[str]
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        def rho(v: float) -> str:
            return "n/a" if math.isnan(v) else f"{v:+.3f}"

        return (
            f"{len(self.frame)} unlabelled images ranked by {self.by}; on the {self.labelled} labelled images "
            f"(5-fold cross-validation) the Spearman rank correlation with the true mIoU is "
            f"{rho(self.spearman_model)} for the fitted model's predicted mIoU and {rho(self.spearman_uncertainty)} "
            "for the mean confidence"
        )


def unlabelled_files(
    dataset: Dataset, *, unlabelled: str | Path | None = None, model: str | None = None
) -> tuple[dict[str, Location], ConfidenceFiles]:
    """Predictions without ground truth that have a confidence file: {name: prediction} and their
    confidence files. By default those of the dataset itself (in ``pred/`` but not in ``gt/``);
    ``unlabelled``: a separate folder laid out like a dataset without ``gt/`` (``pred/[MODEL]/``,
    ``conf/[MODEL]/`` or ``prob/[MODEL]/``)."""
    from segviz.dataset import Dataset as _Dataset

    if unlabelled is not None:
        root = Path(unlabelled)
        if not root.is_dir():
            raise SegvizError(f"{root}: --unlabelled folder does not exist")
        pred_dir = root / "pred" / model if model and (root / "pred" / model).is_dir() else root / "pred"
        if not pred_dir.is_dir():
            raise SegvizError(f"{root}: no pred/ folder (expected {pred_dir})")
        gt_keys: set[str] = set()
        holder = _Dataset(root / "gt", pred_dir, None, dataset.table, model, [])
    else:
        pred_dir = dataset.pred_dir
        gt_keys = set(index_files(dataset.gt_dir, MASK_SUFFIXES, "ground-truth")[0])
        holder = dataset
    preds, _ = index_files(pred_dir, MASK_SUFFIXES, "prediction")
    files = find_confidence(holder)
    chosen = {k: v for k, v in preds.items() if k not in gt_keys}
    return chosen, files


def rank_next(  # noqa: C901 -- two rankings (uncertainty, fitted model) and the unlabelled sources
    result: ConfidenceResult,
    dataset: Dataset,
    *,
    by: RankBy = "auto",
    unlabelled: str | Path | None = None,
    model: str | None = None,
    folds: int = 5,
    alpha: float = 1.0,
) -> NextToLabel:
    """Rank the images that have a prediction and confidence but no ground truth (see the module
    docstring). ``by="auto"``: the fitted model when at least 8 labelled images have confidence and
    its cross-validated rank correlation with the true mIoU is at least that of the mean confidence;
    else the mean uncertainty."""
    import pandas as pd
    from scipy.stats import spearmanr

    if by not in ("auto", "model", "uncertainty"):
        raise ValueError(f"by must be 'auto', 'model' or 'uncertainty' (got {by!r})")
    preds, files = unlabelled_files(dataset, unlabelled=unlabelled, model=model)
    k = result.evaluation.table.num_classes
    warnings: list[Problem] = []
    rows = []
    for name in sorted(preds):
        path = files.files.get(name)
        if path is None:
            warnings.append(Problem(name, f"{preds[name]}: no confidence map, cannot be ranked"))
            continue
        try:
            cmap = read_confidence(path, num_classes=k, logits=files.logits)
        except SegvizError as exc:
            warnings.append(Problem(name, f"{exc} (not ranked)"))
            continue
        rows.append({"image": name, **features_from_map(cmap)})
    labelled_idx = np.flatnonzero(result.has_confidence)
    lab_feats = []
    for i in labelled_idx:
        s = result.images[i]
        feats = features_from_levels(s.level_hist, s.mean_all)
        feats["mean_entropy"], feats["mean_margin"] = s.entropy_mean, s.margin_mean
        lab_feats.append(feats)
    truth = result.evaluation.image_frame()["mean_iou"].to_numpy()[labelled_idx]
    names = [f for f in FEATURES if all(not math.isnan(r.get(f, math.nan)) for r in [*rows, *lab_feats])]
    x_lab = np.array([[f[n] for n in names] for f in lab_feats]) if lab_feats else np.zeros((0, len(names)))
    ok = np.isfinite(truth)
    rho_model = rho_unc = math.nan
    enough = int(ok.sum()) >= 8
    if by == "model" and not enough:
        raise SegvizError(
            f"by='model' needs at least 8 labelled images with confidence (found {int(ok.sum())})"
        )
    if int(ok.sum()) >= 3:
        rho_unc = float(spearmanr(x_lab[ok, names.index("mean_confidence")], truth[ok]).statistic)
    fitted = None
    if enough:
        cv = cross_validated(x_lab[ok], truth[ok], folds=folds, alpha=alpha)
        rho_model = float(spearmanr(cv, truth[ok]).statistic)
        fitted = ridge_fit(x_lab[ok], truth[ok], alpha=alpha)
    if by == "auto":  # the ranking that cross-validates better on the labelled images
        by = "model" if enough and not rho_model < rho_unc else "uncertainty"
    frame = pd.DataFrame(rows, columns=["image", *FEATURES])
    frame["mean_uncertainty"] = 1 - frame["mean_confidence"]
    if fitted is not None and len(frame):
        frame["predicted_miou"] = np.clip(ridge_predict(fitted, frame[names].to_numpy(dtype=float)), 0, 1)
    else:
        frame["predicted_miou"] = np.nan
    frame["expected_error"] = 1 - frame["predicted_miou"] if by == "model" else frame["mean_uncertainty"]
    frame = frame.sort_values(["expected_error", "image"], ascending=[False, True], kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    cols = ["rank", "image", "expected_error", "predicted_miou", "mean_uncertainty", *FEATURES]
    return NextToLabel(
        by, frame[cols].reset_index(drop=True), int(ok.sum()), rho_model, rho_unc, names, warnings
    )
