"""Images: the per-image table (worst first), one image with its overlays, error map and hover grid."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from segviz.evaluate import Evaluation
from segviz.figures import INVALID_NAME, class_bar_figure, hover_image_figure
from segviz.metrics import DEFINITIONS, class_metrics, summary_metrics
from segviz.overlay import error_map, fit_width, overlay, resize_labels, to_jpeg, to_png

from .. import cache, state
from ..context import Context
from ..widgets import (
    CHART_CONFIG,
    VIEW_WIDTH,
    class_legend,
    fmt,
    name,
    plain,
    plot_names,
    resize_rgb,
    safe_filename,
)
from .anatomy import image_errors_ui
from .confidence import image_overlays
from .overview import cell_name

HOVER_STEP = 8  # one hover cell per 8 px of the 960-px display image (about 4 screen px in its column)


def render(ctx: Context) -> None:
    image_page(ctx.result, ctx.key)


@st.fragment
def image_page(result: Evaluation, key: tuple) -> None:
    """Table, filters, previous / next and the image: a fragment, so picking another image redraws
    this view only (the URL follows the image)."""
    live = state.current()
    view = image_table_ui(result, key, live.cell)
    order = view["name"].tolist()
    if not order:
        st.warning("No image matches the filters.")
        return
    if live.image not in result.names:
        state.set_image(order[0])
    current = st.session_state["image"]
    left, right = st.columns([2, 3])
    with left:
        event = st.dataframe(
            view,
            hide_index=True,
            width="stretch",
            height=360,
            on_select="rerun",
            selection_mode="single-row",
            key="im:table",
            column_config={c: st.column_config.NumberColumn(format="%.1f") for c in view.columns[1:]},
        )
        rows = event.selection.rows if event is not None else []
        if rows:
            picked = view.iloc[rows[0]]["name"]
            if picked != st.session_state.get("im:_picked"):
                st.session_state["im:_picked"] = picked
                state.set_image(picked)
                current = picked
        _prev_next(order, current)
    index = result.names.index(current)
    with right:
        image_metrics_ui(result, index)
    images = _display_arrays(result, index)
    image_errors_ui(result, live.errors, images)  # error types in colour when the Errors view set a filter
    image_panels(result, index, live.cell, images)
    e1, e2 = st.columns([3, 2])
    with e1:
        error_panel(result, live.cell, images)
    with e2:
        hover_grid(result, images)
    image_overlays(result, index, images)  # confidence / entropy and confidently wrong pixels, if any
    state.sync_url()


def _display_arrays(result: Evaluation, index: int) -> dict:
    """The pair's arrays at display size (VIEW_WIDTH wide), shared by the image fragments."""
    gt, pred, photo = cache.load_pair(result.pairs[index], result.table)
    h, w = gt.shape
    size = fit_width(w, h, VIEW_WIDTH)
    return {
        "pair": result.pairs[index],
        "gt": resize_labels(gt, size),
        "pred": resize_labels(pred, size),
        "photo": resize_rgb(photo, size) if photo is not None else None,
        "present": sorted(set(np.unique(gt).tolist()) | set(np.unique(pred).tolist())),
    }


def _prev_next(order: list[str], current: str) -> None:
    pos = order.index(current) if current in order else -1
    b1, b2, b3 = st.columns([1.2, 1.2, 2.6], vertical_alignment="center")
    b1.button(
        "◀ Prev",
        disabled=pos <= 0,
        width="stretch",
        on_click=state.open_image,
        args=(order[pos - 1] if pos > 0 else current,),
    )
    b2.button(
        "Next ▶",
        disabled=pos >= len(order) - 1,
        width="stretch",
        on_click=state.open_image,
        args=(order[pos + 1] if 0 <= pos < len(order) - 1 else order[0],),
    )
    b3.caption(f"{pos + 1 if pos >= 0 else '–'} of {len(order)} in this order (worst mIoU first)")


def image_table_ui(result: Evaluation, key: tuple, cell: tuple[int, int] | None) -> pd.DataFrame:
    """The filter widgets and the filtered per-image table, worst mIoU first."""
    frame, gt = cache.image_frame(result, key)
    names = list(result.table.names)
    c1, c2, c3 = st.columns([2, 2, 2])
    focus = c1.selectbox(
        "Class column",
        names,
        key="im:class",
        index=cell[0] if cell and cell[0] < len(names) else 0,
        format_func=plain,
    )
    contains = c2.selectbox(
        "Only images containing", ["(any class)", *names], key="im:contains", format_func=plain
    )
    only_cell = False
    if cell is not None:
        gt_name, pred_name = cell_name(result, cell)
        only_cell = c3.checkbox(f"Only GT {gt_name} → {pred_name}", value=False, key="im:onlycell")
    view = pd.DataFrame(
        {
            "name": frame["name"],
            "PA": frame["pixel_accuracy"] * 100,
            "mIoU": frame["mean_iou"] * 100,
            f"IoU {plain(focus)}": frame[f"iou:{focus}"] * 100,
        }
    )
    if contains != "(any class)":
        view = view[gt[:, names.index(contains)] > 0]
    if only_cell and cell is not None:
        view = view[view["name"].isin(set(cache.images_for_cell(result, key, cell)["name"]))]
    return view.sort_values("mIoU", na_position="last", kind="stable")


def image_metrics_ui(result: Evaluation, index: int) -> None:
    cm = result.image_confusion(index)
    s = summary_metrics(cm)
    st.subheader(name(result.names[index]))
    c = st.columns(4)
    c[0].metric("Pixel accuracy", fmt(s["pixel_accuracy"]), border=True)
    c[1].metric("mIoU", fmt(s["mean_iou"]), help=DEFINITIONS["mean_iou"], border=True)
    c[2].metric("Ignored px", f"{int(result.ignored_per_image[index]):,}", border=True)
    c[3].metric("Invalid pred px", f"{int(cm[:, -1].sum()):,}", border=True)
    per = class_metrics(cm)
    frame = result.class_frame()[["id", "name"]].assign(iou=per["iou"], gt_pixels=per["gt_pixels"])
    present = frame[(per["gt_pixels"] > 0) | (per["pred_pixels"] > 0)]
    bars, conf = st.columns([1, 1])
    with bars:
        st.plotly_chart(
            class_bar_figure(present, result.table, metric="iou", max_height=380),
            width="stretch",
            key="im:bars",
            config=CHART_CONFIG,
        )
    with conf:
        names = [*result.table.names, INVALID_NAME]
        off = cm.copy()
        np.fill_diagonal(off[:, :-1], 0)
        g, p = np.nonzero(off)
        counts = off[g, p]
        order = np.argsort(-counts)[:8]
        st.caption("Largest confusions in this image")
        st.dataframe(
            pd.DataFrame(
                {
                    "GT": [plain(names[i]) for i in g[order]],
                    "predicted": [plain(names[j]) for j in p[order]],
                    "pixels": counts[order],
                }
            ),
            hide_index=True,
            width="stretch",
        )


@st.fragment
def image_panels(result: Evaluation, index: int, cell: tuple[int, int] | None, images: dict) -> None:
    """Overlay controls, the three panels and the full-size downloads: a fragment, so a control
    redraws these only. The PNGs are built when their button is clicked."""
    table = result.table
    pair, small_gt, small_pred, small_photo = images["pair"], images["gt"], images["pred"], images["photo"]
    k = table.num_classes
    present_classes = [i for i in images["present"] if i < k]
    c1, c2, c3, c4 = st.columns([2, 2, 2, 4])
    alpha = c1.slider("Opacity", 0.0, 1.0, 0.55, 0.05, key="im:alpha")
    style = (
        c2.segmented_control("Labels", ["fill", "boundary", "both"], default="fill", key="im:style") or "fill"
    )
    layout = (
        c3.segmented_control("Layout", ["side by side", "stacked"], default="side by side", key="im:layout")
        or "side by side"
    )
    names = list(table.names)
    shown = c4.multiselect(
        "Classes shown",
        [names[i] for i in range(k)],
        default=[names[i] for i in present_classes],
        key=f"im:vis:{pair.name}",
    )
    visible = [names.index(n) for n in shown]
    panels = [
        ("Photo", small_photo if small_photo is not None else overlay(None, small_gt, table, alpha=0.0)),
        ("Ground truth", overlay(small_photo, small_gt, table, alpha=alpha, style=style, visible=visible)),
        ("Prediction", overlay(small_photo, small_pred, table, alpha=alpha, style=style, visible=visible)),
    ]
    class_legend(table, present_classes)
    cols = st.columns(3) if layout == "side by side" else [st.container() for _ in panels]
    for col, (title, rgb) in zip(cols, panels, strict=True):
        col.markdown(f"**{title}**")
        col.image(to_jpeg(rgb), width="stretch")
    highlight = cell if cell is not None and st.session_state.get("im:hl", True) else None
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button(
        "Overlay PNG",
        functools.partial(_full_overlay_png, pair, table, alpha, style, tuple(visible)),
        file_name=f"{safe_filename(pair.name)}_overlay.png",
        mime="image/png",
        width="stretch",
        on_click="ignore",
    )
    d2.download_button(
        "Error map PNG",
        functools.partial(_full_error_png, pair, table, highlight),
        file_name=f"{safe_filename(pair.name)}_errors.png",
        mime="image/png",
        width="stretch",
        on_click="ignore",
    )


@st.fragment
def error_panel(result: Evaluation, cell: tuple[int, int] | None, images: dict) -> None:
    """The error map, optionally only the selected confusion (a fragment of its own)."""
    highlight = None
    if cell is not None:
        gt_name, pred_name = cell_name(result, cell)
        if st.checkbox(f"Highlight only GT {gt_name} → predicted {pred_name}", value=True, key="im:hl"):
            highlight = cell
    err = error_map(
        images["gt"], images["pred"], result.table.num_classes, highlight=highlight, photo=images["photo"]
    )
    st.markdown(
        "**Error map** — green correct · red wrong · grey ignored"
        + (" · yellow the selected confusion" if highlight else "")
    )
    st.image(to_jpeg(err), width="stretch")


@st.fragment
def hover_grid(result: Evaluation, images: dict) -> None:
    """The prediction overlay (default opacity) with the GT and predicted class under the cursor.

    Independent of the overlay controls, so changing them does not rebuild this figure."""
    table = result.table
    names = list(table.names)
    small_gt = images["gt"]
    h, w = small_gt.shape
    st.markdown("**Hover for classes** (prediction overlay)")
    fig = hover_image_figure(
        overlay(images["photo"], images["pred"], table, alpha=0.55),
        small_gt,
        images["pred"],
        [*plot_names(names), "ignored", "not in table"],
        [*plot_names(names), INVALID_NAME],
        step=HOVER_STEP,
        height=int(min(600, 480 * h / w)),
    )
    st.plotly_chart(fig, width="stretch", key="im:hover", config=CHART_CONFIG)


def _full_overlay_png(pair, table, alpha: float, style: str, visible: tuple[int, ...]) -> bytes:
    _gt, pred, photo = cache.load_pair(pair, table)
    return to_png(overlay(photo, pred, table, alpha=alpha, style=style, visible=list(visible)))


def _full_error_png(pair, table, highlight: tuple[int, int] | None) -> bytes:
    gt, pred, photo = cache.load_pair(pair, table)
    return to_png(error_map(gt, pred, table.num_classes, highlight=highlight, photo=photo))
