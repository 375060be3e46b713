"""The dashboard's only caches, keyed on file identity (path, size, modification time).

One evaluation per dataset is shared by every session (a lock per key, so sessions that open the
same dataset at once count it once). Stored values are read-only for every caller.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import streamlit as st

from segviz.classes import ClassTable
from segviz.dataset import Dataset, open_dataset
from segviz.evaluate import Evaluation, count_pairs, fold, generated_table
from segviz.masks import read_mask
from segviz.overlay import class_indices, error_map, fit_width, to_jpeg
from segviz.store import ResultsStore

from .widgets import resize_rgb


class LruCache:
    """A small thread-safe LRU shared by every session (one evaluation per dataset, not per session)."""

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
    return LruCache(int(os.environ.get("SEGVIZ_CACHE_ENTRIES", "8")))


def fingerprint(dataset: Dataset) -> tuple:
    """Paths, sizes and modification times of every mask: what identifies the counts."""
    out = []
    for p in dataset.pairs:
        for path in (p.gt_path, p.pred_path):
            s = path.stat()
            out.append((str(path), s.st_size, s.st_mtime_ns))
    return tuple(out)


def evaluate_cached(
    dataset: Dataset, table_choice: str, generated_ignore: tuple[int, ...] = ()
) -> tuple[Evaluation, tuple]:
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
    table = dataset.table or generated_table(ok, ignore_ids=generated_ignore)
    fold_key = ("fold", count_key, tuple(table.rows()), table_choice)
    result = cache.get(fold_key)
    if result is None:
        result = fold(ok, table, skipped=[*dataset.skipped, *bad], warnings=dataset.warnings)
        cache.put(fold_key, result)
    return result, fold_key


def cached(key: tuple, compute):
    """A derived, read-only result (bootstrap, comparison, report) in the shared cache."""
    cache = shared_cache()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value


def open_model(
    root: Path, model: str | None, table: ClassTable | None, table_choice: str, generated_ignore=()
) -> tuple[Evaluation, tuple]:
    """The evaluation of ``model`` on the dataset at ``root`` and its cache key."""
    dataset = (
        open_dataset(root, model=model, classes=table)
        if table is not None
        else open_dataset(root, model=model)
    )
    if table is None:
        dataset.table = None
    return evaluate_cached(dataset, table_choice, tuple(generated_ignore))


# ---------------------------------------------------------------- pictures
@st.cache_data(max_entries=256, show_spinner=False)
def load_photo(path: str, size: int, mtime_ns: int) -> np.ndarray | None:
    """An RGB photo as an array (keyed on path, size and mtime)."""
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


def load_pair(pair, table: ClassTable) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(gt indices, pred indices, photo or None) of one pair, each from its file-keyed cache."""
    return _load_keys(_pair_keys(pair), table)


def _pair_keys(pair) -> tuple:
    photo = file_key(pair.image_path) if pair.image_path is not None else None
    return (file_key(pair.gt_path), pair.gt_encoding, file_key(pair.pred_path), pair.pred_encoding, photo)


def _load_keys(keys: tuple, table: ClassTable) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    gt_key, gt_enc, pred_key, pred_enc, photo_key = keys
    rows = tuple(table.rows())
    gt = load_indices(*gt_key, "gt", gt_enc, table, rows)
    pred = load_indices(*pred_key, "pred", pred_enc, table, rows)
    photo = load_photo(*photo_key) if photo_key is not None else None
    if photo is not None and photo.shape[:2] != gt.shape:
        photo = None
    return gt, pred, photo


def thumbnail(pair, table: ClassTable, cell: tuple[int, int], width: int) -> bytes:
    """The error map of one pair with ``cell`` highlighted, as a JPEG ``width`` pixels wide."""
    return _thumbnail(_pair_keys(pair), table, tuple(table.rows()), tuple(cell), width)


@st.cache_data(max_entries=512, show_spinner=False)
def _thumbnail(keys: tuple, _table: ClassTable, table_key: tuple, cell: tuple[int, int], width: int) -> bytes:
    gt, pred, photo = _load_keys(keys, _table)
    rgb = error_map(gt, pred, _table.num_classes, highlight=cell, photo=photo)
    h, w = gt.shape
    return to_jpeg(resize_rgb(rgb, fit_width(w, h, width)), quality=85)
