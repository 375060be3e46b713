"""Evaluating a dataset: read each pair once, keep sparse counts, fold them through the class table.

:func:`evaluate` is three public steps, which a caller that caches (the dashboard) calls itself:

1. :func:`count` (the slow part: decoding PNGs) reads every pair in parallel threads, or takes it
   from the results store, and keeps its sparse joint histogram of raw values
   (:class:`~segviz.counts.Counted`; :func:`count_pairs` is the same for a list of pairs);
2. :func:`choose_table`: the dataset's class table, or one generated from the values found;
3. :func:`fold` (milliseconds) maps raw values to class indices with the class table's lookup tables
   and builds the dataset confusion matrix and the per-image matrices, held sparse as
   (image, gt, pred, count) rows.

Changing the class table or the ignore ids only repeats steps 2 and 3.

Example:
    >>> from pathlib import Path
    >>> from segviz.dataset import Dataset
    >>> empty = Dataset(Path("gt"), Path("pred"), None, None, None, [])
    >>> counted = count(empty)
    >>> fold(counted, choose_table(empty, counted)).num_images
    0
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from segviz import kernels, metrics
from segviz.classes import ClassTable
from segviz.counts import CountColumns, Counted, PairCounts  # (defined there, importable from here as before)
from segviz.dataset import Dataset, Pair, PairList, Problem
from segviz.errors import ClassTableError, SegvizError
from segviz.masks import UNKNOWN_COLOUR, MaskData, image_size, joint_counts, read_mask
from segviz.store import ResultsStore, key_texts

if TYPE_CHECKING:  # pandas is imported where a frame is built: the command line starts faster
    import pandas as pd

Progress = Callable[[int, int], None]


def read_pair(pair: Pair, table: ClassTable | None = None) -> tuple[MaskData, MaskData]:
    """Read one pair's ground truth and prediction; raises :class:`SegvizError` when they differ
    in size (the message every pixel-level step reports)."""
    gt = read_mask(pair.gt_path, table)
    pred = read_mask(pair.pred_path, table)
    if gt.values.shape != pred.values.shape:
        raise SegvizError(
            f"{pair.pred_path}: size {_wh(pred.values.shape)} differs from the ground truth "
            f"{pair.gt_path} ({_wh(gt.values.shape)})"
        )
    return gt, pred


def count_pair(pair: Pair, table: ClassTable | None = None) -> PairCounts:
    """Read one pair and count its (gt, pred) raw value pairs; raises :class:`SegvizError`."""
    return count_pair_arrays(pair, table)[0]


def count_pair_arrays(
    pair: Pair, table: ClassTable | None = None
) -> tuple[PairCounts, np.ndarray, np.ndarray]:
    """:func:`count_pair`, also returning the decoded raw (H, W) values of the ground truth and the
    prediction, for work that needs the pixels in the same read (e.g. :mod:`segviz.confidence`)."""
    gt, pred = read_pair(pair, table)
    if gt.unknown_colours:
        raise SegvizError(f"{pair.gt_path}: {_colour_list(gt.unknown_colours)} not in the class table")
    notes = []
    if pred.unknown_colours:
        notes.append(
            f"{pair.pred_path}: {_colour_list(pred.unknown_colours)} not in the class table "
            "(counted as invalid predictions)"
        )
    if pair.image_path is not None:
        size = image_size(pair.image_path)
        if size is None:
            notes.append(f"{pair.image_path}: photo unreadable (shown without one)")
        elif size != (gt.values.shape[1], gt.values.shape[0]):
            notes.append(
                f"{pair.image_path}: photo size {size[0]}x{size[1]} differs from its masks "
                f"({_wh(gt.values.shape)})"
            )
    g, p, c = joint_counts(gt.values, pred.values)
    counted = PairCounts(pair, g, p, c, gt.values.shape, tuple(notes), gt.colour_coded or pred.colour_coded)
    return counted, gt.values, pred.values


def count_pairs(
    pairs: Sequence[Pair],
    table: ClassTable | None = None,
    *,
    workers: int = 2,
    progress: Progress | None = None,
    store: ResultsStore | None = None,
    dask_address: str | None = None,
) -> tuple[list[PairCounts], list[Problem]]:
    """Count every pair; returns the results in input order and the pairs that could not be read,
    with the reason.

    Pairs whose files are unchanged since they were last counted come from ``store``; the others are
    read in ``workers`` threads (decoders and the counting kernel release the GIL) or, with
    ``dask_address``, on a Dask cluster. New results are written back to the store.
    (:func:`count` gives the same results as columns, with no object per pair.)
    """
    counted, bad = _count_columns(
        pairs, table, workers=workers, progress=progress, store=store, dask_address=dask_address
    )
    return list(counted), bad


def _count_columns(
    pairs: Sequence[Pair],
    table: ClassTable | None,
    *,
    workers: int,
    progress: Progress | None,
    store: ResultsStore | None,
    dask_address: str | None,
    keys: Sequence[str] | None = None,
) -> tuple[CountColumns, list[Problem]]:
    """:func:`count_pairs` as :class:`CountColumns`: the stored pairs are gathered from the store's
    arrays (no :class:`PairCounts` per pair), only the others are read."""
    columns = PairList.of(pairs)
    n = len(columns)
    if store is not None:
        # (taken before counting: a file changed meanwhile is counted again next time)
        texts = list(keys) if keys is not None else key_texts(columns)
        if len(texts) != n:
            raise ValueError(f"keys: {len(texts)} keys for {n} pairs")
        found = store.load_columns(columns, table, texts=texts)
        todo = np.flatnonzero(found.part < 0)
        store.stats.hits, store.stats.misses = n - len(todo), len(todo)
    else:
        texts, found, todo = None, None, np.arange(n)
    offset = n - len(todo)
    if progress is not None and offset:
        progress(offset, n)
    if len(todo) >= 32:
        kernels.warm_up()

    def report(i: int) -> None:
        if progress is not None:
            progress(offset + i, n)

    runner = _count_on_dask if dask_address else _count_in_threads
    todo_pairs = [columns[i] for i in todo.tolist()]
    results = runner(todo_pairs, table, workers=workers, report=report, address=dask_address)
    bad: list[Problem] = []
    new: dict[int, PairCounts] = {}
    for i, result in zip(todo.tolist(), results, strict=True):
        if isinstance(result, Problem):
            bad.append(result)
        else:
            new[i] = result
    counted = _assemble(columns, found, new)
    if store is not None and (len(todo) or store.stats.rebuilt):
        ok = _ok_indices(found, new, n)
        fresh = np.flatnonzero(np.isin(ok, list(new)))  # (the entries counted now)
        store.save_columns(columns, counted, [texts[i] for i in ok.tolist()], table, new=fresh)
    return counted, bad


def _ok_indices(found, new: dict[int, PairCounts], n: int) -> np.ndarray:
    """The pairs counted (stored or read now), in order."""
    ok = np.zeros(n, dtype=bool)
    if found is not None:
        ok[found.part >= 0] = True
    ok[list(new)] = True
    return np.flatnonzero(ok)


def _assemble(columns: PairList, found, new: dict[int, PairCounts]) -> CountColumns:
    """One :class:`CountColumns` of the pairs found in the store (``found``) and those counted now
    (``new``: {pair index: PairCounts}), in the pairs' order; the stored arrays are used as they
    are when the store holds exactly these pairs in this order."""
    n = len(columns)
    ok = _ok_indices(found, new, n)
    pairs = columns if len(ok) == n else columns.take(ok.tolist())
    parts = found.parts if found is not None else []
    part = found.part[ok] if found is not None else np.full(len(ok), -1, dtype=np.int64)
    index = found.index[ok] if found is not None else part
    if (
        len(parts) == 1
        and len(ok) == n
        and not new
        and len(ok) == len(parts[0].h)
        and bool((index == np.arange(len(ok))).all())
    ):
        s = parts[0]
        offsets = np.concatenate([[0], np.cumsum(s.rows)]).astype(np.int64)
        warnings = [()] * len(ok)
        for w, notes in found.warnings.items():
            warnings[w] = notes
        shapes = np.stack([s.h, s.w], axis=1).astype(np.int64, copy=False)
        return CountColumns(
            pairs, s.gt, s.pred, s.count, offsets, shapes, warnings, s.colour_coded.astype(bool)
        )
    m = len(ok)
    sizes = np.zeros(m, dtype=np.int64)
    pool_start = np.zeros(m, dtype=np.int64)
    shapes = np.zeros((m, 2), dtype=np.int64)
    colour = np.zeros(m, dtype=bool)
    warnings: list[tuple] = [()] * m
    base = 0
    pools: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for q, s in enumerate(parts):
        mine = np.flatnonzero(part == q)
        j = index[mine]
        sizes[mine] = s.rows[j]
        pool_start[mine] = base + s.start[j]
        shapes[mine, 0], shapes[mine, 1] = s.h[j], s.w[j]
        colour[mine] = s.colour_coded[j]
        pools.append((s.gt, s.pred, s.count))
        base += len(s.count)
    position = np.full(n, -1, dtype=np.int64)
    position[ok] = np.arange(m)
    for w, notes in found.warnings.items() if found is not None else ():
        warnings[position[w]] = notes
    for i, pc in new.items():
        k = int(position[i])
        sizes[k] = len(pc.counts)
        pool_start[k] = base
        shapes[k] = pc.shape
        colour[k] = pc.colour_coded
        warnings[k] = tuple(pc.warnings)
        pools.append((pc.gt_values, pc.pred_values, pc.counts))
        base += len(pc.counts)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    columns_out = [_gather_runs([p[f] for p in pools], pool_start, sizes) for f in range(3)]
    return CountColumns(pairs, *columns_out, offsets, shapes, warnings, colour)


def _gather_runs(arrays: list[np.ndarray], pool_start: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Rows ``pool_start[i] : pool_start[i] + sizes[i]`` of ``arrays`` laid end to end (the pool),
    for every i, concatenated: copied as slices of the runs that are contiguous in the pool (a store
    with one changed pair: three slices, not an index per row), in the stored type when every
    array's values fit it (16-bit values stay 16-bit).

    Example:
        >>> _gather_runs([np.array([1, 2, 3]), np.array([7, 8])], np.array([3, 0, 1]), np.array([2, 1, 2])).tolist()
        [7, 8, 1, 2, 3]
    """
    if not len(sizes):
        return np.zeros(0, dtype=arrays[0].dtype if arrays else np.int64)
    dtype = np.result_type(*arrays)
    small = [a.dtype for a in arrays if a.dtype != np.int64]
    if dtype == np.int64 and small:  # (counted now as int64, stored as uint16: kept uint16 if they fit)
        narrow = np.result_type(*small)
        top = np.iinfo(narrow).max
        if all(
            a.dtype != np.int64 or not len(a) or (int(a.min()) >= 0 and int(a.max()) <= top) for a in arrays
        ):
            dtype = narrow
    bases = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
    breaks = np.flatnonzero(pool_start[1:] != pool_start[:-1] + sizes[:-1]) + 1
    pieces = []
    for a, b in zip(
        np.concatenate([[0], breaks]).tolist(), np.concatenate([breaks, [len(sizes)]]).tolist(), strict=True
    ):
        lo, hi = int(pool_start[a]), int(pool_start[b - 1] + sizes[b - 1])
        q = int(np.searchsorted(bases, lo, side="right")) - 1
        while lo < hi:  # (a run may cross from one array of the pool into the next)
            end = min(hi, int(bases[q + 1]))
            pieces.append(arrays[q][lo - bases[q] : end - bases[q]])
            lo, q = end, q + 1
    return np.concatenate(pieces).astype(dtype, copy=False) if len(pieces) > 1 else pieces[0].astype(dtype)


def _count_one(pair: Pair, table: ClassTable | None) -> PairCounts | Problem:
    """count_pair that turns any failure into a Problem (a bad file must never stop the dataset)."""
    try:
        return count_pair(pair, table)
    except SegvizError as exc:
        return Problem(pair.name, str(exc))
    except Exception as exc:
        return Problem(pair.name, f"{pair.gt_path} / {pair.pred_path}: {type(exc).__name__}: {exc}")


def _count_in_threads(todo, table, *, workers, report, address=None) -> list[PairCounts | Problem]:
    # Several pairs per task: each task costs a future, queue hand-offs and wake-ups of the main
    # thread, all under the GIL — 5-10 % of a small (0.2 Mpx) pair. Up to 32 pairs per task, with
    # at least 16 tasks per worker so the last ones finish together.
    size = max(1, min(32, len(todo) // (max(1, workers) * 16)))
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    out: list[PairCounts | Problem] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for batch in pool.map(lambda ps: [_count_one(p, table) for p in ps], chunks):
            out.extend(batch)
            report(len(out))
    return out


def _count_on_dask(todo, table, *, workers, report, address) -> list[PairCounts | Problem]:
    """Run the per-pair work on an existing Dask cluster (dask.distributed)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SegvizError("--dask needs dask.distributed: pip install 'dask[distributed]'") from None
    if not todo:
        return []
    with Client(address) as client:
        futures = client.map(_count_one, todo, table=table, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list = [None] * len(todo)
        for n, future in enumerate(as_completed(futures), start=1):
            out[index[future.key]] = future.result()
            report(n)
    return out


@dataclass
class Evaluation:
    """Results of evaluating a dataset against one class table.

    Attributes:
        table: the class table used (K classes).
        names: names of the evaluated images, in order.
        confusion: int64 (K, K+1) dataset confusion matrix; last column = invalid predictions.
        image_rows: sparse per-image matrices: int64 (N, 4) rows of (image, gt, pred, count), with
            pred == K for invalid predictions.
        ignored_per_image: int64 (N,) ignored ground-truth pixels per image.
        skipped: samples not evaluated, with the reason.
        warnings: problems that did not stop evaluation.
    """

    table: ClassTable
    names: list[str]
    pairs: list[Pair]
    confusion: np.ndarray
    image_rows: np.ndarray
    ignored_per_image: np.ndarray
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: per-image aggregates computed once (see :meth:`image_count_matrix`); image_rows is not
    #: changed after construction
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ totals
    @property
    def num_images(self) -> int:
        return len(self.names)

    @property
    def ignored_pixels(self) -> int:
        return int(self.ignored_per_image.sum())

    @property
    def invalid_pred_pixels(self) -> int:
        return int(self.confusion[:, -1].sum())

    def summary(self) -> dict[str, float | int]:
        """Summary metrics (NaN = undefined) and totals."""
        out = dict(metrics.summary_metrics(self.confusion))
        out.update(
            num_images=self.num_images,
            ignored_pixels=self.ignored_pixels,
            invalid_pred_pixels=self.invalid_pred_pixels,
            evaluated_pixels=int(self.confusion.sum()),
        )
        return out

    def class_frame(self) -> pd.DataFrame:
        """Per-class table: id, name, iou, accuracy, precision, dice, gt/pred/invalid pixels."""
        import pandas as pd

        per = metrics.class_metrics(self.confusion)
        return pd.DataFrame(
            {
                "id": self.table.ids,
                "name": list(self.table.names),
                **{m: per[m] for m in metrics.CLASS_METRICS},
                "gt_pixels": per["gt_pixels"],
                "pred_pixels": per["pred_pixels"],
                "invalid_pred_pixels": self.confusion[:, -1],
            }
        )

    # ------------------------------------------------------------------ per image
    def image_confusions(self) -> np.ndarray:
        """Dense per-image matrices (N, K, K+1); fine for small datasets, prefer the sparse rows."""
        k = self.table.num_classes
        dense = np.zeros((self.num_images, k, k + 1), dtype=np.int64)
        r = self.image_rows
        dense[r[:, 0], r[:, 1], r[:, 2]] = r[:, 3]
        return dense

    def image_confusion(self, index: int) -> np.ndarray:
        """One image's (K, K+1) matrix."""
        k = self.table.num_classes
        out = np.zeros((k, k + 1), dtype=np.int64)
        rows = self.image_rows[self.image_rows[:, 0] == index]
        out[rows[:, 1], rows[:, 2]] = rows[:, 3]
        return out

    def image_count_matrix(self):
        """Per-image aggregates, computed once per evaluation: a ``scipy.sparse.csr_matrix`` of shape
        (N, 3K), int64, columns ``[TP | GT | PRED]`` per class (PRED counts valid predictions only).
        A subset, a bootstrap or the per-image table reads these instead of re-aggregating the
        sparse (image, gt, pred, count) rows; about 3 x 12 bytes per class present in an image.

        Example:
            >>> from segviz.stats import _example_evaluation
            >>> _example_evaluation().image_count_matrix().toarray().tolist()
            [[30, 15, 35, 15, 30, 20], [20, 16, 20, 30, 30, 16]]
        """
        if "matrix" not in self._cache:
            self._cache["matrix"] = _count_matrix(self.image_rows, self.num_images, self.table.num_classes)
        return self._cache["matrix"]

    def image_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(TP, GT, PRED) per image and class, three dense int64 (N, K) arrays (each its own: keeping
        one does not keep the others); for large N prefer the sparse :meth:`image_count_matrix`."""
        k = self.table.num_classes
        m = self.image_count_matrix()
        # three arrays, not views of one (N, 3K): a caller that keeps GT only keeps N x K
        return tuple(m[:, j * k : (j + 1) * k].toarray() for j in range(3))  # type: ignore[return-value]

    def image_frame(self, *, per_class: bool = True) -> pd.DataFrame:
        """Per-image table: name, pixel_accuracy, mean_iou, ignored_pixels, invalid_pred_pixels, then
        (``per_class=True``, the default) one ``iou:<class>`` column per class, each computed from
        that image's own confusion matrix. ``per_class=False`` leaves the N x K IoU columns out (the
        other columns are the same numbers): what a ranking or a list of images needs.

        Example:
            >>> from segviz.stats import _example_evaluation
            >>> _example_evaluation().image_frame(per_class=False).columns.tolist()
            ['name', 'pixel_accuracy', 'mean_iou', 'ignored_pixels', 'invalid_pred_pixels']
        """
        import pandas as pd

        pa, miou, iou = self._image_metrics(per_class=per_class)
        frame = pd.DataFrame(
            {
                "name": self.names,
                "pixel_accuracy": pa,
                "mean_iou": miou,
                "ignored_pixels": self.ignored_per_image,
                "invalid_pred_pixels": self._invalid_per_image(),
            }
        )
        if iou is None:
            return frame
        # the (N, K) IoUs become the frame's one float block as they are (no copy, no concat: a
        # copy of N x K floats is 120 MB at 100,000 images), the five columns inserted before them
        out = pd.DataFrame(iou, columns=[f"iou:{n}" for n in self.table.names], copy=False)
        for position, column in enumerate(frame.columns):
            out.insert(position, column, frame[column].to_numpy())
        return out

    def _invalid_per_image(self) -> np.ndarray:
        """Invalid predicted pixels per image, int64 (N,), from the rows with pred == K only."""
        invalid = self.image_rows[self.image_rows[:, 2] == self.table.num_classes]
        return np.rint(np.bincount(invalid[:, 0], weights=invalid[:, 3], minlength=self.num_images)).astype(
            np.int64
        )

    def _image_metrics(self, *, per_class: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Per image: pixel accuracy (N,), mIoU (N,) and per-class IoU (N, K) (None unless
        ``per_class``), float64, NaN = undefined, from the sparse aggregates (O(entries), no Python
        loop over images). The IoUs are built a block of images at a time (each image's mIoU is a
        sum over its own row, the same floats whatever the block), so without ``per_class`` memory
        stays ~ one block, never N x K."""
        n, k = self.num_images, self.table.num_classes
        m = self.image_count_matrix()
        # (row sums of the TP and GT blocks: exact integers, the same floats as a float sum)
        tp_sum = np.asarray(m[:, :k].sum(axis=1), dtype=np.float64).ravel()
        gt_sum = np.asarray(m[:, k : 2 * k].sum(axis=1), dtype=np.float64).ravel()
        miou = np.empty(n)
        iou = np.empty((n, k)) if per_class else None
        step = max(1, _BLOCK_CELLS // max(k, 1))
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            block = _sparse_iou(m[lo:hi], hi - lo, k)
            miou[lo:hi] = metrics.mean_defined(block)[0]
            if iou is not None:
                iou[lo:hi] = block
        return metrics.divide(tp_sum, gt_sum), miou, iou

    def images_for_cell(self, gt_index: int, pred_index: int) -> pd.DataFrame:
        """Images where ground-truth class ``gt_index`` was predicted as ``pred_index`` (K = invalid),
        ranked by pixel count: columns image (index), name, pixels, share_of_gt (of that image's
        pixels of the GT class)."""
        import pandas as pd

        r = self.image_rows
        hit = r[(r[:, 1] == gt_index) & (r[:, 2] == pred_index)]
        hit = hit[np.argsort(-hit[:, 3], kind="stable")]
        gt = self.image_count_matrix()[hit[:, 0], self.table.num_classes + gt_index].toarray().ravel()
        names = np.asarray(self.names, dtype=object)
        return pd.DataFrame(
            {
                "image": hit[:, 0],
                "name": names[hit[:, 0]].tolist(),
                "pixels": hit[:, 3],
                "share_of_gt": hit[:, 3] / gt,
            }
        )

    def subset(self, indices: Iterable[int]) -> Evaluation:
        """The evaluation restricted to some images, in the order given (re-aggregated from the
        sparse rows; every image in its order shares the arrays and aggregates instead)."""
        if isinstance(indices, np.ndarray) and indices.dtype.kind in "iu":
            idx = indices.astype(np.int64).ravel()
        else:
            idx = np.asarray([int(i) for i in indices], dtype=np.int64)
        if len(np.unique(idx)) != len(idx):
            raise ValueError("subset: indices must be unique")
        if len(idx) == self.num_images and bool((idx == np.arange(len(idx))).all()):
            return self._same_images()
        remap = np.full(self.num_images, -1, dtype=np.int64)
        remap[idx] = np.arange(len(idx))
        rows = self.image_rows[remap[self.image_rows[:, 0]] >= 0]
        rows[:, 0] = remap[rows[:, 0]]
        out = Evaluation(
            table=self.table,
            names=[self.names[i] for i in idx.tolist()],
            pairs=_take_pairs(self.pairs, idx.tolist()),
            confusion=_dense(rows, self.table.num_classes),
            image_rows=rows,
            ignored_per_image=self.ignored_per_image[idx],
            skipped=list(self.skipped),
            warnings=list(self.warnings),
        )
        if "matrix" in self._cache:
            out._cache["matrix"] = self._cache["matrix"][idx]
        return out

    def _same_images(self) -> Evaluation:
        """:meth:`subset` of every image in order: a new evaluation sharing the (read-only) arrays
        and the computed aggregates, nothing re-aggregated (a :class:`PairList` is shared too: it is
        read-only, and listing it would build a ``Pair`` and two ``Path`` per image: 1-2 s at
        100,000 images)."""
        out = Evaluation(
            table=self.table,
            names=list(self.names),
            pairs=self.pairs if isinstance(self.pairs, PairList) else list(self.pairs),
            confusion=self.confusion,
            image_rows=self.image_rows,
            ignored_per_image=self.ignored_per_image,
            skipped=list(self.skipped),
            warnings=list(self.warnings),
        )
        out._cache.update(self._cache)
        return out

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict:
        """The JSON contract of ``segviz evaluate --json`` (undefined values as None)."""
        s = self.summary()
        classes = self.class_frame()
        pa, miou, _ = self._image_metrics(per_class=False)  # (two columns of the per-image table)
        return {
            "num_images": self.num_images,
            **{m: _clean(s[m]) for m in metrics.SUMMARY_METRICS},
            "mean_pixel_accuracy_classes": s["mean_pixel_accuracy_classes"],
            "mean_iou_classes": s["mean_iou_classes"],
            "mean_dice_classes": s["mean_dice_classes"],
            "evaluated_pixels": s["evaluated_pixels"],
            "ignored_pixels": self.ignored_pixels,
            "invalid_pred_pixels": self.invalid_pred_pixels,
            "ignore_ids": list(self.table.ignore_ids),
            "class_table": self.table.origin,
            "classes": [
                {
                    "id": int(row.id),
                    "name": row.name,
                    **{m: _clean(getattr(row, m)) for m in metrics.CLASS_METRICS},
                    "gt_pixels": int(row.gt_pixels),
                    "pred_pixels": int(row.pred_pixels),
                    "invalid_pred_pixels": int(row.invalid_pred_pixels),
                }
                for row in classes.itertuples(index=False)
            ],
            "confusion_matrix": self.confusion[:, :-1].tolist(),
            "images": [
                {"name": name, "pixel_accuracy": _clean(a), "mean_iou": _clean(b)}
                for name, a, b in zip(self.names, pa.tolist(), miou.tolist(), strict=True)
            ],
            "skipped": [{"name": p.name, "reason": p.reason} for p in self.skipped],
            "warnings": [{"name": p.name, "message": p.reason} for p in self.warnings],
        }


def _take_pairs(pairs: Sequence[Pair], index: list[int]) -> Sequence[Pair]:
    """The pairs at ``index``: a :class:`PairList` stays one (columns, no ``Pair`` per image)."""
    return pairs.take(index) if isinstance(pairs, PairList) else [pairs[i] for i in index]


def fold(
    counted: Counted | Sequence[PairCounts],
    table: ClassTable,
    *,
    skipped: Iterable[Problem] = (),
    warnings: Iterable[Problem] = (),
) -> Evaluation:
    """Turn raw joint histograms into class-indexed confusion matrices through ``table``.

    ``counted``: :func:`count`'s result (its unreadable pairs are added to ``skipped``), or the
    counts of :func:`count_pairs`. ``skipped`` and ``warnings`` (e.g. the dataset's) come first in
    the evaluation's lists. A pair whose ground truth holds values outside the table is skipped
    (named, with the values); a predicted value that is not a class id counts as an invalid
    prediction of its GT class.
    """
    if isinstance(counted, Counted):
        skipped, counted = [*skipped, *counted.unreadable], counted.counts
    skipped, warnings = list(skipped), list(warnings)
    cols = CountColumns.of(counted)  # (all pairs at once: one lookup per encoding, no loop over images)
    pairs = PairList.of(cols.pairs)
    k = table.num_classes
    for i in np.flatnonzero([bool(w) for w in cols.warnings]).tolist():
        warnings.extend(Problem(pairs.names[i], w) for w in cols.warnings[i])
    folded = _fold_kernel(cols, pairs, table)
    if folded is None:
        folded = _fold_numpy(cols, pairs, table)
    confusion, rows, ignored, bad, invalid_warnings = folded
    for i in np.flatnonzero(bad).tolist():
        pc = cols[i]
        unknown = table.gt_indices(pc.gt_values, encoding=pc.pair.gt_encoding) == k + 1
        skipped.append(Problem(pc.pair.name, _unknown_gt_message(pc, unknown, table)))
    warnings.extend(invalid_warnings)
    any_bad = bool(bad.any())
    kept = pairs.take(np.flatnonzero(~bad).tolist()) if any_bad else pairs
    return Evaluation(
        table=table,
        names=list(kept.names),
        pairs=kept,
        confusion=confusion,
        image_rows=rows,
        ignored_per_image=ignored[~bad] if any_bad else ignored,
        skipped=skipped,
        warnings=warnings,
    )


#: (confusion (K, K+1) int64, image_rows (R, 4) int64, ignored pixels of every pair (N,) int64,
#: bad (N,) bool: pairs skipped for gt values not in the table, warnings of invalid predictions)
_Folded = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Problem]]


def _fold_numpy(cols: CountColumns, pairs: PairList, table: ClassTable) -> _Folded:
    """:func:`fold`'s arrays with numpy (the reference of :func:`_fold_kernel`)."""
    n, k = len(cols), table.num_classes
    warnings: list[Problem] = []
    # Arrays as narrow as their values (image numbers int32, class indices int16): at 100,000
    # images the rows are millions, and fresh memory costs time too (issue #17).
    img = np.repeat(np.arange(n, dtype=np.int32 if n < 1 << 31 else np.int64), np.diff(cols.offsets))
    g, p, c = cols.gt_values, cols.pred_values, cols.counts
    # Lookups valid for any raw value (a value of 3e8 costs what 3 costs), see _lookup.
    gi = _lookup(g, img, pairs.gt_encoding, table.gt_indices, k + 1)
    unknown_gt = gi == k + 1
    bad = np.zeros(n, dtype=bool)
    if unknown_gt.any():
        bad[img[unknown_gt]] = True
    del unknown_gt
    any_bad = bool(bad.any())
    is_ignored = gi == k
    ignored = np.bincount(img[is_ignored], weights=c[is_ignored], minlength=n)
    valid = ~is_ignored
    del is_ignored
    if any_bad:
        valid &= ~bad[img]
    pi = _lookup(p, img, pairs.pred_encoding, table.pred_indices, k)
    # (colours not in the table were already reported with the colours, by count_pair; in any other
    # mask 65535 is a value like any other)
    invalid = valid & (pi == k)
    if invalid.any():
        if cols.colour_coded.any():
            invalid &= ~(cols.colour_coded[img] & (p == UNKNOWN_COLOUR))
        warnings.extend(_invalid_prediction_warnings(cols, img, p, c, invalid))
    del invalid
    image = img[valid] if not any_bad else (np.cumsum(~bad) - 1).astype(img.dtype)[img[valid]]
    del img
    gi, pi, c = gi[valid], pi[valid], c[valid]
    del valid
    confusion = _confusion(gi, pi, c, k)
    rows = _merge(image, gi, pi, c, k)
    return confusion, rows, np.rint(ignored).astype(np.int64), bad, warnings


def _fold_kernel(cols: CountColumns, pairs: PairList, table: ClassTable) -> _Folded | None:
    """:func:`_fold_numpy`'s results from the C kernel's ``fold_rows`` (one pass over the stored
    rows, per image: no array per row but the (R, 4) result, which it writes once), or None where
    it does not apply: no kernel, several encodings on a side, raw values that are not integers
    in ``0..LUT_VALUES-1``, a table of 2**28 classes or more. The lookup tables are the class table's
    own functions applied to ``0..max`` (as in :func:`_indices`): the same class indices."""
    fold_rows = getattr(kernels.c_extension(), "fold_rows", None)
    n, k = len(cols), table.num_classes
    g, p, c = cols.gt_values, cols.pred_values, cols.counts
    if fold_rows is None or not 0 < k < 1 << 28 or len(set(pairs.gt_encoding)) > 1:
        return None
    if len(set(pairs.pred_encoding)) > 1:
        return None
    if any(
        a.dtype.kind not in "iu" or a.dtype.itemsize not in (1, 2, 4, 8) or not a.dtype.isnative
        for a in (g, p, c)
    ):
        return None  # (the kernel reads native unsigned integers)
    limits = [(int(a.min()), int(a.max())) if len(a) else (0, 0) for a in (g, p, c)]
    if any(low < 0 for low, _ in limits) or limits[0][1] >= LUT_VALUES or limits[1][1] >= LUT_VALUES:
        return None
    gt_encoding = pairs.gt_encoding[0] if n else "ids"
    pred_encoding = pairs.pred_encoding[0] if n else "ids"
    lut_g = _value_lut(table.gt_indices, limits[0][1], gt_encoding)
    lut_p = _value_lut(table.pred_indices, limits[1][1], pred_encoding)
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    ignored = np.empty(n, dtype=np.int64)
    flags = np.empty(n, dtype=np.uint8)
    rows = _written_once((len(c), 4), np.int64)
    colour = np.ascontiguousarray(cols.colour_coded, dtype=np.uint8)
    offsets = np.ascontiguousarray(cols.offsets, dtype=np.int64)
    contiguous = [np.ascontiguousarray(a) for a in (g, p, c)]
    try:
        size = fold_rows(
            offsets, *contiguous, lut_g, lut_p, k, colour, UNKNOWN_COLOUR, confusion, ignored, flags, rows
        )
    except ValueError:  # (arrays the kernel does not take: the numpy code gives what it gives)
        return None
    if size < len(rows):
        rows.resize((size, 4), refcheck=False)  # (in place: a shorter array, no copy)
    flagged = np.flatnonzero(flags == 2)
    warnings: list[Problem] = []
    if len(flagged):  # the invalid predictions' warnings, from the rows of those images only
        lo, hi = cols.offsets[flagged], cols.offsets[flagged + 1]
        img = np.repeat(flagged, hi - lo)
        at = np.arange(len(img)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo) + np.repeat(lo, hi - lo)
        raw, counts = p[at], c[at]
        invalid = (
            (lut_g[g[at]] != k) & (lut_p[raw] == k) & ~(cols.colour_coded[img] & (raw == UNKNOWN_COLOUR))
        )
        warnings = _invalid_prediction_warnings(cols, img, raw, counts, invalid)
    return confusion, rows, ignored, flags == 1, warnings


_madvise_lock = threading.Lock()


def _written_once(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` in small pages, for a large result a kernel writes once, in order.
    numpy asks Linux for transparent huge pages on large arrays (madvise); where the kernel then
    compacts memory to find them (``defrag`` = madvise), the first write into 211 MB of rows costs
    0.01-0.5 s of system time, against a steady 0.05-0.1 s in 4 KB pages (issue #17, measured at
    100,000 images). numpy's switch is process-wide: held off under a lock for this allocation only."""
    switch = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if switch is None:
        return np.empty(shape, dtype=dtype)
    with _madvise_lock:
        before = switch(False)
        try:
            return np.empty(shape, dtype=dtype)
        finally:
            switch(before)


def _value_lut(indices, high: int, encoding: str, dtype=np.int32) -> np.ndarray:
    """The class index of every raw value ``0..high`` (``indices``: the table's lookup), ``dtype``:
    the table :func:`_indices` gathers from and the C kernel folds through."""
    return np.asarray(indices(np.arange(high + 1, dtype=np.int64), encoding=encoding)).astype(dtype)


#: Cells of one block of images: images x 3K of :func:`_count_matrix` (16 MB of float64 sums),
#: images x K of the per-image IoUs (:meth:`Evaluation._image_metrics`).
_BLOCK_CELLS = 1 << 21


def _count_matrix(rows: np.ndarray, n: int, k: int):
    """The (N, 3K) ``[TP | GT | PRED]`` CSR matrix of per-image aggregates of the sparse rows
    (image, gt, pred, count), int64, canonical (sorted column indices, no duplicates, no stored
    zero).

    A block of images at a time: each row is added to its flat (image, column) cell of a dense
    block with ``np.bincount`` (no sort of the rows; exact: integer sums far below 2**53), and the
    block's stored cells are taken in (image, column) order. Memory ~ :data:`_BLOCK_CELLS` cells.
    """
    import scipy.sparse as sp

    width = 3 * k
    img = rows[:, 0]
    if len(img) > 1 and not bool((img[1:] >= img[:-1]).all()):  # (a subset in another order)
        rows = rows[np.argsort(img, kind="stable")]
        img = rows[:, 0]
    # (scipy's own choice of index type: int32 while the cells and columns fit; no later copy)
    index_dtype = np.int32 if max(len(rows) * 3, width) < 2**31 else np.int64
    arrays = _count_matrix_kernel(rows, n, k, index_dtype)
    if arrays is not None:
        return sp.csr_matrix(arrays, shape=(n, width))
    g, p, c = rows[:, 1], rows[:, 2], rows[:, 3]
    step = max(1, _BLOCK_CELLS // max(width, 1))
    bounds = np.searchsorted(img, np.arange(0, n + step, step).clip(max=n))
    indices, data, per_image = [], [], np.zeros(n, dtype=np.int64)
    for block, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        first = block * step
        size = min(step, n - first)
        local = (img[lo:hi] - first) * width
        gb, pb, cb = g[lo:hi], p[lo:hi], c[lo:hi]
        diag, valid = gb == pb, pb < k
        cells = np.concatenate([local[diag] + gb[diag], local + k + gb, local[valid] + 2 * k + pb[valid]])
        values = np.concatenate([cb[diag], cb, cb[valid]])
        sums = np.bincount(cells, weights=values, minlength=size * width)
        stored = np.flatnonzero(sums)
        sums = sums[stored]
        image, column = np.divmod(stored, width)
        indices.append(column.astype(index_dtype))
        data.append(np.rint(sums).astype(np.int64))
        per_image[first : first + size] = np.bincount(image, minlength=size)
    indptr = np.concatenate([[0], np.cumsum(per_image)]).astype(index_dtype)
    indices = np.concatenate(indices) if indices else np.zeros(0, dtype=index_dtype)
    data = np.concatenate(data) if data else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((data, indices, indptr), shape=(n, width))


def _count_matrix_kernel(rows: np.ndarray, n: int, k: int, index_dtype) -> tuple | None:
    """:func:`_count_matrix`'s (data, indices, indptr) from the C kernel's ``image_matrix`` (one
    pass over the rows, no array per row; written into room for 3 entries per row, of which the
    pages never written are never touched, then trimmed in place), or None without the kernel or
    where the rows are not what it takes (``rows`` sorted by image)."""
    image_matrix = getattr(kernels.c_extension(), "image_matrix", None)
    if image_matrix is None or k < 1 or rows.dtype != np.int64 or rows.ndim != 2 or rows.shape[1] != 4:
        return None
    rows = np.ascontiguousarray(rows)
    indptr = np.empty(n + 1, dtype=np.int64)
    indices, data = _written_once(3 * len(rows), index_dtype), _written_once(3 * len(rows), np.int64)
    try:
        nnz = image_matrix(rows, n, k, indptr, indices, data)
    except ValueError:  # (rows out of range: the numpy code gives what it gives)
        return None
    indices.resize(nnz, refcheck=False)  # (in place: realloc shrinks, never copies)
    data.resize(nnz, refcheck=False)
    return data, indices, indptr.astype(index_dtype, copy=False)


def _sparse_iou(m, n: int, k: int) -> np.ndarray:
    """Per-image, per-class IoU (N, K) float64 (NaN where the union is empty) from the (N, 3K)
    aggregates, touching only the classes present in each image: TP, GT and PRED gathered at the
    present (image, class) cells, then the one IoU expression (the same floats as the dense path)."""
    out = np.full((n, k), np.nan)
    blocks = [m[:, j * k : (j + 1) * k].tocsr() for j in range(3)]  # TP, GT, PRED
    present = (blocks[1] + blocks[2]).tocsr()  # GT + PRED > 0: the union is not empty
    present.sum_duplicates()

    def flat(b) -> np.ndarray:  # ascending flat (image, class) positions of a canonical CSR
        return np.repeat(np.arange(n), np.diff(b.indptr)) * k + b.indices

    at = flat(present)
    tp, gt, pred = (np.zeros(len(at)) for _ in range(3))
    for values, b in zip((tp, gt, pred), blocks, strict=True):
        b.sum_duplicates()
        values[np.searchsorted(at, flat(b))] = b.data  # (each block's cells are among ``at``)
    out.ravel()[at] = metrics.iou(tp, gt, pred)  # the one IoU formula, on the stored cells only
    return out


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    # (copy=False: concatenate made the one copy needed; int64 arrays are not copied again)
    return np.concatenate(arrays).astype(np.int64, copy=False) if arrays else np.zeros(0, dtype=np.int64)


def _lookup(values: np.ndarray, img: np.ndarray, encodings: list[str], indices, largest: int) -> np.ndarray:
    """Class indices of raw values, each row looked up in the table with its pair's encoding
    (``indices``: :meth:`ClassTable.gt_indices` or :meth:`ClassTable.pred_indices`: sparse lookups,
    never a table indexed by any value). When every value is below :data:`LUT_VALUES`, the same
    function is applied once to ``0..max`` and the rows read from that table (a gather instead of
    a binary search per row: the same numbers). The result is int16 when ``largest`` (the largest
    index ``indices`` returns) fits, else int64."""
    dtype = np.int16 if largest < 1 << 15 else np.int64
    kinds = sorted(set(encodings))
    if len(kinds) == 1:  # (the usual case: one lookup, no per-row work)
        return _indices(values, kinds[0], indices, dtype)
    code = {e: i for i, e in enumerate(kinds)}
    per_row = np.fromiter((code[e] for e in encodings), np.int64, len(encodings))[img]
    out = np.empty(len(values), dtype=dtype)
    for i, encoding in enumerate(kinds):
        rows = per_row == i
        out[rows] = _indices(values[rows], encoding, indices, dtype)
    return out


#: Raw values up to this are looked up through a table of ``max + 1`` entries (see _lookup).
LUT_VALUES = 1 << 16


def _indices(values: np.ndarray, encoding: str, indices, dtype) -> np.ndarray:
    if len(values) > 1024 and values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < LUT_VALUES:
            return _value_lut(indices, high, encoding, dtype)[values]
    return np.asarray(indices(values, encoding=encoding)).astype(dtype)


def evaluate(
    dataset: Dataset,
    *,
    workers: int = 2,
    progress: Progress | None = None,
    generated_ignore: Iterable[int] = (),
    store: ResultsStore | None = None,
    dask_address: str | None = None,
    keys: Sequence[str] | None = None,
) -> Evaluation:
    """Evaluate every pair of ``dataset``: :func:`count`, :func:`choose_table`, :func:`fold`.

    With no class table, one is generated from the ids found in the masks (named ``class_<id>``),
    with ``generated_ignore`` as its ignore ids. ``store`` and ``dask_address``: see
    :func:`count_pairs`; ``keys``: see :func:`count`.
    """
    counted = count(
        dataset, workers=workers, progress=progress, store=store, dask_address=dask_address, keys=keys
    )
    table = choose_table(dataset, counted, generated_ignore=generated_ignore)
    return fold(counted, table, skipped=dataset.skipped, warnings=dataset.warnings)


def count(
    dataset: Dataset,
    *,
    workers: int = 2,
    progress: Progress | None = None,
    store: ResultsStore | None = None,
    dask_address: str | None = None,
    keys: Sequence[str] | None = None,
) -> Counted:
    """Step 1: count every pair of ``dataset`` (:func:`count_pairs` over its pairs and class table).

    The result depends on the mask files only (and on the table's colours for RGB masks): a caller
    may cache it on the files' identity and fold it through any class table.

    Args:
        dataset: the pairs to read; its class table decodes RGB masks (None: grey id masks).
        workers: reading threads. progress: called with (done, total). store: the results store
            (unchanged pairs are not read again). dask_address: count on that Dask cluster instead.
        keys: the store's keys of ``dataset.pairs`` (:func:`segviz.store.key_texts`) when the
            caller took them already, before counting (the dashboard's file check): not taken again.
    """
    counted, bad = _count_columns(
        dataset.pairs,
        dataset.table,
        workers=workers,
        progress=progress,
        store=store,
        dask_address=dask_address,
        keys=keys,
    )
    return Counted(counted, tuple(bad))


def choose_table(dataset: Dataset, counted: Counted, *, generated_ignore: Iterable[int] = ()) -> ClassTable:
    """Step 2: ``dataset``'s class table, or, when it has none, one generated from every value found
    in the counted masks (:func:`generated_table`, with ``generated_ignore`` as its ignore ids)."""
    if dataset.table is not None:
        return dataset.table
    return generated_table(counted.counts, ignore_ids=generated_ignore)


#: Most classes a table generated from the masks may have (a 2048×2049 matrix is 34 MB); more
#: distinct values usually means these are not label masks (depth maps, photos saved as masks).
MAX_GENERATED_CLASSES = 2048


def generated_table(counted: Sequence[PairCounts], *, ignore_ids: Iterable[int] = ()) -> ClassTable:
    """A class table for every value found in the masks (RGB masks need a real table).

    Raises :class:`ClassTableError` when the masks hold more than :data:`MAX_GENERATED_CLASSES`
    distinct values, naming the mask with the most of them.
    """
    found: set[int] = set()
    for pc in counted:
        found.update(pc.gt_values.tolist())
        found.update(pc.pred_values.tolist())
    found.discard(UNKNOWN_COLOUR)
    found -= set(ignore_ids)
    if len(found) > MAX_GENERATED_CLASSES:
        worst = max(counted, key=lambda pc: max(len(np.unique(pc.gt_values)), len(np.unique(pc.pred_values))))
        distinct = {
            "ground truth": len(np.unique(worst.gt_values)),
            "prediction": len(np.unique(worst.pred_values)),
        }
        side = max(distinct, key=distinct.get)
        path = worst.pair.gt_path if side == "ground truth" else worst.pair.pred_path
        raise ClassTableError(
            f"the masks hold {len(found):,} distinct values, more than {MAX_GENERATED_CLASSES:,} classes "
            f"without a class table (e.g. {path}: {distinct[side]:,} values); are these label masks? "
            "Give a class table (classes.csv or --classes)"
        )
    return ClassTable.generated(found, ignore_ids=ignore_ids)


# ---------------------------------------------------------------------- helpers
def _merge(image: np.ndarray, gi: np.ndarray, pi: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Sum counts that fold onto the same (image, gt, pred) cell; rows (image, gt, pred, count),
    int64 (R, 4), sorted by image, then gt, then pred."""
    if _sorted_distinct(image, gi, pi, k):
        # already sorted and distinct (the lookup kept the order of each pair's sorted raw values
        # and mapped no two of them onto one class): nothing to merge
        out = np.empty((len(image), 4), dtype=np.int64)
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = image, gi, pi, c
        return out
    key = image.astype(np.int64)  # (one int64 array, computed in place)
    key *= k + 1
    key += gi
    key *= k + 1
    key += pi
    uniq, inverse = np.unique(key, return_inverse=True)
    del key
    summed = np.rint(np.bincount(inverse, weights=c, minlength=len(uniq))).astype(np.int64)
    out = np.empty((len(uniq), 4), dtype=np.int64)
    out[:, 0], rest = np.divmod(uniq, (k + 1) * (k + 1))
    out[:, 1], out[:, 2] = np.divmod(rest, k + 1)
    out[:, 3] = summed
    return out


def _sorted_distinct(image: np.ndarray, gi: np.ndarray, pi: np.ndarray, k: int) -> bool:
    """Whether the (image, gt, pred) rows are strictly increasing; ``image`` never decreases (the
    rows are grouped by image in order), so within an image (gt, pred) as one int32 must increase.

    Example:
        >>> _sorted_distinct(np.array([0, 0, 1]), np.array([2, 3, 0]), np.array([1, 0, 0]), 4)
        True
        >>> _sorted_distinct(np.array([0, 0]), np.array([2, 2]), np.array([1, 1]), 4)
        False
    """
    if len(image) < 2:
        return True
    if (k + 1) * (k + 1) >= 1 << 31:
        key = (image.astype(np.int64) * (k + 1) + gi) * (k + 1) + pi
        return bool((key[1:] > key[:-1]).all())
    step = image[1:] != image[:-1]
    if (image[1:][step] < image[:-1][step]).any():  # (not grouped by image in order)
        return False
    cell = gi.astype(np.int32)
    cell *= k + 1
    cell += pi
    return bool(((cell[1:] > cell[:-1]) | step).all())


def _confusion(gi: np.ndarray, pi: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """The (K, K+1) int64 dataset matrix of rows (gt index, pred index, count) (one pass, no sort;
    float sums are exact below 2**53 pixels per cell)."""
    if k * (k + 1) > max(1 << 22, len(c)):  # (a huge table: only the cells that occur)
        rows = np.stack([np.zeros(len(c), np.int64), gi, pi, c], axis=1)
        return _dense(rows, k)
    cells = gi.astype(np.int32 if k * (k + 1) < 1 << 31 else np.int64)
    cells *= k + 1
    cells += pi
    out = np.bincount(cells, weights=c, minlength=k * (k + 1))
    return np.rint(out).astype(np.int64).reshape(k, k + 1)


def _dense(rows: np.ndarray, k: int) -> np.ndarray:
    """The (K, K+1) int64 matrix of the sparse rows, summed over images (one K×(K+1) allocation:
    200 MB at 5,000 classes, so no float copy of it)."""
    cells = rows[:, 1] * (k + 1) + rows[:, 2]
    if k * (k + 1) <= max(1 << 22, len(rows)):  # (no sort: one pass; 32 MB of floats at most)
        out = np.bincount(cells, weights=rows[:, 3], minlength=k * (k + 1))
        return np.rint(out).astype(np.int64).reshape(k, k + 1)
    cells, inverse = np.unique(cells, return_inverse=True)
    out = np.zeros(k * (k + 1), dtype=np.int64)
    out[cells] = np.rint(np.bincount(inverse, weights=rows[:, 3], minlength=len(cells))).astype(np.int64)
    return out.reshape(k, k + 1)


def _invalid_prediction_warnings(
    counted: CountColumns, img: np.ndarray, raw: np.ndarray, c: np.ndarray, invalid: np.ndarray
) -> list[Problem]:
    """One warning per prediction holding values that are not class ids (they count as wrong)."""
    out = []
    img, raw, c = img[invalid], raw[invalid], c[invalid]
    for i in np.unique(img):
        mine = img == i
        values, inverse = np.unique(raw[mine], return_inverse=True)
        per_value = np.bincount(inverse, weights=c[mine]).astype(np.int64)
        order = np.argsort(-per_value, kind="stable")
        shown = ", ".join(f"{int(values[j])}: {int(per_value[j]):,} px" for j in order[:5])
        more = f", and {len(values) - 5} more" if len(values) > 5 else ""
        pc = counted[int(i)]
        out.append(
            Problem(
                pc.pair.name,
                f"{pc.pair.pred_path}: values that are not class ids in {int(per_value.sum()):,} px "
                f"({shown}{more}); counted as wrong predictions of their ground-truth class",
            )
        )
    return out


def _unknown_gt_message(pc: PairCounts, unknown: np.ndarray, table: ClassTable) -> str:
    values: dict[int, int] = {}
    for v, c in zip(pc.gt_values[unknown], pc.counts[unknown], strict=True):
        values[int(v)] = values.get(int(v), 0) + int(c)
    listed = ", ".join(f"{v} ({n} px)" for v, n in sorted(values.items())[:10])
    more = f" and {len(values) - 10} more" if len(values) > 10 else ""
    hint = ""
    if pc.pair.gt_encoding == "ids" and table.source_ids is not None and max(values) <= max(table.source_ids):
        hint = " (Cityscapes labelIds? name the files *_gtFine_labelIds.png)"
    return (
        f"{pc.pair.gt_path}: ground-truth values {listed}{more} are not in the class table "
        f"({table.describe_ids()}){hint}"
    )


def _colour_list(colours: dict[tuple[int, int, int], int]) -> str:
    items = sorted(colours.items(), key=lambda kv: -kv[1])
    listed = ", ".join(f"rgb{c} ({n} px)" for c, n in items[:8])
    more = f" and {len(items) - 8} more" if len(items) > 8 else ""
    return f"colour{'s' if len(items) > 1 else ''} {listed}{more}"


def _wh(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def _clean(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
