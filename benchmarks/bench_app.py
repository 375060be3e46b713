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
    archive = subprocess.run(["git", "archive", "main", "segviz"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old.parent)], input=archive.stdout, check=True)
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


VARIANTS = {
    "old": ("old app.py + main's segviz", False),
    "whole": ("new, whole script rerun", False),
    "fragment": ("new, fragment rerun (browser)", True),
}


def child(args) -> None:
    """One variant's session in this fresh process; prints its timings as JSON."""
    import json

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = Path(args.app)
    # A running server: imports done and plotly's validators warm (one session on the sample data)
    os.environ["SEGVIZ_DATA_ROOT"], os.environ["SEGVIZ_DATASET"] = str(ROOT), "sample_data"
    AppTest.from_file(str(app), default_timeout=900).run()
    st.cache_data.clear()
    st.cache_resource.clear()
    os.environ["SEGVIZ_DATA_ROOT"], os.environ["SEGVIZ_DATASET"] = (
        str(Path(args.dataset).parent),
        Path(args.dataset).name,
    )
    cell = tuple(int(v) for v in args.cell.split(","))
    print("RESULT " + json.dumps(session(app, cell, fragments=args.variant == "fragment")))


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/segviz-bench-app"))
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        return child(args)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("--out must be outside the repository")
    root, old = prepare(args.out, args.pairs)
    cell = worst_cell(root)
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for variant in list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]:
            # main's app.py runs on main's segviz (exported next to it); the new one on this checkout
            src = old.parent if variant == "old" else ROOT
            app = old if variant == "old" else ROOT / "app.py"
            env = {**os.environ, "PYTHONPATH": str(src), "SEGVIZ_STORE": os.environ["SEGVIZ_STORE"]}
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--variant",
                    variant,
                    "--app",
                    str(app),
                    "--dataset",
                    str(root),
                    "--cell",
                    f"{cell[0]},{cell[1]}",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise RuntimeError(f"{variant} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
            runs[variant].append(json.loads(line[7:]))
    print(
        f"segviz dashboard, server time per interaction: {args.pairs} ADE-like images (150 classes), "
        f"results store warm, server process warm, app caches empty, one session (AppTest), "
        f"median of {args.rounds} rounds; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(f"| step | {' | '.join(label for label, _ in VARIANTS.values())} | target |")
    print("|---|---|---|---|---|")
    for step in [*TARGETS, "next image"]:
        cells = [f"{statistics.median(r[step] for r in runs[v]):.2f} s" for v in VARIANTS]
        target = f"≤ {TARGETS[step]:g} s" if step in TARGETS else "–"
        print(f"| {step} | {' | '.join(cells)} | {target} |")


if __name__ == "__main__":
    main()
