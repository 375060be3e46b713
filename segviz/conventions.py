"""Which mIoU? What other tools would report for the same masks, from segviz's own matrices.

"mIoU" is not one number. Tools agree on a class's IoU = TP / (TP + FP + FN) but differ in

* **which classes enter the mean**: every class whose union is non-empty (a class predicted but
  absent from the ground truth then counts as 0), or only the classes present in the ground truth;
* **where the counts are summed**: over the whole dataset before dividing (one confusion matrix), or
  per image, averaging per-image IoUs afterwards (small images then weigh as much as large ones).

Each rule below was read in the tool's source (named beside it; versions as of 2025–2026) and is
recomputed here from segviz's per-image counts, never from pixels. What segviz calls an *invalid
prediction* (a predicted value that is not a class id, the ignore value included) is an error of its
ground-truth class: in GT, in no class's PRED, in every convention here. Ignored ground-truth pixels
are in no count. Where a tool itself treats invalid predictions differently (detectron2 drops a
prediction equal to K and raises on larger ones; the Cityscapes script raises above its largest label
id; torchmetrics' JaccardIndex raises), the value shown is what it would report had they been
errors of their ground-truth class, and each convention's ``caveats`` say what the tool itself does
(shown in the report's "Which mIoU?" table; :func:`conventions_frame` for a display table).

Example:
    >>> from segviz.stats import _example_evaluation
    >>> for c in miou_conventions(_example_evaluation()):      # 2 images, 2 classes
    ...     print(f"{c.key:22} {c.value:.4f} {c.classes_counted}")
    segviz                 0.6946 2
    mmsegmentation         0.6946 2
    detectron2             0.6946 2
    cityscapes             0.6946 2
    torchmetrics_jaccard   0.6946 2
    torchmetrics_meaniou   0.7018 2
    image_mean             0.7018 2
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from segviz import display, metrics
from segviz.evaluate import Evaluation

if TYPE_CHECKING:  # pandas is imported where the frame is built
    import pandas as pd

Counts = tuple[np.ndarray, np.ndarray, np.ndarray]  # TP, GT, PRED per image and class, (N, K)
Rule = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, int]]


@dataclass(frozen=True)
class Convention:
    """One tool's mIoU for the evaluated masks.

    Attributes:
        key: short identifier (``"segviz"``, ``"detectron2"``, ...).
        tool: the tool and the function or class that computes it.
        rule: one sentence: which classes count and how it aggregates.
        value: the mIoU that tool would report (0..1, NaN = undefined).
        classes_counted: classes that enter the mean (at least once, for per-image conventions).
        source: the file the rule was read in.
        caveats: what to know before comparing with that tool, one sentence each: how it treats the
            ignore index and invalid predictions, where it fails or differs, how it rounds.
    """

    key: str
    tool: str
    rule: str
    value: float
    classes_counted: int
    source: str = ""
    caveats: tuple[str, ...] = ()

    @property
    def notes(self) -> str:
        """The caveats as one paragraph."""
        return " ".join(self.caveats)


# ---------------------------------------------------------------------- the rules, from counts
# Each rule is two steps, so that it can run a block of images at a time (bounded memory at any N):
# ``part`` of one block of per-image counts (B, K), then ``combine`` of every block's part, in image
# order. A rule's public function is the same two steps over one block: one home per rule.
def _totals(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> Counts:
    """Part of a dataset rule: the block's counts summed over its images, (K,) each."""
    return tp.sum(axis=0), gt.sum(axis=0), pred.sum(axis=0)


def _summed(parts: list[Counts]) -> Counts:
    """The blocks' totals added up (exact: integer counts)."""
    tp, gt, pred = parts[0]
    for more in parts[1:]:
        tp, gt, pred = tp + more[0], gt + more[1], pred + more[2]
    return tp, gt, pred


def _union_mean_of(parts: list[Counts]) -> tuple[float, int]:
    every = metrics.from_counts(*_summed(parts))
    return float(every["mean_iou"]), int(every["mean_iou_classes"])


def _gt_mean_of(parts: list[Counts]) -> tuple[float, int]:
    tp, gt, pred = _summed(parts)
    return _mean_over(metrics.iou(tp, gt, pred), gt > 0)


def _defined_ious(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Part of the pooled rule: the defined (image, class) IoUs in row-major order, and which
    classes have one."""
    iou = metrics.iou(tp, gt, pred)
    defined = ~np.isnan(iou)
    return iou[defined], defined.any(axis=0)


def _pooled_mean_of(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, int]:
    values = np.concatenate([v for v, _ in parts])
    value, _ = _mean_over(values, np.ones(len(values), dtype=bool))
    return value, int(np.logical_or.reduce([c for _, c in parts]).sum())


def _image_mious(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Part of the image-mean rule: each image's mIoU (B,), and which classes have an IoU."""
    iou = metrics.iou(tp, gt, pred)  # (from_counts' mean_iou, without its other metrics)
    return metrics.mean_defined(iou)[0], (~np.isnan(iou)).any(axis=0)  # Evaluation.image_frame's mean_iou


def _image_mean_of(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, int]:
    mious = np.concatenate([m for m, _ in parts])
    value, _ = _mean_over(mious, ~np.isnan(mious))
    return value, int(np.logical_or.reduce([c for _, c in parts]).sum())


def dataset_union_mean(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[float, int]:
    """Counts summed over images; mean IoU over classes with a non-empty union.

    Example:
        >>> dataset_union_mean(np.array([[3, 0]]), np.array([[4, 0]]), np.array([[3, 1]]))
        (0.375, 2)
    """
    return _union_mean_of([_totals(tp, gt, pred)])


def dataset_gt_mean(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[float, int]:
    """Counts summed over images; mean IoU over classes with ground-truth pixels only.

    Example:
        >>> dataset_gt_mean(np.array([[3, 0]]), np.array([[4, 0]]), np.array([[3, 1]]))
        (0.75, 1)
    """
    return _gt_mean_of([_totals(tp, gt, pred)])


def pooled_image_class_mean(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[float, int]:
    """IoU per image and class; mean over every (image, class) pair whose union is non-empty.

    Example:
        >>> tp, gt, pred = np.array([[1, 0], [2, 0]]), np.array([[1, 0], [4, 0]]), np.array([[1, 1], [2, 0]])
        >>> pooled_image_class_mean(tp, gt, pred)                  # (1 + 0 + 0.5) / 3
        (0.5, 2)
    """
    return _pooled_mean_of([_defined_ious(tp, gt, pred)])


def image_mean_of_means(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> tuple[float, int]:
    """mIoU of each image (over its classes with a non-empty union), averaged over images.

    Example:
        >>> tp, gt, pred = np.array([[1, 0], [2, 0]]), np.array([[1, 0], [4, 0]]), np.array([[1, 1], [2, 0]])
        >>> image_mean_of_means(tp, gt, pred)                      # ((1 + 0) / 2 + 0.5) / 2
        (0.5, 2)
    """
    return _image_mean_of([_image_mious(tp, gt, pred)])


#: Each rule's two steps: (part of a block of images, combine of the parts in image order).
_BLOCKWISE: dict[Rule, tuple[Callable, Callable]] = {
    dataset_union_mean: (_totals, _union_mean_of),
    dataset_gt_mean: (_totals, _gt_mean_of),
    pooled_image_class_mean: (_defined_ious, _pooled_mean_of),
    image_mean_of_means: (_image_mious, _image_mean_of),
}


def _mean_over(values: np.ndarray, counted: np.ndarray) -> tuple[float, int]:
    n = int(counted.sum())
    return (float(values[counted].mean()) if n else float("nan")), n


# ---------------------------------------------------------------------- the tools
@dataclass(frozen=True)
class _Spec:
    key: str
    tool: str
    rule: str
    compute: Rule
    source: str
    caveats: tuple[str, ...]


CONVENTIONS: tuple[_Spec, ...] = (
    # segviz/metrics.py: IoU NaN when GT + PRED − TP == 0, mean over the defined classes.
    _Spec(
        "segviz",
        "segviz (summary mean_iou)",
        "Counts summed over the dataset; mean over every class with a non-empty union, so a class "
        "predicted but absent from the ground truth counts as 0.",
        dataset_union_mean,
        "segviz/metrics.py",
        (
            "Ignored ground-truth pixels are in no count.",
            "An invalid prediction (a value that is not a class id, the ignore value included) is an "
            "error of its ground-truth class: in GT, in no class's PRED.",
            "A class absent from both ground truth and prediction has no IoU (n/a) and is left out.",
        ),
    ),
    # open-mmlab/mmsegmentation, mmseg/evaluation/metrics/iou_metric.py: intersect_and_union()
    # histograms with torch.histc(bins=K, min=0, max=K-1) after dropping label == ignore_index;
    # compute_metrics() sums the four areas over images, IoU = intersect / union (0/0 = NaN) and
    # the summary is np.round(np.nanmean(...) * 100, 2) (nan_to_num=None by default).
    _Spec(
        "mmsegmentation",
        "mmsegmentation IoUMetric (mIoU)",
        "Areas summed over the dataset; np.nanmean over classes, so a class is left out only when its "
        "union is empty and a predicted-but-absent class counts as 0.",
        dataset_union_mean,
        "open-mmlab/mmsegmentation: mmseg/evaluation/metrics/iou_metric.py",
        (
            "Pixels with label == ignore_index (default 255) are dropped.",
            "Predicted values outside 0..K−1 fall outside torch.histc's range: counted in the GT area, "
            "in no predicted area, as in segviz.",
            "Its summary (aAcc, mIoU, mAcc, ...) is returned and printed in percent rounded to 2 "
            "decimals (np.round(... * 100, 2)): compare with segviz at that precision.",
            "With nan_to_num=0 a class absent from both would count as 0 instead of being left out.",
        ),
    ),
    # facebookresearch/detectron2, detectron2/evaluation/sem_seg_evaluation.py: SemSegEvaluator
    # accumulates a (K+1)×(K+1) matrix indexed [pred, gt] by np.bincount((K+1)·pred + gt).reshape,
    # ignored GT set to K (the extra column); evaluate() uses conf[:-1, :-1]; acc_valid = pos_gt > 0,
    # iou_valid = acc_valid & (union > 0), mIoU = sum(iou[iou_valid]) / sum(iou_valid),
    # fwIoU = sum(iou[iou_valid] * pos_gt / sum(pos_gt)), pACC = sum(tp) / sum(pos_gt).
    _Spec(
        "detectron2",
        "detectron2 SemSegEvaluator (mIoU)",
        "Counts summed over the dataset; mean over the classes present in the ground truth only, so "
        "a class predicted but absent from the ground truth is left out instead of counting as 0.",
        dataset_gt_mean,
        "facebookresearch/detectron2: detectron2/evaluation/sem_seg_evaluation.py",
        (
            "Its (K+1)×(K+1) matrix is indexed [prediction, ground truth]; only the extra column is the "
            "ignore label (ground-truth pixels equal to ignore_label); the extra row holds predictions "
            "equal to K.",
            "A prediction equal to K lands in that row, which conf[:-1, :-1] slices off: those pixels "
            "vanish from every count (segviz counts them as errors of their ground-truth class, the "
            "value shown here; detectron2's own mIoU would be higher).",
            "A prediction above K or negative makes np.bincount(...).reshape raise (ValueError); its "
            "own predictions are an argmax over K scores, so it never meets one.",
            "With predictions in 0..K−1, fwIoU and pACC equal segviz's FWIoU and PA, except when "
            "every pixel is ignored: "
            "detectron2 then reports fwIoU 0.0 (a sum over no class) and pACC NaN (0/0), while segviz "
            "leaves both undefined (null in JSON, n/a on screen).",
        ),
    ),
    # mcordts/cityscapesScripts, cityscapesscripts/evaluation/evalPixelLevelSemanticLabeling.py:
    # generateMatrix() is (maxId+1)² over the label ids; evaluatePair() adds confMatrix[gt][pred];
    # getIouScoreForLabel(): tp = cm[l, l], fn = row sum − tp (predictions of ignored labels
    # included), fp = column sum over GT rows that are not ignoreInEval; NaN when tp+fp+fn == 0;
    # getScoreAverage() averages the non-NaN scores of the evaluated labels.
    _Spec(
        "cityscapes",
        "cityscapesScripts evalPixelLevelSemanticLabeling (Score Average, IoU)",
        "One confusion matrix over the dataset; a class's IoU is NaN when tp + fp + fn == 0 and the "
        "average is over the non-NaN classes, so a predicted-but-absent class counts as 0.",
        dataset_union_mean,
        "mcordts/cityscapesScripts: cityscapesscripts/evaluation/evalPixelLevelSemanticLabeling.py",
        (
            "Ground-truth pixels of ignoreInEval labels add no false positive; predicting an "
            "ignoreInEval label id (e.g. 0 'unlabeled') is a false negative of the ground-truth class, "
            "as segviz's invalid predictions.",
            "A predicted id above the table's largest label id (33 for Cityscapes) raises IndexError: "
            "the matrix has only maxId + 1 columns.",
            "A ground-truth id outside the label list stops the evaluation (printError).",
            "It prints scores as fractions with 3 decimals.",
        ),
    ),
    # Lightning-AI/torchmetrics 1.9.0, src/torchmetrics/functional/classification/jaccard.py:
    # _jaccard_index_reduce(average="macro") sets weights[confmat.sum(1) + confmat.sum(0) == 0] = 0,
    # so a class absent from both target and preds has weight 0 (not zero_division); the confusion
    # matrix is accumulated over every update() (MulticlassJaccardIndex.compute).
    _Spec(
        "torchmetrics_jaccard",
        'torchmetrics JaccardIndex(task="multiclass", average="macro")',
        "Confusion matrix accumulated over the dataset; macro mean with weight 0 for classes absent "
        "from both target and prediction, so a predicted-but-absent class counts as 0.",
        dataset_union_mean,
        "Lightning-AI/torchmetrics: src/torchmetrics/functional/classification/jaccard.py",
        (
            "ignore_index removes target pixels (and, if it is a class index, that class from the mean).",
            "A class absent from both target and prediction gets weight 0 (since the fix of "
            "torchmetrics issue #1693; before, it counted as zero_division, i.e. 0): left out, as in "
            "segviz.",
            "Predictions must be 0..K−1: other values raise (validate_args) or land in a wrong cell "
            "(target·K + pred).",
        ),
    ),
    # Lightning-AI/torchmetrics 1.9.0, src/torchmetrics/segmentation/mean_iou.py: MeanIoU.update()
    # computes per-image IoU (functional/segmentation/mean_iou.py, _mean_iou_update/_compute),
    # valid = union > 0, score += (iou * valid).sum() and num_batches += valid.sum() over images
    # *and* classes; compute() = score / num_batches → one mean over (image, class) pairs.
    _Spec(
        "torchmetrics_meaniou",
        "torchmetrics segmentation.MeanIoU (per_class=False)",
        "IoU per image and class, averaged over every (image, class) pair with a non-empty union: "
        "classes absent from an image are skipped there, and images with more classes weigh more.",
        pooled_image_class_mean,
        "Lightning-AI/torchmetrics: src/torchmetrics/segmentation/mean_iou.py",
        (
            "Not a mean of per-image mIoUs and not dataset-accumulated: one mean over (image, class) "
            "pairs (segviz's per-image table does not give it).",
            "No ignore_index: ignored pixels must be removed beforehand (all-zero one-hot vectors); an "
            "invalid prediction is then an all-zero one-hot vector, an error of its ground-truth class.",
            "Before torchmetrics PR #2892 classes absent from an image counted as 0.",
        ),
    ),
    # segviz/evaluate.py, Evaluation.image_frame(): per-image mean_iou over the image's classes with
    # a non-empty union; torchmetrics' functional mean_iou() returns the same per-image values
    # (scores.nansum / valid_classes.sum, functional/segmentation/mean_iou.py).
    _Spec(
        "image_mean",
        "mean of per-image mIoU (segviz image table; torchmetrics functional mean_iou(...).mean())",
        "mIoU of each image over its classes with a non-empty union, then the plain mean over the "
        "images where it is defined: every image weighs the same, whatever its size.",
        image_mean_of_means,
        "segviz/evaluate.py (Evaluation.image_frame); Lightning-AI/torchmetrics: "
        "src/torchmetrics/functional/segmentation/mean_iou.py",
        (
            "Same counts as segviz per image.",
            "In torchmetrics' functional mean_iou an image with no class at all gives NaN (0/0), left "
            "out here.",
        ),
    ),
)


def miou_conventions(evaluation: Evaluation) -> list[Convention]:
    """The mIoU each tool of :data:`CONVENTIONS` would report for ``evaluation``'s masks.

    Computed from the per-image counts (:meth:`Evaluation.image_count_matrix`), a block of images at
    a time (memory ~ a block, never (N, K)); the values are those of the rules on the whole (N, K)
    counts, bit for bit. The first entry is segviz's own and equals ``evaluation.summary()["mean_iou"]``.

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> by_key = {c.key: c for c in miou_conventions(_example_evaluation())}
        >>> round(by_key["segviz"].value, 4), round(by_key["image_mean"].value, 4)
        (0.6946, 0.7018)
    """
    parts: dict[Callable, list] = {part: [] for part, _ in _BLOCKWISE.values()}
    for block in _count_blocks(evaluation):
        for part, found in parts.items():
            found.append(part(*block))
    out = []
    for spec in CONVENTIONS:
        part, combine = _BLOCKWISE[spec.compute]
        value, n = combine(parts[part])
        out.append(Convention(spec.key, spec.tool, spec.rule, value, n, spec.source, spec.caveats))
    return out


def conventions_frame(evaluation: Evaluation) -> pd.DataFrame:
    """ "Which mIoU?" as a table for display: one row per :data:`CONVENTIONS` entry.

    Columns: key, tool, miou (float 0..1, NaN = undefined), miou_text ("83.48 %" or "n/a"),
    classes (int), rule, caveats (the caveats as lines starting with "• "), source.

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> f = conventions_frame(_example_evaluation())
        >>> f.columns.tolist()
        ['key', 'tool', 'miou', 'miou_text', 'classes', 'rule', 'caveats', 'source']
        >>> f.loc[f["key"] == "detectron2", "caveats"].item().count("• ")
        4
    """
    import pandas as pd

    rows = miou_conventions(evaluation)
    return pd.DataFrame(
        {
            "key": [c.key for c in rows],
            "tool": [c.tool for c in rows],
            "miou": [c.value for c in rows],
            "miou_text": [display.percent(c.value) for c in rows],
            "classes": [c.classes_counted for c in rows],
            "rule": [c.rule for c in rows],
            "caveats": ["\n".join(f"• {x}" for x in c.caveats) for c in rows],
            "source": [c.source for c in rows],
        }
    )


#: Cells (images x classes) of one block of :func:`_count_blocks` (4 MB per int64 array).
_BLOCK_CELLS = 1 << 19


def _count_blocks(evaluation: Evaluation) -> Iterator[Counts]:
    """Dense (TP, GT, PRED) blocks of consecutive images, (B, K) int64 each, from the sparse
    per-image aggregates (:meth:`Evaluation.image_count_matrix`): never the whole (N, K) at once.
    One empty block when there is no image (the rules then say "undefined")."""
    k = evaluation.table.num_classes
    matrix = evaluation.image_count_matrix()
    step = max(1, _BLOCK_CELLS // max(k, 1))
    for lo in range(0, max(matrix.shape[0], 1), step):
        dense = matrix[lo : lo + step].toarray()
        yield dense[:, :k], dense[:, k : 2 * k], dense[:, 2 * k :]
