"""Server time per dashboard interaction, old app (main's app.py) and this checkout side by side.

On a 2,000-image ADE-like dataset (150 classes, benchmarks/datagen.py), with the results store warm,
one session driven by Streamlit's AppTest in this process (no browser: server time only):

    python benchmarks/bench_app.py [--pairs 2000] [--rounds 3] [--out /tmp/segviz-bench-app]
    SEGVIZ_STORE=/path/to/store python benchmarks/bench_app.py --data /path/to/dataset --rounds 1
        [--before REV --before-store DIR] [--json PATH]  (the old app and segviz of REV instead of main; DIR its
        own results store, filled first: an older store format must not share the new one's;
        REV may be a checkout's folder, e.g. /work/main, run as it is with its compiled kernel)

``--data`` takes an existing dataset instead (e.g. the 100,000-image one of issue 17; never written
into: the results store is ``$SEGVIZ_STORE``, filled first for every model) and the app opens its
first model. For each step the table gives the server's wall time and, in brackets, the CPU time of
the whole server process (every thread, so background work shows), then the process's memory:
resident after the first overview, its peak, and what a second session on the same dataset adds
(its first overview, in the same process, caches shared).

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
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
if "--variant" not in sys.argv:  # a child imports the segviz its PYTHONPATH names (main's or this one)
    sys.path.insert(0, str(ROOT))


def prepare(
    out: Path, pairs: int, data: Path | None = None, *, before: str = "main", before_store: Path | None = None
) -> tuple[Path, Path, tuple[int, int], dict]:
    """The dataset (generated once, or ``data``), the old app file (``before``'s app.py and segviz),
    the worst confusion cell, and the library's reopen time (store warm: open_dataset + store load +
    fold) of the first model. ``before_store``: the old code's own results store (an earlier store
    format is recomputed, never shared), filled first with the old code's ``segviz evaluate``."""
    import datagen

    from segviz import evaluate, list_models, open_dataset
    from segviz.store import ResultsStore

    if data is None:
        root = datagen.ensure_dataset(out, "ade", pairs, jobs=2)
        os.environ["SEGVIZ_STORE"] = str(out / "store")
    else:
        root = data.resolve()
        if "SEGVIZ_STORE" not in os.environ:
            raise SystemExit("--data needs SEGVIZ_STORE set (the results store to fill and read)")
    models = list_models(root) or [None]
    for model in reversed(models):  # the store is warm for both apps (the first model last)
        result = evaluate(open_dataset(root, model=model), store=ResultsStore())
    t0 = time.perf_counter()
    result = evaluate(open_dataset(root, model=models[0]), store=ResultsStore())
    reopen = {"model": models[0], "seconds": time.perf_counter() - t0, "images": result.num_images}
    cm = result.confusion.copy()
    k = cm.shape[0]
    cm[range(k), range(k)] = 0
    cell = divmod(int(cm.argmax()), cm.shape[1])
    if Path(before).is_dir():  # a checkout (e.g. main's, with its compiled kernel): run as it is
        old = Path(before).resolve() / "app.py"
    else:
        old = out / "old_app" / "app.py"
        old.parent.mkdir(parents=True, exist_ok=True)
        old.write_text(
            subprocess.run(
                ["git", "show", f"{before}:app.py"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        shutil.rmtree(old.parent / "segviz", ignore_errors=True)
        archive = subprocess.run(
            ["git", "archive", before, "segviz"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(old.parent)], input=archive.stdout, check=True)
    if before_store is not None:  # the old code's counts in its own store (untimed)
        env = {**os.environ, "PYTHONPATH": str(old.parent), "SEGVIZ_STORE": str(before_store)}
        for model in reversed(models):
            command = [sys.executable, "-m", "segviz", "evaluate", str(root), "--quiet"]
            # (cwd: ``python -m`` puts the working directory first on sys.path, before PYTHONPATH)
            subprocess.run(
                [*command, *(["--model", model] if model else [])], env=env, cwd=old.parent, check=False
            )
    return root, old, cell, reopen


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settle(timeout: float = 600, names: tuple[str, ...] = ("segviz-background",)) -> float:
    """Wait until the app's background threads (bootstrap, per-image table) are done; seconds."""
    import threading

    t0 = time.perf_counter()
    while any(t.name in names and t.is_alive() for t in threading.enumerate()):
        if time.perf_counter() - t0 > timeout:
            break
        time.sleep(0.05)
    return time.perf_counter() - t0


class AppRaised(RuntimeError):
    pass


def timed(step) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process) of one step."""
    t0, c0 = time.perf_counter(), time.process_time()
    at = step()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if at.exception:
        raise AppRaised(str(at.exception[0].value)[:200])
    return elapsed, cpu


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


def session(app: Path, cell: tuple[int, int], *, fragments: bool) -> dict:
    """One session through the steps; returns (wall, cpu) seconds per step, memory, and the
    error that stopped it, if any. With ``fragments``, a control inside a fragment reruns that
    fragment only (what the browser does); otherwise the whole script."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(app), default_timeout=900)

    def step(run, fragment: str | None):
        with FragmentRerun(at, fragment if fragments else None) as rerun:
            if fragments and not rerun.used:
                raise RuntimeError(f"no fragment {fragment} in {app}")
            return timed(run)

    t: dict = {}
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        t["first overview"] = timed(at.run)
        settle()  # the intervals drawn in the background (new app, large datasets)
        t["intervals ready"] = (time.perf_counter() - t0, time.process_time() - c0)
        t["rss overview MB"] = rss_mb()
        if t["intervals ready"][0] - t["first overview"][0] > 0.05:
            t["redraw with intervals"] = timed(at.run)  # what the poll's rerun costs
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
    except AppRaised as exc:
        done = [k for k in t if not k.endswith(" MB")]
        t["error"] = f"the step after '{done[-1] if done else 'start'}' raised: {exc}"
    settle()
    t["rss peak MB"] = rss_mb("VmHWM")
    before = rss_mb()
    second = AppTest.from_file(str(app), default_timeout=900)  # another session, caches shared
    try:
        t["second session overview"] = timed(second.run)
    except AppRaised as exc:
        t["error2"] = str(exc)
    settle()
    t["second session MB"] = rss_mb() - before
    return t


VARIANTS = {
    "old": ("old app.py + its segviz (--before)", False),
    "whole": ("new, whole script rerun", False),
    "fragment": ("new, fragment rerun (browser)", True),
}


def child(args) -> None:
    """One variant's session in this fresh process; prints its timings as JSON."""
    import json

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import segviz

    src = Path(os.environ["PYTHONPATH"]).resolve()
    if not Path(segviz.__file__).resolve().is_relative_to(src):
        raise RuntimeError(f"imported {segviz.__file__}, not the segviz under {src}")
    if args.variant == "reopen":  # the library's reopen (store warm), in a process of its own
        from segviz import evaluate, open_dataset
        from segviz.store import ResultsStore

        model = args.app or None
        t0, c0 = time.perf_counter(), time.process_time()
        evaluate(open_dataset(Path(args.dataset), model=model), store=ResultsStore())
        print("RESULT " + json.dumps({"reopen": (time.perf_counter() - t0, time.process_time() - c0)}))
        return
    app = Path(args.app)
    # A running server: imports done and plotly's validators warm (one session on the sample data)
    os.environ["SEGVIZ_DATA_ROOT"], os.environ["SEGVIZ_DATASET"] = str(ROOT), "sample_data"
    AppTest.from_file(str(app), default_timeout=900).run()
    settle(names=("segviz-background", "segviz-warm-imports"))  # (what a running server has done)
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
    parser.add_argument("--data", type=Path, help="an existing dataset (read only) instead of --pairs")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"which of {','.join(VARIANTS)} to run (comma-separated)",
    )
    parser.add_argument(
        "--before",
        default="main",
        help="git revision of the old app and segviz (default main), or a checkout's folder (run as it "
        "is, with its compiled kernel; git archive leaves that out)",
    )
    parser.add_argument(
        "--before-store",
        type=Path,
        help="the old code's own results store (filled first), when its store format differs",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="also write every round's raw figures (and the machine's load) to this JSON file",
    )
    parser.add_argument("--variant", choices=[*VARIANTS, "reopen"], help=argparse.SUPPRESS)
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        return child(args)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("--out must be outside the repository")
    root, old, cell, reopen = prepare(
        args.out, args.pairs, args.data, before=args.before, before_store=args.before_store
    )
    stores = {"old": str(args.before_store or os.environ["SEGVIZ_STORE"])}
    chosen = [v for v in args.variants.split(",") if v in VARIANTS]
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {v: [] for v in chosen}
    for r in range(args.rounds):
        for variant in chosen if r % 2 == 0 else chosen[::-1]:
            # main's app.py runs on main's segviz (exported next to it); the new one on this checkout
            src = old.parent if variant == "old" else ROOT
            app = old if variant == "old" else ROOT / "app.py"
            store = stores.get(variant, os.environ["SEGVIZ_STORE"])
            env = {**os.environ, "PYTHONPATH": str(src), "SEGVIZ_STORE": store}
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
            if variant in ("old", "fragment"):  # the library reopen of the same segviz, same model
                runs[variant][-1].update(_child(src, "reopen", reopen["model"] or "", root, cell, store))
    report(runs, reopen, args, root, load_before)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "dataset": str(root),
                    "before": str(args.before),
                    "rounds": args.rounds,
                    "reopen": reopen,
                    "load": [load_before, os.getloadavg()[0]],
                    "variants": {v: VARIANTS[v][0] for v in runs},
                    "runs": runs,
                },
                indent=1,
            )
        )


def _child(src: Path, variant: str, app: str, root: Path, cell: tuple[int, int], store: str) -> dict:
    import json

    env = {**os.environ, "PYTHONPATH": str(src), "SEGVIZ_STORE": store}
    command = [sys.executable, __file__, "--variant", variant, "--app", app, "--dataset", str(root)]
    out = subprocess.run(
        [*command, "--cell", f"{cell[0]},{cell[1]}"], env=env, capture_output=True, text=True, check=False
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{variant} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(line[7:])


def _median(values: list) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if isinstance(values[0], list | tuple):
        return (
            f"{statistics.median(v[0] for v in values):.2f} s ({statistics.median(v[1] for v in values):.2f})"
        )
    return f"{statistics.median(values):,.0f} MB"


STEPS = [
    ("reopen", "≤ 2 s"),
    ("first overview", "≤ 3 s"),
    ("intervals ready", "–"),
    ("redraw with intervals", "≤ 0.3 s"),
    ("control change", "≤ 0.3 s"),
    ("cell click -> image list", "≤ 0.3 s"),
    ("image view", "≤ 0.5 s"),
    ("next image", "≤ 0.3 s"),
    ("Top-N 25 -> 150", "≤ 0.3 s"),
    ("rss overview MB", "–"),
    ("rss peak MB", "≤ 1,536 MB"),
    ("second session overview", "–"),
    ("second session MB", "≤ 100 MB"),
]


def report(runs: dict, reopen: dict, args, root: Path, load_before: float) -> None:
    print(
        f"segviz dashboard, server time per interaction: {root.name} ({reopen['images']:,} images, model "
        f"{reopen['model']}), old = {args.before}, results store warm, server process warm, app caches empty, one session "
        f"(AppTest), median of {args.rounds} round(s); wall s (CPU s of the process); "
        f"{os.cpu_count()} cores, load {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        "reopen: the library's evaluate(open_dataset(...)) of the same model with the same segviz in a "
        "process of its own (store warm); the first overview includes the same work"
    )
    labels = [VARIANTS[v][0] for v in runs]
    print(f"| step | {' | '.join(labels)} | target |")
    print("|---|" + "---|" * len(labels) + "---|")
    for step, target in STEPS:
        cells = [_median([r.get(step) for r in runs[v]]) for v in runs]
        print(f"| {step} | {' | '.join(cells)} | {target} |")
    for v in runs:  # the spread behind the medians of the target this file is mostly run for
        shown = ", ".join(
            f"{r['first overview'][0]:.2f} s ({r['first overview'][1]:.2f})"
            for r in runs[v]
            if "first overview" in r
        )
        print(f"first overview, every round, {VARIANTS[v][0]}: {shown}")
    for v in runs:
        for r in runs[v]:
            for key in ("error", "error2"):
                if key in r:
                    print(f"{VARIANTS[v][0]}: {r[key]}")


if __name__ == "__main__":
    main()
