"""The overview in real headless Chromium at 1280×800 and 1600×1000 (issue 16): nothing cut, the
confusion matrix readable and clickable at 150 classes, screenshots in artifacts/ to look at.

Speed is measured by ``benchmarks/bench_overview.py`` (never in a timed test).
"""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, Server

from conftest import ROOT

pytestmark = pytest.mark.browser
SIZES = [(1280, 800), (1600, 1000)]
MATRIX = "[...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && g.data.some(t => t.name === 'cells'))"


def open_overview(browser, url: str, size: tuple[int, int]):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.get_by_text("Confusion matrix", exact=True).wait_for()
    page.wait_for_function(f"() => {{ const g = {MATRIX}; return g && g._fullLayout; }}")
    page.locator("[data-testid='stMetricValue']").first.wait_for()
    page.wait_for_timeout(1000)
    return context, page


def set_top_n(page, n: int) -> None:
    """Type Top-N and wait until the matrix shows ``n`` class rows (plus an (other) row if any)."""
    box = page.locator('input[aria-label="Top-N"]')
    box.fill(str(n))
    box.press("Enter")
    page.wait_for_function(
        f"() => {{ const g = {MATRIX}; return g && g._fullLayout.yaxis._categories.filter(c => !c.startsWith('(other')).length === {n}; }}"
    )
    page.wait_for_timeout(800)


def screenshot_whole(page, path) -> None:
    """The whole overview (Streamlit scrolls inside its main section, so the window grows to it)."""
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=stMainBlockContainer] > [data-testid=stVerticalBlock]')"
        ".getBoundingClientRect().bottom + document.querySelector('[data-testid=stMain]').scrollTop + 40"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 60, 8000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=path)
    page.set_viewport_size(size)
    page.wait_for_timeout(600)


CUT = """() => {
  const sel = ["[data-testid=stMetricValue]", "[data-testid=stMetricLabel]",
               "[data-testid=stMetricValue] *", "[data-testid=stMetricLabel] p",
               "[data-testid=stButtonGroup] button", "[data-testid=stButtonGroup] button p",
               ".st-key-pairs button p", ".st-key-thumbs button p", "[data-testid=stCheckbox] p",
               "[data-testid=stWidgetLabel] p"];
  const cut = [];
  for (const s of sel) for (const e of document.querySelectorAll(s)) {
    if (e.scrollWidth > e.clientWidth + 0.5 && e.clientWidth > 0) cut.push([s, e.textContent, e.scrollWidth, e.clientWidth]);
  }
  // a segmented control does not shrink: its last options overflow the column and are clipped
  for (const b of document.querySelectorAll("[data-testid=stButtonGroup] button")) {
    const col = b.closest("[data-testid=stColumn]") || b.closest("[data-testid=stVerticalBlock]");
    if (b.getBoundingClientRect().right > col.getBoundingClientRect().right + 0.5) cut.push(["segmented", b.textContent]);
  }
  return cut;
}"""

TABLE_SCROLLS = """() => [...document.querySelectorAll('[data-testid=stDataFrame]')].filter(d => !d.closest('details:not([open])')).map(d => {
  const s = d.querySelector('.dvn-scroller'); return s ? s.scrollWidth - s.clientWidth : null; })"""


def assert_nothing_cut(page, label: str) -> None:
    cut = page.evaluate(CUT)
    assert not cut, f"{label}: cut elements {cut}"
    scroll = page.evaluate(TABLE_SCROLLS)  # the per-class table's grid (its scroller must be found)
    assert scroll and None not in scroll, f"{label}: no data grid scroller found {scroll}"
    assert all(d <= 1 for d in scroll), f"{label}: a table scrolls sideways {scroll}"


def matrix_geometry(page) -> dict:
    return page.evaluate(
        f"""() => {{ const g = {MATRIX}; const L = g._fullLayout; const xs = L.xaxis._categories, ys = L.yaxis._categories;
        return {{n: ys.length, m: xs.length, dx: Math.abs(L.xaxis.d2p(xs[1]) - L.xaxis.d2p(xs[0])),
                 dy: Math.abs(L.yaxis.d2p(ys[1]) - L.yaxis.d2p(ys[0])), width: g.getBoundingClientRect().width,
                 column: g.closest('.st-key-cm_box').getBoundingClientRect().width}}; }}"""
    )


@pytest.fixture(scope="module")
def sample_server():
    server = Server(ROOT, "sample_data")
    yield server
    log = server.stop()
    assert "Traceback" not in log, log


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sample_overview_nothing_cut(browser, sample_server, size):
    context, page = open_overview(browser, sample_server.url, size)
    assert_nothing_cut(page, f"sample_data {size}")
    geo = matrix_geometry(page)
    assert geo["width"] >= geo["column"] - 2  # fills its column
    assert min(geo["dx"], geo["dy"]) >= 18  # 19 classes: room for the numbers
    # the first most-confused pair selects its cell: outlined, its images listed
    page.locator(".st-key-pairs button").first.click()
    page.locator("h3", has_text="→ predicted").wait_for()
    page.wait_for_function(f"() => ({MATRIX}.layout.shapes || []).length === 1")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.st-key-thumbs img')].filter(i => i.complete && i.naturalWidth > 0).length >= 2"
    )
    assert "cell=" in page.url
    assert_nothing_cut(page, f"sample_data {size} with thumbnails")  # captions keep their percentage
    screenshot_whole(page, ARTIFACTS / f"overview_sample_{size[0]}.png")
    page.get_by_text("Which mIoU?").click()
    page.locator("[data-testid=stTable]").wait_for()
    cells = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=stTable] td')].filter(c => c.scrollWidth > c.clientWidth + 0.5).map(c => c.textContent)"
    )
    assert not cells, cells
    context.close()


def click_cell(page, row: int, col: int, at: tuple[float, float] = (0.5, 0.5)) -> tuple[list[int], str, str]:
    """Click the cell at category positions (row, col), at fraction ``at`` of its width and height
    from its top-left corner (default its centre); returns the (gt, pred) class ids of that cell
    (the figure's layout.meta, what a click must select) and its GT / predicted categories."""
    handle = page.evaluate_handle(f"() => {MATRIX}")
    x, y, data, gt, pred = page.evaluate(
        """([g, r, c]) => {
            const L = g._fullLayout, gt = L.yaxis._categories[r], pred = L.xaxis._categories[c];
            const box = g.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + L.xaxis.d2p(pred), box.top + L.yaxis.d2p(gt), [g.layout.meta.rows[r], g.layout.meta.cols[c]], gt, pred];
        }""",
        [handle, row, col],
    )
    # bring the cell into view (the matrix may be taller than the window and wider than its column)
    page.evaluate(
        """([g, x, y]) => { const m = document.querySelector('[data-testid=stMain]');
            m.scrollBy(0, y - window.innerHeight / 2); const b = g.closest('.st-key-cm_box');
            b.scrollBy(x - b.getBoundingClientRect().left - b.clientWidth / 2, 0); }""",
        [handle, x, y],
    )
    page.wait_for_timeout(400)
    x, y = page.evaluate(
        """([g, gt, pred, fx, fy]) => { const L = g._fullLayout; const box = g.querySelector('.nsewdrag').getBoundingClientRect();
            const w = L.xaxis._length / L.xaxis._categories.length, h = L.yaxis._length / L.yaxis._categories.length;
            return [box.left + L.xaxis.d2p(pred) + (fx - 0.5) * w, box.top + L.yaxis.d2p(gt) + (fy - 0.5) * h]; }""",
        [handle, gt, pred, *at],
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(250)
    page.mouse.click(x, y)
    return data, gt, pred


def wait_cell(page, data) -> None:
    page.wait_for_function(
        f"() => window.location.search.includes('cell={data[0]}%2C{data[1]}') || window.location.search.includes('cell={data[0]},{data[1]}')"
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_voc_overview(browser, shared_data, size):
    """21 classes: the matrix fills its column with cells big enough for their numbers, and the
    clicked cell is outlined."""
    server = Server(shared_data, "voc2012-deeplab")
    try:
        context, page = open_overview(browser, server.url + "/?model=deeplabv3plus", size)
        assert_nothing_cut(page, f"VOC {size}")
        geo = matrix_geometry(page)
        assert geo["width"] >= geo["column"] - 2 and min(geo["dx"], geo["dy"]) >= 18, geo
        data, gt, pred = click_cell(page, 15, 0)  # person -> background
        wait_cell(page, data)
        page.locator("h3", has_text=f"GT {gt} → predicted {pred}").wait_for()
        page.wait_for_function(
            f"() => {{ const g = {MATRIX}; return g.layout.shapes && g.layout.shapes.length === 1; }}"
        )
        screenshot_whole(page, ARTIFACTS / f"overview_voc_{size[0]}.png")
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ade_top150_matrix_clicks_land_in_their_cell(browser, shared_data, size):
    """150 classes (ADE20K): Top-N 150 draws square cells of at least 8 px with every label, and a
    click on a cell's centre selects exactly that cell (it used to land on a neighbour)."""
    server = Server(shared_data, "ade20k-csail")
    try:
        context, page = open_overview(browser, server.url + "/?model=csail-2018", size)
        assert_nothing_cut(page, f"ADE {size}")
        set_top_n(page, 150)
        geo = matrix_geometry(page)
        assert geo["n"] == 150 and geo["m"] == 150, geo
        assert geo["dx"] >= 7.9 and geo["dy"] >= 7.9, geo
        labels = page.evaluate(f"() => {MATRIX}.querySelectorAll('.ytick text').length")
        assert labels == 150  # every row labelled
        screenshot_whole(page, ARTIFACTS / f"overview_ade150_{size[0]}.png")
        for row, col in [(3, 4), (40, 41), (77, 12), (120, 149), (149, 0), (60, 61)]:
            data, _, _ = click_cell(page, row, col)
            wait_cell(page, data)
            page.locator("h3", has_text="→ predicted").first.wait_for()
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


def test_click_on_the_other_bucket_lists_its_pairs(browser, sample_server):
    """A click on an "(other)" cell arrives as OTHER_INDEX: it lists the pooled pairs behind it
    (it used to become an "outside the matrix" notice); a pair then selects a real cell."""
    context, page = open_overview(browser, sample_server.url + "/?model=baseline", (1280, 800))
    set_top_n(page, 5)
    n = matrix_geometry(page)["n"]
    assert n == 6  # 5 classes + (other)
    data, gt, pred = click_cell(page, 5, 0)  # (other) row, first column
    assert data[0] == -1 and gt.startswith("(other")
    page.locator("h3", has_text=f"GT {gt} → predicted {pred}").wait_for()
    page.locator(".st-key-opairs button").first.click()
    page.locator("h3", has_text=f"→ predicted {pred}").wait_for()
    page.wait_for_function("() => /cell=\\d+(%2C|,)\\d+/.test(window.location.search)")
    assert page.get_by_text("is outside this").count() == 0
    context.close()
