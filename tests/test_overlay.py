"""Overlays and error maps, pixel by pixel: tiny arrays with every expected value written out.

Blending rounds as the module docstring says: weight ``w = floor(alpha * 255 + 1/2)`` and each channel
``round((colour * w + photo * (255 - w)) / 255)`` (never a tie, 255 is odd). The expected numbers below
were worked out by hand with that rule, e.g. road (128, 64, 128) over (10, 200, 250) at alpha 0.5
(w = 128): r = (128·128 + 10·127) / 255 = 69.2 → 69.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, JpegImagePlugin

from conftest import save_mask
from segviz.classes import ClassTable
from segviz.masks import read_mask
from segviz.overlay import (
    ERROR_COLOURS,
    boundaries,
    class_indices,
    colorize,
    error_map,
    fit_width,
    index_palette,
    overlay,
    resize_labels,
    to_jpeg,
    to_png,
)

ROAD, CAR, PERSON, VOID = (128, 64, 128), (0, 0, 142), (220, 20, 60), (224, 224, 192)
BLACK = (0, 0, 0)
TABLE = ClassTable.from_rows(
    [
        (0, "road", ROAD, False),
        (1, "car", CAR, False),
        (2, "person", PERSON, False),
        (255, "void", VOID, True),
    ]
)  # K = 3: index 3 = ignore (gt) / invalid (pred), index 4 = unknown (gt)

GREEN, RED, GREY, YELLOW = (ERROR_COLOURS[c] for c in ("correct", "wrong", "ignored", "highlight"))
DIM = (45, 45, 45)  # 35 % of the neutral background (128, 128, 128), rounded half up


def rgb(rows: list[list[tuple[int, int, int]]]) -> np.ndarray:
    return np.array(rows, dtype=np.uint8)


def solid(height: int, width: int, colour: tuple[int, int, int]) -> np.ndarray:
    return np.tile(np.array(colour, dtype=np.uint8), (height, width, 1))


def blend_reference(photo: np.ndarray, colours: np.ndarray, alpha: float) -> np.ndarray:
    """The documented rule, written independently of segviz.overlay."""
    w = int(np.floor(alpha * 255 + 0.5))
    total = colours.astype(np.int64) * w + photo.astype(np.int64) * (255 - w)
    return ((total + 127) // 255).astype(np.uint8)


# --------------------------------------------------------------------- class_indices
def test_gt_indices_ignore_and_unknown():
    values = np.array([[0, 1, 2], [255, 7, 1]], dtype=np.uint8)
    out = class_indices(values, TABLE, kind="gt")
    assert out.tolist() == [[0, 1, 2], [3, 4, 1]]  # 255 → ignore (K), 7 → not in table (K+1)
    assert out.dtype == np.int16


def test_pred_indices_invalid():
    values = np.array([[0, 1, 2], [255, 7, 1]], dtype=np.uint8)
    assert class_indices(values, TABLE, kind="pred").tolist() == [[0, 1, 2], [3, 3, 1]]


def test_indices_of_values_beyond_255():
    table = ClassTable.from_rows(
        [(0, "a", (1, 1, 1), False), (300, "b", (2, 2, 2), False), (255, "v", BLACK, True)]
    )
    values = np.array([[300, 0, 255, 1000, 65535]], dtype=np.uint16)
    assert class_indices(values, table, kind="gt").tolist() == [[1, 0, 2, 3, 3]]
    assert class_indices(values, table, kind="pred").tolist() == [[1, 0, 2, 2, 2]]


def test_huge_int64_values_do_not_size_the_lookup_table():
    values = np.array([[0, 2**40]], dtype=np.int64)  # a LUT of 2**40 entries would not fit in memory
    assert class_indices(values, TABLE, kind="gt").tolist() == [[0, 4]]
    assert class_indices(values, TABLE, kind="pred").tolist() == [[0, 3]]


def test_cityscapes_label_ids():
    table = ClassTable.from_preset("cityscapes")  # K = 19
    values = np.array([[7, 1, 8, 40]], dtype=np.uint8)  # road, ego vehicle, sidewalk, no such labelId
    assert class_indices(values, table, kind="gt", encoding="label_ids").tolist() == [[0, 19, 1, 20]]
    assert class_indices(values, table, kind="pred", encoding="label_ids").tolist() == [[0, 19, 1, 19]]


def test_many_classes_give_int32():
    table = ClassTable.generated(range(40000))
    assert class_indices(np.array([[39999, 40000]]), table, kind="gt").tolist() == [[39999, 40001]]
    assert class_indices(np.array([[0]]), table, kind="gt").dtype == np.int32


@pytest.mark.parametrize(
    ("values", "options", "match"),
    [
        (np.array([[0]]), {"kind": "truth"}, "kind must be 'gt' or 'pred'"),
        (np.array([[0]]), {"kind": "gt", "encoding": "train_ids"}, "encoding must be"),
        (np.array([[-1, 0]]), {"kind": "gt"}, r"values must be non-negative .*got minimum -1"),
        (np.array([[0.5]]), {"kind": "gt"}, "values must hold integer mask values"),
    ],
)
def test_class_indices_errors(values, options, match):
    with pytest.raises(ValueError, match=match):
        class_indices(values, TABLE, **options)


# --------------------------------------------------------------------- palette and colorize
def test_index_palette():
    assert index_palette(TABLE).tolist() == [list(c) for c in (ROAD, CAR, PERSON, VOID, BLACK)]
    no_ignore = ClassTable.from_rows([(4, "a", (9, 9, 9), False)])
    assert index_palette(no_ignore).tolist() == [[9, 9, 9], [0, 0, 0], [0, 0, 0]]
    assert index_palette(TABLE).dtype == np.uint8


def test_palette_png_is_drawn_in_table_colours_not_png_palette(tmp_path):
    path = save_mask(tmp_path / "m.png", np.array([[0, 1], [2, 255]]), "P")
    values = read_mask(path).values
    out = colorize(class_indices(values, TABLE, kind="gt"), TABLE)
    assert out.tolist() == rgb([[ROAD, CAR], [PERSON, VOID]]).tolist()
    with Image.open(path) as im:
        png_colours = np.asarray(im.convert("RGB"))
    assert (png_colours != out).any(axis=-1).all()  # every pixel differs from the file's own palette


def test_colorize_small_table():
    indices = np.array([[0, 1, 2], [3, 4, 0]])
    out = colorize(indices, TABLE)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert out.tolist() == rgb([[ROAD, CAR, PERSON], [VOID, BLACK, ROAD]]).tolist()
    out[0, 0] = 0  # a writable array, not a read-only view of Pillow's buffer


def test_colorize_visible_blacks_out_the_rest():
    out = colorize(np.array([[0, 1, 2, 3]]), TABLE, visible=[1, 3])
    assert out.tolist() == rgb([[BLACK, CAR, BLACK, VOID]]).tolist()


def test_colorize_300_classes_uses_table_colours():
    table = ClassTable.generated(range(300), ignore_ids=[300])  # K + 2 = 302 > 256: numpy path
    indices = np.array([[0, 150, 299], [300, 301, 255]])
    out = colorize(indices, table)
    c = table.colors
    assert out.tolist() == [
        [c[0].tolist(), c[150].tolist(), c[299].tolist()],
        [[0, 0, 0], [0, 0, 0], c[255].tolist()],
    ]
    assert out[0, 1].tolist() != out[1, 2].tolist()  # ids 150 and 255 would collide if wrapped to uint8


@pytest.mark.parametrize("num_classes", [3, 254, 255, 300])
def test_colorize_agrees_with_numpy_indexing(num_classes):
    table = ClassTable.generated(range(num_classes), ignore_ids=[num_classes + 5])
    rng = np.random.default_rng(num_classes)
    indices = rng.integers(0, num_classes + 2, size=(17, 23))
    assert np.array_equal(colorize(indices, table), index_palette(table)[indices])


@pytest.mark.parametrize(
    ("indices", "visible", "match"),
    [
        (np.array([[0, 5]]), None, r"indices must hold class indices in 0\.\.4 \(got 0\.\.5\)"),
        (np.array([[-1, 0]]), None, r"indices must hold class indices in 0\.\.4 \(got -1\.\.0\)"),
        (np.array([0, 1]), None, r"indices must be a 2-D"),
        (np.array([[0.0]]), None, "indices must hold integer class indices"),
        (np.array([[0]]), [5], r"visible must list class indices in 0\.\.4 \(got \[5\]\)"),
    ],
)
def test_colorize_errors(indices, visible, match):
    with pytest.raises(ValueError, match=match):
        colorize(indices, TABLE, visible=visible)


# --------------------------------------------------------------------- boundaries
def test_boundaries_two_regions():
    indices = np.array(
        [
            [0, 0, 1, 1],
            [0, 0, 1, 1],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
        ]
    )
    expected = np.array(
        [
            [False, True, True, False],
            [False, True, True, True],
            [False, False, True, True],
            [False, False, False, False],
        ]
    )
    assert boundaries(indices).tolist() == expected.tolist()


def test_boundaries_of_one_region_are_empty():
    assert not boundaries(np.zeros((3, 5), dtype=np.int16)).any()
    with pytest.raises(ValueError, match="indices must be a 2-D"):
        boundaries(np.zeros(4))


# --------------------------------------------------------------------- overlay
PHOTO_COLOUR = (10, 200, 250)
# road road road car / road road road ignore; edges: the right two columns
LABELS = np.array([[0, 0, 0, 1], [0, 0, 0, 3]])
P = PHOTO_COLOUR
ROAD_HALF, CAR_HALF = (69, 132, 189), (5, 100, 196)  # over PHOTO_COLOUR at alpha 0.5 (w = 128)


@pytest.mark.parametrize(
    ("style", "alpha", "expected"),
    [
        ("fill", 0.0, [[P, P, P, P], [P, P, P, P]]),
        ("fill", 1.0, [[ROAD, ROAD, ROAD, CAR], [ROAD, ROAD, ROAD, P]]),
        ("fill", 0.5, [[ROAD_HALF, ROAD_HALF, ROAD_HALF, CAR_HALF], [ROAD_HALF, ROAD_HALF, ROAD_HALF, P]]),
        ("boundary", 0.0, [[P, P, ROAD, CAR], [P, P, ROAD, P]]),
        ("boundary", 0.5, [[P, P, ROAD, CAR], [P, P, ROAD, P]]),
        ("boundary", 1.0, [[P, P, ROAD, CAR], [P, P, ROAD, P]]),
        ("both", 0.0, [[P, P, ROAD, CAR], [P, P, ROAD, P]]),
        ("both", 0.5, [[ROAD_HALF, ROAD_HALF, ROAD, CAR], [ROAD_HALF, ROAD_HALF, ROAD, P]]),
        ("both", 1.0, [[ROAD, ROAD, ROAD, CAR], [ROAD, ROAD, ROAD, P]]),
    ],
)
def test_overlay_styles(style, alpha, expected):
    out = overlay(solid(2, 4, PHOTO_COLOUR), LABELS, TABLE, alpha=alpha, style=style)
    assert out.dtype == np.uint8
    assert out.tolist() == rgb(expected).tolist()


def test_alpha_zero_and_one_are_exact_on_a_varied_photo():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    indices = rng.integers(0, 3, size=(5, 6))
    assert np.array_equal(overlay(photo, indices, TABLE, alpha=0.0), photo)
    assert np.array_equal(overlay(photo, indices, TABLE, alpha=1.0), index_palette(TABLE)[indices])


def test_rounding_half_alpha_is_not_symmetric():
    """w = 128 at alpha 0.5: colour 255 over 0 → 128, colour 0 over 255 → 127 (128/255 is not 1/2)."""
    table = ClassTable.from_rows([(0, "red", (255, 0, 0), False)])
    out = overlay(solid(1, 1, (0, 255, 0)), np.array([[0]]), table, alpha=0.5)
    assert out.tolist() == [[[128, 127, 0]]]


@pytest.mark.parametrize(("alpha", "weight"), [(0.3, 77), (0.1, 26), (1 / 255, 1), (0.499 / 255, 0)])
def test_alpha_weight_rounds_half_up(alpha, weight):
    """0.3 · 255 = 76.5 → 77 (half up; round-half-even would give 76)."""
    table = ClassTable.from_rows([(0, "white", (255, 255, 255), False)])
    out = overlay(solid(1, 1, BLACK), np.array([[0]]), table, alpha=alpha)
    assert out.tolist() == [[[weight] * 3]]


@pytest.mark.parametrize("style", ["fill", "boundary", "both"])
@pytest.mark.parametrize("num_classes", [3, 300])
def test_overlay_agrees_with_reference(style, num_classes):
    table = ClassTable.generated(range(num_classes), ignore_ids=[num_classes])
    rng = np.random.default_rng(num_classes)
    indices = np.repeat(rng.integers(0, num_classes + 2, size=(6, 8)), 2, axis=1)
    photo = rng.integers(0, 256, size=(*indices.shape, 3), dtype=np.uint8)
    visible = [0, 1, num_classes + 1]
    out = overlay(photo, indices, table, alpha=0.37, style=style, visible=visible)
    colours = index_palette(table)[indices]
    shown = np.isin(indices, visible)
    edge = boundaries(indices)
    fill = shown & ~edge if style == "both" else shown if style == "fill" else np.zeros_like(shown)
    opaque = shown & edge if style != "fill" else np.zeros_like(shown)
    expected = np.where(fill[..., None], blend_reference(photo, colours, 0.37), photo)
    expected = np.where(opaque[..., None], colours, expected)
    assert np.array_equal(out, expected)


def test_overlay_visible_filtering():
    photo = solid(2, 4, PHOTO_COLOUR)
    only_car = overlay(photo, LABELS, TABLE, alpha=1.0, visible=[1])
    assert only_car.tolist() == rgb([[P, P, P, CAR], [P, P, P, P]]).tolist()
    with_ignore = overlay(photo, LABELS, TABLE, alpha=1.0, visible=[3])
    assert with_ignore.tolist() == rgb([[P, P, P, P], [P, P, P, VOID]]).tolist()
    assert np.array_equal(overlay(photo, LABELS, TABLE, alpha=1.0, visible=[]), photo)


def test_overlay_unknown_gt_shows_photo_unless_listed():
    labels = np.array([[4, 0]])
    photo = solid(1, 2, PHOTO_COLOUR)
    assert overlay(photo, labels, TABLE, alpha=1.0).tolist() == rgb([[P, ROAD]]).tolist()
    assert overlay(photo, labels, TABLE, alpha=1.0, visible=[4]).tolist() == rgb([[BLACK, P]]).tolist()


def test_overlay_without_photo_uses_neutral_grey():
    out = overlay(None, LABELS, TABLE, alpha=1.0)
    g = (128, 128, 128)
    assert out.tolist() == rgb([[ROAD, ROAD, ROAD, CAR], [ROAD, ROAD, ROAD, g]]).tolist()


@pytest.mark.parametrize(
    ("photo", "options", "match"),
    [
        (solid(2, 3, P), {}, r"photo must have the shape of the labels, \(2, 4, 3\) \(got \(2, 3, 3\)\)"),
        (np.zeros((2, 4), np.uint8), {}, r"photo must be an RGB uint8 array of shape \(H, W, 3\)"),
        (np.zeros((2, 4, 3), np.float64), {}, r"photo must be an RGB uint8 array .*float64"),
        (solid(2, 4, P), {"alpha": 1.5}, r"alpha must be in \[0, 1\] \(got 1.5\)"),
        (solid(2, 4, P), {"alpha": -0.1}, r"alpha must be in \[0, 1\]"),
        (solid(2, 4, P), {"alpha": float("nan")}, r"alpha must be in \[0, 1\] \(got nan\)"),
        (solid(2, 4, P), {"alpha": "half"}, r"alpha must be a number"),
        (
            solid(2, 4, P),
            {"style": "outline"},
            r"style must be one of 'fill', 'boundary', 'both' \(got 'outline'\)",
        ),
        (solid(2, 4, P), {"visible": [-1]}, r"visible must list class indices in 0\.\.4"),
    ],
)
def test_overlay_errors(photo, options, match):
    with pytest.raises(ValueError, match=match):
        overlay(photo, LABELS, TABLE, **options)


def test_overlay_rejects_raw_values():
    with pytest.raises(
        ValueError, match=r"indices must hold class indices in 0\.\.4 \(got 0\.\.255\).*class_indices"
    ):
        overlay(None, np.array([[0, 255]], np.uint8), TABLE)


def test_overlay_full_resolution_runs():
    """A Cityscapes-sized frame goes through every style (no timing assertion)."""
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 5, size=(64, 128))
    indices = np.kron(blocks, np.ones((16, 16), dtype=np.int64)).astype(np.int16)
    photo = rng.integers(0, 256, size=(1024, 2048, 3), dtype=np.uint8)
    for style in ("fill", "boundary", "both"):
        out = overlay(photo, indices, TABLE, alpha=0.5, style=style)
        assert out.shape == (1024, 2048, 3) and out.dtype == np.uint8
    expected = np.where(
        (indices < 3)[..., None], blend_reference(photo, index_palette(TABLE)[indices], 0.5), photo
    )
    assert np.array_equal(overlay(photo, indices, TABLE, alpha=0.5), expected)
    assert error_map(indices, np.minimum(indices, 3), 3, photo=photo, highlight=(0, 1)).shape == (
        1024,
        2048,
        3,
    )


# --------------------------------------------------------------------- error_map
# K = 3. gt 3 = ignore, gt 4 = unknown, pred 3 = invalid.
GT = np.array([[0, 1, 2, 3], [4, 0, 1, 2]])
PRED = np.array([[0, 2, 2, 0], [1, 3, 1, 0]])
#               correct wrong correct ignored / ignored wrong(invalid) correct wrong


def test_error_map_plain():
    out = error_map(GT, PRED, 3)
    assert out.tolist() == rgb([[GREEN, RED, GREEN, GREY], [GREY, RED, GREEN, RED]]).tolist()


def test_error_map_highlight():
    out = error_map(GT, PRED, 3, highlight=(1, 2))  # gt car predicted as person: pixel (0, 1)
    assert out.tolist() == rgb([[DIM, YELLOW, DIM, GREY], [GREY, DIM, DIM, DIM]]).tolist()


def test_error_map_highlight_invalid_prediction_column():
    out = error_map(GT, PRED, 3, highlight=(0, 3))  # gt road predicted as "invalid": pixel (1, 1)
    assert out.tolist() == rgb([[DIM, DIM, DIM, GREY], [GREY, YELLOW, DIM, DIM]]).tolist()


PHOTO2 = (200, 100, 50)  # greyscale 0.299·200 + 0.587·100 + 0.114·50 = 124.2 → 124
GREEN_ON, RED_ON, YELLOW_ON = (108, 136, 60), (208, 63, 44), (233, 173, 20)  # alpha 0.6 → w = 153
PHOTO_GREY, PHOTO_DIM = (124, 124, 124), (70, 35, 18)  # dim: 35 % rounded half up (17.5 → 18)


def test_error_map_over_photo():
    out = error_map(GT, PRED, 3, photo=solid(2, 4, PHOTO2), alpha=0.6)
    expected = [[GREEN_ON, RED_ON, GREEN_ON, PHOTO_GREY], [PHOTO_GREY, RED_ON, GREEN_ON, RED_ON]]
    assert out.tolist() == rgb(expected).tolist()


def test_error_map_highlight_over_photo():
    out = error_map(GT, PRED, 3, photo=solid(2, 4, PHOTO2), highlight=(1, 2))
    d, g = PHOTO_DIM, PHOTO_GREY
    assert out.tolist() == rgb([[d, YELLOW_ON, d, g], [g, d, d, d]]).tolist()


def test_error_map_alpha_extremes_over_photo():
    photo = solid(2, 4, PHOTO2)
    opaque = error_map(GT, PRED, 3, photo=photo, alpha=1.0)
    assert opaque.tolist() == rgb([[GREEN, RED, GREEN, PHOTO_GREY], [PHOTO_GREY, RED, GREEN, RED]]).tolist()
    clear = error_map(GT, PRED, 3, photo=photo, alpha=0.0)
    p, g = PHOTO2, PHOTO_GREY
    assert clear.tolist() == rgb([[p, p, p, g], [g, p, p, p]]).tolist()


@pytest.mark.parametrize(
    ("gt", "pred", "options", "match"),
    [
        (GT, PRED, {"highlight": (3, 0)}, r"highlight must be a confusion-matrix cell .*0 <= a < 3"),
        (GT, PRED, {"highlight": (0, 4)}, r"highlight must be .*0 <= b <= 3 \(got \(0, 4\)\)"),
        (GT, PRED, {"highlight": 1}, r"highlight must be a pair"),
        (GT + 1, PRED, {}, r"gt must hold class indices in 0\.\.4 \(got 1\.\.5\)"),
        (GT, PRED + 1, {}, r"pred must hold class indices in 0\.\.3 \(got 1\.\.4\)"),
        (GT, PRED[:, :3], {}, r"pred must have the same shape as gt \(2, 4\) \(got \(2, 3\)\)"),
        (GT, PRED, {"alpha": 2}, r"alpha must be in \[0, 1\]"),
        (GT, PRED, {"photo": solid(4, 2, PHOTO2)}, r"photo must have the shape of the labels"),
    ],
)
def test_error_map_errors(gt, pred, options, match):
    with pytest.raises(ValueError, match=match):
        error_map(gt, pred, 3, **options)


def test_error_map_num_classes_must_be_an_integer():
    with pytest.raises(ValueError, match=r"num_classes must be a non-negative integer \(got 3.0\)"):
        error_map(GT, PRED, 3.0)


# --------------------------------------------------------------------- resizing
def test_resize_labels_2x2_to_4x4():
    out = resize_labels(np.array([[1, 2], [3, 4]], dtype=np.uint8), (4, 4))
    assert out.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert out.dtype == np.uint8


def test_resize_labels_down_samples_pixel_centres():
    indices = np.arange(16).reshape(4, 4)
    assert resize_labels(indices, (2, 2)).tolist() == [[5, 7], [13, 15]]  # rows/cols 1 and 3
    assert resize_labels(np.array([[0, 1, 2]]), (2, 1)).tolist() == [[0, 2]]  # centres 0.75, 2.25
    assert resize_labels(indices, (4, 1)).tolist() == [[8, 9, 10, 11]]  # centre 2.0 → row 2
    # width 30 → 13: output 6 has its centre exactly on the border of input 15 (6.5 · 30/13 = 15.0)
    assert resize_labels(np.arange(30)[None], (13, 1))[0, 6] == 15


def test_resize_labels_keeps_channels():
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert resize_labels(image, (1, 1)).tolist() == [[[9, 10, 11]]]


@settings(max_examples=200, deadline=None)
@given(
    indices=arrays(
        np.uint16, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 65535)
    ),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
)
def test_resize_labels_never_invents_an_id(indices, width, height):
    out = resize_labels(indices, (width, height))
    assert out.shape == (height, width)
    assert out.dtype == indices.dtype
    assert set(np.unique(out)) <= set(np.unique(indices))


@settings(max_examples=50, deadline=None)
@given(
    indices=arrays(np.int16, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.integers(0, 300)),
    factor=st.integers(1, 4),
)
def test_resize_labels_integer_upscale_repeats_pixels(indices, factor):
    h, w = indices.shape
    out = resize_labels(indices, (w * factor, h * factor))
    assert np.array_equal(out, indices.repeat(factor, axis=0).repeat(factor, axis=1))


@pytest.mark.parametrize(
    ("indices", "size", "match"),
    [
        (np.zeros((2, 2)), (0, 3), r"size width must be a positive integer \(got 0\)"),
        (np.zeros((2, 2)), (3, 2.5), r"size height must be a positive integer \(got 2.5\)"),
        (np.zeros((2, 2)), 4, r"size must be a pair \(width, height\)"),
        (np.zeros((0, 2)), (2, 2), r"indices must be a non-empty \(H, W\) label array"),
        (np.zeros(3), (2, 2), r"indices must be a non-empty \(H, W\) label array"),
    ],
)
def test_resize_labels_errors(indices, size, match):
    with pytest.raises(ValueError, match=match):
        resize_labels(indices, size)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((2048, 1024, 1460), (1460, 730)),
        ((500, 375, 1460), (500, 375)),  # never upscaled
        ((1460, 10, 1460), (1460, 10)),
        ((1000, 25, 100), (100, 3)),  # 2.5 → 3, half up
        ((1000, 24, 100), (100, 2)),  # 2.4 → 2
        ((3000, 1, 1460), (1460, 1)),  # 0.49 → at least 1 px
    ],
)
def test_fit_width(args, expected):
    assert fit_width(*args) == expected


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 10, 100), r"width must be a positive integer \(got 0\)"),
        ((10, -1, 100), r"height must be a positive integer \(got -1\)"),
        ((10, 10, 0), r"max_width must be a positive integer \(got 0\)"),
        ((10.5, 10, 100), r"width must be a positive integer \(got 10.5\)"),
    ],
)
def test_fit_width_errors(args, match):
    with pytest.raises(ValueError, match=match):
        fit_width(*args)


# --------------------------------------------------------------------- encoding
def test_to_png_round_trips_exactly():
    image = np.random.default_rng(2).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    data = to_png(image)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert np.array_equal(np.asarray(im), image)


def test_to_jpeg_is_full_chroma_and_close():
    image = solid(16, 24, (200, 100, 50))
    with Image.open(io.BytesIO(to_jpeg(image, quality=95))) as im:
        assert im.format == "JPEG" and im.size == (24, 16)
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
        assert np.abs(np.asarray(im).astype(int) - image).max() <= 2


@pytest.mark.parametrize(
    ("encode", "image", "match"),
    [
        (to_png, np.zeros((2, 2), np.uint8), r"rgb must be an RGB uint8 array of shape \(H, W, 3\)"),
        (to_png, np.zeros((2, 2, 4), np.uint8), r"rgb must be an RGB uint8 array .*\(2, 2, 4\)"),
        (to_jpeg, np.zeros((2, 2, 3), np.int64), r"rgb must be an RGB uint8 array .*int64"),
    ],
)
def test_encoding_errors(encode, image, match):
    with pytest.raises(ValueError, match=match):
        encode(image)


@pytest.mark.parametrize("quality", [0, 101, 90.0, True])
def test_to_jpeg_quality_error(quality):
    with pytest.raises(ValueError, match=r"quality must be an integer in 1\.\.100"):
        to_jpeg(np.zeros((2, 2, 3), np.uint8), quality=quality)
