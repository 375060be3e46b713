"""Issue #17 at scale: this checkout against an earlier segviz, side by side, on 10,000-1,000,000 images.

The data: ADE-like (150 classes, masks 128x96, two models), ``datagen.ensure_scale_dataset``:
2,000 distinct pairs, hard-linked to reach N images (segviz keys a pair by its paths, sizes and
times and decodes every file, so a link costs what a distinct file costs; see the function).

For each N and each code (``--before``, default main before #17; and this checkout), every step runs
in a fresh process (``/usr/bin/time``: wall, CPU = user + sys, peak RSS), the results store in
``OUT/store-<code>``:

* ``evaluate cold``: ``segviz evaluate --model model_a`` with an empty store (then model_b, untimed:
  each code stores its own counts, the store format changed with #17);
* ``evaluate warm``, ``compare warm`` (1,000 paired resamples; each the fastest of three processes),
  ``report`` (HTML, its size);
* ``library session``: in one process, what a dashboard session computes: open and evaluate both
  models from the store (``reopen``), summary, per-image table, the images of a cell, a subset of
  10 % of the images, a bootstrap, a paired bootstrap; the time of each and the peak RSS;
* ``reopen`` (three fresh processes each, the fastest kept): ``open_dataset`` +
  ``evaluate(store=ResultsStore())`` + ``summary()`` of model_a with the store warm, and the same
  with the second model in the same process (the figures of a dashboard session's first open);
* ``one prediction changed``: on a hard-link copy of the dataset (``cp -al`` into OUT: the dataset
  itself is never written), counted once, one prediction file replaced (a new file, never written
  through the hard link), then ``segviz evaluate`` warm: one pair recounted and the store updated;
  ``after the change (warm)`` the run after it.

* the peak RSS of the in-process steps is split: during the two reopens, and after them (Linux's
  VmHWM is reset once the models are open; this also resets what ``/usr/bin/time`` reports for
  those two processes, so their own rows are read from the in-process figures);
* ``after reopen``: in one process, the two models reopened from the store, then timed on their
  own (CPU and wall): what ``segviz compare`` does after loading (``compare``, 1,000 paired
  resamples), what ``segviz report`` does after loading (``build_report``; its size), and the
  report's parts (bootstrap, "Which mIoU?", fingerprint); the peak RSS of that process.

    python benchmarks/bench_scale.py --images 10000 [--images 100000] [--out DIR] [--before REV]
        [--skip-before-above N]  (the earlier code's compare at 100,000 needs several GB)
        [--store DIR --steps compare,report,session,after]  (a warm store made beforehand with
        ``segviz evaluate`` of both models: no cold evaluation, no change to the dataset, which may
        then be read-only, e.g. ``--data /work/bench-data``)
        [--data DIR]  (reuse generated datasets; read only)  [--reopen]  [--no-before]
    ``--reopen`` is ``--steps evaluate,reopen,change`` (the steps of the store and the listing).
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

# what both in-process scripts begin with: the timer of a step, and the peak RSS (Linux: VmHWM, reset
# once the models are open, so that what follows the reopens is seen on its own)
_PRELUDE = r"""
import json, sys, time
from segviz import open_dataset
from segviz.evaluate import evaluate
from segviz.store import ResultsStore
root = sys.argv[1]
out = {}
def step(name, fn):
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    out[name] = (time.perf_counter() - t, time.process_time() - c)
    return value
def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
"""
_EPILOGUE = r"""
out["peak RSS after the reopens MB"] = peak_mb()
out["peak RSS MB"] = max(out["peak RSS of the reopens MB"], out["peak RSS after the reopens MB"])
print(json.dumps(out))
"""

SESSION = (
    _PRELUDE
    + r"""
from segviz.stats import bootstrap, paired_bootstrap
def reopen(model):
    ev = evaluate(open_dataset(root, model=model), store=ResultsStore())
    ev.summary()
    return ev
a = step("reopen model_a", lambda: reopen("model_a"))
b = step("reopen model_b", lambda: reopen("model_b"))
out["peak RSS of the reopens MB"] = peak_mb()
reset_peak()
step("per-image table", a.image_frame)
step("images of a cell", lambda: a.images_for_cell(0, 1))
step("subset 10 %", lambda: a.subset(range(0, a.num_images, 10)).summary())
step("bootstrap (1,000)", lambda: bootstrap(a, resamples=1000))
step("paired bootstrap (1,000)", lambda: paired_bootstrap(a, b, resamples=1000))
"""
    + _EPILOGUE
)

AFTER_REOPEN = (
    _PRELUDE
    + r"""
from segviz.compare import compare
from segviz.stats import bootstrap
from segviz.conventions import miou_conventions
from segviz.report import build_report, dataset_fingerprint
a = step("reopen model_a", lambda: evaluate(open_dataset(root, model="model_a"), store=ResultsStore()))
b = step("reopen model_b", lambda: evaluate(open_dataset(root, model="model_b"), store=ResultsStore()))
out["peak RSS of the reopens MB"] = peak_mb()
reset_peak()
step("compare (1,000 paired resamples)", lambda: compare(a, b, name_a="model_a", name_b="model_b"))
html = step("report (build_report)", lambda: build_report(a, title="t", dataset="d", model="model_a"))
out["report bytes"] = len(html.encode())
step("  bootstrap (1,000)", lambda: bootstrap(a, resamples=1000))
step("  which mIoU? (conventions)", lambda: miou_conventions(a))
step("  dataset fingerprint", lambda: dataset_fingerprint(a))
"""
    + _EPILOGUE
)

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

STEPS = ("evaluate", "reopen", "compare", "report", "session", "after", "change")


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
    """The segviz of git revision ``rev``, unpacked under ``out`` (no worktree, no checkout); or, when
    ``rev`` is a folder (a checkout), that folder as it is, with its compiled kernel (``git archive``
    leaves the built extension out, so an exported revision counts with numba or numpy)."""
    if Path(rev).is_dir():
        return Path(rev).resolve()
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
    if "change" in args.steps and not copy.is_dir():
        subprocess.run(["cp", "-al", str(root), str(copy)], check=True)
    results: dict[str, dict] = {}
    steps = set(args.steps)
    py = sys.executable
    for name, code in sorted(codes.items(), key=lambda kv: kv[0] != "new"):  # this checkout first
        r = results[name] = {}
        ev = [py, "-m", "segviz", "evaluate", str(root), "--quiet", "--model"]
        store = args.store or _cold_store(r, name, code, n, args, ev, work)
        if "evaluate" in steps:
            r["evaluate warm"] = best_of(
                [run([*ev, "model_a"], code=code, store=store, cwd=work) for _ in range(3)]
            )
        if "reopen" in steps:
            reopens = [run([py, "-c", REOPEN, str(root)], code=code, store=store, cwd=work) for _ in range(3)]
            if all(x["rc"] == 0 for x in reopens):
                done = [json.loads(x["stdout"].strip().splitlines()[-1]) for x in reopens]
                r["reopen steps"] = min(done, key=lambda x: x["model_a"][1])
        skip = name == "before" and args.skip_before_above and n > args.skip_before_above
        if not skip:
            if "compare" in steps:
                compare_cmd = [
                    py,
                    "-m",
                    "segviz",
                    "compare",
                    str(root),
                    "--models",
                    "model_a",
                    "model_b",
                    "--quiet",
                ]
                r["compare warm"] = best_of(
                    [run(compare_cmd, code=code, store=store, cwd=work) for _ in range(3)]
                )
            if "report" in steps:
                html = work / f"report-{name}.html"
                r["report"] = run(
                    [py, "-m", "segviz", "report", str(root), "--model", "model_a", "--out", str(html)],
                    code=code,
                    store=store,
                    cwd=work,
                )
                r["report"]["bytes"] = html.stat().st_size if html.exists() else None
            _in_process(r, steps, root, code=code, store=store, cwd=work)
        if "change" in steps:
            on_copy = [py, "-m", "segviz", "evaluate", str(copy), "--quiet", "--model", "model_a"]
            run(on_copy, code=code, store=store, cwd=work)  # (the copy's counts, untimed)
            replace_one_prediction(copy, 0, seed=7 if name == "new" else 11)
            r["one prediction changed"] = run(on_copy, code=code, store=store, cwd=work)
            r["after the change (warm)"] = run(on_copy, code=code, store=store, cwd=work)
    shutil.rmtree(work, ignore_errors=True)
    return {name: results[name] for name in codes if name in results}


def _cold_store(r: dict, name: str, code: Path, n: int, args, ev: list[str], work: Path) -> Path:
    """A fresh store for ``code``: model_a evaluated cold (timed), model_b's counts added."""
    store = args.out / f"store-{name}-{n}"
    shutil.rmtree(store, ignore_errors=True)
    r["evaluate cold"] = run([*ev, "model_a"], code=code, store=store, cwd=work)
    run([*ev, "model_b"], code=code, store=store, cwd=work)  # (each code stores its own counts)
    return store


def _in_process(r: dict, steps: set[str], root: Path, *, code: Path, store: Path, cwd: Path) -> None:
    """The library session and the after-reopen steps, each in a fresh process."""
    for key, script in (("session", SESSION), ("after", AFTER_REOPEN)):
        if key not in steps:
            continue
        label = "library session" if key == "session" else "after reopen (one process)"
        done = r[label] = run([sys.executable, "-c", script, str(root)], code=code, store=store, cwd=cwd)
        if done["rc"] == 0:
            r[f"{key} steps"] = json.loads(done["stdout"].strip().splitlines()[-1])


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


def _step_table(results: dict, kind: str, title: str) -> list[str]:
    """The in-process steps of one kind (wall / CPU per code), their peak RSS (and report size)."""
    lines: list[str] = []
    sub = [c for c in results if f"{kind} steps" in results[c]]
    if not sub:
        return []
    lines += ["", f"| {title} | " + " | ".join(f"{c}: wall / CPU" for c in sub) + " |"]
    lines.append("|---|" + "---|" * len(sub))
    keys = [
        k
        for k in results[sub[-1]][f"{kind} steps"]
        if not isinstance(results[sub[-1]][f"{kind} steps"][k], float | int)
    ]
    for k in keys:
        row = []
        for c in sub:
            v = results[c][f"{kind} steps"].get(k)
            row.append(f"{v[0]:.2f} s / {v[1]:.2f} s" if v else "–")
        lines.append(f"| {k} | " + " | ".join(row) + " |")
    if "report bytes" in results[sub[-1]][f"{kind} steps"]:
        lines.append(
            "| report size | "
            + " | ".join(f"{results[c][f'{kind} steps'].get('report bytes', 0) / 1e6:.2f} MB" for c in sub)
            + " |"
        )
    for label, key in (
        ("peak RSS", "peak RSS MB"),
        ("... during the two reopens", "peak RSS of the reopens MB"),
        ("... after them (the steps above, both models held)", "peak RSS after the reopens MB"),
    ):
        cells = [results[c][f"{kind} steps"].get(key) for c in sub]
        lines.append(f"| {label} | " + " | ".join(f"{v:,.0f} MB" if v else "–" for v in cells) + " |")
    return lines


def table(n: int, results: dict) -> str:
    names = list(results)
    steps = []
    for r in results.values():
        steps += [s for s in r if s not in steps and not s.endswith(" steps")]
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
    for kind, title in (("session", "library session step"), ("after", "after reopen step")):
        lines += _step_table(results, kind, title)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, action="append", help="dataset size (repeatable)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segviz-scale")
    parser.add_argument("--data", type=Path, help="where the datasets are generated (default OUT/data)")
    parser.add_argument(
        "--before", default=BEFORE, help=f"earlier git revision (default {BEFORE}), or a checkout's folder"
    )
    parser.add_argument("--no-before", action="store_true", help="this checkout only")
    parser.add_argument("--skip-before-above", type=int, default=0, metavar="N")
    parser.add_argument(
        "--store",
        type=Path,
        help="a warm results store of both models (no cold evaluation; the dataset is only read)",
    )
    parser.add_argument(
        "--steps",
        type=lambda v: [x for x in v.split(",") if x],
        default=list(STEPS),
        help=f"comma-separated steps to run, of {','.join(STEPS)} (default all)",
    )
    parser.add_argument("--reopen", action="store_true", help="only the steps evaluate, reopen and change")
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.out.is_relative_to(REPO):
        parser.error("--out must be outside the repository")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.reopen:
        args.steps = ["evaluate", "reopen", "change"]
    unknown = set(args.steps) - set(STEPS)
    if unknown:
        parser.error(f"--steps: unknown {', '.join(sorted(unknown))} (known: {', '.join(STEPS)})")
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
