"""Downloads: figures through kaleido (real headless Chromium), tables as CSV, results as JSON."""

from __future__ import annotations

import io
import json
import os
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import ROOT
from segviz import export
from segviz.dataset import open_dataset
from segviz.errors import SegvizError
from segviz.evaluate import evaluate
from segviz.export import figure_bytes, results_json, tables_csv
from segviz.figures import INVALID_NAME, class_bar_figure, confusion_figure

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def sample():
    return evaluate(open_dataset(ROOT / "sample_data", model="candidate"))


@pytest.fixture
def with_absent_class(tiny_dataset: Path):
    """The tiny dataset with a class in no mask: its IoU, accuracy... are undefined (NaN)."""
    classes = tiny_dataset / "classes.csv"
    classes.write_text(classes.read_text() + "3,bus,0,60,100,0\n")
    return evaluate(open_dataset(tiny_dataset))


@pytest.fixture(scope="module")
def kaleido_browser():
    """kaleido and Chromium are needed: mandatory in CI, skipped with a reason elsewhere."""
    missing = []
    try:
        import kaleido  # noqa: F401
    except ImportError:
        missing.append("the kaleido package (pip install kaleido==1.5.0)")
    if not Path(CHROMIUM).exists() and not os.environ.get("BROWSER_PATH"):
        missing.append(f"{CHROMIUM} (apt-get install --no-install-recommends chromium)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {' and '.join(missing)}")
        pytest.skip(f"figure export needs {' and '.join(missing)}")


# ---------------------------------------------------------------------- figures
@pytest.mark.browser
def test_png_has_the_requested_size_times_scale(kaleido_browser, sample):
    fig = confusion_figure(sample.confusion, sample.table.names, normalize="row")
    data = figure_bytes(fig, format="png", width=640, height=480, scale=2)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        assert im.size == (1280, 960)
        # a real picture, not a blank canvas: the heatmap has many colours
        assert len(im.convert("RGB").getcolors(1 << 20)) > 50


@pytest.mark.browser
def test_png_without_size_takes_the_layout_height(kaleido_browser, sample):
    fig = class_bar_figure(sample.class_frame(), sample.table)
    with Image.open(io.BytesIO(figure_bytes(fig, format="png", scale=1))) as im:
        assert im.size == (700, fig.layout.height)  # kaleido's default width, the figure's height


@pytest.mark.browser
def test_svg_is_xml_with_the_class_names(kaleido_browser, sample):
    fig = class_bar_figure(sample.class_frame(), sample.table)
    data = figure_bytes(fig, format="svg", width=800, height=600)
    text = data.decode("utf-8")
    assert text.lstrip().startswith(("<svg", "<?xml"))
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    labels = {"".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")}
    assert set(sample.table.names) <= labels


@pytest.mark.browser
def test_concurrent_exports_each_get_their_own_figure(kaleido_browser, sample):
    fig = class_bar_figure(sample.class_frame(), sample.table)

    def width_of(w: int) -> int:
        with Image.open(io.BytesIO(figure_bytes(fig, format="png", width=w, height=300, scale=1))) as im:
            return im.size[0]

    widths = [400 + 10 * i for i in range(6)]
    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(width_of, widths)) == widths


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "jpg"}, r"format must be 'png' or 'svg' \(got 'jpg'\)"),
        ({"format": "png", "width": 0}, r"width must be a positive integer .*\(got 0\)"),
        ({"format": "png", "height": 1.5}, r"height must be a positive integer .*\(got 1.5\)"),
        ({"format": "png", "scale": 0}, r"scale must be a positive number \(got 0\)"),
    ],
    ids=["format", "width", "height", "scale"],
)
def test_bad_options_are_refused_before_any_browser_starts(monkeypatch, options, message):
    monkeypatch.setattr(export, "_SERVICE", None)  # would fail if a browser were asked for
    with pytest.raises(ValueError, match=message):
        figure_bytes({"data": [], "layout": {}}, **options)


def test_missing_kaleido_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(export, "_SERVICE", export._Service())
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido → ImportError
    with pytest.raises(SegvizError, match=r"needs the kaleido package.*pip install kaleido==1\.5\.0"):
        figure_bytes({"data": [], "layout": {}}, format="png")


def test_missing_chromium_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("choreographer", reason="kaleido (and its choreographer) not installed")
    monkeypatch.setattr(export, "_SERVICE", export._Service())
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chrome"))
    with pytest.raises(SegvizError, match=r"needs Chrome or Chromium.*no-chrome.*apt-get install"):
        figure_bytes({"data": [], "layout": {}}, format="png")


# ---------------------------------------------------------------------- CSV
def _read(data: bytes, **options) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), **options)


@pytest.mark.parametrize("which", ["sample", "with_absent_class"])
def test_class_and_image_tables_read_back_exactly(request, which):
    ev = request.getfixturevalue(which)
    files = tables_csv(ev)
    assert sorted(files) == ["classes.csv", "confusion_matrix.csv", "images.csv"]
    classes = _read(files["classes.csv"], dtype={"name": str})
    pd.testing.assert_frame_equal(classes, ev.class_frame(), check_exact=True, check_dtype=False)
    images = _read(files["images.csv"], dtype={"name": str})
    pd.testing.assert_frame_equal(images, ev.image_frame(), check_exact=True, check_dtype=False)


def test_undefined_values_are_empty_cells(with_absent_class):
    text = tables_csv(with_absent_class)["classes.csv"].decode()
    bus = next(line for line in text.splitlines() if ",bus," in line)
    assert bus == "3,bus,,,,,0,0,0"


def test_confusion_matrix_csv_is_labelled_with_class_names(sample):
    matrix = _read(tables_csv(sample)["confusion_matrix.csv"], index_col=0)
    names = list(sample.table.names)
    assert matrix.index.name == "ground_truth"
    assert matrix.index.tolist() == names
    assert matrix.columns.tolist() == [*names, INVALID_NAME]
    np.testing.assert_array_equal(matrix.to_numpy(), sample.confusion)


def test_confusion_matrix_csv_counts_invalid_predictions(tiny_dataset):
    ev = evaluate(open_dataset(tiny_dataset))  # image b predicts 255 (void) once: invalid
    matrix = _read(tables_csv(ev)["confusion_matrix.csv"], index_col=0)
    assert matrix[INVALID_NAME].tolist() == ev.confusion[:, -1].tolist()
    assert matrix[INVALID_NAME].sum() == ev.invalid_pred_pixels == 1


# ---------------------------------------------------------------------- JSON
@pytest.mark.parametrize("which", ["sample", "with_absent_class"])
def test_results_json_equals_to_dict(request, which):
    ev = request.getfixturevalue(which)
    data = results_json(ev)
    assert json.loads(data) == ev.to_dict()
    assert b"NaN" not in data


def test_undefined_values_are_null_in_json(with_absent_class):
    classes = json.loads(results_json(with_absent_class))["classes"]
    bus = next(c for c in classes if c["name"] == "bus")
    assert bus["iou"] is None and bus["gt_pixels"] == 0
