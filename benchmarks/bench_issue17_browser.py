"""Issue #17's two browser columns: the app's first overview and one control change in headless
Chromium, the old code (``--before``) and this checkout side by side (called by bench_issue17.py).

For each code a ``streamlit run app.py`` server is started on the dataset (its own results store,
warm). The server is warmed first as a running server is (one page load, imports done), then its
caches are cleared with Streamlit's own "Clear caches" (``c``; the same ``st.cache_data`` and
``st.cache_resource`` that bench_app.py clears) and, once the server is idle, a new browser tab:

* ``first overview``: from ``page.goto`` until the confusion matrix is drawn and the metrics shown;
* ``control change``: a click on "column (precision)" (Normalise) until the matrix shows the new
  normalisation and Streamlit's running indicator is gone.

Each figure is wall time in the browser and the CPU time of the server process meanwhile (every
thread, like bench_app.py), median over ``--rounds`` (caches cleared before each).

    python benchmarks/bench_issue17_browser.py --data DATASET --before REV_OR_FOLDER \
        --before-store DIR --store DIR [--rounds 1] [--json PATH]

Needs Debian's chromium (/usr/bin/chromium) and playwright (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_matrix_redraw import MATRIX, App, export_revision  # noqa: E402  (the path above)

# a number that changes with the matrix's values (weighted by position: row and column
# normalisation can have the same plain sum)
SIGNATURE = f"""() => {{ const g = {MATRIX}; if (!g || !g._fullData) return null;
  let s = 0;
  g._fullData.filter(t => t.type === 'heatmap' && t.z).forEach((h, k) => Array.from(h.z).forEach((row, i) =>
    (row !== null && row.length !== undefined ? Array.from(row) : [row]).forEach((v, j) => {{
      s += (+v || 0) * (1 + k + 7 * i + 31 * j); }})));
  return s; }}"""
DRAWN = f"() => {{ const g = {MATRIX}; return !!(g && g._fullLayout) && !!document.querySelector(\"[data-testid='stMetricValue']\"); }}"
IDLE = "() => !document.querySelector(\"[data-testid='stStatusWidget']\")"


def export(rev: str, into: Path) -> Path:
    """The app's code of git revision ``rev`` (``bench_matrix_redraw.export_revision``: app.py,
    segviz/, .streamlit/), or a checkout folder as it is (with its compiled kernel)."""
    return Path(rev).resolve() if Path(rev).is_dir() else export_revision(rev, into)


class Server(App):
    """``streamlit run app.py`` of ``code`` on ``dataset`` with results store ``store`` (with the
    developer toolbar: its "Clear caches" shortcut; nothing else changes)."""

    def __init__(self, code: Path, dataset: Path, store: Path):
        super().__init__(
            code,
            dataset.parent,
            dataset.name,
            env={"SEGVIZ_STORE": str(store)},
            options=("--client.toolbarMode", "developer"),
            timeout=120,
        )

    def cpu(self) -> float:
        """CPU seconds (user + sys, every thread) of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, *, quiet: float = 0.05, window: float = 1.0, timeout: float = 600) -> None:
        """Wait until the server is idle (less than ``quiet`` CPU s over ``window`` s): the
        background work a page started (intervals, per-image table) is done."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            before = self.cpu()
            time.sleep(window)
            if self.cpu() - before < quiet:
                return

    def peak_mb(self) -> float:
        """The server process's peak resident memory so far (VmHWM), MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def new_page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(900_000)
    return context, page


def clear_caches(browser, server: Server) -> None:
    """Streamlit's "Clear caches" (``c``, then confirm): st.cache_data and st.cache_resource."""
    context, page = new_page(browser)
    page.goto(server.url)
    page.wait_for_function(DRAWN)
    server.settle()
    page.locator("body").press("c")
    confirm = page.get_by_role("button", name="Clear caches")  # (in the dialog, a portal of its own)
    confirm.click()
    confirm.wait_for(state="detached")
    context.close()
    server.settle()


def one_round(browser, server: Server) -> dict:
    """First overview and one control change in a new tab; (wall, server CPU) seconds each."""
    out = {}
    context, page = new_page(browser)
    t0, c0 = time.perf_counter(), server.cpu()
    page.goto(server.url)
    page.wait_for_function(DRAWN, polling="raf")
    out["first overview"] = (time.perf_counter() - t0, server.cpu() - c0)
    page.wait_for_function(IDLE)
    server.settle()
    before = page.evaluate(SIGNATURE)
    button = page.locator(".st-key-cm-norm button", has_text="column (precision)")
    button.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    t0, c0 = time.perf_counter(), server.cpu()
    button.click()
    page.wait_for_function(
        f"(old) => {{ const s = ({SIGNATURE})(); return s !== null && s !== old; }}", arg=before
    )
    page.wait_for_function(IDLE)
    out["control change"] = (time.perf_counter() - t0, server.cpu() - c0)
    context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the dataset (read only)")
    parser.add_argument("--before", required=True, help="git revision or checkout folder of the old code")
    parser.add_argument("--before-store", type=Path, required=True, help="the old code's warm results store")
    parser.add_argument("--store", type=Path, required=True, help="this checkout's warm results store")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from segviz.report import CHROMIUM, CHROMIUM_ARGS

    runs: dict[str, list[dict]] = {"before": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="segviz-old-") as tmp:
        codes = {"before": export(args.before, Path(tmp)), "new": REPO}
        stores = {"before": args.before_store, "new": args.store}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            for code, folder in codes.items():  # one server at a time: they never share the cores
                server = Server(folder, args.data.resolve(), stores[code])
                try:
                    for _ in range(args.rounds):
                        clear_caches(browser, server)
                        runs[code].append(one_round(browser, server))
                        runs[code][-1]["server peak MB"] = server.peak_mb()
                finally:
                    server.stop()
            browser.close()
    for code, rs in runs.items():
        for step in ("first overview", "control change"):
            wall = statistics.median(r[step][0] for r in rs)
            cpu = statistics.median(r[step][1] for r in rs)
            print(f"{code}: {step} {wall:.2f} s wall / {cpu:.2f} s server CPU")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
