"""Images: the per-image table (worst first, the current image marked), previous / next within the
chosen confusion, and one image as four linked panels (photo, GT, prediction, error map) that zoom
and pan together, with full-resolution crops on demand. Also the paged thumbnails of a cell."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import streamlit as st

from segviz.evaluate import Evaluation
from segviz.figures import INVALID_NAME, class_bar_figure
from segviz.metrics import DEFINITIONS, class_metrics, summary_metrics
from segviz.overlay import error_map, fit_width, overlay, resize_labels, to_png
from segviz.panels import clamp_crop, crop_png, linked_panels_figure

from .. import cache, state
from ..context import Context
from ..widgets import (
    CHART_CONFIG,
    THUMB_WIDTH,
    VIEW_WIDTH,
    cell_name,
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

HOVER_STEP = 12  # one hover cell per 12 px of the 960-px display image (≈ 5 screen px per panel)
PAGE_SIZE = 24  # thumbnails per page: only these are built (server-side cap)
CURRENT = "▶"
HIGHLIGHT = "background-color: rgba(255, 200, 0, 0.35); font-weight: 600"
PANEL_CONFIG = {**CHART_CONFIG, "scrollZoom": True, "modeBarButtonsToRemove": ["lasso2d"]}  # box select crops
CROP_OF = ("all four", "Photo", "Ground truth", "Prediction", "Error map")


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
    with_cell = cell_images(result, key, live.cell)
    current = _current_image(result, live, order, with_cell)
    left, right = st.columns([2, 3])
    with left:
        picked = _table(view, current)
        if picked is not None:
            state.set_image(picked)
            current = picked
        nav = [n for n in order if n in with_cell] if with_cell else order
        _prev_next(nav, current, cell_name(result, live.cell) if with_cell else None)
    index = result.names.index(current)
    with right:
        image_metrics_ui(result, index)
    images = _display_arrays(result, index)
    image_errors_ui(result, live.errors, images)  # error types in colour when the Errors view set a filter
    image_panels(result, index, live.cell, images)
    image_overlays(result, index, images)  # confidence / entropy and confidently wrong pixels, if any
    state.sync_url()


def cell_images(result: Evaluation, key: tuple, cell: tuple[int, int] | None) -> set[str]:
    """Names of the images with pixels in the confusion ``cell`` (empty without a cell)."""
    if cell is None:
        return set()
    return set(cache.images_for_cell(result, key, cell)["name"])


def _current_image(result: Evaluation, live: state.ViewState, order: list[str], with_cell: set[str]) -> str:
    """The image to show. A link that names an image and a cell opens an image with that confusion:
    the named one when it has it, else the first (in the table's order) that does, with a notice."""
    from_link = st.session_state.pop(state.FROM_LINK, False)
    image = live.image if live.image in result.names else None
    first_with_cell = next((n for n in order if n in with_cell), None) or (
        min(with_cell, key=result.names.index) if with_cell else None
    )
    if image is not None and from_link and with_cell and image not in with_cell:
        gt_name, pred_name = cell_name(result, live.cell)
        st.info(
            f"{name(image)} has no pixels of GT {gt_name} → predicted {pred_name}; showing "
            f"{name(first_with_cell)}, the first image (worst mIoU first) that has.",
            icon=":material/link:",
        )
        image = first_with_cell
    if image is None:
        image = first_with_cell or order[0]
    state.set_image(image)
    return image


def _table(view: pd.DataFrame, current: str) -> str | None:
    """The per-image table with the current image marked (▶, tinted row); returns a newly picked name."""
    shown = view.copy()
    shown.insert(0, "now", np.where(shown["name"] == current, CURRENT, ""))
    numbers = list(view.columns[1:])
    styled = shown.style.apply(
        lambda row: [HIGHLIGHT if row["now"] == CURRENT else ""] * len(row), axis=1
    ).format(dict.fromkeys(numbers, "{:.1f}"), na_rep="n/a")
    event = st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        height=360,
        on_select="rerun",
        selection_mode="single-row",
        key="im:table",
        column_config={"now": st.column_config.TextColumn("", width=28)},
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        picked = view.iloc[rows[0]]["name"]
        if picked != st.session_state.get("im:_picked"):
            st.session_state["im:_picked"] = picked
            return picked
    return None


def _display_arrays(result: Evaluation, index: int) -> dict:
    """The pair's arrays at display size (VIEW_WIDTH wide) and its full size."""
    gt, pred, photo = cache.load_pair(result.pairs[index], result.table)
    h, w = gt.shape
    size = fit_width(w, h, VIEW_WIDTH)
    return {
        "pair": result.pairs[index],
        "full_size": (w, h),
        "gt": resize_labels(gt, size),
        "pred": resize_labels(pred, size),
        "photo": resize_rgb(photo, size) if photo is not None else None,
        "present": sorted(set(np.unique(gt).tolist()) | set(np.unique(pred).tolist())),
    }


def _prev_next(nav: list[str], current: str, cell: tuple[str, str] | None) -> None:
    """Previous / next along ``nav``: the images of the selected confusion, else the whole table."""
    pos = nav.index(current) if current in nav else -1
    b1, b2, b3 = st.columns([1.2, 1.2, 2.6], vertical_alignment="center")
    b1.button(
        "◀ Prev",
        disabled=pos <= 0,
        width="stretch",
        on_click=state.open_image,
        args=(nav[pos - 1] if pos > 0 else current,),
    )
    b2.button(
        "Next ▶",
        disabled=pos >= len(nav) - 1,
        width="stretch",
        on_click=state.open_image,
        args=(nav[pos + 1] if pos < len(nav) - 1 else current,),
    )
    where = f"with GT {cell[0]} → {cell[1]}" if cell else "in this order"
    b3.caption(f"{pos + 1 if pos >= 0 else '–'} of {len(nav)} {where} (worst mIoU first)")


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
        view = view[view["name"].isin(cell_images(result, key, cell))]
    return view.sort_values("mIoU", na_position="last", kind="stable").reset_index(drop=True)


def image_metrics_ui(result: Evaluation, index: int) -> None:
    cm = result.image_confusion(index)
    s = summary_metrics(cm)
    st.subheader(name(result.names[index]))
    c = [*st.columns(2), *st.columns(2)]  # 2 × 2: four tiles in a 1280-px window cut their numbers
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
    """Overlay controls and the four linked panels (zoom or pan one: all follow; hover names the
    classes), the full-resolution crop and downloads: a fragment, so a control redraws these only.
    The PNGs are built when their button is clicked."""
    table = result.table
    pair, small_gt, small_pred, small_photo = images["pair"], images["gt"], images["pred"], images["photo"]
    k = table.num_classes
    present_classes = [i for i in images["present"] if i < k]
    c1, c2, c3, c4 = st.columns([2, 2, 3.5, 3.5])
    alpha = c1.slider("Opacity", 0.0, 1.0, 0.55, 0.05, key="im:alpha")
    style = (
        c2.segmented_control("Labels", ["fill", "boundary", "both"], default="fill", key="im:style") or "fill"
    )
    names = list(table.names)
    chosen = c3.multiselect(
        "Classes shown",
        [names[i] for i in range(k)],
        default=[names[i] for i in present_classes],
        key=f"im:vis:{pair.name}",
    )
    visible = tuple(names.index(n) for n in chosen)
    highlight = None
    if cell is not None:
        gt_name, pred_name = cell_name(result, cell)
        if c4.checkbox(
            f"Highlight only GT {gt_name} → predicted {pred_name}", value=True, key="im:hl", width="stretch"
        ):
            highlight = cell
    err_title = "Errors: green correct · red wrong · grey ignored" + (
        " · yellow the confusion" if highlight else ""
    )
    panels = [
        ("Photo", small_photo if small_photo is not None else overlay(None, small_gt, table, alpha=0.0)),
        (
            "Ground truth",
            overlay(small_photo, small_gt, table, alpha=alpha, style=style, visible=list(visible)),
        ),
        (
            "Prediction",
            overlay(small_photo, small_pred, table, alpha=alpha, style=style, visible=list(visible)),
        ),
        (err_title, error_map(small_gt, small_pred, k, highlight=highlight, photo=small_photo)),
    ]
    figure_slot = st.container()
    class_legend(table, present_classes)
    w, h = images["full_size"]
    crop = _crop_ui(result, pair, (alpha, style, visible, highlight), (w, h))
    sh, sw = small_gt.shape
    fig = linked_panels_figure(
        panels,
        small_gt,
        small_pred,
        [*plot_names(names), "ignored", "not in table"],
        [*plot_names(names), INVALID_NAME],
        full_size=(w, h),
        step=HOVER_STEP,
        crop=None if crop == (0, 0, w, h) else crop,
        height=min(1000, int(2 * 480 * sh / sw) + 20),
    )
    figure_slot.caption("Drag to zoom, double-click to reset, scroll to zoom: the four panels move together.")
    figure_slot.plotly_chart(
        fig,
        width="stretch",
        key="im:panels",
        config=PANEL_CONFIG,
        on_select=functools.partial(_on_box, pair.name, w, h),
        selection_mode="box",
    )


def _on_box(image: str, width: int, height: int) -> None:
    """A box drawn on the panels (Box Select) becomes the crop, in full-resolution pixels."""
    event = st.session_state.get("im:panels") or {}
    boxes = (event.get("selection") or {}).get("box") or []
    if not boxes:
        return
    xs, ys = sorted(boxes[0]["x"]), sorted(boxes[0]["y"])
    x0, y0, x1, y1 = clamp_crop((round(xs[0]), round(ys[0]), round(xs[1]), round(ys[1])), width, height)
    st.session_state[f"im:cropx:{image}"] = (x0, x1)
    st.session_state[f"im:cropy:{image}"] = (y0, y1)


def _crop_ui(result: Evaluation, pair, look: tuple, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The crop selector (full-resolution pixels) and its PNG, plus the full-size downloads."""
    w, h = size
    alpha, style, visible, highlight = look
    kx, ky = f"im:cropx:{pair.name}", f"im:cropy:{pair.name}"
    st.session_state.setdefault(kx, (0, w))  # set here or by a box drawn on the panels (_on_box)
    st.session_state.setdefault(ky, (0, h))
    with st.expander(f"Full-resolution crop and downloads ({w} × {h} px)", expanded=True):
        st.caption(
            "Pick the region with the sliders, or choose Box Select in the figure's toolbar and draw it."
        )
        r1, r2 = st.columns(2)
        xs = r1.slider("Crop x (px)", 0, w, key=kx)
        ys = r2.slider("Crop y (px)", 0, h, key=ky)
        crop = clamp_crop((xs[0], ys[0], xs[1], ys[1]), w, h)
        d0, d1, d2, d3 = st.columns([2, 2, 1.5, 1.5], vertical_alignment="bottom")
        which = d0.selectbox("Crop of", CROP_OF, key="im:cropof")
        d1.download_button(
            f"Crop PNG ({crop[2] - crop[0]} × {crop[3] - crop[1]} px)",
            functools.partial(_crop_png, pair, result.table, look, crop, which),
            file_name=f"{safe_filename(pair.name)}_crop_{crop[0]}_{crop[1]}_{crop[2]}_{crop[3]}.png",
            mime="image/png",
            width="stretch",
            on_click="ignore",
            key="im:crop",
        )
        d2.download_button(
            "Overlay PNG",
            functools.partial(_full_overlay_png, pair, result.table, alpha, style, visible),
            file_name=f"{safe_filename(pair.name)}_overlay.png",
            mime="image/png",
            width="stretch",
            on_click="ignore",
        )
        d3.download_button(
            "Error map PNG",
            functools.partial(_full_error_png, pair, result.table, highlight),
            file_name=f"{safe_filename(pair.name)}_errors.png",
            mime="image/png",
            width="stretch",
            on_click="ignore",
        )
    return crop


def crop_pictures(pair, table, look: tuple, crop: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    """The four panels of a region at full resolution (what the crop PNG holds)."""
    alpha, style, visible, highlight = look
    gt, pred, photo = cache.load_pair(pair, table)
    x0, y0, x1, y1 = crop
    g, p = np.ascontiguousarray(gt[y0:y1, x0:x1]), np.ascontiguousarray(pred[y0:y1, x0:x1])
    ph = np.ascontiguousarray(photo[y0:y1, x0:x1]) if photo is not None else None
    return {
        "Photo": ph if ph is not None else overlay(None, g, table, alpha=0.0),
        "Ground truth": overlay(ph, g, table, alpha=alpha, style=style, visible=list(visible)),
        "Prediction": overlay(ph, p, table, alpha=alpha, style=style, visible=list(visible)),
        "Error map": error_map(g, p, table.num_classes, highlight=highlight, photo=ph),
    }


def _crop_png(pair, table, look: tuple, crop: tuple[int, int, int, int], which: str) -> bytes:
    pictures = crop_pictures(pair, table, look, crop)
    chosen = list(pictures.values()) if which == CROP_OF[0] else [pictures[which]]
    return crop_png(chosen, (0, 0, crop[2] - crop[0], crop[3] - crop[1]))


def _full_overlay_png(pair, table, alpha: float, style: str, visible: tuple[int, ...]) -> bytes:
    _gt, pred, photo = cache.load_pair(pair, table)
    return to_png(overlay(photo, pred, table, alpha=alpha, style=style, visible=list(visible)))


def _full_error_png(pair, table, highlight: tuple[int, int] | None) -> bytes:
    gt, pred, photo = cache.load_pair(pair, table)
    return to_png(error_map(gt, pred, table.num_classes, highlight=highlight, photo=photo))


# ---------------------------------------------------------------- thumbnails of a confusion cell
def thumbnail_grid(result: Evaluation, ranked: pd.DataFrame, cell: tuple[int, int]) -> None:
    """The images of a cell as error-map thumbnails, PAGE_SIZE per page (only those are built),
    each with a button that opens it in the Images view."""
    gt_name, _ = cell_name(result, cell)
    pages = max(1, math.ceil(len(ranked) / PAGE_SIZE))
    page_key = f"thumbs:page:{cell[0]},{cell[1]}"
    page = min(max(int(st.session_state.get(page_key, 0)), 0), pages - 1)
    start = page * PAGE_SIZE
    part = ranked.iloc[start : start + PAGE_SIZE]
    if pages > 1:
        _page_controls(page_key, page, pages, f"images {start + 1}–{start + len(part)} of {len(ranked)}")
    cols = st.container(key="thumbs").columns(4)  # (keyed: the overview's CSS wraps the captions)
    for i, row in enumerate(part.itertuples(index=False)):
        with cols[i % 4]:
            pair = result.pairs[int(row.image)]
            st.image(cache.thumbnail(pair, result.table, cell, THUMB_WIDTH), width="stretch")
            label = (
                f"{name(row.name)} · {int(row.pixels):,} px ({100 * row.share_of_gt:.1f} % of its {gt_name})"
            )
            if st.button(
                label, key=f"thumb:{row.name}", width="stretch", on_click=state.open_image, args=(row.name,)
            ):
                st.rerun(scope="app")  # inside a fragment: the view changes, so redraw the page


def _set_page(page_key: str, page: int) -> None:
    st.session_state[page_key] = page


def _page_controls(page_key: str, page: int, pages: int, text: str) -> None:
    p1, p2, p3 = st.columns([1, 1, 3], vertical_alignment="center")
    p1.button(
        f"◀ Previous {PAGE_SIZE}",
        key="thumbs:prev",
        disabled=page == 0,
        on_click=_set_page,
        args=(page_key, page - 1),
        width="stretch",
    )
    p2.button(
        f"Next {PAGE_SIZE} ▶",
        key="thumbs:next",
        disabled=page >= pages - 1,
        on_click=_set_page,
        args=(page_key, page + 1),
        width="stretch",
    )
    p3.caption(f"Page {page + 1} of {pages} · {text}")
