"""Issue #17 at scale: this checkout against an earlier segviz, side by side, on 10,000-1,000,000 images.

The data: ADE-like (150 classes, masks 128x96, two models), ``datagen.ensure_scale_dataset``:
2,000 distinct pairs, hard-linked to reach N images (segviz keys a pair by its paths, sizes and
times and decodes every file, so a link costs what a distinct file costs; see the function).

For each N and each code (``--before``, default main before #17; and this checkout), every step runs
in a fresh process (``/usr/bin/time``: wall, CPU = user + sys, peak RSS), the results store in
``OUT/store-<code>``:

* ``evaluate cold``: ``segviz evaluate --model model_a`` with an empty store (then model_b, untimed:
  each code stores its own counts, the store format changed with #17);
* ``evaluate warm``, ``compare warm`` (1,000 paired resamples), ``report`` (HTML, its size);
* ``library session``: in one process, what a dashboard session computes: open and evaluate both
  models from the store (``reopen``), summary, per-image table, the images of a cell, a subset of
  10 % of the images, a bootstrap, a paired bootstrap; the time of each and the peak RSS;
* ``reopen`` (``--reopen``, three fresh processes each, the fastest kept): ``open_dataset`` +
  ``evaluate(store=ResultsStore())`` + ``summary()`` of model_a with the store warm, and the same
  with the second model in the same process (the figures of a dashboard session's first open);
* ``one prediction changed``: on a hard-link copy of the dataset (``cp -al`` into OUT: the dataset
  itself is never written), counted once, one prediction file replaced (a new file, never written
  through the hard link), then ``segviz evaluate`` warm: one pair recounted and the store updated;
  ``after the change (warm)`` the run after it.

``--reopen`` runs only evaluate cold / warm, reopen and one prediction changed (the steps of the
store and the dataset listing), not compare, report or the bootstrap session.

    python benchmarks/bench_scale.py --images 10000 [--images 100000] [--out DIR] [--before REV]
        [--skip-before-above N]  (the earlier code's compare at 100,000 needs several GB)
        [--data DIR]  (reuse generated datasets; read only)  [--reopen]  [--no-before]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the segviz of this checkout, whatever else is installed
sys.path.insert(0, str(REPO / "benchmarks"))

BEFORE = "19bb12f"  # main before issue #17 (format-2 store, dense bootstrap)

SESSION = r"""
import json, resource, sys, time
import numpy as np
from segviz import open_dataset
from segviz.evaluate import evaluate
from segviz.store import ResultsStore
from segviz.stats import bootstrap, paired_bootstrap
root = sys.argv[1]
out = {}
def step(name, fn):
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    out[name] = (time.perf_counter() - t, time.process_time() - c)
    return value
def reopen(model):
    ev = evaluate(open_dataset(root, model=model), store=ResultsStore())
    ev.summary()
    return ev
a = step("reopen model_a", lambda: reopen("model_a"))
b = step("reopen model_b", lambda: reopen("model_b"))
step("per-image table", a.image_frame)
step("images of a cell", lambda: a.images_for_cell(0, 1))
step("subset 10 %", lambda: a.subset(range(0, a.num_images, 10)).summary())
step("bootstrap (1,000)", lambda: bootstrap(a, resamples=1000))
step("paired bootstrap (1,000)", lambda: paired_bootstrap(a, b, resamples=1000))
out["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""

REOPEN = r"""
import json, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from segviz import open_dataset
from segviz.evaluate import evaluate
from segviz.store import ResultsStore
out = {"import": (time.perf_counter() - t0, time.process_time() - c0)}
for model in ("model_a", "model_b"):
    t, c = time.perf_counter(), time.process_time()
    store = ResultsStore()
    ev = evaluate(open_dataset(sys.argv[1], model=model), store=store)
    ev.summary()
    out[model] = (time.perf_counter() - t, time.process_time() - c)
    assert store.stats.misses == 0, store.stats
    out["peak RSS MB " + model] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run(cmd: list[str], *, code: Path, store: Path, cwd: Path) -> dict:
    """Run ``cmd`` under /usr/bin/time; wall s, CPU s, peak RSS MB, exit code, stdout."""
    env = {**os.environ, "PYTHONPATH": str(code), "SEGVIZ_STORE": str(store)}
    timing = cwd / "time.txt"
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), *cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    wall, user, system, rss = timing.read_text().split()[-4:]
    return {
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "rss_mb": int(rss) / 1024,
        "rc": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr[-2000:],
    }


def export(rev: str, out: Path) -> Path:
    """The segviz of git revision ``rev``, unpacked under ``out`` (no worktree, no checkout)."""
    target = out / f"code-{rev}"
    if not (target / "segviz").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "segviz"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def replace_one_prediction(root: Path, index: int, seed: int) -> None:
    """Give image ``index`` of model_a another prediction: a new file (a pool prediction of model_b),
    so no other image sharing the hard-linked file changes. ``root`` is a copy (cp -al), never the
    generated dataset."""
    target = root / "pred" / "model_a" / f"ADE_train_{index:08d}.png"
    pool = sorted((root / "pool").glob("model_b-*.png"))
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(pool[(index + seed) % len(pool)], tmp)
    os.replace(tmp, target)


def best_of(runs: list[dict]) -> dict:
    """The run with the least CPU time (the machine is shared: the others waited for cores)."""
    return min(runs, key=lambda r: r["cpu"])


def bench(n: int, codes: dict[str, Path], args) -> dict:
    import datagen

    root = datagen.ensure_scale_dataset(args.data or args.out / "data", n, jobs=2)
    work = Path(tempfile.mkdtemp(dir=args.out))
    copy = args.out / f"copy-{n}"  # (the changed-prediction step writes here, never into root)
    if not copy.is_dir():
        subprocess.run(["cp", "-al", str(root), str(copy)], check=True)
    results: dict[str, dict] = {}
    py = sys.executable
    for name, code in sorted(codes.items(), key=lambda kv: kv[0] != "new"):  # this checkout first
        store = args.out / f"store-{name}-{n}"
        shutil.rmtree(store, ignore_errors=True)
        r = results[name] = {}
        ev = [py, "-m", "segviz", "evaluate", str(root), "--quiet", "--model"]
        r["evaluate cold"] = run([*ev, "model_a"], code=code, store=store, cwd=work)
        run([*ev, "model_b"], code=code, store=store, cwd=work)
        r["evaluate warm"] = best_of(
            [run([*ev, "model_a"], code=code, store=store, cwd=work) for _ in range(3)]
        )
        reopens = [run([py, "-c", REOPEN, str(root)], code=code, store=store, cwd=work) for _ in range(3)]
        if all(x["rc"] == 0 for x in reopens):
            steps = [json.loads(x["stdout"].strip().splitlines()[-1]) for x in reopens]
            r["reopen steps"] = min(steps, key=lambda x: x["model_a"][1])
        skip = args.reopen or (name == "before" and args.skip_before_above and n > args.skip_before_above)
        if not skip:
            r["compare warm"] = run(
                [py, "-m", "segviz", "compare", str(root), "--models", "model_a", "model_b", "--quiet"],
                code=code,
                store=store,
                cwd=work,
            )
            html = work / f"report-{name}.html"
            r["report"] = run(
                [py, "-m", "segviz", "report", str(root), "--model", "model_a", "--out", str(html)],
                code=code,
                store=store,
                cwd=work,
            )
            r["report"]["bytes"] = html.stat().st_size if html.exists() else None
            session = run([py, "-c", SESSION, str(root)], code=code, store=store, cwd=work)
            r["library session"] = session
            if session["rc"] == 0:
                r["session steps"] = json.loads(session["stdout"].strip().splitlines()[-1])
        on_copy = [py, "-m", "segviz", "evaluate", str(copy), "--quiet", "--model", "model_a"]
        run(on_copy, code=code, store=store, cwd=work)  # (the copy's counts, untimed)
        replace_one_prediction(copy, 0, seed=7 if name == "new" else 11)
        r["one prediction changed"] = run(on_copy, code=code, store=store, cwd=work)
        r["after the change (warm)"] = run(on_copy, code=code, store=store, cwd=work)
    shutil.rmtree(work, ignore_errors=True)
    return {name: results[name] for name in codes if name in results}


def reopen_table(names: list[str], results: dict) -> list[str]:
    """The reopen steps (fastest of three processes), one column per code."""
    lines: list[str] = []
    opened = [c for c in names if "reopen steps" in results[c]]
    if opened:
        lines += [
            "",
            "| reopen, store warm (fastest of 3 processes) | "
            + " | ".join(f"{c}: wall / CPU" for c in opened)
            + " |",
        ]
        lines.append("|---|" + "---|" * len(opened))
        for k, label in (
            ("import", "import segviz"),
            ("model_a", "open_dataset + evaluate + summary, model_a"),
            ("model_b", "the same, model_b, same process"),
        ):
            row = [
                f"{results[c]['reopen steps'][k][0]:.2f} s / {results[c]['reopen steps'][k][1]:.2f} s"
                for c in opened
            ]
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        for k in ("peak RSS MB model_a", "peak RSS MB model_b"):
            row = [f"{results[c]['reopen steps'][k]:,.0f} MB" for c in opened]
            lines.append(f"| {k.replace('MB ', 'after ')} | " + " | ".join(row) + " |")
    return lines


def table(n: int, results: dict) -> str:
    names = list(results)
    steps = []
    for r in results.values():
        steps += [s for s in r if s not in steps and s not in ("session steps", "reopen steps")]
    lines = [
        f"### {n:,} images",
        "",
        "| step | " + " | ".join(f"{c}: wall / CPU / peak RSS" for c in names) + " | CPU ratio |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for s in steps:
        cells = []
        for c in names:
            x = results[c].get(s)
            if x is None:
                cells.append("–")
                continue
            extra = f", {x['bytes'] / 1e6:.2f} MB" if x.get("bytes") else ""
            bad = f" (exit {x['rc']})" if x["rc"] not in (0, 1) else ""
            cells.append(f"{x['wall']:.1f} s / {x['cpu']:.1f} s / {x['rss_mb']:,.0f} MB{extra}{bad}")
        ratio = ""
        if all(s in results[c] for c in names) and len(names) == 2:
            a, b = (results[c][s]["cpu"] for c in names)
            ratio = f"{a / b:.1f}x" if b else ""
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {ratio} |")
    lines += reopen_table(names, results)
    sub = [c for c in names if "session steps" in results[c]]
    if sub:
        lines += ["", "| library session step | " + " | ".join(f"{c}: wall / CPU" for c in sub) + " |"]
        lines.append("|---|" + "---|" * len(sub))
        keys = [k for k in results[sub[-1]]["session steps"] if k != "peak RSS MB"]
        for k in keys:
            row = []
            for c in sub:
                v = results[c]["session steps"].get(k)
                row.append(f"{v[0]:.2f} s / {v[1]:.2f} s" if v else "–")
            lines.append(f"| {k} | " + " | ".join(row) + " |")
        lines.append(
            "| peak RSS | "
            + " | ".join(f"{results[c]['session steps']['peak RSS MB']:,.0f} MB" for c in sub)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, action="append", help="dataset size (repeatable)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segviz-scale")
    parser.add_argument("--data", type=Path, help="where the datasets are generated (default OUT/data)")
    parser.add_argument("--before", default=BEFORE, help=f"earlier git revision (default {BEFORE})")
    parser.add_argument("--no-before", action="store_true", help="this checkout only")
    parser.add_argument("--skip-before-above", type=int, default=0, metavar="N")
    parser.add_argument(
        "--reopen", action="store_true", help="only evaluate cold/warm, reopen and one prediction changed"
    )
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.out.is_relative_to(REPO):
        parser.error("--out must be outside the repository")
    args.out.mkdir(parents=True, exist_ok=True)
    codes = {} if args.no_before else {"before": export(args.before, args.out)}
    codes["new"] = REPO
    print(
        f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    )
    for n in args.images or [10_000]:
        results = bench(n, codes, args)
        (args.out / f"results-{n}.json").write_text(json.dumps(results, indent=1))
        print(table(n, results), flush=True)


if __name__ == "__main__":
    main()
