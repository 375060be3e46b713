"""The 150-class confusion matrix after a cell click (issue 16), old code against new, side by side.

Starts two apps on the same dataset: "old" = the code of a git revision (default ``main``, taken with
``git archive`` into a temporary folder) and "new" = this checkout. For each window size, in
alternating rounds, it sets Top-N to every class, clicks cells and measures in Chromium:

- the matrix figure's JSON size (what ``st.plotly_chart`` sends when the figure changes);
- the bytes the browser receives over the websocket for one click;
- click → the clicked cell outlined and the chart drawn (old: the figure's shape, after plotly
  redrew the new figure; new: the CSS outline over the unchanged figure);
- click → the images of the cell listed (their heading shown);
- whether plotly redrew the matrix for the click.

    python benchmarks/bench_matrix_redraw.py [--data ../shared/data] [--dataset ade20k-csail]
        [--model csail-2018] [--old main] [--rounds 3] [--clicks 3]

Needs Debian's chromium (/usr/bin/chromium) and playwright (never `playwright install`). Medians;
the machine is shared, so trust the ratios more than the absolutes.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

MATRIX = "[...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && g.data.some(t => t.name === 'cells'))"
SIZES = ((1280, 800), (1600, 1000))
CELLS = [(3, 4), (40, 41), (12, 10), (77, 12), (120, 140), (60, 61)]

FIGURE_SIZE = """
import json, sys
from pathlib import Path
from segviz import evaluate, open_dataset
from segviz.figures import confusion_figure
from segviz.dashboard.widgets import plot_names
r = evaluate(open_dataset(Path(sys.argv[1]), model=sys.argv[2] or None))
names = list(r.table.names)
fig = confusion_figure(r.confusion, plot_names(names), normalize="row", top_n=len(names), other=True,
                       diagonal="dim", order="confusion", layout="wide", selected=(0, 1))
print(len(fig.to_json()))
"""


def export_revision(rev: str, into: Path) -> Path:
    """The app's code at git revision ``rev`` (app.py, segviz/, .streamlit/) in ``into``."""
    data = subprocess.run(
        ["git", "archive", rev, "app.py", "segviz", ".streamlit"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


class App:
    """``streamlit run app.py`` from ``code`` (its own segviz first on the path); ``env``: more
    environment (e.g. ``SEGVIZ_STORE``), ``options``: more ``streamlit run`` options."""

    def __init__(
        self,
        code: Path,
        data: Path,
        dataset: str,
        *,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
        timeout: float = 60,
    ):
        import urllib.request

        from test_browser import _free_port

        self.port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "SEGVIZ_DATA_ROOT": str(data),
            "SEGVIZ_DATASET": dataset,
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(code / "app.py"), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(self.port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *options],
            cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start for {code}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def figure_bytes(code: Path, data: Path, dataset: str, model: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", FIGURE_SIZE, str(data / dataset), model],
        env={**os.environ, "PYTHONPATH": str(code)}, cwd=code, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


OUTLINED = """([g, r, c]) => {
    const shapes = (g.layout.shapes || []).filter(s => s.line && s.line.width >= 2);
    if (shapes.length) return shapes.some(s => Math.abs(s.x0 - (c - 0.5)) < 1e-6 && Math.abs(s.y0 - (r - 0.5)) < 1e-6);
    const box = g.closest('.st-key-ov-cm'); if (!box) return false;
    const a = getComputedStyle(box, '::after'); if (!a.content || a.content === 'none') return false;
    const L = g._fullLayout, w = L.xaxis._length / L.xaxis._categories.length;
    return Math.abs(parseFloat(a.left) - (L.margin.l + w * c - 2)) < 1 && Math.abs(parseFloat(a.top) - (L.margin.t + L.yaxis._length / L.yaxis._categories.length * r - 2)) < 1;
}"""


def click_round(browser, url: str, size: tuple[int, int], clicks: int) -> list[dict]:
    from test_browser_overview import set_top_n

    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_default_timeout(120_000)
    received = [0]  # websocket bytes, counted from before the page opens
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda f: received.__setitem__(0, received[0] + len(f))),
    )
    page.goto(url)
    page.wait_for_function(f"() => {{ const g = {MATRIX}; return g && g._fullLayout; }}")
    page.wait_for_timeout(1000)
    k = int(page.locator('input[aria-label="Top-N"]').get_attribute("max"))
    set_top_n(page, k)
    out = []
    for r, c in CELLS[:clicks]:
        handle = page.evaluate_handle(f"() => {MATRIX}")
        page.evaluate(
            "([g, r]) => { const L = g._fullLayout; const box = g.querySelector('.nsewdrag').getBoundingClientRect();"
            " document.querySelector('[data-testid=stMain]').scrollBy(0, box.top + L.yaxis._length * r / L.yaxis._categories.length - window.innerHeight / 2); }",
            [handle, r],
        )
        page.wait_for_timeout(500)
        x, y, gt, pred = page.evaluate(
            """([g, r, c]) => { const L = g._fullLayout, gt = L.yaxis._categories[r], pred = L.xaxis._categories[c];
               const box = g.querySelector('.nsewdrag').getBoundingClientRect();
               return [box.left + L.xaxis.d2p(pred), box.top + L.yaxis.d2p(gt), gt, pred]; }""",
            [handle, r, c],
        )
        page.evaluate(
            "(g) => { window.__plots = 0; g.on('plotly_afterplot', () => window.__plots++); }", handle
        )
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        received[0] = 0
        t0 = time.perf_counter()
        page.mouse.click(x, y)
        page.wait_for_function(
            f"([r, c]) => {{ const g = {MATRIX}; return g && g._fullLayout && ({OUTLINED})([g, r, c]); }}",
            arg=[r, c],
            polling="raf",
        )
        outlined = time.perf_counter() - t0
        page.wait_for_function(
            "([gt, pred]) => [...document.querySelectorAll('h3')].some(h => h.textContent.includes('GT ' + gt + ' → predicted ' + pred))",
            arg=[gt, pred],
            polling="raf",
        )
        listed = time.perf_counter() - t0
        page.wait_for_timeout(1200)  # let the rest of the rerun arrive before counting its bytes
        redrawn = page.evaluate(f"(old) => {MATRIX} !== old || window.__plots > 0", handle)
        out.append(
            {"outlined": outlined, "listed": listed, "bytes": received[0], "redrawn": redrawn, "gt": gt}
        )
    context.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SEGVIZ_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    ap.add_argument("--dataset", default="ade20k-csail")
    ap.add_argument("--model", default="csail-2018")
    ap.add_argument("--old", default="main", help="git revision of the old code")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clicks", type=int, default=3, help="cells clicked per round")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from segviz.report import CHROMIUM, CHROMIUM_ARGS

    with tempfile.TemporaryDirectory(prefix="segviz-old-") as tmp:
        codes = {"old": export_revision(args.old, Path(tmp)), "new": ROOT}
        for label, code in codes.items():
            size = figure_bytes(code, args.data, args.dataset, args.model)
            print(f"{label:>3}: matrix figure JSON at Top-N = all classes: {size / 1e6:.2f} MB")
        apps = {label: App(code, args.data, args.dataset) for label, code in codes.items()}
        results: dict[tuple, list[dict]] = {}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
                for _ in range(args.rounds):
                    for size in SIZES:
                        for label, app in apps.items():
                            url = f"{app.url}/?model={args.model}" if args.model else app.url
                            results.setdefault((label, size), []).extend(
                                click_round(browser, url, size, args.clicks)
                            )
                browser.close()
        finally:
            for app in apps.values():
                app.stop()
    print(f"{args.dataset}: medians over {args.rounds} rounds x {args.clicks} clicks (target: redraw <= 1 s)")
    for size in SIZES:
        for label in codes:
            runs = results[(label, size)]
            med = {key: statistics.median(r[key] for r in runs) for key in ("outlined", "listed", "bytes")}
            redrawn = sum(r["redrawn"] for r in runs)
            print(
                f"{size[0]}x{size[1]} {label:>3}: click -> cell outlined {med['outlined']:.2f} s, "
                f"-> images listed {med['listed']:.2f} s, {med['bytes'] / 1e3:,.0f} kB received, "
                f"matrix redrawn in {redrawn} of {len(runs)} clicks"
            )


if __name__ == "__main__":
    main()
