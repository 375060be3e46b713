"""The app in real headless Chromium (Debian's chromium, driven by Playwright).

Covers what only a browser shows: a click on a confusion-matrix cell reaching the script, the image
list it opens, the image view with its hover, and screenshots (saved to artifacts/) to look at.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_root: Path, dataset: str, *, env: dict[str, str] | None = None):
        """``env``: more environment for the app (e.g. SEGVIZ_DATA_ROOTS)."""
        self.port = _free_port()
        env = {**os.environ, "SEGVIZ_DATA_ROOT": str(data_root), "SEGVIZ_DATASET": dataset, **(env or {})}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(self.port),
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start:\n{self.proc.stdout.read()}")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


@pytest.fixture(scope="module")
def sample_server():
    server = Server(ROOT, "sample_data")
    yield server
    log = server.stop()
    assert "Traceback" not in log, log


def _page(browser, width=1600, height=1000):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def _wait_overview(page):
    page.get_by_text("Confusion matrix", exact=True).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data.some(t => t.name === 'cells'))"
    )
    page.wait_for_timeout(800)


def _click_cell(page, gt_name: str, pred_name: str) -> None:
    handle = page.evaluate_handle(
        "() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data.some(t => t.name === 'cells'))"
    )
    handle.as_element().scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    x, y = page.evaluate(
        """([g, gt, pred]) => {
            const L = g._fullLayout; const box = g.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + L.xaxis.d2p(pred), box.top + L.yaxis.d2p(gt)];
        }""",
        [handle, *(f"\u2068{n}\u2069" for n in (gt_name, pred_name))],  # names are isolated
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.mouse.click(x, y)


def _heading(gt: str, pred: str) -> re.Pattern:
    """The cell heading, whose names are wrapped in direction isolates (U+2068 … U+2069)."""
    return re.compile(f"GT \u2068?{re.escape(gt)}\u2069? → predicted \u2068?{re.escape(pred)}\u2069?")


def test_overview_click_cell_opens_image_list_and_image(browser, sample_server):
    context, page = _page(browser)
    page.goto(sample_server.url)
    _wait_overview(page)
    page.screenshot(path=ARTIFACTS / "overview_sample.png", full_page=True)
    _click_cell(page, "sidewalk", "road")
    heading = page.locator("h3", has_text=_heading("sidewalk", "road"))
    heading.wait_for()
    buttons = page.locator("button", has_text=" px (")
    buttons.first.wait_for()
    assert buttons.count() >= 1
    heading.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "cell_images_sample.png", full_page=True)
    # the fragment writes the URL after drawing the list: wait for it rather than race it
    page.wait_for_function("() => location.search.includes('cell=')", timeout=30_000)
    assert "cell=" in page.url
    name = buttons.first.inner_text().split(" · ")[0].strip("\u2068\u2069")
    buttons.first.click()
    page.wait_for_function(  # the four linked panels (photo, GT, prediction, error map) are drawn
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data.filter(t => t.type === 'image').length === 4 && g.querySelectorAll('image').length >= 4)"
    )
    # the image view's fragment writes the URL after drawing: wait for it rather than race it
    page.wait_for_function("() => location.search.includes('image=')", timeout=30_000)
    assert f"image={name}" in page.url.replace("%2F", "/")
    # hover over the interactive picture shows both class names
    hover = page.evaluate_handle(
        "() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data.some(t => t.type === 'image'))"
    ).as_element()
    hover.scroll_into_view_if_needed()
    box = hover.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)  # inside the photo
    page.locator(".hoverlayer .hovertext").first.wait_for()
    text = page.locator(".hoverlayer .hovertext").first.text_content()
    assert "GT:" in text and "pred:" in text
    page.screenshot(path=ARTIFACTS / "image_view_sample.png", full_page=True)
    context.close()


def test_overview_on_real_data(browser, shared_data):
    server = Server(shared_data, "camvid-val")
    try:
        context, page = _page(browser)
        page.goto(server.url)
        _wait_overview(page)
        page.screenshot(path=ARTIFACTS / "overview_camvid.png", full_page=True)
        _click_cell(page, "Pavement", "Road")
        page.locator("h3", has_text=_heading("Pavement", "Road")).wait_for()
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


def test_compare_view_and_presentation_mode(browser, sample_server):
    context, page = _page(browser)
    page.goto(sample_server.url + "/?view=Compare")
    page.locator("h3", has_text="Per-class IoU change").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2")
    page.wait_for_timeout(1000)
    page.screenshot(path=ARTIFACTS / "compare_sample.png")
    page.locator("h3", has_text="Images: largest gains").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")].filter(i => i.complete && i.naturalWidth > 0).length >= 3"
    )
    page.screenshot(path=ARTIFACTS / "compare_images_sample.png")
    page.goto(sample_server.url + "/?present=1")  # stakeholder mode: see test_browser_images.py
    page.get_by_text("1 / 5").wait_for()
    page.wait_for_timeout(800)
    assert page.locator("text=Hide classes").count() == 0  # controls hidden
    page.screenshot(path=ARTIFACTS / "presentation_sample.png")
    context.close()


def test_open_an_image_from_the_table(browser, sample_server):
    """Images view: clicking a row of the per-image table opens that image (worst mIoU first)."""
    from segviz import evaluate, open_dataset

    frame = evaluate(open_dataset(ROOT / "sample_data", model="baseline")).image_frame()
    second = frame.sort_values("mean_iou")["name"].iloc[1]
    context, page = _page(browser)
    page.goto(sample_server.url + "/?view=Images&model=baseline")
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    page.wait_for_timeout(1500)
    box = grid.bounding_box()
    row_height = 35  # Streamlit's default data-grid row height; the header is one row
    page.mouse.click(box["x"] + 14, box["y"] + row_height * 2.5)  # selection cell of the second row
    page.locator("h3", has_text=second).wait_for()
    page.wait_for_function(  # the four linked panels (photo, GT, prediction, error map) are drawn
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data.filter(t => t.type === 'image').length === 4 && g.querySelectorAll('image').length >= 4)"
    )
    page.wait_for_function(f"() => window.location.search.includes('image={second}')")  # the URL follows
    page.screenshot(path=ARTIFACTS / "image_from_table_sample.png")
    context.close()


def test_hostile_names_make_no_links_images_or_formulas(browser, tiny_dataset):
    """Issue 11, item 9: class, image and dataset names holding Markdown links and images, LaTeX
    and HTML render as text: no <a> or <img> pointing at evil.example, no KaTeX, in any view."""
    from test_app import LATEX, LINK_NAME, make_hostile_names

    folder, _ = make_hostile_names(tiny_dataset)
    server = Server(folder.parent, folder.name)
    try:
        context, page = _page(browser)
        for query in ("?cell=1,0", f"?view=Images&image={urllib.parse.quote(LATEX)}"):
            page.goto(server.url + "/" + query)
            page.locator("h1").first.wait_for()
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 1")
            page.wait_for_timeout(1500)
            bad = page.evaluate(
                """() => [...document.querySelectorAll('a[href*="evil"]:not([href^="#"]), img[src*="evil"], .katex, iframe')]
                         .map(e => e.outerHTML)"""
            )
            assert bad == [], bad
            text = page.locator("[data-testid='stMain']").inner_text()
            assert "Session expired" in text
        page.goto(server.url + "/?cell=1,0")
        page.wait_for_function(  # the name, literally (without its invisible isolates and joiners)
            "n => [...document.querySelectorAll('h3')].some(h => h.textContent.replace(/[\u2060\u2068\u2069]/g, '').includes(n))",
            arg=LINK_NAME,
        )
        page.screenshot(path=ARTIFACTS / "hostile_names.png", full_page=True)
        context.close()
    finally:
        log = server.stop()
    assert "Traceback" not in log, log
