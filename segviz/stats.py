"""How sure is a metric? Percentile-bootstrap confidence intervals over images.

The sampling unit is the *image*, never the pixel: pixels of one image are strongly correlated (one
bad image yields thousands of wrong pixels at once), so resampling pixels would give intervals that
are far too narrow. An interval here answers "how much would this number move on another set of
images like these?"; it says nothing about label noise or about images unlike these.

Method (:func:`bootstrap`):

1. Per image and class, the counts ``TP, GT, PRED`` (int64, (N, K)) from
   :meth:`Evaluation.image_counts`, the sufficient statistic of every metric (:mod:`segviz.metrics`).
2. ``resamples`` times (default 1000), draw N images with replacement from a seeded generator
   (``np.random.default_rng(seed).integers(0, N, (B, N))``, default seed 0: the same call gives the
   same interval). Resample b is a weight vector ``W[b, i]`` = how often image i was drawn, and its
   dataset counts are ``W @ TP``, ``W @ GT``, ``W @ PRED`` (B, K), no pixels: computed a chunk of
   resamples at a time against the sparse per-image aggregates (see "Speed and memory" below).
3. Every metric of every resample is computed from those counts exactly as :mod:`segviz.metrics`
   does (:func:`summary_from_counts`, :func:`iou_from_counts`): IoU = TP / (GT + PRED − TP), undefined
   (NaN) when the denominator is 0, means over the defined values only, FWIoU weighted by GT share.
4. The interval is the percentile interval at ``confidence`` (default 0.95): the 2.5 % and 97.5 %
   percentiles of the resampled values (``np.nanpercentile``, linear interpolation), ignoring the
   resamples where the value is undefined (a class drawn in no resample image: its interval is
   conditional on the class occurring). The point estimate is the metric on the full data, not the
   mean of the resamples.

Caveats:

* With one image every resample is that image and the interval collapses to the point; with fewer
  than ~20 images percentile intervals are too narrow.
* Means over the *defined* classes (mIoU, MPA, mean Dice) change which classes they average when a
  resample misses the only images of a rare class, so with few images their resampled values are
  skewed and the estimate can sit at the very edge of its interval (VOC sample, 14 images,
  a person-only model: mIoU 0.084, interval [0.084, 0.152]).
* IoU is a ratio, so the bootstrap distribution is slightly biased below the estimate; with many
  classes whose errors offset each other the mIoU interval can be so narrow that it misses the
  estimate altogether (a synthetic case: 150 classes, interval width 0.0005, bias −0.0005).
* Per-class intervals are not corrected for multiple comparisons (150 classes at 95 % give ~7
  intervals that miss by chance).

:func:`paired_bootstrap` compares two models on the images they share (matched by name): both are
resampled with the *same* indices, so each resample's difference b − a keeps the pairing (an image
that is hard for one model is hard for the other), which gives much narrower intervals for a
difference than two independent intervals. A difference is *significant* when its interval excludes 0.

Speed and memory: the weights are drawn a chunk of resamples at a time (at most
:data:`CHUNK_WEIGHTS` weights at once, never a resamples x N matrix) and each chunk is multiplied
with the sparse per-image aggregates (:meth:`Evaluation.image_count_matrix`): cost ~ resamples x
(classes present per image) x N, memory ~ one chunk. The images are drawn in order in one thread
while :data:`PRODUCT_THREADS` threads multiply the chunks already drawn. The product is the C
extension's when it is built (segviz/_count.c: the draws counted as int32 weights, 32 resamples
per pass over the aggregates regrouped by blocks of images and by column, the 32 sums of a column
in vector registers), else scipy's sparse product of float64 weights: the same sums (whole numbers
below 2**53, exact in any order). In a paired bootstrap whose two models have the same GT counts
(the same ground truth) those are multiplied once. N = 100,000 ADE-like images (150 classes),
1,000 paired resamples, aggregates built: ~1.0 s of CPU with the kernel, ~2.0 s with scipy
(``benchmarks/bench_compare.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segviz import metrics
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation

#: The summary metrics that get an interval, in display order.
SUMMARY_KEYS = (
    "pixel_accuracy",
    "mean_iou",
    "mean_pixel_accuracy",
    "frequency_weighted_iou",
    "mean_dice",
)

Counts = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A point estimate (the metric on the full data) and a percentile interval [low, high].

    Fields are floats for one metric, or arrays of one shape (one value per class). NaN = undefined.

    Example:
        >>> i = Interval(estimate=0.8, low=0.75, high=0.84)
        >>> bool(i.excludes(0.0)), bool(i.excludes(0.8))
        (True, False)
    """

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray

    def excludes(self, value: float = 0.0) -> bool | np.ndarray:
        """Whether the whole interval lies on one side of ``value`` (False where undefined)."""
        low, high = np.asarray(self.low, dtype=float), np.asarray(self.high, dtype=float)
        out = (low > value) | (high < value)
        return bool(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class BootstrapResult:
    """Intervals of one model's metrics.

    Attributes:
        summary: an :class:`Interval` (floats) for each of :data:`SUMMARY_KEYS`.
        classes: one row per class: id, name, iou (on the full data), low, high (NaN = undefined).
        resamples, confidence, seed: the options used.
        num_images: images resampled.
    """

    summary: dict[str, Interval]
    classes: pd.DataFrame
    resamples: int
    confidence: float
    seed: int
    num_images: int


@dataclass(frozen=True)
class PairedResult:
    """Intervals of the differences b − a between two models on the images they share.

    Attributes:
        summary: an :class:`Interval` of b − a for each of :data:`SUMMARY_KEYS`.
        summary_significant: per summary metric, whether its interval excludes 0.
        classes: one row per class: id, name, delta (b − a IoU on the full data), low, high and
            significant (bool: the interval excludes 0; False where undefined).
        resamples, confidence, seed: the options used.
        num_images: images evaluated by both models (the ones resampled).
        only_in_a, only_in_b: names of the images left out because the other model lacks them.
    """

    summary: dict[str, Interval]
    summary_significant: dict[str, bool]
    classes: pd.DataFrame
    resamples: int
    confidence: float
    seed: int
    num_images: int
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()

    @property
    def dropped(self) -> int:
        """How many images were left out because only one model has them."""
        return len(self.only_in_a) + len(self.only_in_b)


# ---------------------------------------------------------------------- metrics from counts
def iou_from_counts(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (GT + PRED − TP), NaN where the union is empty; shape of the inputs.

    Example:
        >>> iou_from_counts(np.array([3, 0]), np.array([4, 0]), np.array([3, 0])).tolist()
        [0.75, nan]
    """
    return metrics.iou(tp, gt, pred)


def summary_from_counts(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """The summary metrics of :func:`segviz.metrics.summary_metrics`, from per-class counts.

    ``tp``, ``gt``, ``pred`` have shape (..., K) (e.g. (B, K) for B resamples); every value returned
    has the leading shape (...), float64, NaN = undefined. Same definitions as ``summary_metrics``:
    PA = ΣTP / ΣGT; MPA, mIoU, mean Dice average the defined per-class values; FWIoU = Σ GT·IoU / ΣGT.

    Example:
        >>> cm = np.array([[3, 1, 0], [0, 2, 0]])          # counts(cm): TP [3 2], GT [4 2], PRED [3 3]
        >>> s = summary_from_counts(*metrics.counts(cm))
        >>> round(float(s["pixel_accuracy"]), 4), round(float(s["mean_iou"]), 4)
        (0.8333, 0.7083)
    """
    every = metrics.from_counts(tp, gt, pred)
    return {key: every[key] for key in SUMMARY_KEYS}


# ---------------------------------------------------------------------- bootstrap
def bootstrap(
    evaluation: Evaluation,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile-bootstrap intervals over images for the summary metrics and per-class IoU.

    Args:
        evaluation: at least one image.
        resamples: number of bootstrap resamples B (default 1000).
        confidence: coverage of the interval, in (0, 1) (default 0.95).
        seed: seed of ``np.random.default_rng``; the same seed gives the same intervals.

    Example:
        >>> ev = _example_evaluation()            # 2 images, 2 classes
        >>> r = bootstrap(ev, resamples=200)
        >>> pa = r.summary["pixel_accuracy"]
        >>> round(pa.estimate, 3), pa.low <= pa.estimate <= pa.high
        (0.81, True)
        >>> r.classes.columns.tolist()
        ['id', 'name', 'iou', 'low', 'high']
    """
    _check_options(resamples=resamples, confidence=confidence)
    n = _check_images(evaluation, "evaluation")
    k = evaluation.table.num_classes
    matrix = evaluation.image_count_matrix()
    estimate, iou = _full_data(_split(np.asarray(matrix.sum(axis=0)), k))
    sums = _resampled_sums(matrix, n, resamples=resamples, seed=seed)
    samples, iou_samples = summary_from_counts(*_split(sums, k)), iou_from_counts(*_split(sums, k))
    summary = {k: _interval(estimate[k], samples[k], confidence) for k in SUMMARY_KEYS}
    low, high = percentile_interval(iou_samples, confidence)
    classes = _class_frame(evaluation, iou=iou, low=low, high=high)
    return BootstrapResult(summary, classes, resamples, confidence, seed, n)


def paired_bootstrap(
    a: Evaluation,
    b: Evaluation,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedResult:
    """Intervals of the differences b − a on the images both models evaluated (matched by name).

    Both models are resampled with the same image indices. Images that only one model has are left
    out and named in ``only_in_a`` / ``only_in_b``. The class tables must list the same classes.

    Example:
        >>> ev = _example_evaluation()
        >>> same = paired_bootstrap(ev, ev, resamples=100)
        >>> same.summary["mean_iou"].estimate, same.summary_significant["mean_iou"]
        (0.0, False)
    """
    _check_options(resamples=resamples, confidence=confidence)
    _check_same_classes(a, b)
    in_a, in_b, only_a, only_b = match_images(a, b)
    if not len(in_a):
        raise SegvizError(
            f"a and b share no image name (a has {a.num_images} images, b {b.num_images}); "
            "compare two models evaluated on the same dataset"
        )

    k = a.table.num_classes
    ra, rb = _rows(a.image_count_matrix(), in_a), _rows(b.image_count_matrix(), in_b)
    # each model's (n, 3K) [TP | GT | PRED] under the same weights (b's GT, when it is a's, gives
    # a's sums: the same values added in the same order); no joined copy of the two matrices
    est_a, iou_a = _full_data(_split(np.asarray(ra.sum(axis=0)), k))
    est_b, iou_b = _full_data(_split(np.asarray(rb.sum(axis=0)), k))
    same = (k, 2 * k) if _equal_columns(ra, rb, k, 2 * k) else None  # (one GT: its sums once)
    sums_a, sums_b = _resampled_sums([ra, rb], len(in_a), resamples=resamples, seed=seed, same=same)
    counts_a, counts_b = _split(sums_a, k), _split(sums_b, k)
    rep_a, iou_rep_a = summary_from_counts(*counts_a), iou_from_counts(*counts_a)
    rep_b, iou_rep_b = summary_from_counts(*counts_b), iou_from_counts(*counts_b)
    summary = {
        k: _interval(float(est_b[k] - est_a[k]), rep_b[k] - rep_a[k], confidence) for k in SUMMARY_KEYS
    }
    delta = Interval(iou_b - iou_a, *percentile_interval(iou_rep_b - iou_rep_a, confidence))
    classes = _class_frame(a, delta=delta.estimate, low=delta.low, high=delta.high)
    classes["significant"] = delta.excludes(0.0)
    return PairedResult(
        summary=summary,
        summary_significant={k: bool(v.excludes(0.0)) for k, v in summary.items()},
        classes=classes,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        num_images=len(in_a),
        only_in_a=only_a,
        only_in_b=only_b,
    )


def resample_weights(n: int, *, resamples: int, seed: int) -> np.ndarray:
    """How often each of ``n`` images is drawn in each resample: int64 (resamples, n), rows sum to n.

    The dense matrix of all resamples at once, for small n (tests, examples); the bootstrap itself
    walks the same weights chunk by chunk (:func:`resample_weight_chunks`).

    Example:
        >>> w = resample_weights(4, resamples=3, seed=0)
        >>> w.shape, w.sum(axis=1).tolist()
        ((3, 4), [4, 4, 4])
    """
    chunks = [w.T for w in resample_weight_chunks(n, resamples=resamples, seed=seed)]
    return np.concatenate(chunks).astype(np.int64) if chunks else np.zeros((0, n), np.int64)


#: Most weights (resamples x images) drawn at once: bounds the bootstrap's memory (~32 bytes each
#: between the draw, its counts and their float64 copy, i.e. ~130 MB) whatever resamples x N is.
CHUNK_WEIGHTS = 1 << 22


def resample_weight_chunks(
    n: int, *, resamples: int, seed: int, chunk: int | None = None
) -> Iterator[np.ndarray]:
    """The weights of :func:`resample_weights`, ``chunk`` resamples at a time, transposed: float64
    (n, b) arrays of whole numbers, column j = how often each image is drawn in resample j of the
    chunk (float64: what the sparse product takes, exact up to 2**53).

    Draws come from one ``np.random.default_rng(seed)`` in resample order, so the chunks
    concatenate to exactly ``resample_weights(n, resamples=resamples, seed=seed)`` whatever the
    chunk size (default: as many resamples as keep b x n within :data:`CHUNK_WEIGHTS`).

    Example:
        >>> [w.shape for w in resample_weight_chunks(4, resamples=5, seed=0, chunk=2)]
        [(4, 2), (4, 2), (4, 1)]
        >>> bool((np.hstack(list(resample_weight_chunks(4, resamples=5, seed=0, chunk=2))).T
        ...       == resample_weights(4, resamples=5, seed=0)).all())
        True
    """
    for draws in _draw_chunks(n, resamples=resamples, seed=seed, chunk=chunk):
        yield _weights_of(draws, n)


def _draw_chunks(n: int, *, resamples: int, seed: int, chunk: int | None = None) -> Iterator[np.ndarray]:
    """The draws behind :func:`resample_weight_chunks`: (b, n) image indices per chunk of
    resamples, from one ``np.random.default_rng(seed)`` in resample order."""
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, min(resamples, CHUNK_WEIGHTS // max(n, 1)))
    for lo in range(0, resamples, chunk):
        b = min(chunk, resamples - lo)
        # (int32 draws are the same numbers as int64 ones for n < 2**31, at half the memory)
        yield rng.integers(0, n, (b, n), dtype=np.int64 if n >= 1 << 31 else np.int32)


def _weights_of(draws: np.ndarray, n: int) -> np.ndarray:
    """float64 (n, b): column j = how often each image is in ``draws[j]``."""
    weights = np.empty((n, len(draws)))
    for j in range(len(draws)):  # (one bincount per resample stays in cache; one over n x b does not)
        weights[:, j] = np.bincount(draws[j], minlength=n)
    return weights


#: Threads multiplying chunks of weights with the aggregates while the next chunk is drawn (the
#: sparse product releases the GIL): the sums are the same numbers whatever the threads.
PRODUCT_THREADS = 2


def _resampled_sums(matrices, n: int, *, resamples: int, seed: int, same: tuple[int, int] | None = None):
    """Column sums of ``matrices`` (sparse (n, M) per-image counts, or a list of them, each
    multiplied by the same weights) under every resample's weights: float64 (resamples, M) each
    (a list for a list), exact (integers below 2**53). One sparse product per chunk of resamples,
    cost ~ nonzeros x resamples; the images are drawn in order in this thread while
    :data:`PRODUCT_THREADS` threads turn the chunks already drawn into weights and multiply them
    (each chunk's product is the same whatever thread computes it, and each column's sum the same
    whatever other columns are multiplied with it); at most that many chunks in flight: memory ~
    :data:`CHUNK_WEIGHTS` weights per chunk.

    The product is the C extension's when it is built (:func:`_kernel_product`), else scipy's
    (:func:`_scipy_product`): the same sums, as every product and partial sum is a whole number
    below 2**53 (exact in any order). ``same=(lo, hi)``: columns lo..hi-1 of every later matrix
    are those of the first (the caller checked: e.g. two models' GT counts on the same ground
    truth); the C kernel multiplies them once and they are copied."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    single = not isinstance(matrices, list | tuple)
    matrices = [matrices] if single else list(matrices)
    outs = [np.empty((resamples, m.shape[1])) for m in matrices]
    product, chunk = _kernel_product(matrices, outs, n, same) or _scipy_product(matrices, outs, n)
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=PRODUCT_THREADS) as pool:
        lo = 0
        for draws in _draw_chunks(n, resamples=resamples, seed=seed, chunk=max(1, min(resamples, chunk))):
            while len(pending) >= PRODUCT_THREADS:  # (bounded memory: wait for the oldest)
                pending.popleft().result()
            pending.append(pool.submit(product, lo, draws))
            lo += len(draws)
        while pending:
            pending.popleft().result()
    if same is not None:  # (scipy's product computed them too: the same numbers)
        for out in outs[1:]:
            out[:, same[0] : same[1]] = outs[0][:, same[0] : same[1]]
    return outs[0] if single else outs


def _scipy_product(matrices: list, outs: list, n: int):
    """The product of a chunk of draws with scipy, and the resamples per chunk (half of
    :data:`CHUNK_WEIGHTS`: a float64 (n, b) copy of the weights per chunk)."""
    # (M, n) in CSC: the product walks image by image, adding value x that image's weight row
    # (b contiguous floats) into the class's output row, which stays in cache
    ts = [m.astype(np.float64, copy=False).T for m in matrices]

    def product(lo: int, draws: np.ndarray) -> None:
        weights = _weights_of(draws, n)
        for t, out in zip(ts, outs, strict=True):
            out[lo : lo + len(draws)] = (t @ weights).T

    return product, CHUNK_WEIGHTS // (2 * max(n, 1))


#: Resamples per chunk with the C kernel: it multiplies 32 at a time (8 when a chunk has at most 8).
KERNEL_CHUNK = 32
#: Images per block of the C kernel: their 32 weights each (64 KB of float64) stay in cache.
KERNEL_IMAGES = 256


def _kernel_product(matrices: list, outs: list, n: int, same: tuple[int, int] | None):
    """The product of a chunk of draws with the C extension (segviz/_count.c: ``draw_counts``
    counts the draws as int32 weights, ``weighted_sums`` multiplies every matrix with them, 32
    resamples at a time, without a float64 (n, b) copy of the weights), and the resamples per
    chunk (:data:`KERNEL_CHUNK`, fewer when b x n would pass :data:`CHUNK_WEIGHTS`, but 8 up to
    2,000,000 images); None when the kernel is missing or does not apply (then scipy's product
    gives the same sums). Each matrix is first regrouped by blocks of :data:`KERNEL_IMAGES` images and by column
    (``blocked_csc``: a copy of 12 bytes per nonzero, 50 MB per model at 100,000 ADE-like images)."""
    from segviz.kernels import c_extension

    kernel = c_extension()

    if kernel is None or not hasattr(kernel, "weighted_sums") or n >= 1 << 31 or len(matrices) > 8:
        return None
    if any(m.dtype != np.int64 or m.format != "csr" or m.shape[1] >= 1 << 31 for m in matrices):
        return None
    # (at least 8 resamples per chunk up to 2 M images, 8 bytes per weight: 64 MB at 1 M images;
    # fewer leave most of the 8 lanes idle, and scipy's product would be as fast)
    chunk = max(1, min(KERNEL_CHUNK, max(CHUNK_WEIGHTS // max(n, 1), 8 if n <= CHUNK_WEIGHTS // 2 else 1)))
    # (chunks of at most 8 resamples, i.e. N above ~500,000, are multiplied 8 wide: 4 times the
    # images per block for the same cache, and as many more entries per block and column)
    ib = KERNEL_IMAGES if chunk > 8 else 4 * KERNEL_IMAGES
    blocks = -(-n // ib)
    grouped = []
    for m in matrices:
        colptr = np.empty(blocks * m.shape[1] + 1, np.int64)
        rows, vals = np.empty(m.nnz, np.int32), np.empty(m.nnz, np.float64)
        indptr = np.ascontiguousarray(m.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(m.indices, dtype=np.int32)
        kernel.blocked_csc(
            indptr, indices, np.ascontiguousarray(m.data), n, m.shape[1], ib, colptr, rows, vals
        )
        grouped.append((colptr, rows, vals))
    skips = [(0, 0)] + [same or (0, 0)] * (len(matrices) - 1)

    def product(lo: int, draws: np.ndarray) -> None:
        b = len(draws)
        counts = np.empty(draws.shape, np.int32)
        kernel.draw_counts(draws, n, counts)
        parts = [(*g, out[lo : lo + b], *skip) for g, out, skip in zip(grouped, outs, skips, strict=True)]
        kernel.weighted_sums(counts, b, n, ib, parts)

    return product, chunk


def _equal_columns(x, y, lo: int, hi: int) -> bool:
    """Whether columns lo..hi-1 of two sparse matrices of one shape are stored alike (then they are
    equal; equal columns stored otherwise, e.g. unsorted, answer False: only slower, never wrong).

    Example:
        >>> import scipy.sparse as sp
        >>> x = sp.csr_matrix(np.array([[1, 2, 0], [0, 3, 4]]))
        >>> y = sp.csr_matrix(np.array([[5, 2, 0], [0, 3, 0]]))
        >>> _equal_columns(x, y, 1, 2), _equal_columns(x, y, 1, 3)
        (True, False)
    """
    if x.shape != y.shape or x.format != "csr" or y.format != "csr":
        return False
    gx, gy = x[:, lo:hi], y[:, lo:hi]
    return (
        np.array_equal(gx.indptr, gy.indptr)
        and np.array_equal(gx.indices, gy.indices)
        and np.array_equal(gx.data, gy.data)
    )


def _split(sums: np.ndarray, k: int) -> Counts:
    """(TP, GT, PRED) from [TP | GT | PRED] columns (..., 3K)."""
    return sums[..., :k], sums[..., k : 2 * k], sums[..., 2 * k :]


def _rows(matrix, index: np.ndarray):
    """Rows ``index`` of a sparse matrix (a view-free copy; the whole matrix when index is 0..n-1)."""
    if len(index) == matrix.shape[0] and (index == np.arange(len(index))).all():
        return matrix
    return matrix[index]


def poisson_weights(n: int, *, resamples: int, seed: int) -> np.ndarray:
    """Poisson bootstrap weights: each image drawn Poisson(1) times in each resample, independently
    of every other image; float64 (resamples, n).

    Because the images' weights are independent, the columns of any subset of images are a bootstrap
    of that subset on its own, and two disjoint subsets are resampled independently: one draw serves
    every slice and its complement (a two-sample bootstrap) at once (:mod:`segviz.slices`).

    Example:
        >>> w = poisson_weights(3, resamples=2, seed=0)
        >>> w.shape, w.dtype.name, bool((w >= 0).all())
        ((2, 3), 'float64', True)
    """
    # Inverse CDF (3x faster than Generator.poisson): the weight is the number of Poisson(1) CDF
    # values at or below a uniform draw. The CDF reaches 1.0 in float64 by k = 18 (P(X > 18) < 1e-17).
    # Counted with 8 vectorised comparisons; the rare u ≥ CDF(7) (1e-5 of draws) by a search.
    cdf = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(20)])
    u = np.random.default_rng(seed).random((resamples, n))
    counts = np.zeros(u.shape, dtype=np.uint8)
    for level in cdf[:8]:
        counts += u >= level
    tail = u >= cdf[7]
    counts[tail] = np.searchsorted(cdf, u[tail], side="right")
    return counts.astype(np.float64)


# ---------------------------------------------------------------------- steps
def _full_data(counts: Counts) -> tuple[dict[str, float], np.ndarray]:
    """Summary metrics (floats) and per-class IoU (K,) on all images."""
    totals = [x.sum(axis=0) for x in counts]
    summary = {k: float(v) for k, v in summary_from_counts(*totals).items()}
    return summary, iou_from_counts(*totals)


#: Elements per (resamples, K) block of the bootstrap's intermediate arrays (4 MB of float64):
#: memory stays bounded at thousands of classes (a report of 5,000 classes peaked 290 MB higher).
_BLOCK_ELEMENTS = 1 << 19


def _replicates(counts: Counts, weights: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Summary metrics (B,) and per-class IoU (B, K) of every resample, a block of resamples at a
    time."""
    w = weights.astype(np.float64)
    x = [c.astype(np.float64) for c in counts]
    b, k = len(w), x[0].shape[1]
    step = max(1, _BLOCK_ELEMENTS // max(k, 1))
    iou = np.empty((b, k))
    parts = []
    for start in range(0, b, step):
        tp, gt, pred = (w[start : start + step] @ c for c in x)  # exact: integers far below 2**53
        parts.append(summary_from_counts(tp, gt, pred))
        iou[start : start + step] = iou_from_counts(tp, gt, pred)
    summary = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]} if parts else {}
    return summary, iou


def _interval(estimate: float, samples: np.ndarray, confidence: float) -> Interval:
    low, high = percentile_interval(samples, confidence)
    return Interval(float(estimate), float(low), float(high))


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles (1 − c)/2 and (1 + c)/2 over axis 0, ignoring NaN; NaN where all are NaN."""
    samples = np.asarray(samples, dtype=np.float64)
    flat = samples.reshape(samples.shape[0], -1)
    low = np.full(flat.shape[1], np.nan)
    high = np.full(flat.shape[1], np.nan)
    tail = 50.0 * (1.0 - confidence)
    step = max(1, _BLOCK_ELEMENTS // max(flat.shape[0], 1))
    for start in range(0, flat.shape[1], step):  # a block of columns at a time (bounded memory)
        block = flat[:, start : start + step]
        nan = np.isnan(block)
        # np.percentile is vectorised; np.nanpercentile loops over columns in Python: only where needed
        full = ~nan.any(axis=0)
        some = ~nan.all(axis=0) & ~full
        lo, hi = low[start : start + step], high[start : start + step]  # views into the results
        if full.any():
            lo[full], hi[full] = np.percentile(block[:, full], [tail, 100.0 - tail], axis=0)
        if some.any():
            lo[some], hi[some] = _nan_percentiles(block[:, some], [tail, 100.0 - tail])
    return low.reshape(samples.shape[1:]), high.reshape(samples.shape[1:])


def _nan_percentiles(flat: np.ndarray, percents: list[float]) -> np.ndarray:
    """np.nanpercentile(flat, percents, axis=0) (linear method) for columns with at least one value,
    vectorised: sort once (NaN last), interpolate at q·(n − 1) with numpy's own lerp."""
    ordered = np.sort(flat, axis=0)
    n = (~np.isnan(flat)).sum(axis=0)
    out = []
    for q in np.asarray(percents, dtype=np.float64) / 100.0:
        position = q * (n - 1)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, n - 1)
        t = position - below
        a = np.take_along_axis(ordered, below[None], axis=0)[0]
        b = np.take_along_axis(ordered, above[None], axis=0)[0]
        diff = b - a
        out.append(np.where(t >= 0.5, b - diff * (1 - t), a + diff * t))
    return np.array(out)


def _class_frame(evaluation: Evaluation, **columns: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"id": evaluation.table.ids, "name": list(evaluation.table.names), **columns})


def match_images(a: Evaluation, b: Evaluation) -> tuple[np.ndarray, np.ndarray, tuple, tuple]:
    """Indices into a and b of the shared names (in a's order), and the names only one side has.

    Returns ``(in_a, in_b, only_a, only_b)``: int64 (M,) indices of the M shared images in a and in
    b, and tuples of the names only a / only b has.

    Example:
        >>> ev = _example_evaluation()                       # images "a", "b"
        >>> in_a, in_b, only_a, only_b = match_images(ev, ev.subset([1]))
        >>> in_a.tolist(), in_b.tolist(), only_a, only_b
        ([1], [0], ('a',), ())
    """
    if a.names == b.names and len(set(a.names)) == len(a.names):  # (the usual case: no dict)
        every = np.arange(a.num_images, dtype=np.int64)
        return every, every.copy(), (), ()
    where_b = {name: i for i, name in enumerate(b.names)}
    shared = [(i, where_b[name]) for i, name in enumerate(a.names) if name in where_b]
    in_a = np.array([i for i, _ in shared], dtype=np.int64)
    in_b = np.array([j for _, j in shared], dtype=np.int64)
    names_a = set(a.names)
    only_a = tuple(n for n in a.names if n not in where_b)
    only_b = tuple(n for n in b.names if n not in names_a)
    return in_a, in_b, only_a, only_b


# ---------------------------------------------------------------------- checks
def _check_options(*, resamples: int, confidence: float) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer (got {resamples!r})")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95 (got {confidence!r})")


def _check_images(evaluation: Evaluation, argument: str) -> int:
    if evaluation.num_images < 1:
        raise SegvizError(f"{argument}: no evaluated image to resample (0 images)")
    return evaluation.num_images


def _check_same_classes(a: Evaluation, b: Evaluation) -> None:
    if a.table.names != b.table.names or not np.array_equal(a.table.ids, b.table.ids):
        raise SegvizError(
            f"b: its class table ({b.table.num_classes} classes, {b.table.origin or 'no origin'}) differs "
            f"from a's ({a.table.num_classes} classes, {a.table.origin or 'no origin'}); "
            "evaluate both models with the same class table"
        )


def _example_evaluation() -> Evaluation:
    """Two images, two classes (for the examples): PA 0.81 over 100 pixels."""
    from pathlib import Path

    from segviz.classes import ClassTable
    from segviz.dataset import Pair

    rows = np.array(
        [
            [0, 0, 0, 30],
            [0, 0, 1, 5],
            [0, 1, 1, 15],
            [1, 0, 0, 20],
            [1, 1, 0, 10],
            [1, 1, 1, 16],
            [1, 1, 2, 4],
        ]
    )
    cm = np.zeros((2, 3), dtype=np.int64)
    np.add.at(cm, (rows[:, 1], rows[:, 2]), rows[:, 3])
    pairs = [Pair(n, Path(f"gt/{n}.png"), Path(f"pred/{n}.png")) for n in ("a", "b")]
    return Evaluation(ClassTable.generated([0, 1]), ["a", "b"], pairs, cm, rows, np.zeros(2, np.int64))
