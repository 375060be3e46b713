"""Issue #17's table, today's code (``--before``) and this checkout side by side, for each size N.

For each ``--images N`` (default 2,000, 10,000 and 100,000; 50,000 allowed) this script

1. generates the ADE-like dataset once under ``--data`` (``datagen.ensure_scale_dataset``: 150
   classes, 128x96 masks, two models, hard-linked to N images) or reuses it, and measures its disk use
   (``du``: hard links counted once);
2. runs ``bench_scale.py --steps evaluate,compare,report`` (a subprocess): each code fills its own
   results store under ``OUT/scale/store-<code>-N`` (model_a timed cold, model_b untimed; an older
   store format is never shared), then ``segviz evaluate`` warm and ``segviz compare`` warm (1,000
   paired resamples; each the fastest of three fresh processes), ``segviz report``; wall, CPU
   (user + sys) and peak RSS from ``/usr/bin/time``;
3. runs ``bench_app.py --json`` (a subprocess) on the same dataset with those two warm stores: the old
   app (``--before``'s app.py and segviz) and this checkout's (fragment reruns, what a browser asks
   for), one AppTest session each per round, server time: first overview, a control change
   (confusion normalisation), thumbnail -> Images view, Next image, the server's peak RSS;
4. with ``--browser``, the first overview and one control change in headless Chromium, both codes
   (``bench_issue17_browser.py``);

and prints the issue's table: one row per N and code, wall / CPU where both exist, plus the disk of
each dataset, the machine and the load average. Raw figures: ``OUT/issue17-N.json``; the table again
from them: ``--from-json OUT/issue17-*.json``.

    python benchmarks/bench_issue17.py --before /work/old --images 2000 --rounds 1
    python benchmarks/bench_issue17.py --before 2889ef6 --data /work/bench-data --out /tmp/issue17
        [--images 2000 --images 10000 --images 100000] [--rounds 1] [--browser]
        [--skip-before-above N]  (the earlier code's CLI steps are skipped above N images)

``--before``: a git revision (exported with ``git archive``: no compiled kernel, so it counts with
numba or numpy) or a checkout's folder (run as it is, with its compiled kernel). ``--data`` may be
read-only when the datasets already exist there (e.g. ``/work/bench-data``): nothing is written into
a dataset. The machine is shared: judge by CPU time, wall time is mostly waiting for a core.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

SIZES = (2_000, 10_000, 100_000)
CODES = {"before": "old", "new": "new"}  # bench_scale's names -> the table's
APP_VARIANTS = {"before": "old", "new": "fragment"}  # bench_app's variant of each code

# the columns: (title, where the figure comes from, key there, target at 100,000 images)
CLI_COLUMNS = [
    ("CLI evaluate warm", "evaluate warm", "≤ 3 s"),
    ("compare warm", "compare warm", "≤ 5 s"),
    ("report", "report", "≤ 10 s"),
]
APP_COLUMNS = [
    ("app first overview", "first overview", "≤ 3 s"),
    ("control change", "control change", "≤ 0.3 s"),
    ("Images view", "image view", "≤ 0.5 s"),
    ("Next image", "next image", "≤ 0.3 s"),
]
PEAK = ("server peak", "rss peak MB", "≤ 1.5 GB")
BROWSER_COLUMNS = [
    ("first overview (browser)", "first overview", "≤ 3 s"),
    ("control change (browser)", "control change", "≤ 0.3 s"),
]


def machine() -> dict:
    """What the figures ran on: CPU, cores, memory, Python, the libraries that matter."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory GiB": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "system": platform.platform(terse=True),
    }
    from importlib.metadata import PackageNotFoundError, version

    for name in ("numpy", "pyarrow", "pandas", "streamlit"):
        with contextlib.suppress(PackageNotFoundError):
            info[name] = version(name)
    return info


def revision(code: Path | str) -> str:
    """The git revision of a checkout folder (``+`` when its code, segviz/ or app.py, has uncommitted
    changes), or ``code``."""
    folder = Path(code)
    if not folder.is_dir():
        return str(code)
    head = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if head.returncode:
        return str(folder)
    dirty = subprocess.run(
        ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no", "--", "segviz", "app.py"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head.stdout.strip() + ("+" if dirty else "")


def disk_mb(folder: Path) -> float:
    """Disk used by ``folder`` (``du``: blocks, hard links counted once), MB."""
    out = subprocess.run(["du", "-sk", str(folder)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _subprocess(cmd: list[str], log: Path, env: dict | None = None) -> None:
    """Run a benchmark script, its output into ``log``; a failure stops this run with the log's end."""
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO, check=False)
    if proc.returncode:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"{' '.join(cmd[1:3])} failed (exit {proc.returncode}), see {log}:\n{tail}")


def bench_one(n: int, args) -> dict:
    """Every figure of one size N: the dataset, the CLI steps, the app steps (and the browser's)."""
    import datagen

    out: dict = {"images": n, "load": {"start": _load()}}
    t0 = time.perf_counter()
    root = datagen.ensure_scale_dataset(args.data, n, jobs=2)
    out["dataset"] = {"path": str(root), "disk MB": disk_mb(root), "ready s": time.perf_counter() - t0}
    scale_out = args.out / "scale"
    cmd = [sys.executable, str(BENCH / "bench_scale.py"), "--images", str(n), "--data", str(args.data)]
    cmd += ["--out", str(scale_out), "--before", str(args.before), "--steps", "evaluate,compare,report"]
    if args.skip_before_above:
        cmd += ["--skip-before-above", str(args.skip_before_above)]
    print(f"{n:,} images: CLI steps (bench_scale) ...", flush=True)
    _subprocess(cmd, args.out / f"bench_scale-{n}.log")
    out["cli"] = json.loads((scale_out / f"results-{n}.json").read_text())
    for r in out["cli"].values():  # (the commands' output is in the log, not needed here)
        for v in r.values():
            if isinstance(v, dict):
                v.pop("stdout", None)
    out["load"]["after CLI"] = _load()
    stores = {code: scale_out / f"store-{code}-{n}" for code in CODES}
    app_json = args.out / f"bench_app-{n}.json"
    cmd = [sys.executable, str(BENCH / "bench_app.py"), "--data", str(root), "--rounds", str(args.rounds)]
    cmd += ["--variants", ",".join(APP_VARIANTS.values()), "--out", str(args.out / "app")]
    cmd += ["--before", str(args.before), "--before-store", str(stores["before"]), "--json", str(app_json)]
    print(f"{n:,} images: app steps (bench_app, AppTest) ...", flush=True)
    env = {**os.environ, "SEGVIZ_STORE": str(stores["new"])}
    _subprocess(cmd, args.out / f"bench_app-{n}.log", env=env)
    out["app"] = json.loads(app_json.read_text())
    out["load"]["after app"] = _load()
    if args.browser:
        browser_json = args.out / f"browser-{n}.json"
        cmd = [sys.executable, str(BENCH / "bench_issue17_browser.py"), "--data", str(root)]
        cmd += ["--before", str(args.before), "--before-store", str(stores["before"])]
        cmd += ["--store", str(stores["new"]), "--rounds", str(args.rounds), "--json", str(browser_json)]
        print(f"{n:,} images: browser steps (headless Chromium) ...", flush=True)
        _subprocess(cmd, args.out / f"browser-{n}.log")
        out["browser"] = json.loads(browser_json.read_text())
        out["load"]["after browser"] = _load()
    return out


def _cli_cell(x: dict | None) -> str:
    if x is None:
        return "–"
    bad = f" (exit {x['rc']})" if x.get("rc") not in (0, 1) else ""
    size = f", {x['bytes'] / 1e6:.2f} MB" if x.get("bytes") else ""
    return f"{x['wall']:.2f} s / {x['cpu']:.2f} s{size}{bad}"


def _median_cell(values: list) -> str:
    """The median over rounds of (wall, CPU) pairs, or of a number of MB; '–' when none."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if isinstance(values[0], list | tuple):
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        return f"{wall:.2f} s / {cpu:.2f} s"
    mb = statistics.median(values)
    return f"{mb / 1024:.2f} GB" if mb >= 1024 else f"{mb:,.0f} MB"


def rows(result: dict, *, browser: bool) -> list[list[str]]:
    """The table's rows of one N: one per code, cells in the order of ``header``."""
    cli = result.get("cli", {})
    app = result.get("app", {}).get("runs", {})
    seen = result.get("browser", {}).get("runs", {})
    revisions = result.get("revisions", {})
    lines = []
    for i, (code, label) in enumerate(CODES.items()):
        name = f"{label} ({revisions[code]})" if code in revisions else label
        first = [f"{result['images']:,}", f"{result['dataset']['disk MB']:,.0f} MB"]
        cells = [*first, name] if i == 0 else ["", "", name]
        cells += [_cli_cell(cli.get(code, {}).get(key)) for _, key, _ in CLI_COLUMNS]
        runs = app.get(APP_VARIANTS[code], [])
        cells += [_median_cell([r.get(key) for r in runs]) for _, key, _ in APP_COLUMNS]
        if browser:
            cells += [_median_cell([r.get(key) for r in seen.get(code, [])]) for _, key, _ in BROWSER_COLUMNS]
        cells.append(_median_cell([r.get(PEAK[1]) for r in runs]))
        lines.append(cells)
    return lines


def header(*, browser: bool) -> list[list[str]]:
    """The table's title row and its target row (issue #17's targets at 100,000 images)."""
    columns = [*CLI_COLUMNS, *APP_COLUMNS, *(BROWSER_COLUMNS if browser else []), PEAK]
    return [
        ["images", "disk", "code", *(title for title, _, _ in columns)],
        ["target at 100,000", "≤ 2 GB", "", *(target for _, _, target in columns)],
    ]


def table(results: list[dict]) -> str:
    """Issue #17's table for every N measured, old and new side by side; then what the runs met."""
    browser = any("browser" in r for r in results)
    head = header(browser=browser)
    lines = ["| " + " | ".join(head[0]) + " |", "|" + "---|" * len(head[0])]
    lines.append("| " + " | ".join(head[1]) + " |")
    for result in results:
        lines += ["| " + " | ".join(row) + " |" for row in rows(result, browser=browser)]
    notes = []
    for result in results:
        app = result.get("app", {})
        for variant, runs in app.get("runs", {}).items():
            for r in runs:
                for key in ("error", "error2"):
                    if key in r:
                        notes.append(f"{result['images']:,} images, {variant} app: {r[key]}")
        loads = ", ".join(f"{k} {v:.1f}" for k, v in result.get("load", {}).items())
        notes.append(f"{result['images']:,} images: load average (1 min) {loads}")
    return "\n".join([*lines, "", *notes])


def preamble(results: list[dict]) -> str:
    """The machine, the two codes and how to read the cells."""
    m = results[0].get("machine", {})
    first = results[0]
    rounds = first.get("app", {}).get("rounds", "?")
    libs = ", ".join(f"{k} {m[k]}" for k in ("numpy", "pyarrow", "pandas", "streamlit") if k in m)
    return "\n".join(
        [
            f"machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory GiB', '?')} GiB, "
            f"Python {m.get('python', '?')} ({m.get('system', '?')}); {libs}",
            f"old = {first.get('before', '?')}, new = {REPO.name} ({first.get('revisions', {}).get('new', '?')}); "
            "each code its own results store, warm (filled first)",
            "cells: wall / CPU (user + sys) s. CLI: fresh processes under /usr/bin/time (evaluate and compare "
            "the fastest of 3; report with its size). App: server time in AppTest (no browser), CPU of the "
            f"whole server process, median of {rounds} session(s); new = fragment reruns (what a browser "
            "asks for); server peak = the server process's peak RSS. Disk: du of the dataset (hard links "
            "counted once).",
            *(
                [
                    "browser: headless Chromium, a new tab after Streamlit's Clear caches on a warm server: "
                    "wall time in the browser / CPU of the server process meanwhile (the browser's own CPU "
                    "not counted); control change = Normalise -> column, until the matrix is redrawn."
                ]
                if any("browser" in r for r in results)
                else []
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, action="append", help=f"dataset size (repeatable; default {SIZES})"
    )
    parser.add_argument("--before", help="today's code: a git revision or a checkout's folder")
    parser.add_argument(
        "--data", type=Path, help="where the datasets are generated or reused (default OUT/data)"
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segviz-issue17")
    parser.add_argument("--rounds", type=int, default=1, help="app sessions per code (median; default 1)")
    parser.add_argument("--skip-before-above", type=int, default=0, metavar="N")
    parser.add_argument(
        "--browser", action="store_true", help="also the first overview and a control change in Chromium"
    )
    parser.add_argument(
        "--from-json", type=Path, nargs="+", help="print the table of earlier runs' OUT/issue17-N.json"
    )
    args = parser.parse_args()
    if args.from_json:
        results = [json.loads(p.read_text()) for p in args.from_json]
        print(preamble(results) + "\n\n" + table(results))
        return
    if not args.before:
        parser.error("--before is required (a git revision or a checkout's folder)")
    args.out = args.out.resolve()
    if args.out.is_relative_to(REPO):
        parser.error("--out must be outside the repository")
    args.out.mkdir(parents=True, exist_ok=True)
    args.data = (args.data or args.out / "data").resolve()
    args.data.mkdir(parents=True, exist_ok=True)
    common = {
        "machine": machine(),
        "before": str(args.before),
        "revisions": {"before": revision(args.before), "new": revision(REPO)},
    }
    results = []
    sizes = args.images or SIZES
    for n in sizes:
        result = {**common, **bench_one(n, args)}
        (args.out / f"issue17-{n}.json").write_text(json.dumps(result, indent=1))
        results.append(result)
        if len(sizes) > 1:  # (each size's table as soon as it is done: 100,000 takes a while)
            print("\n" + table([result]) + "\n", flush=True)
    print(preamble(results) + "\n\n" + table(results))
    print(f"\nraw figures: {args.out}/issue17-N.json (reprint: --from-json)")


if __name__ == "__main__":
    main()
