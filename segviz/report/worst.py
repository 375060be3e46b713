"""'The worst images by mIoU': for each, its metrics, files and four pictures (photo, ground truth,
prediction, error map) as inline JPEGs no wider than :data:`PICTURE_WIDTH`."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from types import EllipsisType

import numpy as np
import pandas as pd
from PIL import Image

from segviz import metrics, remote
from segviz.dataset import Location
from segviz.errors import DatasetError, SegvizError
from segviz.evaluate import Evaluation
from segviz.masks import read_mask
from segviz.overlay import ERROR_COLOURS, class_indices, error_map, fit_width, overlay, resize_labels, to_jpeg
from segviz.report.fingerprint import FIND, mask_root, shown_path
from segviz.report.markup import esc, fill, format_percent, num, swatch

#: Width in pixels of the pictures of the worst images (never enlarged).
PICTURE_WIDTH = 480
#: Most classes named in the legend of one worst image (the largest in its ground truth first).
LEGEND_CLASSES = 40
#: JPEG quality of those pictures.
_JPEG_QUALITY = 85


@dataclass(frozen=True)
class _Pictures:
    photo: bytes | None
    gt: bytes
    pred: bytes
    errors: bytes
    size: tuple[int, int]


def worst_html(evaluation: Evaluation, worst: int, *, root: str | EllipsisType | None = FIND) -> str:
    """The ``worst`` images with the lowest defined per-image mIoU, lowest first (``root``: the
    masks' folder, :func:`mask_root`, found when not given). Reads the per-image table without its
    N x K IoU columns and the counts of the shown images only: its cost does not grow with the
    classes times the images."""
    images = evaluation.image_frame(per_class=False)
    ranked = images["mean_iou"].dropna().sort_values(kind="stable").index[:worst]
    legend_err = " · ".join(
        f"{swatch(ERROR_COLOURS[k])}{t}"
        for k, t in (("correct", "correct"), ("wrong", "wrong"), ("ignored", "ignored"))
    )
    if not len(ranked):
        cards = "<p>No image has a defined mIoU.</p>"
    else:
        root = mask_root(evaluation) if root is FIND else root
        cards = "\n".join(_image_card(evaluation, images, int(i), root) for i in ranked)
    return fill("worst.html", count=len(ranked), legend=legend_err, cards=cards)


def _image_card(evaluation: Evaluation, images: pd.DataFrame, index: int, root: str | None) -> str:
    """One worst image: name, metrics, files, the four pictures, lowest class IoUs, legend."""
    table = evaluation.table
    k = table.num_classes
    pair = evaluation.pairs[index]
    row = images.iloc[index]
    name = esc(pair.name)
    counts = evaluation.image_count_matrix()[index].toarray()[0]  # this image's [TP | GT | PRED]
    tp, gt, pred = counts[:k], counts[k : 2 * k], counts[2 * k :]
    present = np.flatnonzero((gt > 0) | (pred > 0))
    present = present[np.argsort(-gt[present], kind="stable")]  # largest first
    legend = " ".join(
        f'<span class="chip">{swatch(table.colors[c])}{esc(table.names[c])}</span>'
        for c in present[:LEGEND_CLASSES]
    )
    if len(present) > LEGEND_CLASSES:
        legend += f' <span class="chip muted">and {len(present) - LEGEND_CLASSES:,} more classes</span>'
    ious = metrics.iou(tp, gt, pred)  # (the iou:<class> columns of the per-image table, this row)
    lowest = [c for c in np.argsort(ious, kind="stable") if math.isfinite(ious[c])][:3]
    lowest_html = ", ".join(f"{esc(table.names[c])} {num(ious[c])} %" for c in lowest) or "n/a"
    try:
        pictures = _pictures(evaluation, index)
    except (SegvizError, OSError, ValueError) as exc:
        panels = f'<p class="problem">Could not draw this image: {esc(exc)}</p>'
    else:
        panels = _panels_html(pictures, name)
    return fill(
        "image_card.html",
        name=name,
        miou=format_percent(row["mean_iou"]),
        pa=format_percent(row["pixel_accuracy"]),
        ignored=f"{int(row['ignored_pixels']):,}",
        invalid=f"{int(row['invalid_pred_pixels']):,}",
        gt_file=esc(shown_path(pair.gt_path, root)),
        pred_file=esc(shown_path(pair.pred_path, root)),
        panels=panels,
        lowest=lowest_html,
        legend=legend,
    )


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
