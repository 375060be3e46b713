"""segviz dashboard: `streamlit run app.py` opens the bundled sample_data/.

The app wires widgets to library functions: reading, counting and metrics live in `segviz/`, figures
are built by `segviz.figures`, pictures by `segviz.overlay`. This file only draws widgets, caches
results (keyed on file paths, sizes and modification times) and keeps the shareable selection
(dataset, model, view, confusion cell, image) in the URL query string.
"""

from __future__ import annotations

import dataclasses
import html
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from segviz import ClassTable, SegvizError, list_models, open_dataset
from segviz.archive import extract_dataset_zip
from segviz.classes import cvd_safe_colors
from segviz.compare import (
    DISAGREEMENT_COLOURS,
    DISAGREEMENT_LABELS,
    Comparison,
    compare,
    disagreement_map,
    disagreement_rgb,
)
from segviz.conventions import miou_conventions
from segviz.dataset import Dataset
from segviz.evaluate import Evaluation, count_pairs, fold, generated_table
from segviz.figures import (
    INVALID_NAME,
    METRIC_LABELS,
    class_bar_figure,
    confusion_figure,
    delta_bar_figure,
    difference_figure,
    hover_image_figure,
)
from segviz.masks import read_mask
from segviz.metrics import DEFINITIONS
from segviz.overlay import (
    class_indices,
    error_map,
    fit_width,
    overlay,
    resize_labels,
    to_jpeg,
    to_png,
)
from segviz.presets import PRESETS
from segviz.stats import BootstrapResult, bootstrap
from segviz.store import ResultsStore

APP_DIR = Path(__file__).resolve().parent
DATA_ROOT = Path(os.environ.get("SEGVIZ_DATA_ROOT", APP_DIR)).resolve()
DEFAULT_DATASET = os.environ.get("SEGVIZ_DATASET", "sample_data")
DATASET_TABLE = "dataset's classes.csv"
GENERATED_TABLE = "generated from the masks"
VIEWS = ("Overview", "Images", "Compare")
RESAMPLES = 1000
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
CACHE_ENTRIES = int(os.environ.get("SEGVIZ_CACHE_ENTRIES", "8"))
THUMB_WIDTH = 320
VIEW_WIDTH = 960


# ====================================================================== caches (app layer only)
class LruCache:
    """A small thread-safe LRU shared by every session (one evaluation per dataset, not per session).

    Stored values are treated as read-only by every caller.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.key_locks: dict = {}

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def lock_for(self, key) -> threading.Lock:
        with self._lock:
            return self.key_locks.setdefault(key, threading.Lock())


@st.cache_resource
def shared_cache() -> LruCache:
    return LruCache(CACHE_ENTRIES)


def fingerprint(dataset: Dataset) -> tuple:
    """Paths, sizes and modification times of every mask: what identifies the counts."""
    out = []
    for p in dataset.pairs:
        for path in (p.gt_path, p.pred_path):
            s = path.stat()
            out.append((str(path), s.st_size, s.st_mtime_ns))
    return tuple(out)


def evaluate_cached(dataset: Dataset, table_choice: str) -> tuple[Evaluation, tuple]:
    """Counts are computed once per (files, colours) and shared; folding is cheap and cached too."""
    cache = shared_cache()
    colours = tuple(dataset.table.colour_codes()[0].tolist()) if dataset.table is not None else ()
    count_key = ("counts", fingerprint(dataset), colours)
    with cache.lock_for(count_key):  # several sessions opening one dataset evaluate it once
        counted = cache.get(count_key)
        if counted is None:
            bar = st.progress(0.0, text=f"Evaluating {len(dataset.pairs)} images…")

            def progress(done: int, total: int) -> None:
                if done == total or done % 5 == 0:
                    bar.progress(done / total, text=f"Evaluated {done} / {total} images")

            counted = count_pairs(dataset.pairs, dataset.table, progress=progress, store=ResultsStore())
            bar.empty()
            cache.put(count_key, counted)
    ok, bad = counted
    table = dataset.table or generated_table(ok, ignore_ids=st.session_state.get("_generated_ignore", ()))
    fold_key = ("fold", count_key, tuple(table.rows()), table_choice)
    result = cache.get(fold_key)
    if result is None:
        result = fold(ok, table, skipped=[*dataset.skipped, *bad], warnings=dataset.warnings)
        cache.put(fold_key, result)
    return result, fold_key


def cached(key: tuple, compute):
    """A derived, read-only result (bootstrap, comparison) in the shared cache."""
    cache = shared_cache()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value


def open_model(sel: Selection, model: str | None) -> tuple[Evaluation, tuple]:
    dataset = (
        open_dataset(sel.root, model=model, classes=sel.table)
        if sel.table is not None
        else open_dataset(sel.root, model=model)
    )
    if sel.table is None:
        dataset.table = None
    return evaluate_cached(dataset, sel.table_choice)


@st.cache_data(max_entries=256, show_spinner=False)
def load_photo(path: str, size: int, mtime_ns: int) -> np.ndarray | None:
    """An RGB photo as an array (keyed on path, size and mtime)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a bomb is refused, not decoded
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


@st.cache_data(max_entries=256, show_spinner=False)
def load_indices(
    path: str, size: int, mtime_ns: int, kind: str, encoding: str, _table: ClassTable, table_key: tuple
) -> np.ndarray:
    """Class indices of a mask file (see segviz.overlay.class_indices)."""
    return class_indices(read_mask(path, _table).values, _table, kind=kind, encoding=encoding)


def file_key(path: Path | None) -> tuple[str, int, int]:
    if path is None:
        return ("", 0, 0)
    s = path.stat()
    return (str(path), s.st_size, s.st_mtime_ns)


# ====================================================================== state and URL
def init_state() -> None:
    """Session state is initialised in one place, from the URL query string when present."""
    if st.session_state.get("_initialised"):
        return
    q = st.query_params
    st.session_state["dataset"] = q.get("dataset", DEFAULT_DATASET)
    st.session_state["model"] = q.get("model")
    st.session_state["view"] = q.get("view", VIEWS[0]) if q.get("view") in VIEWS else VIEWS[0]
    st.session_state["image"] = q.get("image")
    st.session_state["cell"] = _parse_cell(q.get("cell"))
    st.session_state["present"] = q.get("present") == "1"
    st.session_state["_initialised"] = True


def _parse_cell(text: str | None) -> tuple[int, int] | None:
    try:
        a, b = (int(v) for v in (text or "").split(","))
        return a, b
    except ValueError:
        return None


def sync_query_params() -> None:
    wanted = {
        "dataset": st.session_state.get("dataset"),
        "model": st.session_state.get("model"),
        "view": st.session_state.get("view"),
        "cell": ",".join(map(str, st.session_state["cell"])) if st.session_state.get("cell") else None,
        "image": st.session_state.get("image"),
        "present": "1" if st.session_state.get("present") else None,
    }
    for key, value in wanted.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


# ====================================================================== sidebar
@dataclass
class Selection:
    root: Path
    model: str | None
    table: ClassTable | None
    table_choice: str
    models: list[str]


def discover_datasets(root: Path, depth: int = 3) -> list[str]:
    """Folders below ``root`` that hold gt/ (relative paths), without following symlinks out."""
    found = []
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        rel = Path(dirpath).relative_to(root)
        if len(rel.parts) >= depth:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in ("gt", "pred", "images")
        )
        if (Path(dirpath) / "gt").is_dir():
            found.append(rel.as_posix())
    return found


def resolve_in_root(text: str, root: Path = DATA_ROOT) -> Path:
    """A user-typed dataset path, which must stay inside the data root (symlinks resolved)."""
    candidate = (root / text).resolve()
    if not candidate.is_relative_to(root):
        raise SegvizError(f"{text}: outside the data root {root}")
    if not candidate.is_dir():
        raise SegvizError(f"{text}: no such folder under the data root {root}")
    return candidate


def upload_ui() -> Path | None:
    upload = st.sidebar.file_uploader(
        "…or upload a dataset zip",
        type=["zip"],
        key="upload",
        help="A zip holding images/, gt/, pred/ and classes.csv",
    )
    if upload is None:
        return None
    marker = (upload.name, upload.size)
    if st.session_state.get("_upload_marker") != marker:
        tmp = tempfile.TemporaryDirectory(prefix="segviz-upload-")
        try:
            root = extract_dataset_zip(upload, Path(tmp.name) / "data")
        except SegvizError as exc:
            tmp.cleanup()
            st.sidebar.error(str(exc))
            return None
        old = st.session_state.get("_upload_tmp")
        if old is not None:
            old.cleanup()
        st.session_state["_upload_tmp"] = tmp  # removed with the session
        st.session_state["_upload_root"] = root
        st.session_state["_upload_marker"] = marker
    return st.session_state["_upload_root"]


def sidebar_ui() -> Selection | None:
    sb = st.sidebar
    sb.title("segviz")
    datasets = discover_datasets(DATA_ROOT)
    current = st.session_state["dataset"]
    options = datasets if current in datasets else [current, *datasets]
    sb.selectbox(
        "Dataset", options, key="dataset", help=f"Folders holding gt/ under the data root {DATA_ROOT}"
    )
    root = upload_ui()
    if root is None:
        try:
            root = resolve_in_root(st.session_state["dataset"])
        except SegvizError as exc:
            st.error(str(exc))
            return None
    models = list_models(root)
    if models:
        if st.session_state.get("model") not in models:
            st.session_state["model"] = models[0]
        sb.selectbox("Model", models, key="model")
    else:
        st.session_state["model"] = None
    has_csv = (root / "classes.csv").is_file()
    choices = ([DATASET_TABLE] if has_csv else []) + sorted(PRESETS) + [GENERATED_TABLE]
    choice = sb.selectbox("Class table", choices, key=f"table:{root}")
    try:
        if choice == DATASET_TABLE:
            table = ClassTable.from_csv(root / "classes.csv")
        elif choice == GENERATED_TABLE:
            table = None
        else:
            table = ClassTable.from_preset(choice)
    except SegvizError as exc:
        st.error(str(exc))
        return None
    default_ignore = ",".join(map(str, table.ignore_ids)) if table is not None else ""
    text = sb.text_input(
        "Ignore ids",
        value=default_ignore,
        key=f"ignore:{root}:{choice}",
        help="Comma-separated ids whose ground-truth pixels are left out (e.g. 255)",
    )
    try:
        ignore = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        sb.error(f"Ignore ids must be comma-separated integers (got {text!r})")
        ignore = list(table.ignore_ids) if table is not None else []
    if table is not None and tuple(ignore) != table.ignore_ids:
        table = table.with_ignore(ignore)
    st.session_state["_generated_ignore"] = tuple(ignore) if table is None else ()
    views = VIEWS if len(models) >= 2 else VIEWS[:2]
    if st.session_state.get("view") not in views:
        st.session_state["view"] = views[0]
    sb.radio("View", views, key="view", horizontal=True)
    sb.divider()
    sb.toggle("Presentation mode", key="present", help="Hide the controls and enlarge the figures")
    sb.toggle("Colour-blind-safe colours", key="cvd", help="Okabe–Ito based palette (display only)")
    return Selection(root, st.session_state.get("model"), table, f"{choice}:{text}", models)


# ====================================================================== overview
def fmt(value: float | None, pct: bool = True) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{100 * value:.2f} %" if pct else f"{value:,}"


def problems_ui(result: Evaluation) -> None:
    n_skip, n_warn = len(result.skipped), len(result.warnings) + len(result.table.warnings)
    if not (n_skip or n_warn):
        return
    with st.expander(f"⚠ {n_skip} skipped, {n_warn} warnings while loading", expanded=False):
        if result.skipped:
            st.dataframe(
                pd.DataFrame(
                    {"sample": [p.name for p in result.skipped], "reason": [p.reason for p in result.skipped]}
                ),
                hide_index=True,
                width="stretch",
            )
        warnings = [*result.table.warnings, *(w.reason for w in result.warnings)]
        if warnings:
            st.dataframe(pd.DataFrame({"warning": warnings}), hide_index=True, width="stretch")


def summary_ui(result: Evaluation, boot: BootstrapResult | None = None) -> None:
    s = result.summary()

    def ci(key: str) -> str:
        if boot is None or key not in boot.summary:
            return ""
        iv = boot.summary[key]
        return f" · 95 % bootstrap interval over images: {fmt(iv.low)} – {fmt(iv.high)}"

    tiles = [
        (
            "mIoU",
            fmt(s["mean_iou"]),
            DEFINITIONS["mean_iou"] + f" ({s['mean_iou_classes']} classes)" + ci("mean_iou"),
        ),
        ("Pixel accuracy", fmt(s["pixel_accuracy"]), DEFINITIONS["pixel_accuracy"] + ci("pixel_accuracy")),
        (
            "Mean pixel acc.",
            fmt(s["mean_pixel_accuracy"]),
            DEFINITIONS["mean_pixel_accuracy"] + f" ({s['mean_pixel_accuracy_classes']} classes)",
        ),
        ("FWIoU", fmt(s["frequency_weighted_iou"]), DEFINITIONS["frequency_weighted_iou"]),
        ("Mean Dice", fmt(s["mean_dice"]), DEFINITIONS["mean_dice"] + f" ({s['mean_dice_classes']} classes)"),
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
    for row in (tiles[:4], tiles[4:]):
        for col, (label, value, help_text) in zip(st.columns(4), row, strict=True):
            col.metric(label, value, help=help_text, border=True)
    if boot is not None:
        iv = boot.summary["mean_iou"]
        st.caption(
            f"mIoU 95 % interval {fmt(iv.low)} – {fmt(iv.high)} (bootstrap over {boot.num_images} images, "
            f"{boot.resamples} resamples, seed {boot.seed}: how much the number would move on other images like these)"
        )


def class_bars_ui(result: Evaluation, boot: BootstrapResult | None = None) -> None:
    metric, sort, show_ci = "iou", "value", True
    if not st.session_state.get("present"):
        # two rows: side by side, the last options of both controls were cut off in a half-width column
        c1, c3 = st.columns([4, 1.4], vertical_alignment="bottom")
        c2 = st.container()
        metric = (
            c1.segmented_control(
                "Metric",
                list(METRIC_LABELS),
                default="iou",
                key="ov:metric",
                format_func={
                    "iou": "IoU",
                    "accuracy": "Recall",
                    "precision": "Precision",
                    "dice": "Dice",
                }.get,
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
    if st.session_state.get("present"):
        fig.update_layout(font=dict(size=18))
    st.plotly_chart(fig, width="stretch", key="ov:bars", config=CHART_CONFIG)


def class_table_ui(result: Evaluation) -> None:
    frame = result.class_frame()
    total_gt = max(int(frame["gt_pixels"].sum()), 1)
    total_pred = max(int(frame["pred_pixels"].sum()), 1)
    view = pd.DataFrame(
        {
            "class": frame["name"],
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


def on_cell_select() -> None:
    """Plotly selection callback: store the clicked cell (AppTest sets session_state['cell'] directly)."""
    event = st.session_state.get("ov:cm")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points and points[0].get("customdata"):
        a, b, _ = points[0]["customdata"]
        st.session_state["cell"] = (int(a), int(b))
    else:
        st.session_state["cell"] = None


def confusion_ui(result: Evaluation):
    k = result.table.num_classes
    names = list(result.table.names)
    normalize, hidden, top_n, log, dim, invalid = "row", [], (k if k <= 30 else 25), False, True, False
    if not st.session_state.get("present"):
        c1, c2, c3, c4 = st.columns([2.2, 2, 3, 1.3])
        normalize = (
            c1.segmented_control(
                "Normalise",
                ["none", "row", "column"],
                default="row",
                key="cm:norm",
                format_func={"none": "counts", "row": "row (recall)", "column": "column (precision)"}.get,
            )
            or "row"
        )
        hidden = c3.multiselect(
            "Hide classes", names, key="cm:hide", placeholder="e.g. a dominant background"
        )
        top_n = c4.number_input(
            "Top-N classes",
            min_value=2,
            max_value=max(k, 2),
            value=min(top_n, max(k, 2)),
            key="cm:top",
            help="Keep the N classes with the most confused pixels",
        )
        with c2:
            log = st.checkbox("Log colour scale", key="cm:log")
            dim = st.checkbox("De-emphasise diagonal", value=True, key="cm:dim")
            invalid = result.invalid_pred_pixels > 0 and st.checkbox(
                "Show invalid column", value=True, key="cm:inv"
            )
    fig = confusion_figure(
        result.confusion,
        names,
        normalize=normalize,
        log=log,
        hidden=[names.index(h) for h in hidden],
        top_n=int(top_n),
        diagonal="dim" if dim else "show",
        show_invalid=bool(invalid),
    )
    st.plotly_chart(
        fig,
        width="stretch",
        key="ov:cm",
        on_select=on_cell_select,
        selection_mode="points",
        config=CHART_CONFIG,
    )
    st.caption("Rows: ground truth · columns: prediction · click a cell to list the images where it happens")
    return fig


def cell_name(result: Evaluation, cell: tuple[int, int]) -> tuple[str, str]:
    names = [*result.table.names, INVALID_NAME]
    return names[cell[0]], names[cell[1]]


def cell_images_ui(result: Evaluation, sel: Selection) -> None:
    cell = st.session_state.get("cell")
    k = result.table.num_classes
    if cell is None or not (0 <= cell[0] < k and 0 <= cell[1] <= k):
        st.info("Click a cell of the confusion matrix to see the images where that confusion happens.")
        return
    gt_name, pred_name = cell_name(result, cell)
    ranked = result.images_for_cell(*cell)
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
            st.image(thumbnail(pair, result.table, cell), width="stretch")
            label = f"{row.name} · {int(row.pixels):,} px ({100 * row.share_of_gt:.1f} % of its {gt_name})"
            st.button(label, key=f"thumb:{row.name}", width="stretch", on_click=open_image, args=(row.name,))


def open_image(name: str) -> None:
    """Button callback (runs before the widgets are drawn, so it may change the view)."""
    st.session_state["image"] = name
    st.session_state["view"] = "Images"


def thumbnail(pair, table: ClassTable, cell: tuple[int, int]) -> bytes:
    gt, pred, photo = load_pair(pair, table)
    return thumbnail_jpeg(gt, pred, photo, table.num_classes, cell, THUMB_WIDTH)


@st.cache_data(max_entries=512, show_spinner=False)
def thumbnail_jpeg(gt, pred, photo, k, cell, width) -> bytes:
    rgb = error_map(gt, pred, k, highlight=cell, photo=photo)
    h, w = gt.shape
    return to_jpeg(_resize_rgb(rgb, fit_width(w, h, width)), quality=85)


def _resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def load_pair(pair, table: ClassTable) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    key = tuple(table.rows())
    gt = load_indices(*file_key(pair.gt_path), "gt", pair.gt_encoding, table, key)
    pred = load_indices(*file_key(pair.pred_path), "pred", pair.pred_encoding, table, key)
    photo = load_photo(*file_key(pair.image_path)) if pair.image_path is not None else None
    if photo is not None and photo.shape[:2] != gt.shape:
        photo = None
    return gt, pred, photo


def overview_page(result: Evaluation, key: tuple, sel: Selection) -> None:
    present = st.session_state.get("present")
    boot = (
        cached(("boot", key, RESAMPLES), lambda: bootstrap(result, resamples=RESAMPLES))
        if result.num_images
        else None
    )
    summary_ui(result, boot)
    left, right = st.columns([1, 1])
    with left:
        st.subheader("Per-class scores")
        class_bars_ui(result, boot)
    with right:
        st.subheader("Per-class table")
        class_table_ui(result)
        conventions_ui(result)
    st.subheader("Confusion matrix")
    fig = confusion_ui(result)
    if not present:
        cell_images_ui(result, sel)
        export_ui(result, key, sel, fig)


def export_ui(result: Evaluation, key: tuple, sel: Selection, confusion) -> None:
    """CSV / JSON downloads, figures as PNG or SVG, and the stakeholder report (HTML or PDF)."""
    from segviz.export import figure_bytes, results_json, tables_csv

    with st.expander("Export and share"):
        cols = st.columns(4)
        for col, (name, data) in zip(cols, tables_csv(result).items(), strict=False):
            col.download_button(name, data, file_name=name, mime="text/csv", width="stretch")
        cols[3].download_button(
            "results.json",
            results_json(result),
            file_name="results.json",
            mime="application/json",
            width="stretch",
        )
        f1, f2, f3 = st.columns([2, 1, 2])
        which = f1.selectbox("Figure", ["Per-class IoU", "Confusion matrix"], key="ex:fig")
        fmt_ = f2.selectbox("Format", ["png", "svg"], key="ex:fmt")
        if f3.button("Render figure", key="ex:render", width="stretch"):
            fig = (
                confusion
                if which == "Confusion matrix"
                else class_bar_figure(result.class_frame(), result.table)
            )
            try:
                st.session_state["ex:bytes"] = (which, fmt_, figure_bytes(fig, format=fmt_, width=1200))
            except SegvizError as exc:
                st.error(str(exc))
        if st.session_state.get("ex:bytes"):
            name, ext, data = st.session_state["ex:bytes"]
            st.download_button(
                f"Download {name} ({ext.upper()})",
                data,
                key="ex:dl",
                file_name=f"{_safe(name.lower())}.{ext}",
                mime="image/png" if ext == "png" else "image/svg+xml",
            )
        r1, r2 = st.columns(2)
        if r1.button("Build report (HTML)", key="ex:report", width="stretch"):
            st.session_state["ex:report_html"] = build_report_cached(result, key, sel)
        if r2.button("Build report (PDF)", key="ex:pdf", width="stretch"):
            from segviz.report import write_pdf

            with tempfile.TemporaryDirectory() as tmp:
                try:
                    write_pdf(build_report_cached(result, key, sel), Path(tmp) / "report.pdf")
                    st.session_state["ex:report_pdf"] = (Path(tmp) / "report.pdf").read_bytes()
                except SegvizError as exc:
                    st.error(str(exc))
        stem = _safe(f"{sel.root.name}-{sel.model or 'predictions'}-report")
        if st.session_state.get("ex:report_html"):
            r1.download_button(
                "Download report.html",
                st.session_state["ex:report_html"],
                file_name=f"{stem}.html",
                mime="text/html",
                key="ex:dl_html",
                width="stretch",
            )
        if st.session_state.get("ex:report_pdf"):
            r2.download_button(
                "Download report.pdf",
                st.session_state["ex:report_pdf"],
                file_name=f"{stem}.pdf",
                mime="application/pdf",
                key="ex:dl_pdf",
                width="stretch",
            )


def build_report_cached(result: Evaluation, key: tuple, sel: Selection) -> str:
    from segviz.report import build_report

    return cached(
        ("report", key),
        lambda: build_report(
            result,
            title=f"{sel.root.name} — {sel.model or 'predictions'}",
            dataset=sel.root.name,
            model=sel.model,
            resamples=RESAMPLES,
        ),
    )


def conventions_ui(result: Evaluation) -> None:
    with st.expander("Which mIoU? What other tools would report for these masks"):
        rows = miou_conventions(result)
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


# ====================================================================== image view
def image_table_ui(result: Evaluation) -> pd.DataFrame:
    frame = result.image_frame()
    names = list(result.table.names)
    c1, c2, c3 = st.columns([2, 2, 2])
    focus = c1.selectbox(
        "Class column",
        names,
        key="im:class",
        index=st.session_state["cell"][0]
        if st.session_state.get("cell") and st.session_state["cell"][0] < len(names)
        else 0,
    )
    contains = c2.selectbox("Only images containing", ["(any class)", *names], key="im:contains")
    cell = st.session_state.get("cell")
    only_cell = False
    if cell is not None:
        gt_name, pred_name = cell_name(result, cell)
        only_cell = c3.checkbox(f"Only GT {gt_name} → {pred_name}", value=False, key="im:onlycell")
    _tp, gt, _pred = result.image_counts()
    view = pd.DataFrame(
        {
            "name": frame["name"],
            "PA": frame["pixel_accuracy"] * 100,
            "mIoU": frame["mean_iou"] * 100,
            f"IoU {focus}": frame[f"iou:{focus}"] * 100,
        }
    )
    if contains != "(any class)":
        view = view[gt[:, names.index(contains)] > 0]
    if only_cell and cell is not None:
        view = view[view["name"].isin(set(result.images_for_cell(*cell)["name"]))]
    view = view.sort_values("mIoU", na_position="last", kind="stable")
    return view


def image_page(result: Evaluation, sel: Selection) -> None:
    view = image_table_ui(result)
    order = view["name"].tolist()
    if not order:
        st.warning("No image matches the filters.")
        return
    if st.session_state.get("image") not in result.names:
        st.session_state["image"] = order[0]
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
            if picked != st.session_state.get("_picked"):
                st.session_state["_picked"] = picked
                st.session_state["image"] = current = picked
        pos = order.index(current) if current in order else -1
        b1, b2, b3 = st.columns([1.2, 1.2, 2.6], vertical_alignment="center")
        b1.button(
            "◀ Prev",
            disabled=pos <= 0,
            width="stretch",
            on_click=open_image,
            args=(order[pos - 1] if pos > 0 else current,),
        )
        b2.button(
            "Next ▶",
            disabled=pos >= len(order) - 1,
            width="stretch",
            on_click=open_image,
            args=(order[pos + 1] if 0 <= pos < len(order) - 1 else order[0],),
        )
        b3.caption(f"{pos + 1 if pos >= 0 else '–'} of {len(order)} in this order (worst mIoU first)")
    with right:
        image_metrics_ui(result, result.names.index(current))
    show_image(result, result.names.index(current))


def image_metrics_ui(result: Evaluation, index: int) -> None:
    cm = result.image_confusion(index)
    from segviz.metrics import class_metrics, summary_metrics

    s = summary_metrics(cm)
    st.subheader(result.names[index])
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
                    "GT": [names[i] for i in g[order]],
                    "predicted": [names[j] for j in p[order]],
                    "pixels": counts[order],
                }
            ),
            hide_index=True,
            width="stretch",
        )


def show_image(result: Evaluation, index: int) -> None:
    table = result.table
    pair = result.pairs[index]
    gt, pred, photo = load_pair(pair, table)
    k = table.num_classes
    present = sorted(set(np.unique(gt).tolist()) | set(np.unique(pred).tolist()))
    present_classes = [i for i in present if i < k]
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
    h, w = gt.shape
    size = fit_width(w, h, VIEW_WIDTH)
    small_gt, small_pred = resize_labels(gt, size), resize_labels(pred, size)
    small_photo = _resize_rgb(photo, size) if photo is not None else None
    panels = [
        ("Photo", small_photo if small_photo is not None else overlay(None, small_gt, table, alpha=0.0)),
        ("Ground truth", overlay(small_photo, small_gt, table, alpha=alpha, style=style, visible=visible)),
        ("Prediction", overlay(small_photo, small_pred, table, alpha=alpha, style=style, visible=visible)),
    ]
    legend_ui(table, present_classes)
    cols = st.columns(3) if layout == "side by side" else [st.container() for _ in panels]
    for col, (title, rgb) in zip(cols, panels, strict=True):
        col.markdown(f"**{title}**")
        col.image(to_jpeg(rgb), width="stretch")
    cell = st.session_state.get("cell")
    e1, e2 = st.columns([3, 2])
    with e1:
        highlight = None
        if cell is not None:
            gt_name, pred_name = cell_name(result, cell)
            if st.checkbox(f"Highlight only GT {gt_name} → predicted {pred_name}", value=True, key="im:hl"):
                highlight = cell
        err = error_map(small_gt, small_pred, k, highlight=highlight, photo=small_photo)
        st.markdown(
            "**Error map** — green correct · red wrong · grey ignored"
            + (" · yellow the selected confusion" if highlight else "")
        )
        st.image(to_jpeg(err), width="stretch")
    with e2:
        st.markdown("**Hover for classes** (prediction overlay)")
        gt_names = [*names, "ignored", "not in table"]
        pred_names = [*names, INVALID_NAME]
        fig = hover_image_figure(
            panels[2][1],
            small_gt,
            small_pred,
            gt_names,
            pred_names,
            step=4,
            height=int(min(600, 480 * h / w)),
        )
        st.plotly_chart(fig, width="stretch", key="im:hover", config=CHART_CONFIG)
        full_err = error_map(gt, pred, k, highlight=highlight, photo=photo)
        full_pred = overlay(photo, pred, table, alpha=alpha, style=style, visible=visible)
        d1, d2 = st.columns(2)
        d1.download_button(
            "Overlay PNG",
            to_png(full_pred),
            file_name=f"{_safe(pair.name)}_overlay.png",
            mime="image/png",
            width="stretch",
        )
        d2.download_button(
            "Error map PNG",
            to_png(full_err),
            file_name=f"{_safe(pair.name)}_errors.png",
            mime="image/png",
            width="stretch",
        )


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def legend_ui(table: ClassTable, indices: list[int]) -> None:
    chips = "".join(
        f'<span style="display:inline-block;margin:2px 8px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:12px;height:12px;border:1px solid #555;margin-right:4px;'
        f'vertical-align:-1px;background:rgb{tuple(int(v) for v in table.colors[i])}"></span>'
        f"{html.escape(table.names[i])}</span>"
        for i in indices
    )
    st.markdown(f'<div style="font-size:0.85rem">{chips}</div>', unsafe_allow_html=True)


# ====================================================================== main
# ====================================================================== compare view
def compare_page(sel: Selection) -> None:
    models = sel.models
    c1, c2 = st.columns(2)
    if st.session_state.get("cmp:a") not in models:
        st.session_state["cmp:a"] = models[0]
    if st.session_state.get("cmp:b") not in models:
        st.session_state["cmp:b"] = models[1] if models[0] == st.session_state["cmp:a"] else models[0]
    name_a = c1.selectbox("Model A (reference)", models, key="cmp:a")
    name_b = c2.selectbox("Model B", models, key="cmp:b")
    st.title(f"{sel.root.name}: {name_b} vs {name_a}")
    if name_a == name_b:
        st.info("Choose two different models.")
        return
    (ra, ka), (rb, kb) = open_model(sel, name_a), open_model(sel, name_b)
    comp: Comparison = cached(
        ("compare", ka, kb, RESAMPLES),
        lambda: compare(ra, rb, name_a=name_a, name_b=name_b, resamples=RESAMPLES),
    )
    comp = dataclasses.replace(comp, a=for_display(comp.a), b=for_display(comp.b))
    paired = comp.paired
    st.caption(
        f"{comp.a.num_images} shared images · paired bootstrap, {paired.resamples} resamples, "
        f"{round(paired.confidence * 100)} % intervals · ★ = the interval of the change excludes 0"
        + (f" · {paired.dropped} images only one model has were left out" if paired.dropped else "")
    )
    summary = comp.summary_frame()
    labels = {
        "pixel_accuracy": "Pixel accuracy",
        "mean_pixel_accuracy": "Mean pixel acc.",
        "mean_iou": "mIoU",
        "frequency_weighted_iou": "FWIoU",
        "mean_dice": "Mean Dice",
    }
    for col, row in zip(st.columns(len(summary)), summary.itertuples(index=False), strict=True):
        col.metric(
            labels[row.metric] + (" ★" if row.significant else ""),
            fmt(row.b),
            delta=f"{100 * row.delta:+.2f} pts",
            help=f"{name_a}: {fmt(row.a)} · change 95 % interval [{100 * row.low:+.2f}, {100 * row.high:+.2f}] pts",
            border=True,
        )
    left, right = st.columns(2)
    with left:
        st.subheader("Per-class IoU change")
        sort = (
            st.segmented_control(
                "Sort by", ["value", "name", "pixels", "table"], default="value", key="cmp:sort"
            )
            or "value"
        )
        st.plotly_chart(
            delta_bar_figure(comp.class_frame(), name_a=name_a, name_b=name_b, sort=sort),
            width="stretch",
            key="cmp:bars",
            config=CHART_CONFIG,
        )
    with right:
        st.subheader("Confusion matrix")
        which = (
            st.segmented_control(
                "Show", [name_a, name_b, "difference"], default="difference", key="cmp:which"
            )
            or "difference"
        )
        names = list(comp.a.table.names)
        if which == "difference":
            fig = difference_figure(comp.confusion_difference(), names, top_n=min(len(names), 25))
        else:
            ev = comp.a if which == name_a else comp.b
            fig = confusion_figure(
                ev.confusion, names, normalize="row", diagonal="dim", top_n=min(len(names), 25)
            )
        st.plotly_chart(fig, width="stretch", key="cmp:cm", config=CHART_CONFIG)
    images_ui(comp)


def images_ui(comp: Comparison) -> None:
    st.subheader("Images: largest gains and losses in mIoU")
    frame = comp.image_frame()
    shown = pd.DataFrame(
        {
            "name": frame["name"],
            f"mIoU {comp.name_a}": frame["miou_a"] * 100,
            f"mIoU {comp.name_b}": frame["miou_b"] * 100,
            "change": frame["delta"] * 100,
        }
    )
    fmt_cols = {c: st.column_config.NumberColumn(format="%.1f") for c in shown.columns[1:]}
    gains_col, losses_col = st.columns(2)
    picked = None
    for col, title, part, key in (
        (gains_col, "Largest gains", shown.head(10), "cmp:gains"),
        (losses_col, "Largest losses", shown.iloc[::-1].head(10), "cmp:losses"),
    ):
        col.markdown(f"**{title}**")
        event = col.dataframe(
            part,
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key=key,
            column_config=fmt_cols,
        )
        if event is not None and event.selection.rows:
            picked = part.iloc[event.selection.rows[0]]["name"]
    if picked is not None:
        st.session_state["cmp:image"] = picked
    name = st.session_state.get("cmp:image") or frame["name"].iloc[0]
    if name not in comp.a.names:
        name = frame["name"].iloc[0]
    index = comp.a.names.index(name)
    table = comp.a.table
    gt, pred_a, photo = load_pair(comp.a.pairs[index], table)
    _, pred_b, _ = load_pair(comp.b.pairs[index], table)
    h, w = gt.shape
    size = fit_width(w, h, VIEW_WIDTH)
    gt_s, a_s, b_s = (resize_labels(x, size) for x in (gt, pred_a, pred_b))
    photo_s = _resize_rgb(photo, size) if photo is not None else None
    codes = disagreement_map(gt_s, a_s, b_s, table.num_classes)
    row = frame.set_index("name").loc[name]
    st.markdown(
        f"**{name}** — mIoU {fmt(row['miou_a'])} ({comp.name_a}) → {fmt(row['miou_b'])} ({comp.name_b})"
    )
    cols = st.columns(3)
    cols[0].markdown("**Disagreement**")
    cols[0].image(to_jpeg(disagreement_rgb(codes, photo_s)), width="stretch")
    legend = "".join(
        f'<span style="margin-right:10px;white-space:nowrap"><span style="display:inline-block;width:11px;'
        f'height:11px;background:rgb{tuple(int(v) for v in c)};margin-right:4px"></span>{label}</span>'
        for c, label in zip(DISAGREEMENT_COLOURS, DISAGREEMENT_LABELS, strict=True)
    )
    cols[0].markdown(f'<div style="font-size:0.8rem">{legend}</div>', unsafe_allow_html=True)
    for col, title, pred in ((cols[1], comp.name_a, a_s), (cols[2], comp.name_b, b_s)):
        col.markdown(f"**{html.escape(title)}**")
        col.image(to_jpeg(overlay(photo_s, pred, table, alpha=0.55)), width="stretch")


def for_display(result: Evaluation) -> Evaluation:
    """The evaluation with the colour-blind-safe palette when chosen (a shallow copy: the shared
    cached result is never mutated, and counting never depends on display colours)."""
    if not st.session_state.get("cvd"):
        return result
    return dataclasses.replace(
        result, table=result.table.with_colors(cvd_safe_colors(result.table.num_classes))
    )


PRESENTATION_CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 3rem; }
[data-testid="stMain"] h1 { font-size: 3rem !important; }
</style>
"""


def main() -> None:
    st.set_page_config(page_title="segviz", page_icon="🟦", layout="wide")
    init_state()
    sel = sidebar_ui()
    if sel is None:
        sync_query_params()
        st.stop()
    if st.session_state.get("present"):
        st.markdown(PRESENTATION_CSS, unsafe_allow_html=True)
    try:
        if st.session_state["view"] == "Compare":
            compare_page(sel)
            sync_query_params()
            return
        result, key = open_model(sel, sel.model)
    except SegvizError as exc:
        st.error(str(exc))
        sync_query_params()
        st.stop()
    result = for_display(result)
    title = sel.root.name + (f" · {sel.model}" if sel.model else "")
    st.title(title)
    st.caption(
        f"{result.num_images} images · class table: {result.table.origin} · "
        f"ignore ids: {', '.join(map(str, result.table.ignore_ids)) or 'none'}"
    )
    problems_ui(result)
    if result.num_images == 0:
        st.error("No image could be evaluated; see the problems above.")
    elif st.session_state["view"] == "Overview":
        overview_page(result, key, sel)
    else:
        image_page(result, sel)
    sync_query_params()


main()
