"""The Confidence view in headless Chromium: what it looks like at two window sizes (screenshots in
artifacts/, to look at), the threshold slider, and a click on a likely-label-error row opening the
image view (AppTest cannot select a table row)."""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, Server

from conftest import ROOT

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    s = Server(ROOT, "sample_data")
    yield s
    log = s.stop()
    assert "Traceback" not in log, log


def _open(browser, url: str, width: int, height: int):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(url)
    page.locator("h3", has_text="Threshold explorer").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3")
    page.wait_for_timeout(1500)
    return context, page


def _no_cut_metric_values(page) -> list[str]:
    """Tile values whose text is wider than their box (ellipsis)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMetricValue"] > div')]
            .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
    )


def _screens(page, stem: str) -> None:
    """Screenshots of the whole view, one viewport at a time (Streamlit scrolls its main block, not
    the page, so a full-page screenshot shows the first screen only)."""
    total = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    step = page.viewport_size["height"] - 80
    for i, top in enumerate(range(0, total, step)):
        page.evaluate(f"() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, {top})")
        page.wait_for_timeout(400)
        page.screenshot(path=ARTIFACTS / f"{stem}_{i + 1}.png")


@pytest.mark.parametrize("width, height", [(1600, 1000), (1280, 800)])
def test_confidence_view_screenshots(browser, server, width, height):
    context, page = _open(browser, server.url + "/?view=Confidence&model=candidate", width, height)
    assert page.locator("text=Can the confidence be trusted?").count() == 1
    assert _no_cut_metric_values(page) == []
    _screens(page, f"confidence_{width}x{height}")
    context.close()


def test_label_error_row_opens_the_image(browser, server):
    context, page = _open(browser, server.url + "/?view=Confidence&model=baseline", 1600, 1000)
    page.get_by_role("button", name="Find likely label errors").click()
    page.get_by_text("Click a row to open the image").wait_for()
    page.wait_for_timeout(1500)
    grid = page.locator("[data-testid='stDataFrame']").filter(has_text="flagged").first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    page.screenshot(path=ARTIFACTS / "confidence_label_errors_1600x1000.png")
    first = page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stDataFrame\"]')].length")
    assert first >= 3
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 * 1.5)  # selection cell of the first row
    page.get_by_text("Error map", exact=False).first.wait_for()
    page.wait_for_function("() => location.search.includes('view=Images')")
    page.get_by_text("Confidently wrong", exact=False).first.wait_for()
    # the two overlay pictures (uncertainty, confidently wrong) have loaded; the image view's own
    # panels are one plotly figure, not pictures
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")].filter(i => i.complete && i.naturalWidth > 0).length >= 2"
    )
    page.locator("text=px wrong with confidence").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / "confidence_image_overlays_1600x1000.png")
    context.close()


def test_confidence_view_on_camvid(browser, shared_data):
    """Real data: camvid-val / tinyfcn (ECE 0.81 points, the shared reference 0.0081307)."""
    real = Server(shared_data, "camvid-val")
    try:
        context, page = _open(browser, real.url + "/?view=Confidence&model=tinyfcn", 1600, 1000)
        assert page.locator("[data-testid='stMetricValue']", has_text="0.81 pts").count() == 1
        assert _no_cut_metric_values(page) == []
        _screens(page, "confidence_camvid_1600x1000")
        context.close()
    finally:
        log = real.stop()
    assert "Traceback" not in log, log


def _loaded_images(page, at_least: int) -> None:
    page.wait_for_function(
        "n => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= n",
        arg=at_least,
    )


def test_label_error_regions_drawn_on_camvid(browser, shared_data):
    """The likely-label-error regions drawn (issue 14 follow-up): in the Confidence view on one
    image's ground truth and prediction, outlined then hatched, at 1600×1000 and 1280×800; then a
    click on the queue opens the image in the Images view with the regions outlined there."""
    real = Server(shared_data, "camvid-val")
    try:
        for width, height in ((1600, 1000), (1280, 800)):
            context, page = _open(browser, real.url + "/?view=Confidence&model=tinyfcn", width, height)
            run, where = (
                page.get_by_role("button", name="Find likely label errors"),
                page.get_by_text("Where they are"),
            )
            run.or_(where).first.wait_for()
            if run.count():  # the second window finds the queue in the shared cache
                run.click()
            where.wait_for()
            legend = page.get_by_text("likely label error region").first
            legend.wait_for()
            assert "(drawn;" in legend.text_content()
            _loaded_images(page, 2)
            legend.scroll_into_view_if_needed()  # the pictures end just above their legend
            page.wait_for_timeout(800)
            page.screenshot(path=ARTIFACTS / f"confidence_label_error_regions_{width}x{height}.png")
            pictures = page.locator("[data-testid='stImage'] img")
            sizes = [pictures.nth(i).bounding_box() for i in range(pictures.count())]
            assert all(b["width"] > 200 for b in sizes[-2:])  # two readable pictures side by side
            assert sizes[-1]["x"] > sizes[-2]["x"] + sizes[-2]["width"] - 1
            page.get_by_role("radio", name="hatched").or_(
                page.get_by_text("hatched", exact=True)
            ).first.click()
            page.wait_for_timeout(1500)
            _loaded_images(page, 2)
            legend.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=ARTIFACTS / f"confidence_label_error_regions_hatched_{width}x{height}.png")
            if width == 1600:
                grid = page.locator("[data-testid='stDataFrame']").filter(has_text="flagged").first
                grid.scroll_into_view_if_needed()
                page.wait_for_timeout(800)
                box = grid.bounding_box()
                page.mouse.click(box["x"] + 14, box["y"] + 35 * 1.5)  # selection cell of the first row
                page.wait_for_function("() => location.search.includes('view=Images')")
                page.get_by_text("Outline likely label errors").first.wait_for()
                _loaded_images(page, 2)
                page.locator("text=px wrong with confidence").scroll_into_view_if_needed()
                page.wait_for_timeout(800)
                assert page.get_by_text("likely label error region").count() >= 1
                page.screenshot(path=ARTIFACTS / "images_label_error_outline_1600x1000.png")
            context.close()
    finally:
        log = real.stop()
    assert "Traceback" not in log, log
