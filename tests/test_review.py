"""Likely label errors and what to label next."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import TINY_CLASSES, save_mask
from segviz import open_dataset
from segviz.cli import main
from segviz.confidence import evaluate_confidence
from segviz.review import (
    HYPOTHESIS,
    cross_validated,
    find_label_errors,
    flag_probabilities,
    flag_top1,
    rank_next,
    regions_of,
    ridge_fit,
)


def mislabelled_dataset(root):
    """Two 20×20 images: road everywhere, predicted road with confidence 0.9. Image a has a 5×5
    block labelled car where the model says road with confidence 0.95 (a likely label error) and a
    3×3 block labelled car where it says road with only 0.6 (not confident: not flagged)."""
    root.mkdir(parents=True)
    (root / "classes.csv").write_text(TINY_CLASSES)
    for name in ("a", "b"):
        gt = np.zeros((20, 20), np.uint8)
        pred = np.zeros((20, 20), np.uint8)
        conf = np.full((20, 20), 230, np.uint8)  # round(0.9 · 255)
        if name == "a":
            gt[2:7, 3:8] = 1
            conf[2:7, 3:8] = 242  # round(0.95 · 255)
            gt[12:15, 12:15] = 1
            conf[12:15, 12:15] = 153  # 0.6
        else:
            gt[0, :] = 255  # ignored row
            pred[10:12, 10:12] = 1  # a right-labelled car the model misses the other way
            gt[10:12, 10:12] = 0
            conf[10:12, 10:12] = 100
        save_mask(root / "gt" / f"{name}.png", gt)
        save_mask(root / "pred" / "m" / f"{name}.png", pred)
        save_mask(root / "conf" / "m" / f"{name}.png", conf)
    return root


def test_flag_rules_hand_computed():
    gt = np.array([[0, 1, 1, 255]])
    pred = np.array([[0, 0, 0, 0]])
    conf = np.array([[0.99, 0.95, 0.5, 0.99]])
    assert flag_top1(gt, pred, conf, np.array([0.9, 0.9])).tolist() == [[False, True, False, False]]
    # NaN threshold (class never predicted right): never flagged
    assert not flag_top1(gt, pred, conf, np.array([np.nan, 0.9])).any()
    probs = np.array([[[0.9, 0.6, 0.5]], [[0.1, 0.4, 0.5]]])
    flagged, label = flag_probabilities(np.array([[0, 1, 1]]), probs, np.array([0.45, 0.45]))
    # pixel 2: both classes reach their threshold; the most probable (tie → first) is 0 ≠ 1
    assert flagged.tolist() == [[False, True, True]] and label.tolist() == [[0, 0, 0]]


def test_regions_are_ranked_and_measured():
    flagged = np.zeros((6, 6), bool)
    flagged[0:2, 0:2] = True  # 4 px, confidence 0.5
    flagged[4:6, 3:6] = True  # 6 px, confidence 0.9
    flagged[3, 0] = True  # 1 px: dropped with min_pixels=2
    gt = np.zeros((6, 6), int)
    gt[5, 5] = 2
    conf = np.where(np.arange(6)[:, None] >= 3, 0.9, 0.5) * np.ones((6, 6))
    mask, regions = regions_of(flagged, gt, np.ones((6, 6), int), conf, ["a", "b", "c"], min_pixels=2)
    assert [(r.region, r.pixels) for r in regions] == [(1, 6), (2, 4)]
    assert regions[0].labelled_as == {"a": 5, "c": 1} and regions[0].model_says == "b"
    assert regions[0].bbox == (3, 4, 6, 6) and regions[0].score == pytest.approx(5.4)
    assert (mask == 1).sum() == 6 and (mask == 2).sum() == 4 and mask[3, 0] == 0


def test_label_errors_find_the_confident_disagreement(tmp_path):
    root = mislabelled_dataset(tmp_path / "ds")
    ds = open_dataset(root, model="m")
    result = evaluate_confidence(ds)
    assert result.class_thresholds()[0] == pytest.approx(230 / 255)
    queue = find_label_errors(result, ds, min_pixels=4)
    assert queue.rule == "top1"
    assert len(queue.regions) == 1
    r = queue.regions[0]
    assert (r.image, r.pixels, r.labelled_as, r.model_says) == ("a", 25, {"car": 25}, "road")
    assert r.bbox == (3, 2, 8, 7) and r.mean_confidence == pytest.approx(242 / 255)
    images = queue.image_frame()
    assert images["image"].tolist() == ["a", "b"] and images["flagged_pixels"].tolist() == [25, 0]
    assert (queue.masks["a"] == 1).sum() == 25 and queue.masks["a"][2, 3] == 1


def test_cli_label_errors_writes_the_queue(tmp_path, capsys):
    root = mislabelled_dataset(tmp_path / "ds")
    out = tmp_path / "queue"
    assert (
        main(
            ["label-errors", str(root), "--model", "m", "--out", str(out), "--min-pixels", "4", "--no-store"]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "1 regions (25 pixels) in 1 of 2 images are likely label errors" in text
    assert HYPOTHESIS in text
    regions = pd.read_csv(out / "regions.csv")
    assert regions.loc[0, ["image", "region", "pixels", "labelled_as", "model_says"]].tolist() == [
        "a",
        1,
        25,
        "car:25",
        "road",
    ]
    data = json.loads((out / "label_errors.json").read_text())
    assert data["note"] == HYPOTHESIS and data["regions"][0]["mask"] == "masks/a.png"
    mask = np.asarray(Image.open(out / "masks" / "a.png"))
    assert mask.dtype == np.uint8 and (mask == 1).sum() == 25
    assert not (out / "masks" / "b.png").exists()


def test_cli_label_errors_refuses_to_write_inside_the_dataset(tmp_path, capsys):
    root = mislabelled_dataset(tmp_path / "ds")
    for inside in (root / "review", root / "gt" / "x", root / "conf"):
        assert main(["label-errors", str(root), "--model", "m", "--out", str(inside)]) == 2
        assert "inside the dataset folder" in capsys.readouterr().err
    assert not (root / "review").exists() and not (root / "gt" / "x").exists()


# ---------------------------------------------------------------------- what to label next
def next_dataset(root, *, labelled=12, unlabelled=3, seed=1):
    """Images whose error rate rises as their confidence falls; the last ``unlabelled`` ones have
    no ground truth."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    (root / "classes.csv").write_text(TINY_CLASSES)
    for i in range(labelled + unlabelled):
        quality = rng.uniform(0.4, 0.98)
        gt = rng.integers(0, 3, (16, 16))
        pred = np.where(rng.random((16, 16)) < quality, gt, (gt + 1) % 3)
        conf = np.clip(quality + rng.normal(0, 0.1, (16, 16)), 0.34, 1)
        if i < labelled:
            save_mask(root / "gt" / f"im{i:02d}.png", gt)
        save_mask(root / "pred" / "m" / f"im{i:02d}.png", pred)
        save_mask(root / "conf" / "m" / f"im{i:02d}.png", np.rint(conf * 255))
    return root


def test_ridge_matches_scikit_learn_on_standardised_features():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4)) * [1, 10, 0.1, 3]
    y = x @ [0.5, -0.1, 2, 0.3] + rng.normal(0, 0.1, 30)
    w, b, _, _ = ridge_fit(x, y, alpha=2.0)
    ref = Ridge(alpha=2.0).fit((x - x.mean(0)) / x.std(0), y)
    assert w == pytest.approx(ref.coef_, abs=1e-10) and b == pytest.approx(ref.intercept_, abs=1e-10)
    cv = cross_validated(x, y, folds=5, alpha=2.0)
    for f in range(5):
        test = np.arange(30) % 5 == f
        xs = x[~test]
        model = Ridge(alpha=2.0).fit((xs - xs.mean(0)) / xs.std(0), y[~test])
        assert cv[test] == pytest.approx(model.predict((x[test] - xs.mean(0)) / xs.std(0)), abs=1e-10)


def test_rank_next_orders_unlabelled_images_by_expected_error(tmp_path):
    root = next_dataset(tmp_path / "ds")
    ds = open_dataset(root, model="m")
    assert {p.name for p in ds.skipped} == {"im12", "im13", "im14"}  # no ground truth: not evaluated
    result = evaluate_confidence(ds)
    ranked = rank_next(result, ds, by="model")
    assert ranked.by == "model" and ranked.labelled == 12
    auto = rank_next(result, ds)  # whichever cross-validates better
    assert auto.by == ("model" if ranked.spearman_model >= ranked.spearman_uncertainty else "uncertainty")
    assert sorted(ranked.frame["image"]) == ["im12", "im13", "im14"]
    assert ranked.frame["expected_error"].is_monotonic_decreasing
    assert ranked.frame["expected_error"].tolist() == pytest.approx(
        (1 - ranked.frame["predicted_miou"]).tolist()
    )
    # the reported rank correlation is that of the out-of-fold predictions with the true mIoU
    truth = result.evaluation.image_frame()["mean_iou"].to_numpy()
    assert -1 <= ranked.spearman_model <= 1 and ranked.spearman_uncertainty > 0.5  # confidence tracks quality
    by_unc = rank_next(result, ds, by="uncertainty")
    conf = {
        n: np.asarray(Image.open(root / "conf" / "m" / f"{n}.png")).mean() / 255
        for n in ("im12", "im13", "im14")
    }
    assert by_unc.frame["image"].tolist() == sorted(conf, key=lambda n: conf[n])
    assert by_unc.frame["mean_uncertainty"].tolist() == pytest.approx(
        [1 - conf[n] for n in by_unc.frame["image"]]
    )
    assert len(truth) == 12


def test_rank_next_needs_enough_labelled_images_for_the_model(tmp_path):
    root = next_dataset(tmp_path / "ds", labelled=4, unlabelled=2)
    ds = open_dataset(root, model="m")
    result = evaluate_confidence(ds)
    assert rank_next(result, ds).by == "uncertainty"
    with pytest.raises(
        Exception, match=r"by='model' needs at least 8 labelled images with confidence \(found 4\)"
    ):
        rank_next(result, ds, by="model")


def test_cli_next_writes_the_list(tmp_path, capsys):
    root = next_dataset(tmp_path / "ds")
    out = tmp_path / "next.csv"
    code = main(["next", str(root), "--model", "m", "--out", str(out), "--no-store"])
    assert code == 0  # the images without ground truth are the input here, not skipped samples
    captured = capsys.readouterr()
    assert "skipped" not in captured.err and "Spearman rank correlation" in captured.out
    listed = pd.read_csv(out)
    assert listed["rank"].tolist() == [1, 2, 3] and set(listed["image"]) == {"im12", "im13", "im14"}
    # evaluate still reports them as skipped
    assert main(["evaluate", str(root), "--model", "m", "--no-store", "--quiet"]) == 1


def test_an_image_with_only_ignored_pixels_exports_null_not_nan(tmp_path):
    """Regression: flagged_share of an image without valid pixels was NaN, which the JSON export
    (allow_nan=False) refused with a traceback."""
    root = mislabelled_dataset(tmp_path / "ds")
    save_mask(root / "gt" / "b.png", np.full((20, 20), 255))
    assert main(["label-errors", str(root), "--model", "m", "--out", str(tmp_path / "q"), "--no-store"]) == 0
    data = json.loads((tmp_path / "q" / "label_errors.json").read_text())
    b = next(i for i in data["images"] if i["image"] == "b")
    assert b["flagged_share"] is None and b["flagged_pixels"] == 0


def test_cli_unwritable_output_is_a_message_not_a_traceback(tmp_path, capsys):
    root = mislabelled_dataset(tmp_path / "ds")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["label-errors", str(root), "--model", "m", "--out", str(blocker / "q"), "--no-store"]) == 2
    err = capsys.readouterr().err  # refused before any work, by the one output rule
    assert err.startswith("segviz: error: --out") and str(blocker) in err and "Traceback" not in err


def test_label_error_csvs_neutralise_formula_names(tmp_path):
    """Regression (issue 11, item 10): the review queue's images.csv and regions.csv wrote image
    names raw, so a file named '=1+2' became a spreadsheet formula; JSON keeps the name unchanged."""
    root = mislabelled_dataset(tmp_path / "ds")
    for part in ("gt", "pred/m", "conf/m"):
        (root / part / "a.png").rename(root / part / "=1+2.png")
    out = tmp_path / "q"
    assert main(["label-errors", str(root), "--model", "m", "--out", str(out), "--no-store"]) == 0
    for csv_name in ("images.csv", "regions.csv"):
        text = (out / csv_name).read_text()
        assert "'=1+2" in text and "\n=1+2" not in text and not text.startswith("=1+2"), text
    data = json.loads((out / "label_errors.json").read_text())
    assert any(i["image"] == "=1+2" for i in data["images"])
