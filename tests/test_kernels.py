"""Optional accelerators: identical results with and without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from conftest import ROOT
from segviz import kernels


@pytest.fixture(scope="module", autouse=True)
def compiled():
    if kernels.numba_available() and kernels._compiled is None:
        kernels._compile()  # warm_up skips numba when the C kernel is built: test both


def _backends():
    """Every counting kernel this machine has: the C extension, numba, numpy."""
    out = {"numpy": kernels._sparse_numpy}
    if kernels._ckernel is not None:
        out["c"] = kernels.sparse_joint_u8
    if kernels._compiled is not None:
        out["numba"] = kernels._sparse_numba
    return out


def test_the_fast_kernels_are_built_here():
    """CI installs with a C compiler and numba: both fast paths must be there, not silently skipped."""
    assert kernels._ckernel is not None, "segviz._count was not built (pip install -e . with gcc)"
    assert kernels._compiled is not None, "numba kernel did not compile"


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 70)),
    runs=st.booleans(),
)
def test_every_kernel_matches_bincount(data, shape, runs):
    gt = data.draw(arrays(np.uint8, shape, elements=st.integers(0, 255)))
    pred = data.draw(arrays(np.uint8, shape, elements=st.integers(0, 3)))
    if runs:  # long runs of one pair, as in label maps: the 8-bytes-at-a-time path
        gt[:, : shape[1] // 2] = gt[0, 0]
        pred[:, : shape[1] // 2] = pred[0, 0]
    expected = np.bincount(((gt.astype(np.uint16) << 8) | pred).ravel(), minlength=65536)
    for name, kernel in _backends().items():
        keys, counts = kernel(gt.ravel(), pred.ravel())
        assert keys.tolist() == np.flatnonzero(expected).tolist(), name
        assert counts.tolist() == expected[keys].tolist(), name
    assert np.array_equal(kernels.joint_histogram_u8(gt, pred), expected.reshape(256, 256))


def test_kernels_leave_their_scratch_clean_across_threads():
    """The C and numba kernels reuse a per-thread histogram: it must be zero again after each call."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(1)
    masks = [
        (rng.integers(0, 19, (64, 97)).astype(np.uint8), rng.integers(0, 19, (64, 97)).astype(np.uint8))
        for _ in range(40)
    ]
    with ThreadPoolExecutor(4) as pool:
        got = list(
            pool.map(lambda gp: (kernels.sparse_joint_u8(*gp), kernels._buffers()[0].any()), masks * 3)
        )
    for (g, p), ((keys, counts), dirty) in zip(masks * 3, got, strict=True):
        assert not dirty
        expected = np.bincount(((g.astype(np.uint16) << 8) | p).ravel(), minlength=65536)
        assert counts.tolist() == expected[keys].tolist() and int(counts.sum()) == g.size


@pytest.mark.parametrize("mode", ["L", "I;16", "P"])
def test_fast_decoder_only_takes_grey_pngs(tmp_path, mode):
    ids = np.array([[0, 7, 255], [3, 3, 1]])
    im = Image.fromarray(ids.astype(np.uint16 if mode == "I;16" else np.uint8))
    if mode == "P":
        im = Image.frombytes("P", (3, 2), ids.astype(np.uint8).tobytes())
        im.putpalette([9] * 768)
    im.save(tmp_path / "m.png")
    fast = kernels.fast_decode_grey_png(tmp_path / "m.png")
    if mode == "P" and kernels.accelerators()["imagecodecs"]:
        # an 8-bit palette PNG is decoded as greyscale: the palette indices, never the colours
        assert fast.tolist() == ids.tolist() == np.asarray(Image.open(tmp_path / "m.png")).tolist()
    elif kernels.accelerators()["imagecodecs"]:
        assert fast.tolist() == ids.tolist()


def test_results_identical_without_accelerators(tmp_path):
    outs = []
    for env_extra in (
        {},
        {"SEGVIZ_NO_CKERNEL": "1"},  # numba
        {"SEGVIZ_NO_CKERNEL": "1", "SEGVIZ_NO_NUMBA": "1", "SEGVIZ_NO_IMAGECODECS": "1"},  # numpy + Pillow
    ):
        out = tmp_path / f"{len(outs)}.json"
        env = {**os.environ, **env_extra}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "segviz",
                "evaluate",
                str(ROOT / "sample_data"),
                "--model",
                "baseline",
                "--no-store",
                "--quiet",
                "--json",
                str(out),
            ],
            check=True,
            env=env,
        )
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1] == outs[2]
