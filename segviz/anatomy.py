"""Error anatomy: what kind of error — boundary, extent or whole segment — and which objects are missed.

Definitions (Bernhard et al., "What's Outside the Intersection? Fine-Grained Error Analysis for
Semantic Segmentation Beyond IoU", WACV 2024; counts identical to their evaluator ``mxbh/beyond-iou``
at its defaults). Per image and class c, one-vs-rest, ignored ground-truth pixels left out of every
count:

* TP, FP, FN as usual. **Boundary errors**: FP (FN) pixels within distance w of both a TP and a TN
  pixel, grown by w inside FP (FN); each 8-connected piece is kept only if it touches the 1-pixel
  outer contour of both TP and TN. Distance = exact Euclidean disk (``round(√(dx²+dy²)) <= w``).
  w = round(width · image diagonal) for a fraction ``width`` in (0, 1) (default 0.01), or a fixed
  number of pixels.
* **Extent errors**: the remaining FP (FN) pixels of a predicted (ground-truth) 8-connected segment
  that holds a TP pixel. **Segment errors**: those of a segment with no TP pixel (a whole object
  invented or missed).
* **Boundary IoU** (Cheng et al. 2021) and **Trimap IoU** per class with d = max(1, round(0.02 ·
  diagonal)) and the 3×3 kernel iterated d times.
* **Objects**: ground-truth objects are the 8-connected segments of a class; *found* if they hold a
  TP pixel, else *missed*; *invented* = predicted segments with no TP pixel (and at least one
  evaluated pixel). Recall by object size in bins split at ``size_thresholds`` pixels.

Reference behaviour kept on purpose (see README; only the last one has an option, ``reference_quirks``):

* ignored ground-truth pixels predicted as c belong to the FP region (and those predicted as
  something else to the TN region) when the regions are grown and tested — only the counts leave
  them out; Boundary/Trimap IoU treat ignored ground truth as "not c" (a border along a void band
  is a border);
* the image edge is not a border: erosion never eats from the image edge (OpenCV's default border);
* the reference skips the contour test for the class whose position among the image's classes
  (present in ground truth or prediction, by id) equals the ignore id — an index mix-up that only
  shows when the ignore id is small (ADE20K's 0: the first class of every image). With
  ``reference_quirks=False`` every class gets the test.

Dataset counts are sums over images; with U = TP + FP + FN,
IoU + E_boundary/U + E_extent/U + E_segment/U = 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from segviz import anatomy_kernel as _k
from segviz.classes import ClassTable
from segviz.dataset import Pair, Problem
from segviz.errors import SegvizError
from segviz.metrics import divide, iou, mean_defined

if TYPE_CHECKING:
    import pandas as pd

    from segviz.evaluate import Evaluation
    from segviz.store import ResultsStore

#: The seven pixel codes, in the order of the per-image table.
CODES = ("tp", "fp_boundary", "fp_extent", "fp_segment", "fn_boundary", "fn_extent", "fn_segment")
BASE_FIELDS = (
    *CODES,
    "boundary_iou_intersection",
    "boundary_iou_union",
    "trimap_iou_intersection",
    "trimap_iou_union",
    "gt_objects",
    "found_objects",
    "invented_objects",
)
SIZE_BINS = ("small", "medium", "large")
#: Default object-size limits in pixels: small < 32², medium < 96², large otherwise (COCO's areas).
DEFAULT_SIZE_THRESHOLDS = (32 * 32, 96 * 96)
DEFAULT_WIDTH = 0.01
DEFAULT_IOU_D = 0.02
#: Error types a user can pick (kind of error × side).
ErrorType = Literal[
    "fp_boundary",
    "fp_extent",
    "fp_segment",
    "fn_boundary",
    "fn_extent",
    "fn_segment",
    "boundary",
    "extent",
    "segment",
]
KIND_CODES = {"boundary": 1, "extent": 2, "segment": 3}

Progress = Callable[[int, int], None]


def fields(num_bins: int = 3) -> tuple[str, ...]:
    """Column names of the per-image table after ``image`` and ``class``."""
    out = list(BASE_FIELDS)
    names = SIZE_BINS if num_bins == 3 else tuple(f"bin{i}" for i in range(num_bins))
    for b in names:
        out += [f"{b}_gt_objects", f"{b}_found_objects", f"{b}_gt_pixels", f"{b}_tp_pixels"]
    return tuple(out)


# ---------------------------------------------------------------------- widths
def parse_width(text: str) -> float | int:
    """A ``--boundary-width`` value: a fraction of the diagonal in (0, 1) or a whole number of pixels.

    Example:
        >>> parse_width("0.01"), parse_width("3")
        (0.01, 3)
    """
    try:
        value = float(text)
    except ValueError:
        raise BoundaryWidthError(
            f"boundary width {text!r}: expected a fraction of the diagonal in (0, 1) or pixels"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise BoundaryWidthError(
            f"boundary width {text}: must be positive (a fraction in (0, 1) or pixels >= 1)"
        )
    if value < 1:
        return value
    if value != int(value):
        raise BoundaryWidthError(f"boundary width {text}: a width of 1 pixel or more must be a whole number")
    return int(value)


class BoundaryWidthError(SegvizError, ValueError):
    """A boundary width that cannot be used (0, negative, not whole pixels, larger than an image)."""


def width_pixels(width: float | int, shape: tuple[int, int]) -> int:
    """Boundary width in pixels for an image of ``shape``: round(width · diagonal) for a fraction,
    else ``width`` itself (the reference's rule; Python's round, half to even).

    Example:
        >>> width_pixels(0.01, (360, 480)), width_pixels(4, (360, 480))
        (6, 4)
    """
    if 0 < width < 1:
        return round(width * math.sqrt(shape[0] ** 2 + shape[1] ** 2))
    check_width(width, [shape])
    return int(width)


def iou_d_pixels(d: float, shape: tuple[int, int]) -> int:
    """Boundary/Trimap IoU width: max(1, round(d · diagonal))."""
    return max(round(d * math.sqrt(shape[0] ** 2 + shape[1] ** 2)), 1)


# ---------------------------------------------------------------------- one image
@dataclass(frozen=True)
class ImageAnatomy:
    """One image's anatomy.

    Attributes:
        counts: int64 (K, F) per class, columns :func:`fields`.
        fp_kind: uint8 (H, W): for a pixel predicted as a class it does not belong to, 1 boundary,
            2 extent, 3 segment error of its *predicted* class (0 elsewhere).
        fn_kind: uint8 (H, W): the same for the pixel's *true* class.
    """

    counts: np.ndarray
    fp_kind: np.ndarray
    fn_kind: np.ndarray


def analyse_indices(
    gt: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    *,
    width: float | int = DEFAULT_WIDTH,
    iou_d: float = DEFAULT_IOU_D,
    size_thresholds: Sequence[float] = DEFAULT_SIZE_THRESHOLDS,
    skip_contour: np.ndarray | None = None,
) -> ImageAnatomy:
    """Anatomy of one image given class indices.

    gt: (H, W) ints, 0..K-1 classes, K = ignored. pred: (H, W) ints, 0..K-1 classes, anything else
    = not a class. ``skip_contour``: bool (K,) classes whose boundary pieces skip the contour test
    (see :func:`reference_skip`).

    Example (one 4×6 image, class 1 predicted one column too wide on the right):
        >>> g = np.zeros((4, 6), int); g[:, 2:4] = 1
        >>> p = np.zeros((4, 6), int); p[:, 2:5] = 1
        >>> a = analyse_indices(g, p, 2, width=1)
        >>> dict(zip(CODES, a.counts[1, :7].tolist()))["fp_boundary"], int(a.counts[1, 0])
        (4, 8)
    """
    g = np.ascontiguousarray(gt, dtype=np.int32)
    p = np.ascontiguousarray(pred, dtype=np.int32)
    if g.shape != p.shape or g.ndim != 2:
        raise ValueError(f"ground truth {g.shape} and prediction {p.shape} must be equally shaped 2-D arrays")
    k = int(num_classes)
    thresholds = np.asarray(sorted(size_thresholds), dtype=np.float64)
    out = np.zeros((k, len(fields(len(thresholds) + 1))), dtype=np.int64)
    fp_kind = np.zeros(g.shape, np.uint8)
    fn_kind = np.zeros(g.shape, np.uint8)
    skip = np.zeros(k, np.bool_) if skip_contour is None else np.asarray(skip_contour, np.bool_)
    if g.size:
        w = width_pixels(width, g.shape)
        d = iou_d_pixels(iou_d, g.shape)
        kernel = _k.compiled() or _k.anatomy_image
        kernel(g, p, k, w, d, skip, thresholds, out, fp_kind, fn_kind)
    return ImageAnatomy(out, fp_kind, fn_kind)


def reference_skip(gt: np.ndarray, pred: np.ndarray, table: ClassTable) -> np.ndarray:
    """The classes whose boundary pieces the reference never contour-tests in this image.

    The reference compares each class's *position* among the image's classes (those in ground truth
    or prediction, in id order) with the ignore id and skips the test on a match.
    """
    k = table.num_classes
    present = np.zeros(k, bool)
    for arr in (gt, pred):
        hist = np.bincount(np.clip(arr.ravel(), 0, k).astype(np.int64), minlength=k + 1)[:k]
        present |= hist > 0
    active = np.flatnonzero(present)
    active = active[np.argsort(table.ids[active], kind="stable")]
    skip = np.zeros(k, bool)
    for pos, c in enumerate(active):
        if pos in table.ignore_ids:
            skip[c] = True
    return skip


def read_indices(pair: Pair, table: ClassTable) -> tuple[np.ndarray, np.ndarray]:
    """A pair's ground truth and prediction as class indices (gt: K = ignored, K+1 = unknown;
    pred: K = not a class), through the same reader and lookup tables as the evaluation."""
    from segviz.evaluate import read_pair

    gt, pred = read_pair(pair, table)
    size = int(max(gt.values.max(initial=0), pred.values.max(initial=0))) + 1
    gi = table.gt_lut(size, encoding=pair.gt_encoding)[gt.values]
    pi = table.pred_lut(size, encoding=pair.pred_encoding)[pred.values]
    return gi, pi


def analyse_pair(
    pair: Pair,
    table: ClassTable,
    *,
    width: float | int = DEFAULT_WIDTH,
    iou_d: float = DEFAULT_IOU_D,
    size_thresholds: Sequence[float] = DEFAULT_SIZE_THRESHOLDS,
    reference_quirks: bool = True,
) -> ImageAnatomy:
    """Read one pair and compute its anatomy (raises :class:`SegvizError` naming the file)."""
    gi, pi = read_indices(pair, table)
    k = table.num_classes
    if (gi == k + 1).any():
        raise SegvizError(
            f"{pair.gt_path}: ground-truth values not in the class table ({table.describe_ids()})"
        )
    skip = reference_skip(gi, pi, table) if reference_quirks else None
    try:
        return analyse_indices(
            gi, pi, k, width=width, iou_d=iou_d, size_thresholds=size_thresholds, skip_contour=skip
        )
    except BoundaryWidthError as exc:
        raise BoundaryWidthError(f"{exc} ({pair.gt_path})") from None


# ---------------------------------------------------------------------- a dataset
@dataclass
class Anatomy:
    """Error anatomy of an evaluated dataset.

    Attributes:
        table: the class table (K classes).
        names: image names (the evaluation's order).
        rows: int64 (M, 2 + F) per-image table: image index, class index, then :attr:`columns`;
            only (image, class) cells with a non-zero count are kept.
        width: boundary width as given (fraction of the diagonal, or pixels).
        iou_d: Boundary/Trimap IoU width as a fraction of the diagonal.
        size_thresholds: object-size limits in pixels.
        reference_quirks: whether the reference's questionable behaviour was kept (module docs).
        skipped: images that could not be analysed, with the reason.
    """

    table: ClassTable
    names: list[str]
    rows: np.ndarray
    width: float | int = DEFAULT_WIDTH
    iou_d: float = DEFAULT_IOU_D
    size_thresholds: tuple[float, ...] = DEFAULT_SIZE_THRESHOLDS
    reference_quirks: bool = True
    skipped: list[Problem] = field(default_factory=list)
    instances: Instances | None = None  # Cityscapes instance ids, when the dataset has them

    @property
    def columns(self) -> tuple[str, ...]:
        return fields(len(self.size_thresholds) + 1)

    def column(self, name: str) -> int:
        return 2 + self.columns.index(name)

    # ------------------------------------------------------------------ per class
    def totals(self) -> np.ndarray:
        """int64 (K, F): the per-image counts summed per class."""
        k, f = self.table.num_classes, len(self.columns)
        out = np.zeros((k, f), np.int64)
        np.add.at(out, self.rows[:, 1], self.rows[:, 2:])
        return out

    def class_frame(self) -> pd.DataFrame:
        """Per-class table: id, name, the summed counts, then union (TP+FP+FN), iou and the error
        shares ``boundary_error`` = E_boundary/U, ``extent_error``, ``segment_error`` (these four sum
        to 1), the paper's renormalised rates (E_b/(TP+E_b), E_e/(TP+E_b+E_e), E_s/U),
        ``boundary_iou``, ``trimap_iou``, ``object_recall`` and per size bin ``<bin>_recall``
        (found/ground-truth objects). NaN = undefined."""
        import pandas as pd

        t = self.totals()
        col = {n: t[:, i] for i, n in enumerate(self.columns)}
        eb = col["fp_boundary"] + col["fn_boundary"]
        ee = col["fp_extent"] + col["fn_extent"]
        es = col["fp_segment"] + col["fn_segment"]
        tp = col["tp"]
        union = tp + eb + ee + es
        frame = pd.DataFrame({"id": self.table.ids, "name": list(self.table.names), **col})
        frame["union"] = union
        fp = col["fp_boundary"] + col["fp_extent"] + col["fp_segment"]
        fn = col["fn_boundary"] + col["fn_extent"] + col["fn_segment"]
        frame["iou"] = iou(tp, tp + fn, tp + fp)  # the one IoU formula: union = TP + FP + FN
        frame["boundary_error"] = divide(eb, union)
        frame["extent_error"] = divide(ee, union)
        frame["segment_error"] = divide(es, union)
        frame["boundary_error_renormalised"] = divide(eb, tp + eb)
        frame["extent_error_renormalised"] = divide(ee, tp + eb + ee)
        frame["segment_error_renormalised"] = divide(es, union)
        frame["boundary_iou"] = divide(col["boundary_iou_intersection"], col["boundary_iou_union"])
        frame["trimap_iou"] = divide(col["trimap_iou_intersection"], col["trimap_iou_union"])
        frame["object_recall"] = divide(col["found_objects"], col["gt_objects"])
        bins = (
            SIZE_BINS
            if len(self.size_thresholds) == 2
            else [f"bin{i}" for i in range(len(self.size_thresholds) + 1)]
        )
        for b in bins:
            frame[f"{b}_recall"] = divide(col[f"{b}_found_objects"], col[f"{b}_gt_objects"])
        return frame

    def summary(self) -> dict[str, float | None]:
        """Means over the classes whose value is defined (None when no class has one)."""
        frame = self.class_frame()
        out: dict[str, float | None] = {}
        for key, column in (
            ("mean_boundary_error", "boundary_error"),
            ("mean_extent_error", "extent_error"),
            ("mean_segment_error", "segment_error"),
            ("mean_boundary_error_renormalised", "boundary_error_renormalised"),
            ("mean_extent_error_renormalised", "extent_error_renormalised"),
            ("mean_segment_error_renormalised", "segment_error_renormalised"),
            ("mean_boundary_iou", "boundary_iou"),
            ("mean_trimap_iou", "trimap_iou"),
        ):
            mean, _ = mean_defined(frame[column].to_numpy(dtype=float))
            out[key] = _clean(mean)
        return out

    def error_split(self) -> dict[str, float | None]:
        """Dataset-level split of all error pixels (summed over classes): shares of boundary,
        extent and segment errors in Σ(FP + FN), and Σ TP / Σ U."""
        t = self.totals()
        c = {n: int(t[:, i].sum()) for i, n in enumerate(self.columns)}
        eb = c["fp_boundary"] + c["fn_boundary"]
        ee = c["fp_extent"] + c["fn_extent"]
        es = c["fp_segment"] + c["fn_segment"]
        errors = eb + ee + es
        return {
            "boundary": _clean(divide(eb, errors)),
            "extent": _clean(divide(ee, errors)),
            "segment": _clean(divide(es, errors)),
            "tp_of_union": _clean(divide(c["tp"], c["tp"] + errors)),
            "error_pixels": errors,
        }

    def settings(self) -> dict:
        return {
            "boundary_width": self.width,
            "boundary_iou_d": self.iou_d,
            "size_thresholds": list(self.size_thresholds),
            "reference_quirks": self.reference_quirks,
        }

    def to_dict(self) -> dict:
        """``error_anatomy`` block of the JSON report (top level)."""
        s = self.summary()
        return {
            "boundary_width": self.width,
            "boundary_iou_d": self.iou_d,
            "mean_boundary_error": s["mean_boundary_error"],
            "mean_extent_error": s["mean_extent_error"],
            "mean_segment_error": s["mean_segment_error"],
            "mean_boundary_iou": s["mean_boundary_iou"],
            "mean_trimap_iou": s["mean_trimap_iou"],
            "size_thresholds": list(self.size_thresholds),
            "reference_quirks": self.reference_quirks,
            **({"mean_iiou": self.instances.mean_iiou()} if self.instances is not None else {}),
        }

    def headlines(self) -> list[str]:
        """Plain sentences for a report, one per headline (shares are means over classes, as in the
        paper: the part of the union outside the intersection, split by kind)."""
        s = self.summary()
        frame = self.class_frame()
        eb, ee, es = s["mean_boundary_error"], s["mean_extent_error"], s["mean_segment_error"]
        width = f"{self.width * 100:g} % of the image diagonal" if self.width < 1 else f"{int(self.width)} px"
        out = []
        if eb is None or ee is None or es is None:
            return [f"No class has ground truth or predictions: nothing to split (boundary width {width})."]
        missing = eb + ee + es
        if missing <= 0:
            out.append("Every evaluated pixel is correct: there are no errors to split.")
        else:
            out.append(
                f"{_percent(es / missing)} of what mIoU misses is whole objects missed or invented; "
                f"borders are {_percent(eb / missing)} and object extents {_percent(ee / missing)} "
                f"(boundary width {width})."
            )
        worst = frame[frame["union"] > 0].sort_values("segment_error", ascending=False, kind="stable")
        if len(worst) and worst["segment_error"].iloc[0] > 0:
            top = worst.iloc[0]
            out.append(
                f"Whole-segment errors weigh most on {top['name']}: {_percent(top['segment_error'])} of its union."
            )
        gt_obj, found = int(frame["gt_objects"].sum()), int(frame["found_objects"].sum())
        if gt_obj:
            out.append(
                f"{gt_obj - found:,} of {gt_obj:,} ground-truth objects (8-connected segments) were missed "
                f"entirely, and {int(frame['invented_objects'].sum()):,} predicted objects were invented."
            )
        if s["mean_boundary_iou"] is not None:
            out.append(
                f"Mean Boundary IoU is {_percent(s['mean_boundary_iou'])} and mean Trimap IoU "
                f"{_percent(s['mean_trimap_iou'])} (d = {self.iou_d * 100:g} % of the diagonal)."
            )
        if self.instances is not None and self.instances.mean_iiou() is not None:
            out.append(f"Instance-weighted iIoU (Cityscapes) is {_percent(self.instances.mean_iiou())}.")
        return out

    def class_dicts(self) -> list[dict]:
        """Per class (table order): ``errors``, ``boundary_iou``, ``trimap_iou``, ``objects``."""
        frame = self.class_frame()
        out = []
        for row in frame.to_dict("records"):
            out.append(
                {
                    "errors": {c: int(row[c]) for c in CODES},
                    "boundary_iou": _clean(row["boundary_iou"]),
                    "trimap_iou": _clean(row["trimap_iou"]),
                    "objects": {
                        "gt": int(row["gt_objects"]),
                        "found": int(row["found_objects"]),
                        "missed": int(row["gt_objects"] - row["found_objects"]),
                        "invented": int(row["invented_objects"]),
                    },
                }
            )
        if self.instances is not None:
            for entry, row in zip(out, self.instances.class_frame().to_dict("records"), strict=True):
                entry["iiou"] = _clean(row["iiou"])
                entry["instances"] = {
                    "gt": int(row["instances"]),
                    "found": int(row["found_instances"]),
                    "missed": int(row["missed_instances"]),
                }
        return out

    # ------------------------------------------------------------------ per image
    def image_frame(self) -> pd.DataFrame:
        """The per-image table as a DataFrame: image, name, class, class_name, then the counts."""
        import pandas as pd

        frame = pd.DataFrame(self.rows[:, 2:], columns=list(self.columns))
        frame.insert(0, "image", self.rows[:, 0])
        frame.insert(1, "name", [self.names[i] for i in self.rows[:, 0]])
        frame.insert(2, "class", self.rows[:, 1])
        frame.insert(3, "class_name", [self.table.names[i] for i in self.rows[:, 1]])
        return frame

    def image_codes(self) -> np.ndarray:
        """Dense int64 (N, K, 7) per-image counts of the seven codes (zeros where a cell has no row)."""
        out = np.zeros((len(self.names), self.table.num_classes, len(CODES)), np.int64)
        out[self.rows[:, 0], self.rows[:, 1]] = self.rows[:, 2 : 2 + len(CODES)]
        return out

    def images_for_error(self, class_index: int, error: ErrorType) -> pd.DataFrame:
        """Images ranked by their pixels of one class and error type (most first): columns image,
        name, pixels, share (of that image's union TP+FP+FN of the class). ``error`` is one of the six
        codes (``fn_segment`` = missed-segment pixels) or a kind (``segment`` = fp + fn)."""
        import pandas as pd

        names = _error_columns(error)
        rows = self.rows[self.rows[:, 1] == int(class_index)]
        pixels = sum(rows[:, self.column(n)] for n in names) if len(rows) else np.zeros(0, np.int64)
        union = sum(rows[:, self.column(n)] for n in CODES) if len(rows) else np.zeros(0, np.int64)
        keep = pixels > 0
        rows, pixels, union = rows[keep], pixels[keep], union[keep]
        order = np.lexsort((rows[:, 0], -pixels))
        return pd.DataFrame(
            {
                "image": rows[order, 0],
                "name": [self.names[i] for i in rows[order, 0]],
                "pixels": pixels[order],
                "share": divide(pixels[order], union[order]),
            }
        )


KINDS = ("boundary", "extent", "segment")


def _shares(codes: np.ndarray) -> np.ndarray:
    """(..., K, 7) code counts → (..., K, 3) boundary / extent / segment shares of the union."""
    union = codes.sum(axis=-1)
    errors = np.stack([codes[..., 1 + i] + codes[..., 4 + i] for i in range(3)], axis=-1)
    return divide(errors, union[..., None])


def compare_anatomy(
    a: Anatomy, b: Anatomy, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Change b − a of each error share (E/U per class, and its mean over classes), with
    paired-bootstrap intervals over the images both have (matched by name, resampled with the same
    indices, :func:`segviz.stats.resample_weights`; percentile intervals as in :mod:`segviz.stats`).

    Columns: class (a class name, or "mean"), kind (boundary / extent / segment), a, b, delta, low,
    high, significant (the interval excludes 0). NaN = undefined.
    """
    import pandas as pd

    from segviz.stats import percentile_interval, resample_weights

    if list(a.table.ids) != list(b.table.ids):
        raise ValueError("compare_anatomy: the two anatomies use different class tables")
    where_b = {n: i for i, n in enumerate(b.names)}
    shared = [(i, where_b[n]) for i, n in enumerate(a.names) if n in where_b]
    if not shared:
        raise ValueError("compare_anatomy: the two anatomies share no image name")
    ia = np.array([i for i, _ in shared])
    ib = np.array([j for _, j in shared])
    codes_a, codes_b = a.image_codes()[ia], b.image_codes()[ib]
    n, k = codes_a.shape[:2]
    weights = resample_weights(n, resamples=resamples, seed=seed).astype(np.float64)

    def full_and_replicates(codes):
        full = _shares(codes.sum(axis=0).astype(np.float64))  # (K, 3)
        rep = _shares((weights @ codes.reshape(n, -1).astype(np.float64)).reshape(-1, k, 7))  # (B, K, 3)
        full_mean, _ = mean_defined(full.T)
        rep_mean, _ = mean_defined(np.swapaxes(rep, 1, 2))
        return np.vstack([full, full_mean[None]]), np.concatenate([rep, rep_mean[:, None]], axis=1)

    fa, ra = full_and_replicates(codes_a)
    fb, rb = full_and_replicates(codes_b)
    low, high = percentile_interval(rb - ra, confidence)
    names = [*a.table.names, "mean"]
    records = []
    for c, name in enumerate(names):
        for j, kind in enumerate(KINDS):
            lo, hi = low[c, j], high[c, j]
            records.append(
                dict(
                    class_=name,
                    kind=kind,
                    a=fa[c, j],
                    b=fb[c, j],
                    delta=fb[c, j] - fa[c, j],
                    low=lo,
                    high=hi,
                    significant=bool((lo > 0) | (hi < 0)),
                )
            )
    return pd.DataFrame(records).rename(columns={"class_": "class"})


def _error_columns(error: str) -> tuple[str, ...]:
    if error in KIND_CODES:
        return (f"fp_{error}", f"fn_{error}")
    if error in CODES[1:]:
        return (error,)
    raise ValueError(f"error type {error!r}: expected one of {', '.join((*CODES[1:], *KIND_CODES))}")


def error_mask(
    image: ImageAnatomy, gt: np.ndarray, pred: np.ndarray, class_index: int, error: ErrorType
) -> np.ndarray:
    """bool (H, W): the pixels of one class and error type in one image (for highlighting).

    ``gt`` / ``pred``: the image's class indices (:func:`read_indices`)."""
    out = np.zeros(gt.shape, bool)
    for name in _error_columns(error):
        side, kind = name.split("_")
        kinds = image.fp_kind if side == "fp" else image.fn_kind
        owner = pred if side == "fp" else gt
        out |= (kinds == KIND_CODES[kind]) & (owner == class_index)
    return out


def error_type_map(
    image: ImageAnatomy, gt: np.ndarray, pred: np.ndarray, class_index: int | None = None
) -> np.ndarray:
    """int8 (H, W) per-pixel error type for the image view: 0 correct (or another class's pixel
    when ``class_index`` is given), 1/2/3 FP boundary/extent/segment, 4/5/6 FN boundary/extent/segment.
    Without ``class_index`` a wrong pixel shows its FN type (its true
    class) when it has one, else its FP type.

    Example:
        >>> g = np.zeros((4, 6), int); g[:, 2:4] = 1
        >>> p = np.zeros((4, 6), int); p[:, 2:5] = 1
        >>> a = analyse_indices(g, p, 2, width=1)
        >>> error_type_map(a, g, p, 1)[0].tolist()
        [0, 0, 0, 0, 1, 0]
    """
    out = np.zeros(gt.shape, np.int8)
    if class_index is None:
        out[image.fp_kind > 0] = image.fp_kind[image.fp_kind > 0]
        fn = image.fn_kind > 0
        out[fn] = image.fn_kind[fn] + 3
    else:
        fp = (image.fp_kind > 0) & (pred == class_index)
        out[fp] = image.fp_kind[fp]
        fn = (image.fn_kind > 0) & (gt == class_index)
        out[fn] = image.fn_kind[fn] + 3
    return out


ERROR_TYPE_LABELS = (
    "correct",
    "FP boundary",
    "FP extent",
    "FP segment",
    "FN boundary",
    "FN extent",
    "FN segment",
)


def analyse(  # noqa: C901 -- store lookup, threads, instances: the steps of one pass
    evaluation: Evaluation,
    *,
    width: float | int = DEFAULT_WIDTH,
    iou_d: float = DEFAULT_IOU_D,
    size_thresholds: Sequence[float] = DEFAULT_SIZE_THRESHOLDS,
    reference_quirks: bool = True,
    workers: int = 2,
    store: ResultsStore | None = None,
    progress: Progress | None = None,
) -> Anatomy:
    """Error anatomy of every image of an evaluation (the same pairs and class table).

    Images are read again (the evaluation keeps counts, not pixels) in ``workers`` threads; the
    kernel releases the GIL. With ``store``, per-image results are kept beside the evaluation's
    counts (keyed on the files and the settings) and a second run reads no mask.
    """
    check_width(width, [])
    thresholds = tuple(sorted(float(t) for t in size_thresholds))
    table = evaluation.table
    settings = dict(width=width, iou_d=iou_d, size_thresholds=thresholds, reference_quirks=reference_quirks)
    pairs = list(evaluation.pairs)
    cached = load_cached(store, pairs, table, settings) if store is not None else {}
    todo = [i for i, p in enumerate(pairs) if i not in cached]
    _k.compiled()  # compile (or load the compiled kernel) once, before the threads start

    def one(i: int) -> np.ndarray | Problem:
        pair = pairs[i]
        try:
            a = analyse_pair(
                pair,
                table,
                width=width,
                iou_d=iou_d,
                size_thresholds=thresholds,
                reference_quirks=reference_quirks,
            )
        except BoundaryWidthError:
            raise
        except SegvizError as exc:
            return Problem(pair.name, str(exc))
        except Exception as exc:  # a bad file never stops the dataset
            return Problem(pair.name, f"{pair.gt_path} / {pair.pred_path}: {type(exc).__name__}: {exc}")
        return a.counts

    results: dict[int, np.ndarray] = dict(cached)
    skipped: list[Problem] = []
    done = len(cached)
    if progress is not None and done:
        progress(done, len(pairs))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, r in zip(todo, pool.map(one, todo), strict=True):
            if isinstance(r, Problem):
                skipped.append(r)
            else:
                results[i] = r
            done += 1
            if progress is not None:
                progress(done, len(pairs))
    if store is not None and todo:
        save_cached(store, pairs, table, settings, results)
    nf = len(fields(len(thresholds) + 1))
    blocks = []
    for i in sorted(results):
        counts = results[i]
        nz = np.flatnonzero(counts.any(axis=1))
        block = np.empty((len(nz), 2 + nf), np.int64)
        block[:, 0] = i
        block[:, 1] = nz
        block[:, 2:] = counts[nz]
        blocks.append(block)
    rows = np.concatenate(blocks) if blocks else np.zeros((0, 2 + nf), np.int64)
    return Anatomy(
        table=table,
        names=list(evaluation.names),
        rows=rows,
        width=width,
        iou_d=iou_d,
        size_thresholds=thresholds,
        reference_quirks=reference_quirks,
        skipped=skipped,
    )


def check_width(width: float | int, shapes: Sequence[tuple[int, int]]) -> None:
    """Raise :class:`BoundaryWidthError` naming ``width`` when it is 0, negative, neither a fraction in (0, 1) nor
    whole pixels, or more pixels than an image has (``shapes``: (H, W) of the images)."""
    if (
        isinstance(width, bool)
        or not isinstance(width, (int, float))
        or not math.isfinite(width)
        or width <= 0
    ):
        raise BoundaryWidthError(
            f"boundary width {width!r}: must be positive (a fraction in (0, 1) or pixels >= 1)"
        )
    if width >= 1 and width != int(width):
        raise BoundaryWidthError(f"boundary width {width}: a width of 1 pixel or more must be a whole number")
    for shape in shapes:
        if width >= 1 and width > max(shape):
            raise BoundaryWidthError(
                f"boundary width {width} px is larger than the image ({shape[1]}x{shape[0]})"
            )


# ---------------------------------------------------------------------- the results store
CACHE_VERSION = 1


def _cache_file(store: ResultsStore, pairs: Sequence[Pair], table: ClassTable, settings: dict) -> Path:
    key = json.dumps(
        {
            "v": CACHE_VERSION,
            "ids": table.ids.tolist(),
            "ignore": list(table.ignore_ids),
            "source": sorted((table.source_ids or {}).items()),
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
        },
        sort_keys=True,
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return store.folder_for(pairs).with_name(store.folder_for(pairs).name + f".anatomy-{digest}.npz")


def load_cached(
    store: ResultsStore, pairs: Sequence[Pair], table: ClassTable, settings: dict
) -> dict[int, np.ndarray]:
    """Stored per-image counts {pair position: (K, F) counts} of the pairs whose files are unchanged
    (the same :func:`segviz.store.pair_key` as the evaluation's counts); {} when nothing is stored
    or the file cannot be trusted."""
    from segviz.store import pair_key

    path = _cache_file(store, pairs, table, settings)
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = json.loads(str(data["keys"]))
            counts = data["counts"]
        if counts.ndim != 3 or counts.shape[0] != len(keys) or counts.shape[1] != table.num_classes:
            raise ValueError(f"shape {counts.shape}")
        if (counts < 0).any():
            raise ValueError("negative counts")
    except Exception:
        path.unlink(missing_ok=True)
        return {}
    stored = {tuple(k): i for i, k in enumerate(keys)}
    out = {}
    for i, pair in enumerate(pairs):
        j = stored.get(tuple(json.loads(json.dumps(pair_key(pair)))))
        if j is not None:
            out[i] = counts[j].astype(np.int64)
    return out


def save_cached(
    store: ResultsStore,
    pairs: Sequence[Pair],
    table: ClassTable,
    settings: dict,
    results: dict[int, np.ndarray],
) -> None:
    """Write the per-image counts atomically (a file of its own beside the store's entry)."""
    from segviz.store import pair_key

    path = _cache_file(store, pairs, table, settings)
    order = sorted(results)
    keys = [list(pair_key(pairs[i])) for i in order]
    counts = np.stack([results[i] for i in order]) if order else np.zeros((0, table.num_classes, 0), np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-anatomy-", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, keys=np.array(json.dumps(keys)), counts=counts)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def _clean(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


# ---------------------------------------------------------------------- instances (Cityscapes)
#: Cityscapes' average instance size per class in pixels, from cityscapesscripts
#: ``evaluation/evalPixelLevelSemanticLabeling.py`` (``args.avgClassSize``), at 2048×1024.
CITYSCAPES_AVG_CLASS_SIZE = {
    "bicycle": 4672.3249222261,
    "caravan": 36771.8241758242,
    "motorcycle": 6298.7200839748,
    "rider": 3930.4788056518,
    "bus": 35732.1511111111,
    "train": 67583.7075812274,
    "car": 12794.0202738185,
    "person": 3462.4756337644,
    "truck": 27855.1264367816,
    "trailer": 16926.9763313609,
}
INSTANCE_FIELDS = ("instances", "found_instances", "tp_weighted", "fn_weighted")


def instance_path(pair: Pair, gt_folder: str | Path, instance_folder: str | Path) -> Path:
    """Where a pair's instance-id mask is: the ground truth's path below ``gt_folder``, moved below
    ``instance_folder``, with ``labelIds`` / ``labelTrainIds`` / ``trainIds`` in the file name
    replaced by ``instanceIds`` (Cityscapes' naming).

    Example:
        >>> p = Pair("a", "/d/gt/x_gtFine_labelIds.png", "/d/pred/x.png")
        >>> instance_path(p, "/d/gt", "/d/gt_instanceIds").as_posix()
        '/d/gt_instanceIds/x_gtFine_instanceIds.png'
    """
    import re

    rel = Path(os.path.relpath(os.fspath(pair.gt_path), os.fspath(gt_folder)))
    name = re.sub(r"(labelTrainIds|labelIds|trainIds)(?=\.[^.]+$)", "instanceIds", rel.name)
    return Path(instance_folder) / rel.parent / name


@dataclass
class Instances:
    """Per-class instance statistics (Cityscapes ``gt_instanceIds``: id > 1000 = labelId·1000 + k).

    Attributes:
        table: the class table (K classes).
        counts: float64 (K, 4 + 2·bins): instances, found instances (≥ 1 pixel predicted as the
            class), Σ tp·w, Σ fn·w with w = avgClassSize / instance size, then per size bin the
            instances and the found ones.
        fp: int64 (K,) false-positive pixels of each class (ignored ground truth left out).
        avg_class_size: the class sizes used (by class name); classes not in it have no iIoU.
        size_thresholds: instance-size limits in pixels.
        skipped: images without a readable instance mask, with the reason.
    """

    table: ClassTable
    counts: np.ndarray
    fp: np.ndarray
    avg_class_size: dict[str, float]
    size_thresholds: tuple[float, ...] = DEFAULT_SIZE_THRESHOLDS
    skipped: list[Problem] = field(default_factory=list)

    def class_frame(self) -> pd.DataFrame:
        """id, name, instances, found_instances, missed_instances, instance_recall, ``<bin>_instance_recall``,
        and ``iiou`` = Σtp·w / (Σtp·w + FP + Σfn·w) (cityscapesscripts' instance-weighted IoU)."""
        import pandas as pd

        c = self.counts
        has_size = np.array([n in self.avg_class_size for n in self.table.names])
        frame = pd.DataFrame(
            {
                "id": self.table.ids,
                "name": list(self.table.names),
                "instances": c[:, 0].astype(np.int64),
                "found_instances": c[:, 1].astype(np.int64),
                "missed_instances": (c[:, 0] - c[:, 1]).astype(np.int64),
            }
        )
        frame["instance_recall"] = divide(c[:, 1], c[:, 0])
        for b, name in enumerate(
            SIZE_BINS if len(self.size_thresholds) == 2 else range(len(self.size_thresholds) + 1)
        ):
            frame[f"{name}_instance_recall"] = divide(c[:, 5 + 2 * b], c[:, 4 + 2 * b])
        iiou = divide(c[:, 2], c[:, 2] + self.fp + c[:, 3])
        frame["iiou"] = np.where(has_size, iiou, np.nan)
        return frame

    def mean_iiou(self) -> float | None:
        mean, _ = mean_defined(self.class_frame()["iiou"].to_numpy(dtype=float))
        return _clean(mean)


def analyse_instances(
    evaluation: Evaluation,
    instance_folder: str | Path,
    *,
    gt_folder: str | Path | None = None,
    avg_class_size: dict[str, float] | None = None,
    size_thresholds: Sequence[float] = DEFAULT_SIZE_THRESHOLDS,
    workers: int = 2,
) -> Instances:
    """Instance statistics and iIoU from the instance-id masks in ``instance_folder`` (see
    :func:`instance_path`; ``gt_folder`` defaults to the folder holding all ground-truth files).
    Instance ids > 1000 are labelId·1000 + k; their labelId maps to a class through the table
    (Cityscapes labelIds → train ids), ignored classes are left out."""
    from segviz.dataset import common_folder
    from segviz.masks import read_mask

    table = evaluation.table
    k = table.num_classes
    sizes = avg_class_size if avg_class_size is not None else CITYSCAPES_AVG_CLASS_SIZE
    weight_of = np.array([sizes.get(n, np.nan) for n in table.names], dtype=np.float64)
    thresholds = tuple(sorted(float(t) for t in size_thresholds))
    nb = len(thresholds) + 1
    folder = gt_folder if gt_folder is not None else common_folder([p.gt_path for p in evaluation.pairs])
    encoding = "label_ids" if table.source_ids is not None else "ids"

    def one(pair: Pair) -> np.ndarray | Problem:
        path = instance_path(pair, folder, instance_folder)
        try:
            inst = read_mask(path).values.astype(np.int64)
            _, pi = read_indices(pair, table)
        except SegvizError as exc:
            return Problem(pair.name, str(exc))
        if inst.shape != pi.shape:
            return Problem(
                pair.name, f"{path}: size {inst.shape[1]}x{inst.shape[0]} differs from the prediction"
            )
        out = np.zeros((k, 4 + 2 * nb), np.float64)
        ids, inverse = np.unique(inst.ravel(), return_inverse=True)
        keep = ids > 1000
        if not keep.any():
            return out
        label = ids // 1000
        lut = table.gt_lut(int(label.max()) + 1, encoding=encoding)
        cls = np.where(keep, lut[label], k)
        pixel_cls = cls[inverse]
        size = np.bincount(inverse, minlength=len(ids))
        tp = np.bincount(inverse, weights=(pi.ravel() == pixel_cls), minlength=len(ids))
        for j in np.flatnonzero(keep & (cls < k)):
            c = int(cls[j])
            w = weight_of[c] / size[j]
            out[c, 0] += 1
            out[c, 1] += tp[j] > 0
            out[c, 2] += tp[j] * w
            out[c, 3] += (size[j] - tp[j]) * w
            b = int(np.searchsorted(thresholds, size[j], side="right"))
            out[c, 4 + 2 * b] += 1
            out[c, 5 + 2 * b] += tp[j] > 0
        return out

    total = np.zeros((k, 4 + 2 * nb), np.float64)
    skipped: list[Problem] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for r in pool.map(one, evaluation.pairs):
            if isinstance(r, Problem):
                skipped.append(r)
            else:
                total += r
    from segviz.metrics import counts as matrix_counts

    tp_px, _, pred_px = matrix_counts(evaluation.confusion)
    return Instances(table, total, (pred_px - tp_px).astype(np.int64), dict(sizes), thresholds, skipped)
