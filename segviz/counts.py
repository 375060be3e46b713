"""What counting produces: one pair's sparse joint histogram of raw mask values (:class:`PairCounts`),
the unit that is counted (:func:`segviz.evaluate.count`), stored (:mod:`segviz.store`) and folded
into confusion matrices (:func:`segviz.evaluate.fold`); and a dataset's counts (:class:`Counted`).

Plain data classes with no behaviour, in a module of their own so that the store and the evaluation
can both use them without importing each other.
"""

from __future__ import annotations

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

    counts: tuple[PairCounts, ...]
    unreadable: tuple[Problem, ...] = ()
