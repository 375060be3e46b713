"""Undefined values read "n/a" in every table meant for display (issue #10, item 8)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from conftest import TINY_CLASSES, save_mask
from segviz import evaluate, open_dataset
from segviz.cli import format_report
from segviz.display import NA, class_table, display_frame, is_undefined, percent, points


def test_undefined_reads_n_a():
    for v in (None, float("nan"), np.nan, math.inf, pd.NA):
        assert is_undefined(v) and percent(v) == NA and points(v) == NA
    assert percent(0.0) == "0.00 %" and percent(1, 1, unit=False) == "100.0" and points(0.5) == "+50.0"


def test_display_frame_never_shows_none_or_nan():
    frame = pd.DataFrame(
        {
            "name": ["a", None],
            "iou": [0.25, np.nan],
            "delta": [np.nan, -0.1],
            "x": [np.nan, 2.5],
            "n": [3, 1200],
        }
    )
    shown = display_frame(frame, percent_columns=["iou"], points_columns=["delta"])
    assert shown.values.tolist() == [["a", "25.00", NA, NA, "3"], [NA, NA, "-10.00", "2.5", "1,200"]]
    assert frame["iou"].isna().sum() == 1  # the data itself is untouched


def test_class_table_of_a_dataset_with_absent_classes(tmp_path):
    """Regression (issue #10): "None" for undefined values in the per-class table."""
    root = tmp_path / "ds"
    root.mkdir()
    (root / "classes.csv").write_text(TINY_CLASSES)
    save_mask(root / "gt" / "a.png", np.array([[0, 0, 1, 1]]))  # class 2 (person): in neither
    save_mask(root / "pred" / "a.png", np.array([[0, 1, 1, 1]]))
    ev = evaluate(open_dataset(root))
    table = class_table(ev).set_index("class")
    assert table.loc["person"].tolist() == [NA, NA, NA, NA, "0", "0"]
    assert table.loc["road"].tolist() == ["50.00", "50.00", "100.00", "66.67", "2", "1"]  # TP 1, GT 2, PRED 1
    assert table.loc["car", "precision %"] == "66.67"
    cells = " ".join(map(str, table.to_numpy().ravel()))
    assert "None" not in cells and "nan" not in cells.lower()
    report = format_report(ev)
    assert "None" not in report and "nan" not in report and " n/a" in report
