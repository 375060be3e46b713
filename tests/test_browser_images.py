"""Issue 16 in real headless Chromium: the image view (linked zoom, hover, the chosen confusion,
Back button), compare, and the stakeholder presentation, at 1600×1000 and 1280×800.

Screenshots go to artifacts/ (look at them)."""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, Server, _page

from conftest import ROOT
from segviz import evaluate, open_dataset

pytestmark = pytest.mark.browser
SIZES = ((1600, 1000), (1280, 800))
PANELS = "() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && g.data.filter(t => t.type === 'image').length === 4)"


@pytest.fixture(scope="module")
def server():
    s = Server(ROOT, "sample_data")
    yield s
    log = s.stop()
    assert "Traceback" not in log, log


def _wait_panels(page):
    page.wait_for_function(f"() => !!({PANELS})()")
    page.wait_for_timeout(800)


def _ranges(page):
    return page.evaluate(
        f"""() => {{ const L = ({PANELS})()._fullLayout;
            return ['', '2', '3', '4'].map(i => [L['xaxis' + i].range, L['yaxis' + i].range]); }}"""
    )


def test_panels_zoom_together_and_hover_names_classes(browser, server):
    """Zooming one panel zooms all four (axes `matches`); the hover names GT and prediction."""
    context, page = _page(browser)
    page.goto(server.url + "/?view=Images&model=baseline")
    _wait_panels(page)
    handle = page.evaluate_handle(PANELS).as_element()
    handle.scroll_into_view_if_needed()
    before = _ranges(page)
    assert all(r == before[0] for r in before)
    box = page.evaluate(
        f"() => {{ const b = ({PANELS})().querySelector('.nsewdrag').getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; }}"
    )
    x, y, w, h = box
    page.mouse.move(x + w * 0.2, y + h * 0.2)
    page.mouse.down()
    page.mouse.move(x + w * 0.5, y + h * 0.6, steps=8)
    page.mouse.up()
    page.wait_for_timeout(800)
    after = _ranges(page)
    assert after[0] != before[0]  # zoomed
    assert all(r == after[0] for r in after), after  # ... and every panel followed
    page.mouse.move(x + w * 0.35, y + h * 0.4)
    page.locator(".hoverlayer .hovertext").first.wait_for()
    text = page.locator(".hoverlayer .hovertext").first.text_content()
    assert "GT:" in text and "pred:" in text
    page.screenshot(path=ARTIFACTS / "image_view_zoomed_sample.png")
    context.close()


def test_box_select_sets_the_full_resolution_crop(browser, server):
    """Box Select on the panels sets the crop (in original pixels): sliders, dashed box, PNG size."""
    context, page = _page(browser)
    page.goto(server.url + "/?view=Images&model=baseline")
    _wait_panels(page)
    page.get_by_role("button", name="Crop PNG (512 × 256 px)").wait_for()
    handle = page.evaluate_handle(PANELS).as_element()
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)  # shows the toolbar
    handle.query_selector('.modebar-btn[data-title="Box Select"]').click()
    x, y, w, h = page.evaluate(
        f"() => {{ const b = ({PANELS})().querySelector('.nsewdrag').getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; }}"
    )
    page.mouse.move(x + w * 0.25, y + h * 0.25)
    page.mouse.down()
    page.mouse.move(x + w * 0.75, y + h * 0.75, steps=8)
    page.mouse.up()
    page.locator("button", has_text="Crop PNG (").filter(has_not_text="512 × 256").wait_for()
    label = page.locator("button", has_text="Crop PNG (").inner_text()
    cw, ch = (int(v) for v in label.split("(")[1].split(" px")[0].split(" × "))
    assert 200 <= cw <= 312 and 100 <= ch <= 156, label  # about half of 512 × 256 each way
    page.wait_for_function(f"() => ({PANELS})().layout.shapes && ({PANELS})().layout.shapes.length === 4")
    page.wait_for_function(  # the fragment's rerun is over: one four-panel figure, not two
        "() => [...document.querySelectorAll('.js-plotly-plot')].filter(g => g.data && g.data.filter(t => t.type === 'image').length === 4).length === 1"
    )
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / "image_view_crop_sample.png")
    context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_image_view_screenshots(browser, server, size):
    result = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    names = list(result.table.names)
    cell = (names.index("sidewalk"), names.index("road"))
    context, page = _page(browser, *size)
    page.goto(server.url + f"/?view=Images&model=baseline&cell={cell[0]},{cell[1]}")
    _wait_panels(page)
    page.screenshot(path=ARTIFACTS / f"image_view_sample_{size[0]}.png")
    assert _no_truncated_metrics(page) == []  # issue 16 §3: "89…" at 1280
    page.evaluate(f"() => ({PANELS})().scrollIntoView({{block: 'center'}})")
    page.wait_for_timeout(1000)
    page.screenshot(path=ARTIFACTS / f"image_view_panels_sample_{size[0]}.png")
    context.close()


def test_back_button_returns_to_the_previous_image(browser, server):
    """Regression (issue 16 §5): the browser's Back button did nothing."""
    frame = evaluate(open_dataset(ROOT / "sample_data", model="baseline")).image_frame()
    order = frame.sort_values("mean_iou", kind="stable")["name"].tolist()
    context, page = _page(browser)
    page.goto(server.url + "/?view=Images&model=baseline")
    page.locator("h3", has_text=order[0]).wait_for()
    page.get_by_role("button", name="Next ▶").click()
    page.locator("h3", has_text=order[1]).wait_for()
    page.wait_for_function(f"() => window.location.search.includes('image={order[1]}')")
    page.get_by_role("button", name="Next ▶").click()
    page.locator("h3", has_text=order[2]).wait_for()
    page.wait_for_function(f"() => window.location.search.includes('image={order[2]}')")
    page.go_back()
    page.locator("h3", has_text=order[1]).wait_for()
    page.wait_for_function(f"() => window.location.search.includes('image={order[1]}')")
    page.go_back()
    page.locator("h3", has_text=order[0]).wait_for()
    page.go_forward()
    page.locator("h3", has_text=order[1]).wait_for()
    context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_screenshots(browser, server, size):
    context, page = _page(browser, *size)
    page.goto(server.url + "/?view=Compare")
    page.locator("h3", has_text="Per-class IoU change").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2")
    page.wait_for_timeout(1000)
    page.screenshot(path=ARTIFACTS / f"compare_sample_{size[0]}.png")
    assert _no_truncated_metrics(page) == []  # "Mean pixel ac…" with five tiles in a row at 1280
    context.close()


def _no_truncated_metrics(page) -> list:
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMetricValue"], [data-testid="stMetricValue"] *,'
              + ' [data-testid="stMetricLabel"] *, [data-testid="stMetricDelta"] *, .pr-change, .pr-change *, .pr-step')]
            .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth)
            .map(e => [e.innerText, e.scrollWidth, e.clientWidth])"""
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_stakeholder_mode(browser, server, size):
    """Every step: no chrome, numbers never cut, step indicator; keys move between steps."""
    context, page = _page(browser, *size)
    page.goto(server.url + "/?present=1")
    page.get_by_text("1 / 5").wait_for()
    for step in range(1, 6):
        try:
            page.get_by_text(f"{step} / 5").wait_for()
        except Exception:  # keep what the page showed, for the report
            page.screenshot(path=ARTIFACTS / f"present_failure_{size[0]}_step{step}.png")
            raise
        page.wait_for_timeout(1200)
        if step in (2, 3, 5):
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 1")
        if step == 4:
            page.wait_for_function(
                "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")].filter(i => i.complete && i.naturalWidth > 0).length >= 3"
            )
        page.screenshot(path=ARTIFACTS / f"present_step{step}_{size[0]}.png")
        assert page.locator('[data-testid="stSidebar"]').is_hidden()
        assert (
            page.locator('[data-testid="stToolbar"]').count() == 0
            or page.locator('[data-testid="stToolbar"]').is_hidden()
        )
        for chrome in ("Ignore ids", "upload a dataset zip", "Deploy", "Presentation mode"):
            assert all(not e.is_visible() for e in page.get_by_text(chrome).all()), chrome
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "click" not in body.lower() and str(ROOT) not in body and "ignore ids" not in body.lower()
        assert _no_truncated_metrics(page) == []
        page.wait_for_function("() => window.segvizKeys === true")  # the key listener is installed
        if step < 5:
            page.keyboard.press("ArrowRight" if step % 2 else "PageDown")
    assert page.get_by_role("button", name="Next").is_disabled()  # the last step
    page.keyboard.press("PageUp")
    page.get_by_text("4 / 5").wait_for()
    page.keyboard.press("ArrowLeft")
    page.get_by_text("3 / 5").wait_for()
    context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_image_view_on_voc(browser, shared_data, size):
    server = Server(shared_data, "voc2012-deeplab")
    try:
        context, page = _page(browser, *size)
        page.goto(server.url + "/?view=Images&model=deeplabv3plus")
        _wait_panels(page)
        page.screenshot(path=ARTIFACTS / f"image_view_voc_{size[0]}.png")
        assert _no_truncated_metrics(page) == []
        page.evaluate(f"() => ({PANELS})().scrollIntoView({{block: 'center'}})")
        page.wait_for_timeout(1000)
        page.screenshot(path=ARTIFACTS / f"image_view_panels_voc_{size[0]}.png")
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log
