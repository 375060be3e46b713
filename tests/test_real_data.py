"""Real public datasets (../shared/data, see its README): segviz must reproduce the reference values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segviz import ClassTable, evaluate, open_dataset
from segviz.cli import main

pytestmark = pytest.mark.shared_data

# (folder, model, PA, MPA, mIoU, FWIoU, mean Dice, ignored px): ../shared/data/README.md
REFERENCE = [
    ("voc2012-deeplab", "deeplabv3plus", 0.98192, 0.89942, 0.83475, 0.96728, 0.87018, 189861),
    ("voc2012-deeplab", "mediapipe-selfie", 0.79203, 0.12746, 0.08405, 0.66965, 0.09892, 189861),
    ("ade20k-csail", "csail-2018", 0.83482, 0.66321, 0.47340, 0.75299, 0.55385, 12985),
    ("ade20k-csail", "csail-2017", 0.77302, 0.56276, 0.38617, 0.68498, 0.47081, 12589),
    ("ade20k-sample", None, 1, 1, 1, 1, 1, 22924),
    ("camvid-val", "tinyfcn", 0.89312, 0.77856, 0.60408, 0.83016, 0.70434, 297271),
    ("camvid-val", "pixelgbm", 0.80093, 0.62057, 0.45611, 0.69525, 0.56834, 297271),
]


@pytest.mark.parametrize("row", REFERENCE, ids=[f"{r[0]}-{r[1]}" for r in REFERENCE])
def test_reference_values(shared_data, row):
    folder, model, pa, mpa, miou, fwiou, dice, ignored = row
    result = evaluate(open_dataset(shared_data / folder, model=model))
    s = result.summary()
    got = [
        s[k]
        for k in ("pixel_accuracy", "mean_pixel_accuracy", "mean_iou", "frequency_weighted_iou", "mean_dice")
    ]
    assert got == pytest.approx([pa, mpa, miou, fwiou, dice], abs=5e-6)
    assert s["ignored_pixels"] == ignored and s["invalid_pred_pixels"] == 0


def test_voc_rgb_masks_give_the_palette_numbers(shared_data, tmp_path):
    voc = shared_data / "voc2012-deeplab"
    out = tmp_path / "rgb.json"
    code = main(
        [
            "evaluate",
            "--gt",
            str(voc / "rgb" / "gt"),
            "--pred",
            str(voc / "rgb" / "pred" / "deeplabv3plus"),
            "--classes",
            "voc",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    rgb = json.loads(out.read_text())
    palette = evaluate(open_dataset(voc, model="deeplabv3plus")).to_dict()
    assert rgb["confusion_matrix"] == palette["confusion_matrix"]
    assert rgb["ignored_pixels"] == palette["ignored_pixels"] == 189861
    assert rgb["mean_iou"] == pytest.approx(0.83475, abs=5e-6)


def test_voc_missing_prediction_is_reported(shared_data):
    result = evaluate(open_dataset(shared_data / "ade20k-csail", model="csail-2017"))
    assert result.num_images == 2
    assert [p.name for p in result.skipped] == ["ADE_val_00001267"]
    assert "no prediction in" in result.skipped[0].reason


def test_cityscapes_label_ids_evaluate_as_train_ids(shared_data, tmp_path):
    frame = shared_data / "cityscapes-frame"
    table = ClassTable.from_preset("cityscapes")
    (label_ids,) = (frame / "gt").glob("*_gtFine_labelIds.png")
    raw = np.asarray(Image.open(label_ids))
    lut = np.full(256, 255, np.uint8)
    for source, train in table.source_ids.items():
        lut[source] = train
    # a prediction that is exactly the labelIds mask converted to train ids scores perfectly
    (tmp_path / "pred").mkdir()
    Image.fromarray(lut[raw]).save(
        tmp_path / "pred" / label_ids.name.replace("_gtFine_labelIds", "_leftImg8bit")
    )
    result = evaluate(open_dataset(gt=frame / "gt", pred=tmp_path / "pred", classes="cityscapes"))
    assert result.num_images == 1 and result.summary()["mean_iou"] == 1.0
    assert result.ignored_pixels == int((lut[raw] == 255).sum())
    # and the shipped trainIds file agrees except where it was downscaled separately (PROVENANCE.md)
    shipped = evaluate(open_dataset(gt=frame / "gt", pred=frame / "gt_trainIds", classes="cityscapes"))
    assert shipped.summary()["pixel_accuracy"] > 0.997


def test_cityscapes_train_ids_gt_with_csv_table(shared_data):
    frame = shared_data / "cityscapes-frame"
    result = evaluate(
        open_dataset(gt=frame / "gt_trainIds", pred=frame / "gt_trainIds", classes=frame / "classes.csv")
    )
    assert result.summary()["pixel_accuracy"] == 1.0 and result.skipped == []


def test_instance_ids_sixteen_bit_masks_read(shared_data):
    frame = shared_data / "cityscapes-frame"
    result = evaluate(open_dataset(gt=frame / "gt_instanceIds", pred=frame / "gt_instanceIds"))
    assert result.summary()["pixel_accuracy"] == 1.0
    assert max(result.table.ids) > 255  # instance ids such as 26001 survive 16-bit reading
