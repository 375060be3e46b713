"""Optional accelerators for the two hot steps: decoding a label PNG and counting a uint8 pair.

Both are optional (segviz works, correctly and more slowly, without them) and both release the GIL,
so the threads of :func:`segviz.evaluate.count_pairs` really run in parallel:

* ``imagecodecs`` decodes greyscale PNGs (colour type 0, 8 or 16 bit) ≈1.5× faster than Pillow.
  An 8-bit palette PNG is handed to it relabelled as greyscale (IHDR colour type 3 → 0, PLTE
  dropped), so it returns the stored palette indices, never the colours.
* The counting kernel counts (gt, pred) byte pairs sparsely (the sorted distinct keys
  ``gt*256+pred`` and their counts), skipping runs of identical pairs eight bytes at a time (label
  maps are mostly uniform runs). It is the C extension ``segviz._count`` when ``pip install`` could
  compile it (setup.py; nothing to wait for), else a ``nogil`` numba kernel compiled in the
  background (:func:`warm_up`, ≈1 s per process), else numpy over the runs. The environment
  variables ``SEGVIZ_NO_CKERNEL``, ``SEGVIZ_NO_NUMBA`` and ``SEGVIZ_NO_IMAGECODECS`` turn each one
  off (the tests check that the numbers stay identical).

Parallelism is across images only, never inside a kernel (intra-kernel threading collapsed 7–26×
on a shared 2-core machine).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import numpy as np

try:  # pragma: no cover - depends on the environment
    import imagecodecs

    _HAVE_IMAGECODECS = not os.environ.get("SEGVIZ_NO_IMAGECODECS")
except ImportError:  # pragma: no cover
    imagecodecs = None
    _HAVE_IMAGECODECS = False

try:  # pragma: no cover - built by `pip install` when a C compiler is there (setup.py)
    from segviz import _count as _ckernel

    if os.environ.get("SEGVIZ_NO_CKERNEL"):
        _ckernel = None
except ImportError:  # pragma: no cover
    _ckernel = None

_NUMBA_WANTED = not os.environ.get("SEGVIZ_NO_NUMBA")
_compiled = None  # the numba kernel once it is compiled (see warm_up)
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def c_extension():
    """The compiled C kernel module ``segviz._count``, or None (not built, or ``SEGVIZ_NO_CKERNEL``
    set); callers check ``hasattr`` for functions a module built from an older ``_count.c`` lacks.

    Example:
        >>> c_extension() is None or hasattr(c_extension(), "sparse_u8")
        True
    """
    return _ckernel


def accelerators() -> dict[str, bool]:
    """Which optional accelerators are in use."""
    return {
        "c_kernel": _ckernel is not None,
        "imagecodecs": _HAVE_IMAGECODECS,
        "numba": _compiled is not None,
    }


def numba_available() -> bool:
    return _NUMBA_WANTED and importlib.util.find_spec("numba") is not None


def warm_up(*, wait: bool = False) -> None:
    """Import numba and compile the counting kernel in a background thread (≈1 s, once per
    process). Until it is ready, :func:`joint_histogram_u8` uses numpy: results are identical, so
    small jobs never wait for the compiler and large ones switch over as soon as it is there."""
    global _warm_thread
    if _ckernel is not None or not numba_available():
        return
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_compile, name="segviz-numba", daemon=True)
            _warm_thread.start()
    if wait:
        _warm_thread.join()


def fast_decode_grey_png(path: str | Path) -> np.ndarray | None:
    """Decode a greyscale PNG with imagecodecs, or None when this path does not apply (not a PNG,
    not greyscale, imagecodecs missing, or any decoding problem: Pillow then reads it and reports)."""
    if not _HAVE_IMAGECODECS:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return fast_decode_grey_png_bytes(data)


def fast_decode_grey_png_bytes(data: bytes) -> np.ndarray | None:
    """:func:`fast_decode_grey_png` of a file's bytes (e.g. read from a URL)."""
    if not _HAVE_IMAGECODECS:
        return None
    # IHDR: signature(8) length(4) type(4) width(4) height(4) depth(1) colour type(1)
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    depth, colour_type = data[24], data[25]
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if colour_type == 3 and depth == 8:
        # 8-bit palette PNG: the stored bytes are the indices; present it as greyscale so the
        # decoder returns them instead of expanding the palette to colours
        data = _palette_as_grey(data)
        if data is None:
            return None
        colour_type = 0
    if colour_type != 0 or depth not in (8, 16) or width * height > 89_478_485:  # Pillow's bomb limit
        return None
    try:
        arr = imagecodecs.png_decode(data)
    except Exception:
        return None
    if arr.ndim != 2 or arr.shape != (height, width):
        return None
    return arr


def _palette_as_grey(data: bytes) -> bytes | None:
    """The same PNG with colour type 0 instead of 3 (IHDR CRC recomputed), PLTE/tRNS dropped."""
    import struct
    import zlib

    ihdr = bytearray(data[16:29])
    ihdr[9] = 0
    out = [data[:8], data[8:16], bytes(ihdr), struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))]
    pos = 33
    while pos + 12 <= len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind not in (b"PLTE", b"tRNS"):
            out.append(data[pos : pos + 12 + n])
        pos += 12 + n
        if kind == b"IEND":
            return b"".join(out)
    return None


def _compile() -> None:  # pragma: no cover - depends on the environment
    global _compiled
    try:
        import numba
    except ImportError:
        return

    @numba.njit(nogil=True, cache=True)
    def sparse_u8(gt, pred, gw, pw, hist, keys):
        """Sparse joint histogram of two uint8 arrays (1-D, same length). gw/pw: the same bytes
        viewed as uint64 words (len(gt) // 8 of them). hist: int64 scratch of 65536 zeros (left
        zeroed on return); keys: int64 scratch of 65536. Returns (sorted keys g*256+p, counts)."""
        n = gt.size
        nk = 0
        if n == 0:
            return keys[:0].copy(), hist[:0].copy()
        splat = np.uint64(0x0101010101010101)
        key = np.int64(gt[0]) * 256 + np.int64(pred[0])
        run = np.int64(0)
        i = 0
        while i < n:  # i stays a multiple of 8 until the tail (same loop as segviz/_count.c)
            w = i >> 3
            if w < gw.size and gw[w] == np.uint64(key >> 8) * splat and pw[w] == np.uint64(key & 255) * splat:
                run += 8
                i += 8
                continue
            for t in range(i, min(i + 8, n)):
                k = np.int64(gt[t]) * 256 + np.int64(pred[t])
                if k == key:
                    run += 1
                else:
                    if hist[key] == 0:
                        keys[nk] = key
                        nk += 1
                    hist[key] += run
                    key = k
                    run = 1
            i += 8
        if hist[key] == 0:
            keys[nk] = key
            nk += 1
        hist[key] += run
        ks = np.sort(keys[:nk])
        counts = np.empty(nk, np.int64)
        for i in range(nk):
            counts[i] = hist[ks[i]]
            hist[ks[i]] = 0
        return ks, counts

    probe = np.zeros(16, dtype=np.uint8)
    sparse_u8(
        probe,
        probe,
        probe.view(np.uint64),
        probe.view(np.uint64),
        np.zeros(65536, np.int64),
        np.zeros(65536, np.int64),
    )
    _compiled = sparse_u8


_scratch = threading.local()


def _buffers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's scratch: a zeroed int64[65536] histogram, and room for keys and counts."""
    bufs = getattr(_scratch, "bufs", None)
    if bufs is None:
        bufs = _scratch.bufs = tuple(np.zeros(1 << 16, np.int64) for _ in range(3))
    return bufs


def sparse_joint_u8(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``gt*256 + pred`` values of two equally shaped uint8 arrays, sorted, and how
    many pixels have each: with the C kernel, else the numba kernel once compiled, else numpy.

    Example:
        >>> keys, counts = sparse_joint_u8(np.array([0, 0, 1], np.uint8), np.array([0, 1, 1], np.uint8))
        >>> keys.tolist(), counts.tolist()
        ([0, 1, 257], [1, 1, 1])
    """
    g = np.ascontiguousarray(gt).reshape(-1)
    p = np.ascontiguousarray(pred).reshape(-1)
    if g.size != p.size:
        raise ValueError(f"sizes differ: {g.size} vs {p.size}")
    if _ckernel is not None:
        hist, keys, counts = _buffers()
        n = _ckernel.sparse_u8(g, p, hist, keys, counts)
        return keys[:n].copy(), counts[:n].copy()
    if _compiled is not None:
        return _sparse_numba(g, p)
    return _sparse_numpy(g, p)


def _sparse_numba(g: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numba kernel (compiled: see :func:`warm_up`) on two flat contiguous uint8 arrays."""
    hist, keys, _ = _buffers()
    m = (g.size // 8) * 8
    return _compiled(g, p, g[:m].view(np.uint64), p[:m].view(np.uint64), hist, keys)


def _sparse_numpy(g: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy only: one entry per run of identical (gt, pred) pairs, then a histogram of the runs
    (≈3× faster than a bincount over every pixel on label maps)."""
    if g.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = (g.astype(np.uint16) << 8) | p
    starts = np.flatnonzero(key[1:] != key[:-1]) + 1
    starts = np.concatenate(([0], starts))
    lengths = np.diff(starts, append=key.size)
    hist = np.bincount(key[starts], weights=lengths, minlength=1 << 16)
    keys = np.flatnonzero(hist)
    return keys, np.rint(hist[keys]).astype(np.int64)


def direct_png_available() -> bool:
    """Whether :func:`decode_grey_png_direct` can run (imagecodecs' libdeflate and the C kernel's
    ``unfilter_png``; an extension built from an older ``_count.c`` lacks it).

    Example:
        >>> direct_png_available() in (True, False)
        True
    """
    return _HAVE_IMAGECODECS and _ckernel is not None and hasattr(_ckernel, "unfilter_png")


def decode_grey_png_direct(data: bytes) -> np.ndarray | None:
    """Decode a non-interlaced 8- or 16-bit greyscale PNG (colour type 0) from its bytes: the IDAT
    stream inflated by libdeflate (imagecodecs, zlib checksum verified), the row filters undone by
    the C kernel, both releasing the GIL. ≈2× faster than libpng on photo-like 8-bit maps (Paeth rows),
    as a confidence map is. Returns None when this path does not apply or anything is off (a chunk
    CRC, the inflated size, a filter byte, a missing accelerator): the caller then decodes the file
    the usual way, which reports the problem.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO(); Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(buf, "PNG")
        >>> out = decode_grey_png_direct(buf.getvalue())
        >>> out is None or out.tolist() == np.arange(12).reshape(3, 4).tolist()
        True
    """
    import zlib

    if not direct_png_available():
        return None
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour_type, compression, filtering, interlace = data[24:29]
    if colour_type != 0 or depth not in (8, 16) or compression or filtering or interlace:
        return None
    if width * height > 89_478_485 or width == 0 or height == 0:  # Pillow's bomb limit
        return None
    if zlib.crc32(data[12:29]) != int.from_bytes(data[29:33], "big"):
        return None  # a damaged header
    bpp = depth // 8
    parts = []
    pos = 8
    while pos + 12 <= len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + n
        if end > len(data):
            return None  # truncated
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            if zlib.crc32(data[pos + 4 : pos + 8 + n]) != int.from_bytes(data[pos + 8 + n : end], "big"):
                return None
            parts.append(data[pos + 8 : pos + 8 + n])
        elif kind == b"IEND":
            break
        pos = end
    else:
        return None  # no IEND
    size = height * (width * bpp + 1)
    try:
        raw = imagecodecs.deflate_decode(b"".join(parts), out=size)
    except Exception:
        return None
    if len(raw) != size:
        return None
    out = np.empty((height, width * bpp), dtype=np.uint8)
    if _ckernel.unfilter_png(raw, out, width, height, bpp) != 0:
        return None
    if bpp == 2:
        return out.view(">u2").astype(np.uint16)
    return out


def level_pair_counts(
    level: np.ndarray, gt: np.ndarray, pred: np.ndarray, code: np.ndarray, ncodes: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Count (level, pair code) over the pixels of three equally shaped uint8 arrays: the
    distinct ``level*256 + code[gt*256 + pred]`` values, sorted, and how many pixels have each.
    ``code``: uint8 (65536,), a byte below ``ncodes`` for each (gt, pred) pair that occurs. One
    dense pass in the C kernel when it has ``level_pairs_u8`` (a confidence map has no runs to
    skip), else the code map and :func:`sparse_joint_u8`; identical results.

    Example:
        >>> code = np.zeros(1 << 16, np.uint8); code[1] = 1
        >>> g = np.zeros(3, np.uint8); p = np.array([1, 1, 0], np.uint8)
        >>> keys, counts = level_pair_counts(np.array([9, 9, 1], np.uint8), g, p, code, 2)
        >>> keys.tolist(), counts.tolist()
        ([256, 2305], [1, 2])
    """
    a, g, p = (np.ascontiguousarray(x).reshape(-1) for x in (level, gt, pred))
    if not a.size == g.size == p.size:
        raise ValueError(f"sizes differ: {a.size}, {g.size}, {p.size}")
    if _ckernel is None or not hasattr(_ckernel, "level_pairs_u8"):
        return sparse_joint_u8(a, code[(g.astype(np.uint16) << 8) | p])
    hist, keys, counts = _buffers()
    n = _ckernel.level_pairs_u8(
        a, g, p, np.ascontiguousarray(code, dtype=np.uint8), int(ncodes), hist, keys, counts
    )
    return keys[:n].copy(), counts[:n].copy()


def joint_histogram_u8(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(256, 256) int64 histogram of (gt, pred) pairs of two equally shaped uint8 arrays.

    Example:
        >>> h = joint_histogram_u8(np.array([[0, 0, 1]], np.uint8), np.array([[0, 1, 1]], np.uint8))
        >>> int(h[0, 0]), int(h[0, 1]), int(h[1, 1]), int(h.sum())
        (1, 1, 1, 3)
    """
    keys, counts = sparse_joint_u8(gt, pred)
    out = np.zeros(1 << 16, dtype=np.int64)
    out[keys] = counts
    return out.reshape(256, 256)
