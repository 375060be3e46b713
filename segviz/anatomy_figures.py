"""Figures of the error anatomy (:mod:`segviz.anatomy`). Each function returns a plotly figure or an
array and displays nothing.

Stacked bars carry, per segment, ``customdata = [class_index, error_type, pixels]`` (plain Python
lists) so a click on "person · segment" can select the images ranked by those pixels
(:meth:`segviz.anatomy.Anatomy.images_for_error`).
"""

from __future__ import annotations

import html
from typing import Literal

import numpy as np
import plotly.graph_objects as go

from segviz.anatomy import Anatomy, ImageAnatomy, error_type_map
from segviz.figures import FONT

#: Stack order and colours (IoU, then the three error kinds; colour-blind-safe Okabe-Ito hues).
PARTS = (
    ("iou", "IoU (TP)", "#9e9e9e", None),
    ("boundary_error", "boundary", "#e69f00", "boundary"),
    ("extent_error", "extent", "#56b4e9", "extent"),
    ("segment_error", "segment (missed / invented)", "#d55e00", "segment"),
)
#: Colour of each code of :func:`segviz.anatomy.error_type_map` (0 correct = transparent/none).
ERROR_TYPE_COLOURS = np.array(
    [
        (0, 0, 0),  # 0 correct / not this class (drawn transparent)
        (255, 200, 150),  # 1 FP boundary
        (255, 100, 150),  # 2 FP extent
        (230, 0, 0),  # 3 FP segment (invented)
        (150, 200, 255),  # 4 FN boundary
        (150, 100, 255),  # 5 FN extent
        (0, 0, 230),  # 6 FN segment (missed)
    ],
    dtype=np.uint8,
)
ERROR_TYPE_NAMES = (
    "correct",
    "FP boundary",
    "FP extent",
    "FP segment (invented)",
    "FN boundary",
    "FN extent",
    "FN segment (missed)",
)
AnatomySort = Literal["iou", "segment", "boundary", "extent", "name", "table"]


def anatomy_class_figure(
    anatomy: Anatomy, *, sort: AnatomySort = "iou", title: str | None = None, max_height: int | None = None
) -> go.Figure:
    """Per-class stacked horizontal bars: IoU + boundary + extent + segment errors = 100 % of the
    class's union TP + FP + FN. Classes with an empty union are left out (nothing to split).

    Example:
        >>> from segviz.anatomy import Anatomy, fields
        >>> from segviz.classes import ClassTable
        >>> t = ClassTable.from_rows([(0, "a", (0, 0, 0), False), (1, "b", (9, 9, 9), False)])
        >>> row = np.zeros(2 + len(fields()), np.int64); row[1:9] = [1, 6, 2, 1, 0, 0, 0, 1]
        >>> fig = anatomy_class_figure(Anatomy(t, ["x"], row[None]))
        >>> [round(float(b.x[0]), 1) for b in fig.data]
        [60.0, 20.0, 10.0, 10.0]
    """
    frame = anatomy.class_frame()
    frame = frame[frame["union"] > 0].copy()
    frame["index"] = frame.index
    if sort in ("iou", "name"):
        frame = frame.sort_values(sort, ascending=sort == "name", kind="stable")
    elif sort != "table":
        frame = frame.sort_values(f"{sort}_error", ascending=False, kind="stable")
    names = [html.escape(str(n), quote=False) for n in frame["name"]]  # names are untrusted text
    fig = go.Figure()
    for column, label, colour, kind in PARTS:
        share = frame[column].to_numpy(dtype=float) * 100
        if kind is None:
            pixels = frame["tp"].to_numpy()
        else:
            pixels = (frame[f"fp_{kind}"] + frame[f"fn_{kind}"]).to_numpy()
        custom = [[int(i), kind or "tp", int(n)] for i, n in zip(frame["index"], pixels, strict=True)]
        fig.add_trace(
            go.Bar(
                x=share,
                y=names,
                orientation="h",
                name=label,
                marker=dict(color=colour, line=dict(color="white", width=0.5)),
                customdata=custom,
                hovertemplate=f"<b>%{{y}}</b><br>{label}: %{{x:.1f}} % of the union"
                "<br>%{customdata[2]:,} px<extra></extra>",
            )
        )
    height = 80 + 22 * len(names)
    if max_height is not None:
        height = min(height, max_height)
    fig.update_layout(
        barmode="stack",
        title=title,
        font=FONT,
        height=max(height + 30, 250),
        margin=dict(l=10, r=20, t=(40 if title else 10) + 30, b=40),
        xaxis=dict(title="% of the class's union (TP + FP + FN)", range=[0, 100], gridcolor="#e5e5e5"),
        yaxis=dict(autorange="reversed", automargin=True, type="category"),
        plot_bgcolor="white",
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", traceorder="normal"),
    )
    return fig


def anatomy_split_figure(anatomy: Anatomy, *, title: str | None = None) -> go.Figure:
    """Dataset-level split as two stacked bars of 100 %: the mean over classes (the paper's mIoU +
    mean E/U shares) and all pixels pooled (Σ TP and Σ errors over classes)."""
    frame = anatomy.class_frame()
    defined = frame[frame["union"] > 0]
    pooled_union = max(int(defined["union"].sum()), 1)
    fig = go.Figure()
    for column, label, colour, kind in PARTS:
        mean = float(defined[column].mean()) * 100 if len(defined) else 0.0
        if kind is None:
            pooled = defined["tp"].sum()
        else:
            pooled = (defined[f"fp_{kind}"] + defined[f"fn_{kind}"]).sum()
        fig.add_trace(
            go.Bar(
                x=[mean, 100 * float(pooled) / pooled_union],
                y=["mean over classes", "all pixels"],
                orientation="h",
                name=label,
                marker=dict(color=colour),
                customdata=[[-1, kind or "tp", int(pooled)]] * 2,
                hovertemplate=f"{label}: %{{x:.1f}} %<extra></extra>",
                text=[f"{mean:.0f}", f"{100 * float(pooled) / pooled_union:.0f}"],
                textposition="inside",
            )
        )
    fig.update_layout(
        barmode="stack",
        title=title,
        font=FONT,
        height=230,
        margin=dict(l=10, r=20, t=(40 if title else 10) + 40, b=40),
        xaxis=dict(title="% of the union (TP + FP + FN)", range=[0, 100]),
        yaxis=dict(autorange="reversed", automargin=True),
        plot_bgcolor="white",
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", traceorder="normal"),
    )
    return fig


def error_type_overlay(
    image: ImageAnatomy,
    gt: np.ndarray,
    pred: np.ndarray,
    class_index: int | None = None,
    *,
    show: tuple[int, ...] = (1, 2, 3, 4, 5, 6),
) -> np.ndarray:
    """uint8 (H, W, 4) RGBA picture of the error types for the image view (transparent where there
    is no error of a shown type); ``show`` lists the codes of :data:`ERROR_TYPE_NAMES` to draw
    (the legend's toggles).

    Example:
        >>> from segviz.anatomy import analyse_indices
        >>> g = np.zeros((4, 6), int); g[:, 2:4] = 1
        >>> p = np.zeros((4, 6), int); p[:, 2:5] = 1
        >>> rgba = error_type_overlay(analyse_indices(g, p, 2, width=1), g, p, 1)
        >>> rgba[0, 4].tolist(), rgba[0, 0].tolist()
        ([255, 200, 150, 255], [0, 0, 0, 0])
    """
    codes = error_type_map(image, gt, pred, class_index)
    out = np.zeros((*codes.shape, 4), np.uint8)
    on = np.isin(codes, [c for c in show if c > 0])
    out[on, :3] = ERROR_TYPE_COLOURS[codes[on]]
    out[on, 3] = 255
    return out


def error_legend() -> list[tuple[str, str]]:
    """(name, CSS colour) of each error type, for a legend with toggles."""
    return [
        (name, "rgb({},{},{})".format(*ERROR_TYPE_COLOURS[i])) for i, name in enumerate(ERROR_TYPE_NAMES) if i
    ]


HIGHLIGHT = (255, 220, 0)


def highlight_picture(
    photo: np.ndarray | None,
    mask: np.ndarray,
    size: tuple[int, int],
    *,
    colour: tuple[int, int, int] = HIGHLIGHT,
) -> np.ndarray:
    """uint8 (h, w, 3) thumbnail at ``size`` = (w, h): the photo (grey when None) dimmed to grey,
    with the pixels of ``mask`` (bool (H, W)) in ``colour``. A display pixel is coloured when it
    covers at least one masked pixel, so one-pixel boundary errors survive the downscale.

    Example:
        >>> m = np.zeros((4, 4), bool); m[0, 0] = True
        >>> pic = highlight_picture(None, m, (2, 2))
        >>> pic[0, 0].tolist(), pic[1, 1].tolist()
        ([255, 220, 0], [64, 64, 64])
    """
    from PIL import Image

    h, w = mask.shape
    if photo is None or photo.shape[:2] != (h, w):
        grey = np.full((size[1], size[0]), 128, np.uint8)
    else:
        grey = np.asarray(Image.fromarray(photo).convert("L").resize(size, Image.Resampling.BILINEAR))
    out = np.repeat((grey // 2)[..., None], 3, axis=2)
    covered = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BOX)) > 0
    out[covered] = colour
    return out


def blend_overlay(photo: np.ndarray | None, rgba: np.ndarray, *, opacity: float = 0.85) -> np.ndarray:
    """uint8 (H, W, 3): an RGBA overlay (:func:`error_type_overlay`) over the photo dimmed to grey
    (a neutral grey when ``photo`` is None), each coloured pixel at ``opacity``.

    Example:
        >>> rgba = np.zeros((1, 2, 4), np.uint8); rgba[0, 1] = (200, 0, 0, 255)
        >>> blend_overlay(None, rgba, opacity=1.0).tolist()
        [[[64, 64, 64], [200, 0, 0]]]
    """
    h, w = rgba.shape[:2]
    if photo is None or photo.shape[:2] != (h, w):
        base = np.full((h, w, 3), 64.0)
    else:
        grey = photo.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        base = np.repeat((grey / 2)[..., None], 3, axis=2)
    a = (rgba[..., 3:4].astype(np.float64) / 255) * opacity
    return np.clip(np.rint(base * (1 - a) + rgba[..., :3] * a), 0, 255).astype(np.uint8)
