"""Errors: the error anatomy (issue 13) — what kind of error, and where it is.

Per-class stacked bars (IoU + boundary + extent + segment errors = 100 % of the union), the
dataset-level split, objects found / missed / invented, Boundary / Trimap IoU, and the report's
headline sentences. Each bar segment is a filter: a click selects "class · error type"
(``ViewState.errors`` = ``"class_index:type"``, in the URL as ``?errors=``), which lists the images
ranked by those pixels, with exactly those pixels highlighted. The image view colours the error
types (:func:`image_errors_ui`, called by ``views/images.py``) and Compare shows the change per
error type (:func:`compare_section`, called by ``views/compare.py``).
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from segviz.anatomy import DEFAULT_WIDTH, KINDS, Anatomy, BoundaryWidthError, compare_anatomy, error_type_map
from segviz.anatomy_figures import (
    ERROR_TYPE_COLOURS,
    ERROR_TYPE_NAMES,
    anatomy_class_figure,
    anatomy_split_figure,
    blend_overlay,
    error_type_overlay,
)
from segviz.evaluate import Evaluation
from segviz.overlay import resize_labels, to_jpeg

from .. import cache, state
from ..context import RESAMPLES, Context
from ..widgets import CHART_CONFIG, THUMB_WIDTH, fmt, metric_tiles, name, plain, plot_names, server_text

#: What a filter's error type is called on screen.
ERROR_LABELS = {
    "boundary": "boundary errors",
    "extent": "extent errors",
    "segment": "segment errors (missed or invented)",
    "fn_boundary": "boundary, not reached (FN)",
    "fp_boundary": "boundary, overshot (FP)",
    "fn_extent": "extent, too small (FN)",
    "fp_extent": "extent, too large (FP)",
    "fn_segment": "missed segments",
    "fp_segment": "invented segments",
}
SIDE_LABELS = {"": "both", "fn_": "ground truth not covered (FN)", "fp_": "predicted too much (FP)"}
SIDE_LABELS_SEGMENT = {"": "both", "fn_": "missed (FN)", "fp_": "invented (FP)"}
WIDTH = "an:_width"  # the boundary width in force (a plain key: it outlives the widgets, for the image view)
SORTS = {
    "iou": "IoU",
    "segment": "segment errors",
    "boundary": "boundary errors",
    "extent": "extent errors",
    "name": "name",
    "table": "table",
}
TYPE_CODES = {name: code for code, name in enumerate(ERROR_TYPE_NAMES) if code}


def current_width() -> float | int:
    """The boundary width chosen in the Errors view (default 1 % of the diagonal)."""
    return st.session_state.get(WIDTH, DEFAULT_WIDTH)


def parse_filter(errors: str | None) -> tuple[int, str] | None:
    """``"3:fn_segment" -> (3, "fn_segment")`` (the state holds only validated filters)."""
    if not errors:
        return None
    index, kind = errors.split(":")
    return int(index), kind


def filter_name(table, errors: str) -> str:
    """``"person · missed segments"`` for a filter (``table``: the class table)."""
    index, kind = parse_filter(errors)
    return f"{name(table.names[index])} · {ERROR_LABELS[kind]}"


# ---------------------------------------------------------------- the view
def render(ctx: Context) -> None:
    result, key = ctx.result, ctx.key
    if not ctx.state.present:
        width_ui()
    width = current_width()
    try:
        with st.spinner(f"Computing the error anatomy of {result.num_images} images…"):
            anat = cache.anatomy(result, key, width)
    except BoundaryWidthError as exc:
        st.error(name(server_text(f"{exc}. Choose a smaller width.")))  # the message names a mask file
        return
    headline_ui(anat)
    errors_section(result, key, anat, present=ctx.state.present)
    class_table_ui(anat)


def width_ui() -> None:
    """Boundary width: a fraction of the image diagonal (the paper's default 1 %) or fixed pixels."""
    ss = st.session_state
    width = current_width()
    ss.setdefault("an:unit", "% of diagonal" if width < 1 else "pixels")
    c1, c2, c3 = st.columns([2, 1.3, 4], vertical_alignment="bottom")
    unit = c1.segmented_control("Boundary width in", ["% of diagonal", "pixels"], key="an:unit")
    if unit == "pixels":
        value = c2.number_input("Width (px)", 1, 500, int(width) if width >= 1 else 5, 1, key="an:px")
        chosen = int(value)
    else:
        value = c2.number_input(
            "Width (%)",
            0.1,
            10.0,
            round(width * 100, 2) if width < 1 else 1.0,
            0.1,
            format="%.1f",
            key="an:pct",
        )
        chosen = round(value / 100, 6)
    ss[WIDTH] = chosen  # a plain key: the image view reads it after these widgets are gone
    c3.caption(
        "Boundary errors: wrong pixels within this distance of both a correct and a correctly-rejected "
        "region (Bernhard et al., WACV 2024). Another width recomputes the anatomy."
    )


def headline_ui(anat: Anatomy) -> None:
    """The report's plain sentences (segviz.anatomy.Anatomy.headlines), the first one large."""
    lines = anat.headlines()
    st.info(name(lines[0]), icon=":material/troubleshoot:")
    if len(lines) > 1:
        st.markdown("\n".join(f"- {name(line)}" for line in lines[1:]))
    if anat.skipped:
        st.caption(
            name(
                f"{len(anat.skipped)} images could not be analysed: "
                + "; ".join(server_text(p.reason) for p in anat.skipped[:3])
            )
        )


@st.fragment
def errors_section(result: Evaluation, key: tuple, anat: Anatomy, *, present: bool) -> None:
    """The clickable stacked bars, the dataset split and the images behind the clicked segment: a
    fragment, so a click redraws this section only (the URL follows the filter)."""
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Per class: what the union is made of")
        sort = "iou"
        if not present:
            sort = (
                st.segmented_control(
                    "Sort by", list(SORTS), default="iou", key="an:sort", format_func=SORTS.get
                )
                or "iou"
            )
        st.plotly_chart(
            with_shown_names(anatomy_class_figure(anat, sort=sort, max_height=900), anat.table.names),
            width="stretch",
            key="an:bars",
            on_select=_on_bar_select,
            selection_mode="points",
            config=CHART_CONFIG,
        )
        st.caption("Click a coloured segment to list the images with those pixels.")
    with right:
        st.subheader("Whole dataset")
        st.plotly_chart(anatomy_split_figure(anat), width="stretch", key="an:split", config=CHART_CONFIG)
        objects_ui(anat)
    if not present:
        filtered_images_ui(result, key, anat, state.current().errors)
    state.sync_url()


def with_shown_names(fig, names):
    """The class figure with its category labels through widgets.plot_names (cut, isolated, kept
    distinct), escaped as the figure escapes them; each bar's class comes from its customdata
    (class index), which a click returns unchanged."""
    shown = [html.escape(n, quote=False) for n in plot_names(names)]
    for trace in fig.data:
        trace.y = [shown[int(c[0])] for c in trace.customdata]
    return fig


def _on_bar_select() -> None:
    """Plotly selection callback: the clicked segment's (class, kind) becomes the filter."""
    event = st.session_state.get("an:bars")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    custom = points[0].get("customdata") if points else None
    if custom and custom[1] in KINDS and int(custom[0]) >= 0:
        state.set_errors(f"{int(custom[0])}:{custom[1]}")
    else:
        state.set_errors(None)


def objects_ui(anat: Anatomy) -> None:
    frame = anat.class_frame()
    gt, found = int(frame["gt_objects"].sum()), int(frame["found_objects"].sum())
    invented = int(frame["invented_objects"].sum())
    s = anat.summary()
    st.markdown(f"**Objects** ({gt:,} in the ground truth: 8-connected segments of a class)")
    objects = [
        ("Found", f"{found:,}", "ground-truth objects with a correct pixel"),
        ("Missed", f"{gt - found:,}", "ground-truth objects with no correct pixel"),
        ("Invented", f"{invented:,}", "predicted objects with no correct pixel"),
    ]
    scores = [
        ("Boundary IoU", fmt(s["mean_boundary_iou"]), _iou_help(anat)),
        ("Trimap IoU", fmt(s["mean_trimap_iou"]), _iou_help(anat)),
    ]
    metric_tiles(
        objects + scores, per_row=2, key="tiles_errors"
    )  # two a row: three were cut at 1280 px and in presentation mode


def _iou_help(anat: Anatomy) -> str:
    return (
        f"Mean over classes of the IoU within a band of d = {anat.iou_d * 100:g} % of the image diagonal "
        "around the borders (Cheng et al. 2021; Trimap: around the ground truth's borders only)"
    )


def class_table(anat: Anatomy) -> pd.DataFrame:
    """The per-class table as shown (percentages; NaN = undefined)."""
    f = anat.class_frame()
    return pd.DataFrame(
        {
            "class": [plain(n) for n in f["name"]],
            "IoU": f["iou"] * 100,
            "boundary": f["boundary_error"] * 100,
            "extent": f["extent_error"] * 100,
            "segment": f["segment_error"] * 100,
            "Boundary IoU": f["boundary_iou"] * 100,
            "Trimap IoU": f["trimap_iou"] * 100,
            "GT objects": f["gt_objects"],
            "found": f["found_objects"],
            "missed": f["gt_objects"] - f["found_objects"],
            "invented": f["invented_objects"],
        }
    )


def class_table_ui(anat: Anatomy) -> None:
    st.subheader("Per-class table")
    pct = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        class_table(anat),
        hide_index=True,
        width="stretch",
        key="an:table",
        column_config={
            "boundary": st.column_config.NumberColumn("boundary % of U", format="%.2f"),
            "extent": st.column_config.NumberColumn("extent % of U", format="%.2f"),
            "segment": st.column_config.NumberColumn("segment % of U", format="%.2f"),
            "IoU": pct,
            "Boundary IoU": pct,
            "Trimap IoU": pct,
        },
    )
    st.caption(
        f"U = TP + FP + FN of the class; IoU + boundary + extent + segment = 100 %. Boundary width "
        f"{_width_text(anat.width)}; objects are 8-connected segments (missed: no correct pixel)."
    )


def _width_text(width: float | int) -> str:
    return f"{width * 100:g} % of the image diagonal" if width < 1 else f"{int(width)} px"


# ---------------------------------------------------------------- the filter's images
def filtered_images_ui(result: Evaluation, key: tuple, anat: Anatomy, errors: str | None) -> None:
    if errors is None:
        st.info("Click a bar segment (e.g. a class's segment errors) to list the images where they are.")
        return
    index, kind = parse_filter(errors)
    base = kind.split("_")[-1]
    st.subheader(filter_name(anat.table, errors))
    labels = SIDE_LABELS_SEGMENT if base == "segment" else SIDE_LABELS
    options = [f"{side}{base}" for side in labels]
    st.session_state["an:side"] = kind
    st.segmented_control(
        "Which pixels",
        options,
        key="an:side",
        format_func=lambda o: labels[o[: -len(base)]],
        on_change=_on_side,
        args=(index,),
    )
    ranked = cache.images_for_error(anat, key, index, kind)
    if ranked.empty:
        st.write("No pixels of this type.")
        return
    st.caption(
        f"{len(ranked)} images, {int(ranked['pixels'].sum()):,} pixels, most first, highlighted in yellow; "
        f"(%) = their share of the class's union in that image. Boundary width {_width_text(anat.width)}."
    )
    cols = st.columns(4)
    for i, row in enumerate(ranked.head(12).itertuples(index=False)):
        with cols[i % 4]:
            pair = result.pairs[int(row.image)]
            st.image(
                cache.error_thumbnail(pair, result.table, anat.width, index, kind, THUMB_WIDTH),
                width="stretch",
            )
            label = f"{name(row.name)} · {int(row.pixels):,} px ({100 * row.share:.0f} %)"
            if st.button(
                label,
                key=f"an:thumb:{row.name}",
                width="stretch",
                on_click=state.open_image,
                args=(row.name,),
            ):
                st.rerun(scope="app")  # inside the fragment: the view changes, so redraw the page
    with st.expander(f"All {len(ranked)} images"):
        st.dataframe(
            ranked.assign(name=[plain(n) for n in ranked["name"]], share=ranked["share"] * 100)[
                ["name", "pixels", "share"]
            ],
            hide_index=True,
            width="stretch",
            key="an:ranked",
            column_config={"share": st.column_config.NumberColumn("% of its union", format="%.1f")},
        )


def _on_side(index: int) -> None:
    kind = st.session_state.get("an:side")
    if kind:
        state.set_errors(f"{index}:{kind}")


# ---------------------------------------------------------------- the image view (views/images.py)
def image_errors_ui(result: Evaluation, errors: str | None, images: dict) -> None:
    """With an error-type filter: the image's error types in colour, with a legend and a toggle per
    type (nothing without a filter)."""
    if errors is None or result is None:
        return
    index, _ = parse_filter(errors)
    if index >= result.table.num_classes:
        return
    width = current_width()
    pair = images["pair"]
    try:
        image = cache.pair_anatomy(pair, result.table, width)
    except Exception as exc:  # a file that changed since: a message, never a traceback
        st.warning(name(server_text(f"Error types unavailable for {pair.name}: {exc}")))
        return
    st.markdown(
        f"**Error types** — filter: {filter_name(result.table, errors)} · boundary width {_width_text(width)}"
    )
    names = list(TYPE_CODES)
    shown = st.pills("Types shown", names, selection_mode="multi", default=names, key="an:types")
    _type_legend()
    gt, pred, _ = cache.load_pair(pair, result.table)
    c1, c2 = st.columns([3, 1])
    only = c2.checkbox(f"Only {name(result.table.names[index])}", value=True, key="an:only")
    cls = index if only else None
    rgba = error_type_overlay(image, gt, pred, cls, show=tuple(TYPE_CODES[n] for n in (shown or [])))
    small = resize_labels(rgba, images["gt"].shape[::-1])
    c1.image(to_jpeg(blend_overlay(images["photo"], small)), width="stretch")
    codes = error_type_map(image, gt, pred, cls)
    c2.dataframe(
        pd.DataFrame({"type": names, "pixels": [int((codes == TYPE_CODES[n]).sum()) for n in names]}),
        hide_index=True,
        width="stretch",
        key="an:type_counts",
    )
    c2.button("Clear filter", key="an:clear", on_click=state.set_errors, args=(None,), width="stretch")


def _type_legend() -> None:
    chips = "".join(
        f'<span style="margin-right:12px;white-space:nowrap"><span style="display:inline-block;width:12px;'
        f"height:12px;border:1px solid #555;vertical-align:-1px;margin-right:4px;"
        f'background:rgb{tuple(int(v) for v in ERROR_TYPE_COLOURS[code])}"></span>{label}</span>'
        for label, code in TYPE_CODES.items()
    )
    st.markdown(f'<div style="font-size:0.85rem">{chips}</div>', unsafe_allow_html=True)


# ---------------------------------------------------------------- Compare (views/compare.py)
def compare_section(ctx: Context, name_a: str, name_b: str) -> None:
    """The change of each error share (E/U per class and the mean) from model A to model B, with
    paired-bootstrap intervals (segviz.anatomy.compare_anatomy)."""
    st.subheader("Error types: change per class")
    width = current_width()
    (ra, ka), (rb, kb) = ctx.evaluation(name_a), ctx.evaluation(name_b)
    ready = all(cache.results_cache().get(("anatomy", k, width)) is not None for k in (ka, kb))
    if not ready and not st.session_state.get("an:cmp"):
        st.button(
            "Compare the error types of both models",
            key="an:cmp_go",
            on_click=lambda: st.session_state.__setitem__("an:cmp", True),
            help="Computes both models' error anatomies (kept in the results store)",
        )
        return
    try:
        with st.spinner("Computing the error anatomies…"):
            a, b = cache.anatomy(ra, ka, width), cache.anatomy(rb, kb, width)
        frame = cache.cached(
            ("anatomy_compare", ka, kb, width, RESAMPLES), lambda: compare_anatomy(a, b, resamples=RESAMPLES)
        )
    except (BoundaryWidthError, ValueError) as exc:
        st.error(name(server_text(str(exc))))
        return
    st.dataframe(compare_table(frame), hide_index=True, width="stretch", key="an:cmp_table")
    st.caption(
        f"Share of each class's union (TP + FP + FN), {name(name_b)} − {name(name_a)}, in points; "
        f"[95 % paired-bootstrap interval over the shared images, {RESAMPLES} resamples]; ★ = the interval "
        f"excludes 0; negative = fewer errors of that type. Boundary width {_width_text(width)}."
    )


def compare_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per class (the mean first), one column per error kind: "+1.23 [-0.40, +2.90] ★".

    ``frame``: :func:`segviz.anatomy.compare_anatomy` (the classes in table order, then the mean, each
    with one row per kind). Rows are taken by position, never by name: a class may be called "mean".
    """

    def cell(row) -> str:
        if pd.isna(row["delta"]):
            return "n/a"
        return f"{100 * row['delta']:+.2f} [{100 * row['low']:+.2f}, {100 * row['high']:+.2f}]" + (
            " ★" if row["significant"] else ""
        )

    kinds = list(KINDS)
    texts = frame.apply(cell, axis=1).to_numpy().reshape(-1, len(kinds))
    if (frame["kind"].to_numpy().reshape(-1, len(kinds)) != kinds).any():
        raise ValueError("compare_table: expected one row per kind, in the order of segviz.anatomy.KINDS")
    classes = frame["class"].to_numpy()[:: len(kinds)]
    order = [len(classes) - 1, *range(len(classes) - 1)]  # the mean (last) first
    out = pd.DataFrame(texts[order], columns=[f"{k} Δ pts" for k in kinds])
    out.insert(0, "class", [plain(c) for c in classes[order]])
    return out
