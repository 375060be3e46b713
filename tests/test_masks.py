"""Reading every mask encoding, with exact expected ids, and counting pixel pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from conftest import save_mask
from segviz.classes import ClassTable
from segviz.errors import MaskError
from segviz.masks import UNKNOWN_COLOUR, joint_counts, read_mask

IDS = np.array([[0, 1, 2], [255, 20, 7]])


@pytest.mark.parametrize("mode", ["L", "P", "I;16"])
def test_single_channel_encodings_give_ids(tmp_path, mode):
    path = save_mask(tmp_path / "m.png", IDS, mode)
    with Image.open(path) as im:
        assert im.mode == mode
    out = read_mask(path).values
    assert out.tolist() == IDS.tolist()


def test_palette_png_gives_indices_not_colours(tmp_path):
    path = save_mask(tmp_path / "m.png", IDS, "P")
    with Image.open(path) as im:
        assert im.convert("RGB").getpixel((1, 0)) != (1, 1, 1)
    assert read_mask(path).values[0, 1] == 1


def test_sixteen_bit_ids_above_255(tmp_path):
    ids = np.array([[0, 300], [1000, 65000]])
    assert read_mask(save_mask(tmp_path / "m.png", ids, "I;16")).values.tolist() == ids.tolist()


def test_npy_masks(tmp_path):
    assert read_mask(save_mask(tmp_path / "m.npy", IDS.astype(np.int32))).values.tolist() == IDS.tolist()
    np.save(tmp_path / "neg.npy", np.array([[0, -1]]))
    with pytest.raises(MaskError, match=r"neg.npy: negative values \(-1\) are not class ids"):
        read_mask(tmp_path / "neg.npy")
    np.save(tmp_path / "f.npy", np.zeros((2, 2), np.float32))
    with pytest.raises(MaskError, match=r"f.npy: a mask must hold integers \(got dtype float32\)"):
        read_mask(tmp_path / "f.npy")
    np.save(tmp_path / "3d.npy", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(MaskError, match=r"3d.npy: a mask must be a 2-D array \(got shape \(2, 2, 2\)\)"):
        read_mask(tmp_path / "3d.npy")


def test_rgb_masks_decode_through_class_colours(tmp_path):
    t = ClassTable.from_preset("voc")
    rgb = np.array([[[0, 0, 0], [128, 0, 0], [224, 224, 192]], [[1, 2, 3], [128, 128, 128], [1, 2, 3]]])
    m = read_mask(save_mask(tmp_path / "m.png", rgb, "RGB"), t)
    assert m.values.tolist() == [[0, 1, 255], [UNKNOWN_COLOUR, 7, UNKNOWN_COLOUR]]
    assert m.unknown_colours == {(1, 2, 3): 2}


def test_rgba_opaque_is_rgb_and_transparent_is_refused(tmp_path):
    t = ClassTable.from_preset("voc")
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 128, 255
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert read_mask(tmp_path / "a.png", t).values.tolist() == [[1, 1], [1, 1]]
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "b.png")
    with pytest.raises(MaskError, match=r"b\.png: RGBA mask with transparent pixels"):
        read_mask(tmp_path / "b.png", t)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an image file"),
        (b"this is text, not a png", "not an image file"),
    ],
    ids=["zero-bytes", "text"],
)
def test_broken_files_name_the_file(tmp_path, content, message):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(MaskError, match=rf"x.png: {message}"):
        read_mask(tmp_path / "x.png")


def test_truncated_png(tmp_path):
    path = save_mask(tmp_path / "t.png", np.random.default_rng(0).integers(0, 20, (64, 64)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MaskError, match=r"t.png: unreadable or truncated image"):
        read_mask(path)


def test_missing_file():
    with pytest.raises(MaskError, match=r"nowhere.png: file not found"):
        read_mask("nowhere.png")


def test_unsupported_mode(tmp_path):
    Image.new("F", (2, 2)).save(tmp_path / "f.tif")
    with pytest.raises(MaskError, match=r"f.tif: unsupported image mode 'F'"):
        read_mask(tmp_path / "f.tif")


def _naive_joint(gt, pred):
    pairs = {}
    for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist(), strict=True):
        pairs[(g, p)] = pairs.get((g, p), 0) + 1
    return pairs


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int64]),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
)
def test_joint_counts_match_a_naive_count(data, dtype, shape):
    top = {np.uint8: 255, np.uint16: 65535, np.int64: 2**40}[dtype]
    gt = data.draw(arrays(dtype, shape, elements=st.integers(0, top)))
    pred = data.draw(arrays(dtype, shape, elements=st.integers(0, top)))
    g, p, c = joint_counts(gt, pred)
    assert dict(zip(zip(g.tolist(), p.tolist(), strict=True), c.tolist(), strict=True)) == _naive_joint(
        gt, pred
    )
    assert c.sum() == gt.size  # totals preserved
