"""Confidence figures (plotly) — reliability diagram, risk–coverage curve, threshold explorer.

Each function returns a ``plotly.graph_objects.Figure`` and displays nothing; every number comes
from :mod:`segviz.confidence` (these functions only draw).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segviz.confidence import Calibration, RiskCoverage, ThresholdExplorer

FONT = dict(family="Liberation Sans, Arial, sans-serif", size=13)
ACCURACY_COLOUR = "rgb(0,114,178)"  # Okabe–Ito blue
GAP_COLOUR = "rgba(213,94,0,0.55)"  # Okabe–Ito vermillion
IDEAL_COLOUR = "rgb(120,120,120)"


def reliability_figure(cal: Calibration, *, title: str | None = None) -> go.Figure:
    """Top-label reliability diagram: accuracy per confidence bin (bars) against the diagonal, the
    gap to each bin's mean confidence shaded, and the pixels per bin below (log scale). Empty bins
    draw nothing (undefined, not 0).

    Example:
        >>> c = Calibration(np.array([0, 4]), np.array([0, 3]), np.array([0.0, 3.6]))
        >>> fig = reliability_figure(c)
        >>> [t.name for t in fig.data], fig.data[0].y.tolist()
        (['accuracy', 'gap to confidence', 'perfect calibration', 'pixels'], [0.75])
    """
    b = cal.bins
    centres = (np.arange(b) + 0.5) / b
    filled = cal.count > 0
    acc, conf = cal.accuracy[filled], cal.confidence[filled]
    x = centres[filled]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.04)
    custom = np.stack([cal.count[filled], conf, acc], axis=1).tolist()
    fig.add_trace(
        go.Bar(
            x=x,
            y=acc,
            width=1 / b,
            name="accuracy",
            marker=dict(color=ACCURACY_COLOUR, line=dict(color="white", width=1)),
            customdata=custom,
            hovertemplate="confidence %{customdata[1]:.3f}<br>accuracy %{customdata[2]:.3f}"
            "<br>%{customdata[0]:,} px<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=conf - acc,
            base=acc,
            width=1 / b,
            name="gap to confidence",
            marker=dict(color=GAP_COLOUR, line=dict(color="rgb(213,94,0)", width=1)),
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line=dict(color=IDEAL_COLOUR, dash="dash"),
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=cal.count[filled],
            width=1 / b,
            name="pixels",
            marker=dict(color="rgb(150,150,150)"),
            hovertemplate="%{y:,} px<extra></extra>",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    heading = f"ECE {100 * cal.ece:.2f} · ACE {100 * cal.ace:.2f} · MCE {100 * cal.mce:.2f} (%, {b} bins)"
    fig.update_layout(
        title=html.escape(title, quote=False) + "<br><sup>" + heading + "</sup>" if title else heading,
        barmode="overlay",
        font=FONT,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.18, x=0, yanchor="top"),
        margin=dict(l=60, r=20, t=70, b=100),
        height=520,
    )
    fig.update_xaxes(range=[0, 1], row=1, col=1)
    fig.update_xaxes(range=[0, 1], title_text="confidence", row=2, col=1)
    fig.update_yaxes(range=[0, 1], title_text="accuracy", row=1, col=1)
    fig.update_yaxes(type="log", title_text="pixels", row=2, col=1)
    return fig


def risk_coverage_figure(
    curves: RiskCoverage | Sequence[RiskCoverage],
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Risk (1 − pixel accuracy of what is kept) against coverage (share kept), most confident
    first; for pixel curves also the oracle that keeps every correct pixel first. The legend gives
    each curve's AURC and E-AURC.

    Example:
        >>> from segviz.confidence import risk_coverage_pixels
        >>> rc = risk_coverage_pixels(np.array([0, 5, 10]), np.array([3, 1, 0]))
        >>> fig = risk_coverage_figure(rc)
        >>> [t.name.split(" (")[0] for t in fig.data], len(fig.data[0].x)
        (['pixels', 'oracle'], 3)
    """
    curves = [curves] if isinstance(curves, RiskCoverage) else list(curves)
    names = list(names) if names is not None else [c.over for c in curves]
    fig = go.Figure()
    for rc, name in zip(curves, names, strict=True):
        fig.add_trace(
            go.Scatter(
                x=rc.coverage,
                y=rc.risk,
                mode="lines",
                name=f"{html.escape(name, quote=False)} (AURC {100 * rc.aurc:.2f}, E-AURC {100 * rc.e_aurc:.2f})",
                customdata=rc.threshold,
                hovertemplate="coverage %{x:.3f}<br>risk %{y:.4f}<br>threshold %{customdata:.3f}<extra></extra>",
            )
        )
    pixel_curves = [rc for rc in curves if rc.over == "pixels" and len(rc.risk)]
    if pixel_curves:
        rc = pixel_curves[0]
        error = float(rc.risk[-1])
        cov = np.linspace(1e-3, 1, 400)
        oracle = np.maximum(0.0, (cov - (1 - error)) / cov)
        fig.add_trace(
            go.Scatter(
                x=cov,
                y=oracle,
                mode="lines",
                name=f"oracle (AURC {100 * rc.optimal:.2f})",
                line=dict(color=IDEAL_COLOUR, dash="dash"),
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        title=html.escape(title, quote=False) if title else "Risk–coverage (AURC, E-AURC in %)",
        xaxis=dict(title="coverage (share kept, most confident first)", range=[0, 1]),
        yaxis=dict(title="risk (1 − pixel accuracy of what is kept)", rangemode="tozero"),
        font=FONT,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.18, x=0, yanchor="top"),
        margin=dict(l=60, r=20, t=70, b=100),
    )
    return fig


def threshold_figure(
    explorer: ThresholdExplorer,
    *,
    threshold: float | None = None,
    class_names: Sequence[str] | None = None,
    classes: Sequence[int] = (),
    title: str | None = None,
) -> go.Figure:
    """Pixel accuracy, mIoU and the share of pixels kept on the pixels with confidence ≥ t, for
    every t = j/255; ``classes`` (indices) adds their IoU curves; ``threshold`` marks the chosen t.

    Example:
        >>> cm = np.zeros((256, 1, 2), np.int64); cm[:, 0, 0] = 5
        >>> fig = threshold_figure(ThresholdExplorer(cm, 5), threshold=0.5)
        >>> [t.name for t in fig.data], len(fig.data[0].x)
        (['pixel accuracy', 'mIoU', 'share kept'], 256)
    """
    curve = explorer.curve()
    t = curve["threshold"]
    fig = go.Figure()
    for key, name, dash in (
        ("pixel_accuracy", "pixel accuracy", None),
        ("mean_iou", "mIoU", None),
        ("kept_share", "share kept", "dot"),
    ):
        fig.add_trace(
            go.Scatter(
                x=t,
                y=curve[key],
                mode="lines",
                name=name,
                line=dict(dash=dash),
                hovertemplate=f"t ≥ %{{x:.3f}}<br>{name} %{{y:.4f}}<extra></extra>",
            )
        )
    for c in classes:
        label = class_names[c] if class_names is not None else f"class {c}"
        label = html.escape(str(label), quote=False)
        fig.add_trace(
            go.Scatter(
                x=t,
                y=curve["iou"][:, c],
                mode="lines",
                name=f"IoU {label}",
                line=dict(width=1),
                hovertemplate=f"t ≥ %{{x:.3f}}<br>IoU {label} %{{y:.4f}}<extra></extra>",
            )
        )
    if threshold is not None:
        fig.add_vline(x=float(threshold), line=dict(color="black", width=1, dash="dash"))
    fig.update_layout(
        title=html.escape(title, quote=False) if title else "Metrics on the pixels with confidence ≥ t",
        xaxis=dict(title="confidence threshold t", range=[0, 1]),
        yaxis=dict(title="value", range=[0, 1.02]),
        font=FONT,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.18, x=0, yanchor="top"),
        margin=dict(l=60, r=20, t=70, b=100),
    )
    return fig
