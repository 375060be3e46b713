"""A shareable evaluation report: one self-contained HTML file, and its PDF.

:func:`build_report` returns a single HTML document that opens offline in any browser: plotly.js is
inlined once in the head, the pictures are inline base64 JPEGs, the CSS is inline and uses the system
fonts, and a Content-Security-Policy forbids loading anything from elsewhere. It holds the header
(dataset, model, segviz version, UTC time and :func:`dataset_fingerprint`), the summary metrics with
95 % bootstrap intervals over images (:func:`segviz.stats.bootstrap`), per-class IoU with intervals,
the row-normalised confusion matrix, the worst images by mIoU (photo, ground truth, prediction, error
map), what other tools would call mIoU (:func:`segviz.conventions.miou_conventions`), the metric
definitions and conventions, and the skipped samples with their reasons.

Every string that comes from the user or the data (title, class names, file names, reasons) is
HTML-escaped; :mod:`segviz.figures` escapes class names in the plotly figures too, since plotly.js
reads ``<b>``, ``<a href>`` … in labels as markup and shows entities as their characters.

:func:`write_pdf` prints such a document to an A4 PDF with Playwright and Debian's Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.offline import get_plotlyjs

from segviz import __version__, display, metrics, remote, stats
from segviz.compare import Comparison
from segviz.conventions import miou_conventions
from segviz.dataset import Location, common_folder
from segviz.errors import DatasetError, SegvizError
from segviz.evaluate import Evaluation
from segviz.figures import MAX_BARS, class_bar_figure, confusion_figure, default_top_n
from segviz.masks import read_mask
from segviz.overlay import ERROR_COLOURS, class_indices, error_map, fit_width, overlay, resize_labels, to_jpeg
from segviz.problems import FIRST, group_problems
from segviz.store import file_signature

#: The Chromium that :func:`write_pdf` drives, and its launch arguments (``shared/NOTES.md``).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: Width in pixels of the pictures of the worst images (never enlarged).
PICTURE_WIDTH = 480
#: Per-class table rows shown before the rest are folded away (a <details> element).
TABLE_ROWS = 150
#: Most classes named in the legend of one worst image (the largest in its ground truth first).
LEGEND_CLASSES = 40
#: JPEG quality of those pictures.
_JPEG_QUALITY = 85

# A4 printing: margins in mm and the zoom of the page. The page is laid out (and plotly sizes its
# figures) at the width that fills the printable area at that zoom.
_PDF_MARGIN_MM = 12
_PDF_SCALE = 0.8
PRINT_WIDTH = round((210 - 2 * _PDF_MARGIN_MM) / 25.4 * 96 / _PDF_SCALE)

_SUMMARY_LABELS = {
    "mean_iou": "mIoU",
    "pixel_accuracy": "Pixel accuracy",
    "mean_pixel_accuracy": "Mean pixel accuracy",
    "frequency_weighted_iou": "FWIoU",
    "mean_dice": "Mean Dice",
}
_CLASS_COUNTS = {
    "mean_iou": "mean_iou_classes",
    "mean_pixel_accuracy": "mean_pixel_accuracy_classes",
    "mean_dice": "mean_dice_classes",
}
_PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


def format_percent(value: float | None, digits: int = 2) -> str:
    """A 0..1 metric as the report prints it: ``"71.23 %"``, or ``"n/a"`` when undefined.

    Example:
        >>> format_percent(0.712345), format_percent(float("nan")), format_percent(0.5, 1)
        ('71.23 %', 'n/a', '50.0 %')
    """
    return display.percent(value, digits)


# ---------------------------------------------------------------------- fingerprint
def dataset_fingerprint(evaluation: Evaluation) -> str:
    """SHA-256 (hex) over the sorted ``(relative path, size, mtime_ns)`` of every evaluated mask.

    Paths are taken relative to the deepest folder holding all ground-truth and predicted files and
    written with ``/``, so moving the dataset keeps the fingerprint; changing, adding, removing or
    touching a mask changes it. Photos are not included. Raises :class:`SegvizError` when a file is
    gone.

    Example:
        >>> from segviz.stats import _example_evaluation        # its masks are not on disk
        >>> dataset_fingerprint(_example_evaluation())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        segviz.errors.SegvizError: gt/a.png: cannot fingerprint the dataset (...); was it moved or changed since it was evaluated?
    """
    files = _mask_files(evaluation)
    digest = hashlib.sha256()
    if not files:
        return digest.hexdigest()
    root = common_folder(files)
    entries = []
    for f in files:
        name, size, version = file_signature(f)  # version: mtime_ns, or a URL's listed version
        if size < 0:
            raise SegvizError(
                f"{f}: cannot fingerprint the dataset (no such file); was it moved or changed since it was evaluated?"
            )
        entries.append((_relative(name, root), size, version))
    for rel, size, mtime in sorted(entries):
        digest.update(f"{rel}\t{size}\t{mtime}\n".encode())
    return digest.hexdigest()


def _mask_files(evaluation: Evaluation) -> list[Location]:
    return sorted({p for pair in evaluation.pairs for p in (pair.gt_path, pair.pred_path)}, key=str)


def _prefix(root: str) -> str:
    """The folder ``root`` (an absolute path or a URL) with its separator: what leads its files."""
    return root + ("/" if remote.is_url(root) else os.sep)


def _relative(name: str, root: str) -> str:
    """``name`` (an absolute path or a URL) relative to the folder ``root`` holding it, with "/"."""
    prefix = _prefix(root)
    return name[len(prefix) :].replace(prefix[-1], "/") if name.startswith(prefix) else name


def _without_dataset_folder(evaluation: Evaluation):
    """An escaper that also leaves the dataset's folder out of the paths in a text (a reason, the
    class table's origin): a shared report must not show a user's home or a server's layout."""
    files = _mask_files(evaluation)
    prefix = _prefix(common_folder(files)) if files else None

    def shown(text: str) -> str:
        return _e(text.replace(prefix, "") if prefix else text)

    return shown


def _shown_path(path: Location, root: str | None) -> str:
    """A mask path relative to the dataset's common folder (no user's home in a shared report)."""
    if root is None:
        return str(path)
    return _relative(path if remote.is_url(path) else os.path.abspath(path), root)


# ---------------------------------------------------------------------- the report
def build_report(
    evaluation: Evaluation,
    *,
    title: str,
    dataset: str,
    model: str | None,
    resamples: int = 1000,
    seed: int = 0,
    worst: int = 6,
    comparison: Comparison | None = None,
    weakest=None,
) -> str:
    """One self-contained HTML document (str) reporting ``evaluation``; it loads nothing from outside.

    Args:
        evaluation: the evaluation to report (its masks and photos are read again for the pictures
            of the ``worst`` images).
        title, dataset, model: shown in the header (escaped); ``model=None`` shows "—".
        resamples, seed: of the percentile bootstrap over images behind every 95 % interval.
        worst: how many images with the lowest mIoU to show (0 for none).
        comparison: optionally a :class:`~segviz.compare.Comparison` to add a section with the
            images whose mIoU rose and fell most from its model A to its model B
            (:func:`segviz.compare.gains_and_losses`: each list only changes of its sign, or "no
            image improved" / "no image got worse").
        weakest: worst slices (:class:`segviz.slices.WorstSlices`) for "Where the model is weakest".

    About 5.8 MB for the bundled sample data, 4.8 MB of it plotly.js; builds in ≈0.25 s there (the
    bootstrap and reading the ``worst`` images' files dominate). Print it with :func:`write_pdf`.
    """
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise ValueError(f"worst must be a non-negative integer (got {worst!r})")
    boot = stats.bootstrap(evaluation, resamples=resamples, seed=seed) if evaluation.num_images else None
    body = "\n".join(
        [
            _header_html(evaluation, title=title, dataset=dataset, model=model),
            _nav_html(worst > 0, comparison is not None),
            _summary_html(evaluation, boot),
            _weakest_html(weakest) if weakest is not None else "",
            _classes_html(evaluation, boot),
            _confusion_html(evaluation),
            _worst_html(evaluation, worst) if worst > 0 else "",
            _gains_losses_html(comparison) if comparison is not None else "",
            _conventions_html(evaluation),
            _definitions_html(evaluation),
            _problems_html(evaluation),
            _footer_html(),
        ]
    )
    return _PAGE.format(
        title=_e(title),
        version=_e(__version__),
        csp=_CSP,
        css=_CSS,
        plotlyjs=get_plotlyjs(),
        body=body,
    )


def _e(text: object) -> str:
    """HTML-escape anything shown (quotes included, so it is safe in attributes too)."""
    return html.escape(str(text), quote=True)


def _figure_html(fig: go.Figure, name: str) -> str:
    """A plotly figure as an HTML fragment (plotly.js itself is in the page head, once)."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config=_PLOTLY_CONFIG,
        div_id=f"figure-{name}",
        default_width="100%",
    )


def _header_html(evaluation: Evaluation, *, title: str, dataset: str, model: str | None) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    table = evaluation.table
    items = [
        ("Dataset", _e(dataset)),
        ("Model", _e(model) if model is not None else "—"),
        ("Images", f"{evaluation.num_images:,} evaluated, {len(evaluation.skipped):,} skipped"),
        ("Classes", f"{table.num_classes}"),
        ("Generated", generated),
        ("segviz", _e(__version__)),
        ("Dataset fingerprint", f'<code class="hash">sha256:{dataset_fingerprint(evaluation)}</code>'),
    ]
    rows = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in items)
    return f"""<header class="top">
<p class="kicker">Segmentation evaluation report</p>
<h1>{_e(title)}</h1>
<dl class="meta">{rows}</dl>
</header>"""


def _nav_html(with_worst: bool, with_comparison: bool = False) -> str:
    links = [
        ("summary", "Summary"),
        ("classes", "Per-class IoU"),
        ("confusion", "Confusion matrix"),
        *([("worst", "Worst images")] if with_worst else []),
        *([("gains-losses", "Gains and losses")] if with_comparison else []),
        ("which-miou", "Which mIoU?"),
        ("definitions", "Definitions"),
        ("problems", "Skipped samples"),
    ]
    return '<nav class="toc">' + "".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>"


# ---------------------------------------------------------------------- summary
def _summary_html(evaluation: Evaluation, boot: stats.BootstrapResult | None) -> str:
    s = evaluation.summary()
    cards = []
    for key, label in _SUMMARY_LABELS.items():
        interval = boot.summary[key] if boot is not None else None
        ci = (
            f'95&nbsp;% CI <span class="range">{_range(interval.low, interval.high, 2)} %</span>'
            if interval is not None and math.isfinite(interval.low)
            else "95&nbsp;% CI n/a"
        )
        count = f"{s[_CLASS_COUNTS[key]]} classes" if key in _CLASS_COUNTS else "&nbsp;"
        cls = "card metric primary" if key == "mean_iou" else "card metric"
        cards.append(
            f'<div class="{cls}" data-metric="{key}"><div class="label">{label}</div>'
            f'<div class="value">{format_percent(s[key])}</div>'
            f'<div class="ci">{ci}</div><div class="sub">{count}</div></div>'
        )
    totals = [
        ("Images", f"{s['num_images']:,}"),
        ("Evaluated pixels", f"{s['evaluated_pixels']:,}"),
        ("Ignored pixels", f"{s['ignored_pixels']:,}"),
        ("Invalid predicted pixels", f"{s['invalid_pred_pixels']:,}"),
        ("Skipped samples", f"{len(evaluation.skipped):,}"),
    ]
    total_html = "".join(f'<div class="total"><span>{k}</span><b>{v}</b></div>' for k, v in totals)
    if boot is None:
        note = "No image was evaluated, so there are no metrics and no intervals."
    else:
        note = (
            f"Intervals: 95 % percentile bootstrap over the {boot.num_images:,} images "
            f"({boot.resamples:,} resamples, seed {boot.seed}); images are resampled, not pixels."
        )
        if boot.num_images < 20:
            note += (
                f" <strong>With only {boot.num_images} images the intervals are too narrow</strong>: "
                "read them as a lower bound on the uncertainty."
            )
    return f"""<section id="summary">
<h2>Summary</h2>
<div class="cards">{"".join(cards)}</div>
<div class="totals">{total_html}</div>
<p class="note">{note}</p>
</section>"""


# ---------------------------------------------------------------------- per class
def _classes_html(evaluation: Evaluation, boot: stats.BootstrapResult | None) -> str:
    frame = evaluation.class_frame()
    shown = frame  # segviz.figures escapes class names itself
    intervals = boot.classes[["id", "low", "high"]] if boot is not None else None
    fig = class_bar_figure(shown, evaluation.table, metric="iou", sort="value", intervals=intervals)
    fig.update_layout(margin=dict(l=10, r=50, t=10, b=40))
    low = boot.classes["low"].to_numpy() if boot is not None else np.full(len(frame), np.nan)
    high = boot.classes["high"].to_numpy() if boot is not None else np.full(len(frame), np.nan)
    colours = evaluation.table.colors
    rows = []
    order = frame.sort_values("iou", ascending=False, na_position="last", kind="stable").index
    for i in order:
        r = frame.loc[i]
        swatch = _swatch(colours[i])
        ci = _range(low[i], high[i]) if math.isfinite(low[i]) else "n/a"
        rows.append(
            f"<tr><td class='name'>{swatch}{_e(r['name'])}</td><td>{_num(r['iou'])}</td>"
            f"<td class='muted'>{ci}</td><td>{_num(r['accuracy'])}</td><td>{_num(r['precision'])}</td>"
            f"<td>{_num(r['dice'])}</td><td>{int(r['gt_pixels']):,}</td><td>{int(r['pred_pixels']):,}</td></tr>"
        )
    head = (
        "<thead><tr><th>Class</th><th>IoU %</th><th>95 % CI</th><th>Accuracy %</th><th>Precision %</th>"
        "<th>Dice %</th><th>GT pixels</th><th>Predicted pixels</th></tr></thead>"
    )
    table = f'<div class="scroll"><table class="data classes">{head}<tbody>{"".join(rows[:TABLE_ROWS])}</tbody></table></div>'
    if len(rows) > TABLE_ROWS:  # the rest folded away (and left out of the PDF)
        table += (
            f'<details class="more"><summary>The other {len(rows) - TABLE_ROWS:,} classes</summary>'
            f'<div class="scroll"><table class="data classes">{head}<tbody>{"".join(rows[TABLE_ROWS:])}'
            "</tbody></table></div></details>"
        )
    drawn = len(frame) if len(frame) <= MAX_BARS else MAX_BARS - 1
    bars_note = (
        ""
        if drawn == len(frame)
        else f" The chart draws the {drawn} best and worst classes; the grey bar pools the other "
        f"{len(frame) - drawn:,} (their mean IoU). The table lists every class."
    )
    return f"""<section id="classes" class="break">
<h2>Per-class IoU</h2>
<p class="note">Bars: IoU on the whole dataset, in the class colours; whiskers: its 95 % bootstrap
interval over images; "n/a": the class is in neither the ground truth nor the prediction.{bars_note}</p>
<figure class="plot">{_figure_html(fig, "classes")}</figure>
{table}
</section>"""


def _range(low: float, high: float, digits: int = 1) -> str:
    """An interval of 0..1 values as percentages: ``"64.84 – 69.36"``."""
    return f"{100 * float(low):.{digits}f} – {100 * float(high):.{digits}f}"


def _num(value: float) -> str:
    """A 0..1 value as a percentage with one decimal, for tables (``n/a`` when undefined)."""
    return display.percent(value, 1, unit=False)


def _swatch(colour: Sequence[int]) -> str:
    r, g, b = (int(c) for c in colour)
    return f'<span class="swatch" style="background:rgb({r},{g},{b})"></span>'


# ---------------------------------------------------------------------- confusion
def _confusion_html(evaluation: Evaluation) -> str:
    names = list(evaluation.table.names)  # segviz.figures escapes them
    k = len(names)
    invalid = evaluation.invalid_pred_pixels > 0
    top_n = default_top_n(k)
    fig = confusion_figure(
        evaluation.confusion,
        names,
        normalize="row",
        diagonal="dim",
        show_invalid=invalid,
        top_n=top_n,
        other=True,
    )
    n = min(k, top_n) + int(top_n < k) + int(invalid)
    height = int(min(1100, max(520, 200 + 32 * n)))  # square cells: the height sets their size
    fig.update_layout(height=height)
    invalid_note = (
        " The last column, (invalid), counts predicted values that are not a class id." if invalid else ""
    )
    if top_n < k:
        invalid_note += (
            f" Shown: the {top_n} classes with the most confused pixels (errors in their row and column); "
            f"the other {k - top_n:,} are pooled into the (other) row and column."
        )
    return f"""<section id="confusion" class="break">
<h2>Confusion matrix</h2>
<p class="note">Rows: ground-truth class; columns: predicted class. Each cell is the share of the
row's ground-truth pixels (rows sum to 100 %); the diagonal (correct pixels) is grey so that the
colours show the errors only.{invalid_note}</p>
<figure class="plot"><div class="confusion" style="max-width:{height + 60}px">
{_figure_html(fig, "confusion")}</div></figure>
</section>"""


# ---------------------------------------------------------------------- worst images
@dataclass(frozen=True)
class _Pictures:
    photo: bytes | None
    gt: bytes
    pred: bytes
    errors: bytes
    size: tuple[int, int]


def _weakest_html(weakest) -> str:
    """'Where the model is weakest': the worst slices in plain sentences (segviz.slices)."""
    sentences = weakest.sentences() or [
        f"No slice of at least {weakest.min_images} images does worse than the other images."
    ]
    items = "".join(f"<li>{_e(s)}</li>" for s in sentences)
    return f"""<section id="weakest">
<h2>Where the model is weakest</h2>
<ul>{items}</ul>
<p class="note">{_e(weakest.method())}</p>
</section>"""


def _worst_html(evaluation: Evaluation, worst: int) -> str:
    images = evaluation.image_frame()
    ranked = images["mean_iou"].dropna().sort_values(kind="stable").index[:worst]
    legend_err = " · ".join(
        f"{_swatch(ERROR_COLOURS[k])}{t}"
        for k, t in (("correct", "correct"), ("wrong", "wrong"), ("ignored", "ignored"))
    )
    if not len(ranked):
        cards = "<p>No image has a defined mIoU.</p>"
    else:
        tp, gt, pred = evaluation.image_counts()
        root = common_folder(_mask_files(evaluation))
        cards = "\n".join(_image_card(evaluation, images, int(i), (tp, gt, pred), root) for i in ranked)
    return f"""<section id="worst" class="break">
<h2>The {len(ranked)} worst images by mIoU</h2>
<p class="note">Lowest per-image mIoU first (each image's own confusion matrix). Overlays: class
colours at 50 % over the photo. Error map: {legend_err}.</p>
{cards}
</section>"""


def _image_card(
    evaluation: Evaluation,
    images: pd.DataFrame,
    index: int,
    counts: tuple[np.ndarray, np.ndarray, np.ndarray],
    root: Path,
) -> str:
    """One worst image: name, metrics, files, the four pictures, lowest class IoUs, legend."""
    _, gt, pred = counts
    table = evaluation.table
    pair = evaluation.pairs[index]
    row = images.iloc[index]
    name = _e(pair.name)
    present = np.flatnonzero((gt[index] > 0) | (pred[index] > 0))
    present = present[np.argsort(-gt[index][present], kind="stable")]  # largest first
    legend = " ".join(
        f'<span class="chip">{_swatch(table.colors[c])}{_e(table.names[c])}</span>'
        for c in present[:LEGEND_CLASSES]
    )
    if len(present) > LEGEND_CLASSES:
        legend += f' <span class="chip muted">and {len(present) - LEGEND_CLASSES:,} more classes</span>'
    ious = row[[f"iou:{n}" for n in table.names]].to_numpy(dtype=float)
    lowest = [c for c in np.argsort(ious, kind="stable") if math.isfinite(ious[c])][:3]
    lowest_html = ", ".join(f"{_e(table.names[c])} {_num(ious[c])} %" for c in lowest) or "n/a"
    try:
        pictures = _pictures(evaluation, index)
    except (SegvizError, OSError, ValueError) as exc:
        panels = f'<p class="problem">Could not draw this image: {_e(exc)}</p>'
    else:
        panels = _panels_html(pictures, name)
    return f"""<article class="card image">
<div class="image-head"><h3>{name}</h3>
<div class="image-metrics"><span>mIoU <b>{format_percent(row["mean_iou"])}</b></span>
<span>PA <b>{format_percent(row["pixel_accuracy"])}</b></span>
<span>ignored px <b>{int(row["ignored_pixels"]):,}</b></span>
<span>invalid px <b>{int(row["invalid_pred_pixels"]):,}</b></span></div></div>
<p class="files">{_e(_shown_path(pair.gt_path, root))} · {_e(_shown_path(pair.pred_path, root))}</p>
<div class="panels">{panels}</div>
<p class="small"><span class="muted">Lowest class IoU:</span> {lowest_html}</p>
<p class="legend">{legend}</p>
</article>"""


def _panels_html(p: _Pictures, name: str) -> str:
    w, h = p.size
    out = []
    for label, data in (
        ("Photo", p.photo),
        ("Ground truth", p.gt),
        ("Prediction", p.pred),
        ("Error map", p.errors),
    ):
        if data is None:
            picture = f'<div class="no-photo" style="aspect-ratio:{w}/{h}">no photo</div>'
        else:
            src = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
            sharp = ' class="pixelated"' if w < PICTURE_WIDTH // 2 else ""  # tiny masks: show the pixels
            picture = f'<img{sharp} src="{src}" width="{w}" height="{h}" alt="{label} of {name}">'
        out.append(f"<figure>{picture}<figcaption>{label}</figcaption></figure>")
    return "".join(out)


def _pictures(evaluation: Evaluation, index: int) -> _Pictures:
    """The four panels of one image, no wider than :data:`PICTURE_WIDTH`, as JPEG bytes."""
    table = evaluation.table
    pair = evaluation.pairs[index]
    gt = class_indices(read_mask(pair.gt_path, table).values, table, kind="gt", encoding=pair.gt_encoding)
    pred = class_indices(
        read_mask(pair.pred_path, table).values, table, kind="pred", encoding=pair.pred_encoding
    )
    h, w = gt.shape
    size = fit_width(w, h, PICTURE_WIDTH)
    small_gt, small_pred = resize_labels(gt, size), resize_labels(pred, size)
    photo = _photo(pair.image_path, (w, h), size)
    return _Pictures(
        photo=to_jpeg(photo, quality=_JPEG_QUALITY) if photo is not None else None,
        gt=to_jpeg(overlay(photo, small_gt, table, alpha=0.5), quality=_JPEG_QUALITY),
        pred=to_jpeg(overlay(photo, small_pred, table, alpha=0.5), quality=_JPEG_QUALITY),
        errors=to_jpeg(
            error_map(small_gt, small_pred, table.num_classes, photo=photo), quality=_JPEG_QUALITY
        ),
        size=size,
    )


def _photo(path: Location | None, mask_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray | None:
    """The photo resized to ``size``; None when absent, unreadable, not the masks' size or larger
    than Pillow's pixel limit (a decompression bomb: refused from its header, never decoded).
    ``segviz.evaluate`` has already warned about each of these."""
    if path is None:
        return None
    try:
        with remote.open_file(path) if remote.is_url(path) else open(path, "rb") as f, Image.open(f) as im:
            limit = Image.MAX_IMAGE_PIXELS
            if im.size != mask_size or (limit is not None and im.width * im.height > limit):
                return None
            return np.asarray(im.convert("RGB").resize(size, Image.Resampling.BILINEAR))
    except (
        OSError,
        SyntaxError,
        ValueError,
        DatasetError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None


# ---------------------------------------------------------------------- gains and losses
def _gains_losses_html(comparison: Comparison, top: int = 10) -> str:
    gl = comparison.gains_and_losses(top=top)
    a, b = _e(comparison.name_a), _e(comparison.name_b)

    def table(rows: pd.DataFrame, empty: str) -> str:
        if rows.empty:
            return f'<p class="empty">{_e(empty)}</p>'
        body = "".join(
            f"<tr><td class='name'>{_e(r.name)}</td><td>{_num(r.miou_a)}</td><td>{_num(r.miou_b)}</td>"
            f"<td>{_signed(r.delta)}</td></tr>"
            for r in rows.itertuples(index=False)
        )
        return (
            f'<table class="data changes"><thead><tr><th>Image</th><th>mIoU {a} %</th><th>mIoU {b} %</th>'
            f"<th>Change</th></tr></thead><tbody>{body}</tbody></table>"
        )

    return f"""<section id="gains-losses">
<h2>Largest gains and losses: {b} against {a}</h2>
<p class="note">Per-image mIoU of both models on the {comparison.a.num_images:,} images both have:
{gl.improved:,} improved, {gl.worse:,} got worse, {gl.unchanged:,} unchanged, {gl.undefined:,} undefined.
A list holds only changes of its own sign.</p>
<div class="two-col">
<div><h3>Largest gains</h3>{table(gl.gains, gl.gains_empty_text)}</div>
<div><h3>Largest losses</h3>{table(gl.losses, gl.losses_empty_text)}</div>
</div>
</section>"""


def _signed(value: float) -> str:
    """A 0..1 change as signed percentage points with one decimal (``n/a`` when undefined)."""
    return display.points(value, 1)


# ---------------------------------------------------------------------- conventions
def _conventions_html(evaluation: Evaluation) -> str:
    rows = []
    for c in miou_conventions(evaluation):
        cls = ' class="ours"' if c.key == "segviz" else ""
        source = f'<div class="small muted">Source: {_e(c.source)}</div>' if c.source else ""
        notes = (
            '<ul class="caveats small">' + "".join(f"<li>{_e(x)}</li>" for x in c.caveats) + "</ul>"
            if c.caveats
            else ""
        )
        rows.append(
            f"<tr{cls}><td class='tool'>{_e(c.tool)}</td><td class='num'>{format_percent(c.value)}</td>"
            f"<td class='num'>{c.classes_counted}</td><td>{_e(c.rule)}{notes}{source}</td></tr>"
        )
    return f"""<section id="which-miou" class="break">
<h2>Which mIoU?</h2>
<p class="note">"mIoU" is not one number: tools differ in which classes enter the mean and in
whether counts are summed over the dataset or per image. The same masks, scored by each tool's rule
(recomputed from segviz's counts):</p>
<div class="scroll"><table class="data conventions">
<thead><tr><th>Tool</th><th>mIoU</th><th>Classes</th><th>Rule and caveats</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table></div>
</section>"""


def _definitions_html(evaluation: Evaluation) -> str:
    table = evaluation.table
    defs = "".join(f"<li><code>{_e(text)}</code></li>" for text in metrics.DEFINITIONS.values())
    ignored = (
        ", ".join(f"{i} = {_e(n)}" for i, n in zip(table.ignore_ids, table.ignore_names, strict=True))
        or "none"
    )
    return f"""<section id="definitions">
<h2>Definitions and conventions</h2>
<div class="two-col">
<div><h3>Metrics</h3>
<p class="note">TP, FP, FN: pixels of a class that are true positives, false positives, false
negatives; GT: its ground-truth pixels. Every metric is computed from the confusion matrix.</p>
<ul class="defs">{defs}</ul></div>
<div><h3>Conventions</h3>
<ul>
<li><b>Ignored pixels are left out.</b> Ground-truth pixels with an ignore id
(here: {ignored}) are in no count, whatever was predicted there.</li>
<li><b>Invalid predictions are errors.</b> A predicted value that is not a class id (the ignore
value included) is a false negative of the ground-truth class and a false positive of no class.</li>
<li><b>Undefined ≠ 0.</b> A ratio whose denominator is 0 (e.g. the IoU of a class absent from both
ground truth and prediction) is undefined, shown as n/a, and left out of the means.</li>
<li><b>Accumulated over the dataset.</b> Counts are summed over all images before dividing (one
confusion matrix); per-image values are used only for the worst images and the bootstrap.</li>
</ul>
<p class="small muted">Class table: {_without_dataset_folder(evaluation)(table.origin or "not named")} ·
{table.num_classes} classes · ignore ids: {ignored}</p></div>
</div>
</section>"""


def _problems_html(evaluation: Evaluation) -> str:
    shown = _without_dataset_folder(evaluation)
    if evaluation.skipped:
        rows = "".join(
            f"<tr><td class='name'>{_e(p.name)}</td><td>{shown(p.reason)}</td></tr>"
            for p in evaluation.skipped
        )
        skipped = (
            f"<p>{len(evaluation.skipped)} samples could not be evaluated and are in no number above:</p>"
            f'<div class="scroll"><table class="data problems"><thead><tr><th>Sample</th><th>Reason</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div>"
        )
    else:
        skipped = "<p>No sample was skipped: every sample found was evaluated.</p>"
    groups = group_problems(evaluation.warnings)  # one item per kind, every sample named
    items = [f"<li>{shown(w)}</li>" for w in evaluation.table.warnings]
    for g in groups:
        if g.count <= FIRST:  # a few of a kind read one by one, as on the command line
            items.extend(f"<li>{shown(p.reason)}</li>" for p in g.problems)
        else:
            names = ", ".join(_e(n) for n in g.names)
            items.append(
                f"<li>{g.count:,} samples, e.g. {shown(g.example)}<details><summary>all {g.count:,} "
                f"samples</summary><p class='small'>{names}</p></details></li>"
            )
    warn_html = ""
    if items:
        total = len(evaluation.table.warnings) + len(evaluation.warnings)
        warn_html = f"<h3>Warnings ({total:,})</h3><ul class='warnings'>{''.join(items)}</ul>"
    return f"""<section id="problems">
<h2>Skipped samples</h2>
{skipped}
{warn_html}
</section>"""


def _footer_html() -> str:
    return (
        f'<footer class="bottom">Generated by segviz {_e(__version__)}. This file is self-contained: '
        "it needs no network connection.</footer>"
    )


# ---------------------------------------------------------------------- PDF
_RENDERED_JS = """() => {
  const plots = [...document.querySelectorAll('.plotly-graph-div')];
  const drawn = plots.every(p => p._fullLayout && p.querySelector('.main-svg'));
  const images = [...document.images].every(i => i.complete);
  return drawn && images && document.fonts.status === 'loaded';
}"""


def write_pdf(
    html: str, path: str | Path, *, timeout: float = 60.0, executable: str | Path = CHROMIUM
) -> None:
    """Print an HTML document (e.g. from :func:`build_report`) to an A4 PDF at ``path``.

    Uses Playwright with ``executable`` (Debian's Chromium by default), offline (the report needs no
    network; anything else a page asks for fails) and waits until every plotly figure is drawn and every image decoded.
    The page is laid out at the printable width, so the figures fit the paper. Runs in a worker
    thread, so it also works where an asyncio loop is running (Jupyter). Takes ≈2–3 s on a quiet
    machine, most of it Chromium parsing the inlined plotly.js; printing itself is ≈0.4 s.

    Raises:
        SegvizError: Playwright or Chromium is missing, or the page did not render within ``timeout``.
    """
    path = Path(path)
    if not Path(executable).is_file():
        raise SegvizError(
            f"PDF export needs Chromium at {executable}, which does not exist "
            "(apt-get install --no-install-recommends chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise SegvizError("PDF export needs the playwright package: pip install playwright") from None
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            _print_pdf(html, path, timeout=timeout, executable=str(executable))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="segviz-pdf")
    worker.start()
    worker.join()
    if outcome:
        exc = outcome[0]
        if isinstance(exc, SegvizError):
            raise exc
        raise SegvizError(f"PDF export to {path} failed: {type(exc).__name__}: {exc}") from exc


def _print_pdf(html: str, path: Path, *, timeout: float, executable: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="segviz-pdf-") as tmp, sync_playwright() as p:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")  # a file loads faster than set_content
        browser = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": PRINT_WIDTH, "height": 1100}, offline=True)
            page = context.new_page()
            page.set_default_timeout(timeout * 1000)
            page.emulate_media(media="print")
            page.goto(page_file.as_uri(), wait_until="load")
            try:
                page.wait_for_function(_RENDERED_JS, timeout=timeout * 1000)
            except PlaywrightTimeout:
                raise SegvizError(
                    f"PDF export: the figures did not finish drawing within {timeout:g} s"
                ) from None
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            margin = f"{_PDF_MARGIN_MM}mm"
            page.pdf(
                path=str(path),
                format="A4",
                print_background=True,
                scale=_PDF_SCALE,
                margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
            )
        finally:
            browser.close()


# ---------------------------------------------------------------------- page and style
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="segviz {version}">
<title>{title}</title>
<style>{css}</style>
<script>{plotlyjs}</script>
</head>
<body>
<main class="report">
{body}
</main>
</body>
</html>
"""

_CSS = """
:root {
  --fg: #1d232b; --muted: #5f6b7a; --line: #dde2e8; --bg: #f5f7fa; --card: #ffffff;
  --accent: #1f5f99; --accent-soft: #e8f1fa; --bad: #b42318;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 var(--sans); }
.report { max-width: 1200px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 30px; line-height: 1.2; margin: 2px 0 14px; overflow-wrap: anywhere; }
h2 { font-size: 21px; margin: 0 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 16px 0 6px; }
section { margin: 34px 0 0; }
code, .hash { font-family: var(--mono); font-size: 0.9em; }
.kicker { margin: 0; color: var(--accent); font-weight: 600; text-transform: uppercase;
  letter-spacing: .06em; font-size: 12px; }
.meta { display: flex; flex-wrap: wrap; gap: 10px 40px; margin: 0; padding: 14px 18px;
  background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
.meta div { min-width: 0; max-width: 100%; }
.meta dt { font-size: 12px; color: var(--muted); }
.meta dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.meta div:last-child { flex-basis: 100%; }
.hash { font-weight: 400; word-break: break-all; }
.toc { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 14px 2px 0; font-size: 14px; }
.toc a { color: var(--accent); text-decoration: none; }
.toc a:hover { text-decoration: underline; }
.cards { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, .05); }
.metric { padding: 14px 16px; }
.metric .label { font-size: 13px; color: var(--muted); font-weight: 600; }
.metric .value { font-size: 30px; font-weight: 700; letter-spacing: -.01em; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.metric.primary { border: 2px solid var(--accent); background: var(--accent-soft); }
.metric.primary .value { color: var(--accent); }
.metric .ci { font-size: 13px; font-variant-numeric: tabular-nums; }
.metric .range { white-space: nowrap; }
.metric .sub { font-size: 12px; color: var(--muted); }
.totals { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 14px 2px 0; font-size: 14px; }
.totals span { color: var(--muted); margin-right: 6px; }
.totals b { font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: 14px; margin: 6px 0 12px; max-width: 75em; }
.small { font-size: 13px; margin: 4px 0; }
.muted { color: var(--muted); }
figure { margin: 0; }
.scroll { overflow-x: auto; }
.confusion { margin: 0 auto; }
figure.plot { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 8px; break-inside: avoid; }
table.data { width: 100%; border-collapse: collapse; margin-top: 14px; background: var(--card);
  border: 1px solid var(--line); font-size: 14px; }
table.data th, table.data td { padding: 6px 10px; border-bottom: 1px solid var(--line);
  text-align: right; vertical-align: top; font-variant-numeric: tabular-nums; }
table.data th { background: #eef1f5; font-weight: 600; font-size: 13px; }
table.data th:first-child, table.data td:first-child { text-align: left; }
table.data tr { break-inside: avoid; }
td.name { min-width: 9em; overflow-wrap: break-word; }
table.conventions td, table.conventions th, table.problems td, table.problems th { text-align: left; }
table.conventions td.num, table.conventions th:nth-child(2), table.conventions th:nth-child(3) {
  text-align: right; white-space: nowrap; }
.conventions td.tool { width: 26%; font-weight: 600; }
.conventions tr.ours td { background: var(--accent-soft); }
.problems td:first-child { width: 22%; }
.problems td { overflow-wrap: anywhere; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
  vertical-align: -1px; border: 1px solid rgba(0, 0, 0, .25); }
.image { padding: 14px 16px; margin: 0 0 16px; break-inside: avoid; }
.image-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 20px; }
.image-head h3 { margin: 0; font-size: 17px; overflow-wrap: anywhere; }
.image-metrics { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 14px; color: var(--muted); }
.image-metrics b { color: var(--fg); font-variant-numeric: tabular-nums; }
.files { margin: 2px 0 10px; font: 12px/1.4 var(--mono); color: var(--muted); overflow-wrap: anywhere; }
.panels { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 8px; }
.panels img { display: block; width: 100%; height: auto; border-radius: 4px; }
.panels img.pixelated { image-rendering: pixelated; }
.panels figcaption { font-size: 12px; color: var(--muted); margin-top: 3px; }
.no-photo { display: flex; align-items: center; justify-content: center; width: 100%;
  background: #e4e7eb; color: var(--muted); border-radius: 4px; font-size: 13px; }
.legend { margin: 8px 0 0; font-size: 13px; }
.chip { display: inline-block; margin: 0 10px 2px 0; white-space: nowrap; }
.problem { color: var(--bad); }
.two-col { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 32px; }
.two-col h3 { margin-top: 4px; }
ul { padding-left: 20px; }
li { margin: 4px 0; }
.defs { list-style: none; padding: 0; }
.defs code { background: var(--card); border: 1px solid var(--line); border-radius: 5px; padding: 2px 6px;
  display: inline-block; }
.warnings { font-size: 13px; overflow-wrap: anywhere; }
.caveats { margin: 4px 0; padding-left: 18px; }
details.more { margin-top: 8px; }
details.more summary { cursor: pointer; color: var(--accent); font-size: 14px; }
.bottom { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--line); font-size: 12px;
  color: var(--muted); }
@media screen and (max-width: 760px) {
  .report { padding: 18px 14px 32px; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .panels { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .two-col { grid-template-columns: 1fr; }
}
@media print {
  body { background: #fff; font-size: 13px; }
  .report { max-width: none; padding: 0; }
  .toc, .bottom, .modebar-container, details.more { display: none !important; }
  .card, figure.plot, table.data { box-shadow: none; }
  section { margin-top: 22px; }
  section.break { break-before: page; margin-top: 0; }
  h2, h3 { break-after: avoid; }
  .metric { padding: 10px 12px; }
  .metric .value { font-size: 24px; }
  .metric .ci { font-size: 11px; }
  table.data { font-size: 12px; }
  table.data th, table.data td { padding: 3px 8px; }
  .image { padding: 10px 12px; margin-bottom: 10px; }
  .image, .metric, figure.plot, .meta { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""
