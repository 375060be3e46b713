"""The 150-class confusion matrix in headless Chromium (issue 16): draw time of the figure alone,
old ("square") and new ("wide") layout side by side, and the app's redraw after Top-N -> 150 and
after a cell click, at 1280×800 and 1600×1000.

    python benchmarks/bench_overview.py [--data ../shared/data] [--dataset ade20k-csail]
                                        [--model csail-2018] [--rounds 3]
    python benchmarks/bench_overview.py --synthetic 60     # a 150-class datagen.py dataset instead

Needs Debian's chromium (/usr/bin/chromium) and playwright (never `playwright install`). Medians
over ``--rounds``; the machine is shared, so trust the ratios more than the absolutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

MATRIX = "[...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && g.data.some(t => t.name === 'cells'))"


def figure_draw_ms(browser, result, rounds: int) -> dict[str, float]:
    """Plotly.newPlot of the Top-N 150 matrix, old layout vs new, in one page."""
    import plotly

    from segviz.figures import confusion_figure, min_matrix_width

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_content("<html><body style='margin:0'><div id=g></div></body></html>")
    page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
    out: dict[str, list[float]] = {"square": [], "wide": []}
    names = list(result.table.names)
    k = len(names)
    for _ in range(rounds):
        for layout in ("square", "wide"):
            t = time.perf_counter()
            fig = confusion_figure(
                result.confusion, names, normalize="row", top_n=k, other=True, diagonal="dim", layout=layout
            )
            spec = fig.to_json()
            build = time.perf_counter() - t
            width = min_matrix_width(fig) if layout == "wide" else 1100
            ms = page.evaluate(
                """([js, w]) => { const f = JSON.parse(js); const g = document.getElementById('g');
                   g.style.width = w + 'px'; Plotly.purge(g); const t = performance.now();
                   return Plotly.newPlot(g, f.data, f.layout).then(() =>
                     new Promise(r => requestAnimationFrame(() => r(performance.now() - t)))); }""",
                [spec, width],
            )
            out[layout].append(build * 1000 + ms)
            out.setdefault(f"{layout} MB", []).append(len(spec) / 1e6)
    page.close()
    return {key: statistics.median(v) for key, v in out.items()}


def app_redraw_s(browser, url: str, size: tuple[int, int]) -> dict[str, float]:
    from test_browser_overview import click_cell, open_overview, wait_cell

    context, page = open_overview(browser, url, size)
    box = page.locator('input[aria-label="Top-N"]')
    k = int(box.get_attribute("max"))
    t = time.perf_counter()
    box.fill(str(k))
    box.press("Enter")
    page.wait_for_function(
        f"() => {{ const g = {MATRIX}; return g && g._fullLayout.yaxis._categories.length === {k}; }}",
        polling="raf",
    )
    top_n = time.perf_counter() - t
    page.wait_for_timeout(1500)
    from bench_matrix_redraw import OUTLINED

    data, _, _ = click_cell(page, 10, 12)
    # timed from the click, the last thing click_cell does (this used to subtract its 0.65 s of
    # waiting from the wrong end, adding 0.65 s to every click time)
    t = time.perf_counter()
    wait_cell(page, data)
    page.wait_for_function(  # the outline is CSS over the unchanged figure (bench_matrix_redraw.py)
        f"() => {{ const g = {MATRIX}; return ({OUTLINED})([g, 10, 12]); }}", polling="raf"
    )
    click = time.perf_counter() - t
    context.close()
    return {"Top-N 25 -> 150": top_n, "cell click -> outlined": click}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SEGVIZ_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    ap.add_argument("--dataset", default="ade20k-csail")
    ap.add_argument("--model", default="csail-2018")
    ap.add_argument("--synthetic", type=int, default=0, help="use N datagen.py ADE-like pairs instead")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from test_browser import Server

    from segviz import evaluate, open_dataset
    from segviz.report import CHROMIUM, CHROMIUM_ARGS

    if args.synthetic:
        import datagen

        root = datagen.ensure_dataset(
            Path(tempfile.gettempdir()) / "segviz-bench-overview", "ade", args.synthetic
        )
        data, dataset, model = root.parent, root.name, None
    else:
        data, dataset, model = args.data, args.dataset, args.model
    result = evaluate(open_dataset(data / dataset, model=model))
    print(f"{dataset}: {result.table.num_classes} classes, {result.num_images} images")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        draw = figure_draw_ms(browser, result, args.rounds)
        print(
            f"figure build + draw, Top-N {result.table.num_classes}: old square layout {draw['square']:.0f} ms "
            f"({draw['square MB']:.1f} MB), new wide layout {draw['wide']:.0f} ms ({draw['wide MB']:.1f} MB): "
            f"{draw['square'] / draw['wide']:.1f}x faster"
        )
        server = Server(data, dataset)
        try:
            for size in ((1280, 800), (1600, 1000)):
                runs = [
                    app_redraw_s(browser, server.url + (f"/?model={model}" if model else ""), size)
                    for _ in range(args.rounds)
                ]
                for key in runs[0]:
                    print(
                        f"{size[0]}x{size[1]} {key}: {statistics.median(r[key] for r in runs):.2f} s (target <= 1 s)"
                    )
        finally:
            server.stop()
        browser.close()


if __name__ == "__main__":
    main()
