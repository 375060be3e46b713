"""The confusion matrix at many classes (issue 16): short labels, confusion order, ranked pairs,
the wide layout's cell size and its lean click layer."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from segviz.figures import (
    LABEL_ALL_COLUMNS_UP_TO,
    MIN_CELL,
    MIN_COLUMN,
    confused_pairs,
    confusion_figure,
    confusion_order,
    matrix_cell,
    matrix_pitch,
    matrix_position,
    min_matrix_width,
    short_labels,
)


def test_short_labels_of_the_real_ade_class_table(shared_data):
    """ADE names like "computing;device;data;…" keep their first alternative; the two "screen"
    classes (59 "screen;door;screen", 131 "screen;silver;screen;…") stay distinct."""
    with open(shared_data / "ade20k-csail" / "classes.csv") as f:
        names = [r["name"] for r in csv.DictReader(f)]
    short = short_labels(names)
    assert len(set(short)) == len(names)
    assert max(map(len, short)) <= 18
    assert short[names.index("wall")] == "wall"
    assert short[names.index("building;edifice")] == "building"
    assert short[59] == "screen;door" and short[131] == "screen;silver"


def block_matrix(rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """12 classes in 3 hidden groups (shuffled ids); classes are confused only within their group."""
    ids = rng.permutation(12)
    groups = [sorted(ids[:4].tolist()), sorted(ids[4:8].tolist()), sorted(ids[8:].tolist())]
    cm = np.zeros((12, 13), np.int64)
    for group in groups:
        for g in group:
            cm[g, g] = 1000
            for p in group:
                if p != g:
                    cm[g, p] = rng.integers(20, 200)
    return cm, groups


@pytest.mark.parametrize("seed", range(5))
def test_confusion_order_puts_each_confused_group_side_by_side(seed):
    cm, groups = block_matrix(np.random.default_rng(seed))
    order = confusion_order(cm, np.arange(12)).tolist()
    assert sorted(order) == list(range(12))
    for group in groups:  # every group occupies consecutive positions
        where = sorted(order.index(c) for c in group)
        assert where == list(range(where[0], where[0] + len(group)))


def test_confusion_order_without_confusion_keeps_class_order():
    assert confusion_order(np.eye(5, 6, dtype=int) * 9, [0, 2, 4]).tolist() == [0, 2, 4]


def test_confused_pairs_match_a_brute_force_loop():
    rng = np.random.default_rng(3)
    cm = rng.integers(0, 50, (9, 10)) * (rng.random((9, 10)) < 0.4)
    got = confused_pairs(cm, limit=15)
    loop = sorted(
        ((int(cm[g, p]), g, p) for g in range(9) for p in range(10) if g != p and cm[g, p]),
        key=lambda c: -c[0],
    )[:15]
    assert got["pixels"].tolist() == [c[0] for c in loop]
    for row in got.itertuples():
        assert cm[row.gt, row.pred] == row.pixels and row.gt != row.pred
        assert row.share_of_gt == pytest.approx(row.pixels / cm[row.gt].sum())
    only = confused_pairs(cm, rows=[2], cols=[0, 1, 9], limit=3)
    assert set(only["gt"]) <= {2} and set(only["pred"]) <= {0, 1, 9}


def wide_150(selected=None, seed: int = 0, density: float = 0.1):
    rng = np.random.default_rng(seed)
    k = 150
    cm = rng.integers(0, 30, (k, k + 1)) * (rng.random((k, k + 1)) < density)
    np.fill_diagonal(cm, 5000)
    cm[17] = 0  # a class without ground-truth pixels
    cm[:, 23] = 0  # and one nothing is predicted as
    names = [f"class {i};alt;another long alternative" for i in range(k)]
    fig = confusion_figure(
        cm,
        names,
        normalize="row",
        top_n=k,
        other=True,
        diagonal="dim",
        layout="wide",
        order="confusion",
        selected=selected,
    )
    return cm, names, fig


def test_wide_matrix_at_150_classes():
    """Top-N 150: rows of MIN_CELL px, every row labelled (short tick, full name as category),
    every second column above LABEL_ALL_COLUMNS_UP_TO, no zoom or pan, fits MIN_COLUMN px columns."""
    _, _, fig = wide_150()
    k = 150
    m = fig.layout.margin
    assert fig.layout.height == m.t + m.b + MIN_CELL * k and matrix_pitch(k) == MIN_CELL
    assert min_matrix_width(fig) == m.l + m.r + MIN_COLUMN * k
    assert min_matrix_width(fig) < 780  # fits the main column of a 1280-pixel window (≈ 820 px)
    assert list(fig.layout.yaxis.ticktext)[:2] != list(fig.layout.yaxis.tickvals)[:2]
    assert all(";" not in t for t in fig.layout.yaxis.ticktext) and len(fig.layout.yaxis.ticktext) == k
    xt = list(fig.layout.xaxis.ticktext)
    assert k > LABEL_ALL_COLUMNS_UP_TO and all(t for t in xt[::2]) and not any(xt[1::2])
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        assert fig.layout[axis].fixedrange is True  # the app's outline assumes the cells never move
    assert fig.layout.xaxis.automargin is False and fig.layout.yaxis.scaleanchor is None
    # the hidden axes lie over the category axes position for position, and name every class fully
    assert list(fig.layout.xaxis2.range) == list(fig.layout.xaxis.range) == [-0.5, k - 0.5]
    assert list(fig.layout.xaxis2.ticktext) == list(fig.layout.xaxis.tickvals)
    assert list(fig.layout.yaxis2.ticktext) == list(fig.layout.yaxis.tickvals)
    assert list(fig.layout.yaxis2.range) == list(fig.layout.yaxis.range)


def test_wide_matrix_click_layer_covers_every_cell_once_with_its_numbers():
    """The click layer (text points, hit-tested to 0.5 px) has one point per cell; a point's
    position decodes (matrix_cell) to the class pair whose count and percentages it carries,
    checked against the matrix by a plain loop; empty cells say why they are empty."""
    cm, _, fig = wide_150()
    layers = [t for t in fig.data if t.name == "cells"]
    assert all(t.mode == "text" and t.xaxis == "x2" and t.yaxis == "y2" for t in layers)
    assert all(t.marker.maxdisplayed == 1 for t in layers)
    seen = {}
    for t in layers:
        for n, (x, y) in enumerate(zip(t.x, t.y, strict=True)):
            g, p = matrix_cell(fig, x, y)
            assert (g, p) not in seen
            seen[(g, p)] = (t, n)
    assert len(seen) == 150 * 150
    row_tot, col_tot = cm.sum(axis=1), cm[:, :150].sum(axis=0)
    for (g, p), (t, n) in seen.items():
        if cm[g, p]:
            count, row, col = t.customdata[n]
            assert count == cm[g, p]
            assert row == pytest.approx(round(100 * cm[g, p] / row_tot[g], 1), abs=1e-5)
            assert col == pytest.approx(round(100 * cm[g, p] / col_tot[p], 1), abs=1e-5)
            assert "%{customdata[0]:,} px" in t.hovertemplate
        else:
            assert t.customdata is None and "0 px" in t.hovertemplate
            assert ("no ground-truth pixels" in t.hovertemplate) == (row_tot[g] == 0)
            assert ("nothing is predicted as this class" in t.hovertemplate) == (col_tot[p] == 0)
    assert (
        matrix_cell(fig, 150, 0) is None
        and matrix_cell(fig, 0.5, 0) is None
        and matrix_cell(None, 0, 0) is None
    )
    i, j = matrix_position(fig, (7, 9))
    assert matrix_cell(fig, j, i) == (7, 9) and matrix_position(fig, (7, 150)) is None


def test_wide_matrix_is_small_and_the_same_whatever_cell_is_chosen():
    """What the browser receives: no name, id or string per cell (regression: 2.2 MB at ADE20K's
    150 classes, resent on every click). Without ``selected`` the figure does not depend on the
    chosen cell at all (the app outlines it with CSS), so Streamlit can send a reference."""
    _, names, sparse = wide_150()
    _, _, dense = wide_150(density=1.0)
    sent = json.loads(dense.to_json())
    cells = [t for t in sent["data"] if t.get("name") == "cells"]
    assert all(isinstance(t["x"], dict) and t["x"]["dtype"] == "u1" for t in cells)  # typed, 1 byte
    assert not any(n in json.dumps(t) for t in cells for n in names[:3])
    assert len(sparse.to_json()) < 400_000 and len(dense.to_json()) < 700_000
    heat = [t for t in sent["data"] if t["type"] == "heatmap"]
    assert heat[-1]["z"]["dtype"] == "f4" and len(heat[0]["x"]) == 150  # grey diagonal: its cells only
    assert wide_150(selected=None)[2].to_json() == sparse.to_json()
    (shape,) = wide_150(selected=(7, 9))[2].layout.shapes  # reports still get the outline shape
    i, j = matrix_position(sparse, (7, 9))
    assert (shape.x0, shape.y0) == (j - 0.5, i - 0.5)


def test_matrix_pitch_grows_for_few_classes():
    assert matrix_pitch(11) > matrix_pitch(21) > matrix_pitch(60) >= MIN_CELL


def test_confusion_order_puts_unconfused_classes_last_in_class_order():
    cm = np.diag([50, 50, 50, 50, 50, 50]).astype(np.int64)
    cm = np.column_stack([cm, np.zeros(6, np.int64)])
    cm[1, 4] = cm[4, 1] = cm[4, 5] = 9
    order = confusion_order(cm, np.arange(6)).tolist()
    assert set(order[:3]) == {1, 4, 5} and order[3:] == [0, 2, 3]
    assert abs(order.index(1) - order.index(4)) == 1 and abs(order.index(4) - order.index(5)) == 1


def test_wide_matrix_hover_counts_stay_exact_beyond_float32():
    """Counts are sent as float32 only while every count fits exactly (< 2**24); a dataset's
    123,456,789 confused pixels must not show as 123,456,792."""
    cm = np.array([[10**9, 123_456_789, 0], [7, 5_000_000, 0]])
    fig = confusion_figure(cm, ["road", "car"], layout="wide", order="class", normalize="row")
    (cells,) = [t for t in fig.data if t.name == "cells" and t.customdata is not None]
    sent = json.loads(fig.to_json())["data"][fig.data.index(cells)]["customdata"]
    assert sent["dtype"] == "f8"
    got = {
        matrix_cell(fig, x, y): int(row[0])
        for x, y, row in zip(cells.x, cells.y, cells.customdata, strict=True)
    }
    assert got == {(0, 0): 10**9, (0, 1): 123_456_789, (1, 0): 7, (1, 1): 5_000_000}
    small = confusion_figure(cm // 1000, ["road", "car"], layout="wide", order="class")
    (sent,) = [t["customdata"] for t in json.loads(small.to_json())["data"] if "customdata" in t]
    assert sent["dtype"] == "f4"
