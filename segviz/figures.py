"""Plotly figures. Each function returns a ``plotly.graph_objects.Figure`` and displays nothing.

The confusion-matrix heatmap carries a transparent scatter trace with one point per cell centre:
Streamlit forwards clicks on scatter points but not on heatmap cells (``shared/NOTES.md``). In the
square layout (reports) each marker's ``customdata`` is ``[gt_index, pred_index, count]`` as plain
Python lists; the wide layout (the app) sends no per-cell names or ids at all (see
:func:`confusion_figure`): a click is decoded from the point's position with :func:`matrix_cell`.

Every figure draws a bounded number of classes, whatever the class table holds: the confusion and
difference heatmaps the top-N classes (:func:`default_top_n`: all up to 30, else 25), with
``other=True`` plus one "(other)" row and column pooling the rest (:func:`pool_other`); the bar
charts at most :data:`MAX_BARS` bars, the rest pooled into one "(other …)" bar; the hover layer of
an image at most :data:`MAX_HOVER_SIDE` cells a side. A report of 5,000 classes therefore draws
about as much as one of 30.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from segviz import metrics
from segviz.classes import ClassTable

Metric = Literal["iou", "accuracy", "precision", "dice"]
SortBy = Literal["value", "name", "pixels", "table"]
Normalize = Literal["none", "row", "column"]
Diagonal = Literal["show", "dim"]
Order = Literal["class", "confusion"]
MatrixLayout = Literal["square", "wide"]

METRIC_LABELS = {"iou": "IoU", "accuracy": "Accuracy (recall)", "precision": "Precision", "dice": "Dice"}
FONT = dict(family="Liberation Sans, Arial, sans-serif", size=13)
INVALID_NAME = "(invalid)"
OTHER_NAME = "(other)"
#: Index given to the "(other)" row/column in a heatmap's click data (``customdata``).
OTHER_INDEX = -1
#: Up to this many classes a heatmap shows them all by default; above, the :data:`TOP_N` most
#: confused (the app's rule, now the library's).
ALL_CLASSES_UP_TO = 30
TOP_N = 25
#: Most bars a per-class bar chart draws (the last one pools the others).
MAX_BARS = 40
#: Most hover cells along an image side in :func:`hover_image_figure`.
MAX_HOVER_SIDE = 320
#: Longest axis label (characters) before it is cut with "…" (the hover shows the full name).
MAX_LABEL = 18
#: Smallest row height (px) of a wide matrix: a label fits each row.
MIN_CELL = 8
#: Narrowest column (px) of a wide matrix before its box scrolls sideways: at 150 classes the
#: matrix fits the main column of a 1280-pixel window (≈ 4.5 px a column). A click still lands in
#: the cell under the pointer at any width: the click points are text points, which plotly
#: hit-tests to 0.5 px (marker points tie everything within 3 px of the pointer).
MIN_COLUMN = 4
#: Above this many columns only every second column is labelled, so that labels stay ≥ 9 px apart
#: in a 1280-pixel window (the hover names every cell; columns are in the rows' order).
LABEL_ALL_COLUMNS_UP_TO = 75
SELECTED_COLOUR = "#e4572e"
MARK_COLOUR = "#ff9f1c"


def default_top_n(num_classes: int) -> int:
    """How many classes a heatmap shows by default: all of them up to :data:`ALL_CLASSES_UP_TO`,
    else the :data:`TOP_N` with the most confused pixels (see :func:`select_classes`).

    Example:
        >>> default_top_n(19), default_top_n(150)
        (19, 25)
    """
    return num_classes if num_classes <= ALL_CLASSES_UP_TO else TOP_N


def _labels(names) -> list[str]:
    """Class names as plotly text: plotly.js reads ``<b>``, ``<a href>`` … in labels as markup, so
    names (untrusted text) are escaped and then shown literally."""
    return [html.escape(str(n), quote=False) for n in names]


def _rgb(colour: Sequence[int]) -> str:
    r, g, b = (int(v) for v in colour)
    return f"rgb({r},{g},{b})"


def sort_classes(frame: pd.DataFrame, *, metric: Metric = "iou", sort: SortBy = "value") -> pd.DataFrame:
    """Rows of a per-class frame in display order; undefined values always last.

    Example:
        >>> f = pd.DataFrame({"name": ["a", "b", "c"], "iou": [0.2, float("nan"), 0.9], "gt_pixels": [5, 0, 1]})
        >>> sort_classes(f)["name"].tolist(), sort_classes(f, sort="pixels")["name"].tolist()
        (['c', 'a', 'b'], ['a', 'c', 'b'])
    """
    if sort == "value":
        return frame.sort_values(metric, ascending=False, na_position="last", kind="stable")
    if sort == "name":
        return frame.sort_values("name", key=lambda s: s.str.lower(), kind="stable")
    if sort == "pixels":
        return frame.sort_values("gt_pixels", ascending=False, kind="stable")
    return frame


def limit_rows(
    ordered: pd.DataFrame, metric: str, sort: SortBy, max_rows: int
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Split rows already in display order into those drawn (at most ``max_rows``, one place kept
    for the pooled row) and those pooled; also returns where the pooled row goes among the drawn
    ones. Sorted by value, the best and the worst defined values are drawn and the pooled row sits
    between them; otherwise the first rows are drawn and the pooled row comes last.

    Example:
        >>> f = pd.DataFrame({"name": list("abcde"), "iou": [0.9, 0.8, 0.5, 0.2, 0.1]})
        >>> shown, pooled, at = limit_rows(f, "iou", "value", 3)
        >>> shown["name"].tolist(), pooled["name"].tolist(), at
        (['a', 'e'], ['b', 'c', 'd'], 1)
    """
    if len(ordered) <= max_rows:
        return ordered, ordered.iloc[:0], len(ordered)
    room = max(max_rows - 1, 1)
    if sort == "value":
        defined = np.flatnonzero(ordered[metric].notna().to_numpy())
        head = defined[: (room + 1) // 2]
        tail = defined[len(defined) - room // 2 :] if room // 2 else defined[:0]
        keep = np.union1d(head, tail).astype(int)
    else:
        keep = np.arange(room)
    mask = np.zeros(len(ordered), dtype=bool)
    mask[keep] = True
    first_pooled = int(np.argmax(~mask))
    return ordered[mask], ordered[~mask], int(mask[:first_pooled].sum())


def _with_pooled_row(shown: pd.DataFrame, pooled: pd.DataFrame, at: int, metric: str) -> pd.DataFrame:
    """``shown`` with one row inserted at position ``at`` for the ``pooled`` classes: id
    :data:`OTHER_INDEX`, the mean of their defined ``metric`` values (as mIoU averages), their
    summed ``gt_pixels``; other columns NaN."""
    if pooled.empty:
        return shown
    mean, _ = metrics.mean_defined(pooled[metric].to_numpy(dtype=float))
    row = {c: np.nan for c in shown.columns} | {
        "id": OTHER_INDEX,
        "name": f"(other {len(pooled):,} classes, mean)",
        metric: float(mean),
    }
    if "gt_pixels" in shown.columns:
        row["gt_pixels"] = int(pooled["gt_pixels"].sum())
    return pd.concat([shown.iloc[:at], pd.DataFrame([row]), shown.iloc[at:]], ignore_index=True)


def class_bar_figure(
    frame: pd.DataFrame,
    table: ClassTable,
    *,
    metric: Metric = "iou",
    sort: SortBy = "value",
    intervals: pd.DataFrame | None = None,
    title: str | None = None,
    max_height: int | None = None,
    max_bars: int = MAX_BARS,
) -> go.Figure:
    """Horizontal bars of a per-class metric in class colours; undefined classes read "n/a".
    Bars are labelled with :func:`short_labels` (the full name on hover); the height grows with
    the number of bars (22 px each, up to ``max_height``).

    ``frame`` has columns ``id``, ``name``, ``gt_pixels`` and ``metric`` (e.g. from
    :meth:`Evaluation.class_frame`); ``intervals`` optionally has ``low``/``high`` per ``id``.
    At most ``max_bars`` bars are drawn (see :func:`limit_rows`); the classes left out are pooled
    into one grey "(other N classes)" bar showing the mean of their defined values.
    """
    ordered, pooled, at = limit_rows(sort_classes(frame, metric=metric, sort=sort), metric, sort, max_bars)
    ordered = _with_pooled_row(ordered, pooled, at, metric)
    colours = {int(i): _rgb(c) for i, c in zip(table.ids, table.colors, strict=True)}
    colours[OTHER_INDEX] = "#bdbdbd"
    values = ordered[metric].to_numpy(dtype=float)
    defined = ~np.isnan(values)
    is_pool = (ordered["id"] == OTHER_INDEX).to_numpy()
    raw = ordered["name"].astype(str).tolist()
    short = short_labels([n for n, o in zip(raw, is_pool, strict=True) if not o])
    names = _labels(_unique([n if o else short.pop(0) for n, o in zip(raw, is_pool, strict=True)]))
    label = METRIC_LABELS[metric]
    bar = go.Bar(
        x=np.where(defined, values * 100, 0.0),
        y=names,
        orientation="h",
        marker=dict(
            color=[colours.get(int(i), "grey") for i in ordered["id"]], line=dict(color="#444", width=0.5)
        ),
        text=[f"{v * 100:.1f}" if d else "n/a" for v, d in zip(values, defined, strict=True)],
        # with error bars the value sits inside the bar's base, where no whisker can cover it
        textposition="outside" if intervals is None else "inside",
        insidetextanchor="start",
        textfont=dict(color="#222")
        if intervals is None
        else dict(),  # inside: plotly picks a contrasting colour
        cliponaxis=False,
        # the full (escaped) name on hover: the axis shows the short one
        customdata=[[px, n] for px, n in zip(ordered["gt_pixels"].tolist(), _labels(raw), strict=True)],
        hovertemplate=f"<b>%{{customdata[1]}}</b><br>{label}: %{{text}}<br>GT pixels: %{{customdata[0]:,}}"
        "<extra></extra>",
    )
    if intervals is not None:  # (the pooled bar has none)
        iv = intervals.set_index("id").reindex(ordered["id"])
        bar.error_x = dict(
            type="data",
            symmetric=False,
            array=((iv["high"] - ordered.set_index("id")[metric]) * 100).fillna(0).to_numpy(),
            arrayminus=((ordered.set_index("id")[metric] - iv["low"]) * 100).fillna(0).to_numpy(),
            color="#333",
            thickness=1.2,
        )
    height = 60 + 22 * len(names)
    if max_height is not None:
        height = min(height, max_height)
    fig = go.Figure(bar)
    fig.update_layout(
        title=title,
        font=FONT,
        height=max(height, 200),
        margin=dict(l=10, r=40, t=40 if title else 10, b=40),
        xaxis=dict(title=f"{label} (%)", range=[0, 108], gridcolor="#e5e5e5", zeroline=False),
        yaxis=dict(autorange="reversed", automargin=True, type="category"),
        plot_bgcolor="white",
        bargap=0.25,
        showlegend=False,
    )
    return fig


def select_classes(
    cm: np.ndarray,
    *,
    hidden: Sequence[int] = (),
    top_n: int | None = None,
) -> np.ndarray:
    """Class indices shown in the heatmap, in class order.

    ``top_n`` keeps the classes with the most confused pixels (off-diagonal errors in their row plus
    their column), after removing ``hidden``.

    Example:
        >>> cm = np.array([[9, 5, 0, 0], [1, 9, 0, 0], [0, 0, 9, 0]])
        >>> select_classes(cm, top_n=2).tolist(), select_classes(cm, hidden=[1]).tolist()
        ([0, 1], [0, 2])
    """
    k = cm.shape[0]
    keep = np.setdiff1d(np.arange(k), np.asarray(hidden, dtype=int))
    if top_n is not None and top_n < len(keep):
        square = cm[:, :k]
        errors = square.sum(axis=1) + square.sum(axis=0) - 2 * np.diag(square)
        ranked = keep[np.argsort(-errors[keep], kind="stable")]
        keep = np.sort(ranked[:top_n])
    return keep


def pool_other(cm: np.ndarray, shown: Sequence[int], pooled: Sequence[int]) -> np.ndarray:
    """The rows and columns of the ``shown`` classes, plus one "(other)" row and column summing
    the ``pooled`` classes (classes in neither list, e.g. hidden ones, are left out).

    ``cm`` is (K, K+1) with the invalid column last, or (K, K). Returns int64 (n+1, n+1[+1]) for
    n = len(shown): rows ``shown…, other``; columns ``shown…, other[, invalid]``. Memory is
    O(K·n): the K×K matrix is never copied (200 MB at 5,000 classes).

    Example:
        >>> cm = np.array([[5, 1, 2, 0], [1, 6, 3, 1], [4, 0, 7, 0]])
        >>> pool_other(cm, [0], [1, 2]).tolist()
        [[5, 3, 0], [5, 16, 1]]
    """
    cm = np.asarray(cm)
    k = cm.shape[0]
    shown = np.asarray(shown, dtype=np.int64)
    pooled = np.asarray(pooled, dtype=np.int64)
    left_out = np.setdiff1d(np.arange(k), np.concatenate([shown, pooled]))
    # per row: pixels predicted as a pooled class = all class columns - shown - left out
    to_pooled = cm[:, :k].sum(axis=1) - cm[:, shown].sum(axis=1) - cm[:, left_out].sum(axis=1)
    extra = [cm[:, k]] if cm.shape[1] > k else []
    columns = np.column_stack([cm[:, shown], to_pooled, *extra]).astype(np.int64)  # (K, n+1[+1])
    return np.vstack([columns[shown], columns[pooled].sum(axis=0, keepdims=True)])


def short_labels(names: Sequence[str], *, limit: int = MAX_LABEL) -> list[str]:
    """Short, unique axis labels: an ADE-style name ``"computing;device;data;…"`` keeps its first
    alternative (more alternatives while two classes would share it), then is cut to ``limit``
    characters with "…"; labels still equal get `` #index``. Not escaped (see :func:`_labels`).

    Example:
        >>> short_labels(["screen;door;screen", "screen;silver;screen", "wall", "a" * 30])
        ['screen;door', 'screen;silver', 'wall', 'aaaaaaaaaaaaaaaaa…']
    """
    parts = [str(n).split(";") for n in names]
    out = [p[0].strip() or str(n) for p, n in zip(parts, names, strict=True)]
    for depth in range(2, max((len(p) for p in parts), default=1) + 1):
        counts = Counter(out)
        dup = [i for i, s in enumerate(out) if counts[s] > 1]
        if not dup:
            break
        for i in dup:
            out[i] = ";".join(parts[i][:depth])
    out = [s if len(s) <= limit else s[: limit - 1] + "…" for s in out]
    counts = Counter(out)
    return [f"{s} #{i}" if counts[s] > 1 else s for i, s in enumerate(out)]


def _unique(labels: Sequence[str]) -> list[str]:
    """Labels made unique for a category axis (a repeated name gets `` #index``)."""
    counts = Counter(labels)
    return [f"{s} #{i}" if counts[s] > 1 else s for i, s in enumerate(labels)]


def confusion_order(cm: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """``classes`` reordered so that classes confused with each other sit side by side.

    The rule: the affinity of classes i and j is the share of i's ground-truth pixels predicted as
    j plus the share of j's predicted as i; the classes are clustered on ``1 - affinity / max``
    (average linkage) and the leaves put in the optimal order (scipy's ``optimal_leaf_ordering``:
    adjacent leaves as similar as possible). Classes confused with none of the others come
    last, in class order (so the populated part of a large matrix is its top-left). Deterministic.

    Example:
        >>> cm = np.array([[90, 0, 10, 0], [0, 50, 0, 0], [20, 0, 80, 0]])
        >>> confusion_order(cm, [0, 1, 2]).tolist()  # 0 and 2 are confused: side by side, 1 last
        [0, 2, 1]
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    classes = np.asarray(classes, dtype=np.int64)
    square = cm[np.ix_(classes, classes)].astype(float)
    totals = cm[classes].sum(axis=1).astype(float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, square / totals, 0.0)
    affinity = share + share.T
    np.fill_diagonal(affinity, 0.0)
    confused = affinity.sum(axis=1) > 0
    if confused.sum() < 3:
        return np.concatenate([classes[confused], classes[~confused]])
    affinity = affinity[np.ix_(confused, confused)]
    distance = 1.0 - affinity / affinity.max()
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    tree = optimal_leaf_ordering(linkage(condensed, "average"), condensed)
    return np.concatenate([classes[confused][leaves_list(tree)], classes[~confused]])


@dataclass
class _Cells:
    """The drawn part of a confusion matrix: row/column ids (class index, :data:`OTHER_INDEX`,
    K for invalid), pixel counts and the row/column percentages of the full rows/columns."""

    row_ids: np.ndarray
    col_ids: np.ndarray
    sub: np.ndarray
    row_pct: np.ndarray
    col_pct: np.ndarray
    pooled: np.ndarray


def shown_classes(
    cm: np.ndarray, *, hidden: Sequence[int] = (), top_n: int | None = None, include: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(shown, pooled) class indices of a heatmap, in class order: the :func:`select_classes`
    plus ``include`` (unless hidden); pooled = the rest that is not hidden (its "(other)" row).

    Example:
        >>> cm = np.array([[9, 5, 0, 0], [1, 9, 0, 0], [0, 0, 9, 0]])
        >>> [a.tolist() for a in shown_classes(cm, top_n=1, include=[2])]
        [[0, 2], [1]]
    """
    k = cm.shape[0]
    shown = select_classes(cm, hidden=hidden, top_n=top_n)
    extra = np.setdiff1d(np.asarray(include, dtype=np.int64), np.asarray(hidden, dtype=np.int64))
    shown = np.union1d(shown, extra[(extra >= 0) & (extra < k)]).astype(np.int64)
    pooled = np.setdiff1d(np.setdiff1d(np.arange(k), shown), np.asarray(hidden, dtype=np.int64))
    return shown, pooled


def confused_pairs(
    cm: np.ndarray, *, rows: Sequence[int] | None = None, cols: Sequence[int] | None = None, limit: int = 10
) -> pd.DataFrame:
    """The largest off-diagonal cells of ``cm`` (K, K[+1]; column K = invalid predictions), most
    pixels first: columns ``gt``, ``pred`` (indices), ``pixels``, ``share_of_gt`` (of the GT
    class's pixels, 0..1). ``rows``/``cols`` restrict the ground-truth / predicted classes.

    Example:
        >>> cm = np.array([[50, 10, 0, 2], [5, 20, 0, 0], [0, 0, 0, 0]])
        >>> confused_pairs(cm, limit=2).values.tolist()
        [[0.0, 1.0, 10.0, 0.16129032258064516], [1.0, 0.0, 5.0, 0.2]]
    """
    k = cm.shape[0]
    rows = np.arange(k) if rows is None else np.asarray(rows, dtype=np.int64)
    cols = np.arange(cm.shape[1]) if cols is None else np.asarray(cols, dtype=np.int64)
    block = cm[np.ix_(rows, cols)].astype(np.int64)
    block[rows[:, None] == cols[None, :]] = 0
    flat = np.argsort(-block, axis=None, kind="stable")[:limit]
    i, j = np.unravel_index(flat, block.shape)
    keep = block[i, j] > 0
    i, j = i[keep], j[keep]
    totals = cm[rows[i]].sum(axis=1)
    return pd.DataFrame(
        {
            "gt": rows[i],
            "pred": cols[j],
            "pixels": block[i, j],
            "share_of_gt": block[i, j] / np.maximum(totals, 1),
        }
    )


def _cells(cm, *, hidden, top_n, other, show_invalid, include, order) -> _Cells:
    k = cm.shape[0]
    shown, pooled = shown_classes(cm, hidden=hidden, top_n=top_n, include=include)
    if order == "confusion":
        shown = confusion_order(cm, shown)
    pool = bool(other and len(pooled))
    row_ids = np.append(shown, OTHER_INDEX) if pool else shown
    col_ids = np.append(row_ids, k) if show_invalid else row_ids
    all_row_tot = cm.sum(axis=1)
    all_col_tot = np.append(cm[:, :k].sum(axis=0), cm[:, k].sum() if cm.shape[1] > k else 0)
    if pool:
        table = pool_other(cm, shown, pooled)
        sub = (table if show_invalid else table[:, : len(row_ids)]).astype(float)
        row_tot = np.append(all_row_tot[shown], all_row_tot[pooled].sum())
        col_tot = np.append(all_col_tot[shown], all_col_tot[pooled].sum())
        if show_invalid:
            col_tot = np.append(col_tot, all_col_tot[k])
    else:
        sub = cm[np.ix_(shown, col_ids)].astype(float)
        row_tot, col_tot = all_row_tot[shown], all_col_tot[col_ids]
    row_tot = row_tot[:, None].astype(float)
    col_tot = col_tot[None, :].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_pct = np.where(row_tot > 0, sub / row_tot * 100, np.nan)
        col_pct = np.where(col_tot > 0, sub / col_tot * 100, np.nan)
    return _Cells(row_ids, col_ids, sub, row_pct, col_pct, pooled)


def _compact(v: float, unit: str) -> str:
    """A cell's number in at most four characters (counts: 950, 12k, 3M; percentages: 0.4, 12;
    under 0.05 % blank)."""
    if not np.isfinite(v) or v == 0:
        return ""
    if unit == "%":  # under 0.05 % would read "0.0": left blank (the hover has every value)
        return "" if v < 0.05 else (f"{v:.1f}" if v < 10 else f"{v:.0f}")
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:.0f}{suffix}"
    return f"{v:.0f}"


def confusion_figure(
    cm: np.ndarray,
    names: Sequence[str],
    *,
    normalize: Normalize = "none",
    log: bool = False,
    hidden: Sequence[int] = (),
    top_n: int | None = None,
    other: bool = False,
    diagonal: Diagonal = "show",
    show_invalid: bool = False,
    annotate: bool | None = None,
    height: int | None = None,
    order: Order = "class",
    include: Sequence[int] = (),
    selected: tuple[int, int] | None = None,
    marked: Sequence[int] = (),
    layout: MatrixLayout = "square",
) -> go.Figure:
    """Confusion-matrix heatmap, rows = ground truth, columns = prediction.

    ``cm`` is (K, K+1) with the invalid-prediction column last. ``top_n`` classes are drawn (the
    most confused; default :func:`default_top_n`) plus the classes in ``include``, and with
    ``other=True`` the remaining classes that are not ``hidden`` are pooled into one "(other N
    classes)" row and column (without it the classes beyond the top N are simply not drawn).
    Row/column percentages are always of the full row/column (hiding a class does not change them).
    ``diagonal="dim"`` draws correct pixels (and the "(other)" × "(other)" cell) in grey and scales
    colours on the errors only. ``order="confusion"`` orders the classes by
    :func:`confusion_order` (clusters adjacent; "(other)" and "(invalid)" stay last), else class
    order. Axis categories are the full (escaped) names, tick labels the :func:`short_labels`.
    ``selected`` = (gt index, pred index) is outlined; ``marked`` classes get an outlined row and
    column and bold labels. Square layout: clicks arrive as the scatter trace's ``customdata``
    ``[gt_index, pred_index, count]`` (``pred_index == K`` for invalid, :data:`OTHER_INDEX` for
    "(other)"); wide layout: as the point's (x, y) position, which :func:`matrix_cell` turns into
    the same (gt_index, pred_index) with ``layout.meta`` (the drawn rows' and columns' ids).

    ``layout="square"``: square cells, side set by ``height`` (reports). ``layout="wide"`` (the
    app, :func:`_wide_figure`): the matrix fills the width it is given (columns of at least
    :data:`MIN_COLUMN` px where the app allows), rows :func:`matrix_pitch` pixels high, fixed
    margins (no automargin passes), fixed axes (no zoom or pan), the colour bar on top, and a
    click layer without any per-cell name or string (ADE20K at 150 classes: 0.26 MB, was 2.2 MB),
    the same whatever cell is chosen when ``selected`` is None (the app outlines the chosen cell
    over the chart).
    """
    k = cm.shape[0]
    top_n = default_top_n(k) if top_n is None else top_n
    c = _cells(
        cm,
        hidden=hidden,
        top_n=top_n,
        other=other,
        show_invalid=show_invalid,
        include=include,
        order=order,
    )
    value = {"none": c.sub, "row": c.row_pct, "column": c.col_pct}[normalize]
    is_diag = c.row_ids[:, None] == c.col_ids[None, :]
    z = value.copy()
    if diagonal == "dim":
        z[is_diag] = np.nan
    full = dict(enumerate(_unique(_labels(names)))) | {
        k: INVALID_NAME,
        OTHER_INDEX: _other_label(len(c.pooled)),
    }
    short = dict(enumerate(_labels(short_labels(names)))) | {
        k: INVALID_NAME,
        OTHER_INDEX: f"(other {len(c.pooled):,})",
    }
    x_names = [full[i] for i in c.col_ids]
    y_names = [full[i] for i in c.row_ids]
    n = max(len(c.row_ids), len(c.col_ids))
    if annotate if annotate is not None else n <= (24 if layout == "wide" else 20):
        unit = "px" if normalize == "none" else "%"
        text = np.vectorize(lambda v: _compact(v, unit), otypes=[object])(value)
    else:
        text = None
    if layout == "wide":
        fig = _wide_figure(
            c,
            z,
            is_diag,
            x_names,
            y_names,
            full,
            short,
            normalize=normalize,
            log=log,
            dim=diagonal == "dim",
            text=text,
        )
        _decorate(fig, c, selected=selected, marked=marked)
        return fig
    traces: list[go.BaseTraceType] = []
    if diagonal == "dim":
        rows_with_pixels = np.where(is_diag & np.isfinite(c.row_pct), 1.0, np.nan)
        traces.append(_grey_diagonal(x_names, y_names, rows_with_pixels))
    heat = _heat(z, x_names, y_names, normalize=normalize, log=log, wide=False)
    traces.append(heat)
    if text is not None:
        _annotate(heat, text, n)
    fig = go.Figure(traces)
    # added by keyword, not as a trace object: go.Figure deep-copies trace objects, element by
    # element for object arrays (0.5 s at 150 classes)
    fig.add_scatter(**_click_layer(c, x_names, y_names, full))
    _square_layout(fig, height or int(min(900, max(420, 150 + 26 * n))))
    fig.update_xaxes(tickmode="array", tickvals=x_names, ticktext=[short[i] for i in c.col_ids])
    fig.update_yaxes(tickmode="array", tickvals=y_names, ticktext=[short[i] for i in c.row_ids])
    _decorate(fig, c, selected=selected, marked=marked)
    return fig


def _grey_diagonal(x, y, z) -> go.Heatmap:
    """The dimmed diagonal: one flat grey where ``z`` is 1 (NaN: not drawn), no hover."""
    return go.Heatmap(
        x=x,
        y=y,
        z=z,
        colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]],
        showscale=False,
        hoverinfo="skip",
        xgap=1,
        ygap=1,
    )


def _annotate(heat: go.Heatmap, text: np.ndarray, n: int) -> None:
    heat.text = text
    heat.texttemplate = "%{text}"
    heat.textfont = dict(size=9 if n > 16 else (10 if n > 12 else 11))


def _wide_figure(
    c: _Cells, z, is_diag, x_names, y_names, full, short, *, normalize, log, dim, text
) -> go.Figure:
    """The app's matrix, built to be small on the wire (≈ 0.3–0.6 MB at 150 classes instead of
    2.2 MB): no name, id or formatted string per cell. The heatmap's colours as float32; the grey
    diagonal as one heatmap of its n cells; the click layer as text points on two hidden linear
    axes (``xaxis2``/``yaxis2``, overlaying the category axes cell for cell) whose positions are
    uint8/uint16 arrays and whose tick texts are the full names, so the hover's ``%{x}``/``%{y}``
    name the classes. Cells are split by what their hover says: cells with pixels carry their count
    and percentages, the empty ones only a fixed text. The axes are fixed (no zoom or pan), so the
    app can draw the selected cell's outline over the chart without touching the figure."""
    traces: list[go.BaseTraceType] = []
    if dim:
        ii, jj = np.nonzero(is_diag)
        has = np.isfinite(c.row_pct[ii, jj])  # grey where the row has pixels
        traces.append(
            _grey_diagonal(
                [x_names[j] for j in jj],
                [y_names[i] for i in ii],
                np.where(has, 1.0, np.nan).astype(np.float32),
            )
        )
    heat = _heat(z, x_names, y_names, normalize=normalize, log=log, wide=True)
    traces.append(heat)
    if text is not None:
        _annotate(heat, text, max(len(x_names), len(y_names)))
    # the click layers as plain dicts: a trace object (or add_scatter) deep-copies object arrays
    # element by element (0.1 s at 150 classes), a dict is validated without a copy
    fig = go.Figure([*traces, *(dict(layer, type="scatter") for layer in _click_layers(c, x_names, y_names))])
    _wide_layout(fig, x_names, y_names, [short[i] for i in c.col_ids], [short[i] for i in c.row_ids])
    fig.update_layout(meta=dict(rows=c.row_ids.tolist(), cols=c.col_ids.tolist()))
    return fig


def _heat(z, x_names, y_names, *, normalize: Normalize, log: bool, wide: bool) -> go.Heatmap:
    colour_z = np.log10(z + 1) if log and normalize == "none" else (np.log10(z + 0.01) if log else z)
    title = {"none": "pixels", "row": "% of GT row", "column": "% of pred column"}[normalize]
    title += " (log)" if log else ""
    bar = (
        dict(
            title=dict(text=title, side="right"),
            orientation="h",
            thickness=10,
            len=240,
            lenmode="pixels",
            x=0,
            xanchor="left",
            y=1.0,
            yanchor="bottom",
            ypad=6,
        )
        if wide
        else dict(title=dict(text=title, side="right"), thickness=14)
    )
    heat = go.Heatmap(
        z=colour_z.astype(np.float32) if wide else colour_z,  # colours only: the hover has the counts
        x=x_names,
        y=y_names,
        colorscale="Blues",
        xgap=1,
        ygap=1,
        hoverinfo="skip",  # the hover lives on the click layer, which must win it (shared/NOTES.md)
        colorbar=bar,
        zmin=0 if not log else None,
    )
    if log:
        ticks = _log_ticks(np.nanmax(z) if np.isfinite(z).any() else 1, counts=normalize == "none")
        heat.colorbar.tickvals = [math.log10(t + (1 if normalize == "none" else 0.01)) for t in ticks]
        heat.colorbar.ticktext = [f"{t:,.0f}" if normalize == "none" else f"{t:g}" for t in ticks]
    return heat


def _grid(c: _Cells) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.meshgrid(np.arange(len(c.row_ids)), np.arange(len(c.col_ids)), indexing="ij")
    return yy.ravel(), xx.ravel()


def _customdata(c: _Cells, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    # Object arrays, not lists: plotly validates and copies them ~10x faster at 150 classes, and
    # still sends them as plain JSON lists (a click returns customdata as a list, shared/NOTES.md).
    custom = np.empty((yy.size, 3), dtype=object)
    custom[:, 0] = np.asarray(c.row_ids, dtype=np.int64)[yy].tolist()
    custom[:, 1] = np.asarray(c.col_ids, dtype=np.int64)[xx].tolist()
    custom[:, 2] = np.asarray(c.sub, dtype=np.int64)[yy, xx].tolist()
    return custom


def _click_layer(c: _Cells, x_names, y_names, label) -> dict:
    """One transparent marker per cell centre, each with its own hover text (reports, small K)."""
    hover = np.empty(c.sub.shape, dtype=object)
    for i, r in enumerate(c.row_ids):
        for j, col in enumerate(c.col_ids):
            hover[i, j] = (
                f"GT <b>{label[r]}</b> → predicted <b>{label[col]}</b><br>"
                f"{int(c.sub[i, j]):,} px<br>{_fmt_pct(c.row_pct[i, j])} of GT {label[r]} (row)<br>"
                f"{_fmt_pct(c.col_pct[i, j])} of predicted {label[col]} (column)"
            )
    yy, xx = _grid(c)
    n = max(len(c.row_ids), len(c.col_ids))
    return dict(
        x=np.asarray(x_names, dtype=object)[xx],
        y=np.asarray(y_names, dtype=object)[yy],
        mode="markers",
        marker=dict(size=max(4, min(40, 600 // max(n, 1))), opacity=0, color="black"),
        selected=dict(marker=dict(opacity=0)),
        unselected=dict(marker=dict(opacity=0)),
        customdata=_customdata(c, yy, xx),
        text=hover[yy, xx],
        hovertemplate="%{text}<extra></extra>",
        showlegend=False,
        name="cells",
    )


#: The hover of a wide matrix's cell: the names come from the hidden axes' tick texts.
_HOVER_HEAD = "GT <b>%{y}</b> → predicted <b>%{x}</b><br>"
#: (row has pixels, column has pixels) -> the hover of an empty cell.
_EMPTY_HOVER = {
    (True, True): "0 px<br>0.0 % of the GT row<br>0.0 % of the predicted column",
    (False, True): "0 px<br>no ground-truth pixels of this class<br>0.0 % of the predicted column",
    (True, False): "0 px<br>0.0 % of the GT row<br>nothing is predicted as this class",
    (False, False): "0 px<br>no ground-truth pixels of this class<br>nothing is predicted as this class",
}


def _positions(index: np.ndarray) -> np.ndarray:
    """Cell positions in the smallest unsigned type (sent as a typed array: 1–2 bytes a cell)."""
    return index.astype(np.uint8 if index.size == 0 or index.max() < 256 else np.uint16)


def _click_layers(c: _Cells, x_names, y_names) -> list[dict]:
    """The wide matrix's click layer: one text point per cell centre, on the hidden axes
    ``x2``/``y2`` (positions 0..m-1, 0..n-1). Text points, because plotly ties every marker point
    within 3 px of the pointer (a click then lands on a neighbour when cells are under 6 px) but
    text points only within 0.5 px: the nearest centre, i.e. the cell under the pointer, wins at
    any cell size. Nothing is drawn (``maxdisplayed``, transparent text). The cells with pixels
    carry ``customdata`` [count, row %, column %]; empty cells are grouped by whether their row / column has pixels, with a fixed
    hover each. A click returns the point's x/y: :func:`matrix_cell` turns them into class ids."""
    n, m = c.sub.shape
    yy, xx = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    count = np.asarray(c.sub, dtype=np.int64)
    row_ok = np.broadcast_to(np.isfinite(c.row_pct), (n, m))
    col_ok = np.broadcast_to(np.isfinite(c.col_pct), (n, m))
    base = dict(
        xaxis="x2",
        yaxis="y2",
        mode="text",
        textfont=dict(size=1, color="rgba(0,0,0,0)"),
        marker=dict(maxdisplayed=1),
        hoverlabel=dict(bgcolor="#262730", bordercolor="#262730", font=dict(color="white")),
        showlegend=False,
        name="cells",
    )
    layers = []
    full = count > 0
    if full.any():
        layers.append(
            dict(
                base,
                x=_positions(xx[full]),
                y=_positions(yy[full]),
                # one typed array (object arrays cost 0.1 s to copy): count, row %, column %;
                # float32 while it holds every count exactly (< 2**24), else float64
                customdata=np.stack(
                    [count[full], c.row_pct[full].round(1), c.col_pct[full].round(1)], axis=1
                ).astype(np.float32 if count.max() < 2**24 else np.float64),
                hovertemplate=_HOVER_HEAD
                + "%{customdata[0]:,} px<br>%{customdata[1]:.1f} % of the GT row<br>"
                "%{customdata[2]:.1f} % of the predicted column<extra></extra>",
            )
        )
    for (has_row, has_col), hover in _EMPTY_HOVER.items():
        where = ~full & (row_ok == has_row) & (col_ok == has_col)
        if where.any():
            layers.append(
                dict(
                    base,
                    x=_positions(xx[where]),
                    y=_positions(yy[where]),
                    hovertemplate=_HOVER_HEAD + hover + "<extra></extra>",
                )
            )
    return layers


def matrix_cell(fig_or_meta, x, y) -> tuple[int, int] | None:
    """(gt index, pred index) of the wide-matrix cell at click-layer position (x, y) — what a click
    returns — from the figure (or its ``layout.meta``); None when (x, y) is not a cell.

    Example:
        >>> cm = np.array([[5, 1, 0], [2, 7, 0]])
        >>> fig = confusion_figure(cm, ["a", "b"], layout="wide", order="class")
        >>> matrix_cell(fig, 1, 0), matrix_cell(fig, 9, 0)
        ((0, 1), None)
    """
    meta = fig_or_meta.layout.meta if isinstance(fig_or_meta, go.Figure) else fig_or_meta
    try:
        rows, cols = list(meta["rows"]), list(meta["cols"])
        i, j = int(y), int(x)
    except (TypeError, KeyError, ValueError):
        return None
    if not (0 <= i < len(rows) and 0 <= j < len(cols)) or (i, j) != (y, x):
        return None
    return int(rows[i]), int(cols[j])


def matrix_position(fig_or_meta, cell: tuple[int, int] | None) -> tuple[int, int] | None:
    """(row, column) position of the class cell ``cell`` = (gt index, pred index) in a wide matrix,
    or None when it is not drawn (the inverse of :func:`matrix_cell`)."""
    meta = fig_or_meta.layout.meta if isinstance(fig_or_meta, go.Figure) else fig_or_meta
    if cell is None or not meta:
        return None
    rows, cols = list(meta["rows"]), list(meta["cols"])
    if cell[0] not in rows or cell[1] not in cols:
        return None
    return rows.index(cell[0]), cols.index(cell[1])


def _square_layout(fig: go.Figure, side: int) -> None:
    fig.update_layout(
        font=FONT,
        height=side,
        margin=dict(l=10, r=10, t=30, b=10),
        hoverdistance=-1,
        plot_bgcolor="white",
        xaxis=dict(
            title="Predicted class",
            type="category",
            tickangle=-45,
            side="bottom",
            constrain="domain",
            automargin=True,
            showgrid=False,
        ),
        yaxis=dict(
            title="Ground-truth class",
            type="category",
            autorange="reversed",
            scaleanchor="x",
            scaleratio=1,
            constrain="domain",
            automargin=True,
            showgrid=False,
        ),
    )


def matrix_pitch(n: int) -> int:
    """Row height (px) of a wide matrix of ``n`` rows: 36 px for a few classes, down to
    :data:`MIN_CELL` for 75 and more (every label still fits, and a click lands in its cell).

    Example:
        >>> matrix_pitch(11), matrix_pitch(21), matrix_pitch(151)
        (36, 28, 8)
    """
    return int(max(MIN_CELL, min(36, 600 // max(n, 1))))


def _tick_font(n: int) -> int:
    return 12 if n <= 30 else (10 if n <= 60 else 8)


def _wide_layout(fig: go.Figure, x_names, y_names, x_short: list[str], y_short: list[str]) -> None:
    """Fixed margins from the label lengths (automargin would redraw the plot several times),
    rows :func:`matrix_pitch` px high, the colour bar above the matrix, every column labelled up
    to :data:`LABEL_ALL_COLUMNS_UP_TO` columns (else every second one), no zoom or pan, and the
    click layer's hidden axes ``x2``/``y2`` laid exactly over the category axes."""
    n = max(len(x_short), len(y_short))
    font = _tick_font(n)
    char = 0.6 * font  # Liberation Sans averages ≈0.55 em a character
    longest_y = max((len(html.unescape(s)) for s in y_short), default=4)
    x_text = list(x_short)
    if len(x_text) > LABEL_ALL_COLUMNS_UP_TO:
        x_text = [t if j % 2 == 0 else "" for j, t in enumerate(x_text)]
    longest_x = max((len(html.unescape(s)) for s in x_text), default=4)
    angle = -90 if n > 20 else -45
    left = int(28 + char * longest_y + 8)
    bottom = int(28 + char * longest_x * (1 if angle == -90 else 0.75) + 8)
    top = 58
    x_range = [-0.5, len(x_short) - 0.5]  # autorange would pad for the click layer's points
    y_range = [len(y_short) - 0.5, -0.5]
    hidden = dict(
        tickmode="array",
        showticklabels=False,
        showgrid=False,
        zeroline=False,
        showline=False,
        ticks="",
        fixedrange=True,
    )
    fig.update_layout(
        font=FONT,
        height=top + bottom + matrix_pitch(n) * len(y_short),
        margin=dict(l=left, r=12, t=top, b=bottom, autoexpand=False),
        hoverdistance=-1,
        plot_bgcolor="white",
        xaxis=dict(
            title=dict(text="Predicted class", standoff=4),
            type="category",
            categoryorder="array",
            categoryarray=x_names,
            tickangle=angle,
            tickfont=dict(size=font),
            side="bottom",
            automargin=False,
            showgrid=False,
            tickmode="array",
            tickvals=x_names,
            ticktext=x_text,
            range=x_range,
            fixedrange=True,
        ),
        yaxis=dict(
            title=dict(text="Ground-truth class", standoff=4),
            type="category",
            categoryorder="array",
            categoryarray=y_names,
            tickfont=dict(size=font),
            automargin=False,
            showgrid=False,
            tickmode="array",
            tickvals=y_names,
            ticktext=y_short,
            range=y_range,
            fixedrange=True,
        ),
        # the click layer's axes: positions 0..m-1 over the same pixels; their tick texts (never
        # drawn) are the full names the hover shows for %{x} and %{y}
        xaxis2=dict(
            hidden, overlaying="x", range=x_range, tickvals=list(range(len(x_names))), ticktext=x_names
        ),
        yaxis2=dict(
            hidden, overlaying="y", range=y_range, tickvals=list(range(len(y_names))), ticktext=y_names
        ),
    )


def min_matrix_width(fig: go.Figure) -> int:
    """The narrowest a wide matrix may be drawn: columns of :data:`MIN_COLUMN` px (the app lets
    it scroll sideways below that)."""
    m = fig.layout.margin
    return int(m.l + m.r + MIN_COLUMN * len(fig.layout.xaxis.tickvals))


def matrix_geometry(fig: go.Figure) -> dict:
    """Where a wide matrix's cells are, for drawing over it: ``left``, ``right``, ``top`` (px
    margins of the plot area), ``pitch`` (row height, px), ``rows`` and ``cols`` (counts). Columns
    share the width left between the margins equally."""
    m = fig.layout.margin
    rows, cols = len(fig.layout.yaxis.tickvals), len(fig.layout.xaxis.tickvals)
    return dict(
        left=m.l,
        right=m.r,
        top=m.t,
        pitch=(fig.layout.height - m.t - m.b) / max(rows, 1),
        rows=rows,
        cols=cols,
    )


def _decorate(fig: go.Figure, c: _Cells, *, selected, marked) -> None:
    """Outline the selected cell and the rows/columns of the ``marked`` classes."""
    rows, cols = list(c.row_ids), list(c.col_ids)
    if selected is not None:
        g, p = selected
        if g in rows and p in cols:
            i, j = rows.index(g), cols.index(p)
            fig.add_shape(
                type="rect",
                x0=j - 0.5,
                x1=j + 0.5,
                y0=i - 0.5,
                y1=i + 0.5,
                line=dict(color=SELECTED_COLOUR, width=3),
                layer="above",
            )
    for m in marked:
        if m in rows:
            i = rows.index(m)
            fig.add_shape(
                type="rect",
                x0=-0.5,
                x1=len(cols) - 0.5,
                y0=i - 0.5,
                y1=i + 0.5,
                line=dict(color=MARK_COLOUR, width=1.5, dash="dot"),
                layer="above",
            )
        if m in cols:
            j = cols.index(m)
            fig.add_shape(
                type="rect",
                x0=j - 0.5,
                x1=j + 0.5,
                y0=-0.5,
                y1=len(rows) - 0.5,
                line=dict(color=MARK_COLOUR, width=1.5, dash="dot"),
                layer="above",
            )


def _other_label(count: int) -> str:
    """The "(other)" row/column label, with how many classes it pools."""
    return f"(other {count:,} class{'es' if count != 1 else ''})"


def _fmt_pct(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.1f} %"


def _log_ticks(top: float, *, counts: bool) -> list[float]:
    ticks = [0.0] if counts else []
    t = 1.0 if counts else 0.1
    while t <= top * 1.0001:
        ticks.append(t)
        t *= 10
    return ticks or [0.0]


def hover_image_figure(
    background: np.ndarray,
    gt_indices: np.ndarray,
    pred_indices: np.ndarray,
    gt_names: Sequence[str],
    pred_names: Sequence[str],
    *,
    step: int = 4,
    height: int | None = None,
) -> go.Figure:
    """The picture as a JPEG background plus a transparent, ``step``-times downsampled label layer
    whose hover shows the ground-truth and predicted class under the cursor.

    ``gt_names``/``pred_names`` are indexed by class index (including ignore/invalid entries).
    Full-resolution per-pixel hover is far too heavy for the browser (``shared/NOTES.md``): the
    step grows so that no side has more than :data:`MAX_HOVER_SIDE` hover cells.
    """
    h, w = gt_indices.shape
    step = max(step, math.ceil(max(h, w) / MAX_HOVER_SIDE))  # a bounded hover layer on big images
    fig = px.imshow(background, binary_string=True, binary_format="jpg", binary_compression_level=0)
    fig.update_traces(hoverinfo="skip", hovertemplate=None)
    ys = np.arange(step // 2, h, step)
    xs = np.arange(step // 2, w, step)
    g = gt_indices[np.ix_(ys, xs)]
    p = pred_indices[np.ix_(ys, xs)]
    gn = np.asarray(_labels(gt_names), dtype=object)[g]
    pn = np.asarray(_labels(pred_names), dtype=object)[p]
    custom = np.stack([gn, pn], axis=-1)
    fig.add_trace(
        go.Heatmap(
            z=np.zeros(g.shape, dtype=np.uint8),
            x=xs,
            y=ys,
            showscale=False,
            customdata=custom,  # an object array: validated and copied far faster than nested lists
            hovertemplate="x %{x}, y %{y}<br>GT: <b>%{customdata[0]}</b><br>pred: <b>%{customdata[1]}</b>"
            "<extra></extra>",
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        )
    )
    fig.update_layout(
        margin=dict(l=0, r=0, t=0, b=0),
        height=height or None,
        font=FONT,
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
        dragmode="pan",
    )
    return fig


def delta_bar_figure(
    frame: pd.DataFrame,
    *,
    name_a: str = "A",
    name_b: str = "B",
    sort: SortBy = "value",
    max_bars: int = MAX_BARS,
) -> go.Figure:
    """Per-class IoU change b − a as horizontal bars with paired-bootstrap intervals.

    ``frame`` is :meth:`Comparison.class_frame` (columns name, delta, low, high, significant,
    gt_pixels). Gains are green, losses red; changes whose interval includes 0 are drawn faded.
    At most ``max_bars`` bars (sorted by value: the largest gains and losses); the other classes
    are pooled into one faded bar of their mean change, without an interval.
    """
    ordered = sort_classes(frame.rename(columns={"delta": "value"}), metric="value", sort=sort)
    ordered, pooled, at = limit_rows(ordered, "value", sort, max_bars)
    ordered = _with_pooled_row(ordered, pooled, at, "value")
    delta = ordered["value"].to_numpy(dtype=float)
    defined = ~np.isnan(delta)
    sig = ordered["significant"].fillna(False).to_numpy(dtype=bool)
    colours = [
        ("rgba(46,160,67,{a})" if d >= 0 else "rgba(214,39,40,{a})").format(a=1.0 if s else 0.35)
        for d, s in zip(np.nan_to_num(delta), sig, strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=np.where(defined, delta * 100, 0.0),
            y=[
                f"{n} ({v * 100:+.1f})" if d else f"{n} (n/a)"
                for n, v, d in zip(_labels(ordered["name"]), delta, defined, strict=True)
            ],
            orientation="h",
            marker=dict(color=colours, line=dict(color="#444", width=0.5)),
            error_x=dict(
                type="data",
                symmetric=False,
                array=np.nan_to_num((ordered["high"].to_numpy(dtype=float) - delta) * 100),
                arrayminus=np.nan_to_num((delta - ordered["low"].to_numpy(dtype=float)) * 100),
                color="#333",
                thickness=1.2,
            ),
            text=[
                (
                    f"{v * 100:+.1f} points"
                    + ("" if s else ", interval includes 0" if i != OTHER_INDEX else "")
                )
                if d
                else "n/a"
                for v, d, s, i in zip(delta, defined, sig, ordered["id"], strict=True)
            ],
            textposition="none",
            hovertemplate="<b>%{y}</b><br>IoU change: %{text}<extra></extra>",
        )
    )
    lim = float(np.nanmax(np.abs(np.r_[ordered["low"], ordered["high"], delta, 0.01]))) * 100 * 1.25
    fig.update_layout(
        font=FONT,
        height=max(220, 60 + 22 * len(ordered)),
        margin=dict(l=10, r=60, t=10, b=40),
        xaxis=dict(
            title=f"IoU change, {name_b} − {name_a} (points)",
            range=[-lim, lim],
            zeroline=True,
            zerolinecolor="#333",
            gridcolor="#e5e5e5",
        ),
        yaxis=dict(autorange="reversed", automargin=True, type="category"),
        plot_bgcolor="white",
        showlegend=False,
    )
    return fig


def difference_figure(
    diff: np.ndarray,
    names: Sequence[str],
    *,
    hidden: Sequence[int] = (),
    top_n: int | None = None,
    other: bool = False,
) -> go.Figure:
    """Heatmap of the change in the confusion matrix (b − a, pixels), diverging colours around 0.

    ``top_n`` classes with the largest changes are drawn (default :func:`default_top_n`); with
    ``other=True`` the remaining classes that are not ``hidden`` are pooled into one "(other)" row and
    column (its cells: the net change of the pooled pixels).
    """
    k = diff.shape[0]
    shown = select_classes(np.abs(diff), hidden=hidden, top_n=default_top_n(k) if top_n is None else top_n)
    pooled = np.setdiff1d(np.setdiff1d(np.arange(k), shown), np.asarray(hidden, dtype=np.int64))
    square = diff[:, :k]
    if other and len(pooled):
        sub = pool_other(square, shown, pooled).astype(float)
        labels = [*_labels(names[i] for i in shown), _other_label(len(pooled))]
    else:
        sub = square[np.ix_(shown, shown)].astype(float)
        labels = _labels(names[i] for i in shown)
    lim = max(float(np.abs(sub).max()), 1.0) if sub.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=sub,
            x=labels,
            y=labels,
            colorscale="RdBu_r",
            zmid=0,
            zmin=-lim,
            zmax=lim,
            xgap=1,
            ygap=1,
            colorbar=dict(title=dict(text="Δ pixels (B − A)", side="right"), thickness=14),
            hovertemplate="GT <b>%{y}</b> → predicted <b>%{x}</b><br>change: %{z:+,} px<extra></extra>",
        )
    )
    side = int(min(900, max(420, 150 + 26 * len(labels))))
    fig.update_layout(
        font=FONT,
        height=side,
        margin=dict(l=10, r=10, t=30, b=10),
        plot_bgcolor="white",
        xaxis=dict(
            title="Predicted class", type="category", tickangle=-45, constrain="domain", automargin=True
        ),
        yaxis=dict(
            title="Ground-truth class",
            type="category",
            autorange="reversed",
            scaleanchor="x",
            constrain="domain",
            automargin=True,
        ),
    )
    return fig
