"""The results store: per-image sparse counts kept between runs, outside the dataset.

Reading masks is the slow part of an evaluation, so each pair's sparse joint histogram of raw values
(:class:`segviz.evaluate.PairCounts`) is stored once and reused while its files are unchanged. The
counts do not depend on the class table (except for RGB colour-coded masks, whose entries also
carry the table's colour key), so changing ignore ids or the table never re-reads a mask.

Layout: ``STORE_DIR/<key of the gt and pred folders>/`` holds ``images.parquet`` (one row per pair:
its files' paths, sizes and modification times, shape, warnings, and where its rows start),
``counts.parquet`` (gt value, pred value, count) and ``meta.json`` (format version). Files are
replaced atomically. On load every entry is checked (row ranges in bounds, counts summing to the
pixel count, matching version); a store that fails is discarded and rebuilt, never trusted.

``STORE_DIR`` is ``$SEGVIZ_STORE`` if set, else ``$XDG_CACHE_HOME/segviz`` (``~/.cache/segviz``).
It is never inside a dataset folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segviz import remote
from segviz.classes import ClassTable
from segviz.dataset import Location, Pair, common_folder

FORMAT_VERSION = 1


def default_store_dir() -> Path:
    if os.environ.get("SEGVIZ_STORE"):
        return Path(os.environ["SEGVIZ_STORE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "segviz"


def colour_key(table: ClassTable | None) -> str:
    """Identifies how RGB masks decode under ``table`` (its colours and the ids they map to)."""
    if table is None:
        return ""
    codes, ids = table.colour_codes()
    return hashlib.sha1(codes.tobytes() + b"|" + ids.tobytes()).hexdigest()[:16]


def file_signature(path: Location | None) -> tuple[str, int, int]:
    """(absolute path, size, mtime_ns), or ("", -1, -1) for no file / a file that is gone; for a
    URL, (URL, size, version) from its listing (:func:`segviz.remote.signature`)."""
    if path is None:
        return ("", -1, -1)
    if remote.is_url(path):
        return remote.signature(path)
    name = os.path.abspath(os.fspath(path))  # plain os calls: this runs for every file on every open
    try:
        st = os.stat(name)
    except OSError:
        return (name, -1, -1)
    return (name, st.st_size, st.st_mtime_ns)


def pair_key(pair: Pair) -> tuple:
    """Everything that identifies one pair's counts, except the table's colours."""
    return (
        pair.name,
        *file_signature(pair.gt_path),
        *file_signature(pair.pred_path),
        *file_signature(pair.image_path),
        pair.gt_encoding,
        pair.pred_encoding,
    )


@dataclass
class StoreStats:
    """What the last :meth:`ResultsStore.counts` call did."""

    hits: int = 0
    misses: int = 0
    rebuilt: str = ""  # why a stored file was discarded, if it was


class ResultsStore:
    """Per-pair counts for the datasets evaluated on this machine (see the module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_dir()
        self.stats = StoreStats()

    def folder_for(self, pairs: Sequence[Pair]) -> Path:
        """One folder per (ground-truth folder, prediction folder): the common parents of the files."""
        if not pairs:
            return self.root / "empty"
        gt_top = common_folder([p.gt_path for p in pairs])
        pred_top = common_folder([p.pred_path for p in pairs])
        return self.root / hashlib.sha1(f"{gt_top}\0{pred_top}".encode()).hexdigest()[:20]

    # ------------------------------------------------------------------ reading
    def load(
        self, pairs: Sequence[Pair], table: ClassTable | None, *, keys: Sequence[tuple] | None = None
    ) -> dict[tuple, object]:
        """Stored counts of the pairs whose files are unchanged: {pair_key: PairCounts}.
        ``keys`` are the pairs' :func:`pair_key` when the caller has them already."""
        from segviz.evaluate import PairCounts

        folder = self.folder_for(pairs)
        self.stats = StoreStats()
        try:
            entries = _read(folder)
        except StoreCorrupt as exc:
            self.stats.rebuilt = str(exc)
            shutil.rmtree(folder, ignore_errors=True)
            return {}
        wanted = dict(zip(keys if keys is not None else map(pair_key, pairs), pairs, strict=True))
        ckey = colour_key(table)
        out = {}
        for key, entry in entries.items():
            pair = wanted.get(key)
            if pair is None or (entry["colour_coded"] and entry["colour_key"] != ckey):
                continue
            out[key] = PairCounts(
                pair,
                entry["gt"],
                entry["pred"],
                entry["count"],
                entry["shape"],
                tuple(entry["warnings"]),
                entry["colour_coded"],
            )
        return out

    # ------------------------------------------------------------------ writing
    def save(
        self, pairs: Sequence[Pair], counted: Iterable, table: ClassTable | None, *, keys: dict | None = None
    ) -> None:
        """Replace the stored counts of these pairs' folders with ``counted`` (atomic); ``keys`` maps
        a pair to its :func:`pair_key` when the caller has them already."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        counted = list(counted)
        folder = self.folder_for(pairs)
        ckey = colour_key(table)
        images, gts, preds, counts = [], [], [], []
        start = 0
        for pc in counted:
            key = pair_key(pc.pair)
            images.append(
                {
                    "key": json.dumps(key),
                    "h": int(pc.shape[0]),
                    "w": int(pc.shape[1]),
                    "warnings": json.dumps(list(pc.warnings)),
                    "colour_coded": bool(pc.colour_coded),
                    "colour_key": ckey if pc.colour_coded else "",
                    "start": start,
                    "rows": len(pc.counts),
                }
            )
            gts.append(pc.gt_values)
            preds.append(pc.pred_values)
            counts.append(pc.counts)
            start += len(pc.counts)

        def cat(xs):
            return np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64)

        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            pq.write_table(pa.Table.from_pylist(images, schema=_IMAGES_SCHEMA()), tmp / "images.parquet")
            pq.write_table(
                pa.table({"gt": cat(gts), "pred": cat(preds), "count": cat(counts)}),
                tmp / "counts.parquet",
                compression="zstd",
            )
            (tmp / "meta.json").write_text(json.dumps({"format": FORMAT_VERSION, "pairs": len(images)}))
            old = folder.with_name(folder.name + ".old")
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class StoreCorrupt(Exception):
    """A stored folder that cannot be trusted."""


def _IMAGES_SCHEMA():
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("h", pa.int64()),
            ("w", pa.int64()),
            ("warnings", pa.string()),
            ("colour_coded", pa.bool_()),
            ("colour_key", pa.string()),
            ("start", pa.int64()),
            ("rows", pa.int64()),
        ]
    )


def _read(folder: Path) -> dict[tuple, dict]:
    """Stored entries by pair key; {} when nothing is stored; StoreCorrupt when it cannot be trusted."""
    if not folder.exists():
        return {}
    try:
        import pyarrow.parquet as pq

        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise StoreCorrupt(f"{folder}: format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        images = pq.read_table(folder / "images.parquet").to_pydict()
        counts = pq.read_table(folder / "counts.parquet")
        gt = counts.column("gt").to_numpy()
        pred = counts.column("pred").to_numpy()
        count = counts.column("count").to_numpy()
    except StoreCorrupt:
        raise
    except Exception as exc:
        raise StoreCorrupt(f"{folder}: unreadable ({type(exc).__name__}: {exc})") from None
    if int(meta.get("pairs", -1)) != len(images["key"]):
        raise StoreCorrupt(f"{folder}: {len(images['key'])} entries, meta.json says {meta.get('pairs')}")
    starts = np.asarray(images["start"], dtype=np.int64)
    lengths = np.asarray(images["rows"], dtype=np.int64)
    outside = (starts < 0) | (lengths < 0) | (starts + lengths > len(count))
    if outside.any():
        raise StoreCorrupt(f"{folder}: entry {int(np.argmax(outside))} points outside the counts")
    ends = starts + lengths

    def per_entry(values: np.ndarray) -> np.ndarray:  # sum of ``values`` over each entry's rows
        cum = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
        return cum[ends] - cum[starts]

    sums = per_entry(count)
    pixels = np.asarray(images["h"], dtype=np.int64) * np.asarray(images["w"], dtype=np.int64)
    wrong = (sums != pixels) | (per_entry(count <= 0) > 0)  # a stored count is never 0 or negative
    if wrong.any():
        i = int(np.argmax(wrong))
        raise StoreCorrupt(
            f"{folder}: entry {i} counts {int(sums[i])} pixels, expected {images['h'][i]}x{images['w'][i]}"
        )
    out = {}
    for i, raw_key in enumerate(images["key"]):
        start, rows = images["start"][i], images["rows"][i]
        c = count[start : start + rows]
        h, w = images["h"][i], images["w"][i]
        out[tuple(json.loads(raw_key))] = {
            "gt": gt[start : start + rows],
            "pred": pred[start : start + rows],
            "count": c,
            "shape": (h, w),
            "warnings": json.loads(images["warnings"][i]),
            "colour_coded": images["colour_coded"][i],
            "colour_key": images["colour_key"][i],
        }
    return out
