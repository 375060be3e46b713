"""Drawing masks: class colours over the photo, label boundaries, and error maps.

One image on screen, step by step (``st.image`` re-encodes anything wider than 1460 px, so draw at the
display size and hand it JPEG bytes):

1. raw mask values → :func:`class_indices` (``0..K-1`` classes, then ignore / unknown / invalid),
2. :func:`fit_width` for the display size, :func:`resize_labels` for the indices (nearest neighbour)
   and Pillow for the photo,
3. :func:`overlay` or :func:`error_map` → (H, W, 3) uint8,
4. :func:`to_jpeg` to display it, :func:`to_png` for a lossless download.

Colour lookups go through Pillow palette images (≈1 ms for 2 Mpx, against ≈20 ms for numpy fancy
indexing) and blending through ``Image.composite``; nothing here imports streamlit.

**Blending and rounding.** ``alpha`` becomes an integer weight ``w = floor(alpha * 255 + 1/2)``
(round half up) and every blended channel is ``round((colour * w + photo * (255 - w)) / 255)``, computed
exactly in integers (Pillow's composite). 255 is odd, so the quotient is never exactly halfway: there
are no ties to break. ``alpha=0`` gives the photo and ``alpha=1`` the colour, bit for bit; ``alpha=0.5``
gives ``w=128``, so colour 255 over photo 0 is 128 and colour 0 over photo 255 is 127.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
from PIL import Image

from segviz.classes import ClassTable, Encoding

Style = Literal["fill", "boundary", "both"]

ERROR_COLOURS: dict[str, tuple[int, int, int]] = {
    "correct": (46, 160, 67),
    "wrong": (214, 39, 40),
    "ignored": (127, 127, 127),
    "highlight": (255, 221, 0),
}

_BACKGROUND = (128, 128, 128)  # shown where there is no photo
_DIM_PERCENT = 35  # brightness of the pixels outside a highlighted confusion
_DIM_LUT = [(v * _DIM_PERCENT + 50) // 100 for v in range(256)]  # round half up
_DIM_GREY = tuple(_DIM_LUT[c] for c in _BACKGROUND)  # (45, 45, 45): the dimmed background

# error_map pixel categories, and their colours in that order
_CORRECT, _WRONG, _IGNORED, _HIGHLIGHT, _DIMMED = range(5)
_CATEGORY_COLOURS = np.array(
    [
        ERROR_COLOURS["correct"],
        ERROR_COLOURS["wrong"],
        ERROR_COLOURS["ignored"],
        ERROR_COLOURS["highlight"],
        _DIM_GREY,
    ],
    dtype=np.uint8,
)


# --------------------------------------------------------------------- raw values → class indices
def class_indices(
    values: np.ndarray,
    table: ClassTable,
    *,
    kind: Literal["gt", "pred"],
    encoding: Encoding = "ids",
) -> np.ndarray:
    """Class index of every pixel of a mask, through ``table.gt_lut`` / ``table.pred_lut``.

    Args:
        values: raw mask values (H, W), non-negative integers of any width (as from ``read_mask``).
        table: the class table (K classes).
        kind: ``"gt"``: ``0..K-1`` a class, ``K`` an ignore id, ``K+1`` a value not in the table;
            ``"pred"``: ``0..K-1`` a class, ``K`` anything else (an invalid prediction, void included).
        encoding: ``"ids"`` for class ids, ``"label_ids"`` for source ids (Cityscapes labelIds).

    Returns:
        (H, W) int16 array (int32 when K+2 does not fit int16).

    Example:
        >>> t = ClassTable.from_rows([(0, "a", (1, 1, 1), False), (1, "b", (2, 2, 2), False),
        ...                           (255, "void", (0, 0, 0), True)])
        >>> v = np.array([[0, 1, 255, 7]], np.uint8)
        >>> class_indices(v, t, kind="gt").tolist(), class_indices(v, t, kind="pred").tolist()
        ([[0, 1, 2, 3]], [[0, 1, 2, 2]])
    """
    if kind not in ("gt", "pred"):
        raise ValueError(f"kind must be 'gt' or 'pred' (got {kind!r})")
    if encoding not in get_args(Encoding):
        raise ValueError(f"encoding must be 'ids' or 'label_ids' (got {encoding!r})")
    values = _check_raw_values(values)
    k = table.num_classes
    lookup = table.gt_indices if kind == "gt" else table.pred_indices
    largest = int(values.max()) if values.size else 0
    if largest < _LUT_LIMIT:  # a small lookup table, then one take per pixel (the fast path)
        lut = lookup(np.arange(largest + 1), encoding=encoding).astype(_index_dtype(k))
        return np.take(lut, values)
    # Large raw values (int64 .npy masks): look up the distinct values only; nothing is sized by
    # a value.
    distinct, inverse = np.unique(values, return_inverse=True)
    return lookup(distinct, encoding=encoding).astype(_index_dtype(k))[inverse.reshape(values.shape)]


#: Largest mask value + 1 for which :func:`class_indices` builds a dense lookup table (512 KB).
_LUT_LIMIT = 1 << 16


def index_palette(table: ClassTable) -> np.ndarray:
    """Colour of every class index: uint8 (K+2, 3).

    Rows ``0..K-1`` are the class colours, row ``K`` the ignore colour (the table's first ignore
    colour, black if it has none; also used for an invalid prediction), row ``K+1`` (unknown) black.

    Example:
        >>> t = ClassTable.from_rows([(0, "a", (9, 8, 7), False), (255, "void", (224, 224, 192), True)])
        >>> index_palette(t).tolist()
        [[9, 8, 7], [224, 224, 192], [0, 0, 0]]
    """
    k = table.num_classes
    palette = np.zeros((k + 2, 3), dtype=np.uint8)
    palette[:k] = table.colors
    if table.ignore_colors:
        palette[k] = table.ignore_colors[0]
    return palette


# --------------------------------------------------------------------- drawing labels
def colorize(indices: np.ndarray, table: ClassTable, *, visible: Sequence[int] | None = None) -> np.ndarray:
    """Colour image of class indices: (H, W) int → (H, W, 3) uint8, via :func:`index_palette`.

    ``visible`` lists the class indices to draw (``None``: all of ``0..K+1``); the other pixels are
    black. To let a photo show through hidden classes use :func:`overlay`, which masks them instead.
    Uses a Pillow palette image when K+2 <= 256, numpy ``take`` otherwise (same result).

    Example:
        >>> t = ClassTable.from_rows([(0, "a", (9, 8, 7), False), (1, "b", (1, 2, 3), False)])
        >>> colorize(np.array([[0, 1]]), t).tolist()
        [[[9, 8, 7], [1, 2, 3]]]
        >>> colorize(np.array([[0, 1]]), t, visible=[1]).tolist()
        [[[0, 0, 0], [1, 2, 3]]]
    """
    palette = index_palette(table)
    indices = _check_indices(indices, len(palette), "indices")
    if visible is not None:
        shown = _visible_lut(visible, table.num_classes)
        palette = np.where(shown[:, None], palette, 0).astype(np.uint8)
    return np.array(_lookup_image(indices, palette))


def boundaries(indices: np.ndarray) -> np.ndarray:
    """Label edges: (H, W) int → (H, W) bool.

    True where a pixel differs from one of its 4 neighbours, so each edge between two labels is
    marked on both sides (a line 2 px wide, 1 px inside each region). The image border is no edge.

    Example:
        >>> boundaries(np.array([[0, 0, 1, 1]])).astype(int).tolist()
        [[0, 1, 1, 0]]
    """
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(f"indices must be a 2-D label array (got shape {indices.shape})")
    edge = np.zeros(indices.shape, dtype=bool)
    across = indices[:, 1:] != indices[:, :-1]
    edge[:, :-1] |= across
    edge[:, 1:] |= across
    down = indices[1:] != indices[:-1]
    edge[:-1] |= down
    edge[1:] |= down
    return edge


def overlay(
    photo: np.ndarray | None,
    indices: np.ndarray,
    table: ClassTable,
    *,
    alpha: float = 0.5,
    style: Style = "fill",
    visible: Sequence[int] | None = None,
) -> np.ndarray:
    """Class colours drawn over the photo: (H, W, 3) uint8.

    Args:
        photo: RGB uint8 (H, W, 3), or ``None`` for a neutral grey (128, 128, 128) background.
        indices: class indices (H, W) from :func:`class_indices` (``0..K+1``).
        table: the class table the indices refer to.
        alpha: opacity of the fill, 0 (photo only) to 1 (colour only); see the module docstring for
            the exact rounding.
        style: ``"fill"`` blends the class colour with ``alpha``; ``"boundary"`` draws only the
            :func:`boundaries` pixels, opaque; ``"both"`` does the fill plus opaque boundaries.
        visible: class indices to draw (``None``: the K classes). Other pixels — hidden classes, and
            ignore (K) / unknown (K+1) unless listed — show the photo unchanged.

    Example:
        >>> t = ClassTable.from_rows([(0, "a", (255, 0, 0), False), (1, "b", (0, 0, 255), False)])
        >>> photo = np.zeros((1, 2, 3), np.uint8)
        >>> overlay(photo, np.array([[0, 1]]), t, alpha=0.5, visible=[0]).tolist()
        [[[128, 0, 0], [0, 0, 0]]]
    """
    indices = _check_indices(indices, table.num_classes + 2, "indices")
    weight = _alpha_weight(alpha)
    if style not in get_args(Style):
        raise ValueError(f"style must be one of {', '.join(map(repr, get_args(Style)))} (got {style!r})")
    background = _photo_image(photo, indices.shape)
    shown = _visible_lut(visible, table.num_classes)
    colours = _lookup_image(indices, index_palette(table))
    mask = _overlay_mask(indices, shown, weight, style)
    return np.array(Image.composite(colours, background, mask))


def _overlay_mask(indices: np.ndarray, shown: np.ndarray, weight: int, style: Style) -> Image.Image:
    """L image of colour weights (0 = photo, 255 = colour) for :func:`overlay`."""
    fill = _lookup_image(indices, (shown * weight).astype(np.uint8))
    if style == "fill":
        return fill
    opaque = np.asarray(_lookup_image(indices, (shown * 255).astype(np.uint8)))
    inside = np.asarray(fill) if style == "both" else np.zeros_like(opaque)
    return Image.fromarray(np.where(boundaries(indices), opaque, inside).astype(np.uint8))


# --------------------------------------------------------------------- error maps
def error_map(
    gt: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    *,
    highlight: tuple[int, int] | None = None,
    photo: np.ndarray | None = None,
    alpha: float = 0.6,
) -> np.ndarray:
    """Where the prediction is right and wrong: (H, W, 3) uint8 in :data:`ERROR_COLOURS`.

    Args:
        gt: ground-truth class indices (H, W) from :func:`class_indices` — ``K`` (ignore) and ``K+1``
            (unknown) are shown as ignored.
        pred: predicted class indices (H, W) — ``K`` (invalid) is wrong.
        num_classes: K.
        highlight: a confusion-matrix cell ``(a, b)`` (``0 <= a < K``, ``0 <= b <= K``): only pixels with
            ``gt == a`` and ``pred == b`` are coloured (highlight colour); every other non-ignored pixel
            is dimmed — the photo at 35 % brightness, or dark grey (45, 45, 45) without a photo.
        photo: RGB uint8 (H, W, 3) to draw on. Without it the colours are opaque; with it they are
            blended over it with ``alpha`` (rounding as in the module docstring) and ignored pixels
            show the photo in greyscale (Pillow's ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B).
        alpha: opacity of the colours over the photo, in [0, 1].

    Example:
        >>> error_map(np.array([[0, 1, 2]]), np.array([[0, 0, 0]]), 2).tolist()
        [[[46, 160, 67], [214, 39, 40], [127, 127, 127]]]
    """
    k = _check_num_classes(num_classes)
    gt = _check_indices(gt, k + 2, "gt")
    pred = _check_indices(pred, k + 1, "pred")
    if pred.shape != gt.shape:
        raise ValueError(f"pred must have the same shape as gt {gt.shape} (got {pred.shape})")
    weight = _alpha_weight(alpha)
    category = _error_categories(gt, pred, k, highlight)
    colours = _lookup_image(category, _CATEGORY_COLOURS)
    if photo is None:
        return np.array(colours)
    background = _error_background(_photo_image(photo, gt.shape), category)
    mask = _lookup_image(category, np.array([weight, weight, 0, weight, 0], dtype=np.uint8))
    return np.array(Image.composite(colours, background, mask))


def _error_categories(
    gt: np.ndarray, pred: np.ndarray, k: int, highlight: tuple[int, int] | None
) -> np.ndarray:
    """uint8 (H, W) of ``_CORRECT`` / ``_WRONG`` / ``_IGNORED`` / ``_HIGHLIGHT`` / ``_DIMMED``."""
    if highlight is None:
        category = (gt != pred).astype(np.uint8)  # _CORRECT = 0, _WRONG = 1
    else:
        a, b = _check_highlight(highlight, k)
        category = np.full(gt.shape, _DIMMED, dtype=np.uint8)
        category[(gt == a) & (pred == b)] = _HIGHLIGHT
    category[gt >= k] = _IGNORED
    return category


def _error_background(photo: Image.Image, category: np.ndarray) -> Image.Image:
    """The photo, greyscale where ignored and dimmed where ``_DIMMED``."""
    background = photo.copy()
    grey = photo.convert("L").convert("RGB")
    background.paste(grey, mask=_lookup_image(category, _category_mask(_IGNORED)))
    if (category == _DIMMED).any():
        dimmed = photo.point(_DIM_LUT * 3)
        background.paste(dimmed, mask=_lookup_image(category, _category_mask(_DIMMED)))
    return background


def _category_mask(which: int) -> np.ndarray:
    mask = np.zeros(len(_CATEGORY_COLOURS), dtype=np.uint8)
    mask[which] = 255
    return mask


# --------------------------------------------------------------------- sizes and encodings
def resize_labels(indices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label array (H, W) to ``size = (width, height)``.

    Every output pixel copies the input pixel under its centre, so no value is ever invented (ids are
    never interpolated); dtype is kept. Pixel centres follow Pillow's convention, so the labels stay
    registered with a photo resized by Pillow; the source index is computed exactly in integers
    (Pillow's own NEAREST can land one pixel off where a centre falls exactly on a pixel border).
    Extra trailing axes (H, W, C) are carried along.

    Example:
        >>> resize_labels(np.array([[1, 2], [3, 4]]), (3, 2)).tolist()
        [[1, 2, 2], [3, 4, 4]]
    """
    indices = np.asarray(indices)
    if indices.ndim < 2 or indices.shape[0] == 0 or indices.shape[1] == 0:
        raise ValueError(f"indices must be a non-empty (H, W) label array (got shape {indices.shape})")
    width, height = _check_size(size)
    rows = _nearest_sources(indices.shape[0], height)
    cols = _nearest_sources(indices.shape[1], width)
    return indices.take(rows, axis=0).take(cols, axis=1)


def _nearest_sources(n_in: int, n_out: int) -> np.ndarray:
    """Input position under the centre of each output position: floor((i + 1/2) * n_in / n_out)."""
    return ((2 * np.arange(n_out, dtype=np.int64) + 1) * n_in) // (2 * n_out)


def fit_width(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Display size ``(width, height)`` no wider than ``max_width``, same aspect ratio, never enlarged.

    The new height is rounded half up (and at least 1).

    Example:
        >>> fit_width(2048, 1024, 1460), fit_width(500, 375, 1460)
        ((1460, 730), (500, 375))
    """
    for name, value in (("width", width), ("height", height), ("max_width", max_width)):
        _check_positive_int(value, name)
    if width <= max_width:
        return width, height
    return max_width, max(1, (2 * height * max_width + width) // (2 * width))


def to_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an (H, W, 3) uint8 image.

    Example:
        >>> to_png(np.zeros((1, 1, 3), np.uint8))[:4]
        b'\\x89PNG'
    """
    return _encode(_check_rgb(rgb, "rgb"), format="PNG")


def to_jpeg(rgb: np.ndarray, *, quality: int = 90) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 image, ``quality`` 1..100, without chroma subsampling (4:4:4).

    Full-resolution colour keeps thin label boundaries their true colour (4:2:0 smears them).

    Example:
        >>> to_jpeg(np.zeros((1, 1, 3), np.uint8))[:2]
        b'\\xff\\xd8'
    """
    if isinstance(quality, bool) or not isinstance(quality, int | np.integer) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in 1..100 (got {quality!r})")
    return _encode(_check_rgb(rgb, "rgb"), format="JPEG", quality=int(quality), subsampling=0)


def _encode(rgb: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, **options)
    return buffer.getvalue()


# --------------------------------------------------------------------- lookups
def _lookup_image(indices: np.ndarray, lut: np.ndarray) -> Image.Image:
    """``lut[indices]`` as a Pillow image: L for a (N,) uint8 LUT, RGB for (N, 3).

    ``indices`` must already be checked to lie in ``0..N-1``. Small LUTs run through Pillow (palette
    image, or ``point``), larger ones through numpy ``take``.
    """
    if len(lut) <= 256:
        image = Image.fromarray(indices.astype(np.uint8))
        if lut.ndim == 1:
            return image.point(np.pad(lut, (0, 256 - len(lut))).tolist())
        image.putpalette(lut.tobytes())
        return image.convert("RGB")
    return Image.fromarray(np.ascontiguousarray(np.take(lut, indices, axis=0)))


def _visible_lut(visible: Sequence[int] | None, k: int) -> np.ndarray:
    """bool (K+2,): whether each class index is drawn; ``None`` → the K classes."""
    shown = np.zeros(k + 2, dtype=bool)
    if visible is None:
        shown[:k] = True
        return shown
    wanted = np.asarray(list(visible))
    if wanted.size and not np.issubdtype(wanted.dtype, np.integer):
        raise ValueError(f"visible must list integer class indices (got {list(visible)!r})")
    bad = wanted[(wanted < 0) | (wanted > k + 1)] if wanted.size else wanted
    if bad.size:
        raise ValueError(f"visible must list class indices in 0..{k + 1} (got {bad.tolist()})")
    shown[wanted.astype(np.int64)] = True
    return shown


def _index_dtype(k: int) -> type[np.integer]:
    return np.int16 if k + 2 <= np.iinfo(np.int16).max else np.int32


# --------------------------------------------------------------------- argument checks
def _check_raw_values(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.uint8)
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"values must hold integer mask values (got dtype {values.dtype})")
    if values.size and np.issubdtype(values.dtype, np.signedinteger) and values.min() < 0:
        raise ValueError(f"values must be non-negative mask values (got minimum {int(values.min())})")
    return values


def _check_indices(indices: np.ndarray, n: int, name: str) -> np.ndarray:
    """A 2-D integer array with values in ``0..n-1``, or ValueError naming the argument."""
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) array of class indices (got shape {indices.shape})")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"{name} must hold integer class indices (got dtype {indices.dtype}); "
            "turn raw mask values into indices with class_indices()"
        )
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= n:
            raise ValueError(
                f"{name} must hold class indices in 0..{n - 1} (got {low}..{high}); "
                "turn raw mask values into indices with class_indices()"
            )
    return indices


def _check_rgb(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"{name} must be an RGB uint8 array of shape (H, W, 3) (got {image.dtype} {image.shape})"
        )
    return image


def _photo_image(photo: np.ndarray | None, shape: tuple[int, ...]) -> Image.Image:
    """The photo as an RGB image, or the neutral background, checked against the label shape."""
    height, width = shape
    if photo is None:
        return Image.new("RGB", (width, height), _BACKGROUND)
    photo = _check_rgb(photo, "photo")
    if photo.shape[:2] != (height, width):
        raise ValueError(
            f"photo must have the shape of the labels, {(height, width, 3)} (got {photo.shape}); "
            "resize both to the same display size"
        )
    return Image.fromarray(np.ascontiguousarray(photo))


def _alpha_weight(alpha: float) -> int:
    """alpha in [0, 1] → integer weight 0..255, rounded half up."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in [0, 1] (got {alpha!r})") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (got {alpha!r})")
    return int(value * 255 + 0.5)


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative integer (got {num_classes!r})")
    return int(num_classes)


def _check_highlight(highlight: tuple[int, int], k: int) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in highlight)
    except (TypeError, ValueError):
        raise ValueError(f"highlight must be a pair (gt index, pred index) (got {highlight!r})") from None
    if not (0 <= a < k and 0 <= b <= k):
        raise ValueError(
            f"highlight must be a confusion-matrix cell (a, b) with 0 <= a < {k} and 0 <= b <= {k} "
            f"(got {highlight!r})"
        )
    return a, b


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be a pair (width, height) (got {size!r})") from None
    _check_positive_int(width, "size width")
    _check_positive_int(height, "size height")
    return int(width), int(height)


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer (got {value!r})")
