"""The overview in real headless Chromium at 1280×800 and 1600×1000 (issue 16): nothing cut, the
confusion matrix readable and clickable at 150 classes, screenshots in artifacts/ to look at.

Speed is measured by ``benchmarks/bench_overview.py`` (never in a timed test).
"""

from __future__ import annotations

import re

import pytest
from test_browser import ARTIFACTS, Server

from conftest import ROOT
from segviz.figures import MIN_COLUMN

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


OUTLINED = """(g) => {
  // the chosen cell's outline (CSS over the chart): the (row, column) position it frames, and how
  // far its inner box is from one cell's size (px)
  const box = g.closest('.st-key-ov-cm'), a = getComputedStyle(box, '::after');
  if (!a.content || a.content === 'none' || a.display === 'none') return null;
  const L = g._fullLayout, w = L.xaxis._length / L.xaxis._categories.length, h = L.yaxis._length / L.yaxis._categories.length;
  const plot = g.querySelector('.nsewdrag').getBoundingClientRect(), b = box.getBoundingClientRect();
  const x = b.left + parseFloat(a.left) + 2 - plot.left, y = b.top + parseFloat(a.top) + 2 - plot.top;
  return {row: y / h, col: x / w, dw: parseFloat(a.width) - 4 - w, dh: parseFloat(a.height) - 4 - h,
          cell: [g.layout.meta.rows[Math.round(y / h)], g.layout.meta.cols[Math.round(x / w)]]};
}"""


def wait_outlined(page, cell) -> None:
    """Wait until the outline frames exactly the cell ``cell`` = (gt, pred) class ids."""
    page.wait_for_function(
        f"""(cell) => {{ const o = ({OUTLINED})({MATRIX}); return o && o.cell[0] === cell[0] && o.cell[1] === cell[1]
            && Math.abs(o.row - Math.round(o.row)) < 0.05 && Math.abs(o.col - Math.round(o.col)) < 0.05
            && Math.abs(o.dw) < 0.5 && Math.abs(o.dh) < 0.5; }}""",
        arg=list(cell),
    )


def url_cell(page) -> list[int]:
    page.wait_for_function("() => /cell=-?\\d+(%2C|,)-?\\d+/.test(window.location.search)")
    return [int(v) for v in re.search(r"cell=(-?\d+)(?:%2C|,)(-?\d+)", page.url).groups()]


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
    wait_outlined(page, url_cell(page))
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
    from its top-left corner (default its centre), on a whole pixel; returns the (gt, pred) class
    ids of the cell under that pixel (the figure's layout.meta: what the click must select) and its
    GT / predicted categories."""
    handle = page.evaluate_handle(f"() => {MATRIX}")
    x, y = page.evaluate(
        """([g, r, c]) => { const L = g._fullLayout; const box = g.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + L.xaxis.d2p(L.xaxis._categories[c]), box.top + L.yaxis.d2p(L.yaxis._categories[r])]; }""",
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
    x, y, data, gt, pred = page.evaluate(
        """([g, r, c, fx, fy]) => {
            const L = g._fullLayout, xs = L.xaxis._categories, ys = L.yaxis._categories;
            const box = g.querySelector('.nsewdrag').getBoundingClientRect();
            const w = L.xaxis._length / xs.length, h = L.yaxis._length / ys.length;
            const x = Math.round(box.left + (c + fx) * w), y = Math.round(box.top + (r + fy) * h);
            const i = Math.floor((y - box.top) / h), j = Math.floor((x - box.left) / w);
            return [x, y, [g.layout.meta.rows[i], g.layout.meta.cols[j]], ys[i], xs[j]];
        }""",
        [handle, row, col, *at],
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
        wait_outlined(page, data)
        screenshot_whole(page, ARTIFACTS / f"overview_voc_{size[0]}.png")
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


def heading(gt: str, pred: str) -> re.Pattern:
    """The images' heading of a cell from its categories (cut at 40 characters with "…" on the
    axes, in full in the heading)."""
    cut = lambda name: re.escape(name.split("…")[0])  # noqa: E731
    return re.compile(f"GT {cut(gt)}.* → predicted {cut(pred)}")


def check_hover(page, handle) -> None:
    """The hover of a cell with pixels (in Streamlit's own plotly.js) names both classes in full
    and shows the count and both percentages, decoded from the typed customdata."""
    where = page.evaluate(
        """(g) => { const t = g._fullData.find(t => t.name === 'cells' && t.customdata);
            const L = g._fullLayout, x = t.x[0], y = t.y[0];
            return {x, y, data: Array.from(t.customdata[0]), gt: L.yaxis2.ticktext[y], pred: L.xaxis2.ticktext[x]}; }""",
        handle,
    )
    page.evaluate(
        """([g, y]) => { const box = g.querySelector('.nsewdrag').getBoundingClientRect();
            document.querySelector('[data-testid=stMain]').scrollBy(0, box.top + g._fullLayout.yaxis2.l2p(y) - window.innerHeight / 2); }""",
        [handle, where["y"]],
    )
    page.wait_for_timeout(400)
    x, y = page.evaluate(
        """([g, x, y]) => { const L = g._fullLayout, box = g.querySelector('.nsewdrag').getBoundingClientRect();
            return [Math.round(box.left + L.xaxis2.l2p(x)), Math.round(box.top + L.yaxis2.l2p(y))]; }""",
        [handle, where["x"], where["y"]],
    )
    page.mouse.move(x, y)
    page.wait_for_function("() => document.querySelector('.hovertext')")
    text = page.evaluate("() => document.querySelector('.hovertext').textContent")
    count, row, col = where["data"]
    strip = lambda s: s.split("…")[0]  # noqa: E731  (names are isolated: U+2068 … U+2069)
    assert f"GT {strip(where['gt'])}" in text and f"predicted {strip(where['pred'])}" in text, text
    assert f"{int(count):,} px" in text and f"{row:.1f} % of the GT row" in text, text
    assert f"{col:.1f} % of the predicted column" in text, text
    page.mouse.move(5, 5)


FITS = "() => { const b = document.querySelector('.st-key-cm_box'); return [b.scrollWidth, b.clientWidth]; }"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ade_top150_matrix_fits_and_clicks_land_in_their_cell(browser, shared_data, size):
    """150 classes (ADE20K), Top-N 150: the matrix fits its column at 1280×800 too (it scrolled
    sideways: 8-px columns need ≈1,330 px), rows of 8 px with every label, columns of at least
    MIN_COLUMN px. A click anywhere in a cell (its centre or near an edge) selects exactly that
    cell (marker points tied everything within 3 px of the pointer), the cell is outlined, and the
    matrix is not redrawn (the figure does not change on a click: issue 16, 2.2–2.6 s a click)."""
    server = Server(shared_data, "ade20k-csail")
    try:
        context, page = open_overview(browser, server.url + "/?model=csail-2018", size)
        assert_nothing_cut(page, f"ADE {size}")
        set_top_n(page, 150)
        geo = matrix_geometry(page)
        assert geo["n"] == 150 and geo["m"] == 150, geo
        assert geo["dy"] >= 7.9 and geo["dx"] >= MIN_COLUMN - 0.01, geo
        scroll, client = page.evaluate(FITS)
        assert scroll <= client, f"the matrix scrolls sideways at {size}: {scroll} > {client}"
        labels = page.evaluate(f"() => {MATRIX}.querySelectorAll('.ytick text').length")
        assert labels == 150  # every row labelled
        screenshot_whole(page, ARTIFACTS / f"overview_ade150_{size[0]}.png")
        handle = page.evaluate_handle(f"() => {MATRIX}")
        check_hover(page, handle)
        page.evaluate("(g) => { window.plots = 0; g.on('plotly_afterplot', () => window.plots++); }", handle)
        clicks = [
            ((3, 4), (0.5, 0.5)),
            ((40, 41), (0.2, 0.5)),
            ((77, 12), (0.8, 0.2)),
            ((120, 149), (0.25, 0.85)),
        ]
        clicks += [((149, 0), (0.5, 0.5)), ((60, 61), (0.8, 0.8)), ((12, 10), (0.15, 0.5))]
        for (row, col), at in clicks:
            data, gt, pred = click_cell(page, row, col, at)
            wait_cell(page, data)
            page.locator("h3", has_text=heading(gt, pred)).wait_for()
            wait_outlined(page, data)
        assert page.evaluate(f"(g) => {MATRIX} === g && window.plots === 0", handle)  # never redrawn
        page.mouse.move(5, 5)
        page.evaluate(f"() => {MATRIX}.closest('.st-key-ov-cm').scrollIntoView({{block: 'start'}})")
        page.wait_for_timeout(500)
        page.screenshot(path=ARTIFACTS / f"overview_ade150_selected_{size[0]}.png")
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


def test_clicking_the_same_cell_toggles_it_even_after_a_pair_chose_another(browser, sample_server):
    """The figure is not redrawn when a pair chooses a cell, so plotly still holds the cell clicked
    before as selected: clicking that cell again must select it (plotly reports a deselection),
    and a second click on the selected cell clears it."""
    context, page = open_overview(browser, sample_server.url + "/?model=baseline", (1280, 800))
    a, _, _ = click_cell(page, 1, 0)
    wait_cell(page, a)
    wait_outlined(page, a)
    page.locator(".st-key-pairs button").nth(2).click()  # another cell, chosen from the list
    page.wait_for_function(f"() => !window.location.search.includes('cell={a[0]}%2C{a[1]}')")
    b = url_cell(page)
    assert b != a
    wait_outlined(page, b)
    again, _, _ = click_cell(page, 1, 0)  # the first cell again
    assert again == a
    wait_cell(page, a)
    wait_outlined(page, a)
    click_cell(page, 1, 0)  # and once more: cleared
    page.wait_for_function("() => !window.location.search.includes('cell=')")
    page.wait_for_function(f"() => ({OUTLINED})({MATRIX}) === null")
    context.close()
