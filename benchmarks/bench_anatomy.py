"""Error-anatomy speed: segviz against the paper's evaluator, side by side on the same arrays.

    python benchmarks/bench_anatomy.py --reference /tmp/beyond-iou        # the real reference
    python benchmarks/bench_anatomy.py                                     # a stand-in instead

Two image sizes: CamVid (480×360, 11 classes; the real camvid-val frames and the tinyfcn model
from $SEGVIZ_SHARED_DATA) and Cityscapes (2048×1024, 19 classes; synthetic scenes from
``datagen.py``). Masks are decoded once beforehand: the figures time the analysis alone, per frame.

``--reference DIR``: a folder holding the reference's package ``beyond_iou/`` (mxbh/beyond-iou, run
as it is; it has no licence, so it is never copied into this repository) and an environment with
its dependencies (``pip install opencv-python-headless tqdm`` in a throw-away venv). Without it, the
stand-in is the brute-force implementation of the same definitions in ``tests/test_anatomy.py``
(numpy shifts + scipy labelling), timed on fewer frames and labelled as such.

Printed: ms per frame for segviz with 1 thread, frames per second with ``--workers`` threads, the
reference's ms per frame, the ratios, and whether the counts are identical. Also the cost of the
shared pair reader without ``--errors`` (``count_pair`` against reading and counting inline).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from segviz import anatomy  # noqa: E402
from segviz.dataset import open_dataset  # noqa: E402

SHARED = Path(os.environ.get("SEGVIZ_SHARED_DATA", ROOT.parent / "shared" / "data"))
REF_NAMES = ("TP", "FP_boundary", "FP_extent", "FP_segment", "FN_boundary", "FN_extent", "FN_segment")


def camvid_frames(n: int):
    """(gt, pred) class-index arrays (ignore = 11) of the first n camvid-val frames."""
    ds = open_dataset(SHARED / "camvid-val", model="tinyfcn")
    return [anatomy.read_indices(p, ds.table) for p in ds.pairs[:n]], 11


def cityscapes_frames(n: int):
    from datagen import make_pair

    out = []
    for i in range(n):
        gt, pred, _, _ = make_pair("cityscapes", i)
        g = np.asarray(gt).astype(np.int64)
        p = np.asarray(pred).astype(np.int64)
        out.append((np.where(g == 255, 19, g), np.where(p == 255, 19, p)))
    return out, 19


def segviz_counts(frames, k):
    return [anatomy.analyse_indices(g, p, k).counts[:, :11] for g, p in frames]


def time_segviz(frames, k, workers):
    segviz_counts(frames[:1], k)  # compile / load the kernel
    per = []
    for g, p in frames:
        t = time.perf_counter()
        anatomy.analyse_indices(g, p, k)
        per.append(time.perf_counter() - t)
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda f: anatomy.analyse_indices(f[0], f[1], k), frames))
    wall = time.perf_counter() - t
    return statistics.median(per), len(frames) / wall


def reference_runner(path: str | None, k):
    if path:
        sys.path.insert(0, path)
        from beyond_iou.evaluator import Evaluator

        ev = Evaluator([str(i) for i in range(k)], ignore_index=k)

        def run(g, p):
            r = ev.evaluate_sample(p, g)
            main = r["main_results"]
            codes = [np.count_nonzero(main == code, axis=(1, 2)) for code in (1, 3, 5, 7, 4, 6, 8)]
            return np.stack([*codes, *r["boundary_iou_results"], *r["trimap_iou_results"]], 1)

        return run, "mxbh/beyond-iou (the reference, run as it is)"
    sys.path.insert(0, str(ROOT / "tests"))
    from test_anatomy import brute_force

    def run(g, p):
        shape = g.shape
        return brute_force(
            g, p, k, anatomy.width_pixels(0.01, shape), anatomy.iou_d_pixels(0.02, shape), np.zeros(k, bool)
        )

    return run, "stand-in: brute-force numpy implementation of the same definitions (tests/test_anatomy.py)"


def time_reference(run, frames):
    per, counts = [], []
    for g, p in frames:
        t = time.perf_counter()
        counts.append(run(g, p))
        per.append(time.perf_counter() - t)
    return statistics.median(per), counts


def reader_overhead(n: int) -> tuple[float, float]:
    """count_pair (through the shared read_pair) against the same reading and counting inline."""
    from segviz.evaluate import count_pair
    from segviz.masks import image_size, joint_counts, read_mask

    ds = open_dataset(SHARED / "camvid-val", model="tinyfcn")
    pairs = ds.pairs[:n]

    def inline(pair):  # count_pair's body before read_pair existed (main at c703c73)
        g, p = read_mask(pair.gt_path, ds.table), read_mask(pair.pred_path, ds.table)
        if g.values.shape != p.values.shape:
            raise ValueError(pair.name)
        if pair.image_path is not None:
            image_size(pair.image_path)
        return joint_counts(g.values, p.values)

    best = {"count_pair": 1e9, "inline": 1e9}
    for _ in range(21):  # interleaved rounds, best of each: the machine is shared and noisy
        for name, f in (("count_pair", lambda q: count_pair(q, ds.table)), ("inline", inline)):
            t = time.perf_counter()
            for q in pairs:
                f(q)
            best[name] = min(best[name], (time.perf_counter() - t) / len(pairs))
    return best["count_pair"], best["inline"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", help="folder holding the reference's beyond_iou/ package")
    ap.add_argument("--camvid", type=int, default=101, help="CamVid frames for segviz (default 101)")
    ap.add_argument("--camvid-ref", type=int, default=20, help="CamVid frames for the reference (default 20)")
    ap.add_argument("--cityscapes", type=int, default=6, help="Cityscapes-size frames for segviz (default 6)")
    ap.add_argument("--cityscapes-ref", type=int, default=2, help="... for the reference (default 2)")
    ap.add_argument("--workers", type=int, default=2, help="threads for the throughput figure (default 2)")
    args = ap.parse_args()
    print(f"anatomy kernel: {'numba' if anatomy._k.compiled() else 'plain Python'}; {os.cpu_count()} cores")
    rows = []
    for name, (frames, k), n_ref in (
        ("CamVid 480×360, 11 classes (camvid-val / tinyfcn)", camvid_frames(args.camvid), args.camvid_ref),
        (
            "Cityscapes 2048×1024, 19 classes (synthetic)",
            cityscapes_frames(args.cityscapes),
            args.cityscapes_ref,
        ),
    ):
        run, label = reference_runner(args.reference, k)
        ms1, fps = time_segviz(frames, k, args.workers)
        ref_s, ref_counts = time_reference(run, frames[:n_ref])
        same = all(
            np.array_equal(a, b) for a, b in zip(segviz_counts(frames[:n_ref], k), ref_counts, strict=True)
        )
        rows.append((name, ms1, fps, ref_s, same, label))
    print()
    print(
        f"| images | segviz, 1 thread | segviz, {args.workers} threads | reference | speed-up (1 thread) "
        "| speed-up (throughput) | identical counts |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, ms1, fps, ref_s, same, _ in rows:
        print(
            f"| {name} | {ms1 * 1e3:.1f} ms/frame | {fps:.1f} frames/s | {ref_s * 1e3:.0f} ms/frame | "
            f"{ref_s / ms1:.0f}× | {ref_s * fps:.0f}× | {'yes' if same else 'NO'} |"
        )
    print(f"\nreference: {rows[0][5]}")
    cp, inline = reader_overhead(30)
    print(
        f"\nwithout --errors: count_pair {cp * 1e3:.2f} ms/pair vs the same reading inline {inline * 1e3:.2f} ms/pair "
        f"({(cp / inline - 1) * 100:+.1f} %)"
    )


if __name__ == "__main__":
    main()
