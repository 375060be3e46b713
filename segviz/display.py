"""Numbers as people read them: one rule for undefined values everywhere ("n/a", never None or nan).

The command line, the report and the dashboard show tables of metrics in which some values are
undefined (a class absent from ground truth and prediction has no IoU; an image whose pixels are all
ignored has no mIoU). In data (JSON, CSV, DataFrames) they stay NaN / null; on screen they read
:data:`NA`. :func:`display_frame` turns any metrics frame into display strings by that rule;
:func:`class_table` is the per-class table as shown.

Example:
    >>> percent(0.712345), percent(float("nan")), percent(None), points(-0.0123)
    ('71.23 %', 'n/a', 'n/a', '-1.2')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a frame is built
    import pandas as pd

    from segviz.evaluate import Evaluation

#: What an undefined value reads on screen.
NA = "n/a"


def is_undefined(value: object) -> bool:
    """True for None, NaN, ±inf and pandas' missing values.

    Example:
        >>> [is_undefined(v) for v in (None, float("nan"), 0.0, 3)]
        [True, True, False, False]
    """
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def percent(value: float | None, digits: int = 2, *, unit: bool = True) -> str:
    """A 0..1 value as a percentage (``"71.23 %"``; ``"71.23"`` without ``unit``), or ``"n/a"``."""
    if is_undefined(value):
        return NA
    text = f"{100 * float(value):.{digits}f}"  # type: ignore[arg-type]
    return f"{text} %" if unit else text


def points(value: float | None, digits: int = 1) -> str:
    """A 0..1 change as signed percentage points (``"+1.2"``), or ``"n/a"``."""
    return NA if is_undefined(value) else f"{100 * float(value):+.{digits}f}"  # type: ignore[arg-type]


def display_frame(
    frame: pd.DataFrame,
    *,
    percent_columns: Iterable[str] = (),
    points_columns: Iterable[str] = (),
    digits: int = 2,
) -> pd.DataFrame:
    """A copy of ``frame`` for display: the named 0..1 columns as percentages and changes as points,
    integer columns with thousands separators, and every other missing value as ``"n/a"``.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"name": ["a", "b"], "iou": [0.5, float("nan")], "px": [1200, 0]})
        >>> display_frame(f, percent_columns=["iou"]).values.tolist()
        [['a', '50.00', '1,200'], ['b', 'n/a', '0']]
    """
    out = frame.copy()
    percent_columns, points_columns = set(percent_columns), set(points_columns)
    for column in out.columns:
        values = frame[column]
        if column in percent_columns:
            out[column] = [percent(v, digits, unit=False) for v in values]
        elif column in points_columns:
            out[column] = [points(v, digits) for v in values]
        elif values.dtype.kind in "iu":
            out[column] = [f"{int(v):,}" for v in values]
        elif values.dtype.kind == "f":
            out[column] = [NA if is_undefined(v) else f"{v:g}" for v in values]
        else:
            out[column] = [NA if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
    return out


def class_table(evaluation: Evaluation, *, digits: int = 2) -> pd.DataFrame:
    """The per-class table as shown: class, IoU %, accuracy %, precision %, Dice %, GT px, predicted px,
    all strings, "n/a" where a value is undefined (never None or nan).

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> class_table(_example_evaluation()).columns.tolist()
        ['class', 'IoU %', 'accuracy %', 'precision %', 'Dice %', 'GT px', 'predicted px']
    """
    frame = evaluation.class_frame()
    shown = frame[["name", "iou", "accuracy", "precision", "dice", "gt_pixels", "pred_pixels"]]
    shown = display_frame(shown, percent_columns=["iou", "accuracy", "precision", "dice"], digits=digits)
    return shown.rename(
        columns={
            "name": "class",
            "iou": "IoU %",
            "accuracy": "accuracy %",
            "precision": "precision %",
            "dice": "Dice %",
            "gt_pixels": "GT px",
            "pred_pixels": "predicted px",
        }
    )
