"""The Slices view in headless Chromium (issue 15): a click on a bar filters every view, the worst
slices on a button, screenshots at 1600×1000 and 1280×800 (saved to artifacts/, to look at)."""

from __future__ import annotations

import pytest
from test_app_slices import camvid_root  # noqa: F401  (the fixture: CamVid links + metadata.csv)
from test_browser import ARTIFACTS, Server, _page

from conftest import SHARED, loose

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(camvid_root):  # noqa: F811
    # the dataset's folders link into the shared data: a second allowed root (the data-root rule)
    server = Server(camvid_root, "camvid", env={"SEGVIZ_DATA_ROOTS": str(SHARED.resolve())})
    yield server
    log = server.stop()
    assert "Traceback" not in log, log


def _wait_bars(page) -> None:
    page.locator("h3", has_text=loose("mIoU by time")).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data[0].type === 'bar')"
    )
    page.wait_for_timeout(1000)


def _click_bar(page, value: str) -> None:
    """Click the bar of ``value`` (found by its customdata: the raw value a click returns; the
    labels are cut and isolated by widgets.plot_names)."""
    handle = page.evaluate_handle(
        "() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data[0].type === 'bar')"
    )
    handle.as_element().scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    x, y = page.evaluate(
        """([g, v]) => {
            const i = [...g.data[0].customdata].findIndex(c => c[0] === v);
            const r = g.querySelectorAll('.bars .point path')[i].getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2];
        }""",
        [handle, value],
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.mouse.click(x, y)


def _shoot(page, tag: str, text: str, file: str) -> None:
    """A viewport screenshot with the heading at the top (Streamlit scrolls inside its main block,
    so a full-page screenshot shows only the first screen)."""
    heading = page.locator(tag, has_text=loose(text)).first
    heading.wait_for()
    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(600)
    page.screenshot(path=ARTIFACTS / file)


def test_click_a_bar_filters_every_view(browser, server):
    context, page = _page(browser, 1600, 1000)
    page.goto(server.url + "/?view=Slices&model=tinyfcn")
    _wait_bars(page)
    page.screenshot(path=ARTIFACTS / "slices_1600.png", full_page=True)
    _click_bar(page, "dusk")
    page.get_by_text(loose("time = dusk (23 of 101 images)")).wait_for()
    page.wait_for_function("() => location.search.includes('slice=time')")
    page.wait_for_timeout(800)
    page.screenshot(path=ARTIFACTS / "slices_dusk_1600.png", full_page=True)
    page.get_by_role("button", name="Find the worst slices").click()
    page.get_by_text("significant at that false-discovery rate", exact=False).wait_for()
    page.wait_for_timeout(500)
    assert page.get_by_role("button", name="Find the worst slices").count() == 0  # gone once run
    _shoot(page, "h3", "Worst slices", "slices_worst_1600.png")
    _shoot(page, "h3", "Two models by time", "slices_two_models_1600.png")
    # the other views follow the slice: the overview counts 23 images
    page.locator("label", has_text="Overview").first.click()
    page.get_by_text("Confusion matrix", exact=True).wait_for()
    page.get_by_text(loose("time = dusk (23 of 101 images)")).wait_for()
    page.wait_for_timeout(800)
    tiles = page.locator("[data-testid='stMetric']", has_text="Images")
    assert "23" in tiles.first.inner_text()
    _shoot(page, "h1", "camvid", "slices_overview_dusk_1600.png")
    # ✕ clear: back to every image
    page.get_by_role("button", name="✕ clear").click()
    page.wait_for_function("() => !location.search.includes('slice=')")
    page.get_by_text(loose("time = dusk")).wait_for(state="detached")
    context.close()


def test_slices_view_at_1280(browser, server):
    context, page = _page(browser, 1280, 800)
    page.goto(server.url + "/?view=Slices&model=tinyfcn&slice=time%3Ddawn")
    _wait_bars(page)
    page.get_by_text(loose("time = dawn (30 of 101 images)")).wait_for()
    page.screenshot(path=ARTIFACTS / "slices_1280.png")
    # the search ran in the first test: the server's cache shows the list without the button
    _shoot(page, "h3", "Worst slices", "slices_worst_1280.png")
    _shoot(page, "h3", "Two models by time", "slices_two_models_1280.png")
    context.close()
