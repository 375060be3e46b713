"""Server time per dashboard interaction, old app (main's app.py) and this checkout side by side.

On a 2,000-image ADE-like dataset (150 classes, benchmarks/datagen.py), with the results store warm,
one session driven by Streamlit's AppTest in this process (no browser: server time only):

    python benchmarks/bench_app.py [--pairs 2000] [--rounds 3] [--out /tmp/segviz-bench-app]

Steps: first overview (app caches empty, store warm); a control change (confusion normalisation);
a cell click -> image list; a thumbnail click -> image view; Next image; Top-N 25 -> 150. Every figure
is the median over ``--rounds`` sessions, old and new interleaved. AppTest reruns the whole script on
every interaction; the "fragment rerun" column reruns only the fragment that holds the control, which
is what a browser asks for with ``@st.fragment`` (the old app has no fragments: its whole-script
figures are what a browser waits for).
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
    old.write_text(
        subprocess.run(
            ["git", "show", "main:app.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
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


class FragmentRerun:
    """Make AppTest's next run a fragment rerun, as the browser asks for when a widget inside an
    ``@st.fragment`` changes (AppTest itself always reruns the whole script)."""

    def __init__(self, at, qualname: str | None):
        self.at, self.qualname = at, qualname

    def _fragment_id(self) -> str | None:
        storage = self.at._fragment_storage
        found = []
        for fid, frag in storage._fragments.items():
            for cell in getattr(frag, "__closure__", None) or ():
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                if getattr(value, "__qualname__", None) == self.qualname:
                    found.append((storage._registration_sequence_by_id.get(fid, 0), fid))
        return max(found)[1] if found else None

    def __enter__(self):
        import functools

        from streamlit.runtime.scriptrunner import RerunData
        from streamlit.testing.v1 import local_script_runner

        self.module, self.original = local_script_runner, local_script_runner.RerunData
        fid = self._fragment_id() if self.qualname else None
        if fid is not None:
            local_script_runner.RerunData = functools.partial(RerunData, fragment_id_queue=[fid])
        self.used = fid is not None
        return self

    def __exit__(self, *exc):
        self.module.RerunData = self.original


def session(app: Path, cell: tuple[int, int], *, fragments: bool) -> dict[str, float]:
    """One session through the steps; returns seconds per step. With ``fragments``, a control inside
    a fragment reruns that fragment only (what the browser does); otherwise the whole script."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(app), default_timeout=900)

    def step(run, fragment: str | None) -> float:
        with FragmentRerun(at, fragment if fragments else None) as rerun:
            if fragments and not rerun.used:
                raise RuntimeError(f"no fragment {fragment} in {app}")
            return timed(run)

    t = {"first overview": timed(at.run)}
    t["control change"] = step(
        at.segmented_control(key="cm:norm").set_value("column").run, "confusion_section"
    )
    at.session_state["cell"] = cell  # what the plotly click callback stores (AppTest cannot click)
    t["cell click -> image list"] = step(at.run, "confusion_section")
    thumb = next(b for b in at.button if (b.key or "").startswith("thumb:"))
    t["image view"] = timed(thumb.click().run)  # the view changes: always the whole page
    t["next image"] = step(next(b for b in at.button if b.label == "Next ▶").click().run, "image_page")
    at.session_state["view"] = "Overview"  # back, untimed (a fragment rerun's tree lacks the sidebar)
    at.run()
    t["Top-N 25 -> 150"] = step(at.number_input(key="cm:top").set_value(150).run, "confusion_section")
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
    apps = {
        "old": (old, False),
        "new, whole script": (ROOT / "app.py", False),
        "new": (ROOT / "app.py", True),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
    for r in range(args.rounds):
        order = list(apps) if r % 2 == 0 else list(apps)[::-1]
        for name in order:
            app, fragments = apps[name]
            runs[name].append(session(app, cell, fragments=fragments))
    print(
        f"segviz dashboard, server time per interaction: {args.pairs} ADE-like images (150 classes), "
        f"store warm, AppTest, median of {args.rounds} rounds, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print("| step | old app.py | new, whole script rerun | new, fragment rerun (browser) | target |")
    print("|---|---|---|---|---|")
    for step in [*TARGETS, "next image"]:
        cells = [f"{statistics.median(r[step] for r in runs[name]):.2f} s" for name in apps]
        target = f"≤ {TARGETS[step]:g} s" if step in TARGETS else "–"
        print(f"| {step} | {' | '.join(cells)} | {target} |")


if __name__ == "__main__":
    main()
