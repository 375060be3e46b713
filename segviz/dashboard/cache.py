"""The dashboard's only caches: bounded by bytes, keyed on file identity (path, size, mtime).

Two process-wide pools, shared by every session (one evaluation per dataset, not per session):

* ``results``: opened datasets, evaluations, bootstraps, comparisons, per-image tables, reports
  (``SEGVIZ_CACHE_MB``, default 1024 MB);
* ``pictures``: decoded masks and photos, thumbnails (``SEGVIZ_PICTURE_CACHE_MB``, default 512 MB).

Keys never hash full-size arrays: a mask or photo is known by its file's (path, size, mtime_ns), a
class table by a digest of its rows. Cached arrays are made read-only, since every caller shares them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
import sys
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from segviz.classes import ClassTable
from segviz.dataset import Dataset, open_dataset
from segviz.evaluate import Evaluation, choose_table, count, fold
from segviz.masks import read_mask
from segviz.overlay import class_indices, error_map, fit_width, to_jpeg
from segviz.store import ResultsStore, key_texts

from .widgets import resize_rgb

#: Items of a container measured one by one; a longer list is measured on this many items spread
#: over it and extrapolated (a dataset's 1,000,000 pairs cost what 64 cost).
SIZE_SAMPLE = 64


def size_of(value, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Approximate bytes held by ``value``: numpy arrays, DataFrames, bytes/str, and the containers
    and dataclasses holding them (each object counted once). A container of more than
    :data:`SIZE_SAMPLE` items is estimated from that many of them, so the cost does not grow with N.

    >>> size_of(np.zeros((10, 10), dtype=np.int64)) >= 800
    True
    >>> 100_000 * 8 < size_of([np.zeros(1, np.int64) for _ in range(100_000)]) < 100_000 * 200
    True
    """
    seen = set() if _seen is None else _seen
    if id(value) in seen or _depth > 6:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return value.nbytes + 112
    if isinstance(value, pd.DataFrame | pd.Series):
        return (
            int(value.memory_usage(index=True, deep=False).sum())
            if isinstance(value, pd.DataFrame)
            else value.nbytes
        )
    if isinstance(value, bytes | bytearray | str):
        return sys.getsizeof(value)
    if isinstance(value, dict):
        items = _spread(list(value.items()) if len(value) > SIZE_SAMPLE else value.items())
        part = sum(size_of(k, seen, _depth + 1) + size_of(v, seen, _depth + 1) for k, v in items)
        return 64 + _scaled(part, len(items), len(value))
    if isinstance(value, list | tuple | set | frozenset):
        items = _spread(value if isinstance(value, list | tuple) else list(value))
        part = sum(size_of(v, seen, _depth + 1) for v in items)
        return 56 + 8 * len(value) + _scaled(part, len(items), len(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 64 + sum(size_of(getattr(value, f.name), seen, _depth + 1) for f in dataclasses.fields(value))
    if hasattr(value, "__dict__"):
        return 64 + sum(size_of(v, seen, _depth + 1) for v in vars(value).values())
    return sys.getsizeof(value)


def _spread(items):
    """At most SIZE_SAMPLE items, evenly spread over a sequence (all of a short one)."""
    if len(items) <= SIZE_SAMPLE:
        return items
    step = len(items) / SIZE_SAMPLE
    return [items[int(i * step)] for i in range(SIZE_SAMPLE)]


def _scaled(part: int, measured: int, total: int) -> int:
    return part if measured >= total or measured == 0 else part * total // measured


class ByteLru:
    """A thread-safe LRU bounded by the bytes its values hold (see :func:`size_of`).

    A value larger than the whole budget is returned to the caller but not kept; with
    ``keep_oversize`` (the results cache: an evaluation of 1,000,000 images holds ≈ 4 GB and takes
    ≈ 20 s to reopen) the latest such value is kept beside the budgeted ones, outside the budget
    (memory ≤ budget + the largest value), and :attr:`oversize` says its size (0 when none).

    >>> lru = ByteLru(budget=3000)
    >>> for i in range(4):
    ...     lru.put(i, np.zeros(100, dtype=np.int64))  # 912 bytes each
    >>> [k for k in range(4) if lru.get(k) is not None], lru.nbytes <= 3000
    ([1, 2, 3], True)
    """

    def __init__(self, budget: int, *, keep_oversize: bool = False) -> None:
        self.budget = budget
        self.keep_oversize = keep_oversize
        self.nbytes = 0
        self._pinned: tuple | None = None  # (key, value, size) of the one value over the budget
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict = {}

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key][0]
            if self._pinned is not None and self._pinned[0] == key:
                return self._pinned[1]
            return None

    @property
    def oversize(self) -> int:
        """The size in bytes of the value kept over the budget (0 when none)."""
        pinned = self._pinned
        return 0 if pinned is None else pinned[2]

    def put(self, key, value) -> None:
        size = size_of(value)
        with self._lock:
            self._forget(key)
            if size > self.budget:
                if self.keep_oversize:
                    self._pinned = (key, value, size)
                return
            self._data[key] = (value, size)
            self.nbytes += size
            while self.nbytes > self.budget:
                _, (_, dropped) = self._data.popitem(last=False)
                self.nbytes -= dropped

    def lock_for(self, key) -> threading.Lock:
        """A lock per key, so that sessions asking for the same value at once compute it once."""
        with self._lock:
            if len(self._key_locks) > 4096:  # forget the locks of keys no longer held
                pinned = self._pinned[0] if self._pinned is not None else None
                held = {k for k in self._key_locks if k in self._data or k == pinned}
                self._key_locks = {k: v for k, v in self._key_locks.items() if k in held or v.locked()}
            return self._key_locks.setdefault(key, threading.Lock())

    def discard(self, key) -> None:
        with self._lock:
            self._forget(key)

    def _forget(self, key) -> None:  # (the lock held)
        if key in self._data:
            self.nbytes -= self._data.pop(key)[1]
        if self._pinned is not None and self._pinned[0] == key:
            self._pinned = None

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.nbytes = 0
            self._pinned = None


def _budget(variable: str, default_mb: int) -> int:
    return int(float(os.environ.get(variable, default_mb)) * 2**20)


@st.cache_resource
def results_cache() -> ByteLru:
    return ByteLru(_budget("SEGVIZ_CACHE_MB", 1024), keep_oversize=True)


@st.cache_resource
def pictures_cache() -> ByteLru:
    return ByteLru(_budget("SEGVIZ_PICTURE_CACHE_MB", 512))


def cached(key: tuple, compute, *, pool: ByteLru | None = None):
    """A derived, read-only value in the shared cache, computed once even when sessions race."""
    pool = pool or results_cache()
    value = pool.get(key)
    if value is None:
        with pool.lock_for(key):
            value = pool.get(key)
            if value is None:
                value = compute()
                pool.put(key, value)
    return value


_RUNNING: set = set()
_FAILED: dict = {}
_RUNNING_LOCK = threading.Lock()
#: Background computations run one at a time: their memory peaks (a bootstrap, the per-image
#: table) do not add up, and a page run keeps a core for itself on a 2-core server.
_ONE_AT_A_TIME = threading.Semaphore(1)


def background(key: tuple, compute, *, pool: ByteLru | None = None):
    """The cached value under ``key``, or None while a background thread computes it (started on
    the first call; a page run never waits for it). A later :func:`cached` of the same key waits
    for that thread instead of computing again. Raises what the computation raised.

    >>> import time as _t
    >>> lru = ByteLru(budget=2**20)
    >>> first = background(("doc",), lambda: np.arange(3), pool=lru)
    >>> while background(("doc",), lambda: None, pool=lru) is None:
    ...     _t.sleep(0.01)
    >>> first, background(("doc",), lambda: None, pool=lru).tolist()
    (None, [0, 1, 2])
    """
    pool = pool or results_cache()
    value = pool.get(key)
    if value is not None:
        return value
    with _RUNNING_LOCK:
        if key in _FAILED:
            raise _FAILED.pop(key)
        if key in _RUNNING:
            return None
        _RUNNING.add(key)

    def work() -> None:
        try:
            with _ONE_AT_A_TIME:
                cached(key, compute, pool=pool)
        except Exception as exc:  # handed to the next page run, which shows it
            with _RUNNING_LOCK:
                _FAILED[key] = exc
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(key)

    threading.Thread(target=work, daemon=True, name="segviz-background").start()
    return None


def running(key: tuple) -> bool:
    """Whether a background computation of ``key`` is running (a failed one is not: the next
    :func:`background` call raises its error)."""
    with _RUNNING_LOCK:
        return key in _RUNNING


#: Modules a page imports on first use that cost it noticeably: the confusion order of more than
#: ``figures.ALL_CLASSES_UP_TO`` classes imports scipy.cluster (≈ 0.45 s, most of it scipy.spatial,
#: in the first overview of a large dataset), the Images view's table pandas' Styler (≈ 0.1 s,
#: jinja2 templates). :func:`warm_imports` imports them in the background once per process. (None
#: of them imports another's modules, nor segviz: a page importing one meanwhile waits for it.)
WARM_IMPORTS = ("scipy.cluster.hierarchy", "scipy.spatial.distance", "pandas.io.formats.style")
_WARMING: list[threading.Thread] = []


def warm_imports() -> threading.Thread:
    """Import :data:`WARM_IMPORTS` in a background thread, started by the first call in the process
    (later calls return the same thread): a page that needs them while they are imported waits
    for the import instead of doing it again. An import that fails is left to the page that needs
    it (which shows its error)."""
    import importlib

    def work() -> None:
        for module in WARM_IMPORTS:
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    with _RUNNING_LOCK:
        if not _WARMING:
            _WARMING.append(threading.Thread(target=work, daemon=True, name="segviz-warm-imports"))
            _WARMING[0].start()
    return _WARMING[0]


def _digest(value) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()


def table_token(table: ClassTable | None) -> str:
    """A short digest of a class table's rows (ids, names, colours, ignore flags)."""
    if table is None:
        return "generated"
    return _digest(table.rows())


# ---------------------------------------------------------------- datasets and evaluations
#: Seconds between two checks of every mask's size and mtime (a file rewritten in place); the check
#: runs in a background thread, started by the first page run after the interval.
CHECK_EVERY_S = float(os.environ.get("SEGVIZ_CHECK_EVERY_S", 60))


def folder_signature(root: Path, *, leaves_by_links: bool = True) -> tuple:
    """Modification times of every folder under gt/, pred/ and images/ (those ``os.walk`` visits:
    links to folders are not followed): a file added, removed or renamed anywhere changes one of
    them (a file rewritten in place is caught by the fingerprint).

    A folder's link count is 2 + its subfolders on the usual file systems (ext4, xfs, tmpfs), so
    with ``leaves_by_links`` a folder whose count is 2 is not listed (a folder of 100,000 masks
    costs one ``stat``, not a listing: 0.15-0.27 s at 100,000 images, issue 17); any other count
    (1 on file systems that do not keep it) lists the folder for its subfolders. The background
    check (:func:`check_files`) walks every folder, so a file system whose link counts are wrong
    is found out there.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (Path(d) / "gt" / "city").mkdir(parents=True)
    ...     fast, full = folder_signature(Path(d)), folder_signature(Path(d), leaves_by_links=False)
    ...     [Path(p).name for p, _ in fast], sorted(fast) == sorted(full)
    (['gt', 'city'], True)
    """
    out = []
    for part in ("gt", "pred", "images"):
        if not leaves_by_links:
            out.extend((dirpath, os.stat(dirpath).st_mtime_ns) for dirpath, _, _ in os.walk(root / part))
            continue
        stack = [os.fspath(root / part)]
        while stack:
            path = stack.pop()
            try:
                info = os.stat(path)
                if not stat.S_ISDIR(info.st_mode):
                    continue
            except OSError:  # (gone, or no images/ folder: os.walk leaves it out too)
                continue
            out.append((path, info.st_mtime_ns))
            if info.st_nlink == 2:  # no subfolder
                continue
            try:
                with os.scandir(path) as entries:
                    subdirs = [e.path for e in entries if _is_folder(e)]
            except OSError:
                continue
            stack.extend(sorted(subdirs, reverse=True))
    return tuple(out)


def _is_folder(entry: os.DirEntry) -> bool:
    """A folder that ``os.walk`` descends into (not a link to one)."""
    try:
        return entry.is_dir() and not entry.is_symlink()
    except OSError:
        return False


def folders_changed(folders: tuple) -> bool:
    """Whether any folder of a :func:`folder_signature` changed or went: one ``stat`` per folder
    (dozens), never a listing, so it costs the same at 2,000 or 1,000,000 images."""
    for path, mtime in folders:
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def fingerprint(dataset: Dataset) -> tuple:
    """The results store's key of every pair (its name, the paths, sizes and modification times of
    its files, the encodings: :func:`segviz.store.key_texts`): what identifies the counts. One
    ``stat`` per file (O(N)): taken when a dataset is opened (and handed to the count, so the store
    does not take it again), then by :func:`check_files` only."""
    return key_texts(dataset.pairs)


@dataclasses.dataclass(eq=False)
class Opened:
    """A dataset listing and what the dashboard last knew of its files. ``files`` (a digest of every
    mask's path, size and mtime) keys the counts; ``checked_at`` (epoch seconds) is when the masks
    were last compared with it; ``changed_at`` when a check last found a change."""

    dataset: Dataset
    folders: tuple
    files: str
    checked_at: float
    changed_at: float | None = None
    checking: bool = False
    keys: list[str] | None = None  # fingerprint's keys until the first count takes them (then None)
    stale: bool = False  # a check found a folder changed: the next run lists the dataset again
    root: Path | None = None  # the dataset folder (the check walks all of it)

    def age(self) -> float:
        return max(time.time() - self.checked_at, 0.0)


def _open(root: Path, model: str | None, table: ClassTable | None, allowed: tuple[str, ...] = ()) -> Opened:
    """Every folder and file is read only where it resolves inside ``allowed`` (the data root and
    SEGVIZ_DATA_ROOTS, or an upload's folder; issue 11, item 15). The folders and the masks are
    checked before the counts are read, so a change made after this is found by the next check."""
    folders = folder_signature(root)
    dataset = open_dataset(root, model=model, classes=table, allowed_root=allowed or None)
    if table is None:
        dataset.table = None
    checked = time.time()
    keys = fingerprint(dataset)
    return Opened(dataset, folders, _digest(keys), checked, keys=keys, root=root)


def _dataset_key(root: Path, model: str | None, table: ClassTable | None, allowed: tuple[str, ...]) -> tuple:
    return ("dataset", str(root), model, table_token(table), tuple(allowed))


def opened(root: Path, model: str | None, table: ClassTable | None, allowed: tuple[str, ...] = ()) -> Opened:
    """The dataset's listing, reused while none of its folders changed (one stat per folder);
    listed again when one did. Every ``CHECK_EVERY_S`` seconds a background thread compares every
    mask's size and mtime (:func:`check_files`); the run after it found a change counts again."""
    key = _dataset_key(root, model, table, allowed)
    pool = results_cache()
    with pool.lock_for(key):
        entry = pool.get(key)
        if entry is None or entry.stale or folders_changed(entry.folders):
            changed = None if entry is None else time.time()
            entry = _open(root, model, table, allowed)
            entry.changed_at = changed
            pool.put(key, entry)
    if entry.age() > CHECK_EVERY_S and not entry.checking:
        entry.checking = True
        threading.Thread(target=check_files, args=(entry,), daemon=True, name="segviz-file-check").start()
    return entry


def check_files(entry: Opened) -> bool:
    """Compare every mask's size and mtime (and every folder's mtime) with what ``entry`` knew;
    True when something changed (the next page run then lists and counts again). O(N) stats: run in
    the background every ``CHECK_EVERY_S`` seconds, or when the user asks ("Check files now")."""
    try:
        now = time.time()
        if not folders_changed(entry.folders):
            files = _digest(fingerprint(entry.dataset))
        # the folders again (a file may go while the masks are read), and every folder walked (one
        # the signature left out, on a file system whose folder link counts are wrong)
        if folders_changed(entry.folders) or _missed_folders(entry):
            entry.stale, entry.changed_at = True, now
            return True
    except OSError:  # a mask removed or unreadable: its folder changed, or the listing is wrong
        entry.stale, entry.changed_at = True, time.time()
        return True
    finally:
        entry.checking = False
    changed = files != entry.files
    if changed:
        entry.files, entry.changed_at = files, now
    entry.checked_at = now
    return changed


def _missed_folders(entry: Opened) -> bool:
    """Whether a walk of every folder finds one the dataset's :func:`folder_signature` left out
    (a file system whose folder link counts are wrong): the next page run lists the dataset again."""
    if entry.root is None:
        return False
    walked = {path for path, _ in folder_signature(entry.root, leaves_by_links=False)}
    return not walked <= {path for path, _ in entry.folders}


#: Above this many images the raw counts are not kept once folded: the evaluation is what every
#: view reads, and two models' counts (≈220 MB each at 100,000 images) would crowd it out of the
#: cache. Changing the class table or the ignore ids then counts again from the results store.
KEEP_COUNTS_UP_TO = int(os.environ.get("SEGVIZ_KEEP_COUNTS_UP_TO", 10_000))


def evaluate_cached(
    dataset: Dataset,
    files: str,
    table_choice: str,
    generated_ignore: tuple[int, ...] = (),
    *,
    keys: list[str] | None = None,
) -> tuple[Evaluation, tuple]:
    """Counts are computed once per (files, colours) and shared; folding is cheap and cached too.
    ``files``: the digest of the masks' paths, sizes and mtimes (:attr:`Opened.files`). The fold is
    keyed on what determines it (the counts, the dataset's table, the table choice and ignore ids),
    so a cached evaluation is found without the counts. ``keys``: the files' store keys when
    they were taken already (:func:`fingerprint`)."""
    pool = results_cache()
    colours = tuple(dataset.table.colour_codes()[0].tolist()) if dataset.table is not None else ()
    count_key = ("counts", files, colours)
    fold_key = ("fold", count_key, table_token(dataset.table), table_choice, tuple(generated_ignore))
    result = pool.get(fold_key)
    if result is not None:
        return result, fold_key
    with pool.lock_for(fold_key):
        result = pool.get(fold_key)
        if result is None:
            counts = _counts(dataset, count_key, pool, keys=keys)
            table = choose_table(dataset, counts, generated_ignore=generated_ignore)
            result = fold(counts, table, skipped=dataset.skipped, warnings=dataset.warnings)
            pool.put(fold_key, result)
            if len(dataset.pairs) > KEEP_COUNTS_UP_TO:
                pool.discard(count_key)
    return result, fold_key


def _counts(dataset: Dataset, count_key: tuple, pool: ByteLru, *, keys: list[str] | None = None):
    """The raw counts (segviz.evaluate.count through the results store), once per key even when
    sessions race; the store's warnings are kept beside them (:func:`store_warnings`)."""
    with pool.lock_for(count_key):  # several sessions opening one dataset evaluate it once
        counts = pool.get(count_key)
        if counts is None:
            bar = st.progress(0.0, text=f"Evaluating {len(dataset.pairs)} images…")

            def progress(done: int, total: int) -> None:
                if done == total or done % 5 == 0:
                    bar.progress(done / total, text=f"Evaluated {done} / {total} images")

            store = ResultsStore()
            # the library's own steps (count -> choose the table -> fold), never a copy of evaluate()
            counts = count(dataset, progress=progress, store=store, keys=keys)
            bar.empty()
            pool.put(("count_warnings", count_key), tuple(store.stats.warnings))
            pool.put(count_key, counts)
    return counts


def files_of(key: tuple) -> str | None:
    """The digest of the mask files an evaluation's cache ``key`` was counted from."""
    try:
        return key[1][1] if key[0] == "fold" and key[1][0] == "counts" else None
    except (IndexError, TypeError):
        return None


def store_warnings(key: tuple) -> tuple[str, ...]:
    """The results store's warnings (a damaged entry recomputed, a store it could not write) from
    the count behind the evaluation cached under ``key``."""
    found = results_cache().get(("count_warnings", key[1])) if len(key) > 1 else None
    return found or ()


def open_model(
    root: Path,
    model: str | None,
    table: ClassTable | None,
    table_choice: str,
    generated_ignore=(),
    allowed: tuple[str, ...] = (),
) -> tuple[Evaluation, tuple]:
    """The evaluation of ``model`` on the dataset at ``root`` and its cache key.

    Nothing here grows with the number of images once the dataset is open: the listing is reused
    while no folder changed (one stat per folder), and the masks' sizes and mtimes are compared in
    the background every ``CHECK_EVERY_S`` seconds or on request (:func:`opened`)."""
    entry = opened(root, model, table, allowed)
    out = evaluate_cached(entry.dataset, entry.files, table_choice, tuple(generated_ignore), keys=entry.keys)
    entry.keys = None  # (counted: the keys are in the store now)
    return out


@dataclasses.dataclass(frozen=True)
class ImageTable:
    """What the Images view sorts, filters and pages, once per evaluation, never (N, K) dense:
    ``names`` a pandas Index (name -> position by hash), per-image pixel accuracy and mIoU (N,)
    float64 (NaN = undefined), and ``starts`` (N + 1,) int64: image i's sparse rows are
    ``image_rows[starts[i]:starts[i + 1]]`` (None when the rows are not sorted by image)."""

    names: pd.Index
    pixel_accuracy: np.ndarray
    mean_iou: np.ndarray
    starts: np.ndarray | None


def image_table(result: Evaluation, key: tuple, *, wait: bool = True) -> ImageTable | None:
    """The per-image columns every view pages through (Evaluation.image_frame's first columns; its
    N x K per-class part is dropped once read). ``wait=False``: start computing it in the
    background (the Overview does, so that the Images view opens without that O(N) step)."""

    def build() -> ImageTable:
        count_matrix(result, key)
        frame = result.image_frame()
        pa, miou = frame["pixel_accuracy"].to_numpy(float), frame["mean_iou"].to_numpy(float)
        del frame
        img = result.image_rows[:, 0]
        ordered = len(img) == 0 or bool(np.all(img[1:] >= img[:-1]))
        starts = np.searchsorted(img, np.arange(result.num_images + 1)) if ordered else None
        return ImageTable(names, _read_only(pa), _read_only(miou), starts)

    names = name_index(result, key)
    pool = results_cache()
    return (
        cached(("image_table", key), build, pool=pool)
        if wait
        else background(("image_table", key), build, pool=pool)
    )


def name_index(result: Evaluation, key: tuple) -> pd.Index:
    """The image names as a pandas Index (``in`` and ``get_loc`` by hash, not a scan), once per
    evaluation."""
    return cached(("names", key), lambda: pd.Index(result.names))


def class_column(result: Evaluation, key: tuple, index: int) -> tuple[np.ndarray, np.ndarray]:
    """One class's per-image IoU (N,) float64 (NaN where neither mask has it) and ground-truth
    pixels (N,) int64, from the sparse per-image aggregates (segviz.metrics.iou: the one formula)."""
    from segviz.metrics import iou

    def build():
        k = result.table.num_classes
        m = count_matrix(result, key)
        tp, gt, pred = (m[:, j * k + index].toarray().ravel() for j in range(3))
        return _read_only(iou(tp, gt, pred)), _read_only(gt)

    return cached(("class_column", key, index), build)


def image_confusion(result: Evaluation, key: tuple, index: int) -> np.ndarray:
    """One image's (K, K+1) int64 matrix from its own sparse rows (Evaluation.image_confusion
    without scanning every image's rows)."""
    starts = image_table(result, key).starts
    if starts is None:
        return result.image_confusion(index)
    k = result.table.num_classes
    rows = result.image_rows[starts[index] : starts[index + 1]]
    out = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(out, (rows[:, 1], rows[:, 2]), rows[:, 3])
    return out


def count_matrix(result: Evaluation, key: tuple):
    """``result.image_count_matrix()`` built once even when a page run and background threads ask
    at the same time (the evaluation caches it but does not lock)."""
    cached(("count_matrix_built", key), lambda: result.image_count_matrix() is not None)
    return result.image_count_matrix()


def images_for_cell(result: Evaluation, key: tuple, cell: tuple[int, int]):
    def build():
        count_matrix(result, key)
        return result.images_for_cell(*cell)

    return cached(("cell", key, tuple(cell)), build)


# ---------------------------------------------------------------- pictures
def _read_only(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None:
        array.flags.writeable = False
    return array


def load_photo(path: str, size: int, mtime_ns: int) -> np.ndarray | None:
    """An RGB photo as a read-only (H, W, 3) uint8 array, None if it cannot be decoded."""
    return cached(("photo", path, size, mtime_ns), lambda: _decode_photo(path), pool=pictures_cache())


def _decode_photo(path: str) -> np.ndarray | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a bomb is refused, not decoded
            with Image.open(path) as im:
                return _read_only(np.asarray(im.convert("RGB")).copy())
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


def load_indices(
    path: str, size: int, mtime_ns: int, kind: str, encoding: str, table: ClassTable
) -> np.ndarray:
    """Class indices of a mask file (see segviz.overlay.class_indices), read-only."""
    return cached(
        ("mask", path, size, mtime_ns, kind, encoding, table_token(table)),
        lambda: _read_only(
            np.array(class_indices(read_mask(path, table).values, table, kind=kind, encoding=encoding))
        ),
        pool=pictures_cache(),
    )


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
    gt = load_indices(*gt_key, "gt", gt_enc, table)
    pred = load_indices(*pred_key, "pred", pred_enc, table)
    photo = load_photo(*photo_key) if photo_key is not None else None
    if photo is not None and photo.shape[:2] != gt.shape:
        photo = None
    return gt, pred, photo


def thumbnail(pair, table: ClassTable, cell: tuple[int, int], width: int) -> bytes:
    """The error map of one pair with ``cell`` highlighted, as a JPEG ``width`` pixels wide."""
    keys = _pair_keys(pair)

    def build() -> bytes:
        gt, pred, photo = _load_keys(keys, table)
        rgb = error_map(gt, pred, table.num_classes, highlight=cell, photo=photo)
        h, w = gt.shape
        return to_jpeg(resize_rgb(rgb, fit_width(w, h, width)), quality=85)

    return cached(("thumb", keys, table_token(table), tuple(cell), width), build, pool=pictures_cache())


# ---------------------------------------------------------------- confidence (issue 14)
def has_confidence(root: Path, model: str | None) -> bool:
    """Whether ``model`` has confidence maps or probabilities beside its predictions: a non-empty
    ``conf/MODEL/`` or ``prob/MODEL/`` (``conf/``, ``prob/`` for a dataset without model folders)."""
    for part in ("conf", "prob"):
        folder = root / part / model if model else root / part
        try:
            if folder.is_dir() and any(folder.iterdir()):
                return True
        except OSError:
            continue
    return False


def open_dataset_cached(
    root: Path, model: str | None, table: ClassTable | None, allowed: tuple[str, ...] = ()
) -> Dataset:
    """The dataset listing that :func:`open_model` uses (the same cache entry)."""
    return opened(root, model, table, allowed).dataset


def confidence_signature(dataset: Dataset) -> str:
    """A digest of every confidence / probability file's (path, size, mtime) and the logits flag:
    a map added, removed or rewritten changes it."""
    from segviz.confidence import find_confidence

    found = find_confidence(dataset)
    files = sorted(file_key(Path(p)) for p in found.files.values())
    return _digest((files, found.logits, [p.reason for p in found.warnings]))


def open_confidence(dataset: Dataset, eval_key: tuple, generated_ignore: tuple[int, ...] = ()):
    """``(ConfidenceResult, key)`` of the evaluated dataset, computed once per (evaluation, files).

    :func:`segviz.confidence.evaluate_confidence` keeps its per-image rows under the results store
    (``STORE/confidence/``), so after a restart a second open reads no map either."""
    from segviz.confidence import evaluate_confidence

    key = ("confidence", eval_key, confidence_signature(dataset))

    def compute():
        bar = st.progress(0.0, text=f"Reading the confidence of {len(dataset.pairs)} images…")

        def progress(done: int, total: int) -> None:
            if done == total or done % 5 == 0:
                bar.progress(done / total, text=f"Confidence: {done} / {total} images")

        result = evaluate_confidence(
            dataset, store=ResultsStore(), progress=progress, generated_ignore=generated_ignore
        )
        bar.empty()
        return result, vars(result)  # vars(): the row arrays (set in __post_init__) count in the budget

    return cached(key, compute)[0], key


# ---------------------------------------------------------------- error anatomy (issue 13)
def anatomy(result: Evaluation, key: tuple, width: float | int):
    """The error anatomy of an evaluation at one boundary width, once per (evaluation, width). The
    results store keeps the per-image counts beside the evaluation's, so opening it again (another
    session, another process) reads no mask; a progress bar shows while images are analysed."""
    from segviz.anatomy import analyse

    def compute():
        bar = st.progress(0.0, text=f"Error anatomy of {result.num_images} images…")

        def progress(done: int, total: int) -> None:
            if done == total or done % 5 == 0:
                bar.progress(done / max(total, 1), text=f"Error anatomy: {done} / {total} images")

        try:
            return analyse(result, width=width, store=ResultsStore(), progress=progress)
        finally:
            bar.empty()

    return cached(("anatomy", key, width), compute)


def images_for_error(anatomy_result, key: tuple, class_index: int, error: str):
    """Images ranked by one class's pixels of one error type (segviz.anatomy.Anatomy.images_for_error)."""
    return cached(
        ("anatomy_images", key, anatomy_result.width, class_index, error),
        lambda: anatomy_result.images_for_error(class_index, error),
    )


def pair_anatomy(pair, table: ClassTable, width: float | int):
    """One pair's per-pixel error kinds (segviz.anatomy.analyse_pair), read-only, file-keyed."""
    from segviz.anatomy import analyse_pair

    def build():
        a = analyse_pair(pair, table, width=width)
        _read_only(a.fp_kind), _read_only(a.fn_kind), _read_only(a.counts)
        return a

    return cached(("pair_anatomy", _pair_keys(pair), table_token(table), width), build, pool=pictures_cache())


def error_thumbnail(
    pair, table: ClassTable, width: float | int, class_index: int, error: str, size: int
) -> bytes:
    """The photo dimmed with exactly one class's pixels of one error type highlighted, JPEG ``size`` wide."""
    from segviz.anatomy import error_mask
    from segviz.anatomy_figures import highlight_picture

    keys = _pair_keys(pair)

    def build() -> bytes:
        gt, pred, photo = _load_keys(keys, table)
        mask = error_mask(pair_anatomy(pair, table, width), gt, pred, class_index, error)
        h, w = gt.shape
        return to_jpeg(highlight_picture(photo, mask, fit_width(w, h, size)), quality=85)

    return cached(
        ("error_thumb", keys, table_token(table), width, class_index, error, size),
        build,
        pool=pictures_cache(),
    )


# ---------------------------------------------------------------- slices (issue 15)
def metadata_key(root: Path) -> tuple[str, int, int]:
    """The identity (path, size, mtime) of the dataset's metadata.csv / .parquet, empty without one."""
    from segviz.slices import find_metadata

    return file_key(find_metadata(root))


def slicer(result: Evaluation, key: tuple, root: Path):
    """(Slicer, warnings) over the dataset's metadata and the automatic attributes, once per
    evaluation and metadata file. The pixel attributes are read once per dataset (results store);
    an unreadable metadata file is one warning and the automatic attributes still slice."""
    from segviz import SegvizError
    from segviz.slices import open_slices

    def build():
        bar = st.progress(0.0, text="Reading the image attributes…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Image attributes: {done} / {total} images")

        options = dict(store=ResultsStore(), progress=progress)
        try:
            made = open_slices(result, dataset_root=root, **options)
        except SegvizError as exc:
            made = open_slices(result, dataset_root=None, **options)
            made = (made[0], [f"{exc}; slicing by the automatic attributes only", *made[1]])
        bar.empty()
        return made

    return cached(("slicer", key, metadata_key(root)), build)


def slice_frame(result: Evaluation, key: tuple, root: Path, column: str):
    """The per-value table of ``column`` (Slicer.frame), once per evaluation, metadata and column."""
    return cached(
        ("slice_frame", key, metadata_key(root), column), lambda: slicer(result, key, root)[0].frame(column)
    )


def worst_slices(result: Evaluation, key: tuple, root: Path, *, compute: bool = True):
    """The ranked worst slices (None when not computed yet and ``compute`` is False)."""
    wanted = ("worst", key, metadata_key(root))
    if not compute:
        return results_cache().get(wanted)
    return cached(wanted, lambda: slicer(result, key, root)[0].worst())


def slice_subset(result: Evaluation, key: tuple, text: str, indices) -> tuple[Evaluation, tuple]:
    """The evaluation of a slice's images and its cache key (derived results are cached under it)."""
    subset_key = ("slice", key, text)  # colour-free, like the evaluation's own key
    subset = cached((*subset_key, table_token(result.table)), lambda: result.subset(indices))
    return subset, subset_key


def slice_comparison(a: Evaluation, key_a: tuple, b: Evaluation, key_b: tuple, root: Path, column: str):
    """Model b against model a on each value of ``column``, paired (segviz.slices.compare_by)."""
    from segviz.slices import compare_by

    return cached(
        ("slice_compare", key_a, key_b, metadata_key(root), column),
        lambda: compare_by(a, b, slicer(a, key_a, root)[0].attributes, column),
    )
