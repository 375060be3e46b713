"""Shared links, however malformed, land on a valid view with a one-line notice (issue 12).

Regression: a link with ``cell=99,99``, ``cell=0,22``, ``cell=-1,-1``, an unknown image,
``dataset=voc%00`` or a 5,000-character dataset showed a traceback with server paths.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, unmarked

APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def open_link(monkeypatch, query: dict[str, str]) -> AppTest:
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(ROOT))
    monkeypatch.setenv("SEGVIZ_DATASET", "sample_data")
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def notices(at: AppTest) -> list[str]:
    return [unmarked(e.value) for e in at.warning] + [unmarked(e.value) for e in at.error]


CASES = {
    "cell-99-99": ({"cell": "99,99"}, "Confusion cell 99,99 is outside this 19-class matrix"),
    "cell-0-22": ({"cell": "0,22"}, "Confusion cell 0,22 is outside this 19-class matrix"),
    "cell-negative": ({"cell": "-1,-1"}, "Confusion cell -1,-1 is outside"),
    "cell-words": ({"cell": "road,car"}, "'road,car' is not two integers"),
    "cell-three": ({"cell": "1,2,3"}, "is not two integers"),
    "image-unknown": ({"image": "no_such_image"}, "Image 'no_such_image' is not in this dataset"),
    "image-huge": ({"image": "x" * 5000}, "(5,000 characters) is not an image name"),
    "dataset-nul": ({"dataset": "voc\x00"}, "dataset 'voc\\x00' is not a folder name; opening 'sample_data'"),
    "dataset-huge": ({"dataset": "a" * 5000}, "(5,000 characters) is not a folder name"),
    "dataset-missing": ({"dataset": "nope"}, "'nope': no such dataset folder under the data root; opened"),
    "dataset-outside": ({"dataset": "../"}, "'../': outside the data root; opened 'sample_data' instead"),
    "dataset-absolute": ({"dataset": "/etc"}, "'/etc': outside the data root"),
    "view-unknown": ({"view": "Secret"}, "view 'Secret' is not one of Overview, Images, Compare"),
    "model-unknown": ({"model": "gpt"}, "Model 'gpt' is not in this dataset; showing 'baseline'"),
    "present-yes": ({"present": "yes"}, "present='yes' is neither 0 nor 1"),
}


@pytest.mark.parametrize("query, expected", CASES.values(), ids=CASES.keys())
def test_malformed_link_lands_on_the_overview_with_a_notice(monkeypatch, query, expected):
    at = open_link(monkeypatch, query)
    assert not at.exception, at.exception
    shown = notices(at)
    assert any(expected in n for n in shown), shown
    assert len(shown) == 1 and "\n" not in shown[0]  # one line
    assert not any(str(ROOT) in n or "/work" in n for n in shown)  # no server paths
    assert {m.label for m in at.metric} >= {"mIoU", "Pixel accuracy"}  # a valid overview
    assert at.query_params.get("dataset") == "sample_data"  # the URL now names what is shown
    if "cell" in query:
        assert "cell" not in at.query_params


def test_malformed_image_link_lands_on_an_image(monkeypatch):
    """Regression: view=Images with cell=0,22 raised an IndexError (cell_name) with a traceback."""
    at = open_link(monkeypatch, {"view": "Images", "cell": "0,22", "image": "nope"})
    assert not at.exception, at.exception
    shown = notices(at)
    assert any("Confusion cell 0,22 is outside" in n for n in shown)
    assert any("Image 'nope' is not in this dataset" in n for n in shown)
    first = at.session_state["image"]
    assert any(unmarked(s.value) == first for s in at.subheader) and at.query_params["image"] == first


def test_everything_malformed_at_once(monkeypatch):
    query = {
        "dataset": "voc\x00",
        "model": "m" * 5000,
        "view": "../../etc",
        "cell": "∞,1",
        "image": "\x07bell",
        "present": "2",
    }
    at = open_link(monkeypatch, query)
    assert not at.exception, at.exception
    assert len(notices(at)) == 6
    assert metric_labels(at) >= {"mIoU"}
    assert dict(at.query_params) | {"model": None} == {
        "dataset": "sample_data",
        "model": None,
        "view": "Overview",
    }


def metric_labels(at: AppTest) -> set[str]:
    return {m.label for m in at.metric}


def test_a_valid_link_shows_no_notice(monkeypatch):
    at = open_link(monkeypatch, {"model": "baseline", "view": "Overview", "cell": "1,0"})
    assert not at.exception and notices(at) == []
    assert any("GT sidewalk → predicted road" in unmarked(s.value) for s in at.subheader)
