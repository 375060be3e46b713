"""Reading mask files into integer arrays, and counting pixel pairs.

A mask is read into *raw values*: the integers the file holds (L, P palette indices — never the
palette's colours —, I;16, ``.npy``), or, for an RGB colour-coded mask, the ids its colours decode to
through the class table. Counting a ground-truth/prediction pair gives a sparse *joint histogram*
``(gt_value, pred_value, count)`` that does not depend on the class table (except for RGB masks), so
changing ignore ids or the table later never needs the pixels again.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from segviz import remote
from segviz.classes import ClassTable
from segviz.errors import MaskError
from segviz.kernels import fast_decode_grey_png, fast_decode_grey_png_bytes, sparse_joint_u8

MASK_SUFFIXES = (".png", ".npy", ".bmp", ".tif", ".tiff", ".gif")
#: Raw value given to an RGB colour that is not in the class table (never a valid class id).
UNKNOWN_COLOUR = 65535


@dataclass
class MaskData:
    """A decoded mask.

    Attributes:
        values: 2-D array of non-negative integers (uint8, uint16 or int64), shape (H, W).
        unknown_colours: for RGB masks, ``{(r, g, b): pixel count}`` of colours not in the table;
            those pixels hold :data:`UNKNOWN_COLOUR`.
        colour_coded: whether the ids came from decoding colours through a class table.
    """

    values: np.ndarray
    unknown_colours: dict[tuple[int, int, int], int] = field(default_factory=dict)
    colour_coded: bool = False


def read_mask(path: str | Path, table: ClassTable | None = None) -> MaskData:
    """Read one mask file; raises :class:`MaskError` naming the file on any problem.

    ``table`` is needed only for RGB colour-coded masks. Images larger than Pillow's
    ``Image.MAX_IMAGE_PIXELS`` (decompression bombs) and JPEG data (lossy) are refused before
    their pixels are decoded.
    """
    suffix = os.path.splitext(path)[1].lower()  # plain strings first: this runs twice per pair
    data = _read_url(path) if remote.is_url(path) else None  # a URL is read once, whole
    if suffix == ".png":
        fast = fast_decode_grey_png(path) if data is None else fast_decode_grey_png_bytes(data)
        if fast is not None:
            return MaskData(fast)
    path = path if data is not None else Path(path)
    if suffix == ".npy":
        return MaskData(_read_npy(path, data))
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as im:
            _check_header(im, path)
            im.load()
            return _decode_image(im, path, table)
    except MaskError:
        raise
    except FileNotFoundError:
        raise MaskError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MaskError(f"{path}: refused, image too large ({exc})") from None
    except UnidentifiedImageError:
        raise MaskError(f"{path}: not an image file (cannot identify its format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"{path}: unreadable or truncated image ({exc})") from None


def _check_header(im: Image.Image, path: Path) -> None:
    """Refuse what the header already shows to be unusable, before any pixel is decoded.

    The pixel limit is checked here rather than by turning Pillow's DecompressionBombWarning into
    an error: ``warnings.catch_warnings`` is not thread-safe, and with parallel readers it left a
    process-wide "error" filter behind.
    """
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and im.width * im.height > limit:
        raise MaskError(
            f"{path}: refused, image too large ({im.width}x{im.height} = {im.width * im.height:,} pixels, "
            f"more than the limit of {int(limit):,}; a possible decompression bomb)"
        )
    if im.format in ("JPEG", "MPO"):
        raise MaskError(
            f"{path}: JPEG data is lossy (compression changes the class ids near every edge); "
            "expected a lossless mask: save it as PNG"
        )


def _read_url(url: str) -> bytes:
    try:
        return remote.read_bytes(url)
    except FileNotFoundError:
        raise MaskError(f"{url}: file not found") from None
    except OSError as exc:
        raise MaskError(f"{url}: cannot read ({exc})") from None


def _read_npy(path: Path | str, data: bytes | None = None) -> np.ndarray:
    """A 2-D integer array from a .npy file, or from its bytes (``data``, read from a URL)."""
    _check_npy_header(path, data)
    try:
        arr = np.load(path if data is None else io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise MaskError(f"{path}: unreadable .npy file ({exc})") from None
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise MaskError(f"{path}: a mask must be a 2-D array (got shape {arr.shape})")
    return _as_raw_values(arr, path)


#: Largest raw value a mask may hold (uint32). Larger values cannot be class ids: a sample holding
#: one is skipped, naming the file and the value.
MAX_RAW_VALUE = 2**32 - 1


def _as_raw_values(arr: np.ndarray, path: Path | str) -> np.ndarray:
    """A 2-D array as raw values, read exactly: bool as uint8, uint8/uint16 as they are, other
    integers (uint64 included: compared in their own type, never wrapped into int64) as int64.

    Raises :class:`MaskError` naming the file for anything that cannot be an id: floats (with or
    without fractions, NaN), negative values, values above :data:`MAX_RAW_VALUE`.

    Example:
        >>> _as_raw_values(np.array([[2**63]], np.uint64), "m.npy")
        Traceback (most recent call last):
        segviz.errors.MaskError: m.npy: value 9,223,372,036,854,775,808 (dtype uint64, at (0, 0)) cannot be a class id; mask values must be integers in 0..4,294,967,295
    """
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if arr.dtype.kind not in "ui":
        raise MaskError(
            f"{path}: a mask must hold integers (got dtype {arr.dtype}); class ids are whole numbers, "
            "e.g. np.save(path, mask.astype(np.uint8))"
        )
    if arr.dtype in (np.uint8, np.uint16):
        return arr
    if not arr.size:
        return arr.astype(np.int64)
    low, high = arr.min(), arr.max()  # in the array's own dtype: exact for uint64
    if low < 0:
        raise MaskError(
            f"{path}: negative values ({_number(low)}) are not class ids; "
            "use a non-negative ignore id such as 255"
        )
    if high > MAX_RAW_VALUE:
        at = _where(arr == high)
        raise MaskError(
            f"{path}: value {_number(high)} (dtype {arr.dtype}, at {at}) cannot be "
            f"a class id; mask values must be integers in 0..{MAX_RAW_VALUE:,}"
        )
    return arr.astype(np.int64)


def _where(hit: np.ndarray) -> tuple[int, ...]:
    """(row, column) of the first True pixel."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(hit)), hit.shape))


def _number(value) -> str:
    """An integer array scalar, exactly, with thousands separators."""
    return f"{int(value):,}"


def _check_npy_header(path: Path | str, data: bytes | None = None) -> None:
    """Refuse pickled object arrays and headers that claim more data than the file holds (numpy
    would allocate the claimed size before noticing)."""
    try:
        with open(path, "rb") if data is None else io.BytesIO(data) as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f)
            size = os.fstat(f.fileno()).st_size if data is None else len(data)
            data_bytes = size - f.tell()
    except FileNotFoundError:
        raise MaskError(f"{path}: file not found") from None
    except (OSError, ValueError, SyntaxError, TypeError) as exc:
        raise MaskError(f"{path}: unreadable .npy file ({exc})") from None
    if dtype.hasobject:
        raise MaskError(
            f"{path}: holds Python objects (a pickled object array), refused; "
            "expected a 2-D integer array (np.save(path, mask.astype(np.uint8)))"
        )
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed > data_bytes:
        raise MaskError(
            f"{path}: truncated .npy file (its header claims shape {tuple(shape)} of {dtype}, "
            f"{claimed:,} bytes, but the file holds {data_bytes:,})"
        )


def _decode_image(im: Image.Image, path: Path, table: ClassTable | None) -> MaskData:
    mode = im.mode
    if mode in ("L", "P"):
        return MaskData(np.asarray(im))  # for P this gives the palette indices
    if mode == "1":
        return MaskData(np.asarray(im).astype(np.uint8))
    if mode.startswith("I;16"):
        return MaskData(np.asarray(im).astype(np.uint16))
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and arr.min() < 0:
            raise MaskError(f"{path}: negative values ({int(arr.min())}) are not class ids")
        return MaskData(arr.astype(np.int64))
    if mode == "RGBA":
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            raise MaskError(
                f"{path}: RGBA mask with transparent pixels; save masks as single-channel "
                "class ids (L/P PNG) or opaque RGB colours"
            )
        im = im.convert("RGB")
        mode = "RGB"
    if mode == "RGB":
        if table is None:
            raise MaskError(f"{path}: RGB colour-coded mask needs a class table with colours")
        return decode_colours(np.asarray(im), table)
    raise MaskError(
        f"{path}: unsupported image mode {mode!r}; expected L, P, I;16 or RGB "
        "(single-channel class ids or class colours)"
    )


def decode_colours(rgb: np.ndarray, table: ClassTable) -> MaskData:
    """Map an (H, W, 3) uint8 colour-coded mask to ids through the table's colours.

    Example:
        >>> t = ClassTable.from_rows([(0, "a", (0, 0, 0), False), (7, "b", (255, 0, 0), False)])
        >>> m = decode_colours(np.array([[[255, 0, 0], [0, 0, 0], [1, 2, 3]]], np.uint8), t)
        >>> m.values.tolist(), m.unknown_colours
        ([[7, 0, 65535]], {(1, 2, 3): 1})
    """
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    colours, inverse, counts = np.unique(packed.ravel(), return_inverse=True, return_counts=True)
    codes, ids = table.colour_codes()
    pos = np.clip(np.searchsorted(codes, colours), 0, max(len(codes) - 1, 0))
    found = (codes[pos] == colours) if len(codes) else np.zeros(len(colours), bool)
    mapped = np.where(found, ids[pos] if len(codes) else 0, UNKNOWN_COLOUR).astype(np.uint16)
    unknown = {
        ((int(c) >> 16) & 255, (int(c) >> 8) & 255, int(c) & 255): int(n)
        for c, n in zip(colours[~found], counts[~found], strict=True)
    }
    return MaskData(mapped[inverse].reshape(packed.shape), unknown, colour_coded=True)


def joint_counts(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse joint histogram of two equally shaped integer arrays.

    Returns int64 arrays ``(gt_values, pred_values, counts)`` of the pairs that occur, sorted by
    ``(gt_value, pred_value)``.

    Example:
        >>> g = np.array([[0, 0, 1]], np.uint8); p = np.array([[0, 1, 1]], np.uint8)
        >>> [a.tolist() for a in joint_counts(g, p)]
        [[0, 0, 1], [0, 1, 1], [1, 1, 1]]
    """
    if gt.shape != pred.shape:
        raise ValueError(f"shapes differ: {gt.shape} vs {pred.shape}")
    if gt.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    if gt.dtype == np.uint8 and pred.dtype == np.uint8:
        # Mask-free kernel over the 256x256 byte pairs (C or numba, releasing the GIL; else numpy).
        keys, counts = sparse_joint_u8(gt, pred)
        return keys >> 8, keys & 255, counts
    gmax, pmax = int(gt.max()), int(pred.max())
    # A dense histogram only while it is no larger than the image (or 64 K cells): memory follows
    # the image size, never the size of a value.
    if (gmax + 1) * (pmax + 1) <= max(1 << 16, gt.size):
        key = gt.astype(np.int64) * (pmax + 1) + pred
        hist = np.bincount(key.ravel(), minlength=(gmax + 1) * (pmax + 1))
        nz = np.flatnonzero(hist)
        return nz // (pmax + 1), nz % (pmax + 1), hist[nz]
    # Wide value range: compress each side to its distinct values, then count the distinct pairs
    # (sorting the pixels; never a table of len(gu) x len(pu) cells).
    gu, gi = np.unique(gt.ravel(), return_inverse=True)
    pu, pi = np.unique(pred.ravel(), return_inverse=True)
    pairs, counts = np.unique(gi.astype(np.int64).ravel() * len(pu) + pi.ravel(), return_counts=True)
    return (
        gu[pairs // len(pu)].astype(np.int64),
        pu[pairs % len(pu)].astype(np.int64),
        counts.astype(np.int64),
    )


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of an image from its header, or None if it cannot be read."""
    try:
        if remote.is_url(path):
            with remote.open_file(path) as f, Image.open(f) as im:  # reads the header only
                return im.size
        with Image.open(path) as im:
            return im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
