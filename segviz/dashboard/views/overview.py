"""Overview: headline metrics with intervals, per-class bars and table, conventions, the confusion
matrix and the images behind a clicked cell."""

from __future__ import annotations

import streamlit as st

from segviz.conventions import conventions_frame
from segviz.display import class_table, percent
from segviz.evaluate import Evaluation
from segviz.figures import INVALID_NAME, METRIC_LABELS, class_bar_figure, confusion_figure
from segviz.metrics import DEFINITIONS
from segviz.stats import BootstrapResult, bootstrap

from .. import cache, state
from ..context import RESAMPLES, Context
from ..widgets import CHART_CONFIG, THUMB_WIDTH, fmt, metric_tiles, name, plain, plot_names
from . import export

METRIC_NAMES = {"iou": "IoU", "accuracy": "Recall", "precision": "Precision", "dice": "Dice"}
NORMALISE_NAMES = {"none": "counts", "row": "row (recall)", "column": "column (precision)"}


def render(ctx: Context) -> None:
    result = ctx.result
    boot = (
        cache.cached(("boot", ctx.key, RESAMPLES), lambda: bootstrap(result, resamples=RESAMPLES))
        if result.num_images
        else None
    )
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
    """The per-class table as the library shows it (issue 10, item 8): "n/a" where a value is
    undefined, never None or nan; names literal and cut (issue 11, items 9 and 18)."""
    view = class_table(result)
    view["class"] = [plain(n) for n in result.table.names]
    frame = result.class_frame()
    total_gt = max(int(frame["gt_pixels"].sum()), 1)
    view.insert(5, "GT share %", [percent(v / total_gt, unit=False) for v in frame["gt_pixels"]])
    st.dataframe(view, hide_index=True, width="stretch")


def conventions_ui(result: Evaluation, key: tuple) -> None:
    """Which mIoU: every convention's value ("n/a" when undefined), its rule and its caveats
    (issue 10, item 5), from :func:`segviz.conventions.conventions_frame`."""
    with st.expander("Which mIoU? What other tools would report for these masks"):
        frame = cache.cached(("conventions", key), lambda: conventions_frame(result))
        st.dataframe(
            frame[["tool", "miou_text", "classes", "rule", "caveats"]].rename(
                columns={"miou_text": "mIoU", "caveats": "caveats (where it differs)"}
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "rule": st.column_config.TextColumn(width="large"),
                "caveats (where it differs)": st.column_config.TextColumn(width="large"),
            },
        )
        for row in frame.itertuples(index=False):
            if row.caveats:
                st.caption(f"**{name(row.tool)}**: " + " ".join(name(c) for c in row.caveats.split("\n")))
        st.caption("segviz's own number is the first row; see the README for each tool's source.")


CONFUSION_DEFAULTS = {"cm:norm": "row", "cm:hide": [], "cm:log": False, "cm:dim": True, "cm:inv": True}


@st.fragment
def confusion_section(result: Evaluation, key: tuple, *, present: bool) -> None:
    """Controls, matrix and the images behind the clicked cell: a fragment, so a control or a click
    redraws this section only (the URL follows the cell)."""
    confusion_ui(result, present=present)
    if not present:
        cell_images_ui(result, key, state.current().cell)
    state.sync_url()


def confusion_ui(result: Evaluation, *, present: bool):
    """The confusion-matrix controls and figure; returns the figure."""
    k = result.table.num_classes
    names = list(result.table.names)
    if not present:
        c1, c2, c3, c4 = st.columns([2.2, 2, 3, 1.3])
        c1.segmented_control(
            "Normalise",
            ["none", "row", "column"],
            default="row",
            key="cm:norm",
            format_func=NORMALISE_NAMES.get,
        )
        c3.multiselect(
            "Hide classes", names, key="cm:hide", placeholder="e.g. a dominant background", format_func=plain
        )
        c4.number_input(
            "Top-N classes",
            min_value=2,
            max_value=max(k, 2),
            value=min(default_top_n(k), max(k, 2)),
            key="cm:top",
            help="Keep the N classes with the most confused pixels",
        )
        with c2:
            st.checkbox("Log colour scale", key="cm:log")
            st.checkbox("De-emphasise diagonal", value=True, key="cm:dim")
            if result.invalid_pred_pixels > 0:
                st.checkbox("Show invalid column", value=True, key="cm:inv")
    fig = confusion_figure_now(result, present=present)
    st.plotly_chart(
        fig,
        width="stretch",
        key="ov:cm",
        on_select=_on_cell_select,
        selection_mode="points",
        config=CHART_CONFIG,
    )
    st.caption("Rows: ground truth · columns: prediction · click a cell to list the images where it happens")
    return fig


def default_top_n(k: int) -> int:
    return k if k <= 30 else 25


def confusion_figure_now(result: Evaluation, *, present: bool = False):
    """The confusion figure with the controls' current values (defaults in presentation mode)."""
    k = result.table.num_classes
    names = list(result.table.names)
    ss = {} if present else st.session_state
    opt = {key: ss.get(key, default) for key, default in CONFUSION_DEFAULTS.items()}
    top_n = ss.get("cm:top", default_top_n(k))
    return confusion_figure(
        result.confusion,
        plot_names(names),  # cut, isolated and distinct (issue 11, item 18); escaped by the figure
        normalize=opt["cm:norm"] or "row",
        log=bool(opt["cm:log"]),
        hidden=[names.index(h) for h in opt["cm:hide"] if h in names],
        top_n=int(top_n),
        diagonal="dim" if opt["cm:dim"] else "show",
        show_invalid=bool(opt["cm:inv"]) and result.invalid_pred_pixels > 0,
    )


def _on_cell_select() -> None:
    state.on_cell_select("ov:cm")


def cell_name(result: Evaluation, cell: tuple[int, int]) -> tuple[str, str]:
    """(GT class name, predicted class name) of a confusion cell; column K is the invalid column."""
    names = [*result.table.names, INVALID_NAME]
    return name(names[cell[0]]), name(names[cell[1]])


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
    top = ranked.head(12)
    cols = st.columns(4)
    for i, row in enumerate(top.itertuples(index=False)):
        with cols[i % 4]:
            pair = result.pairs[int(row.image)]
            st.image(cache.thumbnail(pair, result.table, cell, THUMB_WIDTH), width="stretch")
            label = (
                f"{name(row.name)} · {int(row.pixels):,} px ({100 * row.share_of_gt:.1f} % of its {gt_name})"
            )
            if st.button(
                label, key=f"thumb:{row.name}", width="stretch", on_click=state.open_image, args=(row.name,)
            ):
                st.rerun(scope="app")  # inside the fragment: the view changes, so redraw the page
