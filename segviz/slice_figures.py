"""Figures and tables of slices (:mod:`segviz.slices`). Each figure function returns a
``plotly.graph_objects.Figure`` and displays nothing; tables are plain DataFrames."""

from __future__ import annotations

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
