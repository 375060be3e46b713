"""Confidence figures draw the numbers of segviz.confidence; overlays are exact pixel functions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from segviz import open_dataset
from segviz.confidence import evaluate_confidence
from segviz.confidence_figures import reliability_figure, risk_coverage_figure, threshold_figure
from segviz.confidence_overlay import (
    LABEL_ERROR_COLOUR,
    confidently_wrong_map,
    label_error_map,
    ramp_lut,
    uncertainty_map,
)
from segviz.overlay import class_indices

SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def baseline():
    ds = open_dataset(SAMPLE, model="baseline")
    return ds, evaluate_confidence(ds)


def test_reliability_figure_draws_the_calibration(baseline):
    _, result = baseline
    cal = result.calibration()
    fig = reliability_figure(cal, title="baseline <b>")
    filled = cal.count > 0
    acc, gap, _, pixels = fig.data
    assert np.allclose(acc.y, cal.accuracy[filled]) and np.allclose(
        acc.x, ((np.arange(15) + 0.5) / 15)[filled]
    )
    assert np.allclose(np.asarray(gap.base) + np.asarray(gap.y), cal.confidence[filled])
    assert pixels.y.tolist() == cal.count[filled].tolist()
    assert f"ECE {100 * cal.ece:.2f}" in fig.layout.title.text and "&lt;b&gt;" in fig.layout.title.text


def test_risk_coverage_figure_and_threshold_figure(baseline):
    _, result = baseline
    rc, rci = result.risk_coverage(), result.risk_coverage(over="images")
    fig = risk_coverage_figure([rc, rci], names=["pixels", "images"])
    assert np.allclose(fig.data[0].y, rc.risk) and np.allclose(fig.data[1].x, rci.coverage)
    assert f"AURC {100 * rc.aurc:.2f}" in fig.data[0].name and fig.data[2].name.startswith("oracle")
    explorer = result.threshold_explorer()
    names = list(result.evaluation.table.names)
    fig = threshold_figure(explorer, threshold=0.8, class_names=names, classes=[names.index("pole")])
    curve = explorer.curve()
    assert np.allclose(fig.data[1].y, curve["mean_iou"], equal_nan=True)
    assert np.allclose(fig.data[2].y, curve["kept_share"])
    assert fig.data[3].name == "IoU pole"
    assert fig.layout.shapes[0].x0 == 0.8


def test_overlays_on_a_sample_image(baseline):
    ds, result = baseline
    pair = ds.pairs[3]
    table = result.evaluation.table
    gt = class_indices(np.asarray(Image.open(pair.gt_path)), table, kind="gt")
    pred = class_indices(np.asarray(Image.open(pair.pred_path)), table, kind="pred")
    v = np.asarray(Image.open(SAMPLE / "conf" / "baseline" / f"{pair.name}.png"))
    conf = v / 255
    out = confidently_wrong_map(gt, pred, conf, table.num_classes, threshold=0.9)
    magenta = (out == [255, 0, 255]).all(axis=2)
    brute = (gt < table.num_classes) & (gt != pred) & (v >= 230)  # v/255 ≥ 0.9 ⟺ v ≥ 229.5
    assert magenta.sum() == brute.sum() > 0 and (magenta == brute).all()
    heat = uncertainty_map(1 - conf)
    assert (heat == ramp_lut()[255 - v]).all()  # 1 − v/255 quantised back to 255 − v exactly
    photo = np.asarray(Image.open(pair.image_path).convert("RGB"))
    blended = uncertainty_map(1 - conf, photo=photo, alpha=0.5)
    colour = ramp_lut()[255 - v].astype(int)
    expected = (colour * 128 + photo.astype(int) * 127 + 127) // 255  # round half up of /255
    assert np.abs(blended.astype(int) - expected).max() <= 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: uncertainty_map(np.array([[1.5]])), r"uncertainty must be in \[0, 1\] \(got 1\.5 … 1\.5\)"),
        (lambda: uncertainty_map(np.zeros(3)), r"uncertainty must be a 2-D array \(got shape \(3,\)\)"),
        (
            lambda: confidently_wrong_map(
                np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 3)), 2, threshold=0.5
            ),
            r"gt, pred and confidence must have one shape",
        ),
        (
            lambda: confidently_wrong_map(
                np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), 2, threshold=2
            ),
            r"threshold must be in \[0, 1\] \(got 2\)",
        ),
    ],
    ids=["range", "ndim", "shape", "threshold"],
)
def test_overlay_arguments_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------- likely label errors drawn
def _brute_outline(regions: np.ndarray) -> tuple[set, set]:
    """(line, halo) pixel sets by a loop: a region pixel with a 4-neighbour of another number, and
    a pixel outside every region with a 4-neighbour inside one (the image border is no edge)."""
    h, w = regions.shape
    line, halo = set(), set()
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and regions[yy, xx] != regions[y, x]:
                    if regions[y, x] > 0:
                        line.add((y, x))
                    elif regions[yy, xx] > 0:
                        halo.add((y, x))
    return line, halo


@pytest.mark.parametrize("style", ["outline", "hatched"])
def test_label_error_map_against_a_loop(style):
    rng = np.random.default_rng(7)
    regions = np.zeros((30, 40), np.uint16)
    regions[3:12, 4:15] = 1
    regions[8:20, 15:25] = 2  # touches region 1: the line between them is drawn
    regions[25:29, 30:39] = 3
    photo = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    out = label_error_map(regions, photo=photo, style=style, alpha=0.5, spacing=4)
    line, halo = _brute_outline(regions)
    w = 128  # floor(0.5 * 255 + 1/2)
    for y in range(30):
        for x in range(40):
            if (y, x) in line:
                expected = LABEL_ERROR_COLOUR
            elif (y, x) in halo:
                expected = (0, 0, 0)
            elif style == "hatched" and regions[y, x] and (x + y) % 4 < 2:
                expected = tuple(
                    (c * w + int(p) * (255 - w) + 127) // 255
                    for c, p in zip(LABEL_ERROR_COLOUR, photo[y, x], strict=True)
                )
            else:
                expected = tuple(photo[y, x])
            assert tuple(int(v) for v in out[y, x]) == tuple(int(v) for v in expected), (y, x)
    assert any((8, x) in line for x in range(15, 16))  # the shared border of regions 1 and 2


def test_label_error_map_on_a_real_queue():
    from segviz.review import find_label_errors

    ds = open_dataset(SAMPLE, model="baseline")
    queue = find_label_errors(evaluate_confidence(ds), ds)
    mask = next(iter(queue.masks.values()))
    out = label_error_map(mask)
    line, halo = _brute_outline(mask)
    cyan = np.all(out == LABEL_ERROR_COLOUR, axis=2)
    assert set(zip(*np.nonzero(cyan), strict=True)) == line and len(line) > 0
    black = np.all(out == 0, axis=2)
    assert set(zip(*np.nonzero(black), strict=True)) == halo


def test_label_error_map_refuses_bad_input():
    with pytest.raises(ValueError, match="regions must be a 2-D integer array"):
        label_error_map(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="style must be one of 'outline', 'hatched'"):
        label_error_map(np.zeros((2, 2), np.uint8), style="dots")
    with pytest.raises(ValueError, match=r"photo must be RGB uint8 of shape \(2, 2, 3\)"):
        label_error_map(np.zeros((2, 2), np.uint8), photo=np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="spacing must be an integer ≥ 2"):
        label_error_map(np.zeros((2, 2), np.uint8), style="hatched", spacing=1)


def test_label_error_map_numbers_the_first_regions_only():
    """Tags for regions 1…numbers at their top-left corner (above the region when there is room,
    kept inside the picture); nothing else changes."""
    regions = np.zeros((60, 90), np.uint16)
    regions[30:40, 10:30] = 1  # room above: the tag ends above row 30
    regions[0:12, 60:80] = 2  # at the top edge: the tag starts at row 0
    regions[45:58, 40:88] = 3  # not numbered
    plain = label_error_map(regions)
    tagged = label_error_map(regions, numbers=2)
    changed = np.any(plain != tagged, axis=2)
    ys, xs = np.nonzero(changed[:, :35])
    assert ys.max() < 30 and xs.min() == 10  # region 1's tag, above it from its left edge
    ys, xs = np.nonzero(changed[:, 55:])
    assert ys.min() == 0 and xs.min() + 55 == 60  # region 2's tag, inside the picture
    assert not changed[40:, :].any()  # region 3: untouched
    cyan = np.all(tagged == LABEL_ERROR_COLOUR, axis=2)
    assert (cyan & changed).sum() > 20  # the tags are cyan boxes with black digits
