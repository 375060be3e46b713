"""The Errors view in real headless Chromium: a click on a stacked-bar segment reaches the script,
lists the images ranked by those pixels, and a thumbnail opens the image view with the error types
in colour. Screenshots at 1600×1000 and 1280×800 go to artifacts/ (look at them)."""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, Server

from conftest import ROOT, loose

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    s = Server(ROOT, "sample_data")
    yield s
    log = s.stop()
    assert "Traceback" not in log, log


def _page(browser, width: int, height: int):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(90_000)
    return context, page


BARS = "() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && g.data.some(t => t.name === 'extent'))"


def _wait_bars(page) -> None:
    page.wait_for_function(f"() => !!({BARS})()")
    page.wait_for_timeout(800)


def _click_segment(page, class_index: int, trace_name: str) -> None:
    """Click the middle of one class's segment of one trace (plotly's axes give its pixels); the bar
    is found by its customdata (the class index a click returns; labels go through plot_names)."""
    handle = page.evaluate_handle(BARS)
    handle.as_element().scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    x, y = page.evaluate(
        """([g, cls, trace]) => {
            const t = g._fullData.findIndex(d => d.name === trace);
            const i = Array.from(g._fullData[t].customdata).findIndex(c => c[0] === cls);
            const bar = g.querySelectorAll('.barlayer .trace')[t].querySelectorAll('.point')[i];
            const r = bar.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2];
        }""",
        [handle, class_index, trace_name],
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.mouse.click(x, y)


@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)], ids=["1600x1000", "1280x800"])
def test_click_segment_lists_images_and_opens_error_types(browser, server, size):
    from segviz import evaluate, open_dataset
    from segviz.anatomy import analyse

    width, height = size
    tag = f"{width}x{height}"
    context, page = _page(browser, width, height)
    page.goto(server.url + "/?view=Errors&model=baseline")
    _wait_bars(page)
    page.screenshot(path=ARTIFACTS / f"errors_view_{tag}.png", full_page=True)
    _click_segment(page, 11, "segment (missed / invented)")  # sample_data's person
    heading = page.locator("h3", has_text=loose("person · segment errors"))
    heading.wait_for()
    page.wait_for_function("() => location.search.includes('errors=11')")
    buttons = page.locator("button", has_text=" px (")
    buttons.first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")].filter(i => i.complete && i.naturalWidth > 0).length >= 4"
    )
    # the list is the library's ranking
    ranked = analyse(evaluate(open_dataset(ROOT / "sample_data", model="baseline"))).images_for_error(
        11, "segment"
    )
    first = buttons.first.inner_text().split(" · ")[0].strip("\u2068\u2069")  # the name is isolated
    assert first == ranked["name"].iloc[0]
    heading.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"errors_images_{tag}.png", full_page=True)
    buttons.first.click()
    page.get_by_text("Error types", exact=False).first.wait_for()
    page.locator("text=FN segment (missed)").first.wait_for()
    page.wait_for_function(
        f"() => location.search.includes('image={first}') && location.search.includes('view=Images')"
    )
    # the error-type picture after the "Error types" heading has loaded (the image view's panels are
    # one plotly figure, so that picture is the st.image to wait for)
    page.wait_for_function(
        """() => {
            const head = [...document.querySelectorAll('strong')].find(e => e.textContent === 'Error types');
            return !!head && [...document.querySelectorAll("[data-testid='stImage'] img")].some(
                i => (head.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_FOLLOWING)
                    && i.complete && i.naturalWidth > 0);
        }"""
    )
    page.get_by_text("Error types", exact=False).first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    # the picture after "Error types" holds the missed-segment colour (FN segment, (0, 0, 230))
    blue = page.evaluate(
        """() => {
            const head = [...document.querySelectorAll('strong')].find(e => e.textContent === 'Error types');
            const img = [...document.querySelectorAll("[data-testid='stImage'] img")].find(
                i => head.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_FOLLOWING);
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
            const d = ctx.getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let k = 0; k < d.length; k += 4) if (d[k] < 50 && d[k + 1] < 50 && d[k + 2] > 180) n++;
            return n;
        }"""
    )
    assert blue > 100, blue
    page.screenshot(path=ARTIFACTS / f"errors_image_view_{tag}.png", full_page=True)
    context.close()
