"""Overview: headline metrics with intervals, per-class bars and table, conventions, the confusion
matrix and the images behind a clicked cell."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from segviz.conventions import miou_conventions
from segviz.evaluate import Evaluation
from segviz.figures import INVALID_NAME, METRIC_LABELS, class_bar_figure, confusion_figure
from segviz.metrics import DEFINITIONS
from segviz.stats import BootstrapResult, bootstrap

from .. import cache, state
from ..context import RESAMPLES, Context
from ..widgets import CHART_CONFIG, fmt, metric_tiles, name
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
    fig = class_bar_figure(
        result.class_frame(), result.table, metric=metric, sort=sort, intervals=intervals, max_height=900
    )
    if present:
        fig.update_layout(font=dict(size=18))
    st.plotly_chart(fig, width="stretch", key="ov:bars", config=CHART_CONFIG)


def class_table_ui(result: Evaluation) -> None:
    frame = result.class_frame()
    total_gt = max(int(frame["gt_pixels"].sum()), 1)
    total_pred = max(int(frame["pred_pixels"].sum()), 1)
    view = pd.DataFrame(
        {
            "class": frame["name"].map(name),
            "IoU": frame["iou"] * 100,
            "accuracy": frame["accuracy"] * 100,
            "precision": frame["precision"] * 100,
            "Dice": frame["dice"] * 100,
            "GT share": frame["gt_pixels"] / total_gt * 100,
            "pred share": frame["pred_pixels"] / total_pred * 100,
            "GT px": frame["gt_pixels"],
        }
    )
    pct = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        column_config={
            "IoU": st.column_config.ProgressColumn("IoU", format="%.2f", min_value=0, max_value=100),
            "accuracy": pct,
            "precision": pct,
            "Dice": pct,
            "GT share": st.column_config.NumberColumn("GT share %", format="%.2f"),
            "pred share": st.column_config.NumberColumn("pred share %", format="%.2f"),
            "GT px": st.column_config.NumberColumn(format="localized"),
        },
    )


def conventions_ui(result: Evaluation, key: tuple) -> None:
    with st.expander("Which mIoU? What other tools would report for these masks"):
        rows = cache.cached(("conventions", key), lambda: miou_conventions(result))
        st.dataframe(
            pd.DataFrame(
                {
                    "tool": [c.tool for c in rows],
                    "mIoU": [c.value * 100 for c in rows],
                    "classes": [c.classes_counted for c in rows],
                    "rule": [c.rule for c in rows],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "mIoU": st.column_config.NumberColumn(format="%.2f"),
                "rule": st.column_config.TextColumn(width="large"),
            },
        )
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
        c3.multiselect("Hide classes", names, key="cm:hide", placeholder="e.g. a dominant background")
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
        names,
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
    from .images import thumbnail_grid  # here: images.py imports this module

    thumbnail_grid(result, ranked, cell)
