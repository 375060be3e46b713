"""Printing a report to PDF with Playwright and Debian's Chromium."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from segviz.errors import SegvizError

#: The Chromium that :func:`write_pdf` drives, and its launch arguments (``shared/NOTES.md``).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# A4 printing: margins in mm and the zoom of the page. The page is laid out (and plotly sizes its
# figures) at the width that fills the printable area at that zoom.
_PDF_MARGIN_MM = 12
_PDF_SCALE = 0.8
PRINT_WIDTH = round((210 - 2 * _PDF_MARGIN_MM) / 25.4 * 96 / _PDF_SCALE)

_RENDERED_JS = """() => {
  const plots = [...document.querySelectorAll('.plotly-graph-div')];
  const drawn = plots.every(p => p._fullLayout && p.querySelector('.main-svg'));
  const images = [...document.images].every(i => i.complete);
  return drawn && images && document.fonts.status === 'loaded';
}"""


def write_pdf(
    html: str, path: str | Path, *, timeout: float = 60.0, executable: str | Path = CHROMIUM
) -> None:
    """Print an HTML document (e.g. from :func:`build_report`) to an A4 PDF at ``path``.

    Uses Playwright with ``executable`` (Debian's Chromium by default), offline (the report needs no
    network; anything else a page asks for fails) and waits until every plotly figure is drawn and every image decoded.
    The page is laid out at the printable width, so the figures fit the paper. Runs in a worker
    thread, so it also works where an asyncio loop is running (Jupyter). Takes ≈2–3 s on a quiet
    machine, most of it Chromium parsing the inlined plotly.js; printing itself is ≈0.4 s.

    Raises:
        SegvizError: Playwright or Chromium is missing, or the page did not render within ``timeout``.
    """
    path = Path(path)
    if not Path(executable).is_file():
        raise SegvizError(
            f"PDF export needs Chromium at {executable}, which does not exist "
            "(apt-get install --no-install-recommends chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise SegvizError("PDF export needs the playwright package: pip install playwright") from None
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            _print_pdf(html, path, timeout=timeout, executable=str(executable))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="segviz-pdf")
    worker.start()
    worker.join()
    if outcome:
        exc = outcome[0]
        if isinstance(exc, SegvizError):
            raise exc
        raise SegvizError(f"PDF export to {path} failed: {type(exc).__name__}: {exc}") from exc


def _print_pdf(html: str, path: Path, *, timeout: float, executable: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="segviz-pdf-") as tmp, sync_playwright() as p:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")  # a file loads faster than set_content
        browser = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": PRINT_WIDTH, "height": 1100}, offline=True)
            page = context.new_page()
            page.set_default_timeout(timeout * 1000)
            page.emulate_media(media="print")
            page.goto(page_file.as_uri(), wait_until="load")
            try:
                page.wait_for_function(_RENDERED_JS, timeout=timeout * 1000)
            except PlaywrightTimeout:
                raise SegvizError(
                    f"PDF export: the figures did not finish drawing within {timeout:g} s"
                ) from None
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            margin = f"{_PDF_MARGIN_MM}mm"
            page.pdf(
                path=str(path),
                format="A4",
                print_background=True,
                scale=_PDF_SCALE,
                margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
            )
        finally:
            browser.close()
