"""The confusion matrix at many classes (issue 16): short labels, confusion order, ranked pairs,
the wide layout's cell size and its lean click layer."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from segviz.figures import (
    MIN_CELL,
    confused_pairs,
    confusion_figure,
    confusion_order,
    matrix_pitch,
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


def test_wide_matrix_at_150_classes():
    """Top-N 150: rows of MIN_CELL px, every class labelled (short tick, full name as category),
    the selected cell outlined, the click layer lean (one marker drawn, hover by template)."""
    rng = np.random.default_rng(0)
    k = 150
    cm = rng.integers(0, 30, (k, k + 1)) * (rng.random((k, k + 1)) < 0.1)
    np.fill_diagonal(cm, 5000)
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
        selected=(7, 9),
    )
    m = fig.layout.margin
    assert fig.layout.height == m.t + m.b + MIN_CELL * k and matrix_pitch(k) == MIN_CELL
    assert min_matrix_width(fig) == m.l + m.r + MIN_CELL * k
    assert list(fig.layout.yaxis.ticktext)[:2] != list(fig.layout.yaxis.tickvals)[:2]
    assert all(";" not in t for t in fig.layout.yaxis.ticktext) and len(fig.layout.yaxis.ticktext) == k
    cells = fig.data[-1]
    assert cells.marker.maxdisplayed == 1 and cells.marker.size == 4 and cells.text is not None
    assert fig.layout.xaxis.automargin is False and fig.layout.yaxis.scaleanchor is None
    (shape,) = fig.layout.shapes
    j = list(fig.layout.xaxis.tickvals).index(names[9])
    i = list(fig.layout.yaxis.tickvals).index(names[7])
    assert (shape.x0, shape.y0) == (j - 0.5, i - 0.5)
    sent = next(t for t in json.loads(fig.to_json())["data"] if t.get("name") == "cells")
    assert isinstance(sent["customdata"][0], list) and len(sent["customdata"]) == k * k
    assert len(fig.to_json()) < 3_000_000  # was 5.7 MB with one hover string per cell


def test_matrix_pitch_grows_for_few_classes():
    assert matrix_pitch(11) > matrix_pitch(21) > matrix_pitch(60) >= MIN_CELL


def test_confusion_order_puts_unconfused_classes_last_in_class_order():
    cm = np.diag([50, 50, 50, 50, 50, 50]).astype(np.int64)
    cm = np.column_stack([cm, np.zeros(6, np.int64)])
    cm[1, 4] = cm[4, 1] = cm[4, 5] = 9
    order = confusion_order(cm, np.arange(6)).tolist()
    assert set(order[:3]) == {1, 4, 5} and order[3:] == [0, 2, 3]
    assert abs(order.index(1) - order.index(4)) == 1 and abs(order.index(4) - order.index(5)) == 1
