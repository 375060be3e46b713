"""Finding and pairing a dataset's files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import save_mask
from segviz.dataset import list_models, open_dataset, sample_key
from segviz.errors import DatasetError


@pytest.mark.parametrize(
    ("relative", "key"),
    [
        ("a.png", "a"),
        ("city/x_leftImg8bit.png", "city/x"),
        ("city/x_gtFine_labelIds.png", "city/x"),
        ("city/x_gtFine_labelTrainIds.png", "city/x"),
        ("0001TP_006690_L.png", "0001TP_006690"),
        ("name with spaces é.png", "name with spaces é"),
    ],
)
def test_sample_key_strips_known_suffixes(relative, key):
    assert sample_key(relative) == key


def test_pairs_by_stem_and_reports_missing_partners(tiny_dataset):
    save_mask(tiny_dataset / "pred" / "only_pred.png", np.zeros((2, 3)))
    save_mask(tiny_dataset / "gt" / "only_gt.png", np.zeros((2, 3)))
    ds = open_dataset(tiny_dataset)
    assert [p.name for p in ds.pairs] == ["a", "b"]
    reasons = {p.name: p.reason for p in ds.skipped}
    assert reasons["only_pred"].endswith("only_pred.png: no ground-truth mask in " + str(tiny_dataset / "gt"))
    assert reasons["only_gt"].endswith("only_gt.png: no prediction in " + str(tiny_dataset / "pred"))


def test_pair_without_photo_is_evaluated_with_a_warning(tiny_dataset):
    (tiny_dataset / "images" / "b.jpg").unlink()
    ds = open_dataset(tiny_dataset)
    assert [p.name for p in ds.pairs] == ["a", "b"] and ds.pairs[1].image_path is None
    assert [w.reason for w in ds.warnings] == [
        f"{tiny_dataset / 'gt' / 'b.png'}: no photo in {tiny_dataset / 'images'} (shown without one)"
    ]


def test_ambiguous_stems_are_skipped_with_both_files_named(tiny_dataset):
    save_mask(tiny_dataset / "gt" / "a.npy", np.zeros((2, 3), np.uint8))
    ds = open_dataset(tiny_dataset)
    assert [p.name for p in ds.pairs] == ["b"]
    (problem,) = [p for p in ds.skipped if p.name == "a"]
    assert "ambiguous ground-truth files share the name 'a'" in problem.reason
    assert "a.npy" in problem.reason and "a.png" in problem.reason


def test_models_and_model_choice(tmp_path):
    for model in ("m1", "m2"):
        save_mask(tmp_path / "pred" / model / "x.png", np.zeros((2, 2)))
    save_mask(tmp_path / "gt" / "x.png", np.zeros((2, 2)))
    assert list_models(tmp_path) == ["m1", "m2"]
    with pytest.raises(DatasetError, match=r"several models \(m1, m2\); choose one with --model NAME"):
        open_dataset(tmp_path)
    assert open_dataset(tmp_path, model="m2").pred_dir == tmp_path / "pred" / "m2"
    with pytest.raises(DatasetError, match=r"no model 'm3' \(models: m1, m2\)"):
        open_dataset(tmp_path, model="m3")


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match=r"no 'gt/' folder"):
        open_dataset(tmp_path)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    with pytest.raises(DatasetError, match=r"gt: no ground-truth masks found"):
        open_dataset(tmp_path)


def test_symlink_loops_are_not_followed(tiny_dataset):
    (tiny_dataset / "gt" / "loop").symlink_to(tiny_dataset / "gt", target_is_directory=True)
    ds = open_dataset(tiny_dataset)
    assert [p.name for p in ds.pairs] == ["a", "b"]


def test_label_id_files_are_detected(tmp_path):
    save_mask(tmp_path / "gt" / "c" / "f_gtFine_labelIds.png", np.zeros((2, 2)))
    save_mask(tmp_path / "pred" / "c" / "f_leftImg8bit.png", np.zeros((2, 2)))
    (pair,) = open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes="cityscapes").pairs
    assert pair.name == "c/f" and pair.gt_encoding == "label_ids" and pair.pred_encoding == "ids"


@pytest.mark.parametrize("classes", [None, "voc"])
def test_label_id_files_without_a_label_id_mapping_are_refused(tmp_path, classes):
    """Reading Cityscapes labelIds as class ids would give wrong numbers without a word."""
    gt = tmp_path / "gt" / "c" / "f_gtFine_labelIds.png"
    save_mask(gt, np.full((2, 2), 7))
    save_mask(tmp_path / "pred" / "c" / "f_leftImg8bit.png", np.zeros((2, 2)))
    with pytest.raises(DatasetError, match=r"f_gtFine_labelIds\.png: .*labelIds.*--classes cityscapes"):
        open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=classes)
