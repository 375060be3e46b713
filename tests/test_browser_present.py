"""Stakeholder mode's screen in the URL, in real headless Chromium (issue 16, item 4): a shared link
opens its screen, the → key moves on and writes the step, the browser's Back button returns to the
previous screen. Screenshots in artifacts/."""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, Server

from conftest import ROOT

pytestmark = pytest.mark.browser


def test_a_link_opens_its_screen_and_back_returns_to_the_previous_one(browser):
    server = Server(ROOT, "sample_data")
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(server.url + "/?model=baseline&present=1&step=2")
        page.get_by_text("Which classes does it get right?").wait_for()
        page.get_by_text("2 / 5").wait_for()
        page.wait_for_timeout(800)
        page.keyboard.press("ArrowRight")  # the Next button's shortcut
        page.get_by_text("What does it confuse?").wait_for()
        page.wait_for_function("() => new URLSearchParams(window.location.search).get('step') === '3'")
        page.screenshot(path=ARTIFACTS / "present_step3_1280.png")
        page.go_back()
        page.get_by_text("Which classes does it get right?").wait_for()
        page.wait_for_function("() => new URLSearchParams(window.location.search).get('step') === '2'")
        assert page.get_by_text("2 / 5").is_visible()
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log
