"""The results store: per-image sparse counts kept between runs, outside the dataset.

Reading masks is the slow part of an evaluation, so each pair's sparse joint histogram of raw values
(:class:`segviz.counts.PairCounts`) is stored once and reused while its files are unchanged. The
counts do not depend on the class table (except for RGB colour-coded masks, whose entries also
carry the table's colour key), so changing ignore ids or the table never re-reads a mask.

Layout: ``STORE_DIR/<key of the gt and pred folders>/`` holds

* ``images-<hash>.parquet``: one row per pair (its files' paths, sizes and modification times,
  shape, warnings, where its rows start, and the content hash of its masks when known);
* ``counts-<hash>.parquet``: (gt value, pred value, count) rows, each pair's rows contiguous;
* ``meta.json``: the manifest, written last: format version, entry and row counts, each data file's
  name, size and BLAKE2b hash, and a hash of the manifest itself; optionally ``segments``: more
  (images, counts) file pairs, each listed and checked the same way;
* ``.lock``: taken shared to read, exclusively to write (``fcntl.flock``).

Guarantees: a save writes new files under names of their content, then replaces ``meta.json``
atomically (``os.replace``), under the exclusive lock, so readers and concurrent writers only ever
see a complete store. On load the manifest, both hashes, the schemas and every value are checked
(counts positive, rows sorted and distinct per entry, pixel totals equal to the recorded image
size, row ranges contiguous, no duplicate entry); anything wrong discards the stored entries (one
warning in :attr:`StoreStats.warnings`) and they are recomputed, never trusted. A store that cannot
be written (read-only, disk full, lock held too long) gives a warning; results are still returned.

Incremental saves (issue #17): when the store holds at least :data:`APPEND_MIN_ROWS` count rows, a
save adds one *segment* holding only the entries that were not stored (one changed prediction: one
small file pair, whatever the dataset's size) and lists it in the manifest; an entry in a later
segment replaces an earlier one with the same key (a recount after ``--verify``), and an entry whose
files changed simply stops matching (its key holds their sizes and times). After
:data:`MAX_SEGMENTS` segments, or when the new rows exceed a quarter of the stored ones, the save
rewrites everything as one file pair (compaction; stale entries dropped). A segviz that predates
segments reads the base files only: the entries of the segments are then recomputed, never wrong.

A mask rewritten with the same size and modification time is served from the store; with
``ResultsStore(verify=True)`` (CLI ``--verify``) every mask's content hash is checked against the
entry first, at the cost of reading each mask file once.

``STORE_DIR`` is ``$SEGVIZ_STORE`` if set, else ``$XDG_CACHE_HOME/segviz`` (``~/.cache/segviz``).
It is never inside a dataset folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segviz import remote
from segviz.classes import MAX_ID, ClassTable
from segviz.counts import PairCounts
from segviz.dataset import Location, Pair, common_folder

try:  # POSIX; elsewhere saves are still atomic, only not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT_VERSION = 2
MANIFEST = "meta.json"
LOCK = ".lock"
_MAX_MANIFEST_BYTES = 1 << 16
_DATA_NAME = re.compile(r"(images|counts)-[0-9a-f]{32}\.parquet")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_KEY_LENGTH = 12  # see pair_key
#: A save adds a segment (only the new entries) instead of rewriting the store when the store holds
#: at least this many count rows, fewer than MAX_SEGMENTS segments, and the new rows are at most a
#: quarter of the stored ones; otherwise it rewrites everything (compaction: stale entries dropped).
APPEND_MIN_ROWS = 200_000
MAX_SEGMENTS = 8


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


def content_digest(pair: Pair) -> str:
    """BLAKE2b (128 bits, hex) of the pair's two mask files' bytes; "" when a file cannot be read.
    A URL contributes its listed version only (it is already part of :func:`pair_key`).

    Example:
        >>> len(content_digest(Pair("x", __file__, __file__)))  # any two readable files
        32
        >>> content_digest(Pair("x", "/nonexistent/g.png", "/nonexistent/p.png"))
        ''
    """
    h = hashlib.blake2b(digest_size=16)
    for path in (pair.gt_path, pair.pred_path):
        if remote.is_url(path):
            h.update(repr(remote.signature(path)).encode())
            continue
        try:
            with open(path, "rb") as f:
                h.update(hashlib.file_digest(f, "blake2b").digest())
        except OSError:
            return ""
    return h.hexdigest()


@dataclass
class StoreStats:
    """What the last :meth:`ResultsStore.load` / :meth:`ResultsStore.save` calls did."""

    hits: int = 0
    misses: int = 0
    rebuilt: str = ""  # why the stored entries were discarded, if they were
    warnings: list[str] = field(default_factory=list)  # one line per problem, for the user
    verified: int = 0  # entries whose masks' content was checked (verify=True)
    changed: int = 0  # of those, entries recomputed: content differs or was never hashed


class StoreCorrupt(Exception):
    """A stored folder that cannot be trusted."""


class StoreBusy(Exception):
    """The store's lock was held by someone else for longer than the timeout."""


class ResultsStore:
    """Per-pair counts for the datasets evaluated on this machine (see the module docstring).

    Args:
        root: the store folder (default :func:`default_store_dir`).
        verify: check each stored entry against the content hash of its mask files before using
            it (reads every mask file once; catches a mask rewritten with the same size and time).
        lock_timeout: seconds to wait for the store's lock before going on without the store.
    """

    def __init__(
        self, root: str | Path | None = None, *, verify: bool = False, lock_timeout: float = 120.0
    ) -> None:
        self.root = Path(root) if root is not None else default_store_dir()
        self.verify = verify
        self.lock_timeout = lock_timeout
        self.stats = StoreStats()
        self._digests: dict[tuple, str] = {}  # content_digest of each entry's masks, by pair_key
        self._busy = False  # the last load found the lock held for lock_timeout
        self._read_state = None  # (folder, manifest, stored rows) of the last load that read a store
        self._loaded: set[tuple] = set()  # keys of the entries the last load returned

    def folder_for(self, pairs: Sequence[Pair]) -> Path:
        """One folder per (ground-truth folder, prediction folder): the common parents of the files."""
        if not pairs:
            return self.root / "empty"
        gt_top = _common_folder([p.gt_path for p in pairs])
        pred_top = _common_folder([p.pred_path for p in pairs])
        return self.root / hashlib.sha1(f"{gt_top}\0{pred_top}".encode()).hexdigest()[:20]

    # ------------------------------------------------------------------ reading
    def load(
        self, pairs: Sequence[Pair], table: ClassTable | None, *, keys: Sequence[tuple] | None = None
    ) -> dict[tuple, object]:
        """Stored counts of the pairs whose files are unchanged: {pair_key: PairCounts}.
        ``keys`` are the pairs' :func:`pair_key` when the caller has them already.

        Never raises for a damaged, unreadable or busy store: its entries are then left out (and
        recomputed by the caller), with one line in ``self.stats.warnings``.
        """
        folder = self.folder_for(pairs)
        self.stats = StoreStats()
        self._digests = {}
        self._busy = False
        wanted = dict(zip(keys if keys is not None else map(pair_key, pairs), pairs, strict=True))
        self._read_state = None
        try:
            with self._lock(folder, shared=True):
                stored = _read(folder)
                out = {}
                for part in stored or ():  # later segments replace earlier entries of the same key
                    out.update(_entries(part, wanted, colour_key(table), self._digests))
                if stored:
                    self._read_state = (folder, stored[0].manifest, sum(len(p.count) for p in stored))
        except StoreBusy as exc:
            self._busy = True  # (the save after it does not wait a second time)
            return self._discard(folder, exc)
        except StoreCorrupt as exc:
            return self._discard(folder, exc)
        except Exception as exc:  # anything else while reading is damage too: never trusted
            return self._discard(folder, StoreCorrupt(f"unreadable ({type(exc).__name__}: {exc})"))
        if self.verify:
            out = self._verified(out, wanted)
        self._loaded = set(out)
        return out

    def _discard(self, folder: Path, exc: Exception) -> dict:
        reason = _one_line(str(exc))
        self.stats.rebuilt = reason
        self._digests = {}
        self.stats.warnings.append(f"results store {folder}: stored results not used ({reason}); recomputing")
        return {}

    def _verified(self, out: dict, wanted: dict) -> dict:
        """Keep the entries whose masks still hash to the stored digest; hash every wanted pair."""
        with ThreadPoolExecutor(max_workers=2) as pool:  # (hashing releases the GIL)
            digests = dict(zip(wanted, pool.map(content_digest, wanted.values()), strict=True))
        kept = {k: pc for k, pc in out.items() if digests[k] and self._digests.get(k) == digests[k]}
        self.stats.verified, self.stats.changed = len(out), len(out) - len(kept)
        if self.stats.changed:
            self.stats.warnings.append(
                f"results store: --verify found {self.stats.changed} of {len(out)} stored entries whose "
                "masks' content differs or was never hashed; recomputing them"
            )
        self._digests = digests
        return kept

    # ------------------------------------------------------------------ writing
    def save(
        self, pairs: Sequence[Pair], counted: Iterable, table: ClassTable | None, *, keys: dict | None = None
    ) -> None:
        """Replace the stored counts of these pairs' folders with ``counted`` (atomic, locked);
        ``keys`` maps a pair to its :func:`pair_key` as computed *before* it was counted.

        Never raises: a store that cannot be written (read-only, disk full, busy) adds one line to
        ``self.stats.warnings``.
        """
        folder = self.folder_for(pairs)
        try:
            self._save(folder, list(counted), table, keys or {})
        except Exception as exc:  # the results are computed; a failed save must not lose them
            reason = _one_line(f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreBusy) else str(exc))
            self.stats.warnings.append(f"results store {folder}: results not saved ({reason})")

    def _save(self, folder: Path, counted: list, table: ClassTable | None, keys: dict) -> None:
        state = self._read_state if self._read_state and self._read_state[0] == folder else None
        if state is not None and not self.stats.rebuilt:
            new = [pc for pc in counted if (keys.get(pc.pair) or pair_key(pc.pair)) not in self._loaded]
            if self._append(folder, new, table, keys, state):
                return
        self._write(folder, counted, table, keys, base=None)

    def _append(self, folder: Path, new: list, table, keys: dict, state: tuple) -> bool:
        """Add ``new`` entries as one more segment when the store is large, the segments few and
        the manifest still the one read; False when a full rewrite is due (that is compaction)."""
        _, manifest, stored_rows = state
        segments = manifest.get("segments", [])
        new_rows = sum(len(pc.counts) for pc in new)
        if stored_rows < APPEND_MIN_ROWS:
            return False
        if not new:  # (pairs that failed to read, a folder that lost files: nothing to add)
            return True
        if len(segments) >= MAX_SEGMENTS or new_rows * 4 > stored_rows:  # (rewrite, dropping the stale)
            return False
        return self._write(folder, new, table, keys, base=manifest)

    def _write(self, folder: Path, counted: list, table, keys: dict, *, base: dict | None) -> bool:  # noqa: C901 -- a whole store or one segment, each file written, hashed and listed in turn
        """Write ``counted`` as the whole store (``base`` None) or as a segment added to the
        manifest ``base``; False (nothing written) when ``base`` is no longer the current manifest."""
        import pyarrow as pa

        ckey = colour_key(table)
        images = {name: [] for name in _IMAGES_SCHEMA().names}
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        start = 0
        for pc in counted:
            key = keys.get(pc.pair) or pair_key(pc.pair)
            digest = self._digests.get(key, "")
            if not digest and self.verify:
                digest = content_digest(pc.pair)
            for name, value in (
                ("key", json.dumps(key)),
                ("h", int(pc.shape[0])),
                ("w", int(pc.shape[1])),
                ("warnings", json.dumps(list(pc.warnings))),
                ("colour_coded", bool(pc.colour_coded)),
                ("colour_key", ckey if pc.colour_coded else ""),
                ("start", start),
                ("rows", len(pc.counts)),
                ("content", digest),
            ):
                images[name].append(value)
            parts.append((pc.gt_values, pc.pred_values, pc.counts))
            start += len(pc.counts)

        def cat(i: int) -> np.ndarray:
            return np.concatenate([p[i] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)

        blobs = {
            "images": _parquet(pa.table(images, schema=_IMAGES_SCHEMA())),
            "counts": _parquet(
                pa.table({"gt": cat(0), "pred": cat(1), "count": cat(2)}, schema=_COUNTS_SCHEMA())
            ),
        }
        files = {}
        for role, data in blobs.items():
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            files[role] = {"name": f"{role}-{digest}.parquet", "bytes": len(data), "blake2b": digest}
        if base is None:
            manifest = {"format": FORMAT_VERSION, "pairs": len(counted), "rows": start, "files": files}
        else:
            segment = {"pairs": len(counted), "rows": start, "files": files}
            manifest = {k: v for k, v in base.items() if k != "checksum"}
            manifest["segments"] = [*base.get("segments", []), segment]
        manifest["checksum"] = _manifest_checksum(manifest)
        if base is not None and len(json.dumps(manifest)) > _MAX_MANIFEST_BYTES:
            return False

        folder.mkdir(parents=True, exist_ok=True)
        with self._lock(folder, shared=False):
            if base is not None:
                try:  # another writer since our read: rewrite everything instead
                    if _read_manifest(folder) != base:
                        return False
                except StoreCorrupt:
                    return False
            for name in os.listdir(folder):  # a folder where a file belongs (damage) goes first
                if os.path.isdir(folder / name) and not os.path.islink(folder / name):
                    shutil.rmtree(folder / name)
            for role, data in blobs.items():
                _write_atomic(folder / files[role]["name"], data)
            _write_atomic(folder / MANIFEST, json.dumps(manifest).encode())  # last: the commit point
            keep = {MANIFEST, LOCK, *(f["name"] for part in _parts(manifest) for f in part["files"].values())}
            for old in os.listdir(folder):  # earlier data files, an older format, a crashed save's temp
                if old not in keep:
                    with contextlib.suppress(OSError):
                        os.unlink(folder / old)
        self._read_state = None
        return True

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def _lock(self, folder: Path, *, shared: bool) -> Iterator[None]:
        """flock on ``folder/.lock``; a reader that cannot open the lock file (read-only store)
        reads without it, a writer that cannot gets the OSError."""
        if fcntl is None or (shared and not folder.is_dir()):
            yield
            return
        path = folder / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if not shared:
                raise
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                yield
                return
        try:
            mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
            deadline = time.monotonic() + (0 if self._busy and not shared else self.lock_timeout)
            pause = 0.001
            while True:
                try:
                    fcntl.flock(fd, mode)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreBusy(
                            f"{path} held by another process for over {self.lock_timeout:g} s"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
            yield
        finally:
            os.close(fd)  # releases the lock


def _common_folder(paths: list) -> str:
    """:func:`segviz.dataset.common_folder` without a call per path when every path is a plain
    absolute one (no ``.``/``..`` parts, no doubled slashes: ``abspath`` would not change it): the
    common folder of all such paths is that of the lexicographically first and last.

    Example:
        >>> _common_folder(["/d/gt/b/x.png", "/d/gt/a.png", "/d/gt-2/y.png"])
        '/d'
    """
    names = [os.fspath(p) if not isinstance(p, str) else p for p in paths]
    plain = all(n.startswith("/") and "/." not in n and "//" not in n for n in names)
    if not plain or remote.is_url(names[0]):
        return common_folder(paths)
    return common_folder([min(names), max(names)])


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _parquet(table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _manifest_checksum(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=16).hexdigest()


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
            ("content", pa.string()),
        ]
    )


def _COUNTS_SCHEMA():
    import pyarrow as pa

    return pa.schema([("gt", pa.int64()), ("pred", pa.int64()), ("count", pa.int64())])


# ---------------------------------------------------------------------- reading and checking
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_manifest(folder: Path) -> dict | None:
    """The checked manifest, None when nothing is stored; StoreCorrupt when it cannot be trusted."""
    try:
        with open(folder / MANIFEST, "rb") as f:
            raw = f.read(_MAX_MANIFEST_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise StoreCorrupt(f"{MANIFEST} larger than {_MAX_MANIFEST_BYTES} bytes")
    try:
        meta = json.loads(raw)
    except ValueError:
        raise StoreCorrupt(f"{MANIFEST} is not JSON") from None
    if not isinstance(meta, dict):
        raise StoreCorrupt(f"{MANIFEST} is not a JSON object")
    if meta.get("format") != FORMAT_VERSION or not _is_int(meta.get("format")):
        if _is_int(meta.get("format")) and 0 < meta["format"] < FORMAT_VERSION:
            raise StoreCorrupt(f"written by an earlier segviz, format {meta['format']}")
        raise StoreCorrupt(f"format {meta.get('format')!r}, expected {FORMAT_VERSION}")
    if meta.get("checksum") != _manifest_checksum(meta):
        raise StoreCorrupt(f"{MANIFEST} checksum mismatch")
    segments = meta.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(x, dict) for x in segments):
        raise StoreCorrupt(f"{MANIFEST}: segments = {segments!r}, expected a list")
    for where, part in (("", meta), *((f"segments[{i}].", x) for i, x in enumerate(segments))):
        _check_part(where, part)
    return meta


def _check_part(where: str, part: dict) -> None:
    """One data-file pair's entry in the manifest: its counts and its two files."""
    for name in ("pairs", "rows"):
        if not _is_int(part.get(name)) or part[name] < 0:
            raise StoreCorrupt(f"{MANIFEST}: {where}{name} = {part.get(name)!r}, expected a count")
    files = part.get("files")
    if not isinstance(files, dict) or set(files) != {"images", "counts"}:
        raise StoreCorrupt(f"{MANIFEST}: {where}files = {files!r}, expected images and counts")
    for role, f in files.items():
        ok = (
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and _DATA_NAME.fullmatch(f["name"]) is not None
            and f["name"].startswith(role + "-")
            and isinstance(f.get("blake2b"), str)
            and _HEX32.fullmatch(f["blake2b"]) is not None
            and _is_int(f.get("bytes"))
            and f["bytes"] >= 0
        )
        if not ok:
            raise StoreCorrupt(f"{MANIFEST}: {where}files.{role} = {f!r} is malformed")


def _parts(manifest: dict) -> list[dict]:
    """The manifest's data-file pairs: the base, then each segment in the order written."""
    return [manifest, *manifest.get("segments", [])]


def _read_file(folder: Path, entry: dict):
    """One data file, checked against its size and hash before it is parsed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / entry["name"]
    try:
        with open(path, "rb") as f:
            data = f.read(entry["bytes"] + 1)
    except FileNotFoundError:
        raise StoreCorrupt(f"{entry['name']} is missing") from None
    if len(data) != entry["bytes"]:
        raise StoreCorrupt(f"{entry['name']}: {len(data)} bytes, expected {entry['bytes']} (truncated?)")
    if hashlib.blake2b(data, digest_size=16).hexdigest() != entry["blake2b"]:
        raise StoreCorrupt(f"{entry['name']}: checksum mismatch (damaged file)")
    return pq.read_table(pa.BufferReader(data))


@dataclass
class _Stored:
    """Checked columns of one store folder."""

    images: dict[str, list]
    gt: np.ndarray
    pred: np.ndarray
    count: np.ndarray
    manifest: dict  # the whole store's manifest


def _read(folder: Path) -> list[_Stored] | None:
    """The folder's checked contents, one :class:`_Stored` per data-file pair (base first, then
    the segments); None when nothing is stored; StoreCorrupt when it cannot be trusted."""
    meta = _read_manifest(folder)
    if meta is None:
        return None
    return [_read_part(folder, part, meta) for part in _parts(meta)]


def _read_part(folder: Path, part: dict, meta: dict) -> _Stored:
    images = _read_file(folder, part["files"]["images"])
    counts = _read_file(folder, part["files"]["counts"])
    for name, table, schema, n in (
        ("images", images, _IMAGES_SCHEMA(), part["pairs"]),
        ("counts", counts, _COUNTS_SCHEMA(), part["rows"]),
    ):
        if not table.schema.remove_metadata().equals(schema):
            raise StoreCorrupt(f"{name}: unexpected columns ({', '.join(table.schema.names)})")
        if table.num_rows != n:
            raise StoreCorrupt(f"{name}: {table.num_rows} rows, {MANIFEST} says {n}")
        if any(col.null_count for col in table.columns):
            raise StoreCorrupt(f"{name}: missing values")
    columns = {}
    for name in images.schema.names:  # numbers as arrays, strings as lists: no dict per entry
        col = images.column(name)
        columns[name] = col.to_numpy() if name in ("h", "w", "start", "rows", "colour_coded") else col
    stored = _Stored(
        columns,
        counts.column("gt").to_numpy(),
        counts.column("pred").to_numpy(),
        counts.column("count").to_numpy(),
        meta,
    )
    _check_values(stored)
    return stored


def _check_values(s: _Stored) -> None:  # noqa: C901 -- one range check per stored column
    """Every value in range: contiguous row ranges covering the counts, positive counts summing to
    each entry's h x w, non-negative raw values (at most 65535 when decoded from colours), rows
    sorted and distinct within each entry."""
    rows = np.asarray(s.images["rows"], dtype=np.int64)
    starts = np.asarray(s.images["start"], dtype=np.int64)
    h = np.asarray(s.images["h"], dtype=np.int64)
    w = np.asarray(s.images["w"], dtype=np.int64)

    def fail(what: str, wrong: np.ndarray) -> None:
        if wrong.any():
            raise StoreCorrupt(f"entry {int(np.argmax(wrong))}: {what}")

    fail("image size out of range", (h < 1) | (w < 1) | (h > 1 << 31) | (w > 1 << 31) | (h * w > 1 << 40))
    fail("no count rows", rows < 1)
    expected_starts = np.concatenate([[0], np.cumsum(rows)[:-1]]) if len(rows) else rows
    fail("rows not contiguous", starts != expected_starts)
    if int(rows.sum()) != len(s.count):
        raise StoreCorrupt(f"entries cover {int(rows.sum())} count rows, the file holds {len(s.count)}")
    if len(s.count):
        if (s.count < 1).any():
            raise StoreCorrupt(
                f"count row {int(np.argmax(s.count < 1))}: count {int(s.count.min())} not positive"
            )
        if (s.count > np.repeat(h * w, rows)).any():  # (so the sums below cannot overflow)
            raise StoreCorrupt("a count larger than its image")
        if (s.gt < 0).any() or (s.pred < 0).any():
            raise StoreCorrupt("a negative raw value")
        colour = np.repeat(np.asarray(s.images["colour_coded"], dtype=bool), rows)
        if (colour & ((s.gt > MAX_ID + 1) | (s.pred > MAX_ID + 1))).any():  # (MAX_ID + 1: unknown colour)
            raise StoreCorrupt("a colour-coded value above the largest class id")
        cum = np.concatenate([[0], np.cumsum(s.count, dtype=np.int64)])
        fail("pixel total differs from its image size", cum[starts + rows] - cum[starts] != h * w)
        first = np.zeros(len(s.count), dtype=bool)
        first[starts] = True
        order = (s.gt[1:] > s.gt[:-1]) | ((s.gt[1:] == s.gt[:-1]) & (s.pred[1:] > s.pred[:-1]))
        unsorted = ~order & ~first[1:]
        if unsorted.any():
            raise StoreCorrupt(f"count row {int(np.argmax(unsorted)) + 1}: rows repeated or out of order")
    import pyarrow.compute as pc

    for name, pattern, what in (
        ("colour_key", "^([0-9a-f]{16})?$", "malformed colour key"),
        ("content", "^([0-9a-f]{32})?$", "malformed content hash"),
    ):
        if pc.all(pc.match_substring_regex(s.images[name], pattern)).as_py() not in (True, None):
            raise StoreCorrupt(what)
    for name in ("key", "warnings", "colour_key", "content"):  # checked: now plain lists
        s.images[name] = s.images[name].to_pylist()


def _entries(stored: _Stored | None, wanted: dict, ckey: str, digests: dict) -> dict:  # noqa: C901 -- one check per stored column of each entry, each a reason to recompute it
    """PairCounts of the stored entries that ``wanted`` asks for; fills ``digests`` for them.

    Stored keys are matched as the JSON text the store writes (one dict lookup per entry, no JSON
    parsing); only entries that match no wanted pair are parsed, to check they are well-formed."""
    if stored is None:
        return {}
    im = stored.images
    raw_keys = im["key"]
    by_text = {json.dumps(key): key for key in wanted}
    found: dict[tuple, int] = {}
    seen: set[str] = set()
    for i, raw in enumerate(raw_keys):
        if raw in seen:
            raise StoreCorrupt(f"entry {i}: stored twice")
        seen.add(raw)
        key = by_text.get(raw)
        if key is None:  # not asked for (or written differently): check it is a key at all
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise StoreCorrupt(f"entry {i}: malformed key") from None
            if not isinstance(parsed, list) or len(parsed) != _KEY_LENGTH:
                raise StoreCorrupt(f"entry {i}: malformed key")
            key = tuple(parsed)
            if key not in wanted:
                continue
        if key in found:
            raise StoreCorrupt(f"entry {i}: stored twice")
        found[key] = i
    h, w = im["h"].tolist(), im["w"].tolist()
    start, rows = im["start"].tolist(), im["rows"].tolist()
    colour_coded, colour_keys, content, notes = (
        im["colour_coded"].tolist(),
        im["colour_key"],
        im["content"],
        im["warnings"],
    )
    gt, pred, count = stored.gt, stored.pred, stored.count
    out = {}
    for key, i in found.items():
        if colour_coded[i] and colour_keys[i] != ckey:
            continue
        if notes[i] == "[]":
            warnings = ()
        else:
            try:
                warnings = json.loads(notes[i])
            except ValueError:
                raise StoreCorrupt(f"entry {i}: malformed warnings") from None
            if not isinstance(warnings, list) or not all(isinstance(x, str) for x in warnings):
                raise StoreCorrupt(f"entry {i}: malformed warnings")
        a, b = start[i], start[i] + rows[i]
        out[key] = PairCounts(
            wanted[key], gt[a:b], pred[a:b], count[a:b], (h[i], w[i]), tuple(warnings), colour_coded[i]
        )
        if content[i]:
            digests[key] = content[i]
    return out
