"""Error anatomy: counts pinned to the paper's own evaluator, hand-computed cases, and a brute-force
implementation of the definitions (shift-based morphology, scipy labelling) on random masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from conftest import save_mask
from segviz import anatomy, anatomy_kernel, cli
from segviz.anatomy import CODES, analyse, analyse_indices
from segviz.dataset import open_dataset
from segviz.evaluate import evaluate
from segviz.store import ResultsStore

REFERENCE_KEYS = (
    *CODES,
    "boundary_iou_intersection",
    "boundary_iou_union",
    "trimap_iou_intersection",
    "trimap_iou_union",
)


def _counts(a: anatomy.ImageAnatomy, c: int) -> dict[str, int]:
    return dict(zip(anatomy.fields(), a.counts[c].tolist(), strict=True))


# ---------------------------------------------------------------------- the reference's numbers
def _reference_runs(shared: Path) -> list[dict]:
    return json.loads((shared / "error_anatomy_reference.json").read_text())["results"]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "dataset,model",
    [
        ("voc2012-deeplab", "deeplabv3plus"),
        ("voc2012-deeplab", "mediapipe-selfie"),
        ("ade20k-csail", "csail-2018"),
        ("camvid-val", "tinyfcn"),
        ("camvid-val", "pixelgbm"),
    ],
)
def test_counts_identical_to_the_reference_evaluator(shared_data, dataset, model):
    run = next(r for r in _reference_runs(shared_data) if r["dataset"] == dataset and r["model"] == model)
    assert run["settings"] == {"boundary_width": 0.01, "kernel": "exact", "boundary_iou_d": 0.02}
    ev = evaluate(open_dataset(shared_data / dataset, model=model), store=None)
    assert ev.num_images == run["images"]
    a = analyse(ev)
    frame = a.class_frame().set_index("id")
    assert len(run["classes"]) == ev.table.num_classes
    for expected in run["classes"]:
        got = {k: int(frame.loc[expected["id"], k]) for k in REFERENCE_KEYS}
        assert got == {k: expected[k] for k in REFERENCE_KEYS}, f"class {expected['id']}"
    # the anatomy's union is the confusion matrix's, and the four shares add up to 1
    tp, gt, pred = (np.diagonal(ev.confusion[:, :-1]), ev.confusion.sum(1), ev.confusion[:, :-1].sum(0))
    np.testing.assert_array_equal(frame["union"].to_numpy(), gt + pred - tp)
    np.testing.assert_array_equal(frame["tp"].to_numpy(), tp)
    shares = frame[["iou", "boundary_error", "extent_error", "segment_error"]].sum(axis=1)
    defined = frame["union"] > 0
    np.testing.assert_allclose(shares[defined], 1.0, rtol=0, atol=1e-12)
    assert frame.loc[~defined, "iou"].isna().all()


@pytest.mark.shared_data
def test_the_reference_contour_test_skip_only_matters_where_the_ignore_id_is_small(shared_data):
    """ADE20K's ignore id 0 makes the reference skip the contour test for the first class of every
    image; with reference_quirks=False segviz tests every class (fewer or equal boundary pixels)."""
    ev = evaluate(open_dataset(shared_data / "ade20k-csail", model="csail-2018"), store=None)
    quirky = analyse(ev).class_frame()
    strict = analyse(ev, reference_quirks=False).class_frame()
    assert (strict["fp_boundary"] <= quirky["fp_boundary"]).all()
    assert (strict["fp_boundary"] + strict["fn_boundary"]).sum() < (
        quirky["fp_boundary"] + quirky["fn_boundary"]
    ).sum()
    np.testing.assert_array_equal(strict["union"], quirky["union"])
    cam = evaluate(open_dataset(shared_data / "camvid-val", model="tinyfcn"), store=None).subset(range(10))
    np.testing.assert_array_equal(analyse(cam).rows, analyse(cam, reference_quirks=False).rows)


# ---------------------------------------------------------------------- hand-computed cases
def test_a_prediction_one_column_too_wide_is_a_boundary_error():
    g = np.zeros((4, 6), int)
    g[:, 2:4] = 1
    p = np.zeros((4, 6), int)
    p[:, 2:5] = 1
    a = analyse_indices(g, p, 2, width=1)
    one, zero = _counts(a, 1), _counts(a, 0)
    assert {k: one[k] for k in CODES} == dict(
        tp=8, fp_boundary=4, fp_extent=0, fp_segment=0, fn_boundary=0, fn_extent=0, fn_segment=0
    )
    assert {k: zero[k] for k in CODES} == dict(
        tp=12, fp_boundary=0, fp_extent=0, fp_segment=0, fn_boundary=4, fn_extent=0, fn_segment=0
    )
    assert a.fp_kind[:, 4].tolist() == [1] * 4 and a.fn_kind[:, 4].tolist() == [1] * 4
    assert one["gt_objects"] == 1 and one["found_objects"] == 1 and one["invented_objects"] == 0


def test_too_wide_beyond_the_band_is_an_extent_error():
    # class 1: columns 2-3 true, 2-6 predicted; w = 1: no FP pixel is within 1 px of both TP and TN
    g = np.zeros((3, 10), int)
    g[:, 2:4] = 1
    p = np.zeros((3, 10), int)
    p[:, 2:7] = 1
    one = _counts(analyse_indices(g, p, 2, width=1), 1)
    assert (one["tp"], one["fp_boundary"], one["fp_extent"], one["fp_segment"]) == (6, 0, 9, 0)
    # with w = 3 the whole overshoot is within reach of TP and TN: a boundary error
    one = _counts(analyse_indices(g, p, 2, width=3), 1)
    assert (one["fp_boundary"], one["fp_extent"]) == (9, 0)


def test_missed_and_invented_objects_are_segment_errors():
    g = np.zeros((12, 12), int)
    g[1:3, 1:3] = 1  # a 2x2 object nobody predicts
    g[8:11, 8:11] = 1  # a 3x3 object found (partly)
    p = np.zeros((12, 12), int)
    p[8:11, 8:10] = 1
    p[1:3, 8:10] = 1  # an invented 2x2 object
    a = analyse_indices(g, p, 2, width=1, size_thresholds=(5, 8))
    one = _counts(a, 1)
    assert one["fn_segment"] == 4 and one["fp_segment"] == 4 and one["tp"] == 6
    assert one["fn_boundary"] + one["fn_extent"] == 3
    assert (one["gt_objects"], one["found_objects"], one["invented_objects"]) == (2, 1, 1)
    # sizes 4 (small, < 5) and 9 (large, >= 8): the small one was missed
    assert (one["small_gt_objects"], one["small_found_objects"], one["small_gt_pixels"]) == (1, 0, 4)
    assert (one["large_gt_objects"], one["large_found_objects"], one["large_tp_pixels"]) == (1, 1, 6)
    assert one["medium_gt_objects"] == 0
    assert a.fn_kind[1:3, 1:3].tolist() == [[3, 3], [3, 3]] and a.fp_kind[1:3, 8:10].min() == 3


def test_ignored_pixels_are_not_counted_but_shape_the_regions_like_the_reference():
    g = np.zeros((5, 8), int)
    g[:, 4:] = 2  # ignored (k = 2)
    p = np.zeros((5, 8), int)
    p[:, 3:6] = 1  # class 1 predicted over one background column and two ignored ones
    a = analyse_indices(g, p, 2, width=1)
    one = _counts(a, 1)
    assert sum(one[k] for k in CODES) == 5  # only the background column counts
    assert one["fp_segment"] == 5 and one["invented_objects"] == 1
    assert (a.fp_kind[:, 4:] == 0).all()


def test_boundary_and_trimap_iou_by_hand():
    # 9x9 image, class 1 = the 3x3 centre, predicted shifted one column right; d = 1
    g = np.zeros((9, 9), int)
    g[3:6, 3:6] = 1
    p = np.zeros((9, 9), int)
    p[3:6, 4:7] = 1
    one = _counts(analyse_indices(g, p, 2, width=1, iou_d=0.05), 1)  # round(0.05 * 12.7) = 1
    # G_int = G's 8 outer pixels (all but the centre (4,4)); P_int = P's (all but (4,5)).
    # Both: G ∩ P = rows 3-5 x columns 4-5 (6) less (4,4) and (4,5) = 4; union = 8 + 8 - 4 = 12
    assert (one["boundary_iou_intersection"], one["boundary_iou_union"]) == (4, 12)
    # trimap: G_int ∩ P = G_int's pixels in columns 4-5 = 5; union = G_int ∪ (G_d ∩ P) = 8 + column 6
    # (3); the centre (4,4) is predicted but its window is all G, so not in G_d
    assert (one["trimap_iou_intersection"], one["trimap_iou_union"]) == (5, 11)


def test_the_image_edge_is_not_a_border_for_boundary_iou():
    """The reference erodes with OpenCV's default border: the image edge never counts as a border."""
    g = np.ones((6, 6), int)
    one = _counts(analyse_indices(g, g, 2, width=1), 1)
    assert one["boundary_iou_union"] == 0 and one["tp"] == 36


# ---------------------------------------------------------------------- brute force on random masks
def _shift(m: np.ndarray, dy: int, dx: int, fill: bool) -> np.ndarray:
    out = np.full_like(m, fill)
    h, w = m.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = m[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _dilate(m, offsets):
    out = np.zeros_like(m)
    for dy, dx in offsets:
        out |= _shift(m, dy, dx, False)
    return out


def _erode(m, offsets):
    out = np.ones_like(m)
    for dy, dx in offsets:
        out &= _shift(m, dy, dx, True)  # outside the image counts as inside the mask (OpenCV)
    return out


def brute_force(gt, pred, k, w, d, skip):
    """The definitions written out literally, one class at a time, full-image masks."""
    r = np.arange(-w, w + 1)
    disk = [(dy, dx) for dy in r for dx in r if np.round(np.sqrt(dy * dy + dx * dx)) <= w]
    square1 = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    rd = np.arange(-d, d + 1)
    square_d = [(dy, dx) for dy in rd for dx in rd]
    eight = np.ones((3, 3), int)
    valid = gt != k
    out = np.zeros((k, 11), np.int64)
    for c in range(k):
        P, G = pred == c, gt == c
        tp, fp, fn, tn = P & G, P & ~G, G & ~P, ~P & ~G
        near = (_dilate(tp, disk) & ~tp) & (_dilate(tn, disk) & ~tn)
        bfp = _dilate(fp & near, disk) & fp
        bfn = _dilate(fn & near, disk) & fn
        tpc, tnc = _dilate(tp, square1) & ~tp, _dilate(tn, square1) & ~tn
        for b in (bfp, bfn):
            lab, n = ndimage.label(b, eight)
            for i in range(1, n + 1):
                piece = lab == i
                if not skip[c] and not (tpc[piece].any() and tnc[piece].any()):
                    b[piece] = False
        counts = {"tp": tp.sum(), "fp_boundary": (bfp & valid).sum(), "fn_boundary": (bfn & valid).sum()}
        for side, region, err, bnd in (("fp", P, fp, bfp), ("fn", G, fn, bfn)):
            lab, n = ndimage.label(region, eight)
            rest = err & ~bnd & valid
            ext = seg = 0
            for i in range(1, n + 1):
                piece = lab == i
                if tp[piece].any():
                    ext += (rest & piece).sum()
                else:
                    seg += (rest & piece).sum()
            counts[f"{side}_extent"], counts[f"{side}_segment"] = ext, seg
        p_int = P & ~_erode(P, square_d)
        g_int = G & ~_erode(G, square_d)
        g_d = g_int | (_dilate(G, square_d) & ~G)
        out[c] = [counts[n] for n in CODES] + [
            (p_int & g_int & valid).sum(),
            ((p_int | g_int) & valid).sum(),
            (g_int & P & valid).sum(),
            ((g_int | (g_d & P)) & valid).sum(),
        ]
    return out


def _random_masks(rng, h, w, k):
    """Blobby label maps: a coarse random map upsampled, plus noise, plus an ignored band."""
    coarse = rng.integers(0, k, size=(h // 4 + 1, w // 4 + 1))
    gt = np.kron(coarse, np.ones((4, 4), int))[:h, :w]
    pred = gt.copy()
    flip = rng.random((h, w)) < 0.08
    pred[flip] = rng.integers(0, k, size=flip.sum())
    pred = ndimage.shift(pred, (rng.integers(-2, 3), rng.integers(-2, 3)), order=0, mode="nearest")
    gt[rng.random((h, w)) < 0.03] = k  # scattered ignored pixels
    gt[:, : rng.integers(0, 4)] = k  # and an ignored band at the left edge
    pred[rng.random((h, w)) < 0.01] = k + 3  # a few invalid predictions
    return gt, pred


@pytest.mark.parametrize("seed", range(8))
def test_kernel_matches_brute_force_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    h, w, k = int(rng.integers(12, 40)), int(rng.integers(12, 40)), int(rng.integers(2, 6))
    gt, pred = _random_masks(rng, h, w, k)
    width = int(rng.integers(1, 5))
    d_frac = float(rng.choice([0.02, 0.05, 0.1]))
    d = anatomy.iou_d_pixels(d_frac, gt.shape)
    skip = rng.random(k) < 0.3
    a = analyse_indices(gt, pred, k, width=width, iou_d=d_frac, skip_contour=skip)
    np.testing.assert_array_equal(a.counts[:, :11], brute_force(gt, pred, k, width, d, skip))
    # the per-pixel kinds add up to the counts
    for c in range(k):
        for kind in (1, 2, 3):
            fp = int(((a.fp_kind == kind) & (pred == c)).sum())
            fn = int(((a.fn_kind == kind) & (gt == c)).sum())
            assert fp == a.counts[c, kind] and fn == a.counts[c, 3 + kind]


def test_plain_python_kernel_equals_the_compiled_one():
    """Without numba the same kernel runs as plain Python: identical numbers."""
    rng = np.random.default_rng(42)
    gt, pred = _random_masks(rng, 16, 20, 3)
    compiled = analyse_indices(gt, pred, 3, width=2)
    counts = np.zeros_like(compiled.counts)
    fp, fn = np.zeros_like(compiled.fp_kind), np.zeros_like(compiled.fn_kind)
    thresholds = np.asarray(anatomy.DEFAULT_SIZE_THRESHOLDS, float)
    g, p = gt.astype(np.int32), pred.astype(np.int32)
    anatomy_kernel.anatomy_image(g, p, 3, 2, 1, np.zeros(3, bool), thresholds, counts, fp, fn)
    np.testing.assert_array_equal(counts, compiled.counts)
    np.testing.assert_array_equal(fp, compiled.fp_kind)


# ---------------------------------------------------------------------- widths
@pytest.mark.parametrize(
    "text,message",
    [
        ("0", "boundary width 0: must be positive"),
        ("-2", "boundary width -2: must be positive"),
        ("1.5", "boundary width 1.5: a width of 1 pixel or more must be a whole number"),
        ("wide", "boundary width 'wide': expected a fraction"),
    ],
)
def test_bad_widths_are_named(text, message):
    with pytest.raises(anatomy.BoundaryWidthError, match=message):
        anatomy.parse_width(text)


def test_width_in_pixels():
    assert anatomy.width_pixels(0.01, (360, 480)) == 6  # round(0.01 * 600)
    assert anatomy.width_pixels(0.01, (513, 513)) == 7
    assert anatomy.iou_d_pixels(0.02, (360, 480)) == 12
    assert anatomy.iou_d_pixels(0.02, (10, 10)) == 1  # never 0
    with pytest.raises(
        anatomy.BoundaryWidthError, match=r"boundary width 500 px is larger than the image \(480x360\)"
    ):
        anatomy.width_pixels(500, (360, 480))


# ---------------------------------------------------------------------- dataset, store, ranking, CLI
def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "classes.csv").parent.mkdir(parents=True)
    (root / "classes.csv").write_text(
        "id,name,r,g,b,ignore\n0,bg,0,0,0,0\n1,car,0,0,142,0\n255,void,1,1,1,1\n"
    )
    g = np.zeros((12, 12), np.uint8)
    g[1:3, 1:3] = 1
    g[8:11, 8:11] = 1
    p = np.zeros((12, 12), np.uint8)
    p[8:11, 8:10] = 1
    save_mask(root / "gt" / "a.png", g)
    save_mask(root / "pred" / "a.png", p)  # misses the 2x2 car
    save_mask(root / "gt" / "b.png", g)
    save_mask(root / "pred" / "b.png", g)  # perfect
    g2 = g.copy()
    g2[5:9, 0:4] = 1  # a 4x4 car, missed, and the small one too
    save_mask(root / "gt" / "c.png", g2)
    save_mask(root / "pred" / "c.png", p)
    return root


def test_ranking_by_one_class_and_error_type_and_the_highlight(tmp_path):
    ev = evaluate(open_dataset(_dataset(tmp_path)), store=None)
    a = analyse(ev, width=1)
    ranked = a.images_for_error(1, "fn_segment")
    assert ranked["name"].tolist() == ["c", "a"] and ranked["pixels"].tolist() == [20, 4]
    assert a.images_for_error(1, "segment")["pixels"].tolist() == [20, 4]
    with pytest.raises(ValueError, match="error type 'missing'"):
        a.images_for_error(1, "missing")
    pair = ev.pairs[ev.names.index("c")]
    gi, pi = anatomy.read_indices(pair, ev.table)
    one = anatomy.analyse_pair(pair, ev.table, width=1)
    mask = anatomy.error_mask(one, gi, pi, 1, "fn_segment")
    assert int(mask.sum()) == 20 and mask[1:3, 1:3].all() and mask[5:9, 0:4].all()
    kinds = anatomy.error_type_map(one, gi, pi, 1)
    assert (kinds[mask] == 6).all()
    frame = a.class_frame()
    assert frame.loc[1, "object_recall"] == pytest.approx(4 / 7)  # a: 1 of 2, b: 2 of 2, c: 1 of 3


def test_store_keeps_the_results_and_a_second_run_reads_no_mask(tmp_path, monkeypatch):
    ev = evaluate(open_dataset(_dataset(tmp_path)), store=None)
    store = ResultsStore(tmp_path / "store")
    first = analyse(ev, width=1, store=store)

    def refuse(*args, **kwargs):
        raise AssertionError("read a mask")

    monkeypatch.setattr(anatomy, "read_indices", refuse)
    second = analyse(ev, width=1, store=store)
    np.testing.assert_array_equal(first.rows, second.rows)
    assert not second.skipped
    third = analyse(ev, width=2, store=store)  # another width recomputes (here: tries to read)
    assert len(third.skipped) == 3 and all("read a mask" in p.reason for p in third.skipped)


def test_cli_errors_json_and_exit_codes(tmp_path, capsys):
    root = _dataset(tmp_path)
    out = tmp_path / "r.json"
    assert (
        cli.main(
            ["evaluate", str(root), "--errors", "--boundary-width", "1", "--json", str(out), "--no-store"]
        )
        == 0
    )
    data = json.loads(out.read_text())
    car = data["classes"][1]
    assert car["errors"]["fn_segment"] == 24 and car["objects"] == {
        "gt": 7,
        "found": 4,
        "missed": 3,
        "invented": 0,
    }
    assert set(data["error_anatomy"]) >= {
        "boundary_width",
        "boundary_iou_d",
        "mean_boundary_error",
        "mean_extent_error",
        "mean_segment_error",
        "mean_boundary_iou",
        "mean_trimap_iou",
    }
    assert data["error_anatomy"]["boundary_width"] == 1
    assert "error anatomy" in capsys.readouterr().out
    for bad, message in (
        ("0", "boundary width 0"),
        ("-3", "boundary width -3"),
        ("40", "boundary width 40 px"),
    ):
        assert cli.main(["evaluate", str(root), "--errors", "--boundary-width", bad, "--no-store"]) == 2
        assert message in capsys.readouterr().err
    # without --errors the JSON is unchanged
    cli.main(["evaluate", str(root), "--json", str(out), "--no-store", "--quiet"])
    assert "error_anatomy" not in json.loads(out.read_text())


# ---------------------------------------------------------------------- Cityscapes instances and iIoU
@pytest.mark.shared_data
def test_cityscapes_iiou_matches_the_cityscapes_formula(shared_data, tmp_path):
    """A prediction that loses one person instance and paints some road as car; iIoU checked against
    the cityscapesscripts formula written out over raw labelIds."""
    from PIL import Image

    src = shared_data / "cityscapes-frame"
    name = "frankfurt_000000_000294_gtFine_labelIds.png"
    gt = np.asarray(Image.open(src / "gt" / name)).astype(np.int64)
    inst = np.asarray(Image.open(src / "gt_instanceIds" / name.replace("labelIds", "instanceIds"))).astype(
        np.int64
    )
    pred = gt.copy()
    lost = int(np.unique(inst[inst // 1000 == 24])[0])
    pred[inst == lost] = 7  # one person predicted as road
    road = np.argwhere(gt == 7)[:40]
    pred[road[:, 0], road[:, 1]] = 26  # 40 road pixels predicted as car
    save_mask(tmp_path / "gt" / name, gt)
    save_mask(tmp_path / "pred" / name, pred)
    (tmp_path / "classes.csv").write_text((src / "classes.csv").read_text())
    ev = evaluate(open_dataset(tmp_path), store=None)
    ins = anatomy.analyse_instances(ev, src / "gt_instanceIds", gt_folder=tmp_path / "gt")
    assert not ins.skipped
    frame = ins.class_frame().set_index("name")

    ignored = {
        int(r.split(",")[0]) for r in (src / "classes.csv").read_text().splitlines()[1:] if r.endswith(",1")
    }
    valid = ~np.isin(gt, list(ignored))
    for label_id, cname in ((24, "person"), (26, "car")):
        tpw = fnw = 0.0
        ids = [i for i in np.unique(inst) if i > 1000 and i // 1000 == label_id]
        for i in ids:
            mask = inst == i
            size = mask.sum()
            tp = (pred[mask] == label_id).sum()
            w = anatomy.CITYSCAPES_AVG_CLASS_SIZE[cname] / size
            tpw, fnw = tpw + tp * w, fnw + (size - tp) * w
        fp = ((pred == label_id) & (gt != label_id) & valid).sum()
        assert frame.loc[cname, "iiou"] == pytest.approx(tpw / (tpw + fp + fnw), rel=1e-12)
        assert frame.loc[cname, "instances"] == len(ids)
    assert frame.loc["person", "missed_instances"] == 1 and frame.loc["car", "missed_instances"] == 0
    assert np.isnan(frame.loc["road", "iiou"])  # no instance classes: undefined, never 0
    assert frame.loc["car", "iiou"] < 1.0


# ---------------------------------------------------------------------- figures, headlines, report
def test_stacked_bars_are_100_percent_of_the_union_and_clickable(tmp_path):
    from segviz.anatomy_figures import anatomy_class_figure, anatomy_split_figure, error_type_overlay

    ev = evaluate(open_dataset(_dataset(tmp_path)), store=None)
    a = analyse(ev, width=1)
    fig = anatomy_class_figure(a)
    totals = np.sum([np.asarray(bar.x, float) for bar in fig.data], axis=0)
    np.testing.assert_allclose(totals, 100.0)
    car = list(fig.data[0].y).index("car")
    assert fig.data[3].customdata[car][:2] == [1, "segment"]
    assert fig.data[3].customdata[car][2] == int(a.images_for_error(1, "segment")["pixels"].sum())
    split = anatomy_split_figure(a)
    np.testing.assert_allclose(np.sum([np.asarray(b.x, float) for b in split.data], axis=0), 100.0)
    pair = ev.pairs[ev.names.index("c")]
    gi, pi = anatomy.read_indices(pair, ev.table)
    rgba = error_type_overlay(anatomy.analyse_pair(pair, ev.table, width=1), gi, pi, 1, show=(6,))
    assert (rgba[..., 3] > 0).sum() == 20  # only the missed-segment pixels are drawn


def test_headlines_and_the_report_section(tmp_path):
    from segviz.report import build_report

    ev = evaluate(open_dataset(_dataset(tmp_path)), store=None)
    a = analyse(ev, width=1)
    s = a.summary()
    lines = a.headlines()
    share = s["mean_segment_error"] / (
        s["mean_boundary_error"] + s["mean_extent_error"] + s["mean_segment_error"]
    )
    assert lines[0].startswith(f"{100 * share:.0f} % of what mIoU misses is whole objects missed or invented")
    assert "boundary width 1 px" in lines[0]
    assert "3 of 10 ground-truth objects" in " ".join(lines)  # 7 cars and 3 backgrounds
    html = build_report(ev, title="t", dataset="d", model="m", resamples=20, worst=0, anatomy=a)
    assert 'id="anatomy"' in html and lines[0].replace("'", "&#x27;") in html
    assert 'id="anatomy"' not in build_report(ev, title="t", dataset="d", model="m", resamples=20, worst=0)


def test_paired_comparison_per_error_type(tmp_path):
    root = _dataset(tmp_path)
    ev = evaluate(open_dataset(root), store=None)
    a = analyse(ev, width=1)
    same = anatomy.compare_anatomy(a, a, resamples=50)
    assert (same["delta"].fillna(0) == 0).all() and not same["significant"].any()
    # b: the same images predicted perfectly -> every error share drops to 0
    for name in ("a", "b", "c"):
        (root / "pred" / f"{name}.png").write_bytes((root / "gt" / f"{name}.png").read_bytes())
    b = analyse(evaluate(open_dataset(root), store=None), width=1)
    diff = anatomy.compare_anatomy(a, b, resamples=200).set_index(["class", "kind"])
    car = a.class_frame().loc[1]
    assert diff.loc[("car", "segment"), "a"] == pytest.approx(car["segment_error"])
    assert diff.loc[("car", "segment"), "b"] == 0.0
    assert diff.loc[("car", "segment"), "delta"] == pytest.approx(-car["segment_error"])
    # 3 images: a resample of only the image both predict perfectly gives 0, so high may touch 0
    assert diff.loc[("car", "segment"), "low"] < 0 <= -diff.loc[("car", "segment"), "high"]


def test_a_pair_of_different_sizes_is_skipped_with_the_evaluation_message(tmp_path, capsys):
    root = _dataset(tmp_path)
    save_mask(root / "pred" / "b.png", np.zeros((10, 12), np.uint8))
    out = tmp_path / "r.json"
    code = cli.main(
        ["evaluate", str(root), "--errors", "--boundary-width", "1", "--json", str(out), "--no-store"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "skipped b:" in err and "size 12x10 differs from the ground truth" in err
    data = json.loads(out.read_text())
    assert data["num_images"] == 2 and data["classes"][1]["objects"]["gt"] == 5  # a and c only
