"""The confidence pass's fast paths (issue 14, speed): a direct PNG decoder for confidence maps
(libdeflate + the C kernel's row unfiltering) and a one-pass (level, gt, pred) count. Each must give
exactly what the plain paths give (Pillow, numpy bincount, image_confidence on class indices)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import ROOT
from segviz import kernels, open_dataset
from segviz.classes import ClassTable
from segviz.confidence import (
    ConfidenceMap,
    evaluate_confidence,
    image_confidence,
    image_confidence_raw,
    read_confidence,
)
from segviz.errors import MaskError

needs_direct = pytest.mark.skipif(
    not kernels.direct_png_available(), reason="needs imagecodecs and a C kernel with unfilter_png"
)


# ---------------------------------------------------------------------- an independent PNG encoder
def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)  # the PNG spec's formulation
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def encode_png(values: np.ndarray, filters: list[int], *, split: int = 7, interlace: int = 0) -> bytes:
    """A greyscale PNG (8 or 16 bit) whose row y uses filter ``filters[y % len(filters)]`` (the
    spec's definitions, written in numpy), its zlib stream split over several IDAT chunks."""
    h, w = values.shape
    depth = 16 if values.dtype == np.uint16 else 8
    bpp = depth // 8
    data = values.astype(">u2").view(np.uint8).reshape(h, w * bpp) if bpp == 2 else values
    rows, prev = [], np.zeros(w * bpp, np.int64)
    for y in range(h):
        r = data[y].astype(np.int64)
        left = np.concatenate([np.zeros(bpp, np.int64), r[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        f = filters[y % len(filters)]
        pred = [0 * r, left, prev, (left + prev) >> 1, _paeth(left, prev, upleft)][f]
        rows.append(bytes([f]) + ((r - pred) % 256).astype(np.uint8).tobytes())
        prev = r

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    z = zlib.compress(b"".join(rows))
    idat = b"".join(chunk(b"IDAT", z[i : i + split]) for i in range(0, len(z), split))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, 0, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


@needs_direct
@settings(max_examples=120, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 13)),
    sixteen=st.booleans(),
    filters=st.lists(st.integers(0, 4), min_size=1, max_size=6),
)
def test_direct_decoder_equals_pillow_for_every_filter(data, shape, sixteen, filters):
    dtype = np.uint16 if sixteen else np.uint8
    top = 65535 if sixteen else 255
    values = np.array(
        data.draw(st.lists(st.integers(0, top), min_size=shape[0] * shape[1], max_size=shape[0] * shape[1])),
        dtype=dtype,
    ).reshape(shape)
    png = encode_png(values, filters)
    pillow = np.asarray(Image.open(io.BytesIO(png)))
    assert pillow.tolist() == values.tolist()  # the encoder is right
    got = kernels.decode_grey_png_direct(png)
    assert got is not None and got.dtype == dtype and got.tolist() == values.tolist()


@needs_direct
def test_direct_decoder_declines_what_it_cannot_vouch_for():
    """A bad CRC, a truncated file, a bad filter byte, interlacing, colour: None, so the caller
    falls back to libpng / Pillow, which report the problem."""
    values = (np.arange(60).reshape(6, 10) * 4).astype(np.uint8)
    good = encode_png(values, [4, 1, 2, 3, 0])
    assert kernels.decode_grey_png_direct(good).tolist() == values.tolist()
    flipped = bytearray(good)
    flipped[45] ^= 0x10  # inside the first IDAT
    assert kernels.decode_grey_png_direct(bytes(flipped)) is None
    assert kernels.decode_grey_png_direct(good[:-15]) is None
    header = bytearray(good)
    header[29] ^= 0x01  # the header's CRC
    assert kernels.decode_grey_png_direct(bytes(header)) is None
    assert kernels.decode_grey_png_direct(encode_png(values, [0], interlace=1)) is None
    # filter byte 5 does not exist: rebuild the stream with it, checksums right
    ihdr_end = 33
    rows = b"".join(bytes([5]) + values[y].tobytes() for y in range(6))
    body = zlib.compress(rows)
    idat = struct.pack(">I", len(body)) + b"IDAT" + body + struct.pack(">I", zlib.crc32(b"IDAT" + body))
    assert kernels.decode_grey_png_direct(good[:ihdr_end] + idat + good[-12:]) is None
    buf = io.BytesIO()
    Image.fromarray(np.dstack([values] * 3)).save(buf, "PNG")
    assert kernels.decode_grey_png_direct(buf.getvalue()) is None


@needs_direct
def test_unknown_filter_byte_is_refused_by_the_kernel():
    raw = bytes([5, 1, 2, 3])
    out = np.empty((1, 3), np.uint8)
    assert kernels._ckernel.unfilter_png(raw, out, 3, 1, 1) == -1
    assert kernels._ckernel.unfilter_png(bytes([1, 1, 2, 3]), out, 3, 1, 1) == 0
    assert out.tolist() == [[1, 3, 6]]
    with pytest.raises(ValueError, match="buffer sizes do not match"):
        kernels._ckernel.unfilter_png(raw, out, 4, 1, 1)


def test_a_corrupt_confidence_png_still_names_the_file(tmp_path):
    """Regression guard for the direct decoder: declining a damaged file must leave the usual
    error (Pillow's), naming the file."""
    values = np.full((6, 10), 200, np.uint8)
    png = bytearray(encode_png(values, [0], split=10_000))
    png[45] ^= 0x10
    path = tmp_path / "c.png"
    path.write_bytes(bytes(png))
    with pytest.raises(MaskError, match=r"c\.png: unreadable or truncated"):
        read_confidence(path)


def test_camvid_confidence_maps_decode_exactly_as_pillow(shared_data):
    folder = shared_data / "camvid-val" / "conf" / "tinyfcn"
    files = sorted(folder.glob("*.png"))
    assert len(files) == 101
    direct = 0
    for path in files:
        cmap = read_confidence(path)
        assert cmap.source == "u8"
        assert np.array_equal(cmap.values, np.asarray(Image.open(path))), path.name
        direct += kernels.decode_grey_png_direct(path.read_bytes()) is not None
    assert direct == (101 if kernels.direct_png_available() else 0)


# ---------------------------------------------------------------------- the one-pass count
def test_level_pair_counts_equal_a_bincount_and_the_fallback(monkeypatch):
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 6, (37, 41)).astype(np.uint8)
    pred = rng.integers(250, 256, (37, 41)).astype(np.uint8)
    level = rng.integers(0, 256, (37, 41)).astype(np.uint8)
    pairs = np.unique((gt.astype(np.int64) << 8) | pred)
    code = np.zeros(1 << 16, np.uint8)
    code[pairs] = np.arange(len(pairs)) % 7  # several pairs may share a code
    expected = np.bincount(
        (level.astype(np.int64) << 8 | code[(gt.astype(np.int64) << 8) | pred]).ravel(), minlength=1 << 16
    )
    got = kernels.level_pair_counts(level, gt, pred, code, 7)
    assert got[0].tolist() == np.flatnonzero(expected).tolist()
    assert got[1].tolist() == expected[got[0]].tolist()
    assert not kernels._buffers()[0].any()  # the scratch histogram is left clean
    monkeypatch.setattr(kernels, "_ckernel", None)
    fallback = kernels.level_pair_counts(level, gt, pred, code, 7)
    assert [a.tolist() for a in fallback] == [a.tolist() for a in got]


def test_raw_pairs_folding_onto_one_class_pair_are_merged():
    """Two ignore ids, two invalid predictions and a class id: the one-byte codes per class pair
    must give image_confidence's rows (sorted, distinct), given pair keys or not."""
    table = ClassTable.from_rows(
        [
            (0, "a", (1, 1, 1), False),
            (1, "b", (2, 2, 2), False),
            (254, "void", (0, 0, 0), True),
            (255, "edge", (3, 3, 3), True),
        ]
    )
    rng = np.random.default_rng(5)
    gt = rng.choice(np.array([0, 1, 254, 255, 7], np.uint8), (30, 40))  # 7: not in the table
    pred = rng.choice(np.array([0, 1, 254, 255, 9], np.uint8), (30, 40))
    cmap = ConfidenceMap("u8", rng.integers(0, 256, (30, 40)).astype(np.uint8))
    keys = np.unique((gt.astype(np.int64) << 8) | pred)
    fast = image_confidence_raw("x", gt, pred, cmap, table, pair_keys=keys)
    alone = image_confidence_raw("x", gt, pred, cmap, table)
    gi, pi = table.gt_indices(gt), table.pred_indices(pred)
    ref = image_confidence("x", gi, pi, cmap, table.num_classes)
    for f in ("level", "bin", "gt", "pred", "count", "level_hist", "conf_sum"):
        assert getattr(fast, f).tolist() == getattr(ref, f).tolist() == getattr(alone, f).tolist(), f
    assert fast.mean_all == pytest.approx(ref.mean_all, abs=1e-12)


def test_camvid_rows_equal_the_reference_reduction(shared_data):
    """The pass (direct decoder, pair keys from the evaluation's count, one-pass kernel) against
    image_confidence on class indices with Pillow-decoded maps, on every CamVid frame."""
    ds = open_dataset(shared_data / "camvid-val", model="tinyfcn")
    result = evaluate_confidence(ds)
    table = ds.table
    for i, pair in enumerate(ds.pairs):
        gt = np.asarray(Image.open(pair.gt_path))
        pred = np.asarray(Image.open(pair.pred_path))
        conf = np.asarray(Image.open(shared_data / "camvid-val" / "conf" / "tinyfcn" / f"{pair.name}.png"))
        ref = image_confidence(
            pair.name, table.gt_indices(gt), table.pred_indices(pred), ConfidenceMap("u8", conf), 11
        )
        got = result.images[result.evaluation.names.index(pair.name)]
        for f in ("level", "bin", "gt", "pred", "count", "level_hist"):
            assert getattr(got, f).tolist() == getattr(ref, f).tolist(), (pair.name, f)
        if i >= 30:  # a third of the frames is plenty (each ≈20 ms here)
            break


def test_confidence_json_identical_without_accelerators(tmp_path):
    outs = []
    for extra in (
        {},
        {"SEGVIZ_NO_CKERNEL": "1"},
        {"SEGVIZ_NO_CKERNEL": "1", "SEGVIZ_NO_NUMBA": "1", "SEGVIZ_NO_IMAGECODECS": "1"},
    ):
        out = tmp_path / f"{len(outs)}.json"
        cmd = [sys.executable, "-m", "segviz", "evaluate", str(ROOT / "sample_data"), "--model", "baseline"]
        cmd += ["--confidence", "--no-store", "--quiet", "--json", str(out)]
        subprocess.run(cmd, check=True, env={**os.environ, **extra})
        outs.append(json.loads(out.read_text()))
    assert outs[0]["calibration"]["ece"] is not None
    assert outs[0] == outs[1] == outs[2]
