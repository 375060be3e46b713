"""Figures and tables of slices (:mod:`segviz.slices`). Each figure function returns a
``plotly.graph_objects.Figure`` and displays nothing; tables are plain DataFrames."""

from __future__ import annotations

import functools
import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from segviz.figures import FONT
from segviz.slices import WorstSlices

_LABELS = {
    "pixel_accuracy": "Pixel accuracy",
    "mean_iou": "mIoU",
    "mean_pixel_accuracy": "Mean pixel accuracy",
    "frequency_weighted_iou": "FWIoU",
    "mean_dice": "Mean Dice",
}


def slice_bar_figure(
    frame: pd.DataFrame, *, metric: str = "mean_iou", overall: float | None = None
) -> go.Figure:
    """The metric per slice value as bars with their bootstrap intervals.

    Args:
        frame: :meth:`segviz.slices.Slicer.frame` (columns column, value, images, ``metric``,
            ``metric``_low, ``metric``_high, too_few).
        metric: one of the summary metrics.
        overall: the metric on all images, drawn as a dashed line (None: no line).

    Values with too few images are drawn faded and say so on hover; undefined values as "n/a".

    Example:
        >>> f = pd.DataFrame({"column": ["light"] * 2, "value": ["day", "dusk"], "images": [30, 4],
        ...     "mean_iou": [0.6, 0.3], "mean_iou_low": [0.55, 0.2], "mean_iou_high": [0.65, 0.4],
        ...     "too_few": [False, True]})
        >>> fig = slice_bar_figure(f, overall=0.55)
        >>> list(fig.data[0].x), fig.data[0].marker.color[1]
        (['day', 'dusk'], 'rgba(31,119,180,0.35)')
    """
    value = frame[metric].to_numpy(dtype=float)
    defined = ~np.isnan(value)
    low = frame[f"{metric}_low"].to_numpy(dtype=float)
    high = frame[f"{metric}_high"].to_numpy(dtype=float)
    few = frame["too_few"].to_numpy(dtype=bool) if "too_few" in frame else np.zeros(len(frame), bool)
    labels = [html.escape(str(v), quote=False) for v in frame["value"]]
    hover = [
        (f"{100 * v:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]" if d else "n/a")
        + f" · {n:,} images"
        + (" · too few images" if f else "")
        for v, lo, hi, d, n, f in zip(value, low, high, defined, frame["images"], few, strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=np.where(defined, value * 100, 0.0),
            marker=dict(color=["rgba(31,119,180,0.35)" if f else "rgba(31,119,180,1)" for f in few]),
            error_y=dict(
                type="data",
                symmetric=False,
                array=np.nan_to_num((high - value) * 100),
                arrayminus=np.nan_to_num((value - low) * 100),
                color="#333",
                thickness=1.2,
            ),
            text=hover,
            textposition="none",
            hovertemplate="<b>%{x}</b><br>%{text}<extra></extra>",
        )
    )
    column = html.escape(str(frame["column"].iloc[0]), quote=False) if len(frame) else ""
    if overall is not None and not np.isnan(overall):
        fig.add_hline(y=overall * 100, line_dash="dash", line_color="#666", annotation_text="all images")
    fig.update_layout(
        font=FONT,
        height=360,
        margin=dict(l=10, r=10, t=10, b=60),
        xaxis=dict(title=column, type="category"),
        yaxis=dict(title=f"{_LABELS.get(metric, metric)} (%)", range=[0, 100], gridcolor="#e5e5e5"),
        plot_bgcolor="white",
        showlegend=False,
    )
    return fig


def worst_slices_table(worst: WorstSlices) -> pd.DataFrame:
    """The ranked worst slices as a display table: percentages in points, p and q values, and
    whether each difference is significant after Benjamini–Hochberg.

    Example:
        >>> from segviz.slices import Slicer
        >>> from segviz.stats import _example_evaluation
        >>> s = Slicer(_example_evaluation(), pd.DataFrame({"light": ["day", "dusk"]}), min_images=1, resamples=20)
        >>> worst_slices_table(s.worst()).columns.tolist()[:4]
        ['rank', 'slice', 'images', 'share %']
    """
    f = worst.frame
    metric = worst.metric
    label = _LABELS.get(metric, metric)
    return pd.DataFrame(
        {
            "rank": f["rank"],
            "slice": f["slice"],
            "images": f["images"],
            "share %": (100 * f["share"]).round(1),
            f"{label} %": (100 * f[metric]).round(2),
            "rest %": (100 * f["rest"]).round(2),
            "drop (points)": (100 * f["drop"]).round(2),
            "score": (100 * f["score"]).round(2),
            "Δ to rest, low": (100 * f["delta_low"]).round(2),
            "Δ to rest, high": (100 * f["delta_high"]).round(2),
            "p": f["p_value"],
            "q (BH)": f["q_value"],
            "significant": f["significant"],
        }
    )


def slice_compare_figure(frame: pd.DataFrame, *, a: str = "A", b: str = "B", column: str = "") -> go.Figure:
    """Model b − model a per slice value: a horizontal bar per value with its paired interval.

    Args:
        frame: :func:`segviz.slices.compare_by` (columns value, images, a, b, delta, low, high,
            significant, too_few).
        a, b: the models' names (hover and axis title).
        column: the attribute (axis title).

    Bars whose interval excludes 0 are solid (green: b better, red: b worse), the others grey;
    values with too few images are faded. Deltas are in points (× 100).

    Example:
        >>> f = pd.DataFrame({"value": ["day", "dusk"], "images": [30, 4], "a": [0.6, 0.5],
        ...     "b": [0.65, 0.45], "delta": [0.05, -0.05], "low": [0.02, -0.09], "high": [0.08, 0.01],
        ...     "significant": [True, False], "too_few": [False, True]})
        >>> fig = slice_compare_figure(f, a="m1", b="m2")
        >>> list(fig.data[0].y), [round(float(v), 1) for v in fig.data[0].x], fig.data[0].marker.color
        (['day', 'dusk'], [5.0, -5.0], ('rgba(44,160,44,1)', 'rgba(127,127,127,0.35)'))
    """
    delta = frame["delta"].to_numpy(dtype=float)
    low = frame["low"].to_numpy(dtype=float)
    high = frame["high"].to_numpy(dtype=float)
    colours = []
    for d, sig, few in zip(delta, frame["significant"], frame["too_few"], strict=True):
        rgb = ("44,160,44" if d > 0 else "214,39,40") if sig else "127,127,127"
        colours.append(f"rgba({rgb},{0.35 if few else 1})")
    esc = functools.partial(html.escape, quote=False)
    hover = [
        f"{esc(b)} − {esc(a)}: {100 * d:+.2f} points [{100 * lo:+.2f}, {100 * hi:+.2f}] · {n:,} images"
        + (" · too few images" if few else "")
        for d, lo, hi, n, few in zip(delta, low, high, frame["images"], frame["too_few"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            y=[esc(str(v)) for v in frame["value"]],
            x=np.nan_to_num(delta * 100),
            orientation="h",
            marker=dict(color=colours),
            error_x=dict(
                type="data",
                symmetric=False,
                array=np.nan_to_num((high - delta) * 100),
                arrayminus=np.nan_to_num((delta - low) * 100),
                color="#333",
                thickness=1.2,
            ),
            text=hover,
            textposition="none",
            hovertemplate="<b>%{y}</b><br>%{text}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#666")
    fig.update_layout(
        font=FONT,
        height=max(160, 60 + 34 * len(frame)),
        margin=dict(l=10, r=10, t=10, b=40),
        xaxis=dict(
            title=f"mIoU {esc(b)} − {esc(a)} (points)",
            gridcolor="#e5e5e5",
            zeroline=False,
            range=_padded_range(100 * np.r_[low, high, 0.0]),
        ),
        yaxis=dict(title=esc(column), type="category", autorange="reversed"),
        plot_bgcolor="white",
        showlegend=False,
    )
    return fig


def _padded_range(values: np.ndarray) -> list[float]:
    """[lo, hi] around the finite ``values`` (0 included by the caller), with 8 % room each side."""
    finite = values[np.isfinite(values)]
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.08 * (hi - lo) or 1.0
    return [lo - pad, hi + pad]
