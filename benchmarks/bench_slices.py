#!/usr/bin/env python3
"""Speed of slicing: a slice's metrics with intervals, a --by table, worst-slice discovery, and the
automatic attributes (first pass and cached).

    python benchmarks/bench_slices.py              # 2,000 VOC-like images (K = 21) and 200 ADE-like (K = 150)
    python benchmarks/bench_slices.py --quick      # 200 VOC-like images

Synthetic label maps from ``benchmarks/datagen.py`` are generated once into ``--out`` (default
/tmp/segviz-bench, never inside the repository) and evaluated once (counts kept in a temporary
results store); everything timed below works on those stored counts only, except the attribute
pass, which reads every ground truth. Figures are medians of ``--repeat`` runs.

Targets (issue 15): one slice's metrics with intervals ≤ 50 ms on 2,000 images; discovery over 20
attributes ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the segviz of this checkout

import datagen  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from segviz import evaluate, open_dataset  # noqa: E402
from segviz import slices as slices_module  # noqa: E402
from segviz.attributes import pixel_attributes  # noqa: E402
from segviz.slices import Slicer  # noqa: E402
from segviz.store import ResultsStore  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def synthetic_attributes(n: int, *, seed: int = 0) -> pd.DataFrame:
    """20 attributes: 10 text (3-6 values), 5 numbers (quantile-binned), 5 booleans."""
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(10):
        cols[f"tag{i}"] = rng.choice([f"v{j}" for j in range(3 + i % 4)], n)
    for i in range(5):
        cols[f"num{i}"] = rng.gamma(2.0, 10.0, n)
    for i in range(5):
        cols[f"flag{i}"] = rng.random(n) < 0.3
    return pd.DataFrame(cols)


def run(kind: str, n: int, *, out: Path, repeat: int, attributes: bool) -> None:
    root = datagen.ensure_dataset(out, kind, n, jobs=2)
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(tmp)
        t = time.perf_counter()
        ev = evaluate(open_dataset(root), store=store)
        print(
            f"\n{kind}-like, {ev.num_images} images, K = {ev.table.num_classes}: evaluated in {time.perf_counter() - t:.1f} s"
        )
        attrs = synthetic_attributes(ev.num_images)

        def cold_slice():
            slices_module._poisson_weights.cache_clear()
            s = Slicer(ev, attrs)  # binning, image counts, Poisson weights, the whole data's resamples
            return s.metrics("tag3", "v1")

        cold, m = timed(cold_slice, repeat)
        slicer = Slicer(ev, attrs)
        slicer.metrics("tag3", "v1")
        warm, _ = timed(lambda: slicer.metrics("tag3", "v1"), repeat)
        by, _ = timed(lambda: slicer.by("tag5"), repeat)
        print(
            f"  one slice ({m.images} images), B = 1000, cold (new Slicer)     {1000 * cold:8.1f} ms   target ≤ 50 ms"
        )
        print(f"  one slice, warm (weights drawn)                         {1000 * warm:8.1f} ms")
        print(
            f"  a --by table (tag5: {len(slicer.columns['tag5'].labels)} values), warm                   {1000 * by:8.1f} ms"
        )

        def discover():
            slices_module._poisson_weights.cache_clear()
            return Slicer(ev, attrs).worst()

        disc, worst = timed(discover, repeat)
        print(
            f"  worst slices over 20 attributes and their pairs, cold     {disc:8.2f} s    target ≤ 2 s"
            f"  ({worst.candidates} candidates, {worst.tested} tested)"
        )
        if attributes:
            t = time.perf_counter()
            pixel_attributes(ev, store=store, workers=2)
            first = time.perf_counter() - t
            again, _ = timed(lambda: pixel_attributes(ev, store=store, workers=2), repeat)
            print(
                f"  pixel attributes (objects per class, size): first pass {first:6.1f} s "
                f"({1000 * first / ev.num_images:.1f} ms/image, 2 threads); cached {1000 * again:.0f} ms"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(os.environ.get("SEGVIZ_BENCH_DIR", "/tmp/segviz-bench")))
    p.add_argument("--quick", action="store_true", help="200 VOC-like images only")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-attributes", action="store_true", help="skip the attribute pass (reads every mask)")
    args = p.parse_args()
    print(f"segviz slices benchmark on {os.cpu_count()} cores (numpy {np.__version__})")
    if args.quick:
        run("voc", 200, out=args.out, repeat=args.repeat, attributes=not args.no_attributes)
        return
    run("voc", 2000, out=args.out, repeat=args.repeat, attributes=not args.no_attributes)
    run("ade", 200, out=args.out, repeat=args.repeat, attributes=False)


if __name__ == "__main__":
    main()
