"""Reopening from the results store: this checkout's store against an earlier one, side by side.

The checksummed, range-checked store (issue #11) must not make reopening slower. This script
generates an ADE-like dataset (``benchmarks/datagen.py``, cached under ``--out``), evaluates it once,
writes the same counts with both store implementations, then times, interleaved, ``open_dataset`` +
``evaluate(store=...)`` + ``summary()`` (metrics ready) and ``ResultsStore.load`` alone, and prints the
medians and their ratio. The earlier implementation is ``segviz/store.py`` at ``--before`` (a git
revision; default: the last commit with the unchecked format-1 store), loaded from git into a
module beside this checkout's segviz.

    python benchmarks/bench_store.py [--pairs 2000] [--reps 9] [--before REV] [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the segviz of this checkout, whatever else is installed
sys.path.insert(0, str(REPO / "benchmarks"))

BEFORE = "c703c73"  # main before issue #11: format-1 store, no checksums, no lock


def load_before(rev: str):
    """``segviz/store.py`` at ``rev`` as a module (it imports the rest of this checkout's segviz)."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:segviz/store.py"], capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "store_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("segviz_store_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument(
        "--before", default=BEFORE, help=f"git revision of the earlier store (default {BEFORE})"
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segviz-store-bench")
    args = parser.parse_args()

    import datagen

    from segviz import open_dataset
    from segviz.evaluate import count_pairs, evaluate
    from segviz.store import ResultsStore, pair_key

    before = load_before(args.before)
    root = datagen.ensure_dataset(args.out, "ade", args.pairs, jobs=2)
    ds = open_dataset(root)
    counted, bad = count_pairs(ds.pairs, ds.table, workers=2)
    assert not bad and len(counted) == args.pairs
    keys = {p: pair_key(p) for p in ds.pairs}
    stores = {
        "before": (before.ResultsStore, args.out / "store-before"),
        "now": (ResultsStore, args.out / "store-now"),
    }
    save_s = {}
    for label, (cls, folder) in stores.items():
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        cls(folder).save(ds.pairs, counted, ds.table, keys=keys)
        save_s[label] = time.perf_counter() - t0
    verify_folder = args.out / "store-verify"
    shutil.rmtree(verify_folder, ignore_errors=True)
    evaluate(open_dataset(root), store=ResultsStore(verify_folder, verify=True))  # entries with hashes

    def reopen(cls, folder, **options) -> tuple[float, float, float, float]:
        """(wall, CPU) seconds of open + evaluate + summary, then of ``load`` alone."""
        w0, c0 = time.perf_counter(), time.process_time()
        d = open_dataset(root)
        store = cls(folder, **options)
        ev = evaluate(d, workers=2, store=store)
        ev.summary()
        w1, c1 = time.perf_counter(), time.process_time()
        assert (store.stats.hits, store.stats.misses) == (args.pairs, 0), store.stats
        w2, c2 = time.perf_counter(), time.process_time()
        assert len(store.load(d.pairs, d.table)) == args.pairs
        return w1 - w0, c1 - c0, time.perf_counter() - w2, time.process_time() - c2

    runs: dict[str, list[tuple[float, ...]]] = {"before": [], "now": [], "now --verify": []}
    reference = evaluate(open_dataset(root)).confusion
    for _ in range(args.reps):  # interleaved, so both see the same machine load
        runs["before"].append(reopen(*stores["before"]))
        runs["now"].append(reopen(*stores["now"]))
        runs["now --verify"].append(reopen(ResultsStore, verify_folder, verify=True))
    for label, (cls, folder) in stores.items():
        assert np.array_equal(evaluate(open_dataset(root), store=cls(folder)).confusion, reference), label
    size = {
        label: sum(p.stat().st_size for p in folder.rglob("*.parquet"))
        for label, (_, folder) in stores.items()
    }

    def med(label: str, i: int) -> float:
        return statistics.median(r[i] for r in runs[label])

    def best(label: str, i: int) -> float:
        return min(r[i] for r in runs[label])

    print(f"results store, {args.pairs} ADE-like pairs ({root}), {args.reps} interleaved runs")
    print("(CPU time is the steadier figure on a shared machine)")
    print(f"{'':<40}{'before':>10}{'now':>10}{'ratio':>8}")
    for name, i in (("reopen, metrics ready", 0), ("ResultsStore.load alone", 2)):
        for stat, f, j in (("wall median", med, i), ("wall best", best, i), ("CPU median", med, i + 1)):
            b, n = f("before", j), f("now", j)
            print(f"{name + ', ' + stat:<40}{b * 1e3:>8.1f}ms{n * 1e3:>8.1f}ms{n / b:>7.2f}x")
    print(f"{'write the store once, wall':<40}{save_s['before'] * 1e3:>8.1f}ms{save_s['now'] * 1e3:>8.1f}ms")
    print(f"{'parquet bytes':<40}{size['before']:>10,}{size['now']:>10,}")
    v = med("now --verify", 0)
    print(
        f"reopen with --verify (hashes every mask), wall median: {v * 1e3:.1f} ms = {v / med('now', 0):.2f}x"
    )


if __name__ == "__main__":
    main()
