"""Figure builders: what the plotly figures carry (data, order, clicks, hover)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from segviz import ClassTable
from segviz.figures import class_bar_figure, confusion_figure, hover_image_figure, select_classes

TABLE = ClassTable.from_rows(
    [(0, "road", (128, 64, 128), False), (1, "car", (0, 0, 142), False), (2, "bus", (0, 60, 100), False)]
)
CM = np.array([[50, 10, 0, 2], [5, 20, 0, 0], [0, 0, 0, 0]])  # bus absent; 2 invalid


def _frame():
    return pd.DataFrame(
        {"id": [0, 1, 2], "name": ["road", "car", "bus"], "iou": [0.7, 0.5, np.nan], "gt_pixels": [62, 25, 0]}
    )


def test_bars_in_class_colours_with_na_for_undefined():
    fig = class_bar_figure(_frame(), TABLE, metric="iou", sort="value")
    bar = fig.data[0]
    assert list(bar.y) == ["road", "car", "bus"]
    assert list(bar.text) == ["70.0", "50.0", "n/a"] and bar.x[2] == 0
    assert bar.marker.color[1] == "rgb(0,0,142)"
    assert list(class_bar_figure(_frame(), TABLE, sort="name").data[0].y) == ["bus", "car", "road"]


def test_confusion_cells_carry_click_data_and_percentages():
    fig = confusion_figure(CM, TABLE.names, normalize="row", show_invalid=True, diagonal="show")
    heat = [t for t in fig.data if t.type == "heatmap"][-1]
    assert list(heat.y) == ["road", "car", "bus"] and list(heat.x) == ["road", "car", "bus", "(invalid)"]
    assert heat.z[0][1] == 10 / 62 * 100
    assert np.isnan(heat.z[2][0])  # empty row: undefined, not 0
    cells = next(t for t in fig.data if t.name == "cells")
    assert list(cells.customdata[1]) == [0, 1, 10] and list(cells.customdata[3]) == [0, 3, 2]
    # Sent as plain JSON lists, not base64 typed arrays: a click returns customdata as a list
    # only then (shared/NOTES.md); an object array is sent as lists and validated fast.
    sent = next(t for t in json.loads(fig.to_json())["data"] if t.get("name") == "cells")
    assert sent["customdata"][1] == [0, 1, 10] and isinstance(sent["x"], list)
    assert "16.1 % of GT road (row)" in cells.text[1] and heat.hoverinfo == "skip"
    assert fig.layout.hoverdistance == -1 and fig.layout.yaxis.scaleanchor == "x"


def test_dimmed_diagonal_and_hidden_classes():
    fig = confusion_figure(CM, TABLE.names, diagonal="dim", hidden=[2])
    heat = [t for t in fig.data if t.type == "heatmap"][-1]
    assert list(heat.y) == ["road", "car"] and list(heat.x) == ["road", "car"]
    assert np.isnan(heat.z[0][0]) and heat.z[0][1] == 10  # counts; the diagonal is drawn grey underneath
    assert len([t for t in fig.data if t.type == "heatmap"]) == 2


def test_top_n_keeps_most_confused():
    cm = np.zeros((5, 6), int)
    np.fill_diagonal(cm, 100)
    cm[3, 4] = 40
    cm[0, 1] = 5
    assert select_classes(cm, top_n=2).tolist() == [3, 4]
    assert select_classes(cm, top_n=2, hidden=[4]).tolist() == [0, 3]


def test_hover_image_names_classes_under_the_cursor():
    gt = np.zeros((8, 8), int)
    gt[4:, :] = 1
    pred = np.ones((8, 8), int)
    fig = hover_image_figure(
        np.zeros((8, 8, 3), np.uint8),
        gt,
        pred,
        ["road", "car", "ignored"],
        ["road", "car", "(invalid)"],
        step=4,
    )
    hm = fig.data[-1]
    assert list(hm.customdata[0][0]) == ["road", "car"] and list(hm.customdata[1][0]) == ["car", "car"]
    assert fig.data[0].type == "image" and fig.data[0].source.startswith("data:image/jpeg")


def test_class_names_are_escaped_in_every_figure():
    evil = '<a href="http://x">bad</a>'
    table = ClassTable.from_rows(
        [(0, evil, (1, 2, 3), False), (1, "b&c", (4, 5, 6), False), (2, "bus", (7, 8, 9), False)]
    )
    frame = _frame().assign(name=list(table.names))
    bars = class_bar_figure(frame, table)
    assert "&lt;a href" in bars.data[0].y[0] and "<a" not in "".join(bars.data[0].y)
    cm = confusion_figure(CM, table.names)
    heat = [t for t in cm.data if t.type == "heatmap"][-1]
    assert list(heat.y)[:2] == ['&lt;a href="http://x"&gt;bad&lt;/a&gt;', "b&amp;c"]
    cells = next(t for t in cm.data if t.name == "cells")
    assert "<a href" not in "".join(cells.text)
