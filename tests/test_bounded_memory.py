"""Memory that depends on image size and class count, never on a value (issue #11, cases 1, 2, 8).

The regressions: one pixel of 3e8 in a 928-byte .npy prediction made ``segviz evaluate`` allocate
7-8 GB (a lookup table indexed by value); uint64 values >= 2**63 wrapped into int64 and counted as
a real class; ``segviz report`` drew the full K×K matrix (500 classes: 86 MB of HTML and 0.7 GB;
5,000 classes: killed at 23 GB). The CLI runs here in a subprocess under a fixed address-space limit
(``RLIMIT_AS``), so any allocation sized by a value or by K² fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import ROOT
from segviz import ClassTable, evaluate, open_dataset, stats
from segviz.errors import MaskError
from segviz.figures import (
    MAX_BARS,
    OTHER_INDEX,
    class_bar_figure,
    confusion_figure,
    default_top_n,
    delta_bar_figure,
    difference_figure,
    hover_image_figure,
    pool_other,
)
from segviz.masks import joint_counts, read_mask
from segviz.overlay import class_indices
from segviz.report import TABLE_ROWS, build_report

#: Address-space limit of the CLI runs. A normal `segviz report` reserves about 1.65 GB of virtual
#: memory (pandas, pyarrow and plotly mapped in; 0.16 GB resident) and 1.87 GB at 5,000 classes
#: (measured with /proc/self/status VmPeak); the regressions needed 7-23 GB.
ADDRESS_SPACE = 3 * 1024**3


def run_limited(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m segviz ARGS --no-store`` under :data:`ADDRESS_SPACE`."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "segviz", *args, "--no-store"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        preexec_fn=limit,
        timeout=300,
    )


def value_dataset(folder: Path, *, gt_value=None, pred_value=None, dtype=np.int64, classes=True) -> Path:
    """Two 4x6 .npy pairs ("ok", "odd"); one pixel of odd's GT or prediction holds the value."""
    for sub in ("gt", "pred"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    gt = np.zeros((4, 6), dtype=np.int64)
    gt[2:] = 1
    pred = gt.copy()
    pred[0, :2] = 1
    np.save(folder / "gt" / "ok.npy", gt)
    np.save(folder / "pred" / "ok.npy", pred)
    odd_gt, odd_pred = gt.astype(dtype), pred.astype(dtype)
    if gt_value is not None:
        odd_gt[3, 5] = gt_value
    if pred_value is not None:
        odd_pred[1, 1] = pred_value
    np.save(folder / "gt" / "odd.npy", odd_gt)
    np.save(folder / "pred" / "odd.npy", odd_pred)
    if classes:
        (folder / "classes.csv").write_text("id,name,r,g,b,ignore\n0,bg,0,0,0,0\n1,fg,9,9,9,0\n")
    return folder


def many_classes(folder: Path, k: int, *, images: int = 8) -> Path:
    """``k`` classes (16-bit PNGs of 8x8 tiles), predictions confusing 20 % of the tiles."""
    rng = np.random.default_rng(k)
    for sub in ("gt", "pred"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{i},c{i},{i % 251},{i * 7 % 256},{i * 13 % 256},0\n" for i in range(k))
    (folder / "classes.csv").write_text("id,name,r,g,b,ignore\n" + rows)
    for i in range(images):
        tiles = rng.integers(0, k, (15, 20))
        wrong = rng.random(tiles.shape) < 0.2
        for sub, t in (("gt", tiles), ("pred", np.where(wrong, rng.integers(0, k, tiles.shape), tiles))):
            Image.fromarray(np.kron(t, np.ones((8, 8), dtype=np.int64)).astype(np.uint16)).save(
                folder / sub / f"im{i}.png"
            )
    return folder


def _classes_that_appear(folder: Path) -> int:
    """How many class ids occur in the ground truth or prediction PNGs under ``folder``."""
    seen = [np.unique(np.asarray(Image.open(f))) for f in sorted(folder.glob("*/*.png"))]
    return len(np.unique(np.concatenate(seen)))


# ---------------------------------------------------------------------- the CLI under a memory limit
VALUE_CASES = {
    # name: (dataset options, exit status, message on stderr)
    "pred-3e8": (
        dict(pred_value=300_000_000),
        0,
        r"pred/odd\.npy: values that are not class ids in 1 px \(300000000: 1 px\)",
    ),
    "pred-1e9": (
        dict(pred_value=10**9),
        0,
        r"pred/odd\.npy: values that are not class ids in 1 px \(1000000000",
    ),
    "gt-1e9": (
        dict(gt_value=10**9),
        1,
        r"skipped odd: .*gt/odd\.npy: ground-truth values 1000000000 \(1 px\) are not in the class table",
    ),
    "pred-uint64-2**63": (
        dict(pred_value=2**63, dtype=np.uint64),
        1,
        r"skipped odd: .*pred/odd\.npy: value 9,223,372,036,854,775,808 \(dtype uint64",
    ),
    "gt-uint64-max": (
        dict(gt_value=2**64 - 1, dtype=np.uint64),
        1,
        r"skipped odd: .*gt/odd\.npy: value 18,446,744,073,709,551,615 \(dtype uint64",
    ),
    # no classes.csv: the class table is generated from the ids found (1e9 becomes a class)
    "generated-1e9": (dict(gt_value=10**9, pred_value=10**9, classes=False), 0, r"generated 3 classes"),
    "generated-uint64-2**63": (
        dict(pred_value=2**63, dtype=np.uint64, classes=False),
        1,
        r"skipped odd: .*pred/odd\.npy: value 9,223,372,036,854,775,808",
    ),
}


@pytest.mark.parametrize("command", ["evaluate", "report"])
@pytest.mark.parametrize("name", list(VALUE_CASES))
def test_values_never_size_memory(name, command, tmp_path):
    """Regression (issue #11, 1 and 8): evaluate and report run in ~0.2 GB resident whatever the
    values; "ok" is always evaluated with its own numbers."""
    options, status, message = VALUE_CASES[name]
    data = value_dataset(tmp_path / "data", **options)
    out = (
        ["--json", str(tmp_path / "r.json")] if command == "evaluate" else ["--out", str(tmp_path / "r.html")]
    )
    proc = run_limited(command, str(data), *out, cwd=tmp_path)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert re.search(message, proc.stderr.replace("\\", "/")), proc.stderr
    if command == "evaluate":
        result = json.loads((tmp_path / "r.json").read_text())
        assert "ok" in [i["name"] for i in result["images"]]
        assert (
            result["images"][[i["name"] for i in result["images"]].index("ok")]["pixel_accuracy"] == 22 / 24
        )
    else:
        assert "<h3>ok</h3>" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_generated_table_holds_the_large_id_as_a_class(tmp_path):
    """Without classes.csv, 1e9 is an id found in the masks like any other: a class of its own."""
    result = evaluate(open_dataset(value_dataset(tmp_path, gt_value=10**9, pred_value=10**9, classes=False)))
    assert result.table.ids.tolist() == [0, 1, 10**9] and not result.skipped
    assert result.confusion[2].sum() == 1 and result.confusion[:, 2].sum() == 1  # one pixel each


def test_report_of_5000_classes_under_the_limit(tmp_path):
    """Regression (issue #11, 2): 5,000 classes were killed at 23 GB; now well under the limit (the
    figures: benchmarks/bench_bounded_memory.py), with a bounded page."""
    data = many_classes(tmp_path / "data", 5000)
    html = tmp_path / "r.html"
    proc = run_limited("report", str(data), "--out", str(html), "--resamples", "200", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = html.read_text(encoding="utf-8")
    assert len(page) < 12_000_000  # 4.8 MB of it plotly.js
    n = _classes_that_appear(data)  # issue 16: the others get one line, no row, no matrix cell
    assert f"(other {n - 25:,} classes)" in page and f"The other {n - 150:,} classes" in page
    assert f"{5000 - n:,} classes never appear" in page


# ---------------------------------------------------------------------- reading and lookups
def test_uint64_is_read_exactly(tmp_path):
    """Regression (issue #11, 8): 2**63 was cast to int64 (-2**63) and counted as a class."""
    np.save(tmp_path / "ok.npy", np.array([[0, 2**32 - 1]], dtype=np.uint64))
    assert read_mask(tmp_path / "ok.npy").values.tolist() == [[0, 2**32 - 1]]
    for value in (2**32, 2**63, 2**64 - 1):
        np.save(tmp_path / "big.npy", np.array([[0, value]], dtype=np.uint64))
        with pytest.raises(
            MaskError, match=rf"big\.npy: value {value:,} \(dtype uint64, at \(0, 1\)\) cannot be"
        ):
            read_mask(tmp_path / "big.npy")


def test_sparse_lookups_agree_with_a_dict():
    """gt_indices / pred_indices against a plain dictionary, values far beyond the table included."""
    table = ClassTable.from_rows(
        [
            (3, "a", (1, 1, 1), False),
            (0, "b", (2, 2, 2), False),
            (900, "c", (3, 3, 3), False),
            (255, "v", (0, 0, 0), True),
        ]
    )
    k = table.num_classes
    position = {int(cid): i for i, cid in enumerate(table.ids)}
    values = np.array([0, 3, 255, 900, 1, 7, 901, 65535, 3 * 10**8, 2**32 - 1])
    assert table.gt_indices(values).tolist() == [
        position.get(v, k if v == 255 else k + 1) for v in values.tolist()
    ]
    assert table.pred_indices(values).tolist() == [position.get(v, k) for v in values.tolist()]
    assert table.gt_lut(1000).tolist() == table.gt_indices(np.arange(1000)).tolist()
    big = np.array([[2**63, 5]], dtype=np.uint64)  # never cast through float or wrapped
    assert table.pred_indices(big).tolist() == [[k, k]]


def test_label_ids_lookup_is_sparse_too():
    table = ClassTable.from_preset("cityscapes")
    values = np.array([7, 1, 8, 40, 10**9])  # road, ego vehicle (ignored), sidewalk, unknown, unknown
    assert table.gt_indices(values, encoding="label_ids").tolist() == [0, 19, 1, 20, 20]
    assert table.pred_indices(values, encoding="label_ids").tolist() == [0, 19, 1, 19, 19]


def test_class_indices_of_large_values_without_a_table_of_them():
    table = ClassTable.generated([0, 10**9])
    values = np.array([[0, 10**9, 5, 2**32 - 1]], dtype=np.int64)
    assert class_indices(values, table, kind="gt").tolist() == [[0, 1, 3, 3]]
    assert class_indices(values, table, kind="pred").tolist() == [[0, 1, 2, 2]]


def test_joint_counts_of_wide_values_count_pairs_not_cells():
    """Wide values are counted by sorting pixel pairs (a noise image of 65,536 distinct values per
    side once asked for a 4·10^9-cell histogram)."""
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 2**32, (64, 64), dtype=np.int64)
    pred = rng.integers(0, 2**32, (64, 64), dtype=np.int64)
    g, p, c = joint_counts(gt, pred)
    naive: dict[tuple[int, int], int] = {}
    for a, b in zip(gt.ravel().tolist(), pred.ravel().tolist(), strict=True):
        naive[(a, b)] = naive.get((a, b), 0) + 1
    assert dict(zip(zip(g.tolist(), p.tolist(), strict=True), c.tolist(), strict=True)) == naive


def test_bootstrap_in_blocks_equals_one_block(monkeypatch):
    """The bootstrap runs a block of resamples (and of classes) at a time; the block size does not
    change a single number."""
    ev = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    whole = stats.bootstrap(ev, resamples=300, seed=3)
    monkeypatch.setattr(stats, "_BLOCK_ELEMENTS", 7)
    blocks = stats.bootstrap(ev, resamples=300, seed=3)
    assert whole.summary == blocks.summary
    pd.testing.assert_frame_equal(whole.classes, blocks.classes)


# ---------------------------------------------------------------------- figures draw a bounded number of classes
def _confusions(k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 5, (k, k + 1)) * (rng.random((k, k + 1)) < 0.1)
    cm[np.arange(k), np.arange(k)] += rng.integers(50, 100, k)
    return cm


def test_pool_other_against_a_loop():
    cm = _confusions(12)
    shown, pooled = [1, 4, 7], [0, 2, 3, 5, 8, 9, 10, 11]  # 6 left out (hidden)
    out = pool_other(cm, shown, pooled)
    group = {**{c: i for i, c in enumerate(shown)}, **{c: 3 for c in pooled}}
    expected = np.zeros((4, 5), dtype=np.int64)
    for g in range(12):
        for p in range(13):
            if g in group and (p in group or p == 12):
                expected[group[g], group[p] if p < 12 else 4] += cm[g, p]
    assert out.tolist() == expected.tolist()


def test_confusion_figure_of_many_classes_draws_top_n_and_other():
    k = 300
    cm = _confusions(k)
    names = [f"c{i}" for i in range(k)]
    fig = confusion_figure(cm, names, normalize="row", show_invalid=True, other=True)
    heat = [t for t in fig.data if t.type == "heatmap"][-1]
    assert default_top_n(k) == 25 and len(heat.y) == 26 and len(heat.x) == 27
    assert heat.y[-1] == "(other 275 classes)" and heat.x[-2:] == ("(other 275 classes)", "(invalid)")
    cells = next(t for t in fig.data if t.name == "cells")
    assert len(cells.customdata) == 26 * 27
    other_row = [c for c in cells.customdata if c[0] == OTHER_INDEX]
    shown = sorted({c[0] for c in cells.customdata if c[0] != OTHER_INDEX})
    pooled = sorted(set(range(k)) - set(shown))
    assert sum(c[2] for c in other_row) == cm[pooled].sum()  # every pooled GT pixel, once
    # row percentages of the (other) row are of the pooled rows' total
    j = list(heat.x).index(f"c{shown[0]}")
    assert heat.z[-1][j] == pytest.approx(cm[pooled, shown[0]].sum() / cm[pooled].sum() * 100)
    assert len(confusion_figure(cm, names).data[-1].customdata) == 25 * 25  # default: no (other)


def test_bar_figures_draw_at_most_max_bars():
    k = 500
    rng = np.random.default_rng(1)
    iou = rng.random(k)
    iou[::7] = np.nan
    frame = pd.DataFrame(
        {"id": np.arange(k), "name": [f"c{i}" for i in range(k)], "iou": iou, "gt_pixels": 10}
    )
    table = ClassTable.generated(range(k))
    bar = class_bar_figure(frame, table).data[0]
    assert len(bar.y) == MAX_BARS
    other = list(bar.y).index(f"(other {k - MAX_BARS + 1} classes, mean)")
    assert other == (MAX_BARS - 1 + 1) // 2  # between the best and the worst
    drawn = frame.set_index("name").loc[[n for n in bar.y if n.startswith("c")], "iou"]
    pooled = frame[~frame["name"].isin(drawn.index)]["iou"]
    assert bar.x[other] == pytest.approx(pooled.mean() * 100)  # pandas skips NaN: mean of the defined
    assert drawn.min() < pooled.min() and drawn.max() > pooled.max()
    deltas = frame.rename(columns={"iou": "delta"}).assign(low=-0.1, high=0.1, significant=True)
    assert len(delta_bar_figure(deltas).data[0].y) == MAX_BARS


def test_difference_and_hover_figures_are_bounded():
    diff = _confusions(200) - _confusions(200, seed=1)
    heat = difference_figure(diff, [f"c{i}" for i in range(200)], other=True).data[0]
    assert len(heat.y) == 26 and heat.y[-1] == "(other 175 classes)"
    assert np.asarray(heat.z).sum() == diff[:, :200].sum()  # nothing hidden: every pixel pooled in
    big = np.zeros((2000, 3000), dtype=np.int16)
    fig = hover_image_figure(
        np.zeros((2000, 3000, 3), np.uint8), big, big, ["a", "i", "u"], ["a", "x"], step=4
    )
    assert max(np.asarray(fig.data[-1].customdata).shape[:2]) <= 320


def test_report_folds_long_class_tables(tmp_path):
    """150+ classes: the first rows of the per-class table, the rest in a folded <details>."""
    result = evaluate(open_dataset(many_classes(tmp_path, 200, images=8)))
    n = _classes_that_appear(tmp_path)
    assert n > 175  # (the folding below needs more than TABLE_ROWS classes that appear)
    page = build_report(result, title="t", dataset="d", model=None, resamples=50, worst=1)
    assert f"The other {n - 150} classes</summary>" in page and TABLE_ROWS == 150
    assert page.count("<tr><td class='name'>") == n
    assert f"(other {n - 25} classes)" in page
