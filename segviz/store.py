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
from segviz.counts import CountColumns, PairCounts
from segviz.dataset import Location, Pair, common_folder

try:  # POSIX; elsewhere saves are still atomic, only not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT_VERSION = 3  # 3: count columns stored in the narrowest unsigned type that holds them (issue #17)
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
        self._found: Found | None = None  # what the last load found

    def folder_for(self, pairs: Sequence[Pair]) -> Path:
        """One folder per (ground-truth folder, prediction folder): the common parents of the files."""
        if not pairs:
            return self.root / "empty"
        from segviz.dataset import PairList

        columns = PairList.of(pairs)
        gt_top, pred_top = (_column_folder(columns, c) for c in ("gt", "pred"))
        return self.root / hashlib.sha1(f"{gt_top}\0{pred_top}".encode()).hexdigest()[:20]

    # ------------------------------------------------------------------ reading
    def load(
        self, pairs: Sequence[Pair], table: ClassTable | None, *, keys: Sequence[tuple] | None = None
    ) -> dict[tuple, object]:
        """Stored counts of the pairs whose files are unchanged: {pair_key: PairCounts}.
        ``keys`` are the pairs' :func:`pair_key` when the caller has them already.

        Never raises for a damaged, unreadable or busy store: its entries are then left out (and
        recomputed by the caller), with one line in ``self.stats.warnings``. (The evaluation reads
        the store through :meth:`load_columns`, with no object per entry.)
        """
        pairs = list(pairs)
        keys = list(keys) if keys is not None else [pair_key(p) for p in pairs]
        found = self.load_columns(pairs, table, texts=[json.dumps(k) for k in keys])
        out = {}
        for i in np.flatnonzero(found.part >= 0).tolist():
            stored, j = found.parts[found.part[i]], int(found.index[i])
            a, b = int(stored.start[j]), int(stored.start[j] + stored.rows[j])
            out[keys[i]] = PairCounts(
                pairs[i],
                stored.gt[a:b],
                stored.pred[a:b],
                stored.count[a:b],
                (int(stored.h[j]), int(stored.w[j])),
                found.warnings.get(i, ()),
                bool(stored.colour_coded[j]),
            )
        return out

    def load_columns(
        self, pairs: Sequence[Pair], table: ClassTable | None, *, texts: list[str] | None = None
    ) -> Found:
        """Which pairs the store holds, and where (:class:`Found`): the pairs' files are stat'ed
        once (:func:`key_texts`, or ``texts`` when the caller has them) and matched against the
        stored keys as text, without an object per entry.

        Never raises for a damaged, unreadable or busy store: nothing is then found (and the
        caller recomputes), with one line in ``self.stats.warnings``.
        """
        folder = self.folder_for(pairs)
        self.stats = StoreStats()
        self._digests = {}
        self._busy = False
        self._read_state = None
        texts = key_texts(pairs) if texts is None else texts
        n = len(texts)
        found = Found(texts, [], np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64), {})
        try:
            with self._lock(folder, shared=True):
                stored = _read(folder) or []
                ckey = colour_key(table)
                for q, part in enumerate(stored):  # later segments replace earlier entries of the same key
                    index, notes = _match(part, texts, ckey)
                    hit = index >= 0
                    found.part[hit], found.index[hit] = q, index[hit]
                    found.warnings.update(notes)
                    self._digests.update(_contents(part, texts, index))
                found.parts = stored
                if stored:
                    self._read_state = (folder, stored[0].manifest, sum(len(p.count) for p in stored))
        except StoreBusy as exc:
            self._busy = True  # (the save after it does not wait a second time)
            return self._discard(folder, exc, found)
        except StoreCorrupt as exc:
            return self._discard(folder, exc, found)
        except Exception as exc:  # anything else while reading is damage too: never trusted
            return self._discard(folder, StoreCorrupt(f"unreadable ({type(exc).__name__}: {exc})"), found)
        if self.verify:
            self._verify(found, pairs)
        self._found = found
        return found

    def _discard(self, folder: Path, exc: Exception, found: Found) -> Found:
        reason = _one_line(str(exc))
        self.stats.rebuilt = reason
        self._digests = {}
        self.stats.warnings.append(f"results store {folder}: stored results not used ({reason}); recomputing")
        found.parts, found.warnings = [], {}
        found.part[:], found.index[:] = -1, -1
        self._found = None
        return found

    def _verify(self, found: Found, pairs: Sequence[Pair]) -> None:
        """Keep the entries whose masks still hash to the stored digest; hash every wanted pair."""
        with ThreadPoolExecutor(max_workers=2) as pool:  # (hashing releases the GIL)
            digests = list(pool.map(content_digest, pairs))
        hits = np.flatnonzero(found.part >= 0)
        changed = [
            i for i in hits.tolist() if not digests[i] or self._digests.get(found.texts[i]) != digests[i]
        ]
        found.part[changed] = -1
        self.stats.verified, self.stats.changed = len(hits), len(changed)
        if self.stats.changed:
            self.stats.warnings.append(
                f"results store: --verify found {self.stats.changed} of {len(hits)} stored entries whose "
                "masks' content differs or was never hashed; recomputing them"
            )
        self._digests = dict(zip(found.texts, digests, strict=True))

    # ------------------------------------------------------------------ writing
    def save(
        self, pairs: Sequence[Pair], counted: Iterable, table: ClassTable | None, *, keys: dict | None = None
    ) -> None:
        """Replace the stored counts of these pairs' folders with ``counted`` (atomic, locked);
        ``keys`` maps a pair to its :func:`pair_key` as computed *before* it was counted.

        Never raises: a store that cannot be written (read-only, disk full, busy) adds one line to
        ``self.stats.warnings``.
        """
        columns = CountColumns.of(counted)
        keys = keys or {}
        texts = [json.dumps(keys.get(p) or pair_key(p)) for p in columns.pairs]
        self.save_columns(pairs, columns, texts, table)

    def save_columns(
        self,
        pairs: Sequence[Pair],
        columns: CountColumns,
        texts: list[str],
        table: ClassTable | None,
        *,
        new: Sequence[int] | None = None,
    ) -> None:
        """:meth:`save` for counts held as columns, ``texts`` their keys as :func:`key_texts`
        gave them *before* they were counted; ``new``: the entries of ``columns`` the last
        :meth:`load_columns` did not find (None: every entry whose key it did not find)."""
        folder = self.folder_for(pairs)
        try:
            self._save(folder, columns, texts, table, new)
        except Exception as exc:  # the results are computed; a failed save must not lose them
            reason = _one_line(f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreBusy) else str(exc))
            self.stats.warnings.append(f"results store {folder}: results not saved ({reason})")

    def _save(
        self, folder: Path, columns: CountColumns, texts: list[str], table: ClassTable | None, new
    ) -> None:
        state = self._read_state if self._read_state and self._read_state[0] == folder else None
        if state is not None and not self.stats.rebuilt:
            if new is None:
                found = self._found
                loaded = (
                    {found.texts[i] for i in np.flatnonzero(found.part >= 0).tolist()} if found else set()
                )
                new = [i for i, t in enumerate(texts) if t not in loaded]
            new = np.asarray(new, dtype=np.int64)
            if self._append(folder, columns, texts, new, table, state):
                return
        self._write(folder, columns, texts, None, table, base=None)

    def _append(
        self, folder: Path, columns: CountColumns, texts, new: np.ndarray, table, state: tuple
    ) -> bool:
        """Add the ``new`` entries as one more segment when the store is large, the segments few
        and the manifest still the one read; False when a full rewrite is due (that is compaction)."""
        _, manifest, stored_rows = state
        segments = manifest.get("segments", [])
        new_rows = int((columns.offsets[new + 1] - columns.offsets[new]).sum()) if len(new) else 0
        if stored_rows < APPEND_MIN_ROWS:
            return False
        if not len(new):  # (pairs that failed to read, a folder that lost files: nothing to add)
            return True
        if len(segments) >= MAX_SEGMENTS or new_rows * 4 > stored_rows:  # (rewrite, dropping the stale)
            return False
        return self._write(folder, columns, texts, new, table, base=manifest)

    def _write(  # noqa: C901 -- a whole store or one segment, each file written, hashed and listed in turn
        self, folder: Path, columns: CountColumns, texts: list[str], select, table, *, base: dict | None
    ) -> bool:
        """Write the entries ``select`` (indices; None: all) of ``columns`` as the whole store
        (``base`` None) or as a segment added to the manifest ``base``; False (nothing written)
        when ``base`` is no longer the current manifest. A key given twice is written once."""
        import pyarrow as pa

        n = len(texts)
        select = np.arange(n, dtype=np.int64) if select is None else np.asarray(select, dtype=np.int64)
        chosen = [texts[i] for i in select.tolist()]
        if len(set(chosen)) != len(chosen):  # (the same pair counted twice: one entry)
            first = dict(zip(reversed(chosen), reversed(select.tolist()), strict=True))
            select = np.array(sorted(first.values()), dtype=np.int64)
            chosen = [texts[i] for i in select.tolist()]
        ckey = colour_key(table)
        starts, ends = columns.offsets[select], columns.offsets[select + 1]
        rows = ends - starts
        out_start = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64) if len(rows) else rows
        colour_coded = columns.colour_coded[select]
        content = []
        for i, text in zip(select.tolist(), chosen, strict=True):
            digest = self._digests.get(text, "")
            if not digest and self.verify:
                digest = content_digest(columns.pairs[i])
            content.append(digest)
        images = {
            "key": chosen,
            "h": columns.shapes[select, 0],
            "w": columns.shapes[select, 1],
            "warnings": [json.dumps(list(columns.warnings[i])) for i in select.tolist()],
            "colour_coded": colour_coded,
            "colour_key": np.where(colour_coded, ckey, "").tolist(),
            "start": out_start,
            "rows": rows,
            "content": content,
        }
        if len(select) == len(columns) and (select == np.arange(len(columns))).all():
            gather = slice(None)
        else:
            gather = concat_ranges(starts, rows)

        counts = {
            name: _narrow(values[gather])
            for name, values in (
                ("gt", columns.gt_values),
                ("pred", columns.pred_values),
                ("count", columns.counts),
            )
        }
        blobs = {
            "images": _parquet(pa.table(images, schema=_IMAGES_SCHEMA())),
            "counts": _parquet(pa.table(counts)),
        }
        total = int(rows.sum())
        files = {}
        for role, data in blobs.items():
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            files[role] = {"name": f"{role}-{digest}.parquet", "bytes": len(data), "blake2b": digest}
        if base is None:
            manifest = {"format": FORMAT_VERSION, "pairs": len(chosen), "rows": total, "files": files}
        else:
            segment = {"pairs": len(chosen), "rows": total, "files": files}
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


def _column_folder(columns, column: str) -> str:
    """:func:`_common_folder` of a :class:`~segviz.dataset.PairList` column; for a walked local
    folder from its absolute paths (already normal: the first and last suffice, no call per path)."""
    i = ("gt", "pred").index(column)
    if columns.urls[i] is False and columns.tops[i] is not None:
        paths = columns.absolute(column)
        return common_folder([min(paths), max(paths)])
    return _common_folder(getattr(columns, column))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _parquet(table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    # (one row group: each column is read back as one array, no copy to join chunks)
    pq.write_table(table, sink, compression="zstd", row_group_size=max(1, table.num_rows))
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
    """The count columns' names; each column's type is one of :func:`_COUNT_TYPES`."""
    import pyarrow as pa

    return pa.schema([("gt", pa.int64()), ("pred", pa.int64()), ("count", pa.int64())])


def _COUNT_TYPES():
    import pyarrow as pa

    return (pa.uint16(), pa.uint32(), pa.int64())


def _narrow(values: np.ndarray) -> np.ndarray:
    """``values`` (non-negative integers) in the narrowest of uint16, uint32 and int64 that holds
    them: the ADE-like counts take a quarter of the bytes to read and hold (issue #17).

    Example:
        >>> [_narrow(np.array(v)).dtype.name for v in ([0, 65535], [65536], [-1], [1 << 40], [])]
        ['uint16', 'uint32', 'int64', 'int64', 'uint16']
    """
    values = np.asarray(values)
    if not len(values):
        return values.astype(np.uint16)
    low, high = int(values.min()), int(values.max())
    for dtype in (np.uint16, np.uint32):
        if low >= 0 and high <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.int64)


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
    return pq.ParquetFile(
        pa.BufferReader(data)
    ).read()  # (not read_table: it imports pyarrow.dataset and pandas)


@dataclass
class _Stored:
    """Checked columns of one store folder."""

    images: dict  # numbers as numpy arrays, "key" as a list of text, other text as Arrow arrays
    gt: np.ndarray
    pred: np.ndarray
    count: np.ndarray
    manifest: dict  # the whole store's manifest
    noted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # entries with warnings
    hashed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # entries with a content hash
    parsed_notes: dict = field(default_factory=dict)  # {entry: warnings}, once checked

    def key_list(self) -> list[str]:
        """The stored keys as a list of text (made once, when the general match needs it)."""
        if "key_list" not in self.images:
            self.images["key_list"] = self.images["key"].to_pylist()
        return self.images["key_list"]

    @property
    def h(self) -> np.ndarray:
        return self.images["h"]

    @property
    def w(self) -> np.ndarray:
        return self.images["w"]

    @property
    def start(self) -> np.ndarray:
        return self.images["start"]

    @property
    def rows(self) -> np.ndarray:
        return self.images["rows"]

    @property
    def colour_coded(self) -> np.ndarray:
        return self.images["colour_coded"]


def _read(folder: Path) -> list[_Stored] | None:
    """The folder's checked contents, one :class:`_Stored` per data-file pair (base first, then
    the segments); None when nothing is stored; StoreCorrupt when it cannot be trusted."""
    meta = _read_manifest(folder)
    if meta is None:
        return None
    return [_read_part(folder, part, meta) for part in _parts(meta)]


_NUMBERS = ("h", "w", "start", "rows", "colour_coded")


def _read_part(folder: Path, part: dict, meta: dict) -> _Stored:
    import pyarrow as pa

    images = _read_file(folder, part["files"]["images"])
    counts = _read_file(folder, part["files"]["counts"])
    for name, table, schema, n in (
        ("images", images, _IMAGES_SCHEMA(), part["pairs"]),
        ("counts", counts, _COUNTS_SCHEMA(), part["rows"]),
    ):
        given = table.schema.remove_metadata()
        if name == "counts" and given.names == schema.names and all(f.type in _COUNT_TYPES() for f in given):
            given = schema  # (each count column in one of the allowed types)
        if not given.equals(schema):
            raise StoreCorrupt(f"{name}: unexpected columns ({', '.join(table.schema.names)})")
        if table.num_rows != n:
            raise StoreCorrupt(f"{name}: {table.num_rows} rows, {MANIFEST} says {n}")
        if any(col.null_count for col in table.columns):
            raise StoreCorrupt(f"{name}: missing values")
    images, counts = images.combine_chunks(), counts.combine_chunks()  # (one chunk: no copy to numpy)
    columns = {}
    for name in images.schema.names:  # numbers as arrays, text as Arrow arrays: no object per entry
        col = (
            images.column(name).chunk(0) if images.num_rows else pa.array([], images.schema.field(name).type)
        )
        columns[name] = col.to_numpy(zero_copy_only=False) if name in _NUMBERS else col

    def array(name: str) -> np.ndarray:  # (zero copy: read-only, in the stored type)
        col = counts.column(name)
        return col.chunk(0).to_numpy() if counts.num_rows else np.zeros(0, np.uint16)

    stored = _Stored(columns, array("gt"), array("pred"), array("count"), meta)
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
        if int(s.count.max()) > int((h * w).max()):
            raise StoreCorrupt("a count larger than any image")
        if any(v.dtype.kind == "i" and (v < 0).any() for v in (s.gt, s.pred)):
            raise StoreCorrupt("a negative raw value")
        coded = np.asarray(s.images["colour_coded"], dtype=bool)
        if coded.any():
            colour = np.repeat(coded, rows)
            if (colour & ((s.gt > MAX_ID + 1) | (s.pred > MAX_ID + 1))).any():  # (MAX_ID + 1: unknown colour)
                raise StoreCorrupt("a colour-coded value above the largest class id")
        # Positive counts, each at most 2**40 (the largest image) and fewer than 2**22 per entry:
        # the int64 sums cannot wrap, and a count larger than its own image makes its sum wrong.
        if int(rows.max()) < 1 << 22:
            sums = np.add.reduceat(s.count, starts, dtype=np.int64)
        else:  # (per row, checked against its own image first, so the running sum cannot wrap)
            if (s.count > np.repeat(h * w, rows)).any():
                raise StoreCorrupt("a count larger than its image")
            cum = np.concatenate([[0], np.cumsum(s.count, dtype=np.int64)])
            sums = cum[starts + rows] - cum[starts]
        fail("pixel total differs from its image size", sums != h * w)
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
    s.noted = np.flatnonzero(pc.not_equal(s.images["warnings"], "[]").to_numpy(zero_copy_only=False))
    s.hashed = np.flatnonzero(pc.not_equal(s.images["content"], "").to_numpy(zero_copy_only=False))


def _match(stored: _Stored, texts: list[str], ckey: str) -> tuple[np.ndarray, dict[int, tuple]]:  # noqa: C901 -- one check per stored column of each entry, each a reason to recompute it
    """For each wanted key text, the index of the stored entry with that key, or -1; and the
    stored warnings of the matched entries that have some ({wanted index: warnings}).

    Stored keys are matched as the JSON text the store writes (a list compare when the store holds
    the same pairs in the same order, else one dict lookup per pair, no JSON parsing); only entries
    that match no wanted pair are parsed, to check they are well-formed (and one written otherwise,
    e.g. with other spacing, still matches its pair). An entry decoded from colours under other
    colours matches nothing."""
    n = len(stored.h)
    if n == len(texts) and _same_keys(stored, texts):  # (the usual reopen: no object per entry)
        index = np.arange(n, dtype=np.int64)
        return index, _colour_and_notes(stored, index, ckey)
    raw = stored.key_list()
    by_raw = dict(zip(raw, range(n), strict=True))
    if len(by_raw) != n:
        seen: set[str] = set()
        for i, key in enumerate(raw):
            if key in seen:
                raise StoreCorrupt(f"entry {i}: stored twice")
            seen.add(key)
    if raw == texts:
        index = np.arange(n, dtype=np.int64)
    else:
        get = by_raw.get
        index = np.fromiter((get(t, -1) for t in texts), np.int64, len(texts))
        matched = np.zeros(n, dtype=bool)
        matched[index[index >= 0]] = True
        wanted = None
        for i in np.flatnonzero(~matched).tolist():  # not asked for: check it is a key at all
            try:
                parsed = json.loads(raw[i])
            except ValueError:
                raise StoreCorrupt(f"entry {i}: malformed key") from None
            if not isinstance(parsed, list) or len(parsed) != _KEY_LENGTH:
                raise StoreCorrupt(f"entry {i}: malformed key")
            canonical = json.dumps(parsed)
            if canonical == raw[i]:
                continue
            if wanted is None:
                wanted = dict(zip(texts, range(len(texts)), strict=True))
            w = wanted.get(canonical)
            if w is not None:
                if index[w] >= 0:
                    raise StoreCorrupt(f"entry {i}: stored twice")
                index[w] = i
    return index, _colour_and_notes(stored, index, ckey)


def _same_keys(stored: _Stored, texts: list[str]) -> bool:
    """Whether the stored keys are ``texts``, in order (compared as Arrow text: no object per
    entry); a key listed twice is never "the same" (the general path reports it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = pa.array(texts, pa.string())
    if not pc.all(pc.equal(stored.images["key"], wanted)).as_py():
        return False
    return pc.count_distinct(wanted).as_py() == len(texts)


def _colour_and_notes(stored: _Stored, index: np.ndarray, ckey: str) -> dict[int, tuple]:
    """Unmatch (``index`` -1) the entries decoded under other colours; the stored warnings of the
    matched entries that have some ({wanted index: warnings}), checked."""
    hit = np.flatnonzero(index >= 0)
    colour = hit[stored.colour_coded[index[hit]]]
    if len(colour):  # (decoded under other colours: not this table's counts)
        keys = stored.images["colour_key"]
        other = [w for w in colour.tolist() if keys[int(index[w])].as_py() != ckey]
        index[other] = -1
        hit = np.flatnonzero(index >= 0)
    notes: dict[int, tuple] = {}
    for j in stored.noted.tolist():  # entries with warnings (most have none: "[]")
        text = stored.images["warnings"][j].as_py()
        try:
            warnings = json.loads(text)
        except ValueError:
            raise StoreCorrupt(f"entry {j}: malformed warnings") from None
        if not isinstance(warnings, list) or not all(isinstance(x, str) for x in warnings):
            raise StoreCorrupt(f"entry {j}: malformed warnings")
        stored.parsed_notes[j] = tuple(warnings)
    if len(stored.parsed_notes):
        for w in hit.tolist():
            found = stored.parsed_notes.get(int(index[w]))
            if found:
                notes[w] = found
    return notes


def _contents(stored: _Stored, texts: list[str], index: np.ndarray) -> dict[str, str]:
    """{key text: content hash} of the matched entries stored with one."""
    if not len(stored.hashed):
        return {}
    hashed = np.zeros(len(stored.h), dtype=bool)
    hashed[stored.hashed] = True
    out = {}
    for w in np.flatnonzero(index >= 0).tolist():
        j = int(index[w])
        if hashed[j]:
            out[texts[w]] = stored.images["content"][j].as_py()
    return out


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices ``starts[i] .. starts[i] + lengths[i] - 1`` of every range, in order.

    Example:
        >>> concat_ranges(np.array([5, 0]), np.array([2, 3])).tolist()
        [5, 6, 0, 1, 2]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.repeat(np.asarray(starts, dtype=np.int64) - firsts, lengths) + np.arange(total, dtype=np.int64)


@dataclass
class Found:
    """What :meth:`ResultsStore.load_columns` found: for wanted pair i, the stored part
    ``parts[part[i]]`` holds it as entry ``index[i]`` (``part[i] == -1``: not stored).

    Attributes:
        texts: the wanted pairs' keys (:func:`key_texts`).
        parts: the checked data-file pairs read (base first, then segments).
        part, index: int64 (N,).
        warnings: {wanted index: stored warnings} for the found pairs that have some.
    """

    texts: list[str]
    parts: list
    part: np.ndarray
    index: np.ndarray
    warnings: dict[int, tuple]


#: Characters json.dumps writes as they are (printable ASCII but '"' and '\\'): a key whose texts
#: hold only these is written with one format string instead of json.dumps.
_PLAIN = re.compile(r"[^ !#-\[\]-~]")
_KEY_FORMAT = '["%s", "%s", %d, %d, "%s", %d, %d, "%s", %d, %d, "%s", "%s"]'
_TEXT_FIELDS = (0, 1, 4, 7, 10, 11)  # (the text fields of a pair_key)


def key_texts(pairs: Sequence[Pair]) -> list[str]:
    """``json.dumps(pair_key(pair))`` of every pair (what the store matches), computed column by
    column: one ``os.stat`` per file on text paths, no ``Path`` or tuple per pair (issue #17).

    Example:
        >>> import json
        >>> pair = Pair("x", __file__, __file__)
        >>> key_texts([pair]) == [json.dumps(pair_key(pair))]
        True
    """
    return shared_key_texts([pairs])[0]


def shared_key_texts(pair_lists: Sequence[Sequence[Pair]]) -> list[list[str]]:
    """:func:`key_texts` of each pair list, each file stat'ed once however many lists name it:
    several models of one dataset (:func:`segviz.dataset.open_models`) share their ground truth
    and photos, whose sizes and modification times are then taken once for all (issue #17).

    Example:
        >>> import json
        >>> one, two = Pair("x", __file__, __file__), Pair("y", __file__, "/nonexistent/p.png")
        >>> shared_key_texts([[one], [one, two]]) == [key_texts([one]), key_texts([one, two])]
        True
    """
    from segviz.dataset import PairList

    lists = [PairList.of(pairs) for pairs in pair_lists]
    sigs = {
        c: _shared_signatures([columns.absolute(c) for columns in lists]) for c in ("gt", "pred", "images")
    }
    plain: dict[int, bool] = {}  # id(column) → _plain (a column shared by several lists is read once)

    def all_plain(column: list[str]) -> bool:
        if id(column) not in plain:
            plain[id(column)] = _plain(" ".join(column))
        return plain[id(column)]

    out = []
    for i, columns in enumerate(lists):
        gt, pred, images = (sigs[c][i] for c in ("gt", "pred", "images"))
        rows = zip(
            columns.names, *gt, *pred, *images, columns.gt_encoding, columns.pred_encoding, strict=True
        )
        texts = [columns.names, gt[0], pred[0], images[0], columns.gt_encoding, columns.pred_encoding]
        if all(all_plain(t) for t in texts):
            out.append([_KEY_FORMAT % row for row in rows])
            continue
        out.append(
            [
                json.dumps(row) if any(_PLAIN.search(row[i]) for i in _TEXT_FIELDS) else _KEY_FORMAT % row
                for row in rows
            ]
        )
    return out


def _shared_signatures(columns: list[list[str]]) -> list[tuple[list[str], list[int], list[int]]]:
    """:func:`_signatures` of each column of paths, every path stat'ed once: a column equal to one
    seen before takes its signatures as they are; one that shares files with those seen before (its
    first, middle or last file is among them: a subset of the pairs) takes theirs and stats the
    others; any other column (another model's predictions) is stat'ed whole."""
    out: list[tuple[list[str], list[int], list[int]]] = []
    seen: dict[str, tuple[str, int, int]] | None = None  # path → signature (built when needed)
    for i, paths in enumerate(columns):
        same = next((out[j] for j in range(i) if columns[j] is paths or columns[j] == paths), None)
        if same is not None:
            out.append(same)
            continue
        probes = {paths[0], paths[len(paths) // 2], paths[-1]} - {""} if paths else ()
        if not any(p in columns[j] for j in range(i) for p in probes):  # (no file seen before: stat)
            out.append(_signatures(paths))
            if seen is not None:
                seen.update(zip(paths, zip(*out[-1], strict=True), strict=True))
            continue
        if seen is None:
            seen = {}
            for j, sig in enumerate(out):
                seen.update(zip(columns[j], zip(*sig, strict=True), strict=True))
        new = [p for p in dict.fromkeys(paths) if p not in seen]
        seen.update(zip(new, zip(*_signatures(new), strict=True), strict=True))
        got = [seen[p] for p in paths]
        out.append(tuple(map(list, zip(*got, strict=True))) if got else ([], [], []))
    return out


def _plain(text: str) -> bool:
    r"""Whether json.dumps writes ``text`` as it is (printable ASCII, no '"' nor '\'): the same
    answer as ``not _PLAIN.search(text)``, in a few passes of C over the text.

    Example:
        >>> [_plain(t) for t in ("a b/c.png", 'a"b', "caf\u00e9", "tab\there", "back\\slash", "del\x7f")]
        [True, False, False, False, False, False]
    """
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def file_signatures(paths: Sequence[str]) -> tuple[list[str], list[int], list[int]]:
    """:func:`file_signature` of many absolute paths or URLs at once ("": no file), as three
    columns (names, sizes, mtime_ns or a URL's version): -1, -1 for no file or a file that is gone.
    With the C extension built the files are stat'ed in C (issue #17; see :func:`_signatures`).

    Example:
        >>> file_signatures(["", "/nonexistent/x.png"])
        (['', '/nonexistent/x.png'], [-1, -1], [-1, -1])
    """
    return _signatures(paths if type(paths) is list else list(paths))


def _signatures(paths: list[str]) -> tuple[list[str], list[int], list[int]]:
    """:func:`file_signature` of each absolute path or URL ("": no file), as three columns.

    With the C extension (``segviz._count.stat_many``) the files are stat'ed in C, the GIL
    released, in two threads for long lists, each folder opened once (issue #17: ≈2.4 µs per file
    with ``os.stat`` in a Python loop, ≈1.4 µs CPU in C at 100,000 files); the paths it leaves (URLs, a NUL inside, text the file-system encoding
    cannot take) go through :func:`_signatures_python`, which is also the whole answer without the
    extension. The same sizes and ``st_mtime_ns`` either way.

    Example:
        >>> names, sizes, times = _signatures([__file__, "", "/nonexistent/x.png"])
        >>> names[1:], sizes[1:], times[1:]
        (['', '/nonexistent/x.png'], [-1, -1], [-1, -1])
        >>> (sizes[0], times[0]) == (os.stat(__file__).st_size, os.stat(__file__).st_mtime_ns)
        True
    """
    from segviz import kernels  # (imported with segviz; here to keep store.py free of kernels at import)

    stat_many = getattr(kernels.c_extension(), "stat_many", None)
    if stat_many is None or len(paths) < _STAT_MANY_MIN:
        return _signatures_python(paths)
    paths = paths if type(paths) is list else list(paths)
    size_array, time_array = np.empty(len(paths), np.int64), np.empty(len(paths), np.int64)
    threads = 2 if len(paths) >= _STAT_MANY_THREADS and (os.cpu_count() or 1) > 1 else 1
    try:
        left = stat_many(paths, size_array, time_array, threads)
    except NotImplementedError:  # (built on a system it does not know: no stat in C)
        return _signatures_python(paths)
    sizes, times = size_array.tolist(), time_array.tolist()
    if not left:
        return paths, sizes, times
    names = paths
    where = np.flatnonzero(size_array == -2).tolist()  # (the paths C left to Python)
    for i, name, size, version in zip(where, *_signatures_python([paths[i] for i in where]), strict=True):
        if name != paths[i]:  # (a URL's listed name)
            names = names if names is not paths else list(paths)
            names[i] = name
        sizes[i], times[i] = size, version
    return names, sizes, times


_STAT_MANY_MIN = 8  # (fewer paths: os.stat in Python, no arrays to make)
_STAT_MANY_THREADS = 4096  # (this many paths or more: two threads of stats)


def _signatures_python(paths: list[str]) -> tuple[list[str], list[int], list[int]]:
    """:func:`_signatures` with ``os.stat`` in Python (no C extension, and the paths it leaves)."""
    sizes, times = [], []
    names = paths
    stat = os.stat
    for i, path in enumerate(paths):
        if not path:
            sizes.append(-1)
            times.append(-1)
            continue
        if "://" in path and remote.is_url(path):
            name, size, version = remote.signature(path)
            if name != path:
                names = names if names is not paths else list(paths)
                names[i] = name
            sizes.append(size)
            times.append(version)
            continue
        try:
            st = stat(path)
        except OSError:
            sizes.append(-1)
            times.append(-1)
            continue
        sizes.append(st.st_size)
        times.append(st.st_mtime_ns)
    return names, sizes, times
