"""Confidence (issue 14): can the model's confidence be trusted, does low confidence point at the
mistakes, which labels are probably wrong (with the regions drawn on one image at a time), which
images to label next; and the confidence overlays of the Images view (:func:`image_overlays`, one
call from ``images.py``), which outline the likely label errors once the queue has been found.

Every number comes from :mod:`segviz.confidence` / :mod:`segviz.review`; this module only draws.
The threshold explorer is redrawn from the per-image histograms (no pixel is read on a slider move).
"""

from __future__ import annotations

import functools
import io
import json
import math
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import streamlit as st

from segviz import SegvizError
from segviz.confidence import ConfidenceResult, ThresholdExplorer, find_confidence, read_confidence
from segviz.confidence_figures import reliability_figure, risk_coverage_figure, threshold_figure
from segviz.confidence_overlay import (
    LABEL_ERROR_COLOUR,
    WRONG_COLOURS,
    confidently_wrong_map,
    label_error_map,
    ramp_lut,
    uncertainty_map,
)
from segviz.dataset import Dataset, confidence_folders
from segviz.evaluate import Evaluation
from segviz.overlay import fit_width, overlay, resize_labels, to_jpeg
from segviz.review import HYPOTHESIS, find_label_errors, rank_next
from segviz.safety import csv_safe_frame

from .. import cache, state
from ..context import Context
from ..widgets import (
    CHART_CONFIG,
    VIEW_WIDTH,
    fmt,
    metric_tiles,
    name,
    name_html,
    plain,
    plot_names,
    resize_rgb,
    safe_filename,
    server_text,
)

VIEW = "Confidence"
MIN_KEPT = (0.0, 0.25, 0.5, 0.75, 0.9)
#: session key: the cache key of the last label-error queue found (the Images view outlines it)
QUEUE_KEY = "cf:le_queue_key"
STYLES = ("outline", "hatched")
SHOWN_REGIONS = 8  # numbered on the pictures and listed under them


def available(root: Path, model: str | None) -> bool:
    """Whether the Confidence view is offered: the model has confidence maps or probabilities."""
    return cache.has_confidence(root, model)


def render(ctx: Context) -> None:
    dataset = cache.open_dataset_cached(ctx.sel.root, ctx.sel.model, ctx.sel.table, ctx.sel.allowed)
    try:
        conf, key = cache.open_confidence(dataset, ctx.key, ctx.sel.generated_ignore)
    except SegvizError as exc:
        st.error(name(server_text(str(exc))))
        return
    warnings = [p.reason for p in conf.warnings]
    with_conf = int(conf.has_confidence.sum())
    if with_conf == 0:
        st.error("No image has a usable confidence map; see the problems below.")
        _problems(warnings)
        return
    calibration_section(conf, with_conf, warnings)
    per_image_table(conf)
    risk_section(conf, present=ctx.state.present)
    st.subheader("Threshold explorer")
    names = list(conf.evaluation.table.names)  # raw: the widgets below format them
    explorer = cache.cached(("conf_explorer", key), conf.threshold_explorer)
    threshold_section(explorer, names)
    label_error_section(conf, key, dataset, present=ctx.state.present)
    next_section(conf, key, dataset, ctx, present=ctx.state.present)


def _problems(warnings: list[str]) -> None:
    if warnings:
        with st.expander(f"⚠ {len(warnings)} confidence problems (those images are evaluated without)"):
            st.dataframe(
                pd.DataFrame({"problem": [server_text(w) for w in warnings]}),
                hide_index=True,
                width="stretch",
            )


def _points(value: float) -> str:
    """A calibration error or an area as shown: percentage points, two decimals."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f} pts"


def _exact(value: float) -> str:
    """The unrounded value, for a tile's help text."""
    return "undefined" if value is None or math.isnan(value) else f"{value:.7g}"


# ---------------------------------------------------------------- calibration
def calibration_section(conf: ConfidenceResult, with_conf: int, warnings: list[str]) -> None:
    cal = conf.calibration()
    st.subheader("Can the confidence be trusted? Calibration")
    source = "full probabilities" if conf.has_probabilities else "top-1 confidence maps"
    st.caption(
        f"{with_conf} of {len(conf.images)} images with {source} · {cal.pixels:,} non-ignored pixels · "
        f"{cal.bins} equal-width bins on (0, 1]"
    )
    st.markdown(cal.sentence())
    _problems(warnings)
    rc = conf.risk_coverage()
    cw = conf.classwise_ece()
    measures = [
        ("ECE", cal.ece, "Expected calibration error: Σ_b n_b |acc_b − conf_b| / Σ n_b"),
        ("ACE", cal.ace, "Average calibration error: mean |acc_b − conf_b| over the non-empty bins"),
        ("MCE", cal.mce, "Maximum calibration error: the largest |acc_b − conf_b| of a non-empty bin"),
    ]
    if cw is not None:
        measures.append(
            ("Class-wise ECE", cw["mean"], "One-vs-rest ECE of p_c against 'labelled c', mean over classes")
        )
    measures += [
        ("AURC", rc.aurc, "Area under the pixel risk–coverage curve (most confident first)"),
        ("E-AURC", rc.e_aurc, "AURC minus that of the oracle that keeps every correct pixel first"),
    ]
    tiles = [(label, _points(v), f"{text} = {_exact(v)}") for label, v, text in measures]
    if cw is None:  # the fourth tile of the first row
        tiles.insert(
            3, ("Mean confidence", fmt(cal.confidence_overall), "Mean top-1 confidence of the pixels")
        )
    tiles += [
        (
            "AUROC",
            fmt(rc.auroc),
            f"Probability that a wrong pixel has a lower confidence than a correct one = {_exact(rc.auroc)}",
        ),
        ("Accuracy", fmt(cal.accuracy_overall), "Pixel accuracy of the pixels with a confidence"),
    ]
    metric_tiles(tiles, key="tiles_conf1")
    left, right = st.columns([1, 1])
    with left:
        st.plotly_chart(reliability_figure(cal), width="stretch", key="cf:reliability", config=CHART_CONFIG)
    with right:
        st.markdown("**Calibration by predicted class**")
        frame = conf.class_calibration_frame()
        view = pd.DataFrame(
            {
                "class": [plain(n) for n in frame["name"]],
                "pixels": frame["pixels"],
                "confidence %": frame["confidence"] * 100,
                "accuracy %": frame["accuracy"] * 100,
                "ECE pts": frame["ece"] * 100,
            }
        )
        if conf.has_probabilities:
            view["class-wise ECE pts"] = frame["classwise_ece"] * 100
        short = {
            "confidence %": ("conf. %", "mean top-1 confidence of the pixels predicted as this class"),
            "accuracy %": ("acc. %", "share of those pixels that are right"),
            "ECE pts": ("ECE", "top-label ECE of the pixels predicted as this class (percentage points)"),
            "class-wise ECE pts": ("1-vs-rest ECE", "one-vs-rest ECE of p_c against 'labelled c' (points)"),
        }
        config = {"pixels": st.column_config.NumberColumn("px", format="localized")}
        for column, (label, help_text) in short.items():
            config[column] = st.column_config.NumberColumn(label, format="%.2f", help=help_text)
        st.dataframe(view, hide_index=True, width="stretch", height=440, column_config=config)


def per_image_table(conf: ConfidenceResult) -> None:
    """Per image: ECE, mean confidence, accuracy (and entropy / margin with probabilities), worst
    ECE first; a click on a row opens the image."""
    frame = conf.image_frame()
    frame = frame[frame["has_confidence"]].sort_values("ece", ascending=False, kind="stable")
    columns = ["name", "ece", "mean_confidence", "accuracy"]
    if conf.has_probabilities:
        columns += ["mean_entropy", "mean_margin"]
    view = frame[columns].assign(**{c: frame[c] * 100 for c in columns[1:4]})
    with st.expander(f"Calibration per image ({len(view)} images, worst ECE first; click a row to open it)"):
        st.dataframe(
            view.assign(name=[plain(n) for n in view["name"]]),
            hide_index=True,
            width="stretch",
            height=300,
            key="cf:images",
            on_select=functools.partial(_open_selected, "cf:images", view["name"].tolist()),
            selection_mode="single-row",
            column_config={
                "name": st.column_config.TextColumn("image"),
                "ece": st.column_config.NumberColumn("ECE pts", format="%.2f"),
                "mean_confidence": st.column_config.NumberColumn("mean conf. %", format="%.2f"),
                "accuracy": st.column_config.NumberColumn("accuracy %", format="%.2f"),
                "mean_entropy": st.column_config.NumberColumn("mean entropy", format="%.3f"),
                "mean_margin": st.column_config.NumberColumn("mean margin", format="%.3f"),
            },
        )


def risk_section(conf: ConfidenceResult, *, present: bool) -> None:
    st.subheader("Does low confidence point at the mistakes?")
    rc, rci = conf.risk_coverage(), conf.risk_coverage(over="images")
    left, right = st.columns([3, 2])
    with left:
        fig = risk_coverage_figure([rc, rci], names=["pixels", "images (by mean confidence)"])
        st.plotly_chart(fig, width="stretch", key="cf:risk", config=CHART_CONFIG)
    with right:
        st.markdown(
            f"Keeping the most confident pixels first, the error rate of what is kept rises from "
            f"{fmt(float(rc.risk[0]) if len(rc.risk) else math.nan)} to {fmt(float(rc.risk[-1]) if len(rc.risk) else math.nan)}. "
            f"A wrong pixel has a lower confidence than a correct one with probability "
            f"**{fmt(rc.auroc)}** (AUROC; 50 % = confidence says nothing about the errors)."
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "ranked": ["pixels", "images"],
                    "AURC pts": [100 * rc.aurc, 100 * rci.aurc],
                    "E-AURC pts": [100 * rc.e_aurc, 100 * rci.e_aurc],
                    "oracle AURC pts": [100 * rc.optimal, 100 * rci.optimal],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.3f")
                for c in ("AURC pts", "E-AURC pts", "oracle AURC pts")
            },
        )
        st.caption(
            "AURC: mean risk over every coverage; E-AURC: its excess over the oracle (lower is better). "
            "Images are ranked by their mean confidence."
        )


# ---------------------------------------------------------------- threshold explorer
@st.fragment
def threshold_section(explorer: ThresholdExplorer, names: list[str]) -> None:
    """The slider t and what follows from it: a fragment redrawn from the explorer's (256, K, K+1)
    confusion matrices only (no pixels). ``names``: the class names as in the table (raw; the class
    box holds class indices and shows the names through widgets.plain)."""
    c1, c2, c3 = st.columns([3, 2, 3])
    t = c1.slider("Keep the pixels with confidence ≥ t", 0.0, 1.0, 0.5, 0.01, key="cf:t")
    min_kept = c2.select_slider(
        "Best t must keep at least",
        MIN_KEPT,
        value=0.5,
        format_func=lambda v: f"{100 * v:.0f} %",
        key="cf:minkept",
        help="Per class, the best threshold is searched among those keeping at least this share of all pixels",
    )
    curves = c3.multiselect(
        "IoU curves of",
        list(range(len(names))),
        key="cf:classes",
        max_selections=6,
        format_func=lambda c: plain(names[c]),
    )
    base, at = explorer.at(0.0), explorer.at(t)
    s0, s = base["summary"], at["summary"]
    metric_tiles(
        [
            ("Threshold used", f"≥ {at['threshold']:.3f}", "The grid value j/255 ≥ t (exact for 8-bit maps)"),
            ("Pixels kept", fmt(at["kept_share"]), f"{at['kept']:,} of {explorer.total:,} pixels"),
            ("Pixel accuracy", fmt(s["pixel_accuracy"]), f"{fmt(s0['pixel_accuracy'])} on every pixel"),
            ("mIoU", fmt(s["mean_iou"]), f"{fmt(s0['mean_iou'])} on every pixel"),
        ],
        key="tiles_conf2",
    )
    left, right = st.columns([1, 1])
    with left:
        fig = threshold_figure(
            explorer,
            threshold=at["threshold"],
            class_names=plot_names(names),  # the figure escapes them
            classes=list(curves),
        )
        st.plotly_chart(fig, width="stretch", key="cf:thresholds", config=CHART_CONFIG)
    with right:
        best = explorer.best_thresholds(min_kept=min_kept)
        view = pd.DataFrame(
            {
                "class": [plain(n) for n in names],
                "IoU all %": base["classes"]["iou"] * 100,
                "IoU ≥ t %": at["classes"]["iou"] * 100,
                "best t": best["threshold"],
                "IoU at best t %": best["iou"] * 100,
            }
        )
        st.markdown(f"**Per class** (best t keeps ≥ {100 * min_kept:.0f} % of the pixels)")
        st.dataframe(
            view,
            hide_index=True,
            width="stretch",
            height=440,
            key="cf:classtable",
            column_config={
                "IoU all %": st.column_config.NumberColumn("IoU %", format="%.2f", help="on every pixel"),
                "IoU ≥ t %": st.column_config.NumberColumn("≥ t", format="%.2f", help="IoU % at t"),
                "best t": st.column_config.NumberColumn(format="%.3f", help="the t with the highest IoU"),
                "IoU at best t %": st.column_config.NumberColumn(
                    "at best t", format="%.2f", help="IoU % at best t"
                ),
            },
        )


# ---------------------------------------------------------------- likely label errors
def _on_demand(key: tuple, compute, *, button: str, label: str, note: str):
    """A value from the shared cache, or computed when ``button`` is clicked (None until then)."""
    value = cache.results_cache().get(key)
    if value is not None:
        return value
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c2.caption(note)
    if not c1.button(label, key=button, width="stretch"):
        return None
    with st.spinner(label + "…"):
        try:
            return cache.cached(key, compute)
        except SegvizError as exc:
            st.error(name(server_text(str(exc))))
            return None


def _open_selected(widget_key: str, names: list[str]) -> None:
    """Row-selection callback of a queue table: open the image of the selected row."""
    event = st.session_state.get(widget_key) or {}
    rows = (event.get("selection") or {}).get("rows") or []
    if rows and rows[0] < len(names):
        state.open_image(names[rows[0]])


def label_error_section(conf: ConfidenceResult, key: tuple, dataset: Dataset, *, present: bool) -> None:
    st.subheader("Likely label errors")
    st.info(
        HYPOTHESIS + " Nothing here changes the ground truth or the scores above.", icon=":material/help:"
    )
    rule = "probabilities" if conf.has_probabilities else "top1"
    min_pixels = 20
    if not present:
        c1, c2, _ = st.columns([2, 1, 3])
        rules = ["probabilities", "top1"] if conf.has_probabilities else ["top1"]
        rule = c1.selectbox(
            "Rule",
            rules,
            key="cf:rule",
            help="probabilities: confident learning's per-class thresholds on p_k; "
            "top1: a confident prediction that disagrees with the label",
        )
        min_pixels = int(c2.number_input("Min region px", 1, 100_000, 20, key="cf:minpx"))
    queue_key = ("label_errors", key, rule, min_pixels)
    queue = _on_demand(
        queue_key,
        lambda: find_label_errors(conf, dataset, rule=rule, min_pixels=min_pixels),
        button="cf:le_run",
        label="Find likely label errors",
        note=f"Reads the {int(conf.has_confidence.sum())} images with confidence once more to find the "
        "regions; the result is kept for every session.",
    )
    if queue is None:
        return
    st.session_state[QUEUE_KEY] = queue_key  # the Images view outlines this queue's regions
    images = queue.image_frame()
    images = images[images["regions"] > 0]
    regions = queue.region_frame()
    st.markdown(
        f"**{len(regions):,} regions** ({int(images['flagged_pixels'].sum()):,} pixels) in "
        f"**{len(images)} of {len(queue.images)} images** (rule: {queue.rule}, regions of ≥ {min_pixels} px). "
        "Click a row to open the image."
    )
    _problems([p.reason for p in queue.warnings])
    left, right = st.columns([1, 1])
    with left:
        _queue_table(
            images[["rank", "image", "regions", "flagged_pixels", "flagged_share", "score"]].assign(
                flagged_share=images["flagged_share"] * 100
            ),
            "cf:le_images",
            {
                "flagged_pixels": st.column_config.NumberColumn("flagged px", format="localized"),
                "flagged_share": st.column_config.NumberColumn("flagged %", format="%.2f"),
                "score": st.column_config.NumberColumn(
                    format="%.1f", help="Σ confidence of the flagged pixels"
                ),
            },
        )
    with right:
        _queue_table(
            regions[["rank", "image", "region", "pixels", "labelled_as", "model_says", "mean_confidence"]],
            "cf:le_regions",
            {
                "labelled_as": st.column_config.TextColumn("labelled as"),
                "model_says": st.column_config.TextColumn("model says"),
                "mean_confidence": st.column_config.NumberColumn("mean conf.", format="%.3f"),
            },
        )
    label_error_preview(queue, conf, images["image"].tolist(), present=present)
    if not present:
        _queue_downloads(queue, key)


def label_error_preview(queue, conf: ConfidenceResult, flagged: list[str], *, present: bool) -> None:
    """One image of the queue (ranked, the first by default): its likely-label-error regions drawn
    on the ground truth and on the prediction, with a toggle and the drawing style."""
    if not flagged:
        return
    st.markdown(
        "**Where they are** — the regions on the ground truth (labelled as) and on the prediction (model says)"
    )
    show, style, image = True, STYLES[0], flagged[0]
    if not present:
        c1, c2, c3 = st.columns([3, 1.4, 2], vertical_alignment="bottom")
        image = c1.selectbox("Image", flagged, key="cf:le_image", format_func=plain)
        show = c2.toggle("Show the regions", value=True, key="cf:le_show")
        style = c3.segmented_control("Draw them", STYLES, default=STYLES[0], key="cf:le_style") or STYLES[0]
    evaluation = conf.evaluation
    table = evaluation.table
    gt, pred, photo = cache.load_pair(evaluation.pairs[evaluation.names.index(image)], table)
    h, w = gt.shape
    size = fit_width(w, h, VIEW_WIDTH // 2)
    small_photo = resize_rgb(photo, size) if photo is not None else None
    mask = resize_labels(queue.masks[image], size)
    left, right = st.columns(2)
    for column, indices, label in ((left, gt, "ground truth"), (right, pred, "prediction")):
        picture = overlay(small_photo, resize_labels(indices, size), table, alpha=0.45)
        if show:
            picture = label_error_map(mask, photo=picture, style=style, numbers=SHOWN_REGIONS)
        column.image(to_jpeg(picture), width="stretch", caption=label)
    mine = [r for r in queue.regions if r.image == image]
    lines = [
        f"{r.region}: {r.pixels:,} px labelled {', '.join(name_html(n) for n in r.labelled_as)}, "
        f"the model says {name_html(r.model_says)} (mean confidence {r.mean_confidence:.3f})"
        for r in mine[:SHOWN_REGIONS]
    ]
    more = f" … and {len(mine) - SHOWN_REGIONS} more (not numbered)" if len(mine) > SHOWN_REGIONS else ""
    st.markdown(
        _label_error_legend(len(mine), shown=show)
        + f'<div style="font-size:0.8rem">{"<br>".join(lines)}{more}</div>',
        unsafe_allow_html=True,
    )


def _label_error_legend(regions: int, *, shown: bool) -> str:
    chip = (
        '<span style="display:inline-block;width:11px;height:11px;border:2px solid rgb(0,0,0);'
        f'background:rgb{LABEL_ERROR_COLOUR};margin-right:4px;vertical-align:middle"></span>'
    )
    state_text = "drawn" if shown else "hidden"
    return (
        f'<span style="font-size:0.8rem">{chip}{regions:,} likely label error region'
        f"{'' if regions == 1 else 's'} ({state_text}; a hypothesis to check, not a correction)</span>"
    )


def _queue_table(frame: pd.DataFrame, widget_key: str, config: dict) -> None:
    shown = frame.assign(image=[plain(n) for n in frame["image"]])
    if "model_says" in shown:
        shown = shown.assign(
            model_says=[plain(n) for n in shown["model_says"]],
            labelled_as=[plain(n) for n in shown["labelled_as"]],
        )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=360,
        key=widget_key,
        on_select=functools.partial(_open_selected, widget_key, frame["image"].tolist()),
        selection_mode="single-row",
        column_config=config,
    )


def _queue_downloads(queue, key: tuple) -> None:
    stem = "label_errors"
    d = st.columns(4)
    d[0].download_button(
        "images.csv",
        functools.partial(_csv, queue.image_frame),
        file_name=f"{stem}_images.csv",
        mime="text/csv",
        width="stretch",
        on_click="ignore",
    )
    d[1].download_button(
        "regions.csv",
        functools.partial(_csv, queue.region_frame),
        file_name=f"{stem}_regions.csv",
        mime="text/csv",
        width="stretch",
        on_click="ignore",
    )
    d[2].download_button(
        "label_errors.json",
        functools.partial(_json, queue),
        file_name=f"{stem}.json",
        mime="application/json",
        width="stretch",
        on_click="ignore",
    )
    d[3].download_button(
        "queue + region masks (zip)",
        functools.partial(queue_zip, queue),
        file_name=f"{stem}.zip",
        mime="application/zip",
        width="stretch",
        on_click="ignore",
        help="images.csv, regions.csv, label_errors.json and masks/NAME.png (region numbers, 0 = none)",
    )


def _csv(frame_fn) -> bytes:
    return csv_safe_frame(frame_fn()).to_csv(index=False, float_format="%.6f").encode("utf-8")


def _json(queue) -> bytes:
    return (json.dumps(queue.to_dict(), indent=1, allow_nan=False) + "\n").encode("utf-8")


def queue_zip(queue) -> bytes:
    """The queue as ``segviz label-errors`` writes it (:meth:`LabelErrorQueue.write`), zipped."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="segviz-queue-") as tmp:
        out = Path(tmp)
        written = queue.write(out)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in written:
                zf.write(path, path.relative_to(out).as_posix())
    return buffer.getvalue()


# ---------------------------------------------------------------- what to label next
def unlabelled_source(root: Path, dataset: Dataset) -> tuple[bool, Path | None]:
    """(whether there is anything to rank, the folder of unlabelled images or None = the dataset's
    own predictions without ground truth). ``DATASET/unlabelled/`` (laid out like a dataset without
    gt/) is used when present."""
    folder = root / "unlabelled"
    if (folder / "pred").is_dir():
        return True, folder
    return any("no ground-truth mask" in p.reason for p in dataset.skipped), None


def next_section(
    conf: ConfidenceResult, key: tuple, dataset: Dataset, ctx: Context, *, present: bool
) -> None:
    found, folder = unlabelled_source(ctx.sel.root, dataset)
    if not found:
        return
    st.subheader("What to label next")
    where = "unlabelled/" if folder is not None else "pred/ without gt/"
    ranked = _on_demand(
        ("next", key, str(folder)),
        lambda: rank_next(conf, dataset, unlabelled=folder, model=ctx.sel.model),
        button="cf:next_run",
        label="Rank the unlabelled images",
        note=f"Images in {where} with a prediction and confidence but no ground truth, ranked by expected "
        "error; reads their confidence maps.",
    )
    if ranked is None:
        return
    _problems([p.reason for p in ranked.warnings])
    by = "a ridge model of mIoU on confidence features" if ranked.by == "model" else "1 − mean confidence"
    metric_tiles(
        [
            ("Unlabelled images", f"{len(ranked.frame):,}", f"ranked by {by}"),
            (
                "ρ fitted model",
                _rho(ranked.spearman_model),
                "Spearman correlation of the cross-validated predicted mIoU with the true mIoU on the labelled images",
            ),
            (
                "ρ mean confidence",
                _rho(ranked.spearman_uncertainty),
                "Spearman correlation of the mean confidence with the true mIoU on the labelled images",
            ),
            (
                "Labelled images used",
                f"{ranked.labelled:,}",
                "5-fold cross-validation (image i in fold i mod 5)",
            ),
        ],
        key="tiles_conf3",
    )
    st.caption(ranked.summary() + ". The ranking used is the one that ranks the labelled images better.")
    frame = ranked.frame[["rank", "image", "expected_error", "predicted_miou", "mean_uncertainty"]]
    st.dataframe(
        frame.assign(image=[plain(n) for n in frame["image"]]),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(format="%.4f")
            for c in ("expected_error", "predicted_miou", "mean_uncertainty")
        },
    )
    if not present:
        st.download_button(
            "next_to_label.csv",
            functools.partial(_csv, lambda: ranked.frame),
            file_name=f"next_to_label_{safe_filename(ctx.sel.model or 'model')}.csv",
            mime="text/csv",
            on_click="ignore",
        )


def _rho(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}"


# ---------------------------------------------------------------- the Images view's overlays
def _confidence_files(pair):
    """The confidence files beside the pair's prediction folder (``find_confidence``), cached while
    the conf/ and prob/ folders are unchanged; None when the model has none."""
    pred_dir = Path(pair.pred_path).parents[len(PurePosixPath(pair.name).parts) - 1]
    holder = Dataset(None, pred_dir, None, None, None, [])
    folders = [f for f in confidence_folders(holder) if f is not None]
    if not folders:
        return None
    key = ("conf_files", str(pred_dir), tuple((str(f), f.stat().st_mtime_ns) for f in folders))
    return cache.cached(key, lambda: find_confidence(holder))


def _display_confidence(path, k: int, logits: bool, shape: tuple[int, int], size: tuple[int, int]):
    """(top-1 confidence at full size, at display size, normalised entropy at display size or None)."""

    def build():
        cmap = read_confidence(path, num_classes=k, logits=logits, shape=shape)
        if cmap.shape != shape:
            raise SegvizError(
                f"{path}: confidence map is {cmap.shape[1]}×{cmap.shape[0]}, the masks {shape[1]}×{shape[0]}"
            )
        top = cmap.top().astype(np.float32)
        entropy = cmap.entropy()
        top.flags.writeable = False
        return (
            top,
            resize_labels(top, size),
            resize_labels(entropy, size) if entropy is not None else None,
        )

    return cache.cached(
        ("conf_map", *cache.file_key(Path(path)), k, logits, size), build, pool=cache.pictures_cache()
    )


@st.fragment
def image_overlays(result: Evaluation, index: int, images: dict) -> None:
    """Images view: the uncertainty (1 − confidence, or entropy) overlay and the confidently wrong
    pixels (wrong with confidence ≥ t); draws nothing when the model has no confidence."""
    pair = images["pair"]
    files = _confidence_files(pair)
    path = files.files.get(pair.name) if files is not None else None
    if path is None:
        return
    k = result.table.num_classes
    gt, pred, _ = cache.load_pair(pair, result.table)
    small = images["gt"].shape
    try:
        top, small_top, small_entropy = _display_confidence(path, k, files.logits, gt.shape, small[::-1])
    except SegvizError as exc:
        st.warning(name(server_text(f"Confidence overlay unavailable: {exc}")))  # names a file
        return
    st.markdown("**Confidence** — where the model is unsure, and where it is wrong but sure")
    queue = _queue_for(pair)
    regions = [r for r in queue.regions if r.image == pair.name] if queue is not None else []
    c1, c2, c3 = st.columns([2, 3, 2], vertical_alignment="center")
    kinds = ["1 − confidence", "entropy"] if small_entropy is not None else ["1 − confidence"]
    kind = c1.segmented_control("Uncertainty", kinds, default=kinds[0], key="cf:im_kind") or kinds[0]
    t = c2.slider("Confidently wrong: confidence ≥ t", 0.0, 1.0, 0.9, 0.01, key="cf:im_t")
    outline = False
    if regions:  # above both pictures, so that they stay side by side at one height
        outline = c3.toggle(
            "Outline likely label errors",
            value=True,
            key="cf:im_le",
            help="Regions where a confident prediction disagrees with the ground truth (found in the "
            "Confidence view), drawn on the confidently wrong picture",
        )
    wrong = (gt < k) & (pred != gt)
    sure = int((wrong & (top >= t)).sum())
    left, right = st.columns(2)
    u = 1 - small_top if kind == "1 − confidence" else small_entropy
    left.image(to_jpeg(uncertainty_map(u, photo=images["photo"])), width="stretch")
    left.markdown(_ramp_legend(kind), unsafe_allow_html=True)
    cw = confidently_wrong_map(images["gt"], images["pred"], small_top, k, threshold=t, photo=images["photo"])
    if outline:
        cw = label_error_map(resize_labels(queue.masks[pair.name], small[::-1]), photo=cw)
    right.image(to_jpeg(cw), width="stretch")
    legend = _wrong_legend(sure, int(wrong.sum()), t)
    if queue is not None:
        legend += _label_error_legend(len(regions), shown=outline)
    else:
        legend += (
            '<span style="font-size:0.8rem">Likely label errors: find them in the Confidence view '
            "to outline them here.</span>"
        )
    right.markdown(legend, unsafe_allow_html=True)


def _queue_for(pair):
    """The label-error queue last found in the Confidence view when it covers this pair's files
    (same ground-truth and prediction paths, same size), else None."""
    queue_key = st.session_state.get(QUEUE_KEY)
    if queue_key is None:
        return None
    pool = cache.results_cache()
    queue, found = pool.get(queue_key), pool.get(queue_key[1])
    if queue is None or found is None:
        return None
    evaluation = found[0].evaluation
    if pair.name not in evaluation.names:
        return None
    mine = evaluation.pairs[evaluation.names.index(pair.name)]
    if (str(mine.gt_path), str(mine.pred_path)) != (str(pair.gt_path), str(pair.pred_path)):
        return None  # another model or dataset: its regions do not belong to this image
    return queue


def _ramp_legend(kind: str) -> str:
    lut = ramp_lut()
    stops = ", ".join(
        f"rgb{tuple(int(v) for v in lut[i])} {100 * i / 255:.0f}%" for i in (0, 64, 128, 192, 255)
    )
    return (
        '<div style="font-size:0.8rem;display:flex;align-items:center;gap:6px">'
        f"<span>{name_html(kind)}: 0 (sure)</span>"
        f'<span style="display:inline-block;width:140px;height:10px;background:linear-gradient(90deg,{stops})"></span>'
        "<span>1 (unsure)</span></div>"
    )


def _wrong_legend(sure: int, wrong: int, t: float) -> str:
    chips = "".join(
        f'<span style="margin-right:10px;white-space:nowrap"><span style="display:inline-block;width:11px;'
        f'height:11px;background:rgb{c};margin-right:4px"></span>{label}</span>'
        for label, c in WRONG_COLOURS.items()
    )
    share = f"{100 * sure / wrong:.1f} %" if wrong else "n/a"
    return (
        f'<div style="font-size:0.8rem">{chips}<br>{sure:,} px wrong with confidence ≥ {t:.2f} '
        f"({share} of the {wrong:,} wrong px)</div>"
    )
