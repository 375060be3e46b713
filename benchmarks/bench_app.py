"""Server time per dashboard interaction, old app (main's app.py) and this checkout side by side.

On a 2,000-image ADE-like dataset (150 classes, benchmarks/datagen.py), with the results store warm,
one session driven by Streamlit's AppTest in this process (no browser: server time only):

    python benchmarks/bench_app.py [--pairs 2000] [--rounds 3] [--out /tmp/segviz-bench-app]

Steps: first overview (app caches empty, store warm); a control change (confusion normalisation);
a cell click -> image list; a thumbnail click -> image view; Top-N 25 -> 150. Each step after the first
is the median over ``--rounds`` rounds, old and new interleaved. AppTest reruns the whole script on
every interaction; the "fragment" column reruns only the fragment that holds the control (what a
browser does with ``@st.fragment``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

TARGETS = {
    "first overview": 2.0,
    "control change": 0.3,
    "cell click -> image list": 0.5,
    "image view": 0.5,
    "Top-N 25 -> 150": 1.0,
}


def prepare(out: Path, pairs: int) -> tuple[Path, Path]:
    """The dataset (generated once) and the old app file; the results store filled."""
    import datagen

    from segviz import evaluate, open_dataset
    from segviz.store import ResultsStore

    root = datagen.ensure_dataset(out, "ade", pairs, jobs=2)
    os.environ["SEGVIZ_STORE"] = str(out / "store")
    evaluate(open_dataset(root), store=ResultsStore())  # the store is warm for both apps
    old = out / "old_app" / "app.py"
    old.parent.mkdir(exist_ok=True)
    old.write_text(subprocess.run(["git", "show", "main:app.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    return root, old


def worst_cell(root: Path) -> tuple[int, int]:
    from segviz import evaluate, open_dataset
    from segviz.store import ResultsStore

    cm = evaluate(open_dataset(root), store=ResultsStore()).confusion.copy()
    k = cm.shape[0]
    cm[range(k), range(k)] = 0
    g, p = divmod(int(cm.argmax()), cm.shape[1])
    return g, p


def timed(step) -> float:
    t0 = time.perf_counter()
    at = step()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"the app raised: {at.exception[0].value}")
    return elapsed


def session(app: Path, cell: tuple[int, int], *, cold: bool) -> dict[str, float]:
    """One session through the five steps; returns seconds per step."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    if cold:
        st.cache_data.clear()
        st.cache_resource.clear()
    at = AppTest.from_file(str(app), default_timeout=900)
    t = {"first overview": timed(at.run)}
    t["control change"] = timed(at.segmented_control(key="cm:norm").set_value("column").run)
    at.session_state["cell"] = cell  # what the plotly click callback stores (AppTest cannot click)
    t["cell click -> image list"] = timed(at.run)
    thumb = next(b for b in at.button if (b.key or "").startswith("thumb:"))
    t["image view"] = timed(thumb.click().run)
    at.radio(key="view").set_value("Overview").run()
    t["Top-N 25 -> 150"] = timed(at.number_input(key="cm:top").set_value(150).run)
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/segviz-bench-app"))
    args = parser.parse_args()
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("--out must be outside the repository")
    root, old = prepare(args.out, args.pairs)
    os.environ["SEGVIZ_DATA_ROOT"] = str(root.parent)
    os.environ["SEGVIZ_DATASET"] = root.name
    cell = worst_cell(root)
    apps = {"old": old, "new": ROOT / "app.py"}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
    for r in range(args.rounds):
        order = list(apps) if r % 2 == 0 else list(apps)[::-1]
        for name in order:
            runs[name].append(session(apps[name], cell, cold=True))
    print(f"segviz dashboard, server time per interaction: {args.pairs} ADE-like images (150 classes), "
          f"store warm, AppTest, median of {args.rounds} rounds, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"| step | old app.py | new | target |\n|---|---|---|---|")
    for step, target in TARGETS.items():
        old_s = statistics.median(r[step] for r in runs["old"])
        new_s = statistics.median(r[step] for r in runs["new"])
        print(f"| {step} | {old_s:.2f} s | {new_s:.2f} s | ≤ {target:g} s |")


if __name__ == "__main__":
    main()
