"""The bundled sample_data/ is exactly what its committed generator makes, and is worth looking at."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from conftest import ROOT
from segviz import evaluate, list_models, open_dataset

SAMPLE = ROOT / "sample_data"


def _digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.parts[len(root.parts)] in ("images", "gt", "pred", "conf", "prob", "unlabelled", "classes.csv")
    }


def test_generator_reproduces_the_committed_files(tmp_path):
    subprocess.run(
        [sys.executable, str(SAMPLE / "make_sample_data.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert _digests(tmp_path) == _digests(SAMPLE)


def test_sample_data_is_small_and_has_two_models_with_mistakes():
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 5 * 1024 * 1024
    assert list_models(SAMPLE) == ["baseline", "candidate"]
    for model in ("baseline", "candidate"):
        result = evaluate(open_dataset(SAMPLE, model=model))
        s = result.summary()
        assert result.num_images == 24 and result.skipped == [] and s["ignored_pixels"] > 0
        assert 0.8 < s["pixel_accuracy"] < 0.97  # realistic, not perfect
        assert s["mean_iou_classes"] == 19  # every class appears
        assert result.image_frame()["pixel_accuracy"].min() < 0.85  # a few clearly bad images
