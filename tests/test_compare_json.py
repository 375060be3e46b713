"""Issue #17 (compare at 100,000 images): ``segviz compare --json`` writes the per-image list
column by column (:meth:`Comparison.to_json`) instead of through a dict per image and json's pure
Python indenting encoder; the text must stay exactly ``json.dumps(to_dict(), indent=1,
allow_nan=False)``, whatever the names and values hold."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from test_scale import random_evaluation
from test_stats import evaluation_from_rows

from segviz.cli import main
from segviz.compare import _plain, _records, _records_json, compare

AWKWARD_NAMES = [
    'quote"d',
    "back\\slash",
    "tab\there",
    "new\nline",
    "ünïcødé",
    "日本語",
    "emoji 🙂",
    "ctrl\x01\x1f",
    "{braces} {}",
    "",
]


def awkward_pair(n: int = 40):
    """Two models on the same images with awkward names, some images with no mIoU (NaN)."""
    a = random_evaluation(3, n=n)
    b = random_evaluation(4, n=n)
    names = [AWKWARD_NAMES[i % len(AWKWARD_NAMES)] + f"#{i}" for i in range(n + 3)]
    k = a.table.num_classes
    # three more images without any pixel (no row): their mIoU is undefined in both models
    return evaluation_from_rows(a.image_rows, k, names), evaluation_from_rows(b.image_rows, k, names)


def test_to_json_is_json_dumps_of_to_dict_character_for_character():
    a, b = awkward_pair()
    c = compare(a, b, name_a='model "A"', name_b="modèle B", resamples=30)
    images = c.image_frame()
    assert images["miou_a"].isna().sum() >= 3 and (images["delta"] > 0).any()  # NaN -> null is covered
    assert c.to_json() == json.dumps(c.to_dict(), indent=1, allow_nan=False)
    json.loads(c.to_json())  # (and it is JSON)


def test_to_json_of_one_image_with_and_without_pixels():
    rows = np.array([[0, 0, 0, 30], [0, 1, 1, 10], [0, 1, 0, 5]])
    for x in [
        evaluation_from_rows(rows, 2, ["only"]),
        evaluation_from_rows(rows[:0], 2, ["nothing"]),  # mIoU undefined: null in both lists
    ]:
        c = compare(x, x, resamples=5)
        assert c.to_json() == json.dumps(c.to_dict(), indent=1, allow_nan=False)


def old_records(frame: pd.DataFrame) -> list[dict]:
    """_records as it was before (pandas' to_dict(orient="records")), the reference."""
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else _plain(v)) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(
            {
                "name": ["a", "b", None],
                "i": np.array([1, -2, 3], np.int64),
                "u": np.array([1, 2, 3], np.uint8),
                "f": [0.1, float("nan"), 1e-300],
                "f32": np.array([0.1, np.nan, 2.5], np.float32),
                "ok": [True, False, True],
                "mixed": [1, "x", float("nan")],
            }
        ),
        pd.DataFrame({"x": [], "y": []}),
        pd.DataFrame(index=range(2)),
        pd.DataFrame([[1, 2]], columns=[0, 1]),  # (labels that are not strings)
    ],
)
def test_records_are_the_values_pandas_gave(frame):
    new, old = _records(frame), old_records(frame)
    assert new == old
    assert [[type(v) for v in row.values()] for row in new] == [
        [type(v) for v in row.values()] for row in old
    ]
    if all(isinstance(c, str) for c in frame.columns):
        text = _records_json(frame, depth=1)
        if text is not None:
            assert ("{\n" + ' "x": ' + text + "\n}") == json.dumps({"x": old}, indent=1, allow_nan=False)


def test_records_json_leaves_what_json_refuses_to_json():
    assert _records_json(pd.DataFrame({"x": [float("inf")]}), depth=1) is None  # json raises on it
    assert _records_json(pd.DataFrame({"x": [1, None]}, dtype=object), depth=1) is None
    assert _records_json(pd.DataFrame([[1, 2]], columns=["a", "a"]), depth=1) is None  # (one key twice)
    assert _records_json(pd.DataFrame(index=range(2)), depth=1) is None  # (rows without columns: {})
    assert _records_json(pd.DataFrame({"name": ["a"], "x": [0.5]}), depth=0) == (
        '[\n {\n  "name": "a",\n  "x": 0.5\n }\n]'
    )


def test_cli_compare_json_is_the_dict_dumped(tmp_path, shared_data):
    """End to end on real data (CamVid val, 101 images, two real models): the file is the
    contract dumped by json (the dict rebuilt here from the same comparison)."""
    from segviz import evaluate, open_dataset

    camvid = shared_data / "camvid-val"
    out = tmp_path / "c.json"
    argv = ["compare", str(camvid), "--models", "tinyfcn", "pixelgbm", "--quiet", "--no-store"]
    assert main([*argv, "--json", str(out), "--resamples", "50"]) == 0
    a = evaluate(open_dataset(camvid, model="tinyfcn"))
    b = evaluate(open_dataset(camvid, model="pixelgbm"))
    c = compare(a, b, name_a="tinyfcn", name_b="pixelgbm", resamples=50)
    assert out.read_text() == json.dumps(c.to_dict(), indent=1, allow_nan=False) + "\n"
    assert json.loads(out.read_text())["num_images"] == 101
