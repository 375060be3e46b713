"""Optional accelerators for the two hot steps: decoding a label PNG and counting a uint8 pair.

Both are optional (segviz works, correctly and more slowly, without them) and both release the GIL,
so the threads of :func:`segviz.evaluate.count_pairs` really run in parallel:

* ``imagecodecs`` decodes greyscale PNGs (colour type 0, 8 or 16 bit) ≈1.5× faster than Pillow.
  It is never used for palette PNGs: it would return colours, not the class indices.
* ``numba`` compiles a ``nogil`` kernel that counts (gt, pred) byte pairs into a 256×256 histogram,
  skipping runs of identical pairs (label maps are mostly uniform runs). It is compiled in the
  background (:func:`warm_up`); numpy's bincount counts until it is ready.

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

_NUMBA_WANTED = not os.environ.get("SEGVIZ_NO_NUMBA")
_compiled = None  # the numba kernel once it is compiled (see warm_up)
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def accelerators() -> dict[str, bool]:
    """Which optional accelerators are in use."""
    return {"imagecodecs": _HAVE_IMAGECODECS, "numba": _compiled is not None}


def numba_available() -> bool:
    return _NUMBA_WANTED and importlib.util.find_spec("numba") is not None


def warm_up(*, wait: bool = False) -> None:
    """Import numba and compile the counting kernel in a background thread (≈1 s, once per
    process). Until it is ready, :func:`joint_histogram_u8` uses numpy: results are identical, so
    small jobs never wait for the compiler and large ones switch over as soon as it is there."""
    global _warm_thread
    if not numba_available():
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
        data = Path(path).read_bytes()
    except OSError:
        return None
    # IHDR: signature(8) length(4) type(4) width(4) height(4) depth(1) colour type(1)
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    depth, colour_type = data[24], data[25]
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if colour_type != 0 or depth not in (8, 16) or width * height > 89_478_485:  # Pillow's bomb limit
        return None
    try:
        arr = imagecodecs.png_decode(data)
    except Exception:
        return None
    if arr.ndim != 2 or arr.shape != (height, width):
        return None
    return arr


def _compile() -> None:  # pragma: no cover - depends on the environment
    global _compiled
    try:
        import numba
    except ImportError:
        return

    @numba.njit(nogil=True, cache=True)
    def hist_u8(gt: np.ndarray, pred: np.ndarray, out: np.ndarray) -> None:
        n = gt.size
        if n == 0:
            return
        g0 = gt[0]
        p0 = pred[0]
        run = 0
        for i in range(n):
            g = gt[i]
            p = pred[i]
            if g == g0 and p == p0:
                run += 1
            else:
                out[g0, p0] += run
                g0 = g
                p0 = p
                run = 1
        out[g0, p0] += run

    probe = np.zeros(4, dtype=np.uint8)
    hist_u8(probe, probe, np.zeros((256, 256), dtype=np.int64))
    _compiled = hist_u8


def joint_histogram_u8(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(256, 256) int64 histogram of (gt, pred) pairs of two equally shaped uint8 arrays.

    Example:
        >>> h = joint_histogram_u8(np.array([[0, 0, 1]], np.uint8), np.array([[0, 1, 1]], np.uint8))
        >>> int(h[0, 0]), int(h[0, 1]), int(h[1, 1]), int(h.sum())
        (1, 1, 1, 3)
    """
    kernel = _compiled
    if kernel is not None:
        out = np.zeros((256, 256), dtype=np.int64)
        kernel(np.ascontiguousarray(gt).ravel(), np.ascontiguousarray(pred).ravel(), out)
        return out
    key = (gt.astype(np.uint16) << 8) | pred
    return np.bincount(key.ravel(), minlength=1 << 16).reshape(256, 256)
