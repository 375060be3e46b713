"""Per-pixel confidence: calibration, risk–coverage and the threshold explorer.

Inputs, beside ``pred/MODEL/`` (see :func:`segviz.dataset.confidence_folders`):

* ``conf/MODEL/NAME.png``: the top-1 confidence, 8-bit (``v = round(255·p)``) or 16-bit
  (``v = round(65535·p)``) greyscale PNG;
* ``prob/MODEL/NAME.npy|.npz``: K×H×W class probabilities (float, or uint8 scaled by 255), channel c
  = the c-th class of the class table; or logits, when stated (``logits=True``, ``--logits``, or
  ``{"logits": true}`` in ``prob/MODEL/meta.json``; an ``.npz`` array named ``logits`` states it
  too): softmax is applied. From full probabilities follow the top-1 confidence ``max_c p_c``, the
  margin (top-1 minus top-2) and the normalised entropy ``−Σ p log p / log K``.

**One pass, then small arrays.** Each image is read once (ground truth, prediction and confidence
together, in the evaluation's threads) and reduced to sparse rows
``(level, bin, gt, pred) → (pixels, Σ confidence)`` over its non-ignored pixels, plus a 256-level
histogram of all its pixels. Every number here — calibration of the dataset, of a subset, of an
image or a class, risk–coverage, the threshold explorer — is folded from those rows; no confidence
map is read twice.

**Calibration bins.** ``B`` equal-width bins on (0, 1]: bin b (1-based) = ((b−1)/B, b/B], a
confidence of exactly 0 in the first bin. For integer maps the bin is computed exactly in integers:
``bin = ceil(v·B/255) − 1`` (8-bit) or ``ceil(v·B/65535) − 1`` (16-bit), 0-based, ``v = 0`` → 0.
``ECE = Σ_b n_b |acc_b − conf_b| / Σ_b n_b``, ``ACE`` = the mean of ``|acc_b − conf_b|`` over the
non-empty bins, ``MCE`` = their maximum. A pixel is correct when the prediction equals the ground
truth (an invalid prediction is wrong); ignored ground-truth pixels are left out.

**Confidence levels.** Thresholds are offered on the grid ``t_j = j/255`` (j = 0…255): a pixel is
kept at ``t_j`` when its confidence ≥ t_j. Its *level* is the largest such j. This is exact for 8-bit
maps (level = v) and for 16-bit maps (level = ⌊v/257⌋, as 65535 = 255·257); float confidences are
compared with the float grid values. Risk–coverage and AUROC work on these 256 levels: for 8-bit
maps that is every distinct confidence, for 16-bit and float maps pixels within one level are tied.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from segviz import metrics
from segviz.classes import ClassTable
from segviz.dataset import (
    CONFIDENCE_SUFFIXES,
    PROBABILITY_SUFFIXES,
    Dataset,
    Location,
    Pair,
    Problem,
    common_folder,
    confidence_folders,
    index_files,
)
from segviz.errors import MaskError, SegvizError
from segviz.evaluate import Evaluation, PairCounts, count_pair_arrays, evaluate, fold
from segviz.kernels import (
    decode_grey_png_direct,
    fast_decode_grey_png_bytes,
    level_pair_counts,
    sparse_joint_u8,
)
from segviz.store import colour_key, file_signature, pair_key

if TYPE_CHECKING:
    import pandas as pd

    from segviz.store import ResultsStore

Source = Literal["u8", "u16", "float"]
RiskOver = Literal["pixels", "images"]

#: Threshold grid: t_j = j / LEVELS, j = 0 … LEVELS.
LEVELS = 255
DEFAULT_BINS = 15
#: Scale of the stored confidence sums per source (sums of integers stay exact in float64).
_SCALE = {"u8": 255.0, "u16": 65535.0, "float": 1.0}
_GRID = np.arange(LEVELS + 1, dtype=np.float64) / LEVELS


# ====================================================================== reading
@dataclass
class ConfidenceMap:
    """One image's confidence.

    Attributes:
        source: ``"u8"`` (integers v, confidence v/255), ``"u16"`` (v/65535) or ``"float"``.
        values: (H, W) uint8 / uint16 integers for integer sources, float64 confidences otherwise.
        probs: (K, H, W) float32 probabilities (softmax of logits, or uint8/255) when the file held
            them, else None.
        path: the file it came from.
    """

    source: Source
    values: np.ndarray
    probs: np.ndarray | None = None
    path: str = ""
    raw: np.ndarray | None = None  # the uint8 (K, H, W) probabilities · 255 as stored, if so

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def top(self) -> np.ndarray:
        """Top-1 confidence in [0, 1], float64 (H, W)."""
        return self.values / _SCALE[self.source] if self.source != "float" else self.values

    def levels(self) -> np.ndarray:
        """Threshold level (0…255) of every pixel, uint8 (H, W): the largest j with j/255 ≤ p."""
        return confidence_levels(self.values, self.source)

    def bins(self, bins: int = DEFAULT_BINS) -> np.ndarray:
        """0-based calibration bin of every pixel, int16 (H, W)."""
        return calibration_bins(self.values, self.source, bins=bins)

    def margin(self) -> np.ndarray | None:
        """Top-1 minus top-2 probability (H, W) float32, or None without full probabilities."""
        if self.probs is None:
            return None
        if self.probs.shape[0] < 2:
            return np.ones(self.shape, np.float32)
        two = np.partition(self.probs, self.probs.shape[0] - 2, axis=0)[-2:]
        return (two[1] - two[0]).astype(np.float32)

    def entropy(self) -> np.ndarray | None:
        """Normalised entropy −Σ p log p / log K in [0, 1] (H, W) float32 (p renormalised to sum 1,
        0 log 0 = 0), or None without full probabilities."""
        if self.probs is None:
            return None
        return normalised_entropy(self.probs)


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """−Σ_c p_c log p_c / log K over axis 0 of a (K, ...) probability array, p renormalised to sum 1.

    Example:
        >>> normalised_entropy(np.array([[0.5, 1.0], [0.5, 0.0]])).round(6).tolist()
        [1.0, 0.0]
    """
    p = np.asarray(probs, dtype=np.float64)
    k = p.shape[0]
    if k < 2:
        return np.zeros(p.shape[1:], np.float32)
    total = p.sum(axis=0)
    p = p / np.where(total > 0, total, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    return (0.0 - plogp.sum(axis=0) / math.log(k)).astype(np.float32)  # 0.0 − x: no −0.0


def calibration_bins(values: np.ndarray, source: Source, *, bins: int = DEFAULT_BINS) -> np.ndarray:
    """0-based bin of each confidence: bin b = (b/B, (b+1)/B], 0 in bin 0; exact for integers.

    Example:
        >>> calibration_bins(np.array([0, 17, 18, 255], np.uint8), "u8", bins=15).tolist()
        [0, 0, 1, 14]
        >>> calibration_bins(np.array([0.0, 0.2, 0.2000001, 1.0]), "float", bins=5).tolist()
        [0, 0, 1, 4]
    """
    _check_bins(bins)
    if source == "float":
        edges = np.arange(1, bins + 1, dtype=np.float64) / bins
        return np.minimum(np.searchsorted(edges, values, side="left"), bins - 1).astype(np.int16)
    top = 255 if source == "u8" else 65535
    v = values.astype(np.int64)
    return np.maximum((v * bins + top - 1) // top - 1, 0).astype(np.int16)


def confidence_levels(values: np.ndarray, source: Source) -> np.ndarray:
    """Largest j in 0…255 with j/255 ≤ confidence, uint8.

    Example:
        >>> confidence_levels(np.array([0, 256, 257, 65535], np.uint16), "u16").tolist()
        [0, 0, 1, 255]
        >>> confidence_levels(np.array([0.0, 1 / 255, 0.5, 1.0]), "float").tolist()
        [0, 1, 127, 255]
    """
    if source == "u8":
        return values.astype(np.uint8, copy=False)
    if source == "u16":
        return (values // 257).astype(np.uint8)
    return np.clip(np.searchsorted(_GRID, values, side="right") - 1, 0, LEVELS).astype(np.uint8)


def read_confidence(
    path: Location,
    *,
    num_classes: int | None = None,
    logits: bool = False,
    shape: tuple[int, int] | None = None,
) -> ConfidenceMap:
    """Read a confidence PNG or a probability (.npy/.npz) file; raises :class:`MaskError` naming it.

    ``num_classes``: the K a probability tensor must have (checked when given). ``shape``: the
    masks' (H, W); with ``num_classes``, a probability file whose header claims another shape is
    refused before its data is read. ``logits``: the tensor holds logits (softmax applied). Values outside [0, 1], NaN, probabilities that do not sum
    to 1, and PNGs that are not single-channel 8/16-bit are refused with the reason.
    """
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix == ".png":
        return _read_confidence_png(path)
    if suffix in PROBABILITY_SUFFIXES:
        return _read_probabilities(path, num_classes=num_classes, logits=logits, shape=shape)
    raise MaskError(f"{path}: not a confidence file (expected .png, .npy or .npz)")


def _decode_confidence_fast(path: Location) -> np.ndarray | None:
    """A confidence map is photo-like (Paeth rows): decoding it costs more than both label PNGs, so
    it takes the direct path (libdeflate + the C kernel's unfilter, ≈2× faster than libpng), then
    imagecodecs' libpng; None when neither applies (Pillow then reads it and reports problems)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    fast = decode_grey_png_direct(data)
    return fast if fast is not None else fast_decode_grey_png_bytes(data)


def _read_confidence_png(path: Location) -> ConfidenceMap:
    fast = _decode_confidence_fast(path)
    if fast is not None:
        return ConfidenceMap("u8" if fast.dtype == np.uint8 else "u16", fast, path=str(path))
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "L":
                arr = np.asarray(im)
            elif mode.startswith("I;16") or mode == "I":
                arr = np.asarray(im)
                if arr.size and (arr.min() < 0 or arr.max() > 65535):
                    raise MaskError(f"{path}: 16-bit confidence values outside 0…65535")
                arr = arr.astype(np.uint16)
            else:
                raise MaskError(
                    f"{path}: confidence PNG has mode {mode!r}; expected single-channel 8-bit (L, "
                    "round(255·p)) or 16-bit (I;16, round(65535·p))"
                )
    except MaskError:
        raise
    except FileNotFoundError:
        raise MaskError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise MaskError(f"{path}: not an image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"{path}: unreadable or truncated image ({exc})") from None
    return ConfidenceMap("u8" if arr.dtype == np.uint8 else "u16", arr, path=str(path))


def _load_array(path: Location, shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, bool]:
    """The array of a .npy / .npz file, and whether an .npz named it ``logits``. With ``shape``, the
    header is checked first: a file claiming another shape is refused before its data is read."""
    try:
        if str(path).lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                key = next((k for k in ("probs", "prob", "probabilities", "logits") if k in names), None)
                if key is None and len(names) == 1:
                    key = names[0]
                if key is None:
                    raise MaskError(
                        f"{path}: .npz holds {len(names)} arrays ({', '.join(names[:5])}); expected one, "
                        "or one named 'probs' or 'logits'"
                    )
                if shape is not None:
                    member_name = key + ".npy" if key + ".npy" in z.zip.namelist() else key
                    with z.zip.open(member_name) as member:
                        _check_header(member, path, shape)
                return z[key], key == "logits"
        if shape is not None:
            with open(path, "rb") as f:
                _check_header(f, path, shape)
        return np.load(path, allow_pickle=False), False
    except MaskError:
        raise
    except FileNotFoundError:
        raise MaskError(f"{path}: file not found") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise MaskError(f"{path}: unreadable probability file ({exc})") from None


def _check_header(f, path: Location, shape: tuple[int, ...]) -> None:
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    found, _, _ = read(f)
    if tuple(found) != tuple(shape):
        raise MaskError(
            f"{path}: probabilities of shape {tuple(found)}, expected {tuple(shape)} (K classes × the masks' "
            "height × width)"
        )


def _read_probabilities(
    path: Location, *, num_classes: int | None, logits: bool, shape: tuple[int, int] | None = None
) -> ConfidenceMap:
    expected = (num_classes, *shape) if num_classes is not None and shape is not None else None
    arr, named_logits = _load_array(path, expected)
    logits = logits or named_logits
    if arr.ndim != 3:
        raise MaskError(f"{path}: probabilities must be a K×H×W array (got shape {arr.shape})")
    if num_classes is not None and arr.shape[0] != num_classes:
        raise MaskError(
            f"{path}: {arr.shape[0]} probability channels, but the class table has {num_classes} "
            "classes (channel c = the c-th class of the table)"
        )
    if arr.dtype == np.uint8 and not logits:
        k = arr.shape[0]
        total = arr.sum(axis=0, dtype=np.int64)
        if total.size and np.abs(total - 255).max() > k // 2 + 1:
            raise MaskError(
                f"{path}: uint8 probabilities (p·255) do not sum to 1 (a pixel sums to "
                f"{int(total.flat[np.argmax(np.abs(total - 255))]) / 255:.3f}); logits? pass --logits"
            )
        return ConfidenceMap("u8", arr.max(axis=0), arr.astype(np.float32) / 255, path=str(path), raw=arr)
    if not np.issubdtype(arr.dtype, np.floating):
        raise MaskError(f"{path}: probabilities must be float or uint8 (got dtype {arr.dtype})")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise MaskError(f"{path}: {bad:,} values are NaN or infinite")
    if logits:
        x = arr.astype(np.float64)
        x -= x.max(axis=0, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=0, keepdims=True)
        probs = x.astype(np.float32)
        top = x.max(axis=0)
    else:
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:
            raise MaskError(
                f"{path}: probabilities outside [0, 1] (min {lo:.4g}, max {hi:.4g}); "
                'logits? pass --logits or write {"logits": true} in meta.json'
            )
        total = arr.sum(axis=0, dtype=np.float64)
        worst = float(np.abs(total - 1).max()) if total.size else 0.0
        if worst > 1e-3:
            raise MaskError(
                f"{path}: probabilities do not sum to 1 over the K channels (off by up to {worst:.4g})"
            )
        probs = arr.astype(np.float32, copy=False)
        top = arr.max(axis=0).astype(np.float64)
    return ConfidenceMap("float", top, probs, path=str(path))


# ====================================================================== one image
@dataclass(frozen=True)
class ImageConfidence:
    """One image's confidence statistics (every later number is folded from these).

    Attributes:
        name: the image.
        source: the confidence map's source (``u8``, ``u16``, ``float``).
        level, bin, gt, pred: (R,) the distinct (threshold level (uint8), calibration bin (uint16),
            ground-truth class index, predicted class index — K = invalid (int32)) among the
            non-ignored pixels. Inside a :class:`ConfidenceResult` these are views of its row
            arrays, gt / pred in the smallest unsigned type holding 0…K.
        count: int64 (R,) pixels of each row (uint32 inside a :class:`ConfidenceResult`).
        conf_sum: float64 (R,) Σ confidence of each row.
        level_hist: int64 (256,) pixels per threshold level over *all* pixels (ignored included).
        entropy_mean, margin_mean: mean normalised entropy / margin over all pixels (NaN without
            full probabilities).
        mean_all: mean confidence over all pixels (ignored included).
        classwise: float64 (K, B, 3) one-vs-rest per class c and bin of p_c: pixels, pixels with
            ground truth c, Σ p_c — None without full probabilities.
        self_conf: float64 (K,) Σ p_c over the pixels labelled c (None without probabilities).
    """

    name: str
    source: Source
    level: np.ndarray
    bin: np.ndarray
    gt: np.ndarray
    pred: np.ndarray
    count: np.ndarray
    conf_sum: np.ndarray
    level_hist: np.ndarray
    entropy_mean: float = math.nan
    margin_mean: float = math.nan
    mean_all: float = math.nan
    classwise: np.ndarray | None = None
    self_conf: np.ndarray | None = None


def image_confidence(
    name: str,
    gt_index: np.ndarray,
    pred_index: np.ndarray,
    cmap: ConfidenceMap,
    num_classes: int,
    *,
    bins: int = DEFAULT_BINS,
) -> ImageConfidence:
    """Reduce one image to its :class:`ImageConfidence`.

    ``gt_index``: (H, W) class indices (0…K−1, K ignore, K+1 unknown — left out);
    ``pred_index``: (H, W) 0…K−1, K = invalid prediction.

    Example:
        >>> c = ConfidenceMap("u8", np.array([[255, 128, 0]], np.uint8))
        >>> s = image_confidence("a", np.array([[0, 1, 2]]), np.array([[0, 0, 1]]), c, 2, bins=2)
        >>> s.level.tolist(), s.bin.tolist(), s.gt.tolist(), s.pred.tolist(), s.count.tolist()
        ([128, 255], [1, 1], [1, 0], [0, 0], [1, 1])
        >>> (s.conf_sum * 255).round().tolist(), int(s.level_hist.sum())
        ([128.0, 255.0], 3)
    """
    k = num_classes
    if cmap.shape != gt_index.shape:
        raise MaskError(
            f"{cmap.path}: confidence size {cmap.shape[1]}x{cmap.shape[0]} differs from the masks "
            f"({gt_index.shape[1]}x{gt_index.shape[0]})"
        )
    level_all = cmap.levels()
    level_hist = np.bincount(level_all.ravel(), minlength=LEVELS + 1).astype(np.int64)
    valid = gt_index < k
    lv = level_all[valid].astype(np.int64)
    bn = cmap.bins(bins)[valid].astype(np.int64)
    g = gt_index[valid].astype(np.int64)
    p = pred_index[valid].astype(np.int64)
    # (level, bin) pairs: for one level the bin is that of the level's grid value or the next one
    grid_bin = calibration_bins(_GRID, "float", bins=bins).astype(np.int64)
    u = lv * 2 + (bn - grid_bin[lv])
    key = (u * k + g) * (k + 1) + p
    size = 2 * (LEVELS + 1) * k * (k + 1)
    weights = None if cmap.source == "u8" else cmap.values[valid].astype(np.float64)
    if size <= 1 << 22:
        counts = np.bincount(key, minlength=size)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
        sums = np.bincount(key, weights=weights, minlength=size)[keys] if weights is not None else None
    else:
        keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=weights, minlength=len(keys)) if weights is not None else None
    rest, p_out = np.divmod(keys, k + 1)
    u_out, g_out = np.divmod(rest, k)
    l_out, d = np.divmod(u_out, 2)
    b_out = grid_bin[l_out] + d
    if sums is None:  # 8-bit: Σ v = count · level, exact
        sums = counts * l_out.astype(np.float64)
    conf_sum = sums / _SCALE[cmap.source]
    extra: dict = {}
    if cmap.probs is not None:
        extra = _probability_statistics(cmap, gt_index, valid, k, bins)
    return ImageConfidence(
        name,
        cmap.source,
        l_out.astype(np.uint8),
        b_out.astype(np.uint16),
        g_out.astype(np.int32),
        p_out.astype(np.int32),
        counts.astype(np.int64),
        conf_sum,
        level_hist,
        mean_all=float(cmap.values.mean()) / _SCALE[cmap.source] if cmap.values.size else math.nan,
        **extra,
    )


def image_confidence_raw(
    name: str,
    gt: np.ndarray,
    pred: np.ndarray,
    cmap: ConfidenceMap,
    table: ClassTable,
    *,
    gt_encoding: str = "ids",
    pred_encoding: str = "ids",
    bins: int = DEFAULT_BINS,
    pair_keys: np.ndarray | None = None,
) -> ImageConfidence:
    """:func:`image_confidence` from raw mask values (as read from the files), with the same result.

    The common case — 8-bit masks and an 8-bit confidence, at most 255 distinct (gt, pred) value
    pairs in the image — is counted without per-pixel integer arithmetic: each (gt, pred) pair
    gets a byte and the (confidence, pair byte) combinations are counted in one pass by the
    GIL-releasing kernel of :mod:`segviz.kernels` (:func:`~segviz.kernels.level_pair_counts`).
    ``pair_keys``: the sorted distinct ``gt*256 + pred`` of the two uint8 masks when the caller has
    counted them already (the evaluation's count of the same pair), else they are counted here.
    Anything else goes through class indices and :func:`image_confidence`.
    """
    k = table.num_classes
    if cmap.shape != gt.shape:
        raise MaskError(
            f"{cmap.path}: confidence size {cmap.shape[1]}x{cmap.shape[0]} differs from the masks "
            f"({gt.shape[1]}x{gt.shape[0]})"
        )
    fast = (
        cmap.source == "u8"
        and cmap.probs is None
        and gt.dtype == np.uint8
        and pred.dtype == np.uint8
        and gt.flags.c_contiguous
        and pred.flags.c_contiguous
    )
    if fast:
        if pair_keys is None:
            pair_keys, _ = sparse_joint_u8(gt, pred)
        pair_keys = np.asarray(pair_keys, dtype=np.int64)
        fast = len(pair_keys) <= 255
    if not fast:
        from segviz.overlay import class_indices

        gi = class_indices(gt, table, kind="gt", encoding=gt_encoding)
        pi = class_indices(pred, table, kind="pred", encoding=pred_encoding)
        return image_confidence(name, gi, pi, cmap, k, bins=bins)
    # One byte per *class* pair, numbered in (gt, pred) class order, and one more for every pair
    # whose ground truth is left out: the kernel's (level, code) output is then already the sorted,
    # distinct (level, gt, pred) rows — raw pairs folding onto one class pair share their code.
    gk = table.gt_indices(pair_keys >> 8, encoding=gt_encoding)
    pk = table.pred_indices(pair_keys & 255, encoding=pred_encoding)
    class_pair = np.where(gk < k, gk * (k + 1) + pk, k * (k + 1))
    used, pair_code = np.unique(class_pair, return_inverse=True)
    lut = np.zeros(1 << 16, dtype=np.uint8)
    lut[pair_keys] = pair_code.astype(np.uint8)
    keys, counts = level_pair_counts(cmap.values, gt, pred, lut, len(used))
    level, code = keys >> 8, keys & 255
    level_hist = np.bincount(level, weights=counts, minlength=LEVELS + 1).astype(np.int64)
    valid = used[code] < k * (k + 1)
    level, counts = level[valid], counts[valid]
    g, p = np.divmod(used[code[valid]], k + 1)
    bin_lut = calibration_bins(np.arange(256, dtype=np.uint8), "u8", bins=bins).astype(np.int64)
    total = int(level_hist.sum())
    mean_all = float((level_hist * np.arange(LEVELS + 1)).sum() / 255 / total) if total else math.nan
    return ImageConfidence(
        name,
        "u8",
        level.astype(np.uint8),
        bin_lut[level].astype(np.uint16),
        g.astype(np.int32),
        p.astype(np.int32),
        counts,
        counts * level.astype(np.float64) / 255,
        level_hist,
        mean_all=mean_all,
    )


def _probability_statistics(cmap: ConfidenceMap, gt_index: np.ndarray, valid: np.ndarray, k: int, bins: int):
    probs = cmap.probs
    assert probs is not None
    if probs.shape[0] != k:
        raise MaskError(
            f"{cmap.path}: {probs.shape[0]} probability channels, but the class table has {k} classes"
        )
    if cmap.raw is not None:
        return _probability_statistics_u8(cmap.raw, gt_index, valid, k, bins)
    entropy = normalised_entropy(probs)
    margin = cmap.margin()
    g = gt_index[valid]
    classwise = np.zeros((k, bins, 3), dtype=np.float64)
    self_conf = np.zeros(k, dtype=np.float64)
    source: Source = "u8" if cmap.source == "u8" else "float"
    for c in range(k):
        pc = probs[c][valid]
        values = np.rint(pc * 255).astype(np.uint8) if source == "u8" else pc.astype(np.float64)
        b = calibration_bins(values, source, bins=bins).astype(np.int64)
        positive = g == c
        classwise[c, :, 0] = np.bincount(b, minlength=bins)
        classwise[c, :, 1] = np.bincount(b[positive], minlength=bins)
        exact = values.astype(np.float64) / 255 if source == "u8" else values
        classwise[c, :, 2] = np.bincount(b, weights=exact, minlength=bins)
        self_conf[c] = float(exact[positive].sum())
    return {
        "entropy_mean": float(entropy.mean()) if entropy.size else math.nan,
        "margin_mean": float(margin.mean()) if margin is not None and margin.size else math.nan,
        "classwise": classwise,
        "self_conf": self_conf,
    }


def _probability_statistics_u8(raw: np.ndarray, gt_index: np.ndarray, valid: np.ndarray, k: int, bins: int):
    """:func:`_probability_statistics` of uint8 probabilities (p = v/255), exact and vectorised:
    entropy from a v·log v table, class-wise bins from (class, v) histograms."""
    flat = raw.reshape(k, -1)
    total = flat.sum(axis=0, dtype=np.int64)
    vlogv = np.zeros(256)
    vlogv[1:] = np.arange(1, 256) * np.log(np.arange(1, 256))
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = np.where(total > 0, np.log(np.maximum(total, 1)) - vlogv[flat].sum(axis=0) / total, 0.0)
    ent = np.maximum(ent, 0.0) / math.log(k) if k > 1 else np.zeros_like(ent)
    if k > 1:
        top_at = flat.argmax(axis=0)
        rest = flat.copy()
        rest[top_at, np.arange(flat.shape[1])] = 0
        margin = (flat.max(axis=0).astype(np.int64) - rest.max(axis=0)) / 255
    else:
        margin = np.ones(flat.shape[1])
    mask = valid.reshape(-1)
    q = flat[:, mask]
    g = gt_index.reshape(-1)[mask].astype(np.int64)
    per_value = np.bincount((np.arange(k)[:, None] * 256 + q).ravel(), minlength=k * 256).reshape(k, 256)
    positive = np.bincount(g * 256 + q[g, np.arange(len(g))], minlength=k * 256).reshape(k, 256)
    bin_of = calibration_bins(np.arange(256, dtype=np.uint8), "u8", bins=bins).astype(np.int64)
    v = np.arange(256, dtype=np.float64) / 255
    classwise = np.zeros((k, bins, 3), dtype=np.float64)
    for col, (hist, weight) in enumerate(((per_value, 1.0), (positive, 1.0), (per_value, v))):
        for b in range(bins):
            classwise[:, b, col] = (
                hist[:, bin_of == b] * (weight if np.ndim(weight) == 0 else weight[bin_of == b])
            ).sum(axis=1)
    return {
        "entropy_mean": float(ent.mean()) if ent.size else math.nan,
        "margin_mean": float(margin.mean()) if margin.size else math.nan,
        "classwise": classwise,
        "self_conf": (positive * v).sum(axis=1),
    }


# ====================================================================== calibration
@dataclass(frozen=True)
class Calibration:
    """Per-bin totals and the calibration errors that follow.

    Attributes:
        count: int64 (B,) pixels per bin; correct: int64 (B,) correct pixels; confidence_sum:
            float64 (B,) Σ confidence.

    Example:
        >>> c = Calibration(np.array([2, 0, 2]), np.array([1, 0, 2]), np.array([0.5, 0.0, 1.8]))
        >>> round(c.ece, 4), round(c.ace, 4), round(c.mce, 4)
        (0.175, 0.175, 0.25)
    """

    count: np.ndarray
    correct: np.ndarray
    confidence_sum: np.ndarray

    @property
    def bins(self) -> int:
        return len(self.count)

    @property
    def pixels(self) -> int:
        return int(self.count.sum())

    @property
    def accuracy(self) -> np.ndarray:
        """acc_b per bin, NaN for an empty bin."""
        return metrics.divide(self.correct, self.count)

    @property
    def confidence(self) -> np.ndarray:
        """conf_b (mean confidence) per bin, NaN for an empty bin."""
        return metrics.divide(self.confidence_sum, self.count)

    def gaps(self) -> np.ndarray:
        """|acc_b − conf_b| per bin (NaN for empty bins)."""
        return np.abs(self.accuracy - self.confidence)

    @property
    def ece(self) -> float:
        """Σ_b n_b |acc_b − conf_b| / Σ_b n_b (NaN without pixels)."""
        n = self.count.sum()
        return float(np.abs(self.correct - self.confidence_sum).sum() / n) if n else math.nan

    @property
    def ace(self) -> float:
        """Mean of |acc_b − conf_b| over the non-empty bins."""
        gaps = self.gaps()
        return float(np.nanmean(gaps)) if np.isfinite(gaps).any() else math.nan

    @property
    def mce(self) -> float:
        """Largest |acc_b − conf_b| over the non-empty bins."""
        gaps = self.gaps()
        return float(np.nanmax(gaps)) if np.isfinite(gaps).any() else math.nan

    @property
    def accuracy_overall(self) -> float:
        n = self.count.sum()
        return float(self.correct.sum() / n) if n else math.nan

    @property
    def confidence_overall(self) -> float:
        n = self.count.sum()
        return float(self.confidence_sum.sum() / n) if n else math.nan

    def to_dict(self) -> dict:
        """``{bins, ece, ace, mce, bins_detail: [{lo, hi, count, confidence, accuracy}]}`` (None =
        undefined)."""
        acc, conf = self.accuracy, self.confidence
        b = self.bins
        return {
            "bins": b,
            "ece": _clean(self.ece),
            "ace": _clean(self.ace),
            "mce": _clean(self.mce),
            "bins_detail": [
                {
                    "lo": i / b,
                    "hi": (i + 1) / b,
                    "count": int(self.count[i]),
                    "confidence": _clean(conf[i]),
                    "accuracy": _clean(acc[i]),
                }
                for i in range(b)
            ],
        }

    def sentence(self) -> str:
        """One plain sentence saying how far confidence is from accuracy."""
        if not self.pixels:
            return "No pixel has a confidence value."
        conf, acc = self.confidence_overall, self.accuracy_overall
        if abs(conf - acc) < 0.005:
            way = "matches its accuracy"
        elif conf > acc:
            way = "is overconfident"
        else:
            way = "is underconfident"
        return (
            f"On average the model says {100 * conf:.1f} % and is right {100 * acc:.1f} % of the time: it "
            f"{way}; per confidence bin the gap averages {100 * self.ece:.1f} points (ECE) and reaches "
            f"{100 * self.mce:.1f} points in the worst bin (MCE)."
        )


def calibration_from_rows(
    bin_: np.ndarray, correct: np.ndarray, count: np.ndarray, conf_sum: np.ndarray, bins: int
) -> Calibration:
    """Fold rows (bin, correct?, pixels, Σ confidence) into a :class:`Calibration`."""
    n = np.bincount(bin_, weights=count, minlength=bins)
    right = np.bincount(bin_, weights=np.where(correct, count, 0), minlength=bins)
    s = np.bincount(bin_, weights=conf_sum, minlength=bins)
    return Calibration(np.rint(n).astype(np.int64), np.rint(right).astype(np.int64), s)


# ====================================================================== risk–coverage
def _harmonic(n: np.ndarray) -> np.ndarray:
    """H_n = Σ_{i=1..n} 1/i for integer n ≥ 0 (float64, via the digamma function)."""
    from scipy.special import digamma

    n = np.asarray(n, dtype=np.float64)
    return digamma(n + 1) + np.euler_gamma


def aurc_from_groups(count: np.ndarray, errors: np.ndarray) -> float:
    """AURC of samples given as tied groups, most confident group first.

    AURC (Geifman et al., ICLR 2019) is the mean, over the n coverage points i/n, of the risk
    (error rate) of the i most confident samples. Samples in one group are tied: they are taken in
    random order and the expectation is returned, in closed form — group g with n_g samples and
    e_g errors after N samples with E errors adds Σ_{j=1..n_g} (E + j·e_g/n_g) / (N + j)
    = e_g + (E − N·e_g/n_g)(H_{N+n_g} − H_N).

    Example:
        >>> round(aurc_from_groups(np.array([1, 1]), np.array([0, 1])), 4)   # right, then wrong
        0.25
        >>> round(aurc_from_groups(np.array([2]), np.array([1])), 4)         # tied: (0.5·1 + 0.5)/2
        0.5
    """
    count = np.asarray(count, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    keep = count > 0
    count, errors = count[keep], errors[keep]
    total = count.sum()
    if total == 0:
        return math.nan
    before_n = np.concatenate([[0.0], np.cumsum(count)[:-1]])
    before_e = np.concatenate([[0.0], np.cumsum(errors)[:-1]])
    rate = errors / count
    contrib = errors + (before_e - before_n * rate) * (_harmonic(before_n + count) - _harmonic(before_n))
    return float(contrib.sum() / total)


def optimal_aurc(n: int, errors: int) -> float:
    """AURC of the oracle ranking (every correct sample before every wrong one) of n samples:
    (1/n) Σ_{i=m+1..n} (i − m)/i with m = n − errors correct, = ((n − m) − m (H_n − H_m)) / n.

    Example:
        >>> round(optimal_aurc(2, 1), 4)     # risks 0 and 1/2
        0.25
    """
    if n == 0:
        return math.nan
    m = n - errors
    return float(((n - m) - m * (_harmonic(n) - _harmonic(m))) / n)


def auroc_low_confidence(correct_by_level: np.ndarray, wrong_by_level: np.ndarray) -> float:
    """AUROC of "low confidence" as a detector of wrong pixels: the probability that a random wrong
    pixel has a lower level than a random correct one, ties counting one half (Mann–Whitney).

    Example:
        >>> auroc_low_confidence(np.array([0, 0, 2]), np.array([1, 1, 0]))
        1.0
    """
    c = np.asarray(correct_by_level, dtype=np.float64)
    w = np.asarray(wrong_by_level, dtype=np.float64)
    nc, nw = c.sum(), w.sum()
    if nc == 0 or nw == 0:
        return math.nan
    above = np.cumsum(c[::-1])[::-1] - c  # correct pixels at a strictly higher level
    return float((w * (above + 0.5 * c)).sum() / (nc * nw))


@dataclass(frozen=True)
class RiskCoverage:
    """A risk–coverage curve (most confident first) and its areas.

    Attributes:
        coverage: float64 (P,) share kept at each point; risk: float64 (P,) 1 − PA of what is kept;
        threshold: float64 (P,) the confidence threshold (pixels) or score (images) of each point.
        aurc, e_aurc: the area (see :func:`aurc_from_groups`) and its excess over the oracle.
        auroc: AUROC of low confidence vs wrong (pixels only; NaN for images).
    """

    over: RiskOver
    coverage: np.ndarray
    risk: np.ndarray
    threshold: np.ndarray
    aurc: float
    e_aurc: float
    optimal: float
    auroc: float = math.nan

    def to_dict(self) -> dict:
        return {"aurc": _clean(self.aurc), "e_aurc": _clean(self.e_aurc)}


def risk_coverage_pixels(correct_by_level: np.ndarray, wrong_by_level: np.ndarray) -> RiskCoverage:
    """Risk–coverage over pixels from per-level counts (level 255 = most confident)."""
    c = np.asarray(correct_by_level, dtype=np.int64)[::-1]
    w = np.asarray(wrong_by_level, dtype=np.int64)[::-1]
    n = c + w
    total = int(n.sum())
    levels = np.arange(len(n))[::-1]
    keep = n > 0
    kept = np.cumsum(n)[keep]
    wrong = np.cumsum(w)[keep]
    aurc = aurc_from_groups(n, w)
    optimal = optimal_aurc(total, int(w.sum()))
    return RiskCoverage(
        "pixels",
        kept / total if total else kept.astype(float),
        wrong / np.maximum(kept, 1),
        levels[keep] / LEVELS,
        aurc,
        aurc - optimal,
        optimal,
        auroc_low_confidence(correct_by_level, wrong_by_level),
    )


def risk_coverage_images(score: np.ndarray, pixels: np.ndarray, wrong: np.ndarray) -> RiskCoverage:
    """Risk–coverage over images ranked by ``score`` (high first; ties in the given order): at i
    images, risk = wrong pixels / pixels of the i kept, AURC = mean over i. E-AURC subtracts the AURC
    of the oracle that ranks images by their own pixel accuracy.

    Example:
        >>> rc = risk_coverage_images(np.array([0.9, 0.5]), np.array([10, 10]), np.array([0, 5]))
        >>> rc.risk.tolist(), rc.aurc, rc.e_aurc
        ([0.0, 0.25], 0.125, 0.0)
    """
    score, pixels, wrong = (np.asarray(a) for a in (score, pixels, wrong))
    m = len(score)
    if m == 0:
        empty = np.zeros(0)
        return RiskCoverage("images", empty, empty, empty, math.nan, math.nan, math.nan)

    def curve(order: np.ndarray) -> np.ndarray:
        return np.cumsum(wrong[order]) / np.maximum(np.cumsum(pixels[order]), 1)

    order = np.argsort(-score, kind="stable")
    risk = curve(order)
    oracle = curve(np.argsort(wrong / np.maximum(pixels, 1), kind="stable"))
    aurc, best = float(risk.mean()), float(oracle.mean())
    return RiskCoverage(
        "images", np.arange(1, m + 1) / m, risk, score[order].astype(float), aurc, aurc - best, best
    )


# ====================================================================== threshold explorer
@dataclass(frozen=True)
class ThresholdExplorer:
    """Metrics on the pixels whose confidence ≥ t, for every t = j/255.

    Attributes:
        confusions: int64 (256, K, K+1): the confusion matrix of the pixels at level ≥ j.
        total: all non-ignored pixels (with a confidence).
    """

    confusions: np.ndarray
    total: int

    @property
    def thresholds(self) -> np.ndarray:
        return _GRID.copy()

    def level(self, t: float) -> int:
        """The grid index of the smallest grid threshold ≥ t (keep confidence ≥ t)."""
        if not 0 <= t <= 1:
            raise ValueError(f"threshold must be in [0, 1] (got {t})")
        return int(np.searchsorted(_GRID, t - 1e-12, side="left"))

    def at(self, t: float) -> dict:
        """``{threshold, kept, kept_share, summary: {...}, classes: {iou: (K,) ...}}`` at t."""
        j = self.level(t)
        cm = self.confusions[j]
        kept = int(cm.sum())
        return {
            "threshold": float(_GRID[j]),
            "kept": kept,
            "kept_share": kept / self.total if self.total else math.nan,
            "summary": metrics.summary_metrics(cm),
            "classes": metrics.class_metrics(cm),
        }

    def curve(self) -> dict[str, np.ndarray]:
        """Every grid threshold: threshold, kept_share, pixel_accuracy, mean_iou (256,) and iou (256, K).
        Computed once per explorer (read-only arrays): redrawing for another t costs nothing more."""
        return self._curve

    @cached_property
    def _curve(self) -> dict[str, np.ndarray]:
        summary = metrics.summary_metrics(self.confusions)
        per = metrics.class_metrics(self.confusions)
        kept = self.confusions.sum(axis=(1, 2))
        out = {
            "threshold": _GRID.copy(),
            "kept_share": kept / self.total if self.total else np.full(len(kept), np.nan),
            "pixel_accuracy": summary["pixel_accuracy"],
            "mean_iou": summary["mean_iou"],
            "iou": per["iou"],
        }
        for array in out.values():
            array.flags.writeable = False
        return out

    def best_thresholds(self, *, min_kept: float = 0.0) -> dict[str, np.ndarray]:
        """Per class, the grid threshold with the highest IoU (the lowest such t on ties) among the
        thresholds keeping at least ``min_kept`` of all pixels: ``threshold``, ``iou`` (K,) and
        ``iou_at_0`` (K,); NaN where a class has no defined IoU."""
        curve = self.curve()
        iou = curve["iou"].copy()
        iou[curve["kept_share"] < min_kept] = np.nan
        k = iou.shape[1]
        best_t = np.full(k, np.nan)
        best = np.full(k, np.nan)
        for c in range(k):
            col = iou[:, c]
            if np.isfinite(col).any():
                j = int(np.nanargmax(col))
                best_t[c], best[c] = _GRID[j], col[j]
        return {"threshold": best_t, "iou": best, "iou_at_0": curve["iou"][0]}


# ====================================================================== the dataset
@dataclass
class ConfidenceResult:
    """Confidence statistics of an evaluated dataset (aligned with its :class:`Evaluation`).

    Attributes:
        evaluation: the evaluation (class table, names, confusion matrices).
        bins: calibration bins B.
        images: per evaluated image, its :class:`ImageConfidence` or None (no usable map).
        warnings: problems with confidence files (each names the file); those images are evaluated
            without confidence.
    """

    evaluation: Evaluation
    bins: int
    images: list[ImageConfidence | None]
    warnings: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = self.evaluation.table.num_classes
        parts = [(i, s) for i, s in enumerate(self.images) if s is not None]
        self.k = k
        sizes = [len(s.count) for _, s in parts]
        n = len(self.images)
        self.row_image = np.repeat(np.array([i for i, _ in parts], dtype=_smallest(n)), sizes)

        def cat(name: str, dtype) -> np.ndarray:
            if not parts:
                return np.zeros(0, dtype)
            return np.concatenate([getattr(s, name) for _, s in parts]).astype(dtype, copy=False)

        # compact dtypes (20 bytes a row for K < 255 and fewer than 65,536 images): cast to int64
        # before any arithmetic. Class indices 0…K (K = invalid prediction) in the smallest
        # unsigned type; pixel counts are per image (< 2³² for any image Pillow opens).
        most = max((int(s.count.max()) for _, s in parts if len(s.count)), default=0)
        self.row_level = cat("level", np.uint8)
        self.row_bin = cat("bin", np.uint16)
        self.row_gt = cat("gt", _smallest(k + 1))
        self.row_pred = cat("pred", _smallest(k + 1))
        self.row_count = cat("count", np.uint32 if most < 1 << 32 else np.int64)
        self.row_conf = cat("conf_sum", np.float64)
        self.row_correct = self.row_gt == self.row_pred
        # each image's rows become views of these arrays: the rows are held once, not twice
        start = 0
        for (i, st), size in zip(parts, sizes, strict=True):
            view = slice(start, start + size)
            self.images[i] = replace(
                st,
                level=self.row_level[view],
                bin=self.row_bin[view],
                gt=self.row_gt[view],
                pred=self.row_pred[view],
                count=self.row_count[view],
                conf_sum=self.row_conf[view],
            )
            start += size

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-image rows (each held once: the images' arrays are views)."""
        arrays = (self.row_image, self.row_level, self.row_bin, self.row_gt, self.row_pred)
        return sum(a.nbytes for a in (*arrays, self.row_count, self.row_conf, self.row_correct))

    # ------------------------------------------------------------------ which images
    @property
    def has_confidence(self) -> np.ndarray:
        return np.array([s is not None for s in self.images], dtype=bool)

    @property
    def has_probabilities(self) -> bool:
        present = [s for s in self.images if s is not None]
        return bool(present) and all(s.classwise is not None for s in present)

    def _rows(self, images: Iterable[int] | None) -> np.ndarray:
        if images is None:
            return np.ones(len(self.row_count), dtype=bool)
        mask = np.zeros(len(self.images), dtype=bool)
        mask[np.asarray(list(images), dtype=np.int64)] = True
        return mask[self.row_image]

    # ------------------------------------------------------------------ calibration
    def calibration(
        self, images: Iterable[int] | None = None, *, pred_class: int | None = None
    ) -> Calibration:
        """Top-label calibration of the dataset (or of ``images``, or of the pixels predicted as
        class index ``pred_class``)."""
        rows = self._rows(images)
        if pred_class is not None:
            rows &= self.row_pred == pred_class
        return calibration_from_rows(
            self.row_bin[rows], self.row_correct[rows], self.row_count[rows], self.row_conf[rows], self.bins
        )

    def class_calibration_frame(self) -> pd.DataFrame:
        """Calibration by predicted class: name, pixels, confidence, accuracy, ece (NaN = none)."""
        import pandas as pd

        rows = []
        for c, name in enumerate(self.evaluation.table.names):
            cal = self.calibration(pred_class=c)
            rows.append(
                {
                    "name": name,
                    "pixels": cal.pixels,
                    "confidence": cal.confidence_overall,
                    "accuracy": cal.accuracy_overall,
                    "ece": cal.ece,
                }
            )
        frame = pd.DataFrame(rows)
        cw = self.classwise_ece()
        frame["classwise_ece"] = cw["per_class"] if cw is not None else np.nan
        return frame

    def classwise_ece(self, images: Iterable[int] | None = None) -> dict | None:
        """One-vs-rest ECE per class (bins over p_c, accuracy = share labelled c) and its mean over
        the classes: ``{per_class: (K,), mean}``; None unless every image has full probabilities."""
        if not self.has_probabilities:
            return None
        idx = range(len(self.images)) if images is None else images
        stack = sum(self.images[i].classwise for i in idx if self.images[i] is not None)
        if isinstance(stack, int):
            return None
        per = np.array(
            [Calibration(stack[c, :, 0], stack[c, :, 1], stack[c, :, 2]).ece for c in range(self.k)]
        )
        return {"per_class": per, "mean": float(np.nanmean(per)) if np.isfinite(per).any() else math.nan}

    # ------------------------------------------------------------------ per image
    def image_frame(self) -> pd.DataFrame:
        """Per evaluated image: name, has_confidence, mean_confidence, accuracy, ece, mean_entropy,
        mean_margin (NaN where undefined)."""
        import pandas as pd

        n, b = len(self.images), self.bins
        key = self.row_image.astype(np.int64) * b + self.row_bin
        count = np.bincount(key, weights=self.row_count, minlength=n * b).reshape(n, b)
        right = np.bincount(key, weights=np.where(self.row_correct, self.row_count, 0), minlength=n * b)
        csum = np.bincount(key, weights=self.row_conf, minlength=n * b).reshape(n, b)
        right = right.reshape(n, b)
        pixels = count.sum(axis=1)
        ece = metrics.divide(np.abs(right - csum).sum(axis=1), pixels)
        return pd.DataFrame(
            {
                "name": self.evaluation.names,
                "has_confidence": self.has_confidence,
                "mean_confidence": metrics.divide(csum.sum(axis=1), pixels),
                "accuracy": metrics.divide(right.sum(axis=1), pixels),
                "ece": ece,
                "mean_entropy": [s.entropy_mean if s is not None else math.nan for s in self.images],
                "mean_margin": [s.margin_mean if s is not None else math.nan for s in self.images],
            }
        )

    # ------------------------------------------------------------------ does confidence find errors
    def level_counts(self, images: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(correct, wrong) non-ignored pixels per threshold level, int64 (256,) each."""
        rows = self._rows(images)
        lv, c, ok = self.row_level[rows], self.row_count[rows], self.row_correct[rows]
        right = np.bincount(lv[ok], weights=c[ok], minlength=LEVELS + 1)
        wrong = np.bincount(lv[~ok], weights=c[~ok], minlength=LEVELS + 1)
        return np.rint(right).astype(np.int64), np.rint(wrong).astype(np.int64)

    def risk_coverage(
        self, *, over: RiskOver = "pixels", images: Iterable[int] | None = None
    ) -> RiskCoverage:
        """Risk–coverage over pixels (per level) or over images (ranked by mean confidence)."""
        if over == "pixels":
            return risk_coverage_pixels(*self.level_counts(images))
        if over != "images":
            raise ValueError(f"over must be 'pixels' or 'images' (got {over!r})")
        frame = self.image_frame()
        chosen = np.flatnonzero(self.has_confidence)
        if images is not None:
            chosen = np.intersect1d(chosen, np.asarray(list(images), dtype=np.int64))
        n = len(self.images)
        pixels = np.bincount(self.row_image, weights=self.row_count, minlength=n)
        wrong = np.bincount(
            self.row_image, weights=np.where(self.row_correct, 0, self.row_count), minlength=n
        )
        return risk_coverage_images(
            frame["mean_confidence"].to_numpy()[chosen], pixels[chosen], wrong[chosen]
        )

    def threshold_explorer(self, images: Iterable[int] | None = None) -> ThresholdExplorer:
        """The :class:`ThresholdExplorer` of the dataset (or of ``images``): one reverse cumulative
        sum over (level, gt, pred) totals — no pixels."""
        rows = self._rows(images)
        k = self.k
        level = self.row_level[rows].astype(np.int64)
        key = (level * k + self.row_gt[rows]) * (k + 1) + self.row_pred[rows]
        flat = np.bincount(key, weights=self.row_count[rows], minlength=(LEVELS + 1) * k * (k + 1))
        per_level = np.rint(flat).astype(np.int64).reshape(LEVELS + 1, k, k + 1)
        confusions = np.cumsum(per_level[::-1], axis=0)[::-1]
        return ThresholdExplorer(np.ascontiguousarray(confusions), int(per_level.sum()))

    # ------------------------------------------------------------------ confident-learning thresholds
    def class_thresholds(self) -> np.ndarray:
        """Per class k, t_k = mean confidence of the pixels labelled k and predicted k (NaN when
        none): the per-class thresholds of the confident-disagreement rule on the top class."""
        mine = self.row_correct & (self.row_gt < self.k)
        n = np.bincount(self.row_gt[mine], weights=self.row_count[mine], minlength=self.k)
        s = np.bincount(self.row_gt[mine], weights=self.row_conf[mine], minlength=self.k)
        return metrics.divide(s, n)

    def self_confidence_thresholds(self) -> np.ndarray | None:
        """Per class k, t_k = mean p_k over the pixels labelled k (confident learning's per-class
        threshold), from full probabilities; None without them."""
        if not self.has_probabilities:
            return None
        s = sum(im.self_conf for im in self.images if im is not None)
        n = np.bincount(self.row_gt, weights=self.row_count, minlength=self.k)
        return metrics.divide(s, n)

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict:
        """``{calibration: {...}, risk_coverage: {aurc, e_aurc, ...}, ...}`` for the JSON output."""
        cal = self.calibration()
        rc = self.risk_coverage()
        rci = self.risk_coverage(over="images")
        out = {
            "calibration": cal.to_dict(),
            "risk_coverage": {
                **rc.to_dict(),
                "auroc": _clean(rc.auroc),
                "images": rci.to_dict(),
            },
            "confidence_images": int(self.has_confidence.sum()),
            "confidence_pixels": cal.pixels,
        }
        cw = self.classwise_ece()
        if cw is not None:
            out["calibration"]["classwise_ece"] = _clean(cw["mean"])
        return out


# ====================================================================== the pass
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ConfidenceFiles:
    """Which confidence file each sample has, and whether probability files hold logits."""

    files: dict[str, Location]
    logits: bool
    warnings: list[Problem]
    conf_dir: Path | None = None
    prob_dir: Path | None = None

    def missing_message(self, pair: Pair) -> str:
        where = " or ".join(str(d) for d in (self.conf_dir, self.prob_dir) if d is not None)
        return f"{pair.pred_path}: no confidence map in {where} (evaluated without)"


def find_confidence(
    dataset: Dataset,
    *,
    conf: str | Path | None = None,
    prob: str | Path | None = None,
    logits: bool | None = None,
) -> ConfidenceFiles:
    """Pair each sample with its confidence file: ``prob/`` (full probabilities) first, then
    ``conf/``. ``logits``: None = read ``prob/…/meta.json`` (``{"logits": true}``), default False."""
    found_conf, found_prob = confidence_folders(dataset)
    conf_dir = Path(conf) if conf is not None else found_conf
    prob_dir = Path(prob) if prob is not None else found_prob
    warnings: list[Problem] = []
    for given, name in ((conf, "--conf"), (prob, "--prob")):
        if given is not None and not Path(given).is_dir():
            raise SegvizError(f"{given}: {name} folder does not exist")
    conf_files, conf_problems = (
        index_files(conf_dir, CONFIDENCE_SUFFIXES, "confidence") if conf_dir else ({}, [])
    )
    prob_files, prob_problems = (
        index_files(prob_dir, PROBABILITY_SUFFIXES, "probability") if prob_dir else ({}, [])
    )
    prob_problems = [p for p in prob_problems if not p.reason.startswith(str(prob_dir / "meta.json"))]
    warnings += conf_problems + prob_problems
    if logits is None:
        logits = _meta_logits(prob_dir, warnings) if prob_dir else False
    files: dict[str, Location] = dict(conf_files)
    for key, path in prob_files.items():
        if key in files:
            warnings.append(
                Problem(key, f"{files[key]}: ignored, {path} (full probabilities) is used instead")
            )
        files[key] = path
    return ConfidenceFiles(files, bool(logits), warnings, conf_dir, prob_dir)


def _meta_logits(prob_dir: Path, warnings: list[Problem]) -> bool:
    meta = prob_dir / "meta.json"
    if not meta.is_file():
        return False
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        value = data.get("logits", False)
        if not isinstance(value, bool):
            raise ValueError(f"'logits' must be true or false (got {value!r})")
        return value
    except (OSError, ValueError, AttributeError) as exc:
        warnings.append(
            Problem("meta.json", f"{meta}: unreadable ({exc}); probabilities assumed, not logits")
        )
        return False


def evaluate_confidence(  # noqa: C901 -- one branch per confidence source (8/16-bit maps, probabilities, logits) and cache
    dataset: Dataset,
    *,
    workers: int = 2,
    bins: int = DEFAULT_BINS,
    conf: str | Path | None = None,
    prob: str | Path | None = None,
    logits: bool | None = None,
    store: ResultsStore | None = None,
    progress: Progress | None = None,
    generated_ignore: Iterable[int] = (),
) -> ConfidenceResult:
    """Evaluate ``dataset`` and its confidence in one pass over the files.

    Every pair is read once in ``workers`` threads: the ground truth, the prediction and the
    confidence map. The pair's counts feed the usual :class:`Evaluation` (and the results store, if
    given); the confidence is reduced to an :class:`ImageConfidence`. A missing or unusable map is a
    warning naming the file; that image is evaluated without confidence. Without a class table the
    evaluation runs first (to generate the table) and the confidence pass reads the pairs again.
    """
    _check_bins(bins)
    found = find_confidence(dataset, conf=conf, prob=prob, logits=logits)
    if found.conf_dir is None and found.prob_dir is None:
        raise SegvizError(
            f"{dataset.pred_dir}: no confidence beside these predictions (expected conf/MODEL/ or "
            "prob/MODEL/ next to pred/MODEL/); give the folder with --conf DIR or --prob DIR"
        )
    table = dataset.table
    pre: Evaluation | None = None
    if table is None:
        pre = evaluate(dataset, workers=workers, generated_ignore=generated_ignore, store=store)
        table = pre.table
    pairs = list(dataset.pairs) if pre is None else list(pre.pairs)
    k = table.num_classes

    def work(pair: Pair) -> tuple[PairCounts | Problem, ImageConfidence | Problem | None]:
        try:
            counted, gt, pred = count_pair_arrays(pair, table)
        except SegvizError as exc:
            return Problem(pair.name, str(exc)), None
        except Exception as exc:
            return Problem(pair.name, f"{pair.gt_path} / {pair.pred_path}: {type(exc).__name__}: {exc}"), None
        path = found.files.get(pair.name)
        if path is None:
            return counted, Problem(pair.name, found.missing_message(pair))
        try:
            cmap = read_confidence(path, num_classes=k, logits=found.logits, shape=gt.shape)
            both_u8 = gt.dtype == np.uint8 and pred.dtype == np.uint8
            return counted, image_confidence_raw(
                pair.name,
                gt,
                pred,
                cmap,
                table,
                gt_encoding=pair.gt_encoding,
                pred_encoding=pair.pred_encoding,
                bins=bins,
                # the pairs the evaluation just counted (sorted by gt, then pred): not counted twice
                pair_keys=counted.gt_values * 256 + counted.pred_values if both_u8 else None,
            )
        except SegvizError as exc:
            return counted, Problem(pair.name, f"{exc} (evaluated without confidence)")
        except Exception as exc:
            return counted, Problem(
                pair.name, f"{path}: {type(exc).__name__}: {exc} (evaluated without confidence)"
            )

    cache = ConfidenceCache(store.root / "confidence") if store is not None and pre is None else None
    stored_counts: dict = {}
    cached: dict[str, ImageConfidence] = {}
    keys: dict[str, str] = {}
    if cache is not None:
        pkeys = [pair_key(p) for p in pairs]
        stored_counts = store.load(pairs, table, keys=pkeys)
        fingerprint = _table_fingerprint(table)
        for pair, pk in zip(pairs, pkeys, strict=True):
            if pair.name in found.files:
                keys[pair.name] = json.dumps(
                    [list(pk), list(file_signature(found.files[pair.name])), bins, found.logits, fingerprint]
                )
        cached = cache.load(pairs, keys)

    def known(pair: Pair) -> tuple[PairCounts, ImageConfidence | Problem] | None:
        """A pair that needs no reading: its counts are stored and its confidence cached (or absent)."""
        if cache is None:
            return None
        counts = stored_counts.get(pair_key(pair))
        if counts is None:
            return None
        if pair.name in cached:
            return counts, cached[pair.name]
        if pair.name not in found.files:
            return counts, Problem(pair.name, found.missing_message(pair))
        return None

    ready = {p.name: known(p) for p in pairs}
    todo = [p for p in pairs if ready[p.name] is None]
    fresh = dict(
        zip((p.name for p in todo), _run(todo, work, workers=workers, progress=progress), strict=True)
    )
    results = [ready[p.name] or fresh[p.name] for p in pairs]
    counted = [r for r, _ in results if isinstance(r, PairCounts)]
    bad = [r for r, _ in results if isinstance(r, Problem)]
    if pre is None:
        evaluation = fold(counted, table, skipped=[*dataset.skipped, *bad], warnings=dataset.warnings)
        if store is not None and todo:
            store.save(dataset.pairs, counted, table)
    else:
        evaluation = pre
    by_name = {}
    warnings = list(found.warnings)
    for _, stats in results:
        if isinstance(stats, Problem):
            warnings.append(stats)
        elif stats is not None:
            by_name[stats.name] = stats
    if cache is not None and any(p.name in by_name and p.name not in cached for p in todo):
        cache.save(pairs, {n: (keys[n], st) for n, st in by_name.items() if n in keys})
    images = [by_name.get(name) for name in evaluation.names]
    return ConfidenceResult(evaluation, bins, images, warnings)


# ====================================================================== the cache
def _table_fingerprint(table: ClassTable) -> str:
    """What the per-image rows depend on in the class table: ids, ignore ids, source-id mapping and
    the colours (for RGB masks)."""
    text = json.dumps(
        [
            [int(i) for i in table.ids],
            sorted(int(i) for i in table.ignore_ids),
            repr(table.source_ids),
            colour_key(table),  # RGB masks decode through the colours
        ]
    )
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class ConfidenceCache:
    """Per-image :class:`ImageConfidence` kept between runs, beside (not inside) the results store:
    ``ROOT/<hash of the gt and pred folders>.npz``, one entry per image keyed by its files' paths,
    sizes and modification times, the bins, the logits flag and the class table. Anything that
    does not load cleanly is ignored (recomputed), never trusted."""

    VERSION = 1
    _ARRAYS = ("level", "bin", "gt", "pred", "count", "conf_sum")

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, pairs: Sequence[Pair]) -> Path:
        if not pairs:
            return self.root / "empty.npz"
        gt = common_folder([p.gt_path for p in pairs])
        pred = common_folder([p.pred_path for p in pairs])
        return self.root / (hashlib.sha1(f"{gt}\0{pred}".encode()).hexdigest()[:20] + ".npz")

    def load(self, pairs: Sequence[Pair], keys: dict[str, str]) -> dict[str, ImageConfidence]:
        path = self.path_for(pairs)
        if not path.is_file() or not keys:
            return {}
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("version") != self.VERSION:
                    return {}
                arrays = {a: z[a] for a in (*self._ARRAYS, "level_hist", "classwise", "self_conf")}
            out = {}
            wanted = {v: n for n, v in keys.items()}
            for i, entry in enumerate(meta["entries"]):
                name = wanted.get(entry["key"])
                if name is None:
                    continue
                a, b = entry["start"], entry["start"] + entry["rows"]
                pi = entry["probs"]
                out[name] = ImageConfidence(
                    name,
                    entry["source"],
                    *(arrays[f][a:b] for f in self._ARRAYS),
                    arrays["level_hist"][i],
                    *(
                        math.nan if entry[f] is None else entry[f]
                        for f in ("entropy_mean", "margin_mean", "mean_all")
                    ),
                    arrays["classwise"][pi] if pi >= 0 else None,
                    arrays["self_conf"][pi] if pi >= 0 else None,
                )
                if int(out[name].count.sum()) > int(out[name].level_hist.sum()):
                    return {}
            return out
        except Exception:
            return {}

    def save(self, pairs: Sequence[Pair], entries: dict[str, tuple[str, ImageConfidence]]) -> None:
        path = self.path_for(pairs)
        items = list(entries.values())
        meta, start, probs = [], 0, []
        for key, st in items:
            pi = -1
            if st.classwise is not None:
                pi = len(probs)
                probs.append(st)
            meta.append(
                {
                    "key": key,
                    "source": st.source,
                    "start": start,
                    "rows": len(st.count),
                    "entropy_mean": _json_float(st.entropy_mean),
                    "margin_mean": _json_float(st.margin_mean),
                    "mean_all": _json_float(st.mean_all),
                    "probs": pi,
                }
            )
            start += len(st.count)

        def cat(f, dtype):
            return (
                np.concatenate([getattr(st, f) for _, st in items]).astype(dtype)
                if items
                else np.zeros(0, dtype)
            )

        dtypes = {"level": np.uint8, "bin": np.uint16, "gt": np.int32, "pred": np.int32, "count": np.int64}
        arrays = {f: cat(f, dtypes.get(f, np.float64)) for f in self._ARRAYS}
        arrays["level_hist"] = (
            np.stack([st.level_hist for _, st in items]) if items else np.zeros((0, 256), np.int64)
        )
        arrays["classwise"] = np.stack([st.classwise for st in probs]) if probs else np.zeros((0, 0, 0, 3))
        arrays["self_conf"] = np.stack([st.self_conf for st in probs]) if probs else np.zeros((0, 0))
        text = json.dumps({"version": self.VERSION, "entries": meta})
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.root)
        except OSError:
            return  # a cache that cannot be written is only slower next time
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, meta=np.array(text), **arrays)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)


def _json_float(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _run(pairs: Sequence[Pair], work, *, workers: int, progress: Progress | None) -> list:
    """``work`` over ``pairs`` in threads (chunks, as :func:`segviz.evaluate.count_pairs`), in order."""
    size = max(1, min(16, len(pairs) // (max(1, workers) * 16)))
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    out: list = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for batch in pool.map(lambda ps: [work(p) for p in ps], chunks):
            out.extend(batch)
            if progress is not None:
                progress(len(out), len(pairs))
    return out


# ====================================================================== helpers
def _smallest(n: int) -> type:
    """The smallest unsigned integer type holding 0…n−1 (int64 beyond uint32).

    Example:
        >>> _smallest(12).__name__, _smallest(256).__name__, _smallest(257).__name__
        ('uint8', 'uint8', 'uint16')
    """
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max + 1:
            return dtype
    return np.int64


def _check_bins(bins: int) -> None:
    if not isinstance(bins, int | np.integer) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins must be a positive integer (got {bins!r})")


def _clean(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


__all__ = [
    "Calibration",
    "ConfidenceMap",
    "ConfidenceResult",
    "ImageConfidence",
    "RiskCoverage",
    "ThresholdExplorer",
    "aurc_from_groups",
    "auroc_low_confidence",
    "calibration_bins",
    "confidence_levels",
    "evaluate_confidence",
    "find_confidence",
    "image_confidence",
    "optimal_aurc",
    "read_confidence",
    "risk_coverage_images",
    "risk_coverage_pixels",
]
