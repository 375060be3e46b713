"""Comparing two models: deltas by hand, the disagreement map, and `segviz compare`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_CLASSES, save_mask
from segviz import evaluate, open_dataset
from segviz.cli import main
from segviz.compare import NO_GAINS, NO_LOSSES, compare, disagreement_map, disagreement_rgb, gains_and_losses


@pytest.fixture
def two_models(tmp_path):
    """gt and two models on 3 images; m2 fixes image 'a' entirely, is identical elsewhere."""
    root = tmp_path / "two"
    (root / "classes.csv").parent.mkdir(parents=True)
    (root / "classes.csv").write_text(TINY_CLASSES)
    gts = {"a": [[0, 0, 1, 1]], "b": [[0, 1, 1, 2]], "c": [[2, 2, 0, 255]]}
    m1 = {"a": [[1, 1, 1, 1]], "b": [[0, 1, 1, 2]], "c": [[2, 0, 0, 0]]}
    m2 = {"a": [[0, 0, 1, 1]], "b": [[0, 1, 1, 2]], "c": [[2, 0, 0, 0]]}
    for name in gts:
        save_mask(root / "gt" / f"{name}.png", np.array(gts[name]))
        save_mask(root / "pred" / "m1" / f"{name}.png", np.array(m1[name]))
        save_mask(root / "pred" / "m2" / f"{name}.png", np.array(m2[name]))
    save_mask(root / "pred" / "m2" / "extra.png", np.zeros((1, 4)))
    return root


def test_deltas_by_hand(two_models):
    a = evaluate(open_dataset(two_models, model="m1"))
    b = evaluate(open_dataset(two_models, model="m2"))
    c = compare(a, b, name_a="m1", name_b="m2", resamples=200)
    assert a.confusion[:, :3].tolist() == [[2, 2, 0], [0, 4, 0], [1, 0, 2]]
    assert b.confusion[:, :3].tolist() == [[4, 0, 0], [0, 4, 0], [1, 0, 2]]
    classes = c.class_frame().set_index("name")
    assert classes.loc["road", "iou_a"] == pytest.approx(2 / 5)  # TP 2 / (GT 4 + PRED 3 - 2)
    assert classes.loc["road", "iou_b"] == pytest.approx(4 / 5)  # TP 4 / (4 + 5 - 4)
    assert classes.loc["road", "delta"] == pytest.approx(2 / 5)
    assert classes.loc["person", "delta"] == 0
    summary = c.summary_frame().set_index("metric")
    assert summary.loc["pixel_accuracy", "a"] == pytest.approx(8 / 11)
    assert summary.loc["pixel_accuracy", "delta"] == pytest.approx(2 / 11)
    images = c.image_frame()
    assert images["name"].iloc[0] == "a" and images["delta"].iloc[0] > 0
    assert images.set_index("name").loc["b", "delta"] == 0
    assert c.paired.only_in_b == () and c.paired.only_in_a == ()  # 'extra' has no gt: skipped earlier
    assert c.confusion_difference()[0, :2].tolist() == [2, -2]


def test_comparing_a_model_with_itself_changes_nothing(two_models):
    a = evaluate(open_dataset(two_models, model="m1"))
    c = compare(a, a, resamples=100)
    assert (c.summary_frame()["delta"] == 0).all() and not c.summary_frame()["significant"].any()
    json.dumps(c.to_dict(), allow_nan=False)


def test_disagreement_map_codes_and_colours():
    gt = np.array([[0, 0, 1, 1, 3]])
    a = np.array([[0, 0, 0, 0, 0]])
    b = np.array([[0, 1, 1, 0, 0]])
    codes = disagreement_map(gt, a, b, 3)
    assert codes.tolist() == [[0, 1, 2, 3, 4]]
    rgb = disagreement_rgb(codes)
    assert rgb[0, 0].tolist() == [46, 160, 67] and rgb[0, 3].tolist() == [214, 39, 40]
    photo = np.full((1, 5, 3), 100, np.uint8)
    assert disagreement_rgb(codes, photo)[0, 4].tolist() == [100, 100, 100]  # ignored: the photo


def test_compare_command(two_models, tmp_path, capsys):
    out = tmp_path / "c.json"
    code = main(
        ["compare", str(two_models), "--models", "m1", "m2", "--json", str(out), "--resamples", "200"]
    )
    captured = capsys.readouterr()
    assert code == 1  # extra.png has no ground truth: skipped and reported
    assert "skipped [m2] extra" in captured.err
    assert "m2 vs m1 on 3 images" in captured.out and "+40.00" in captured.out
    data = json.loads(out.read_text())
    assert data["model_a"] == "m1" and data["num_images"] == 3
    road = next(c for c in data["classes"] if c["name"] == "road")
    assert road["delta"] == pytest.approx(0.4)
    assert main(["compare", str(two_models), "--models", "m1", "m1"]) == 2
    assert main(["compare", str(two_models), "--models", "m1", "nope"]) == 2


def test_compare_json_is_that_of_the_models_loaded_one_after_the_other(two_models, tmp_path, capsys):
    """Issue #17 (compare at 100,000 images): the command's --json is byte for byte that of the
    library steps (the paired bootstrap's product now runs in threads), and its messages come model
    by model in the order given."""
    save_mask(two_models / "pred" / "m1" / "only-m1.png", np.zeros((1, 4)))  # (no GT: skipped, for m1)
    out = tmp_path / "c.json"
    args = ["compare", str(two_models), "--json", str(out), "--resamples", "300", "--seed", "5"]
    assert main([*args, "--models", "m1", "m2"]) == 1
    err = capsys.readouterr().err
    assert err.index("skipped [m1] only-m1") < err.index("skipped [m2] extra")
    a = evaluate(open_dataset(two_models, model="m1"))
    b = evaluate(open_dataset(two_models, model="m2"))
    expected = compare(a, b, name_a="m1", name_b="m2", resamples=300, seed=5).to_dict()
    assert out.read_text() == json.dumps(expected, indent=1, allow_nan=False) + "\n"
    assert main([*args, "--models", "m2", "m1"]) == 1  # (the other order: m2's messages first)
    err = capsys.readouterr().err
    assert err.index("skipped [m2] extra") < err.index("skipped [m1] only-m1")


@pytest.mark.shared_data
def test_compare_on_real_models(shared_data):
    voc = shared_data / "voc2012-deeplab"
    a = evaluate(open_dataset(voc, model="mediapipe-selfie"))
    b = evaluate(open_dataset(voc, model="deeplabv3plus"))
    c = compare(a, b, resamples=300)
    summary = c.summary_frame().set_index("metric")
    assert summary.loc["mean_iou", "delta"] == pytest.approx(0.83475 - 0.08405, abs=1e-4)
    assert bool(summary.loc["mean_iou", "significant"])


# ---------------------------------------------------------------------- gains and losses (issue #10)
def check_gains_and_losses(c, *, top=10):
    """Each list holds only changes of its sign, sorted, never overlapping; the counts cover every image."""
    gl = c.gains_and_losses(top=top)
    deltas = c.image_frame()["delta"]
    assert (gl.gains["delta"] > 0).all() and (gl.losses["delta"] < 0).all()
    assert gl.gains["delta"].is_monotonic_decreasing and gl.losses["delta"].is_monotonic_increasing
    assert not set(gl.gains["name"]) & set(gl.losses["name"])
    assert gl.improved == int((deltas > 0).sum()) and gl.worse == int((deltas < 0).sum())
    assert gl.improved + gl.worse + gl.unchanged + gl.undefined == c.a.num_images
    assert len(gl.gains) == min(top, gl.improved) and len(gl.losses) == min(top, gl.worse)
    if gl.improved:  # the largest gain is the image with the largest delta
        assert gl.gains["delta"].iloc[0] == deltas.max()
    if gl.worse:
        assert gl.losses["delta"].iloc[0] == deltas.min()
    return gl


def test_gains_and_losses_by_hand(two_models):
    """m1 → m2 improves image a (road 2/5 → 1) and changes nothing else: no loss to list."""
    a = evaluate(open_dataset(two_models, model="m1"))
    b = evaluate(open_dataset(two_models, model="m2"))
    gl = check_gains_and_losses(compare(a, b, resamples=50))
    assert gl.gains["name"].tolist() == ["a"] and gl.losses.empty
    assert (gl.improved, gl.worse, gl.unchanged, gl.undefined) == (1, 0, 2, 0)
    assert gl.losses_empty_text == NO_LOSSES == "no image got worse" and gl.gains_empty_text == ""
    back = check_gains_and_losses(compare(b, a, resamples=50))
    assert back.losses["name"].tolist() == ["a"] and back.gains.empty
    assert back.gains_empty_text == NO_GAINS == "no image improved"


def test_gains_and_losses_rejects_a_bad_top():
    with pytest.raises(ValueError, match=r"top must be a non-negative integer \(got -1\)"):
        gains_and_losses(pd.DataFrame({"delta": [0.1]}), top=-1)
    assert gains_and_losses(pd.DataFrame({"delta": [0.1]}), top=0).gains.empty


def test_compare_command_lists_only_real_losses(two_models, capsys):
    """Regression (issue #10): "largest losses" listed the images with the smallest gains."""
    main(["compare", str(two_models), "--models", "m1", "m2", "--resamples", "50"])
    out = capsys.readouterr().out
    # image a: m1 gets class 0 IoU 0 and class 1 IoU 2/4 (mIoU 25 %), m2 gets it all right (100 %)
    assert "largest gains (mIoU, 1 improved):  a +75.00" in out
    assert "largest losses (mIoU, 0 got worse): no image got worse" in out


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("folder", "model_a", "model_b", "improved"),
    [
        ("camvid-val", "pixelgbm", "tinyfcn", 101),  # every image improved: no loss to list
        ("camvid-val", "tinyfcn", "pixelgbm", 0),  # every image got worse: no gain to list
        ("voc2012-deeplab", "deeplabv3plus", "mediapipe-selfie", 0),
        ("voc2012-deeplab", "mediapipe-selfie", "deeplabv3plus", 14),
    ],
)
def test_gains_and_losses_on_real_data(shared_data, folder, model_a, model_b, improved, capsys):
    """Regression (issue #10): on CamVid (pixelgbm → tinyfcn, no image got worse) "largest losses"
    listed gains of +8.4 to +10.2; on VOC "largest gains" listed losses of −27.7 to −65.9 and six
    images were in both lists."""
    root = shared_data / folder
    a = evaluate(open_dataset(root, model=model_a))
    b = evaluate(open_dataset(root, model=model_b))
    gl = check_gains_and_losses(compare(a, b, name_a=model_a, name_b=model_b, resamples=20))
    assert gl.improved == improved and gl.worse == a.num_images - improved
    main(["compare", str(root), "--models", model_a, model_b, "--resamples", "20", "--no-store"])
    out = capsys.readouterr().out
    gains_line = next(line for line in out.splitlines() if line.startswith("largest gains"))
    losses_line = next(line for line in out.splitlines() if line.startswith("largest losses"))
    if improved == a.num_images:
        assert losses_line.endswith("no image got worse") and " -" not in gains_line
    else:
        assert gains_line.endswith("no image improved") and " +" not in losses_line


def test_image_list_is_computed_once_and_each_caller_gets_its_own_copy(two_models):
    """Issue #17: the per-image list is built once per comparison (gains and losses, JSON and text
    all read it); a caller changing its copy changes nothing for the next one."""
    a = evaluate(open_dataset(two_models, model="m1"))
    b = evaluate(open_dataset(two_models, model="m2"))
    c = compare(a, b, resamples=50)
    first = c.image_frame()
    # a: m1 class 0 IoU 0, class 1 2/4; m2 exact. c (255 ignored): class 0 1/2, class 2 1/2
    by_hand = {"a": ((0 + 0.5) / 2, 1.0), "b": (1.0, 1.0), "c": (0.5, 0.5)}
    for row in first.itertuples(index=False):  # mIoU of each image from its own masks
        assert (row.miou_a, row.miou_b) == pytest.approx(by_hand[row.name])
    first.loc[:, "delta"] = -1.0
    again = c.image_frame()
    assert again is not first and (again["delta"] != -1.0).all()
    assert again["name"].tolist()[0] == "a"  # biggest gain first
    assert c.to_dict()["images"][0]["name"] == "a"
