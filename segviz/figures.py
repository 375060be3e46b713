"""Plotly figures. Each function returns a ``plotly.graph_objects.Figure`` and displays nothing.

The confusion-matrix heatmap carries a transparent scatter trace with one marker per cell centre:
Streamlit forwards clicks on scatter points but not on heatmap cells (``shared/NOTES.md``). Each
marker's ``customdata`` is ``[gt_index, pred_index, count]`` as plain Python lists.

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
from collections.abc import Sequence
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
    names = _labels(ordered["name"])
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
        customdata=np.stack([ordered["gt_pixels"].to_numpy()], axis=1).tolist(),
        hovertemplate=f"<b>%{{y}}</b><br>{label}: %{{text}}<br>GT pixels: %{{customdata[0]:,}}<extra></extra>",
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
) -> go.Figure:
    """Confusion-matrix heatmap, rows = ground truth, columns = prediction, in class order.

    ``cm`` is (K, K+1) with the invalid-prediction column last. ``top_n`` classes are drawn (the
    most confused; default :func:`default_top_n`), and with ``other=True`` the remaining classes
    that are not ``hidden`` are pooled into one "(other N classes)" row and column (the report
    does this; without it the classes beyond the top N are simply not drawn). Row/column percentages are always
    of the full row/column (hiding a class does not change them). ``diagonal="dim"`` draws correct
    pixels (and the "(other)" × "(other)" cell) in grey and scales colours on the errors only.
    Clicks arrive as the scatter trace's ``customdata`` ``[gt_index, pred_index, count]``
    (``pred_index == K`` for invalid, :data:`OTHER_INDEX` for "(other)").
    """
    k = cm.shape[0]
    top_n = default_top_n(k) if top_n is None else top_n
    shown = select_classes(cm, hidden=hidden, top_n=top_n)
    pooled = np.setdiff1d(np.setdiff1d(np.arange(k), shown), np.asarray(hidden, dtype=np.int64))
    pool = bool(other and len(pooled))
    row_ids = np.append(shown, OTHER_INDEX) if pool else shown
    col_ids = np.append(row_ids, k) if show_invalid else row_ids
    all_row_tot = cm.sum(axis=1)
    all_col_tot = np.append(cm[:, :k].sum(axis=0), cm[:, k].sum())
    if pool:
        table = pool_other(cm, shown, pooled)
        sub = (table if show_invalid else table[:, :-1]).astype(float)
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
    value = {"none": sub, "row": row_pct, "column": col_pct}[normalize]
    is_diag = row_ids[:, None] == col_ids[None, :]
    z = value.copy()
    if diagonal == "dim":
        z[is_diag] = np.nan
    colour_z = np.log10(z + 1) if log and normalize == "none" else (np.log10(z + 0.01) if log else z)
    label = dict(enumerate(_labels(names))) | {k: INVALID_NAME, OTHER_INDEX: _other_label(len(pooled))}
    x_names = [label[c] for c in col_ids]
    y_names = [label[r] for r in row_ids]
    unit = "px" if normalize == "none" else "%"
    hover = np.empty(sub.shape, dtype=object)
    for i, r in enumerate(row_ids):
        for j, c in enumerate(col_ids):
            hover[i, j] = (
                f"GT <b>{label[r]}</b> → predicted <b>{label[c]}</b><br>"
                f"{int(sub[i, j]):,} px<br>{_fmt_pct(row_pct[i, j])} of GT {label[r]} (row)<br>"
                f"{_fmt_pct(col_pct[i, j])} of predicted {label[c]} (column)"
            )
    traces: list[go.BaseTraceType] = []
    if diagonal == "dim":
        diag_z = np.where(is_diag, 1.0, np.nan)
        traces.append(
            go.Heatmap(
                z=diag_z,
                x=x_names,
                y=y_names,
                colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]],
                showscale=False,
                hoverinfo="skip",
                xgap=1,
                ygap=1,
            )
        )
    colorbar_title = {"none": "pixels", "row": "% of GT row", "column": "% of pred column"}[normalize]
    heat = go.Heatmap(
        z=colour_z,
        x=x_names,
        y=y_names,
        colorscale="Blues",
        xgap=1,
        ygap=1,
        hoverinfo="skip",  # the hover lives on the click layer, which must win it (shared/NOTES.md)
        colorbar=dict(
            title=dict(text=colorbar_title + (" (log)" if log else ""), side="right"), thickness=14
        ),
        zmin=0 if not log else None,
    )
    if log:
        ticks = _log_ticks(np.nanmax(z) if np.isfinite(z).any() else 1, counts=normalize == "none")
        heat.colorbar.tickvals = [math.log10(t + (1 if normalize == "none" else 0.01)) for t in ticks]
        heat.colorbar.ticktext = [f"{t:,.0f}" if normalize == "none" else f"{t:g}" for t in ticks]
    traces.append(heat)
    n = max(len(row_ids), len(col_ids))
    if annotate is None:
        annotate = n <= 20
    if annotate:
        text = np.vectorize(
            lambda v: (
                ""
                if not np.isfinite(v) or v == 0
                else (
                    f"{v:,.0f}"
                    if unit == "px" and v < 1e4
                    else (
                        f"{v / 1e3:,.0f}k"
                        if unit == "px" and v < 1e7
                        else (f"{v / 1e6:,.0f}M" if unit == "px" else f"{v:.1f}")
                    )
                )
            ),
            otypes=[object],
        )(value)
        heat.text = text
        heat.texttemplate = "%{text}"
        heat.textfont = dict(size=10 if n > 12 else 11)
    yy, xx = np.meshgrid(np.arange(len(row_ids)), np.arange(len(col_ids)), indexing="ij")
    # Object arrays, not lists: plotly validates and copies them ~10x faster at 150 classes, and
    # still sends them as plain JSON lists (a click returns customdata as a list, shared/NOTES.md).
    custom = np.empty((yy.size, 3), dtype=object)
    custom[:, 0] = np.asarray(row_ids, dtype=np.int64)[yy.ravel()].tolist()
    custom[:, 1] = np.asarray(col_ids, dtype=np.int64)[xx.ravel()].tolist()
    custom[:, 2] = np.asarray(sub, dtype=np.int64)[yy.ravel(), xx.ravel()].tolist()
    traces.append(
        go.Scatter(
            x=np.asarray(x_names, dtype=object)[xx.ravel()],
            y=np.asarray(y_names, dtype=object)[yy.ravel()],
            mode="markers",
            marker=dict(size=max(4, min(40, 600 // max(n, 1))), opacity=0, color="black"),
            selected=dict(marker=dict(opacity=0)),
            unselected=dict(marker=dict(opacity=0)),
            customdata=custom,
            text=np.asarray(hover, dtype=object)[yy.ravel(), xx.ravel()],
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
            name="cells",
        )
    )
    fig = go.Figure(traces)
    side = height or int(min(900, max(420, 150 + 26 * n)))
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
    return fig


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
