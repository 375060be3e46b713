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
    kernels.warm_up(wait=True)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), shape=st.tuples(st.integers(1, 40), st.integers(1, 40)))
def test_compiled_kernel_matches_bincount(data, shape):
    gt = data.draw(arrays(np.uint8, shape, elements=st.integers(0, 255)))
    pred = data.draw(arrays(np.uint8, shape, elements=st.integers(0, 3)))
    expected = np.bincount(((gt.astype(np.uint16) << 8) | pred).ravel(), minlength=65536).reshape(256, 256)
    assert np.array_equal(kernels.joint_histogram_u8(gt, pred), expected)


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
    for env_extra in ({}, {"SEGVIZ_NO_NUMBA": "1", "SEGVIZ_NO_IMAGECODECS": "1"}):
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
    assert outs[0] == outs[1]
