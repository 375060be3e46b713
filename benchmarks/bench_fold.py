"""The fold and the per-image aggregates at scale (issue #17): this checkout against another one.

For each model of a dataset whose results store is warm, in a fresh process: open the dataset and
count it from the store (not timed here), then time ``fold`` (the raw rows through the class table:
the confusion, the (image, gt, pred, count) rows, the ignored pixels) and ``image_count_matrix``
(the (N, 3K) ``[TP | GT | PRED]`` CSR matrix), CPU (user, sys) and wall, and the page faults. The
two checkouts run alternately (``--repeat`` times each; the machine is shared: the fastest and the
median are printed), each with its own copy of the store; the results are checked to be identical
(an md5 of every array).

    python benchmarks/bench_fold.py --data /work/bench-data/scale-100000-128x96 \\
        --store /work/bench-data/store-fold --before /work/main --before-store /work/bench-data/store-fold-main

``--before``: a checkout of the earlier code (default: none, this checkout only). ``--numpy``: also
this checkout with the C kernel turned off (``SEGVIZ_NO_CKERNEL=1``: the numpy fold).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, json, resource, sys, time
import scipy.sparse  # (imported before the timing: the first matrix would import it)
import segviz
from segviz import open_dataset
from segviz.evaluate import choose_table, count, fold
from segviz.store import ResultsStore

root, models = sys.argv[1], sys.argv[2].split(",")
out, digest = {}, hashlib.md5()

def step(name, fn):
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    value = fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    got = out.setdefault(name, [0.0, 0.0, 0.0, 0])
    got[0] += r1.ru_utime - r0.ru_utime
    got[1] += r1.ru_stime - r0.ru_stime
    got[2] += time.perf_counter() - t0
    got[3] += r1.ru_minflt - r0.ru_minflt
    return value

for model in models:
    ds = open_dataset(root, model=model)
    counted = count(ds, store=ResultsStore())
    table = choose_table(ds, counted)
    ev = step("fold", lambda: fold(counted, table, skipped=ds.skipped, warnings=ds.warnings))
    matrix = step("image_count_matrix", ev.image_count_matrix)
    for a in (ev.confusion, ev.image_rows, ev.ignored_per_image, matrix.data, matrix.indices, matrix.indptr):
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    digest.update(repr((ev.names[:3], len(ev.names), ev.skipped, ev.warnings)).encode())
print(json.dumps({"steps": out, "md5": digest.hexdigest(), "segviz": segviz.__file__}))
"""


def run(code: Path, store: str, data: str, models: str, extra_env: dict[str, str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "SEGVIZ_STORE": store, **extra_env}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, data, models],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        check=True,
    )  # (cwd: ``python -c`` puts the current folder first on sys.path)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(out["segviz"]).is_relative_to(code):
        raise SystemExit(f"{code}: imported {out['segviz']} instead")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the dataset (read only), its store warm")
    parser.add_argument("--store", required=True, help="this checkout's results store")
    parser.add_argument("--before", help="a checkout of the earlier code")
    parser.add_argument("--before-store", help="its results store (a copy: the format may differ)")
    parser.add_argument("--models", default="model_a,model_b")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--numpy", action="store_true", help="also this checkout without the C kernel")
    args = parser.parse_args()
    codes = []
    if args.before:
        codes.append(("before", Path(args.before), args.before_store or args.store, {}))
    codes.append(("this", ROOT, args.store, {}))
    if args.numpy:
        codes.append(("this, numpy", ROOT, args.store, {"SEGVIZ_NO_CKERNEL": "1"}))
    results: dict[str, list[dict]] = {name: [] for name, *_ in codes}
    for _ in range(args.repeat):  # (alternately: a busy spell of the machine hits every code)
        for name, code, store, env in codes:
            results[name].append(run(code, store, args.data, args.models, env))
    print(f"{args.data}, models {args.models}, {args.repeat} fresh processes per code (both models each)")
    print(
        f"{'code':12s} {'step':20s} {'CPU min':>8s} {'CPU med':>8s} {'user':>6s} {'sys':>6s} {'wall min':>8s} {'faults':>7s}"
    )
    for name, runs in results.items():
        for step in ("fold", "image_count_matrix", "both"):

            def figures(r: dict, step: str = step) -> list[float]:
                s = r["steps"]
                parts = [s["fold"], s["image_count_matrix"]] if step == "both" else [s[step]]
                return [sum(p[i] for p in parts) for i in range(4)]

            rows = [figures(r) for r in runs]
            cpu = [u + s for u, s, _, _ in rows]
            best = rows[cpu.index(min(cpu))]
            print(
                f"{name:12s} {step:20s} {min(cpu):8.3f} {statistics.median(cpu):8.3f} {best[0]:6.3f} "
                f"{best[1]:6.3f} {min(r[2] for r in rows):8.3f} {int(best[3]):7d}"
            )
    digests = {name: {r["md5"] for r in runs} for name, runs in results.items()}
    same = len(set().union(*digests.values())) == 1
    print("results identical (md5 of every array):", "yes" if same else f"NO {digests}")


if __name__ == "__main__":
    main()
