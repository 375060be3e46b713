"""Plotly figures. Each function returns a ``plotly.graph_objects.Figure`` and displays nothing.

The confusion-matrix heatmap carries a transparent scatter trace with one marker per cell centre:
Streamlit forwards clicks on scatter points but not on heatmap cells (``shared/NOTES.md``). Each
marker's ``customdata`` is ``[gt_index, pred_index, count]`` as plain Python lists.
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

from segviz.classes import ClassTable

Metric = Literal["iou", "accuracy", "precision", "dice"]
SortBy = Literal["value", "name", "pixels", "table"]
Normalize = Literal["none", "row", "column"]
Diagonal = Literal["show", "dim"]

METRIC_LABELS = {"iou": "IoU", "accuracy": "Accuracy (recall)", "precision": "Precision", "dice": "Dice"}
FONT = dict(family="Liberation Sans, Arial, sans-serif", size=13)
INVALID_NAME = "(invalid)"


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


def class_bar_figure(
    frame: pd.DataFrame,
    table: ClassTable,
    *,
    metric: Metric = "iou",
    sort: SortBy = "value",
    intervals: pd.DataFrame | None = None,
    title: str | None = None,
    max_height: int | None = None,
) -> go.Figure:
    """Horizontal bars of a per-class metric in class colours; undefined classes read "n/a".

    ``frame`` has columns ``id``, ``name``, ``gt_pixels`` and ``metric`` (e.g. from
    :meth:`Evaluation.class_frame`); ``intervals`` optionally has ``low``/``high`` per ``id``.
    """
    ordered = sort_classes(frame, metric=metric, sort=sort)
    colours = {int(i): _rgb(c) for i, c in zip(table.ids, table.colors, strict=True)}
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
    if intervals is not None:
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


def confusion_figure(
    cm: np.ndarray,
    names: Sequence[str],
    *,
    normalize: Normalize = "none",
    log: bool = False,
    hidden: Sequence[int] = (),
    top_n: int | None = None,
    diagonal: Diagonal = "show",
    show_invalid: bool = False,
    annotate: bool | None = None,
    height: int | None = None,
) -> go.Figure:
    """Confusion-matrix heatmap, rows = ground truth, columns = prediction, in class order.

    ``cm`` is (K, K+1) with the invalid-prediction column last. Row/column percentages are always of
    the full row/column (hiding a class does not change them). ``diagonal="dim"`` draws correct
    pixels in grey and scales colours on the errors only. Clicks arrive as the scatter trace's
    ``customdata`` ``[gt_index, pred_index, count]`` (``pred_index == K`` for invalid).
    """
    k = cm.shape[0]
    shown = select_classes(cm, hidden=hidden, top_n=top_n)
    cols = np.append(shown, k) if show_invalid else shown
    all_names = [*_labels(names), INVALID_NAME]
    sub = cm[np.ix_(shown, cols)].astype(float)
    row_tot = cm.sum(axis=1)[shown][:, None].astype(float)
    col_tot = np.append(cm[:, :k].sum(axis=0), cm[:, k].sum())[cols][None, :].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_pct = np.where(row_tot > 0, sub / row_tot * 100, np.nan)
        col_pct = np.where(col_tot > 0, sub / col_tot * 100, np.nan)
    value = {"none": sub, "row": row_pct, "column": col_pct}[normalize]
    is_diag = shown[:, None] == cols[None, :]
    z = value.copy()
    if diagonal == "dim":
        z[is_diag] = np.nan
    colour_z = np.log10(z + 1) if log and normalize == "none" else (np.log10(z + 0.01) if log else z)
    x_names = [all_names[c] for c in cols]
    y_names = [all_names[r] for r in shown]
    unit = "px" if normalize == "none" else "%"
    hover = np.empty(sub.shape, dtype=object)
    for i, r in enumerate(shown):
        for j, c in enumerate(cols):
            hover[i, j] = (
                f"GT <b>{all_names[r]}</b> → predicted <b>{all_names[c]}</b><br>"
                f"{int(sub[i, j]):,} px<br>{_fmt_pct(row_pct[i, j])} of GT {all_names[r]} (row)<br>"
                f"{_fmt_pct(col_pct[i, j])} of predicted {all_names[c]} (column)"
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
    n = max(len(shown), len(cols))
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
    yy, xx = np.meshgrid(np.arange(len(shown)), np.arange(len(cols)), indexing="ij")
    # Object arrays, not lists: plotly validates and copies them ~10x faster at 150 classes, and
    # still sends them as plain JSON lists (a click returns customdata as a list, shared/NOTES.md).
    custom = np.empty((yy.size, 3), dtype=object)
    custom[:, 0] = np.asarray(shown, dtype=np.int64)[yy.ravel()].tolist()
    custom[:, 1] = np.asarray(cols, dtype=np.int64)[xx.ravel()].tolist()
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
    Full-resolution per-pixel hover is far too heavy for the browser (``shared/NOTES.md``).
    """
    h, w = gt_indices.shape
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
    frame: pd.DataFrame, *, name_a: str = "A", name_b: str = "B", sort: SortBy = "value"
) -> go.Figure:
    """Per-class IoU change b − a as horizontal bars with paired-bootstrap intervals.

    ``frame`` is :meth:`Comparison.class_frame` (columns name, delta, low, high, significant,
    gt_pixels). Gains are green, losses red; changes whose interval includes 0 are drawn faded.
    """
    ordered = sort_classes(frame.rename(columns={"delta": "value"}), metric="value", sort=sort)
    delta = ordered["value"].to_numpy(dtype=float)
    defined = ~np.isnan(delta)
    sig = ordered["significant"].to_numpy(dtype=bool)
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
                (f"{v * 100:+.1f} points" + ("" if s else ", interval includes 0")) if d else "n/a"
                for v, d, s in zip(delta, defined, sig, strict=True)
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
    diff: np.ndarray, names: Sequence[str], *, hidden: Sequence[int] = (), top_n: int | None = None
) -> go.Figure:
    """Heatmap of the change in the confusion matrix (b − a, pixels), diverging colours around 0."""
    shown = select_classes(np.abs(diff), hidden=hidden, top_n=top_n)
    sub = diff[np.ix_(shown, shown)].astype(float)
    lim = max(float(np.abs(sub).max()), 1.0)
    labels = _labels(names[i] for i in shown)
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
    side = int(min(900, max(420, 150 + 26 * len(shown))))
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
