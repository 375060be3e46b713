"""Automatic image attributes to slice by: what each image looks like and what it holds.

Three groups, one row per evaluated image:

* **file** (free): ``folder``, the image key's sub-folder (``(top)`` for none), and ``prefix``, the
  file name's text before its first ``_`` (``(none)`` without one): CamVid's sequence (``0016E5``,
  ``0001TP``, ``Seq05VD``), Cityscapes' city (``aachen``).
* **classes** (free, from the stored counts): ``present:<class>`` (bool: the class is in the
  ground truth) and ``share:<class>`` (its share of the image's evaluated ground-truth pixels).
* **pixels** (reads each ground truth and photo once, in threads; cached): ``size`` ("WxH" of the
  masks), ``brightness`` and ``contrast`` (mean and standard deviation of the photo's grey levels,
  0..255, Pillow's "L" conversion: ITU-R 601-2 luma; NaN without a readable photo), and per class
  ``objects:<class>`` (the number of 8-connected ground-truth segments of the class) and
  ``object_size:<class>`` (their median size in pixels; NaN when there is none).

The pixel group is cached in the results store folder (``STORE/attributes/<key>.parquet``, one file
per ground-truth folder, photo folder and class table), one row per image keyed on the name and the
size and modification time of its ground truth and photo (the per-pair keys of
:mod:`segviz.store`, without the prediction: every model of a dataset shares it). A second run
reads no file whose key is unchanged; an unreadable cache is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from segviz import remote
from segviz.classes import ClassTable
from segviz.dataset import Pair, common_folder
from segviz.evaluate import Evaluation
from segviz.masks import read_mask
from segviz.overlay import class_indices
from segviz.store import ResultsStore, file_signature

CACHE_FORMAT = 1
#: 8-connectivity: diagonal neighbours belong to the same segment.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------- free groups
def file_attributes(names: Sequence[str]) -> pd.DataFrame:
    """``folder`` and ``prefix`` of each image key.

    Example:
        >>> file_attributes(["0016E5_07959", "city/aachen_000000_000019", "plain"]).values.tolist()
        [['(top)', '0016E5'], ['city', 'aachen'], ['(top)', '(none)']]
    """
    folders, prefixes = [], []
    for name in names:
        folder, _, base = name.rpartition("/")
        folders.append(folder or "(top)")
        prefixes.append(base.split("_", 1)[0] if "_" in base else "(none)")
    return pd.DataFrame({"folder": folders, "prefix": prefixes})


def class_attributes(evaluation: Evaluation) -> pd.DataFrame:
    """``present:<class>`` and ``share:<class>`` from the stored counts (no file read).

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> class_attributes(_example_evaluation()).round(3).values.tolist()
        [[True, True, 0.7, 0.3], [True, True, 0.4, 0.6]]
    """
    _, gt, _ = evaluation.image_counts()
    total = gt.sum(axis=1, keepdims=True)
    share = np.divide(gt, total, out=np.full(gt.shape, np.nan), where=total > 0)
    names = list(evaluation.table.names)
    present = pd.DataFrame(gt > 0, columns=[f"present:{n}" for n in names])
    shares = pd.DataFrame(share, columns=[f"share:{n}" for n in names])
    return pd.concat([present, shares], axis=1)


# ---------------------------------------------------------------------- pixel group
def image_attributes(pair: Pair, table: ClassTable) -> dict[str, float | str]:
    """The pixel group of one image (reads its ground truth and photo); raises on unreadable masks."""
    gt = class_indices(read_mask(pair.gt_path, table).values, table, kind="gt", encoding=pair.gt_encoding)
    h, w = gt.shape
    out: dict[str, float | str] = {"size": f"{w}x{h}"}
    out["brightness"], out["contrast"] = photo_statistics(pair.image_path)
    k = table.num_classes
    objects, medians = object_statistics(gt, k)
    for c, name in enumerate(table.names):
        out[f"objects:{name}"] = float(objects[c])
        out[f"object_size:{name}"] = float(medians[c])
    return out


def object_statistics(labels: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the number of 8-connected segments and their median size in pixels (NaN for none).

    ``labels``: (H, W) class indices (values ≥ ``num_classes`` are ignored / unknown).

    Example:
        >>> m = np.array([[0, 1, 0], [1, 0, 0], [2, 2, 1]])
        >>> n, size = object_statistics(m, 3)
        >>> n.tolist(), size.tolist()     # class 0: one segment of 4 (diagonals join), class 1: 2
        ([1, 2, 1], [4.0, 1.5, 2.0])
    """
    from scipy import ndimage

    counts = np.zeros(num_classes, dtype=np.int64)
    medians = np.full(num_classes, np.nan)
    labels = np.asarray(labels)
    if labels.size == 0:
        return counts, medians
    # each class is labelled inside its bounding box only (find_objects: one pass for all classes)
    boxes = ndimage.find_objects(np.minimum(labels, num_classes).astype(np.int32) + 1)
    for c, box in enumerate(boxes[:num_classes]):
        if box is None:
            continue
        segments, n = ndimage.label(labels[box] == c, structure=EIGHT_CONNECTED)
        sizes = np.bincount(segments.ravel())[1:]
        counts[c], medians[c] = n, float(np.median(sizes))
    return counts, medians


def photo_statistics(path) -> tuple[float, float]:
    """Mean and standard deviation of a photo's grey levels (0..255); NaN, NaN when absent/unreadable.

    Example:
        >>> photo_statistics(None)
        (nan, nan)
    """
    if path is None:
        return float("nan"), float("nan")
    try:
        with remote.open_file(path) if remote.is_url(path) else open(path, "rb") as f, Image.open(f) as im:
            grey = np.asarray(im.convert("L"), dtype=np.float64)
    except Exception:  # an unreadable photo never stops anything: its attributes are missing
        return float("nan"), float("nan")
    return float(grey.mean()), float(grey.std())


def pixel_attributes(
    evaluation: Evaluation,
    *,
    workers: int = 2,
    store: ResultsStore | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The pixel group for every evaluated image (cached in ``store``), and warnings (unreadable
    masks, a discarded cache). Rows in ``evaluation.names`` order."""
    pairs, table = evaluation.pairs, evaluation.table
    keys = [attribute_key(p) for p in pairs]
    path = cache_path(store, pairs, table) if store is not None else None
    warnings: list[str] = []
    cached: dict[str, dict] = {}
    if path is not None:
        cached, problem = _load(path, _columns(table))
        if problem:
            warnings.append(problem)
    todo = [i for i, key in enumerate(keys) if key not in cached]
    results = _compute(pairs, todo, table, workers=workers, progress=progress)
    rows: list[dict] = []
    for i, key in enumerate(keys):
        row = cached.get(key)
        if row is None:
            row = results[i]
            if isinstance(row, str):
                warnings.append(row)
                row = {}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=_columns(table))
    if path is not None and todo:
        _save(path, keys, frame, good=[not isinstance(results.get(i), str) for i in range(len(keys))])
    return frame, warnings


def automatic_attributes(
    evaluation: Evaluation,
    *,
    pixels: bool = True,
    workers: int = 2,
    store: ResultsStore | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Every automatic attribute (``pixels=False``: only the free file and class groups), one row
    per image in ``evaluation.names`` order, and the warnings met.

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> frame, warnings = automatic_attributes(_example_evaluation(), pixels=False)
        >>> frame.columns.tolist()[:4], warnings
        (['folder', 'prefix', 'present:class_0', 'present:class_1'], [])
    """
    parts = [file_attributes(evaluation.names), class_attributes(evaluation)]
    warnings: list[str] = []
    if pixels:
        frame, warnings = pixel_attributes(evaluation, workers=workers, store=store, progress=progress)
        parts.insert(1, frame)
    return pd.concat(parts, axis=1), warnings


def _columns(table: ClassTable) -> list[str]:
    names = list(table.names)
    return [
        "size",
        "brightness",
        "contrast",
        *(f"objects:{n}" for n in names),
        *(f"object_size:{n}" for n in names),
    ]


def _compute(pairs, todo, table, *, workers, progress) -> dict[int, dict | str]:
    """image_attributes of pairs[todo] in threads (several pairs per task, like evaluate's counting);
    a failure becomes a warning string naming the file."""

    def one(i: int) -> dict | str:
        try:
            return image_attributes(pairs[i], table)
        except Exception as exc:
            return f"{pairs[i].gt_path}: attributes not computed ({type(exc).__name__}: {exc})"

    size = max(1, min(32, len(todo) // (max(1, workers) * 16)))
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    out: dict[int, dict | str] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for chunk, batch in zip(chunks, pool.map(lambda c: [one(i) for i in c], chunks), strict=True):
            out.update(zip(chunk, batch, strict=True))
            if progress is not None:
                progress(len(out), len(todo))
    return out


# ---------------------------------------------------------------------- cache
def attribute_key(pair: Pair) -> str:
    """The cache key of one image: its name, and the path, size and mtime of its ground truth and
    photo (as in :func:`segviz.store.pair_key`, without the prediction), and the mask encoding."""
    return json.dumps(
        [pair.name, *file_signature(pair.gt_path), *file_signature(pair.image_path), pair.gt_encoding]
    )


def cache_path(store: ResultsStore, pairs: Sequence[Pair], table: ClassTable) -> Path:
    """``STORE/attributes/<key>.parquet``: one file per ground-truth folder, photo folder and class table."""
    gt_top = common_folder([p.gt_path for p in pairs]) if pairs else ""
    photos = [p.image_path for p in pairs if p.image_path is not None]
    image_top = common_folder(photos) if photos else ""
    digest = hashlib.sha1(f"{gt_top}\0{image_top}\0{_table_key(table)}".encode()).hexdigest()[:20]
    return store.root / "attributes" / f"{digest}.parquet"


def _table_key(table: ClassTable) -> str:
    parts = [table.gt_lut(65536).tobytes(), "\0".join(table.names).encode()]
    if getattr(table, "source_ids", None) is not None:
        parts.append(table.gt_lut(65536, encoding="label_ids").tobytes())
    return hashlib.sha1(b"|".join(parts)).hexdigest()


def _load(path: Path, columns: list[str]) -> tuple[dict[str, dict], str]:
    if not path.exists():
        return {}, ""
    try:
        frame = pd.read_parquet(path)
        if frame.attrs.get("format") not in (None, CACHE_FORMAT) or ["key", *columns] != list(frame.columns):
            raise ValueError("unexpected columns")
        records = frame.to_dict(orient="records")
        return {r.pop("key"): r for r in records}, ""
    except Exception as exc:
        return {}, f"attribute cache {path} unreadable ({type(exc).__name__}: {exc}); recomputed"


def _save(path: Path, keys: list[str], frame: pd.DataFrame, *, good: list[bool]) -> None:
    """Write the rows of the images whose attributes were computed (atomic replace)."""
    keep = np.asarray(good, dtype=bool)
    out = frame.loc[keep].copy()
    out.insert(0, "key", [k for k, g in zip(keys, keep, strict=True) if g])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        out.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
