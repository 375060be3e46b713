"""One pair's counts: the sparse joint histogram of its raw mask values, the unit that is counted
(:func:`segviz.evaluate.count_pairs`), stored (:mod:`segviz.store`) and folded into confusion
matrices (:func:`segviz.evaluate.fold`).

A plain data class with no behaviour, in a module of its own so that the store and the evaluation
can both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segviz.dataset import Pair


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
