"""Whole-dataset evaluation: the hand-computed tiny dataset, bad input, and the JSON contract."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix as sk_confusion

from conftest import save_mask
from segviz import ClassTable, evaluate, open_dataset
from segviz.errors import ClassTableError

# tiny_dataset (conftest): classes road=0, car=1, person=2, void=255
#   a: gt [[0,0,1],[1,255,2]]  pred [[0,1,1],[1,0,2]]
#   b: gt [[0,0,0],[0,1,1]]    pred [[0,0,255],[0,0,1]]   (255 predicted = invalid)
EXPECTED_CM = [[4, 1, 0, 1], [1, 3, 0, 0], [0, 0, 1, 0]]  # last column: invalid predictions


def test_tiny_dataset_hand_computed(tiny_dataset):
    result = evaluate(open_dataset(tiny_dataset))
    assert result.confusion.tolist() == EXPECTED_CM
    assert result.ignored_pixels == 1 and result.invalid_pred_pixels == 1
    s = result.summary()
    assert s["pixel_accuracy"] == pytest.approx(8 / 11)
    assert s["mean_iou"] == pytest.approx((4 / 7 + 3 / 5 + 1) / 3)
    assert s["mean_pixel_accuracy"] == pytest.approx((4 / 6 + 3 / 4 + 1) / 3)
    assert s["frequency_weighted_iou"] == pytest.approx((6 * 4 / 7 + 4 * 3 / 5 + 1) / 11)
    assert s["mean_dice"] == pytest.approx((8 / 11 + 6 / 8 + 1) / 3)
    images = result.image_frame().set_index("name")
    assert images.loc["a", "pixel_accuracy"] == pytest.approx(4 / 5)
    assert images.loc["a", "mean_iou"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert images.loc["b", "mean_iou"] == pytest.approx((3 / 5 + 1 / 2) / 2)  # person absent: n/a
    assert math.isnan(images.loc["b", "iou:person"])
    assert images["ignored_pixels"].tolist() == [1, 0] and images["invalid_pred_pixels"].tolist() == [0, 1]


def test_json_contract(tiny_dataset):
    d = evaluate(open_dataset(tiny_dataset)).to_dict()
    for key in (
        "num_images",
        "pixel_accuracy",
        "mean_pixel_accuracy",
        "mean_iou",
        "frequency_weighted_iou",
        "mean_dice",
        "ignored_pixels",
        "invalid_pred_pixels",
        "classes",
        "confusion_matrix",
        "images",
        "skipped",
    ):
        assert key in d
    assert d["confusion_matrix"] == [row[:3] for row in EXPECTED_CM]
    assert d["classes"][0] == {
        "id": 0,
        "name": "road",
        "iou": pytest.approx(4 / 7),
        "accuracy": pytest.approx(4 / 6),
        "precision": pytest.approx(4 / 5),
        "dice": pytest.approx(8 / 11),
        "gt_pixels": 6,
        "pred_pixels": 5,
        "invalid_pred_pixels": 1,
    }
    assert d["images"][1] == {
        "name": "b",
        "pixel_accuracy": pytest.approx(4 / 6),
        "mean_iou": pytest.approx(0.55),
    }
    json.dumps(d, allow_nan=False)  # undefined values are null, never NaN


def test_undefined_values_are_null(tiny_dataset):
    (tiny_dataset / "classes.csv").write_text(
        "id,name,r,g,b,ignore\n0,road,1,1,1,0\n1,car,2,2,2,0\n2,person,3,3,3,0\n3,bus,4,4,4,0\n255,void,0,0,0,1\n"
    )
    d = evaluate(open_dataset(tiny_dataset)).to_dict()
    bus = d["classes"][3]
    assert bus["iou"] is None and bus["accuracy"] is None and bus["precision"] is None and bus["dice"] is None
    assert d["mean_iou_classes"] == 3


def test_per_image_matrices_sum_to_the_dataset_matrix(tiny_dataset):
    result = evaluate(open_dataset(tiny_dataset))
    assert result.image_confusions().sum(axis=0).tolist() == EXPECTED_CM
    assert result.subset([1]).confusion.tolist() == result.image_confusion(1).tolist()


def test_images_for_cell_ranks_images(tiny_dataset):
    result = evaluate(open_dataset(tiny_dataset))
    cell = result.images_for_cell(0, 1)  # road predicted as car: only in image a
    assert cell["name"].tolist() == ["a"] and cell["pixels"].tolist() == [1]
    assert cell["share_of_gt"].tolist() == [0.5]
    invalid = result.images_for_cell(0, 3)  # K=3: invalid predictions
    assert invalid["name"].tolist() == ["b"]


def test_changing_ignore_ids_refolds(tiny_dataset):
    table = ClassTable.from_csv(tiny_dataset / "classes.csv").with_ignore([255, 2])
    result = evaluate(open_dataset(tiny_dataset, classes=table))
    assert result.table.names == ("road", "car") and result.ignored_pixels == 2
    assert result.confusion.tolist() == [[4, 1, 1], [1, 3, 0]]


def test_bad_pairs_are_skipped_and_the_rest_evaluated(tiny_dataset):
    save_mask(tiny_dataset / "gt" / "size.png", np.zeros((4, 4)))
    save_mask(tiny_dataset / "pred" / "size.png", np.zeros((4, 5)))
    save_mask(tiny_dataset / "gt" / "unknown.png", np.array([[0, 9], [9, 77]]))
    save_mask(tiny_dataset / "pred" / "unknown.png", np.zeros((2, 2)))
    (tiny_dataset / "gt" / "trunc.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    save_mask(tiny_dataset / "pred" / "trunc.png", np.zeros((2, 2)))
    result = evaluate(open_dataset(tiny_dataset))
    assert result.names == ["a", "b"] and result.confusion.tolist() == EXPECTED_CM
    reasons = {p.name: p.reason for p in result.skipped}
    gt = tiny_dataset / "gt"
    assert (
        reasons["size"]
        == f"{tiny_dataset / 'pred' / 'size.png'}: size 5x4 differs from the ground truth {gt / 'size.png'} (4x4)"
    )
    assert reasons["unknown"] == (
        f"{gt / 'unknown.png'}: ground-truth values 9 (2 px), 77 (1 px) are not in the class table (ids 0..2; ignore 255)"
    )
    assert reasons["trunc"].startswith(f"{gt / 'trunc.png'}: ")


def test_rgb_prediction_with_unknown_colour_counts_invalid_and_warns(tmp_path):
    t = ClassTable.from_preset("voc")
    save_mask(tmp_path / "gt" / "x.png", np.array([[0, 1], [1, 1]]))
    save_mask(
        tmp_path / "pred" / "x.png", np.array([[[0, 0, 0], [128, 0, 0]], [[9, 9, 9], [128, 0, 0]]]), "RGB"
    )
    result = evaluate(open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=t))
    assert result.invalid_pred_pixels == 1 and result.confusion[1, 1] == 2
    assert [w.reason for w in result.warnings] == [
        f"{tmp_path / 'pred' / 'x.png'}: colour rgb(9, 9, 9) (1 px) not in the class table (counted as invalid predictions)"
    ]


def test_no_class_table_generates_one(tmp_path):
    save_mask(tmp_path / "gt" / "x.png", np.array([[3, 3], [7, 7]]))
    save_mask(tmp_path / "pred" / "x.png", np.array([[3, 7], [7, 9]]))
    result = evaluate(open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred"))
    assert result.table.names == ("class_3", "class_7", "class_9")
    assert result.confusion.tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_agrees_with_scikit_learn_on_random_masks(tmp_path):
    rng = np.random.default_rng(7)
    gts, preds = [], []
    for i in range(5):
        g = rng.integers(0, 6, (30, 40))
        p = np.where(rng.random((30, 40)) < 0.7, g, rng.integers(0, 6, (30, 40)))
        g[rng.random((30, 40)) < 0.05] = 255
        save_mask(tmp_path / "gt" / f"{i}.png", g)
        save_mask(tmp_path / "pred" / f"{i}.png", p)
        gts.append(g.ravel())
        preds.append(p.ravel())
    table = ClassTable.generated(range(6), ignore_ids=[255])
    result = evaluate(open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=table))
    g, p = np.concatenate(gts), np.concatenate(preds)
    keep = g != 255
    expected = sk_confusion(g[keep], p[keep], labels=range(6))
    assert result.confusion[:, :6].tolist() == expected.tolist()


def _tree_hash(root):
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
            h.update(str(path.stat().st_mtime_ns).encode())
    return h.hexdigest()


def test_evaluation_never_writes_into_the_dataset(tiny_dataset):
    before = _tree_hash(tiny_dataset)
    evaluate(open_dataset(tiny_dataset)).to_dict()
    assert _tree_hash(tiny_dataset) == before


def test_photo_size_mismatch_is_a_warning(tiny_dataset):
    Image.new("RGB", (9, 9)).save(tiny_dataset / "images" / "a.jpg")
    result = evaluate(open_dataset(tiny_dataset))
    assert result.num_images == 2
    assert [w.reason for w in result.warnings if w.name == "a"] == [
        f"{tiny_dataset / 'images' / 'a.jpg'}: photo size 9x9 differs from its masks (3x2)"
    ]


def test_invalid_predictions_are_named_per_file(tiny_dataset):
    """Prediction b holds 255 (not a class id): counted as wrong, and the file is named."""
    result = evaluate(open_dataset(tiny_dataset))
    invalid = [w for w in result.warnings if "not class ids" in w.reason]
    assert [(w.name, w.reason) for w in invalid] == [
        (
            "b",
            f"{tiny_dataset / 'pred' / 'b.png'}: values that are not class ids in 1 px (255: 1 px); "
            "counted as wrong predictions of their ground-truth class",
        )
    ]
    # it follows the numbers: with 0 ignored, b's 255 sits on ignored GT (not counted, no word) and
    # b's predicted 0 on GT 1 becomes invalid; a's predicted 0s all sit on ignored GT
    result = evaluate(open_dataset(tiny_dataset, ignore_ids=[255, 0]))
    assert [(w.name, w.reason.split(": ", 1)[1]) for w in result.warnings if "not class ids" in w.reason] == [
        (
            "b",
            "values that are not class ids in 1 px (0: 1 px); counted as wrong predictions of their ground-truth class",
        )
    ]
    assert result.invalid_pred_pixels == 1


def test_many_invalid_values_are_summarised(tmp_path):
    save_mask(tmp_path / "gt" / "x.png", np.zeros((4, 4)))
    save_mask(tmp_path / "pred" / "x.png", np.arange(16).reshape(4, 4) + 100)
    (tmp_path / "classes.csv").write_text("id,name,r,g,b\n0,zero,0,0,0\n")
    (warning,) = evaluate(open_dataset(tmp_path)).warnings
    assert "values that are not class ids in 16 px (100: 1 px, 101: 1 px" in warning.reason
    assert ", and 11 more)" in warning.reason


def test_generated_table_refuses_masks_that_are_not_label_maps(tmp_path):
    """A 16-bit depth map saved as a mask would make a table of thousands of classes."""
    depth = np.arange(64 * 64).reshape(64, 64)
    save_mask(tmp_path / "gt" / "x.png", np.zeros((64, 64)))
    save_mask(tmp_path / "pred" / "x.png", depth, mode="I;16")
    with pytest.raises(
        ClassTableError, match=r"4,096 distinct values, more than 2,048 classes .*pred/x\.png: 4,096 values"
    ):
        evaluate(open_dataset(tmp_path))
