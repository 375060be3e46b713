#!/usr/bin/env python3
"""Speed of segviz's confidence work, measured side by side in one run.

    python benchmarks/bench_confidence.py                 # CamVid (SEGVIZ_SHARED_DATA) + synthetic K=150
    python benchmarks/bench_confidence.py --reps 3
    python benchmarks/bench_confidence.py --old none      # without the old-vs-new columns

1. ``evaluate`` vs ``evaluate_confidence`` on camvid-val / tinyfcn (101 frames, 480x360, 8-bit
   confidence), both reading every file (no results store), 2 threads, rounds interleaved;
   also both through the command line (process start included), cold (``--no-store``) and with
   the results store and the confidence cache warm. Old vs new side by side: ``--old REV`` (default
   e9c30e1, main before the confidence speed-up) is run in the same rounds — its
   ``segviz/confidence.py`` loaded beside the current one for the library figures, its whole
   ``segviz/`` (``git archive``, with this tree's C kernel) in a temporary folder for the command
   line. The floor: decoding every confidence map alone (old decoder: imagecodecs' libpng; new:
   the direct decoder), which no implementation that reads the maps can avoid.
2. The threshold explorer on the folded per-image rows: building it (one reverse cumulative sum),
   one threshold (``at(t)``: metrics of the kept pixels), and a slider move as the dashboard would do it
   (``at(t)`` + the threshold figure), on CamVid (K=11) and on synthetic ADE-like rows (K=150).
3. Re-folding calibration / risk–coverage for a subset of images.

Figures are medians; the machine is shared, so trust the ratios more than the absolutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from segviz import evaluate, open_dataset  # noqa: E402
from segviz.classes import ClassTable  # noqa: E402
from segviz.confidence import (  # noqa: E402
    ConfidenceMap,
    ConfidenceResult,
    evaluate_confidence,
    image_confidence,
)
from segviz.confidence_figures import threshold_figure  # noqa: E402
from segviz.evaluate import Evaluation  # noqa: E402


def median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


CPU: dict[str, float] = {}  # CPU-time medians of the last interleaved() call (see there)


def _cpu_now() -> float:
    """CPU seconds of this process (all its threads) and of its finished children."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def interleaved(fns: dict, reps: int) -> dict[str, float]:
    """Wall-clock medians of rounds in rotating order; the CPU-time medians (this process's threads
    plus its child processes: less disturbed by other jobs on a shared machine) go to ``CPU``."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(reps):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            t, c = time.perf_counter(), _cpu_now()
            fns[k]()
            times[k].append(time.perf_counter() - t)
            cpu[k].append(_cpu_now() - c)
    CPU.clear()
    CPU.update({k: statistics.median(v) for k, v in cpu.items()})
    return {k: statistics.median(v) for k, v in times.items()}


def synthetic_result(k: int = 150, images: int = 200, size=(512, 512), seed: int = 0) -> ConfidenceResult:
    """ADE-like rows: K classes, most pixels right, 8-bit confidence."""
    rng = np.random.default_rng(seed)
    table = ClassTable.generated(range(k))
    stats, names = [], []
    for i in range(images):
        blocks = rng.integers(0, k, (size[0] // 32, size[1] // 32))
        gt = np.kron(blocks, np.ones((32, 32), np.int64))
        pred = np.where(rng.random(size) < 0.85, gt, rng.integers(0, k, size))
        conf = np.clip(np.where(pred == gt, 0.9, 0.5) + rng.normal(0, 0.1, size), 0, 1)
        cmap = ConfidenceMap("u8", np.rint(conf * 255).astype(np.uint8))
        stats.append(image_confidence(f"im{i}", gt, pred, cmap, k))
        names.append(f"im{i}")
    ev = Evaluation(
        table, names, [], np.zeros((k, k + 1), np.int64), np.zeros((0, 4), np.int64), np.zeros(images)
    )
    return ConfidenceResult(ev, 15, stats)


def slider(result: ConfidenceResult, reps: int) -> dict[str, float]:
    explorer = result.threshold_explorer()
    ts = np.linspace(0.05, 0.95, 19)

    def move():
        for t in ts:
            explorer.at(float(t))

    def move_and_draw():
        explorer.at(0.8)
        threshold_figure(explorer, threshold=0.8)

    def first_draw():
        fresh = result.threshold_explorer()
        threshold_figure(fresh, threshold=0.8)

    return {
        "first": median_time(first_draw, reps),
        "build": median_time(result.threshold_explorer, reps),
        "at": median_time(move, reps) / len(ts),
        "move_and_draw": median_time(move_and_draw, reps),
        "rows": len(result.row_count),
    }


def old_version(rev: str, tmp: Path):
    """(old confidence module, PYTHONPATH of the old package) of git revision ``rev``, or (None,
    None) when git cannot give it."""
    if rev == "none":
        return None, None
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "segviz"], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"(old revision {rev} unavailable: {exc}; old columns skipped)")
        return None, None
    import io
    import tarfile

    root = tmp / "old"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    for so in (REPO / "segviz").glob("_count*.so"):  # the old code needs only sparse_u8
        shutil.copy(so, root / "segviz" / so.name)
    spec = importlib.util.spec_from_file_location("segviz_confidence_old", root / "segviz" / "confidence.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, root


def decode_all(paths, decode, workers: int = 2) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(decode, paths))


def row(label: str, seconds: float, base: float, cpu: tuple[float, float], target: str = "") -> str:
    """A table row: wall seconds and × the base; CPU seconds (``cpu`` = (seconds, base)) and ×."""
    return f"| {label} | {seconds:.3f} | {seconds / base:.2f} | {cpu[0]:.3f} | {cpu[0] / cpu[1]:.2f} | {target} |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--data", default=os.environ.get("SEGVIZ_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    )
    parser.add_argument("--old", default="e9c30e1", help="git revision for the old columns, or 'none'")
    args = parser.parse_args(argv)
    camvid = Path(args.data) / "camvid-val"
    print(f"# segviz confidence benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs\n")
    if camvid.is_dir():
        from segviz.kernels import decode_grey_png_direct, fast_decode_grey_png

        tmpdir = tempfile.TemporaryDirectory()
        old, old_root = old_version(args.old, Path(tmpdir.name))
        ds = open_dataset(camvid, model="tinyfcn")
        conf_files = sorted((camvid / "conf" / "tinyfcn").glob("*.png"))
        fns = {
            "evaluate": lambda: evaluate(ds, workers=2),
            "new": lambda: evaluate_confidence(ds, workers=2),
            "decode_new": lambda: decode_all(conf_files, lambda p: decode_grey_png_direct(p.read_bytes())),
            "decode_old": lambda: decode_all(conf_files, fast_decode_grey_png),
        }
        if old is not None:
            fns["old"] = lambda: old.evaluate_confidence(ds, workers=2)
            assert old.evaluate_confidence(ds).calibration().ece == evaluate_confidence(ds).calibration().ece
        for fn in fns.values():
            fn()  # warm-up (imports, kernels)
        t = interleaved(fns, args.reps)
        c = dict(CPU)
        base = t["evaluate"]

        def lib(*names):
            return sum(t[n] for n in names), base, (sum(c[n] for n in names), c["evaluate"])

        print("| camvid-val / tinyfcn, 101 frames | wall s | × | CPU s | × | target |")
        print("|---|---|---|---|---|---|")
        print(row("library, every file read, 2 threads: evaluate", *lib("evaluate")))
        if old is not None:
            print(row(f"evaluate_confidence, old ({args.old})", *lib("old")))
        print(row("evaluate_confidence, new", *lib("new"), "≤ 2"))
        if old is not None:
            print(f"| old / new | | {t['old'] / t['new']:.2f} | | {c['old'] / c['new']:.2f} | |")
        floor = "floor: evaluate + only decoding the 101 maps"
        print(row(f"{floor}, old decoder (libpng)", *lib("evaluate", "decode_old")))
        print(row(f"{floor}, new decoder (direct)", *lib("evaluate", "decode_new")))
        with tempfile.TemporaryDirectory() as tmp:
            # cwd=tmp: `python -m` puts the working directory first on sys.path, and a checkout's
            # segviz/ there would shadow the old copy given by PYTHONPATH
            env = dict(os.environ, PYTHONPATH=str(REPO), SEGVIZ_STORE=tmp)
            base_cmd = [
                sys.executable,
                "-m",
                "segviz",
                "evaluate",
                str(camvid),
                "--model",
                "tinyfcn",
                "--quiet",
            ]
            runs = {
                "cli": lambda: subprocess.run([*base_cmd, "--no-store"], env=env, check=True, cwd=tmp),
                "cli_conf": lambda: subprocess.run(
                    [*base_cmd, "--no-store", "--confidence"], env=env, check=True, cwd=tmp
                ),
            }
            if old_root is not None:
                old_env = dict(env, PYTHONPATH=str(old_root))
                runs["cli_old"] = lambda: subprocess.run(
                    [*base_cmd, "--no-store", "--confidence"], env=old_env, check=True, cwd=tmp
                )
            cli = interleaved(runs, args.reps)
            cli_cpu = dict(CPU)
            subprocess.run(
                base_cmd, env=env, check=True, cwd=tmp
            )  # fill the store (and the confidence cache)
            subprocess.run([*base_cmd, "--confidence"], env=env, check=True, cwd=tmp)
            warm = interleaved(
                {
                    "cli": lambda: subprocess.run(base_cmd, env=env, check=True, cwd=tmp),
                    "cli_conf": lambda: subprocess.run(
                        [*base_cmd, "--confidence"], env=env, check=True, cwd=tmp
                    ),
                },
                args.reps,
            )
            warm_cpu = dict(CPU)

        def proc(times, cpus, name):
            return times[name], times["cli"], (cpus[name], cpus["cli"])

        print(row("segviz evaluate --no-store (process start included)", *proc(cli, cli_cpu, "cli")))
        if "cli_old" in cli:
            label = f"segviz evaluate --no-store --confidence, old ({args.old})"
            print(row(label, *proc(cli, cli_cpu, "cli_old")))
        label = "segviz evaluate --no-store --confidence, new"
        print(row(label, *proc(cli, cli_cpu, "cli_conf"), "≤ 2"))
        print(row("segviz evaluate, store and cache warm", *proc(warm, warm_cpu, "cli")))
        label = "segviz evaluate --confidence, store and cache warm"
        print(row(label, *proc(warm, warm_cpu, "cli_conf"), "≤ 2"))
        tmpdir.cleanup()
        result = evaluate_confidence(ds)
        s = slider(result, args.reps)
        subset = list(range(0, 101, 2))
        fold = median_time(
            lambda: (result.calibration(images=subset), result.risk_coverage(images=subset)), args.reps
        )
        print()
        print("| threshold explorer / folding | ms | target |")
        print("|---|---|---|")
        print(f"| CamVid (K=11, {s['rows']:,} rows): build the explorer | {1000 * s['build']:.1f} | |")
        print(f"| CamVid: one threshold (metrics of the kept pixels) | {1000 * s['at']:.2f} | |")
        print(f"| CamVid: slider move = at(t) + threshold figure | {1000 * s['move_and_draw']:.1f} | ≤ 200 |")
        print(f"| CamVid: first draw = build + all 256 thresholds + figure | {1000 * s['first']:.1f} | |")
        print(f"| CamVid: calibration + risk–coverage of 51 images, re-folded | {1000 * fold:.1f} | |")
    else:
        print(f"(no {camvid}: CamVid figures skipped)")
        print()
        print("| threshold explorer | ms | target |")
        print("|---|---|---|")
    big = synthetic_result()
    s = slider(big, args.reps)
    print(
        f"| ADE-like synthetic (K=150, 200 images, {s['rows']:,} rows): build the explorer | {1000 * s['build']:.1f} | |"
    )
    print(f"| ADE-like: one threshold | {1000 * s['at']:.2f} | |")
    print(f"| ADE-like: slider move = at(t) + threshold figure | {1000 * s['move_and_draw']:.1f} | ≤ 200 |")
    print(f"| ADE-like: first draw = build + all 256 thresholds + figure | {1000 * s['first']:.1f} | |")


if __name__ == "__main__":
    main()
