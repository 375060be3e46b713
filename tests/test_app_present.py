"""Stakeholder mode's screen lives in the URL (issue 16, item 4): ``?present=1&step=N`` (1-based, as
the "N / 5" indicator) opens screen N, Next / Previous write it, the browser's Back returns to the
previous screen, and a malformed or too large step lands on a valid screen with a notice.

Regression: the step was only in the session, so a shared link opened on the first screen and Back
left the presentation.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import conftest
from conftest import unmarked
from segviz.dashboard.state import URL_KEYS, ViewState

# sample_data has two models: five screens, the last one "what changed"
TITLES = [
    "How good is the model overall?",
    "Which classes does it get right?",
    "What does it confuse?",
    "Where does it fail worst?",
    "What changed from baseline to candidate?",
]


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_app(monkeypatch, query) -> AppTest:
    return conftest.run_app(monkeypatch, query={"model": "baseline", **query}, timeout=120)


def screen(at: AppTest) -> tuple[str, str]:
    """(title, "N / M" indicator) of the shown screen."""
    where = next(m.value for m in at.markdown if 'class="pr-step"' in m.value)
    return unmarked(at.header[0].value), where.split(">")[1].split("<")[0]


def test_every_url_key_is_a_view_state_field():
    assert set(URL_KEYS) <= set(ViewState.__dataclass_fields__)
    assert "step" in URL_KEYS


def test_a_link_opens_its_screen_and_the_buttons_write_the_step(monkeypatch):
    at = run_app(monkeypatch, {"present": "1", "step": "3"})
    assert not at.exception, at.exception
    assert screen(at) == (TITLES[2], "3 / 5")
    assert at.query_params["step"] == "3" and at.query_params["present"] == "1"
    at.button(key="pr:next").click().run()
    assert screen(at) == (TITLES[3], "4 / 5") and at.query_params["step"] == "4"
    at.button(key="pr:prev").click().run()
    at.button(key="pr:prev").click().run()
    assert screen(at) == (TITLES[1], "2 / 5") and at.query_params["step"] == "2"
    # the browser's Back: Streamlit reruns with the previous query string; the app re-applies it
    at.query_params["step"] = "3"
    at.run()
    assert screen(at) == (TITLES[2], "3 / 5") and at.query_params["step"] == "3"
    at.button(key="pr:exit").click().run()
    assert "step" not in at.query_params and "present" not in at.query_params  # only a presentation has steps
    assert {m.label for m in at.metric} >= {"mIoU", "Pixel accuracy"}  # the dashboard's overview


def test_without_presentation_a_step_is_not_written(monkeypatch):
    at = run_app(monkeypatch, {"step": "2"})
    assert not at.exception, at.exception
    assert "step" not in at.query_params and not at.warning


@pytest.mark.parametrize(
    "step, expected, notice",
    [
        ("two", (TITLES[0], "1 / 5"), "The link's presentation step 'two' is not a screen number (1 to 99)"),
        ("0", (TITLES[0], "1 / 5"), "step '0' is not a screen number"),
        ("9", (TITLES[4], "5 / 5"), "step 9 is beyond this presentation's 5 screens; showing the last one"),
    ],
)
def test_a_bad_step_lands_on_a_screen_with_a_notice(monkeypatch, step, expected, notice):
    at = run_app(monkeypatch, {"present": "1", "step": step})
    assert not at.exception, at.exception
    assert screen(at) == expected
    shown = [unmarked(w.value) for w in at.warning]
    assert len(shown) == 1 and notice in shown[0], shown
    assert at.query_params["step"] == expected[1].split(" ")[0]  # the URL names what is shown


def test_a_click_sent_before_the_browser_applied_the_last_url_is_not_taken_for_back(monkeypatch):
    """Regression (seen in Chromium, ~1 run in 3): on "4 / 5", ← pressed right after PageUp sent its
    request while the browser still showed the previous run's URL (step=5). The session took that
    lagging URL for the Back button and showed "5 / 5" instead of "3 / 5"; in the 8-session load
    test the same race reverted a cell's "open image". A URL is adopted only while the session's own
    state is still what it last wrote."""
    at = run_app(monkeypatch, {"present": "1", "step": "5"})
    at.button(key="pr:prev").click().run()
    assert screen(at)[1] == "4 / 5" and at.query_params["step"] == "4"
    at.query_params["step"] = "5"  # the browser has not applied step=4 yet when ← is pressed
    at.button(key="pr:prev").click().run()
    assert screen(at)[1] == "3 / 5" and at.query_params["step"] == "3"
    at.query_params["step"] = "5"  # the Back button: no widget changed anything, the URL wins
    at.run()
    assert screen(at)[1] == "5 / 5"
