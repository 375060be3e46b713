#!/usr/bin/env python3
"""Speed of segviz's confidence work, measured side by side in one run.

    python benchmarks/bench_confidence.py                 # CamVid (SEGVIZ_SHARED_DATA) + synthetic K=150
    python benchmarks/bench_confidence.py --reps 3

1. ``evaluate`` vs ``evaluate_confidence`` on camvid-val / tinyfcn (101 frames, 480x360, 8-bit
   confidence), both reading every file (no results store), 2 threads, rounds interleaved;
   also both through the command line (process start included), cold (``--no-store``) and with
   the results store and the confidence cache warm.
2. The threshold explorer on the folded per-image rows: building it (one reverse cumulative sum),
   one threshold (``at(t)``: metrics of the kept pixels), and a slider move as the dashboard would do it
   (``at(t)`` + the threshold figure), on CamVid (K=11) and on synthetic ADE-like rows (K=150).
3. Re-folding calibration / risk–coverage for a subset of images.

Figures are medians; the machine is shared, so trust the ratios more than the absolutes.
"""

from __future__ import annotations

import argparse
import os
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


def interleaved(fns: dict, reps: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(reps):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            t = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t)
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--data", default=os.environ.get("SEGVIZ_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    )
    args = parser.parse_args(argv)
    camvid = Path(args.data) / "camvid-val"
    print(f"# segviz confidence benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs\n")
    if camvid.is_dir():
        ds = open_dataset(camvid, model="tinyfcn")
        evaluate_confidence(ds)  # warm-up (imports, kernels)
        t = interleaved(
            {
                "evaluate": lambda: evaluate(ds, workers=2),
                "evaluate_confidence": lambda: evaluate_confidence(ds, workers=2),
            },
            args.reps,
        )
        print("| camvid-val / tinyfcn, 101 frames, no store, 2 threads | seconds | ratio | target |")
        print("|---|---|---|---|")
        print(f"| evaluate (library) | {t['evaluate']:.3f} | 1.00 | |")
        ratio = t["evaluate_confidence"] / t["evaluate"]
        print(f"| evaluate_confidence (library) | {t['evaluate_confidence']:.3f} | {ratio:.2f} | ≤ 2 |")
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, PYTHONPATH=str(REPO), SEGVIZ_STORE=tmp)
            base = [sys.executable, "-m", "segviz", "evaluate", str(camvid), "--model", "tinyfcn", "--quiet"]
            cli = interleaved(
                {
                    "cli": lambda: subprocess.run([*base, "--no-store"], env=env, check=True),
                    "cli_conf": lambda: subprocess.run(
                        [*base, "--no-store", "--confidence"], env=env, check=True
                    ),
                },
                args.reps,
            )
            subprocess.run(base, env=env, check=True)  # fill the store (and the confidence cache)
            subprocess.run([*base, "--confidence"], env=env, check=True)
            warm = interleaved(
                {
                    "cli": lambda: subprocess.run(base, env=env, check=True),
                    "cli_conf": lambda: subprocess.run([*base, "--confidence"], env=env, check=True),
                },
                args.reps,
            )
        for label, t_ in (("--no-store", cli), ("store and cache warm", warm)):
            ratio = t_["cli_conf"] / t_["cli"]
            print(f"| segviz evaluate, {label} (process) | {t_['cli']:.3f} | 1.00 | |")
            print(
                f"| segviz evaluate --confidence, {label} (process) | {t_['cli_conf']:.3f} | {ratio:.2f} | ≤ 2 |"
            )
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
