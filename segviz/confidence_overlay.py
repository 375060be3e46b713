"""Drawing confidence: uncertainty heat maps, "confidently wrong" pixels and the regions of likely
label errors, as pure functions of arrays returning (H, W, 3) uint8 (nothing here imports streamlit).

Blending follows :mod:`segviz.overlay`: ``alpha`` becomes the integer weight
``w = floor(alpha·255 + 1/2)`` and each blended channel is ``round((colour·w + photo·(255 − w)) / 255)``,
exact in integers (Pillow's composite).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from PIL import Image

from segviz.overlay import boundaries

LabelErrorStyle = Literal["outline", "hatched"]

#: Uncertainty colour ramp (0 = certain … 1 = most uncertain): dark blue → teal → yellow.
RAMP_ANCHORS = ((0.0, (13, 8, 135)), (0.5, (33, 145, 140)), (1.0, (253, 231, 37)))
WRONG_COLOURS: dict[str, tuple[int, int, int]] = {
    "confidently wrong": (255, 0, 255),
    "wrong, unsure": (255, 170, 0),
    "ignored": (127, 127, 127),
}
_BACKGROUND = (128, 128, 128)
#: Likely label errors: a cyan line with a black halo outside it (visible on any photo or class colour).
LABEL_ERROR_COLOUR = (0, 255, 255)
_HALO = (0, 0, 0)


def ramp_lut() -> np.ndarray:
    """uint8 (256, 3): the colour of uncertainty u = i/255 (linear between the anchors, rounded).

    Example:
        >>> lut = ramp_lut()
        >>> lut[0].tolist(), lut[255].tolist()
        ([13, 8, 135], [253, 231, 37])
    """
    x = np.arange(256) / 255
    stops = np.array([a for a, _ in RAMP_ANCHORS])
    colours = np.array([c for _, c in RAMP_ANCHORS], dtype=np.float64)
    return np.stack([np.rint(np.interp(x, stops, colours[:, ch])) for ch in range(3)], axis=1).astype(
        np.uint8
    )


def uncertainty_map(
    uncertainty: np.ndarray, *, photo: np.ndarray | None = None, alpha: float = 0.6
) -> np.ndarray:
    """Colour every pixel by its uncertainty in [0, 1] (1 − confidence, or normalised entropy):
    (H, W, 3) uint8, blended over ``photo`` (RGB uint8 (H, W, 3)) with ``alpha`` when given.
    Uncertainty is quantised to 256 levels (round half up); NaN shows the photo (or grey).

    Example:
        >>> uncertainty_map(np.array([[0.0, 1.0]])).tolist()
        [[[13, 8, 135], [253, 231, 37]]]
        >>> uncertainty_map(np.array([[1.0]]), photo=np.zeros((1, 1, 3), np.uint8), alpha=0.5).tolist()
        [[[127, 116, 19]]]
    """
    u = np.asarray(uncertainty, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError(f"uncertainty must be a 2-D array (got shape {u.shape})")
    finite = np.isfinite(u)
    if finite.any() and (u[finite].min() < 0 or u[finite].max() > 1):
        raise ValueError(f"uncertainty must be in [0, 1] (got {u[finite].min():.4g} … {u[finite].max():.4g})")
    level = np.floor(np.where(finite, u, 0) * 255 + 0.5).astype(np.uint8)
    colours = ramp_lut()[level]
    weight = np.where(finite, _weight(alpha) if photo is not None else 255, 0).astype(np.uint8)
    return _blend(colours, _background(photo, u.shape), weight)


def confidently_wrong_map(
    gt: np.ndarray,
    pred: np.ndarray,
    confidence: np.ndarray,
    num_classes: int,
    *,
    threshold: float,
    photo: np.ndarray | None = None,
    alpha: float = 0.7,
    show_unsure: bool = True,
) -> np.ndarray:
    """Wrong pixels with confidence ≥ ``threshold`` in magenta, other wrong pixels in orange (when
    ``show_unsure``), ignored pixels grey, correct pixels as the photo (or grey): (H, W, 3) uint8.

    ``gt``: class indices (≥ K ignored); ``pred``: 0…K−1 (K = invalid, wrong); ``confidence``: (H, W)
    in [0, 1].

    Example:
        >>> confidently_wrong_map(np.array([[0, 0, 0, 2]]), np.array([[0, 1, 1, 0]]),
        ...                       np.array([[0.9, 0.9, 0.4, 0.9]]), 2, threshold=0.8).tolist()
        [[[128, 128, 128], [255, 0, 255], [255, 170, 0], [127, 127, 127]]]
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    confidence = np.asarray(confidence, dtype=np.float64)
    if not (gt.shape == pred.shape == confidence.shape):
        raise ValueError(
            f"gt, pred and confidence must have one shape (got {gt.shape}, {pred.shape}, {confidence.shape})"
        )
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1] (got {threshold})")
    k = int(num_classes)
    wrong = (gt < k) & (pred != gt)
    sure = wrong & (confidence >= threshold)
    category = np.zeros(gt.shape, np.uint8)  # 0: correct (background)
    if show_unsure:
        category[wrong & ~sure] = 2
    category[sure] = 1
    category[gt >= k] = 3
    palette = np.array(
        [
            _BACKGROUND,
            WRONG_COLOURS["confidently wrong"],
            WRONG_COLOURS["wrong, unsure"],
            WRONG_COLOURS["ignored"],
        ],
        dtype=np.uint8,
    )
    colours = palette[category]
    w = _weight(alpha) if photo is not None else 255
    weight = np.where(category == 0, 0, w).astype(np.uint8)
    return _blend(colours, _background(photo, gt.shape), weight)


def label_error_map(
    regions: np.ndarray,
    *,
    photo: np.ndarray | None = None,
    style: LabelErrorStyle = "outline",
    colour: tuple[int, int, int] = LABEL_ERROR_COLOUR,
    alpha: float = 0.55,
    spacing: int = 6,
    numbers: int = 0,
) -> np.ndarray:
    """The regions of likely label errors drawn over ``photo`` (RGB uint8 (H, W, 3), e.g. a class
    overlay or the confidently wrong map; grey when None): (H, W, 3) uint8.

    ``regions``: (H, W) region numbers, 0 = none (:attr:`segviz.review.LabelErrorQueue.masks`,
    resized with :func:`segviz.overlay.resize_labels`). ``"outline"``: the pixels of a region with a
    4-neighbour in another region (or none) in ``colour``, and the non-region pixels touching them
    in black — a 2 px line, one side each; two touching regions are told apart by the line between
    them. ``"hatched"``: the outline, and inside the regions diagonal stripes (``(x + y) mod
    spacing < spacing / 2``) of ``colour`` blended with ``alpha`` (as :mod:`segviz.overlay`). Pixels
    outside the regions and their halo are the photo, unchanged. ``numbers``: regions 1 … numbers
    get their number in a small black-on-``colour`` tag at the top-left corner of their bounding
    box (kept inside the picture), so a list of the regions can refer to them.

    Example:
        >>> r = np.zeros((4, 5), np.uint16); r[1:3, 1:4] = 1
        >>> out = label_error_map(r, photo=np.full((4, 5, 3), 9, np.uint8))
        >>> out[:, :, 0].tolist()  # red: 0 on the cyan line and the black halo, 9 elsewhere
        [[9, 0, 0, 0, 9], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [9, 0, 0, 0, 9]]
        >>> out[1, 1].tolist(), out[0, 1].tolist()
        ([0, 255, 255], [0, 0, 0])
    """
    regions = np.asarray(regions)
    if regions.ndim != 2 or regions.dtype.kind not in "iub":
        raise ValueError(f"regions must be a 2-D integer array (got {regions.dtype} {regions.shape})")
    if style not in get_args(LabelErrorStyle):
        raise ValueError(
            f"style must be one of {', '.join(map(repr, get_args(LabelErrorStyle)))} (got {style!r})"
        )
    if not isinstance(spacing, int | np.integer) or spacing < 2:
        raise ValueError(f"spacing must be an integer ≥ 2 (got {spacing!r})")
    inside = regions > 0
    edge = boundaries(regions)
    line = edge & inside
    halo = edge & ~inside
    background = _background(photo, regions.shape)
    colours = np.zeros((*regions.shape, 3), np.uint8)
    weight = np.zeros(regions.shape, np.uint8)
    if style == "hatched":
        y, x = np.indices(regions.shape)
        stripe = inside & ((x + y) % spacing < spacing // 2)
        colours[stripe] = colour
        weight[stripe] = _weight(alpha)
    colours[line] = colour
    weight[line] = 255
    colours[halo] = _HALO
    weight[halo] = 255
    out = _blend(colours, background, weight)
    return _number_tags(out, regions, numbers, colour) if numbers > 0 else out


def _number_tags(
    rgb: np.ndarray, regions: np.ndarray, numbers: int, colour: tuple[int, int, int]
) -> np.ndarray:
    """Regions 1…numbers tagged with their number (Pillow's default font) at their bounding box's
    top-left corner, the tag moved inside the picture where the corner is near an edge."""
    from PIL import ImageDraw, ImageFont
    from scipy import ndimage

    boxes = ndimage.find_objects(regions.astype(np.int64, copy=False), max_label=int(numbers))
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    h, w = regions.shape
    font = ImageFont.load_default(size=max(11, min(24, h // 26)))  # ≈14 px on a 360 px picture
    for number, box in enumerate(boxes, start=1):
        if box is None:
            continue
        text = str(number)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 4, bottom - top + 2
        x = min(max(box[1].start, 0), max(w - tw, 0))
        y = min(max(box[0].start - th, 0), max(h - th, 0))  # above the region when there is room
        draw.rectangle((x, y, x + tw - 1, y + th - 1), fill=colour, outline=_HALO)
        draw.text((x + 2 - left, y + 1 - top), text, fill=_HALO, font=font)
    return np.array(image)


def _weight(alpha: float) -> int:
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1] (got {alpha})")
    return int(np.floor(alpha * 255 + 0.5))


def _background(photo: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if photo is None:
        return np.broadcast_to(np.array(_BACKGROUND, np.uint8), (*shape, 3))
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.shape != (*shape, 3):
        raise ValueError(f"photo must be RGB uint8 of shape {(*shape, 3)} (got {photo.dtype} {photo.shape})")
    return photo


def _blend(colours: np.ndarray, background: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Pillow composite: round((colour·w + photo·(255 − w)) / 255) per channel."""
    out = Image.composite(
        Image.fromarray(np.ascontiguousarray(colours)),
        Image.fromarray(np.ascontiguousarray(background)),
        Image.fromarray(weight),
    )
    return np.array(out)
