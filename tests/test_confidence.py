"""Confidence: calibration, risk–coverage, the threshold explorer and bad confidence files."""

from __future__ import annotations

import itertools
import json
import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_CLASSES, save_mask
from segviz import open_dataset
from segviz.cli import main
from segviz.confidence import (
    Calibration,
    ConfidenceMap,
    aurc_from_groups,
    auroc_low_confidence,
    calibration_bins,
    confidence_levels,
    evaluate_confidence,
    image_confidence,
    optimal_aurc,
    read_confidence,
    risk_coverage_images,
)
from segviz.errors import MaskError


# ---------------------------------------------------------------------- a small dataset with confidence
def make_dataset(root: Path, *, n: int = 6, size=(12, 16), seed: int = 0, probs: bool = False) -> Path:
    """n random images with 3 classes + void, a prediction that is right ~70 % of the time, and an
    8-bit confidence map (or full uint8 probabilities) loosely tied to correctness."""
    rng = np.random.default_rng(seed)
    (root / "classes.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.csv").write_text(TINY_CLASSES)
    for i in range(n):
        gt = rng.integers(0, 3, size)
        gt[rng.random(size) < 0.05] = 255
        pred = np.where(rng.random(size) < 0.7, np.minimum(gt, 2), rng.integers(0, 3, size))
        right = pred == gt
        p_top = np.clip(np.where(right, 0.8, 0.55) + rng.normal(0, 0.15, size), 1 / 3, 1)
        save_mask(root / "gt" / f"im{i}.png", gt)
        save_mask(root / "pred" / "m" / f"im{i}.png", pred)
        if probs:
            rest = (1 - p_top) / 2
            full = np.repeat(rest[None], 3, axis=0)
            np.put_along_axis(full, pred[None], p_top[None], axis=0)
            q = np.rint(full * 255).astype(np.uint8)
            q[0] = 255 - q[1].astype(int) - q[2]  # sums to 255 exactly (class 0 takes the rounding)
            (root / "prob" / "m").mkdir(parents=True, exist_ok=True)
            np.save(root / "prob" / "m" / f"im{i}.npy", q)
        else:
            save_mask(root / "conf" / "m" / f"im{i}.png", np.rint(p_top * 255))
    return root


def brute_force(root: Path, model: str = "m", bins: int = 15):
    """Every non-ignored pixel's (confidence integer v, correct, gt, pred, image) with plain Pillow
    reads — no segviz code."""
    rows = []
    for i, gt_path in enumerate(sorted((root / "gt").glob("*.png"))):
        gt = np.asarray(Image.open(gt_path)).astype(int)
        pred = np.asarray(Image.open(root / "pred" / model / gt_path.name)).astype(int)
        conf = np.asarray(Image.open(root / "conf" / model / gt_path.name)).astype(int)
        keep = gt != 255
        rows.append(
            np.stack([conf[keep], gt[keep] == pred[keep], gt[keep], pred[keep], np.full(keep.sum(), i)], 1)
        )
    return np.concatenate(rows)


def exact_bin_lut(bins: int, top: int = 255) -> np.ndarray:
    """Bin of v/top with exact fractions: the b with (b-1)/B < v/top <= b/B (0-based), 0 → 0."""
    lut = np.zeros(top + 1, dtype=int)
    for v in range(top + 1):
        x = Fraction(v, top)
        lut[v] = (
            0 if v == 0 else next(b for b in range(bins) if Fraction(b, bins) < x <= Fraction(b + 1, bins))
        )
    return lut


def brute_calibration(conf_v: np.ndarray, correct: np.ndarray, bins: int = 15):
    lut = exact_bin_lut(bins)
    b = lut[conf_v]
    gaps, weights = [], []
    for k in range(bins):
        sel = b == k
        if sel.any():
            gaps.append(abs(correct[sel].mean() - (conf_v[sel] / 255).mean()))
            weights.append(sel.sum())
    gaps, weights = np.array(gaps), np.array(weights)
    return (gaps * weights).sum() / weights.sum(), gaps.mean(), gaps.max()


# ---------------------------------------------------------------------- the reference on real data
@pytest.mark.shared_data
def test_camvid_tinyfcn_calibration_reference(shared_data):
    """Pins shared/data/README.md "Calibration reference" (camvid-val / tinyfcn, 15 bins)."""
    result = evaluate_confidence(open_dataset(shared_data / "camvid-val", model="tinyfcn"))
    cal = result.calibration()
    assert cal.pixels == 17_155_529
    assert cal.ece == pytest.approx(0.0081307, abs=5e-8)
    assert cal.ace == pytest.approx(0.0149096, abs=5e-8)
    assert cal.mce == pytest.approx(0.0379449, abs=5e-8)
    assert result.has_confidence.all() and result.warnings == []
    # the same evaluation as without confidence (reference mIoU 0.60408)
    assert result.evaluation.summary()["mean_iou"] == pytest.approx(0.60408, abs=5e-6)


@pytest.mark.shared_data
def test_camvid_against_an_independent_brute_force(shared_data):
    root = shared_data / "camvid-val"
    result = evaluate_confidence(open_dataset(root, model="tinyfcn"))
    names = result.evaluation.names[:12]
    conf_v, correct, per_image = [], [], []
    for name in names:
        gt = np.asarray(Image.open(root / "gt" / f"{name}.png")).astype(int)
        pred = np.asarray(Image.open(root / "pred" / "tinyfcn" / f"{name}.png")).astype(int)
        conf = np.asarray(Image.open(root / "conf" / "tinyfcn" / f"{name}.png")).astype(int)
        keep = gt != 11  # CamVid: 11 = Unlabelled (ignored)
        conf_v.append(conf[keep])
        correct.append(gt[keep] == pred[keep])
        per_image.append(brute_calibration(conf[keep], correct[-1])[0])
    ece, ace, mce = brute_calibration(np.concatenate(conf_v), np.concatenate(correct))
    cal = result.calibration(images=range(12))
    assert (cal.ece, cal.ace, cal.mce) == pytest.approx((ece, ace, mce), abs=1e-12)
    assert result.image_frame()["ece"].to_numpy()[:12] == pytest.approx(per_image, abs=1e-12)
    # AUROC of low confidence vs wrong, against scikit-learn on the same pixels
    from sklearn.metrics import roc_auc_score

    rc = result.risk_coverage(images=range(12))
    wrong = ~np.concatenate(correct)
    assert rc.auroc == pytest.approx(roc_auc_score(wrong, -np.concatenate(conf_v)), abs=1e-12)


# ---------------------------------------------------------------------- hand-computed cases
def test_calibration_hand_computed():
    # 4 pixels, 2 bins: v=0 (wrong) → bin 0; v=128 (right), 255 (right), 255 (wrong) → bin 1
    cmap = ConfidenceMap("u8", np.array([[255, 255, 128, 0]], np.uint8))
    gt = np.array([[0, 0, 0, 0]])
    pred = np.array([[0, 1, 0, 1]])
    s = image_confidence("x", gt, pred, cmap, 2, bins=2)
    cal = _calibration_of(s, 2)
    gap1 = abs(2 / 3 - (2 + 128 / 255) / 3)
    assert cal.count.tolist() == [1, 3] and cal.correct.tolist() == [0, 2]
    assert cal.ece == pytest.approx((128 / 255) / 4, abs=1e-15)
    assert cal.ace == pytest.approx(gap1 / 2, abs=1e-15)
    assert cal.mce == pytest.approx(gap1, abs=1e-15)
    detail = cal.to_dict()["bins_detail"]
    assert detail[0] == {"lo": 0.0, "hi": 0.5, "count": 1, "confidence": 0.0, "accuracy": 0.0}


def _calibration_of(s, bins):
    from segviz.confidence import calibration_from_rows

    return calibration_from_rows(s.bin, s.gt == s.pred, s.count, s.conf_sum, bins)


def test_empty_bins_are_undefined_not_zero():
    cal = Calibration(np.array([0, 2]), np.array([0, 1]), np.array([0.0, 1.8]))
    assert math.isnan(cal.accuracy[0]) and cal.to_dict()["bins_detail"][0]["accuracy"] is None
    assert cal.ace == pytest.approx(0.4) and cal.mce == pytest.approx(0.4)
    assert math.isnan(Calibration(np.zeros(3, int), np.zeros(3, int), np.zeros(3)).ece)


@pytest.mark.parametrize("bins", [1, 2, 7, 10, 15, 20])
def test_integer_bins_are_exact_at_the_edges(bins):
    v = np.arange(256)
    assert calibration_bins(v.astype(np.uint8), "u8", bins=bins).tolist() == exact_bin_lut(bins).tolist()
    v16 = np.array([0, 1, 4369, 4370, 65534, 65535, *range(0, 65536, 997)])
    exact = [
        0
        if x == 0
        else next(b for b in range(bins) if Fraction(b, bins) < Fraction(x, 65535) <= Fraction(b + 1, bins))
        for x in v16
    ]
    assert calibration_bins(v16.astype(np.uint16), "u16", bins=bins).tolist() == exact


def test_reference_bin_edges():
    # 15 bins: v = 17 is exactly 1/15 (first bin), v = 18 the second; v = 0 the first
    assert calibration_bins(np.array([0, 17, 18, 34, 35, 255], np.uint8), "u8").tolist() == [
        0,
        0,
        1,
        1,
        2,
        14,
    ]
    assert calibration_bins(np.array([1 / 15, 2 / 15, 0.0]), "float").tolist() == [0, 1, 0]


def test_levels_of_16_bit_and_float_maps_are_exact_on_the_grid():
    v = np.arange(65536)
    exact = [
        max(j for j in range(256) if Fraction(j, 255) <= Fraction(int(x), 65535)) for x in v[:: 257 * 7 + 3]
    ]
    assert confidence_levels(v[:: 257 * 7 + 3].astype(np.uint16), "u16").tolist() == exact
    grid = np.arange(256) / 255
    assert confidence_levels(grid, "float").tolist() == list(range(256))
    assert confidence_levels(np.nextafter(grid[1:], 0), "float").tolist() == list(range(255))


# ---------------------------------------------------------------------- risk–coverage
def _brute_aurc(conf: np.ndarray, wrong: np.ndarray) -> float:
    """Mean over every ordering consistent with the confidence ranking (ties in all orders) of the
    mean prefix risk."""
    order = np.argsort(-conf, kind="stable")
    groups = [list(g) for _, g in itertools.groupby(order, key=lambda i: conf[i])]
    totals = []
    for perm in itertools.product(*(itertools.permutations(g) for g in groups)):
        seq = [i for g in perm for i in g]
        w = np.cumsum(wrong[seq])
        totals.append(np.mean(w / np.arange(1, len(seq) + 1)))
    return float(np.mean(totals))


@pytest.mark.parametrize("seed", range(6))
def test_aurc_with_ties_matches_the_average_over_all_tie_orders(seed):
    rng = np.random.default_rng(seed)
    n = 7
    conf = rng.integers(0, 3, n)  # many ties
    wrong = rng.random(n) < 0.4
    levels = np.arange(2, -1, -1)
    count = np.array([(conf == lv).sum() for lv in levels])
    errors = np.array([(wrong & (conf == lv)).sum() for lv in levels])
    assert aurc_from_groups(count, errors) == pytest.approx(_brute_aurc(conf, wrong), abs=1e-12)
    # the oracle: every correct sample first
    best = np.sort(wrong)  # False (correct) first
    assert optimal_aurc(n, int(wrong.sum())) == pytest.approx(
        np.mean(np.cumsum(best) / np.arange(1, n + 1)), abs=1e-12
    )


def test_aurc_without_ties_is_the_mean_prefix_risk():
    wrong = np.array([0, 1, 0, 1, 1])
    assert aurc_from_groups(np.ones(5), wrong) == pytest.approx(np.mean(np.cumsum(wrong) / np.arange(1, 6)))


def test_auroc_against_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    level = rng.integers(0, 256, 5000)
    wrong = rng.random(5000) < 0.1 + 0.6 * (level < 100)
    right_by = np.bincount(level[~wrong], minlength=256)
    wrong_by = np.bincount(level[wrong], minlength=256)
    assert auroc_low_confidence(right_by, wrong_by) == pytest.approx(roc_auc_score(wrong, -level), abs=1e-12)


def test_image_risk_coverage_hand_computed():
    rc = risk_coverage_images(np.array([0.5, 0.9, 0.7]), np.array([10, 10, 20]), np.array([5, 0, 2]))
    # order: 0.9 (0/10), 0.7 (2/20), 0.5 (5/10): risks 0, 2/30, 7/40
    assert rc.risk.tolist() == pytest.approx([0, 2 / 30, 7 / 40])
    assert rc.aurc == pytest.approx((0 + 2 / 30 + 7 / 40) / 3)
    assert rc.e_aurc == pytest.approx(0.0)  # the confidence order is the oracle's order


# ---------------------------------------------------------------------- dataset level, brute force
def test_dataset_calibration_and_explorer_against_brute_force(tmp_path):
    root = make_dataset(tmp_path / "ds")
    result = evaluate_confidence(open_dataset(root, model="m"))
    px = brute_force(root)
    conf_v, correct, gt, pred, image = px.T
    ece, ace, mce = brute_calibration(conf_v, correct.astype(bool))
    cal = result.calibration()
    assert cal.pixels == len(px)
    assert (cal.ece, cal.ace, cal.mce) == pytest.approx((ece, ace, mce), abs=1e-12)
    # a subset, folded from the per-image rows
    sub = image < 3
    assert result.calibration(images=[0, 1, 2]).ece == pytest.approx(
        brute_calibration(conf_v[sub], correct[sub].astype(bool))[0], abs=1e-12
    )
    # calibration of the pixels predicted as class 1
    one = pred == 1
    assert result.calibration(pred_class=1).ece == pytest.approx(
        brute_calibration(conf_v[one], correct[one].astype(bool))[0], abs=1e-12
    )
    explorer = result.threshold_explorer()
    for t in (0.0, 0.3, 100 / 255, 0.5, 0.77, 0.9, 1.0):
        kept = conf_v / 255 >= t - 1e-12
        cm = np.zeros((3, 4), dtype=np.int64)
        np.add.at(cm, (gt[kept], pred[kept]), 1)
        at = explorer.at(t)
        assert at["kept"] == kept.sum() and at["kept_share"] == pytest.approx(kept.mean())
        ok = kept & (gt == pred)
        assert at["summary"]["pixel_accuracy"] == pytest.approx(
            ok.sum() / kept.sum() if kept.any() else np.nan, nan_ok=True
        )
        iou = [
            cm[c, c] / (cm[c].sum() + cm[:, c].sum() - cm[c, c]) if cm[c].sum() + cm[:, c].sum() else np.nan
            for c in range(3)
        ]
        assert at["classes"]["iou"] == pytest.approx(iou, nan_ok=True)
    best = explorer.best_thresholds()
    curve = explorer.curve()
    for c in range(3):
        assert best["iou"][c] == pytest.approx(np.nanmax(curve["iou"][:, c]))
    # risk–coverage over pixels: the curve's last point is the whole set
    rc = result.risk_coverage()
    assert rc.coverage[-1] == 1.0 and rc.risk[-1] == pytest.approx(1 - correct.mean())
    assert rc.aurc > rc.optimal and rc.e_aurc == pytest.approx(rc.aurc - rc.optimal)


def test_class_thresholds_are_mean_confidence_of_correct_predictions(tmp_path):
    root = make_dataset(tmp_path / "ds")
    result = evaluate_confidence(open_dataset(root, model="m"))
    conf_v, _, gt, pred, _ = brute_force(root).T
    for c in range(3):
        mine = (gt == c) & (pred == c)
        assert result.class_thresholds()[c] == pytest.approx((conf_v[mine] / 255).mean(), abs=1e-12)


# ---------------------------------------------------------------------- probabilities
def test_full_probabilities_classwise_ece_against_brute_force(tmp_path):
    root = make_dataset(tmp_path / "ds", probs=True, n=4)
    result = evaluate_confidence(open_dataset(root, model="m"))
    assert result.has_probabilities and result.warnings == []
    probs, gts = [], []
    for i in range(4):
        q = np.load(root / "prob" / "m" / f"im{i}.npy").astype(int)
        gt = np.asarray(Image.open(root / "gt" / f"im{i}.png")).astype(int)
        keep = gt != 255
        probs.append(q[:, keep])
        gts.append(gt[keep])
    q, gt = np.concatenate(probs, axis=1), np.concatenate(gts)
    per = [brute_calibration(q[c], gt == c)[0] for c in range(3)]
    cw = result.classwise_ece()
    assert cw["per_class"] == pytest.approx(per, abs=1e-12)
    assert cw["mean"] == pytest.approx(np.mean(per), abs=1e-12)
    # the top-1 confidence of uint8 probabilities is their max / 255, as for an 8-bit map
    top = q.max(axis=0)
    pred = np.concatenate(
        [
            np.asarray(Image.open(root / "pred" / "m" / f"im{i}.png")).astype(int)[
                np.asarray(Image.open(root / "gt" / f"im{i}.png")) != 255
            ]
            for i in range(4)
        ]
    )
    assert result.calibration().ece == pytest.approx(brute_calibration(top, pred == gt)[0], abs=1e-12)
    frame = result.image_frame()
    assert frame["mean_entropy"].between(0, 1).all() and frame["mean_margin"].between(0, 1).all()


def test_logits_from_meta_json_and_flag(tmp_path):
    logits = np.array([[[2.0, 0.0]], [[0.0, 1.0]], [[-1.0, 1.0]]])  # K=3, 1×2
    path = tmp_path / "x.npy"
    np.save(path, logits)
    with pytest.raises(MaskError, match=r"x\.npy: probabilities outside \[0, 1\].*logits\? pass --logits"):
        read_confidence(path, num_classes=3)
    cmap = read_confidence(path, num_classes=3, logits=True)
    e = np.exp(logits)
    p = e / e.sum(axis=0)
    assert cmap.top() == pytest.approx(p.max(axis=0))
    assert cmap.margin() == pytest.approx(np.sort(p, axis=0)[-1] - np.sort(p, axis=0)[-2], abs=1e-6)
    ent = -(p * np.log(p)).sum(axis=0) / np.log(3)
    assert cmap.entropy() == pytest.approx(ent, abs=1e-6)
    # an .npz array named "logits" states it
    np.savez(tmp_path / "y.npz", logits=logits)
    assert read_confidence(tmp_path / "y.npz", num_classes=3).top() == pytest.approx(p.max(axis=0))


def test_logits_via_meta_json_in_a_dataset(tmp_path):
    root = make_dataset(tmp_path / "ds", probs=True, n=2)
    for f in (root / "prob" / "m").glob("*.npy"):
        q = np.load(f).astype(np.float64) / 255
        np.save(f, np.log(np.maximum(q, 1e-9)) + 3.0)  # logits: softmax gives q back
    with_meta = evaluate_confidence(open_dataset(root, model="m"), logits=None)
    assert not with_meta.has_confidence.any()  # read as probabilities: refused, with a reason
    assert all("logits?" in w.reason for w in with_meta.warnings)
    (root / "prob" / "m" / "meta.json").write_text(json.dumps({"logits": True}))
    result = evaluate_confidence(open_dataset(root, model="m"))
    assert result.has_confidence.all() and result.warnings == []


# ---------------------------------------------------------------------- bad input
def test_bad_confidence_files_are_warnings_naming_the_file(tmp_path):
    root = make_dataset(tmp_path / "ds", n=6)
    conf = root / "conf" / "m"
    (conf / "im0.png").unlink()  # missing
    save_mask(conf / "im1.png", np.zeros((5, 5)))  # another size
    (conf / "im2.png").write_bytes(b"not a png")  # unreadable
    Image.new("RGB", (16, 12)).save(conf / "im3.png")  # colour
    result = evaluate_confidence(open_dataset(root, model="m"))
    assert result.evaluation.num_images == 6  # every image is still evaluated
    assert result.has_confidence.tolist() == [False, False, False, False, True, True]
    reasons = {w.name: w.reason for w in result.warnings}
    assert "no confidence map" in reasons["im0"]
    assert str(conf / "im1.png") in reasons["im1"] and "confidence size 5x5 differs" in reasons["im1"]
    assert str(conf / "im2.png") in reasons["im2"]
    assert "mode 'RGB'" in reasons["im3"]
    assert result.calibration().pixels == sum(s.count.sum() for s in result.images if s is not None)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((4, 2, 2), 0.25, np.float32), r"4 probability channels, but the class table has 3"),
        (np.full((3, 2, 2), np.nan, np.float32), r"12 values are NaN or infinite"),
        (np.full((3, 2, 2), 0.5, np.float32), r"probabilities do not sum to 1"),
        (np.full((3, 2, 2), 1.5, np.float32), r"probabilities outside \[0, 1\] \(min 1.5, max 1.5\)"),
        (np.full((2, 2), 0.5, np.float32), r"probabilities must be a K×H×W array \(got shape \(2, 2\)\)"),
        (np.full((3, 2, 2), 1, np.int32), r"probabilities must be float or uint8 \(got dtype int32\)"),
    ],
    ids=["wrong-k", "nan", "sum", "outside", "2d", "int32"],
)
def test_bad_probability_files_name_the_file(tmp_path, array, message):
    path = tmp_path / "p.npy"
    np.save(path, array)
    with pytest.raises(MaskError, match=r"p\.npy: " + message):
        read_confidence(path, num_classes=3)


def test_bad_probabilities_in_a_dataset_leave_the_rest_evaluated(tmp_path):
    root = make_dataset(tmp_path / "ds", probs=True, n=3)
    np.save(root / "prob" / "m" / "im1.npy", np.full((3, 12, 16), np.nan, np.float32))
    result = evaluate_confidence(open_dataset(root, model="m"))
    assert result.has_confidence.tolist() == [True, False, True]
    assert "im1.npy: 576 values are NaN" in result.warnings[0].reason
    assert not result.has_probabilities or result.classwise_ece() is not None


# ---------------------------------------------------------------------- command line
def test_cli_evaluate_confidence_json(tmp_path, capsys):
    root = make_dataset(tmp_path / "ds")
    out = tmp_path / "r.json"
    assert (
        main(["evaluate", str(root), "--model", "m", "--confidence", "--json", str(out), "--no-store"]) == 0
    )
    data = json.loads(out.read_text())
    result = evaluate_confidence(open_dataset(root, model="m"))
    cal = data["calibration"]
    assert cal["bins"] == 15 and cal["ece"] == pytest.approx(result.calibration().ece)
    assert set(cal) >= {"bins", "ece", "ace", "mce", "bins_detail"}
    assert set(cal["bins_detail"][0]) == {"lo", "hi", "count", "confidence", "accuracy"}
    assert sum(b["count"] for b in cal["bins_detail"]) == result.calibration().pixels
    assert data["risk_coverage"]["aurc"] == pytest.approx(result.risk_coverage().aurc)
    assert data["risk_coverage"]["e_aurc"] == pytest.approx(result.risk_coverage().e_aurc)
    assert "ece" in data["images"][0] and data["mean_iou"] == pytest.approx(
        result.evaluation.summary()["mean_iou"]
    )
    assert "ECE / ACE / MCE" in capsys.readouterr().out


def test_cli_missing_confidence_exits_1_and_names_the_file(tmp_path, capsys):
    root = make_dataset(tmp_path / "ds", n=3)
    (root / "conf" / "m" / "im2.png").unlink()
    assert main(["evaluate", str(root), "--model", "m", "--confidence", "--no-store", "--quiet"]) == 1
    assert "im2.png: no confidence map in" in capsys.readouterr().err


def test_cli_confidence_refuses_dask(tmp_path, capsys):
    root = make_dataset(tmp_path / "ds", n=2)
    assert main(["evaluate", str(root), "--model", "m", "--confidence", "--dask", "tcp://x:1"]) == 2
    assert "--dask cannot be combined with confidence" in capsys.readouterr().err


# ---------------------------------------------------------------------- the bundled sample data
def test_sample_data_has_confidence_for_both_models_and_probabilities_for_one():
    from conftest import ROOT

    sample = ROOT / "sample_data"
    for model, probs in (("baseline", False), ("candidate", True)):
        result = evaluate_confidence(open_dataset(sample, model=model))
        assert result.warnings == [] and result.has_confidence.all() and len(result.images) == 24
        assert result.has_probabilities is probs
        cal = result.calibration()
        assert cal.pixels == result.evaluation.summary()["evaluated_pixels"]
        assert 0.005 < cal.ece < 0.2 and result.risk_coverage().auroc > 0.8  # realistic, not perfect
    # the baseline is simulated overconfident: mean confidence above its accuracy
    cal = evaluate_confidence(open_dataset(sample, model="baseline")).calibration()
    assert cal.confidence_overall > cal.accuracy_overall


def test_report_has_a_calibration_section_only_with_confidence():
    import html as html_lib

    from conftest import ROOT
    from segviz.report import build_report

    result = evaluate_confidence(open_dataset(ROOT / "sample_data", model="baseline"))
    kwargs = dict(title="t", dataset="sample_data", model="baseline", resamples=20, worst=0)
    with_conf = build_report(result.evaluation, confidence=result, **kwargs)
    assert '<section id="calibration"' in with_conf
    assert html_lib.escape(result.calibration().sentence()) in with_conf
    assert "it is overconfident" in result.calibration().sentence()
    assert '<section id="calibration"' not in build_report(result.evaluation, **kwargs)


# ---------------------------------------------------------------------- the confidence cache
def test_second_run_reads_no_file_and_a_changed_map_is_recomputed(tmp_path, monkeypatch):
    import segviz.confidence as confidence_module
    from segviz.store import ResultsStore

    root = make_dataset(tmp_path / "ds", n=4)
    store = ResultsStore(tmp_path / "store")
    first = evaluate_confidence(open_dataset(root, model="m"), store=store)
    reads = []
    original = confidence_module.count_pair_arrays
    monkeypatch.setattr(
        confidence_module, "count_pair_arrays", lambda *a, **k: reads.append(a[0].name) or original(*a, **k)
    )
    second = evaluate_confidence(open_dataset(root, model="m"), store=store)
    assert reads == []
    assert second.calibration().ece == first.calibration().ece
    assert second.calibration().confidence_sum.tolist() == first.calibration().confidence_sum.tolist()
    assert (second.evaluation.confusion == first.evaluation.confusion).all()
    # a changed confidence map: that image alone is read again, and its new values are used
    save_mask(root / "conf" / "m" / "im2.png", np.full((12, 16), 255))
    os_time = (root / "conf" / "m" / "im2.png").stat().st_mtime_ns + 10**9
    os.utime(root / "conf" / "m" / "im2.png", ns=(os_time, os_time))
    third = evaluate_confidence(open_dataset(root, model="m"), store=store)
    assert reads == ["im2"]
    assert third.images[2].level.min() == 255 and third.calibration().ece != first.calibration().ece
    # other bins: recomputed, not served from the 15-bin cache
    reads.clear()
    assert evaluate_confidence(open_dataset(root, model="m"), store=store, bins=10).bins == 10
    assert sorted(reads) == ["im0", "im1", "im2", "im3"]


def test_a_corrupt_cache_is_ignored(tmp_path):
    from segviz.store import ResultsStore

    root = make_dataset(tmp_path / "ds", n=3)
    store = ResultsStore(tmp_path / "store")
    first = evaluate_confidence(open_dataset(root, model="m"), store=store)
    for f in (tmp_path / "store" / "confidence").glob("*.npz"):
        f.write_bytes(b"garbage")
    again = evaluate_confidence(open_dataset(root, model="m"), store=store)
    assert again.calibration().ece == first.calibration().ece and again.has_confidence.all()


def test_16_bit_confidence_maps_against_exact_fractions(tmp_path):
    root = make_dataset(tmp_path / "ds", n=3)
    rng = np.random.default_rng(7)
    values = {}
    for f in sorted((root / "conf" / "m").glob("*.png")):
        v8 = np.asarray(Image.open(f)).astype(np.int64)
        v16 = np.clip(v8 * 257 + rng.integers(-200, 200, v8.shape), 0, 65535)
        v16[0, :4] = [4369, 4370, 0, 65535]  # 1/15 exactly, just above, 0, 1
        save_mask(f, v16, mode="I;16")
        values[f.stem] = v16
    result = evaluate_confidence(open_dataset(root, model="m"))
    assert result.warnings == [] and {s.source for s in result.images} == {"u16"}
    conf_v, correct = [], []
    for name, v16 in values.items():
        gt = np.asarray(Image.open(root / "gt" / f"{name}.png")).astype(int)
        pred = np.asarray(Image.open(root / "pred" / "m" / f"{name}.png")).astype(int)
        keep = gt != 255
        conf_v.append(v16[keep])
        correct.append(gt[keep] == pred[keep])
    v, ok = np.concatenate(conf_v), np.concatenate(correct)
    b = np.array(
        [
            0
            if x == 0
            else next(
                k for k in range(15) if Fraction(k, 15) < Fraction(int(x), 65535) <= Fraction(k + 1, 15)
            )
            for x in v
        ]
    )
    n = np.bincount(b, minlength=15)
    gaps = [abs(ok[b == k].mean() - (v[b == k] / 65535).mean()) for k in range(15) if n[k]]
    assert result.calibration().count.tolist() == n.tolist()
    assert result.calibration().ece == pytest.approx(
        sum(g * w for g, w in zip(gaps, n[n > 0], strict=True)) / n.sum(), abs=1e-12
    )
    # thresholds on the 8-bit grid are exact for 16-bit maps: keep v ≥ 257·j
    explorer = result.threshold_explorer()
    for j in (0, 1, 100, 200, 255):
        assert explorer.at(j / 255)["kept"] == int((v >= 257 * j).sum())


def test_calibration_by_class_and_classwise_columns():
    from conftest import ROOT

    result = evaluate_confidence(open_dataset(ROOT / "sample_data", model="candidate"))
    frame = result.class_calibration_frame()
    names = list(result.evaluation.table.names)
    assert frame["name"].tolist() == names
    assert frame["pixels"].sum() == result.calibration().pixels  # every pixel has one predicted class
    road = names.index("road")
    assert frame.loc[road, "ece"] == pytest.approx(result.calibration(pred_class=road).ece)
    assert frame["classwise_ece"].notna().all()
    assert frame["classwise_ece"].mean() == pytest.approx(result.classwise_ece()["mean"])


def test_no_confidence_folder_is_a_usage_error(tmp_path, capsys):
    root = make_dataset(tmp_path / "ds", n=2)
    import shutil

    shutil.rmtree(root / "conf")
    assert main(["evaluate", str(root), "--model", "m", "--confidence", "--no-store"]) == 2
    err = capsys.readouterr().err
    assert "pred/m: no confidence beside these predictions" in err and "--conf DIR" in err
    # --conf points anywhere
    conf = make_dataset(tmp_path / "other", n=2) / "conf" / "m"
    assert (
        main(
            [
                "evaluate",
                str(root),
                "--model",
                "m",
                "--confidence",
                "--conf",
                str(conf),
                "--no-store",
                "--quiet",
            ]
        )
        == 0
    )


# ---------------------------------------------------------------------- fast paths = reference paths
@pytest.mark.parametrize("model", ["baseline", "candidate"])
def test_fast_paths_equal_the_reference_per_image_reduction(model):
    """The pass uses image_confidence_raw (bytes counted by the C/numba kernel; uint8 probabilities
    from lookup tables); image_confidence on class indices (and float probabilities) is the plain
    numpy reference."""
    from conftest import ROOT
    from segviz.confidence import image_confidence_raw
    from segviz.evaluate import count_pair_arrays
    from segviz.overlay import class_indices

    ds = open_dataset(ROOT / "sample_data", model=model)
    table = ds.table
    for pair in ds.pairs[:4]:
        _, gt, pred = count_pair_arrays(pair, table)
        kind, ext = ("conf", "png") if model == "baseline" else ("prob", "npz")
        cmap = read_confidence(ROOT / "sample_data" / kind / model / f"{pair.name}.{ext}", num_classes=19)
        fast = image_confidence_raw(pair.name, gt, pred, cmap, table)
        cmap.raw = None  # the reference: float32 probabilities, per-class loop
        gi, pi = class_indices(gt, table, kind="gt"), class_indices(pred, table, kind="pred")
        ref = image_confidence(pair.name, gi, pi, cmap, 19)
        for f in ("level", "bin", "gt", "pred", "count", "level_hist"):
            assert getattr(fast, f).tolist() == getattr(ref, f).tolist(), f
        assert fast.conf_sum == pytest.approx(ref.conf_sum, abs=1e-9)
        assert fast.mean_all == pytest.approx(ref.mean_all, abs=1e-12)
        if model == "candidate":
            assert fast.entropy_mean == pytest.approx(ref.entropy_mean, abs=1e-6)
            assert fast.margin_mean == pytest.approx(ref.margin_mean, abs=1e-6)
            assert fast.classwise == pytest.approx(ref.classwise, rel=1e-12)
            assert fast.self_conf == pytest.approx(ref.self_conf, rel=1e-12)


@pytest.mark.parametrize("k", [3, 150])  # 150 classes: the sparse (np.unique) path
def test_image_rows_against_a_counter(k):
    from collections import Counter

    rng = np.random.default_rng(k)
    gt = rng.integers(0, k + 1, (40, 50))  # k = ignored
    pred = rng.integers(0, k + 1, (40, 50))  # k = invalid prediction
    v = rng.integers(0, 256, (40, 50)).astype(np.uint8)
    s = image_confidence("x", gt, pred, ConfidenceMap("u8", v), k, bins=15)
    lut = exact_bin_lut(15)
    expected = Counter(
        (int(a), int(lut[a]), int(g), int(p))
        for a, g, p in zip(v.ravel(), gt.ravel(), pred.ravel(), strict=True)
        if g < k
    )
    got = {
        (int(a), int(b), int(g), int(p)): int(c)
        for a, b, g, p, c in zip(s.level, s.bin, s.gt, s.pred, s.count, strict=True)
    }
    assert got == dict(expected)
    assert s.conf_sum == pytest.approx([c * a / 255 for (a, _, _, _), c in got.items()])
    assert s.level_hist.tolist() == np.bincount(v.ravel(), minlength=256).tolist()


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_probability_file_of_another_size_is_refused_from_its_header(tmp_path, suffix):
    root = make_dataset(tmp_path / "ds", probs=True, n=2)
    (root / "prob" / "m" / "im1.npy").unlink()
    wrong = np.full((3, 5, 7), 85, np.uint8)
    if suffix == ".npy":
        np.save(root / "prob" / "m" / "im1.npy", wrong)
    else:
        np.savez_compressed(root / "prob" / "m" / "im1.npz", probs=wrong)
    result = evaluate_confidence(open_dataset(root, model="m"))
    assert result.has_confidence.tolist() == [True, False]
    assert f"im1{suffix}: probabilities of shape (3, 5, 7), expected (3, 12, 16)" in result.warnings[0].reason
