"""Images: the per-image table (worst first, the current image marked), previous / next within the
chosen confusion, and one image as four linked panels (photo, GT, prediction, error map) that zoom
and pan together, with full-resolution crops on demand. Also the paged thumbnails of a cell."""

from __future__ import annotations

import dataclasses
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
    this view only (the URL follows the image). Sorting, filtering and paging happen here on the
    server (numpy over per-image columns, cached per choice); only one page of rows is sent."""
    live = state.current()
    table = cache.image_table(result, key)
    view = image_table_ui(result, key, live.cell)
    if not len(view.order):
        st.warning("No image matches the filters.")
        return
    nav = view.nav
    current = _current_image(result, table, live, view, nav)
    left, right = st.columns([2, 3])
    with left:
        picked = _table(result, key, view, current)
        if picked is not None:
            state.set_image(picked)
            current = picked
        _prev_next(
            result, nav, current, cell_name(result, live.cell) if view.cell_mask is not None else None, view
        )
    index = int(table.names.get_loc(current))
    with right:
        image_metrics_ui(result, key, index)
    images = _display_arrays(result, index)
    image_errors_ui(result, live.errors, images)  # error types in colour when the Errors view set a filter
    image_panels(result, index, live.cell, images)
    image_overlays(result, index, images)  # confidence / entropy and confidently wrong pixels, if any
    state.sync_url()


def cell_mask(result: Evaluation, key: tuple, cell: tuple[int, int]) -> np.ndarray:
    """(N,) bool, read-only: which images have pixels in the confusion ``cell`` (cached per cell)."""

    def build():
        mask = np.zeros(result.num_images, dtype=bool)
        mask[cache.images_for_cell(result, key, cell)["image"].to_numpy()] = True
        mask.flags.writeable = False
        return mask

    return cache.cached(("cell_mask", key, tuple(cell)), build)


def _current_image(
    result: Evaluation, table: cache.ImageTable, live: state.ViewState, view: TableView, nav: np.ndarray
) -> str:
    """The image to show. A link that names an image and a cell opens an image with that confusion:
    the named one when it has it, else the first (in the table's order) that does, with a notice."""
    from_link = st.session_state.pop(state.FROM_LINK, False)
    image = live.image if live.image is not None and live.image in table.names else None
    first_with_cell = None
    if view.cell_mask is not None:
        if len(nav):
            first_with_cell = table.names[int(nav[0])]
        elif view.cell_mask.any():  # (its images are all filtered out of the table)
            first_with_cell = table.names[int(np.argmax(view.cell_mask))]
    if (
        image is not None
        and from_link
        and first_with_cell is not None
        and not view.cell_mask[table.names.get_loc(image)]
    ):
        gt_name, pred_name = cell_name(result, live.cell)
        st.info(
            f"{name(image)} has no pixels of GT {gt_name} → predicted {pred_name}; showing "
            f"{name(first_with_cell)}, the first image ({view.sort_text}) that has.",
            icon=":material/link:",
        )
        image = first_with_cell
    if image is None:
        image = first_with_cell or table.names[int(view.order[0])]
    state.set_image(image)
    return image


#: Rows of the per-image table sent to the browser at once (the rest is paged on the server).
PAGE_ROWS = 100


def _table(result: Evaluation, key: tuple, view: TableView, current: str) -> str | None:
    """One page of the per-image table with the current image marked (▶, tinted row); the page
    follows the current image until the user pages. Returns a newly picked name."""
    table = cache.image_table(result, key)
    pages = max(1, math.ceil(len(view.order) / PAGE_ROWS))
    at = view.position(int(table.names.get_loc(current)))
    ss = st.session_state
    if ss.get("im:page_for") != (current, view.token) or "im:page" not in ss:
        ss["im:page_for"] = (current, view.token)  # a new image or a new order: show its page
        ss["im:page"] = at // PAGE_ROWS if at >= 0 else 0
    page = min(max(int(ss["im:page"]), 0), pages - 1)
    rows = view.order[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
    names = table.names[rows]
    shown = pd.DataFrame(
        {
            "now": np.where(names == current, CURRENT, ""),
            "name": names.to_numpy(dtype=object),
            "PA": table.pixel_accuracy[rows] * 100,
            "mIoU": table.mean_iou[rows] * 100,
            view.focus_label: view.focus_iou[rows] * 100,
        }
    )
    styled = shown.style.apply(
        lambda row: [HIGHLIGHT if row["now"] == CURRENT else ""] * len(row), axis=1
    ).format(dict.fromkeys(list(shown.columns[2:]), "{:.1f}"), na_rep="n/a")
    event = st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        height=360,
        on_select="rerun",
        selection_mode="single-row",
        key=f"im:table:{view.token}:{page}",  # a fresh selection per page and order
        column_config={"now": st.column_config.TextColumn("", width=28)},
    )
    if pages > 1:
        _table_pages(page, pages, len(view.order))
    picked_rows = event.selection.rows if event is not None else []
    if picked_rows and picked_rows[0] < len(rows):
        picked = str(names[picked_rows[0]])
        if picked != ss.get("im:_picked"):
            ss["im:_picked"] = picked
            return picked
    return None


def _turn_page(page: int) -> None:
    st.session_state["im:page"] = page


def _table_pages(page: int, pages: int, rows: int) -> None:
    p1, p2, p3 = st.columns([1, 1, 3], vertical_alignment="center")
    p1.button("◀ Rows", key="im:page_prev", disabled=page == 0, on_click=_turn_page, args=(page - 1,))
    p2.button("Rows ▶", key="im:page_next", disabled=page >= pages - 1, on_click=_turn_page, args=(page + 1,))
    first = page * PAGE_ROWS + 1
    p3.caption(
        f"Rows {first:,}–{min(first + PAGE_ROWS - 1, rows):,} of {rows:,} · page {page + 1:,} of {pages:,}"
    )


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


def _prev_next(
    result: Evaluation, nav: np.ndarray, current: str, cell: tuple[str, str] | None, view: TableView
) -> None:
    """Previous / next along ``nav`` (image indices): the images of the selected confusion, else
    the whole table, in the table's order."""
    names = cache.image_table(result, view.key).names
    index = int(names.get_loc(current))
    pos = view.nav_position(nav, index)
    b1, b2, b3 = st.columns([1.2, 1.2, 2.6], vertical_alignment="center")
    b1.button(
        "◀ Prev",
        disabled=pos <= 0,
        width="stretch",
        on_click=state.open_image,
        args=(names[int(nav[pos - 1])] if pos > 0 else current,),
    )
    b2.button(
        "Next ▶",
        disabled=pos >= len(nav) - 1,
        width="stretch",
        on_click=state.open_image,
        args=(names[int(nav[pos + 1])] if 0 <= pos < len(nav) - 1 else current,),
    )
    where = f"with GT {cell[0]} → {cell[1]}" if cell else "in this order"
    b3.caption(f"{pos + 1 if pos >= 0 else '–'} of {len(nav):,} {where} ({view.sort_text})")


SORTS = {
    "mIoU ↑": ("mean_iou", False),
    "mIoU ↓": ("mean_iou", True),
    "PA ↑": ("pixel_accuracy", False),
    "PA ↓": ("pixel_accuracy", True),
    "class IoU ↑": ("focus", False),
    "class IoU ↓": ("focus", True),
    "name": ("name", False),
}
SORT_TEXT = {"mean_iou": "mIoU", "pixel_accuracy": "pixel accuracy", "focus": "IoU of the class column"}


@dataclasses.dataclass(frozen=True)
class TableView:
    """The filtered, sorted table as image indices, cached per choice: ``order`` (M,) int64,
    ``where`` (N,) int64 each image's row in ``order`` (-1 = filtered out), the class column's IoU,
    the cell's images as a mask (None without a cell), and ``nav`` what Prev / Next walk: the
    rows of ``order`` that have the cell (all of ``order`` without a cell)."""

    key: tuple
    token: str
    order: np.ndarray
    where: np.ndarray
    focus_label: str
    focus_iou: np.ndarray
    cell_mask: np.ndarray | None
    sort_text: str
    nav: np.ndarray

    def position(self, index: int) -> int:
        return int(self.where[index])

    def nav_position(self, nav: np.ndarray, index: int) -> int:
        """``index``'s place in ``nav`` (a subsequence of ``order``), -1 when absent: a binary
        search on the table positions, never a scan."""
        at = self.where[index]
        if at < 0 or not len(nav):
            return -1
        ranks = self.where[nav]  # (increasing: nav keeps the table's order)
        pos = int(np.searchsorted(ranks, at))
        return pos if pos < len(nav) and ranks[pos] == at else -1


def _sorted(values: np.ndarray, descending: bool) -> np.ndarray:
    """Indices sorting ``values`` (NaN = undefined, always last), ties in image order."""
    key = np.where(np.isnan(values), np.inf, -values if descending else values)
    return np.argsort(key, kind="stable")


def image_table_ui(result: Evaluation, key: tuple, cell: tuple[int, int] | None) -> TableView:
    """The sort and filter widgets, and the filtered, sorted table they choose (image indices)."""
    table = cache.image_table(result, key)
    names = list(result.table.names)
    c1, c2, c3, c4 = st.columns([2, 2, 1.3, 2])
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
    sort = c3.selectbox("Sort", list(SORTS), key="im:sort", help="↑ worst first · ↓ best first (n/a last)")
    only_cell = False
    if cell is not None:
        gt_name, pred_name = cell_name(result, cell)
        only_cell = c4.checkbox(f"Only GT {gt_name} → {pred_name}", value=False, key="im:onlycell")
    focus_index = names.index(focus)
    focus_iou, _ = cache.class_column(result, key, focus_index)
    column, descending = SORTS[sort]
    contains_index = names.index(contains) if contains != "(any class)" else None
    token = f"{focus_index}:{contains_index}:{sort}:{int(only_cell)}:{cell}"

    def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if column == "name":
            order = np.argsort(table.names.to_numpy(dtype=str), kind="stable")
        else:
            values = {"mean_iou": table.mean_iou, "pixel_accuracy": table.pixel_accuracy, "focus": focus_iou}
            order = _sorted(values[column], descending)
        keep = np.ones(result.num_images, dtype=bool)
        if contains_index is not None:
            keep &= cache.class_column(result, key, contains_index)[1] > 0
        if only_cell and cell is not None:
            keep &= cell_mask(result, key, cell)
        order = order[keep[order]]
        where = np.full(result.num_images, -1, dtype=np.int64)
        where[order] = np.arange(len(order))
        nav = order[cell_mask(result, key, cell)[order]] if cell is not None else order
        order.flags.writeable = where.flags.writeable = nav.flags.writeable = False
        return order, where, nav

    order, where, nav = cache.cached(("image_order", key, token), build)
    sort_text = (
        "by name"
        if column == "name"
        else f"{'best' if descending else 'worst'} {SORT_TEXT[column]} first".replace(
            "IoU of the class column", f"IoU of {plain(focus)}"
        )
    )
    return TableView(
        key,
        token,
        order,
        where,
        f"IoU {plain(focus)}",
        focus_iou,
        cell_mask(result, key, cell) if cell is not None else None,
        sort_text,
        nav,
    )


def image_metrics_ui(result: Evaluation, key: tuple, index: int) -> None:
    cm = cache.image_confusion(result, key, index)
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
