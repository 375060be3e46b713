"""Slices (issue 15): a metric per attribute value with intervals, the worst slices found for you,
two models per value; and the slice filter that every view follows (:func:`apply_slice`, called
once by ``main`` where it builds the Context)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from segviz import SegvizError
from segviz.evaluate import Evaluation
from segviz.slice_figures import slice_bar_figure, slice_compare_figure, worst_slices_table
from segviz.slices import condition_text

from .. import cache, state
from ..context import Context
from ..sidebar import Selection
from ..state import ViewState
from ..widgets import CHART_CONFIG, name, plain, plot_names, server_text

ACTIVE = "● filtering"  # the note on the row whose slice every view shows


# ---------------------------------------------------------------- the filter every view follows
def slice_indices(slicer, conditions) -> np.ndarray:
    """The images (int64 indices) whose attributes match every (column, value) condition;
    :class:`SegvizError` naming an unknown attribute or value."""
    mask = np.ones(slicer.n, dtype=bool)
    for column, value in conditions:
        if column not in slicer.columns:
            raise SegvizError(f"no attribute {state.shown(column)} in this dataset")
        col = slicer.columns[column]
        if value not in col.labels:
            raise SegvizError(f"the attribute {state.shown(column)} has no value {state.shown(value)}")
        mask &= col.codes == col.labels.index(value)
    return np.flatnonzero(mask)


def apply_slice(
    sel: Selection, current: ViewState, result: Evaluation, key: tuple
) -> tuple[Evaluation, tuple]:
    """The evaluation every view receives: the slice's images when a slice is chosen (with a
    banner saying so), else ``result``. An unknown attribute or value is one notice, all images."""
    if current.slice is None:
        return result, key
    conditions = state.parse_slice(current.slice)
    try:
        if conditions is None:
            raise SegvizError("not column=value (or a=x&b=y)")
        slicer, _ = cache.slicer(result, key, sel.root)
        idx = slice_indices(slicer, conditions)
        if not len(idx):
            raise SegvizError("no image has these values")
    except SegvizError as exc:
        state.notice(f"Slice {state.shown(current.slice)}: {exc}; showing all images.")
        state.set_slice(None)
        return result, key
    subset, subset_key = cache.slice_subset(result, key, current.slice, idx)
    if current.image is not None and current.image in result.names and current.image not in subset.names:
        state.notice(
            f"Image {state.shown(current.image)} is not in the slice; showing the slice's first image."
        )
        state.set_image(None)
    banner(conditions, len(idx), result.num_images, here=current.view == "Slices")
    return subset, subset_key


def describe(conditions) -> str:
    """``time = dusk & light = low`` for markdown: each condition through widgets.name (after
    condition_text, which reads the raw value: a bin labelled ``= 0`` must not read ``= = 0``)."""
    return " & ".join(name(condition_text(c, v)) for c, v in conditions)


def describe_plain(conditions) -> str:
    """``time = dusk & light = low`` for a table cell: each name through widgets.plain (cut, so a
    long name cannot hide the second condition)."""
    return " & ".join(condition_text(plain(c), plain(v)) for c, v in conditions)


def banner(conditions, images: int, total: int, *, here: bool = False) -> None:
    """The active slice, with the button that clears it (``here``: in the Slices view, which
    analyses every image and marks the slice)."""
    where = (
        "marked below; the other views show these images only"
        if here
        else "every view shows these images only"
    )
    left, right = st.columns([9, 1], vertical_alignment="center")
    left.info(
        f"**Slice:** {describe(conditions)} ({images} of {total} images): {where}",
        icon=":material/filter_alt:",
    )
    right.button(
        "✕ clear", key="sl:clear", on_click=state.set_slice, args=(None,), help="Show all images again"
    )


def choose(conditions, *, column: str | None = None) -> None:
    """Filter every view to a slice; the attribute box follows its first column."""
    state.set_slice(state.format_slice(conditions))
    st.session_state["sl:column"] = column or conditions[0][0]


# ---------------------------------------------------------------- the view
def render(ctx: Context) -> None:
    result, key = ctx.evaluation(ctx.sel.model)  # every image: slices are found on the whole data
    slicer, warnings = cache.slicer(result, key, ctx.sel.root)
    if warnings:
        with st.expander(f"⚠ {len(warnings)} warnings about the attributes", expanded=False):
            st.dataframe(
                pd.DataFrame({"warning": [server_text(w) for w in warnings]}),
                hide_index=True,
                width="stretch",
            )
    active = state.parse_slice(ctx.state.slice) or ()
    column = column_ui(slicer, active)
    values_ui(result, key, ctx.sel.root, slicer, column, active)
    worst_ui(result, key, ctx.sel.root, active)
    if len(ctx.sel.models) >= 2:
        compare_ui(ctx, result, key, column)


def _default_column(slicer, active) -> str:
    if active and active[0][0] in slicer.columns:
        return active[0][0]
    useful = [c for c, col in slicer.columns.items() if len(col.labels) > 1]
    metadata = [c for c in useful if slicer.columns[c].source == "metadata"]
    for choice in (*metadata, "brightness", *useful):
        if choice in slicer.columns:
            return choice
    return next(iter(slicer.columns))


def column_ui(slicer, active) -> str:
    columns = list(slicer.columns)
    if st.session_state.get("sl:column") not in columns:
        st.session_state["sl:column"] = _default_column(slicer, active)

    def label(c: str) -> str:
        col = slicer.columns[c]
        return f"{plain(c)} ({col.source}: {col.binning})"

    return st.selectbox(
        "Attribute",
        columns,
        key="sl:column",
        format_func=label,
        help="Metadata columns (DATASET/metadata.csv) first, then the automatic attributes: folder, "
        "name prefix, photo size, brightness and contrast, and per class its presence, pixel share, "
        "number of objects and their median size",
    )


def _interval(low: float, high: float, *, signed: bool = False) -> str:
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    sign = "+" if signed else ""
    return f"{100 * low:{sign}.2f} – {100 * high:{sign}.2f}"


def _points(value: float) -> float | None:
    return None if math.isnan(value) else round(100 * value, 2)


def values_table(frame: pd.DataFrame, active_value: str | None) -> pd.DataFrame:
    """The per-value table as shown: percentages in points, intervals as text, notes."""
    notes = [
        " · ".join([*([ACTIVE] if v == active_value else []), *(["too few images"] if few else [])])
        for v, few in zip(frame["value"], frame["too_few"], strict=True)
    ]
    return pd.DataFrame(
        {
            "value": [plain(v) for v in frame["value"]],
            "images": frame["images"],
            "pixels": frame["pixels"],
            "PA %": [_points(v) for v in frame["pixel_accuracy"]],
            "mIoU %": [_points(v) for v in frame["mean_iou"]],
            "mIoU 95 % interval": [
                _interval(lo, hi)
                for lo, hi in zip(frame["mean_iou_low"], frame["mean_iou_high"], strict=True)
            ],
            "Δ mIoU to the rest": [_points(v) for v in frame["delta_mean_iou"]],
            "Δ 95 % interval": [
                _interval(lo, hi, signed=True)
                for lo, hi in zip(frame["delta_low"], frame["delta_high"], strict=True)
            ],
            "note": notes,
        }
    )


def values_ui(result: Evaluation, key: tuple, root: Path, slicer, column: str, active) -> None:
    col = slicer.columns[column]
    frame = cache.slice_frame(result, key, root, column)
    active_value = active[0][1] if len(active) == 1 and active[0][0] == column else None
    st.subheader(f"mIoU by {name(column)}")
    if len(col.labels) < 2:
        st.info(f"Every image has the same {name(column)} ({name(col.labels[0])}): nothing to compare.")
    shown = frame.assign(value=plot_names(frame["value"]), column=plot_names([column])[0])
    fig = slice_bar_figure(shown, overall=result.summary()["mean_iou"])  # the figure escapes them
    fig.data[0].customdata = [
        [v] for v in frame["value"]
    ]  # the raw value; a list: numpy comes back as base64
    if active_value is not None:
        fig.data[0].marker.line = dict(
            width=[3 if v == active_value else 0 for v in frame["value"]], color="#d62728"
        )
    chart_key = f"sl:bars:{column}:{state.current().slice}"
    st.plotly_chart(
        fig,
        key=chart_key,
        on_select=functools.partial(_on_bar, chart_key, column),
        selection_mode="points",
        config=CHART_CONFIG,
    )
    table_key = f"sl:values:{column}:{state.current().slice}"
    st.dataframe(
        values_table(frame, active_value),
        hide_index=True,
        width="stretch",
        on_select=functools.partial(_on_value_row, table_key, column, tuple(frame["value"])),
        selection_mode="single-row",
        key=table_key,
        column_config={"pixels": st.column_config.NumberColumn(format="localized")},
    )
    st.caption(
        f"{name(column)}: {col.binning} ({col.source}). 95 % Poisson-bootstrap intervals over images "
        f"({slicer.resamples} resamples); Δ = the slice − the other images, in points (negative: the "
        f"slice is worse). Fewer than {slicer.min_images} images: “too few images”, shown but not "
        "trusted. Click a bar or a row to filter every view to that slice."
    )


def _on_bar(chart_key: str, column: str) -> None:
    event = st.session_state.get(chart_key) or {}
    points = (event.get("selection") or {}).get("points") or []
    if points and points[0].get("customdata"):
        choose([(column, str(points[0]["customdata"][0]))])


def _on_value_row(table_key: str, column: str, values: tuple[str, ...]) -> None:
    event = st.session_state.get(table_key) or {}
    rows = (event.get("selection") or {}).get("rows") or []
    if rows:
        choose([(column, values[rows[0]])])


# ---------------------------------------------------------------- worst slices
def worst_ui(result: Evaluation, key: tuple, root: Path, active) -> None:
    st.subheader("Worst slices")
    worst = cache.worst_slices(result, key, root, compute=False)
    if worst is None:
        slot = st.empty()  # emptied once the search runs, so the button does not linger
        box = slot.container()
        box.caption(
            "Every value of every attribute and every pair of values of two attributes, ranked by "
            "mIoU drop × share of images, tested with the bootstrap, Benjamini–Hochberg over all."
        )
        if not box.button("Find the worst slices", key="sl:find", icon=":material/search:"):
            return
        slot.empty()
        with st.spinner("Searching single attributes and pairs…"):
            worst = cache.worst_slices(result, key, root)
    if worst.frame.empty:
        st.info(f"No slice of at least {worst.min_images} images is worse than the whole data.")
        st.caption(worst.method())
        return
    wanted = [
        tuple(zip(c, v, strict=True))
        for c, v in zip(worst.frame["columns"], worst.frame["values"], strict=True)
    ]
    table = worst_table(worst, wanted, [w == tuple(active) for w in wanted])
    table_key = f"sl:worst:{state.current().slice}"
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select=functools.partial(_on_worst_row, table_key, tuple(wanted)),
        selection_mode="single-row",
        key=table_key,
        column_config={
            "sig.": st.column_config.CheckboxColumn(
                width=40, help=f"Significant after Benjamini–Hochberg at FDR {worst.fdr:g}"
            ),
            "q (BH)": st.column_config.NumberColumn(
                format="%.1e", help="Benjamini–Hochberg adjusted one-sided bootstrap p-value"
            ),
        },
    )
    significant = int(worst.frame["significant"].sum())
    st.caption(
        f"{worst.method()} {significant} of the {len(worst.frame)} listed are significant at that "
        "false-discovery rate. Click a row to filter every view to that slice."
    )


def worst_table(worst, conditions: list[tuple], active: list[bool]) -> pd.DataFrame:
    """The library's ranked table, compact enough for 1280 px: the interval of Δ as one text column,
    the q-value without the raw p, "●" before the active slice, the essential columns first.
    ``conditions``: each row's ((column, value), ...), written with :func:`describe_plain`."""
    table = worst_slices_table(worst).drop(columns=["p"])
    table["slice"] = [
        ("● " if a else "") + describe_plain(c) for c, a in zip(conditions, active, strict=True)
    ]
    low, high = table.pop("Δ to rest, low"), table.pop("Δ to rest, high")
    table["Δ to rest 95 % interval"] = [
        _interval(lo / 100, hi / 100, signed=True) for lo, hi in zip(low, high, strict=True)
    ]
    table = table.rename(columns={"significant": "sig."})
    first = [
        "rank",
        "sig.",
        "slice",
        "images",
        table.columns[4],
        "rest %",
        "Δ to rest 95 % interval",
        "q (BH)",
    ]
    return table[[*first, *(c for c in table.columns if c not in first)]]  # what matters fits 1280 px


def _on_worst_row(table_key: str, wanted: tuple) -> None:
    event = st.session_state.get(table_key) or {}
    rows = (event.get("selection") or {}).get("rows") or []
    if rows:
        choose(list(wanted[rows[0]]))


# ---------------------------------------------------------------- two models
def compare_ui(ctx: Context, result: Evaluation, key: tuple, column: str) -> None:
    model = ctx.sel.model
    others = [m for m in ctx.sel.models if m != model]
    st.subheader(f"Two models by {name(column)}")
    other = st.selectbox("Compare with", others, key="sl:other", format_func=plain)
    try:
        b, key_b = ctx.evaluation(other)
        frame = cache.slice_comparison(result, key, b, key_b, ctx.sel.root, column)
    except SegvizError as exc:
        st.warning(name(server_text(str(exc))))
        return
    a_plot, b_plot = plot_names([model, other])  # cut, isolated, distinct; the figure escapes them
    column_plot = plot_names([column])[0]
    st.plotly_chart(
        slice_compare_figure(
            frame.assign(value=plot_names(frame["value"])), a=a_plot, b=b_plot, column=column_plot
        ),
        key="sl:compare",
        config=CHART_CONFIG,
    )
    a_col, b_col = plain(model, 20), plain(other, 20)
    if a_col == b_col:  # two long names cut alike: the columns must stay two
        a_col, b_col = f"A {a_col}", f"B {b_col}"
    st.dataframe(
        pd.DataFrame(
            {
                "value": [plain(v) for v in frame["value"]],
                "images": frame["images"],
                f"{a_col} mIoU %": [_points(v) for v in frame["a"]],
                f"{b_col} mIoU %": [_points(v) for v in frame["b"]],
                "Δ (B − A)": [_points(v) for v in frame["delta"]],
                "Δ 95 % interval": [
                    _interval(lo, hi, signed=True) for lo, hi in zip(frame["low"], frame["high"], strict=True)
                ],
                "significant": frame["significant"],
                "note": ["too few images" if few else "" for few in frame["too_few"]],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"A = {name(model)}, B = {name(other)}; Δ = B − A in points, paired: both models resampled with the same "
        "Poisson weights on the images both evaluated; significant when the 95 % interval excludes 0."
    )
