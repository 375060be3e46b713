"""What counting produces: one pair's sparse joint histogram of raw mask values (:class:`PairCounts`),
the unit that is counted (:func:`segviz.evaluate.count`), stored (:mod:`segviz.store`) and folded
into confusion matrices (:func:`segviz.evaluate.fold`); and a dataset's counts (:class:`Counted`).

Plain data classes with no behaviour, in a module of their own so that the store and the evaluation
can both use them without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from segviz.dataset import Pair, Problem


@dataclass(frozen=True)
class PairCounts:
    """Sparse joint histogram of one pair's raw values, plus what was noticed while reading.

    Attributes:
        pair: the ground-truth / prediction files counted.
        gt_values, pred_values, counts: int64 (R,) each: raw value pairs that occur and how many
            pixels hold them, sorted by (gt value, pred value) (:func:`segviz.masks.joint_counts`).
        shape: (height, width) of the masks.
        warnings: problems that did not stop the count (e.g. prediction colours not in the table).
        colour_coded: whether a mask was RGB colour-coded (its values are then class indices).

    Example:
        >>> from pathlib import Path
        >>> pc = PairCounts(Pair("a", Path("gt/a.png"), Path("pred/a.png")),
        ...                 np.array([0, 1]), np.array([0, 1]), np.array([3, 1]), (2, 2))
        >>> int(pc.counts.sum()) == pc.shape[0] * pc.shape[1]
        True
    """

    pair: Pair
    gt_values: np.ndarray
    pred_values: np.ndarray
    counts: np.ndarray
    shape: tuple[int, int]
    warnings: tuple[str, ...] = ()
    colour_coded: bool = False


@dataclass(frozen=True)
class Counted:
    """Step 1 of an evaluation (:func:`segviz.evaluate.count`): every pair of a dataset counted.

    It depends on the mask files only (and, for RGB masks, on the table's colours), never on the
    class table's ids or ignore ids: cache it on the files' identity, and fold it again through
    another table in milliseconds (:func:`segviz.evaluate.fold`).

    Attributes:
        counts: the pairs read, in the dataset's order.
        unreadable: the pairs that could not be read, with the reason (skipped by ``fold``).

    Example:
        >>> Counted((), (Problem("a", "gt/a.png: not a PNG"),)).unreadable[0].name
        'a'
    """

    counts: Sequence[PairCounts]  # a CountColumns from segviz.evaluate.count
    unreadable: tuple[Problem, ...] = ()


class CountColumns(Sequence[PairCounts]):
    """Many pairs' counts in one set of arrays (issue #17): what the results store reads and
    :func:`segviz.evaluate.fold` folds, with no :class:`PairCounts` object per pair; it behaves as
    a read-only sequence of :class:`PairCounts`, built on access.

    Attributes:
        pairs: the N pairs (a :class:`segviz.dataset.PairList` or a list of :class:`Pair`).
        gt_values, pred_values, counts: (R,) each, non-negative integers (int64, or the narrower
            unsigned type the store keeps them in): pair i's rows are ``offsets[i]:offsets[i+1]``;
            read-only (they may be the store's buffers).
        offsets: int64 (N+1,). shapes: int64 (N, 2) (height, width). colour_coded: bool (N,).
        warnings: N tuples of text.

    Example:
        >>> from pathlib import Path
        >>> pc = PairCounts(Pair("a", Path("gt/a.png"), Path("pred/a.png")),
        ...                 np.array([0, 1]), np.array([0, 1]), np.array([3, 1]), (2, 2))
        >>> cols = CountColumns.of([pc, pc])
        >>> len(cols), cols.offsets.tolist(), cols[1].counts.tolist()
        (2, [0, 2, 4], [3, 1])
    """

    __slots__ = (
        "colour_coded",
        "counts",
        "gt_values",
        "offsets",
        "pairs",
        "pred_values",
        "shapes",
        "warnings",
    )

    def __init__(
        self, pairs, gt_values, pred_values, counts, offsets, shapes, warnings, colour_coded
    ) -> None:
        self.pairs, self.offsets, self.shapes = pairs, offsets, shapes
        self.gt_values, self.pred_values, self.counts = gt_values, pred_values, counts
        self.warnings, self.colour_coded = warnings, colour_coded

    @classmethod
    def of(cls, counted: Sequence[PairCounts]) -> CountColumns:
        """The columns of a list of :class:`PairCounts` (one copy of their arrays)."""
        if isinstance(counted, CountColumns):
            return counted
        counted = list(counted)

        def cat(name: str) -> np.ndarray:
            arrays = [getattr(pc, name) for pc in counted]
            return np.concatenate(arrays).astype(np.int64, copy=False) if arrays else np.zeros(0, np.int64)

        sizes = np.fromiter((len(pc.counts) for pc in counted), np.int64, len(counted))
        return cls(
            [pc.pair for pc in counted],
            cat("gt_values"),
            cat("pred_values"),
            cat("counts"),
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            np.array([pc.shape for pc in counted], dtype=np.int64).reshape(len(counted), 2),
            [tuple(pc.warnings) for pc in counted],
            np.array([pc.colour_coded for pc in counted], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        n = len(self)
        if not -n <= index < n:
            raise IndexError("index out of range")
        i = index % n
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        h, w = self.shapes[i].tolist()
        return PairCounts(
            self.pairs[i],
            self.gt_values[a:b].astype(np.int64),
            self.pred_values[a:b].astype(np.int64),
            self.counts[a:b].astype(np.int64),
            (h, w),
            tuple(self.warnings[i]),
            bool(self.colour_coded[i]),
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))
