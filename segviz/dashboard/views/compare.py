"""Compare: two models on the same images, with paired-bootstrap intervals of every change."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from segviz.compare import Comparison, compare, disagreement_map, disagreement_rgb
from segviz.display import percent, points
from segviz.figures import confusion_figure, delta_bar_figure, difference_figure
from segviz.overlay import fit_width, overlay, resize_labels, to_jpeg

from .. import cache
from ..context import RESAMPLES, Context, for_display
from ..widgets import (
    CHART_CONFIG,
    VIEW_WIDTH,
    disagreement_legend,
    fmt,
    name,
    plain,
    plot_names,
    plot_title,
    resize_rgb,
)
from .anatomy import compare_section

LABELS = {
    "pixel_accuracy": "Pixel accuracy",
    "mean_pixel_accuracy": "Mean pixel acc.",
    "mean_iou": "mIoU",
    "frequency_weighted_iou": "FWIoU",
    "mean_dice": "Mean Dice",
}


def _pick_models(models: list[str]) -> tuple[str, str]:
    c1, c2 = st.columns(2)
    if st.session_state.get("cmp:a") not in models:
        st.session_state["cmp:a"] = models[0]
    if st.session_state.get("cmp:b") not in models:
        st.session_state["cmp:b"] = models[1] if models[0] == st.session_state["cmp:a"] else models[0]
    return (
        c1.selectbox("Model A (reference)", models, key="cmp:a", format_func=plain),
        c2.selectbox("Model B", models, key="cmp:b", format_func=plain),
    )


def render(ctx: Context) -> None:
    name_a, name_b = _pick_models(ctx.sel.models)
    st.title(f"{name(ctx.sel.root.name)}: {name(name_b)} vs {name(name_a)}")
    if name_a == name_b:
        st.info("Choose two different models.")
        return
    (ra, ka), (rb, kb) = ctx.evaluation(name_a), ctx.evaluation(name_b)
    comp: Comparison = cache.cached(
        ("compare", ka, kb, RESAMPLES),
        lambda: compare(ra, rb, name_a=name_a, name_b=name_b, resamples=RESAMPLES),
    )
    comp = dataclasses.replace(
        comp, a=for_display(comp.a, ctx.state.cvd), b=for_display(comp.b, ctx.state.cvd)
    )
    summary_ui(comp)
    left, right = st.columns(2)
    with left:
        st.subheader("Per-class IoU change")
        delta_bars(comp)
    with right:
        st.subheader("Confusion matrix")
        confusion_ui(comp)
    images_ui(comp, ("compare", ka, kb, RESAMPLES))
    compare_section(ctx, name_a, name_b)  # the change per error type (error anatomy)


@st.fragment
def delta_bars(comp: Comparison) -> None:
    """The sort control and the per-class change it orders (a fragment)."""
    sort = (
        st.segmented_control("Sort by", ["value", "name", "pixels", "table"], default="value", key="cmp:sort")
        or "value"
    )
    st.plotly_chart(
        delta_bar_figure(
            _plot_names(comp.class_frame()),
            name_a=plot_title(comp.name_a),
            name_b=plot_title(comp.name_b),
            sort=sort,
        ),
        width="stretch",
        key="cmp:bars",
        config=CHART_CONFIG,
    )


@st.fragment
def confusion_ui(comp: Comparison) -> None:
    """Either model's confusion matrix or their difference (a fragment)."""
    name_a, name_b = comp.name_a, comp.name_b
    which = (
        st.segmented_control(
            "Show",
            [name_a, name_b, "difference"],
            default="difference",
            key="cmp:which",
            format_func=lambda o: o if o == "difference" else name(o, 30),
        )
        or "difference"
    )
    names = plot_names(comp.a.table.names)
    if which == "difference":
        fig = difference_figure(comp.confusion_difference(), names, top_n=min(len(names), 25))
    else:
        ev = comp.a if which == name_a else comp.b
        fig = confusion_figure(
            ev.confusion, names, normalize="row", diagonal="dim", top_n=min(len(names), 25)
        )
    st.plotly_chart(fig, width="stretch", key="cmp:cm", config=CHART_CONFIG)


def summary_ui(comp: Comparison) -> None:
    paired = comp.paired
    st.caption(
        f"{comp.a.num_images} shared images · paired bootstrap, {paired.resamples} resamples, "
        f"{round(paired.confidence * 100)} % intervals · ★ = the interval of the change excludes 0"
        + (f" · {paired.dropped} images only one model has were left out" if paired.dropped else "")
    )
    summary = comp.summary_frame()
    rows = list(summary.itertuples(index=False))
    # rows of three: five tiles side by side cut their labels ("Mean pixel ac…") in a 1280-px window
    cols = [c for start in range(0, len(rows), 3) for c in st.columns(3)][: len(rows)]
    for col, row in zip(cols, rows, strict=True):
        col.metric(
            LABELS[row.metric] + (" ★" if row.significant else ""),
            fmt(row.b),
            delta=f"{100 * row.delta:+.2f} pts",
            help=f"{name(comp.name_a)}: {fmt(row.a)} · change 95 % interval "
            f"[{100 * row.low:+.2f}, {100 * row.high:+.2f}] pts",
            border=True,
        )


@st.fragment
def images_ui(comp: Comparison, key: tuple) -> None:
    """Largest gains and losses; picking a row redraws this section only (a fragment). The
    per-image table and the lists are made once per comparison (``key``), not per rerun."""
    st.subheader("Images: largest gains and losses in mIoU")
    # each list holds only changes of its sign and they never overlap (issue 10, item 6)
    frame, gl = cache.cached(
        ("compare_images", key),
        lambda: (comp.image_frame().set_index("name", drop=False), comp.gains_and_losses(top=10)),
    )
    gains_col, losses_col = st.columns(2)
    picked = None
    for col, title, part, empty, key in (
        (gains_col, "Largest gains", gl.gains, gl.gains_empty_text, "cmp:gains"),
        (losses_col, "Largest losses", gl.losses, gl.losses_empty_text, "cmp:losses"),
    ):
        col.markdown(f"**{title}**")
        if part.empty:
            col.info(empty)
            continue
        event = col.dataframe(
            _gains_table(part, comp),
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key=key,
        )
        if event is not None and event.selection.rows:
            picked = part.iloc[event.selection.rows[0]]["name"]
    if picked is not None:
        st.session_state["cmp:image"] = picked
    image = st.session_state.get("cmp:image") or frame["name"].iloc[0]
    if image not in frame.index:  # (a hashed index: no scan of the names)
        image = frame["name"].iloc[0]
    _image_ui(comp, frame, image, cache.name_index(comp.a, (*key, "a")))


def _plot_names(frame: pd.DataFrame) -> pd.DataFrame:
    """A class frame with its names as plotly shows them (cut, isolated, distinct)."""
    return frame.assign(name=plot_names(frame["name"]))


def _gains_table(part: pd.DataFrame, comp: Comparison) -> pd.DataFrame:
    """Rows of the gains or losses list as shown: names literal and cut, "n/a" for undefined."""
    return pd.DataFrame(
        {
            "name": [plain(n) for n in part["name"]],
            f"mIoU {plain(comp.name_a, 20)}": [percent(v, 1, unit=False) for v in part["miou_a"]],
            f"mIoU {plain(comp.name_b, 20)}": [percent(v, 1, unit=False) for v in part["miou_b"]],
            "change (pts)": [points(v) for v in part["delta"]],
        }
    )


def _image_ui(comp: Comparison, frame: pd.DataFrame, image: str, names: pd.Index) -> None:
    """``frame``: the comparison's per-image table indexed by name; ``names``: model A's names."""
    index = int(names.get_loc(image))
    table = comp.a.table
    gt, pred_a, photo = cache.load_pair(comp.a.pairs[index], table)
    _, pred_b, _ = cache.load_pair(comp.b.pairs[index], table)
    h, w = gt.shape
    size = fit_width(w, h, VIEW_WIDTH)
    gt_s, a_s, b_s = (resize_labels(x, size) for x in (gt, pred_a, pred_b))
    photo_s = resize_rgb(photo, size) if photo is not None else None
    codes = disagreement_map(gt_s, a_s, b_s, table.num_classes)
    row = frame.loc[image]
    st.markdown(
        f"**{name(image)}** — mIoU {fmt(row['miou_a'])} ({name(comp.name_a)}) → "
        f"{fmt(row['miou_b'])} ({name(comp.name_b)})"
    )
    cols = st.columns(3)
    cols[0].markdown("**Disagreement**")
    cols[0].image(to_jpeg(disagreement_rgb(codes, photo_s)), width="stretch")
    disagreement_legend(cols[0])
    for col, title, pred in ((cols[1], comp.name_a, a_s), (cols[2], comp.name_b, b_s)):
        col.markdown(f"**{name(title)}**")
        col.image(to_jpeg(overlay(photo_s, pred, table, alpha=0.55)), width="stretch")
