"""Overview: headline metrics with intervals, per-class bars and table, conventions, the confusion
matrix and the images behind a clicked cell."""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pandas as pd
import streamlit as st

from segviz.conventions import conventions_frame
from segviz.display import percent
from segviz.evaluate import Evaluation
from segviz.figures import (
    ALL_CLASSES_UP_TO,
    INVALID_NAME,
    METRIC_LABELS,
    OTHER_INDEX,
    SELECTED_COLOUR,
    class_bar_figure,
    confused_pairs,
    confusion_figure,
    default_top_n,
    matrix_cell,
    matrix_geometry,
    matrix_position,
    min_matrix_width,
    short_labels,
    shown_classes,
)
from segviz.metrics import DEFINITIONS
from segviz.stats import BootstrapResult, bootstrap

from .. import cache, state
from ..context import RESAMPLES, Context
from ..widgets import CHART_CONFIG, OVERVIEW_CSS, cell_name, fmt, metric_tiles, name, plain, plot_names
from . import export
from .images import thumbnail_grid

METRIC_NAMES = {"iou": "IoU", "accuracy": "Recall", "precision": "Precision", "dice": "Dice"}
NORMALISE_NAMES = {"none": "counts", "row": "row (recall)", "column": "column (precision)"}


def render(ctx: Context) -> None:
    result = ctx.result
    if not ctx.state.present:  # presentation mode brings its own type sizes
        st.markdown(OVERVIEW_CSS, unsafe_allow_html=True)
    boot = _bootstrap(result, ctx.key)
    summary_ui(result, boot)
    left, right = st.columns([1, 1])
    with left:
        st.subheader("Per-class scores")
        class_bars_ui(result, boot, present=ctx.state.present)
    with right:
        st.subheader("Per-class table")
        class_table_ui(result)
        conventions_ui(result, ctx.key)
    st.subheader("Confusion matrix")
    confusion_section(result, ctx.key, present=ctx.state.present)
    if not ctx.state.present:
        export.render(ctx, lambda: confusion_figure_now(result))
    if result.num_images > BACKGROUND_ABOVE:
        # the Images view's table, made while one reads this page (a head start only: if it
        # failed, the Images view makes it itself)
        with contextlib.suppress(Exception):
            cache.image_table(result, ctx.key, wait=False)


#: Above this many images the bootstrap intervals are computed in a background thread: the page
#: is drawn without them ("computing") and drawn again, once, when they are ready.
BACKGROUND_ABOVE = int(os.environ.get("SEGVIZ_BACKGROUND_ABOVE", 10_000))


def _bootstrap(result: Evaluation, key: tuple) -> BootstrapResult | None:
    """The bootstrap of the evaluation; None while it is computed in the background (large
    datasets), with a notice and a poll that redraws the page when it is ready."""
    if not result.num_images:
        return None
    boot_key = ("boot", key, RESAMPLES)
    compute = lambda: cache.count_matrix(result, key) is not None and bootstrap(result, resamples=RESAMPLES)  # noqa: E731
    if result.num_images <= BACKGROUND_ABOVE:
        return cache.cached(boot_key, compute)
    try:
        boot = cache.background(boot_key, compute)
    except Exception as exc:  # shown, never a traceback; the page works without intervals
        st.warning(f"The bootstrap intervals could not be computed: {exc}")
        return None
    if boot is None:
        st.caption(
            f":material/hourglass_top: 95 % bootstrap intervals over {result.num_images:,} images: "
            "computing in the background; they appear here when ready."
        )
        _redraw_when_ready(boot_key)
    return boot


def _redraw_when_ready(key: tuple) -> None:
    @st.fragment(run_every=1.0)
    def poll() -> None:
        if not cache.running(key):
            st.rerun(scope="app")

    poll()


def summary_ui(result: Evaluation, boot: BootstrapResult | None = None) -> None:
    s = result.summary()

    def ci(key: str) -> str:
        if boot is None or key not in boot.summary:
            return ""
        iv = boot.summary[key]
        return f" · 95 % bootstrap interval over images: {fmt(iv.low)} – {fmt(iv.high)}"

    metric_tiles(
        [
            (
                "mIoU",
                fmt(s["mean_iou"]),
                DEFINITIONS["mean_iou"] + f" ({s['mean_iou_classes']} classes)" + ci("mean_iou"),
            ),
            (
                "Pixel accuracy",
                fmt(s["pixel_accuracy"]),
                DEFINITIONS["pixel_accuracy"] + ci("pixel_accuracy"),
            ),
            (
                "Mean pixel acc.",
                fmt(s["mean_pixel_accuracy"]),
                DEFINITIONS["mean_pixel_accuracy"] + f" ({s['mean_pixel_accuracy_classes']} classes)",
            ),
            ("FWIoU", fmt(s["frequency_weighted_iou"]), DEFINITIONS["frequency_weighted_iou"]),
            (
                "Mean Dice",
                fmt(s["mean_dice"]),
                DEFINITIONS["mean_dice"] + f" ({s['mean_dice_classes']} classes)",
            ),
            ("Images", f"{s['num_images']:,}", f"evaluated images ({len(result.skipped)} skipped)"),
            (
                "Ignored px",
                f"{s['ignored_pixels']:,}",
                "ground-truth pixels with an ignore id, left out of every count",
            ),
            (
                "Invalid pred px",
                f"{s['invalid_pred_pixels']:,}",
                "predicted values that are not a class id: counted as errors of their ground-truth class",
            ),
        ]
    )
    if boot is not None:
        iv = boot.summary["mean_iou"]
        st.caption(
            f"mIoU 95 % interval {fmt(iv.low)} – {fmt(iv.high)} (bootstrap over {boot.num_images} images, "
            f"{boot.resamples} resamples, seed {boot.seed}: how much the number would move on other images like these)"
        )


@st.fragment
def class_bars_ui(result: Evaluation, boot: BootstrapResult | None, *, present: bool) -> None:
    """The metric / sort / interval controls and the bars they change (a fragment: a control redraws
    only this)."""
    metric, sort, show_ci = "iou", "value", True
    if not present:
        # two rows: side by side, the last options of both controls were cut off in a half-width column
        c1, c3 = st.columns([4, 1.4], vertical_alignment="bottom")
        c2 = st.container()
        metric = (
            c1.segmented_control(
                "Metric", list(METRIC_LABELS), default="iou", key="ov:metric", format_func=METRIC_NAMES.get
            )
            or "iou"
        )
        sort = (
            c2.segmented_control(
                "Sort by", ["value", "name", "pixels", "table"], default="value", key="ov:sort"
            )
            or "value"
        )
        show_ci = c3.checkbox(
            "95 % CI", value=True, key="ov:ci", help="Bootstrap intervals over images (IoU only)"
        )
    intervals = (
        boot.classes[["id", "low", "high"]] if boot is not None and show_ci and metric == "iou" else None
    )
    frame = result.class_frame()
    fig = class_bar_figure(
        frame.assign(name=plot_names(frame["name"])),
        result.table,
        metric=metric,
        sort=sort,
        intervals=intervals,
        max_height=900,
    )
    if present:
        fig.update_layout(font=dict(size=18))
    st.plotly_chart(fig, width="stretch", key="ov:bars", config=CHART_CONFIG)


def class_table_ui(result: Evaluation) -> None:
    """Per-class scores, narrow enough for half of a 1280-pixel window without sideways scrolling
    (Dice is left out: it is a function of IoU, 2·IoU/(1+IoU); the CSV export has every column).
    "n/a" where a value is undefined, never None or nan (issue 10, item 8); names literal and cut
    (issue 11, items 9 and 18)."""
    frame = result.class_frame()
    total_gt = max(int(frame["gt_pixels"].sum()), 1)
    view = pd.DataFrame(
        {
            "class": [plain(n) for n in result.table.names],
            "IoU %": [percent(v, 1, unit=False) for v in frame["iou"]],
            "accuracy %": [percent(v, 1, unit=False) for v in frame["accuracy"]],
            "precision %": [percent(v, 1, unit=False) for v in frame["precision"]],
            "GT %": [percent(v / total_gt, 2, unit=False) for v in frame["gt_pixels"]],
        }
    )
    st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        column_config={
            "class": st.column_config.TextColumn(help="Full class name (hover a cell if cut)"),
            "accuracy %": st.column_config.TextColumn(help="Recall: pixel accuracy of the class"),
            "GT %": st.column_config.TextColumn(help=f"Share of the {total_gt:,} ground-truth pixels"),
        },
    )


def conventions_ui(result: Evaluation, key: tuple) -> None:
    """Which mIoU: every convention's value ("n/a" when undefined), its rule and its caveats
    (issue 10, item 5), from :func:`segviz.conventions.conventions_frame`."""
    box = st.expander(
        "Which mIoU? What other tools would report for these masks", key="ov:conventions", on_change="rerun"
    )
    if not box.open:  # computed when opened (some rules average over every image), then cached
        return
    with box:
        frame = cache.cached(("conventions", key), lambda: conventions_frame(result))
        # three short columns (never cut at half a 1280-pixel window); rules and caveats as wrapping text
        st.table(
            pd.DataFrame(
                {"mIoU": list(frame["miou_text"]), "classes": list(frame["classes"])},
                index=pd.Index(list(frame["tool"]), name="tool"),
            )
        )
        lines = []
        for row in frame.itertuples(index=False):
            caveats = " ".join(name(c) for c in row.caveats.split("\n")) if row.caveats else ""
            lines.append(
                f"- **{name(row.tool)}**: {name(row.rule)}" + (f" *Caveats:* {caveats}" if caveats else "")
            )
        st.markdown("\n".join(lines))
        st.caption("segviz's own number is the first row; see the README for each tool's source.")


CONFUSION_DEFAULTS = {"cm:norm": "row", "cm:hide": [], "cm:log": False, "cm:dim": True, "cm:inv": True}
ORDER_NAMES = {"class": "class order", "confusion": "by confusion"}
#: Rows of the most-confused-pairs list, and most classes a search adds to the matrix.
PAIRS = 12
MAX_FOUND = 12
#: Above this many rows the matrix takes the whole width and the pairs go above it.
WIDE_ABOVE = 60


@st.fragment
def confusion_section(result: Evaluation, key: tuple, *, present: bool) -> None:
    """Controls, matrix with its most-confused pairs and the images behind the chosen cell: a
    fragment, so a control or a click redraws this section only (the URL follows the cell)."""
    confusion_ui(result, present=present)
    if not present:
        other = st.session_state.get("ov:other")
        if other is not None:
            other_cell_ui(result, other)
        else:
            cell_images_ui(result, key, state.current().cell)
    state.sync_url()


def default_order(k: int) -> str:
    """Class order up to :data:`figures.ALL_CLASSES_UP_TO` classes (a familiar order), else by
    confusion (clusters adjacent)."""
    return "class" if k <= ALL_CLASSES_UP_TO else "confusion"


def _controls(result: Evaluation) -> None:
    """Two rows, each control wide enough for its longest option at 1280 px (a segmented
    control does not wrap: its last options were cut off)."""
    k = result.table.num_classes
    names = list(result.table.names)
    c1, c2, c3 = st.columns([1.25, 1, 0.9], vertical_alignment="bottom")
    c1.segmented_control(
        "Normalise", ["none", "row", "column"], default="row", key="cm:norm", format_func=NORMALISE_NAMES.get
    )
    c2.segmented_control(
        "Order",
        list(ORDER_NAMES),
        default=default_order(k),
        key="cm:order",
        format_func=ORDER_NAMES.get,
        help="By confusion: classes clustered on how much of each one is predicted as the other "
        "(both ways), leaves in optimal order, so confused classes sit side by side",
    )
    c3.text_input(
        "Find a class", key="cm:find", placeholder="e.g. car", help="Adds and outlines matching classes"
    )
    d1, d2, d3, d4, d5 = st.columns([1, 1.25, 1.4, 1.5, 2.8], vertical_alignment="bottom")
    d1.number_input(
        "Top-N",
        min_value=2,
        max_value=max(k, 2),
        value=min(default_top_n(k), max(k, 2)),
        key="cm:top",
        help="Show the N classes with the most confused pixels; the rest are pooled into (other)",
    )
    d2.checkbox("Log colours", key="cm:log")
    d3.checkbox("Dim diagonal", value=True, key="cm:dim", help="Correct pixels grey; colours scale on errors")
    if result.invalid_pred_pixels > 0:
        d4.checkbox("Invalid column", value=True, key="cm:inv")
    d5.multiselect(
        "Hide classes", names, key="cm:hide", placeholder="e.g. a dominant background", format_func=plain
    )


def found_classes(result: Evaluation, query: str | None) -> list[int]:
    """Indices of the classes whose name contains ``query`` (case-insensitive), at most
    :data:`MAX_FOUND`."""
    q = (query or "").strip().lower()
    if not q:
        return []
    return [i for i, n in enumerate(result.table.names) if q in str(n).lower()][:MAX_FOUND]


def confusion_ui(result: Evaluation, *, present: bool):
    """The confusion-matrix controls, figure and most-confused pairs; returns the figure."""
    if not present:
        _controls(result)
    found = [] if present else found_classes(result, st.session_state.get("cm:find"))
    fig = confusion_figure_now(result, present=present)
    if len(fig.layout.yaxis.tickvals) > WIDE_ABOVE:
        # many classes: the matrix takes the whole width (it is wider than any column at 8 px
        # a cell), the pairs go above it, where they are seen without scrolling past it
        pairs_ui(result, found, present=present, columns=3)
        _matrix(result, fig, present=present)
    else:
        left, right = st.columns([2.6, 1], gap="medium")
        with left:
            _matrix(result, fig, present=present)
        with right:
            pairs_ui(result, found, present=present)
    if st.session_state.get("cm:find") and not present:
        _found_caption(result, found)
    return fig


CELLS = "cm:cells"  # the drawn matrix's row / column class ids (layout.meta), for the click callback


def _matrix(result: Evaluation, fig, *, present: bool) -> None:
    box = st.container(key="cm_box")
    # The figure does not change when a cell is chosen (the same spec: Streamlit sends a reference
    # to the copy the browser has, which does not redraw it); the chosen cell's outline is drawn
    # over the chart by CSS instead. Columns never under MIN_COLUMN px: a narrower box scrolls.
    selected = None if present else state.current().cell
    box.markdown(
        "<style>.st-key-cm_box{overflow-x:auto}"
        f".st-key-ov-cm{{min-width:{min_matrix_width(fig)}px;position:relative}}"
        f"{outline_css(fig, selected)}</style>",
        unsafe_allow_html=True,
    )
    st.session_state[CELLS] = fig.layout.meta
    box.plotly_chart(
        fig,
        width="stretch",
        key="ov:cm",
        on_select=_on_cell_select,
        selection_mode="points",
        config=CHART_CONFIG,
    )
    order = (
        "ordered by confusion (confused classes side by side)"
        if _order(result) == "confusion"
        else "class order"
    )
    st.caption(
        f"Rows: ground truth · columns: prediction · {order}"
        + ("" if present else " · click a cell (or a pair) to list the images where it happens")
    )


def outline_css(fig, cell: tuple[int, int] | None, selector: str = ".st-key-ov-cm") -> str:
    """CSS drawing the outline of ``cell`` (gt, pred) over a wide matrix in ``selector`` (which
    holds the chart at its full width); "" when the cell is not drawn. Columns share the width
    between the margins, rows are ``pitch`` px: the box is exact at any window width."""
    at = matrix_position(fig, cell)
    if at is None:
        return ""
    i, j = at
    g = matrix_geometry(fig)
    side = g["left"] + g["right"]
    col = f"(100% - {side}px) / {g['cols']}"
    return (
        f"{selector}::after{{content:'';position:absolute;pointer-events:none;z-index:4;box-sizing:border-box;"
        f"border:2px solid {SELECTED_COLOUR};left:calc({g['left']}px + {col} * {j} - 2px);"
        f"width:calc({col} + 4px);top:{g['top'] + g['pitch'] * i - 2:.2f}px;height:{g['pitch'] + 4:.2f}px}}"
    )


def _found_caption(result: Evaluation, found: list[int]) -> None:
    if not found:
        st.caption(f"No class name contains {state.shown(st.session_state['cm:find'])}.")
        return
    shown = ", ".join(name(result.table.names[i]) for i in found)
    st.caption(f"Found {len(found)} class{'es' if len(found) != 1 else ''} (outlined): {shown}")


def pairs_ui(result: Evaluation, found: list[int], *, present: bool, columns: int = 1) -> None:
    """The most-confused pairs (GT → predicted, pixels, share of the GT class) as a ranked list;
    each row selects its cell like a click on the matrix. A search narrows it to the found classes."""
    st.markdown("**Most-confused pairs**")
    hidden = _hidden(result)
    k = result.table.num_classes
    keep = np.setdiff1d(np.arange(k), hidden)
    cols = np.append(keep, k) if result.invalid_pred_pixels > 0 else keep
    if found:
        a = confused_pairs(result.confusion, rows=found, cols=cols, limit=PAIRS)
        b = confused_pairs(result.confusion, rows=keep, cols=found, limit=PAIRS)
        pairs = pd.concat([a, b]).drop_duplicates(["gt", "pred"]).nlargest(PAIRS, "pixels")
    else:
        pairs = confused_pairs(result.confusion, rows=keep, cols=cols, limit=PAIRS)
    _pair_buttons(result, pairs, key="pair", present=present, columns=columns)


def _pair_buttons(
    result: Evaluation, pairs: pd.DataFrame, *, key: str, present: bool, columns: int = 1
) -> None:
    if pairs.empty:
        st.caption("No confused pixels.")
        return
    names = [*short_labels(result.table.names), INVALID_NAME]
    full = [*result.table.names, INVALID_NAME]
    selected = state.current().cell
    cols = st.container(key=f"{key}s").columns(columns) if columns > 1 else [st.container(key=f"{key}s")]
    for rank, row in enumerate(pairs.itertuples(index=False), start=1):
        box = cols[(rank - 1) % len(cols)]
        g, p = int(row.gt), int(row.pred)
        label = f"{rank}. {name(names[g])} → {name(names[p])} · {100 * row.share_of_gt:.1f} % · {int(row.pixels):,} px"
        tip = f"GT {name(full[g])} → predicted {name(full[p])}: {int(row.pixels):,} px, {100 * row.share_of_gt:.2f} % of the GT class"
        if present:
            box.markdown(label)
            continue
        box.button(
            label,
            key=f"{key}:{g}:{p}",
            help=tip,
            width="stretch",
            type="primary" if selected == (g, p) else "secondary",
            on_click=_pick_cell,
            args=((g, p),),
        )


def _pick_cell(cell: tuple[int, int]) -> None:
    """A pair's button: the same cell selection as a click on the matrix."""
    st.session_state["ov:other"] = None
    state.set_cell(cell)


def _hidden(result: Evaluation) -> list[int]:
    names = list(result.table.names)
    return [names.index(h) for h in st.session_state.get("cm:hide", []) if h in names]


def _order(result: Evaluation, present: bool = False) -> str:
    k = result.table.num_classes
    return (None if present else st.session_state.get("cm:order")) or default_order(k)


def confusion_figure_now(result: Evaluation, *, present: bool = False):
    """The confusion figure with the controls' current values (defaults in presentation mode),
    without the selected cell (:func:`outline_css` draws it): kept per session and rebuilt only
    when a control changes, so a click reruns without building or changing it."""
    k = result.table.num_classes
    names = list(result.table.names)
    ss = {} if present else st.session_state
    opt = {key: ss.get(key, default) for key, default in CONFUSION_DEFAULTS.items()}
    found = found_classes(result, ss.get("cm:find"))
    args = dict(
        normalize=opt["cm:norm"] or "row",
        log=bool(opt["cm:log"]),
        hidden=[names.index(h) for h in opt["cm:hide"] if h in names],
        top_n=int(ss.get("cm:top", default_top_n(k))),
        other=True,
        diagonal="dim" if opt["cm:dim"] else "show",
        show_invalid=bool(opt["cm:inv"]) and result.invalid_pred_pixels > 0,
        order=_order(result, present),
        include=found,
        marked=found,
        layout="wide",
    )
    from hashlib import blake2b  # here, not at the top: keeps this change out of the shared import block

    key = (
        blake2b(np.ascontiguousarray(result.confusion).tobytes(), digest_size=16).hexdigest(),
        tuple(names),
        repr(sorted(args.items())),
    )
    kept = st.session_state.get("cm:figure")
    if kept is not None and kept[0] == key:
        return kept[1]
    fig = confusion_figure(
        result.confusion,
        plot_names(names),  # cut, isolated and distinct (issue 11, item 18); escaped by the figure
        **args,
    )
    st.session_state["cm:figure"] = (key, fig)
    return fig


CLICKED = "cm:clicked"  # the cell plotly holds selected (the last one clicked on the matrix)


def _on_cell_select() -> None:
    """A click on the matrix: the point's position on the click layer is turned into class ids
    with the drawn matrix's ids (:func:`segviz.figures.matrix_cell`). A class cell goes through
    state.py's cell selection; a cell of the "(other)" row or column (``OTHER_INDEX``) opens the
    list of the pooled pairs behind it.

    A click on the chosen (outlined) cell clears it. The figure is not redrawn when a pair or a
    link chooses a cell, so plotly's own selection can differ from the chosen cell: an event
    without points is plotly deselecting the point it holds, i.e. a click on the cell clicked
    last (:data:`CLICKED`), which is then chosen, or cleared if it is the chosen one."""
    ss = st.session_state
    event = ss.get("ov:cm") or {}
    points = event.get("selection", {}).get("points", []) if event else []
    if points:
        clicked = matrix_cell(ss.get(CELLS), points[0].get("x"), points[0].get("y"))
        ss[CLICKED] = clicked
    else:
        clicked = ss.pop(CLICKED, None)
    chosen = ss.get("ov:other") or state.current().cell
    chosen = tuple(chosen) if chosen is not None else None
    cell = None if clicked is None or tuple(clicked) == chosen else tuple(clicked)
    if cell is not None and OTHER_INDEX in cell:
        ss["ov:other"] = cell
        state.set_cell(None)
        return
    ss["ov:other"] = None
    state.set_cell(cell)


def other_cell_ui(result: Evaluation, cell: tuple[int, int]) -> None:
    """A cell of the "(other)" row or column: the pooled pairs behind it, each selectable."""
    k = result.table.num_classes
    ss = st.session_state
    _, pooled = shown_classes(
        result.confusion,
        hidden=_hidden(result),
        top_n=int(ss.get("cm:top", default_top_n(k))),
        include=found_classes(result, ss.get("cm:find")),
    )
    g, p = cell
    rows = pooled if g == OTHER_INDEX else [g]
    cols = pooled if p == OTHER_INDEX else [p]
    names = [*result.table.names, INVALID_NAME]
    what = lambda i: f"(other {len(pooled):,} classes)" if i == OTHER_INDEX else name(names[i])  # noqa: E731
    st.subheader(f"GT {what(g)} → predicted {what(p)}")
    pairs = confused_pairs(result.confusion, rows=rows, cols=cols, limit=PAIRS)
    st.caption(
        "(other) pools the classes outside the Top-N. Its largest pairs here; choose one to see its "
        "images, or raise Top-N / find a class to draw it in the matrix."
    )
    _pair_buttons(result, pairs, key="opair", present=False)


def cell_images_ui(result: Evaluation, key: tuple, cell: tuple[int, int] | None) -> None:
    k = result.table.num_classes
    if cell is None or not (0 <= cell[0] < k and 0 <= cell[1] <= k):
        st.info("Click a cell of the confusion matrix to see the images where that confusion happens.")
        return
    gt_name, pred_name = cell_name(result, cell)
    ranked = cache.images_for_cell(result, key, cell)
    st.subheader(f"GT {gt_name} → predicted {pred_name}")
    if ranked.empty:
        st.write("No pixels in this cell.")
        return
    st.caption(f"{len(ranked)} images, {int(ranked['pixels'].sum()):,} pixels; highlighted in yellow")
    thumbnail_grid(result, ranked, cell)
