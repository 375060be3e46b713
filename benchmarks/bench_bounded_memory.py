"""Memory that depends on image size and class count, never on a value (issue #11).

Prints, for ``segviz report`` and ``segviz evaluate`` on synthetic datasets of 500, 1,000 and 5,000
classes, the peak resident memory of the process, the wall time and the HTML size; then the cost of
a prediction holding one pixel of 3e8 / 1e9 (a 928-byte .npy), and of refusing a zip of 1.8 M folder
entries. Each run is a fresh process (``segviz`` through ``python -m``) measured with
``resource.getrusage(RUSAGE_CHILDREN)``; everything is measured side by side in one run.

    python benchmarks/bench_bounded_memory.py                 # 500, 1000, 5000 classes (~1 min)
    python benchmarks/bench_bounded_memory.py --classes 500   # one size
    python benchmarks/bench_bounded_memory.py --zip-entries 0 # skip the 1.8 M-entry zip (writes 170 MB)

Datasets go to ``--out`` (default /tmp/segviz-bench-memory), never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def many_classes(folder: Path, k: int, *, images: int = 20, size: tuple[int, int] = (160, 120)) -> Path:
    """A dataset of ``k`` classes (ids 0..k-1, 16-bit PNGs): 8x8 tiles of classes, every class in
    the ground truth; the prediction keeps 80 % of the tiles and confuses the others at random, so
    the confusion matrix has about k * 5 non-zero cells. Deterministic."""
    if (folder / "done").exists():
        return folder
    rng = np.random.default_rng(k)
    for sub in ("gt", "pred"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    colours = rng.integers(0, 256, (k, 3))
    rows = [f"{i},c{i},{r},{g},{b},0" for i, (r, g, b) in enumerate(colours.tolist())]
    (folder / "classes.csv").write_text("id,name,r,g,b,ignore\n" + "\n".join(rows) + "\n")
    w, h = size
    tiles = (h // 8) * (w // 8)
    order = rng.permutation(np.resize(np.arange(k), images * tiles))
    for i in range(images):
        gt_tiles = order[i * tiles : (i + 1) * tiles].reshape(h // 8, w // 8)
        wrong = rng.random(gt_tiles.shape) < 0.2
        pred_tiles = np.where(wrong, rng.integers(0, k, gt_tiles.shape), gt_tiles)
        for sub, t in (("gt", gt_tiles), ("pred", pred_tiles)):
            mask = np.kron(t, np.ones((8, 8), dtype=np.int64)).astype(np.uint16)
            Image.fromarray(mask).save(folder / sub / f"im{i:03d}.png")
    (folder / "done").write_text("")
    return folder


def value_dataset(folder: Path, value: int) -> Path:
    """Two tiny .npy pairs; one prediction pixel holds ``value``."""
    for sub in ("gt", "pred"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    gt = np.zeros((8, 8), dtype=np.int64)
    gt[4:] = 1
    pred = gt.copy()
    pred[0, 0] = value
    np.save(folder / "gt" / "a.npy", gt)
    np.save(folder / "pred" / "a.npy", pred)
    np.save(folder / "gt" / "b.npy", gt)
    np.save(folder / "pred" / "b.npy", gt)
    (folder / "classes.csv").write_text("id,name,r,g,b,ignore\n0,a,1,2,3,0\n1,b,4,5,6,0\n")
    return folder


_MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"status": proc.returncode, "seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "stderr": proc.stderr[-2000:]}))
"""


def measure(args: list[str]) -> dict:
    """Run one command in a fresh process; its exit status, wall time and peak RSS (MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def segviz(*args: str) -> list[str]:
    return [sys.executable, "-m", "segviz", *args, "--no-store"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/segviz-bench-memory")
    parser.add_argument("--classes", default="500,1000,5000")
    parser.add_argument("--zip-entries", type=int, default=1_800_000)
    args = parser.parse_args()
    out = Path(args.out).resolve()
    if out.is_relative_to(ROOT):
        parser.error(f"--out {out} is inside the repository")
    out.mkdir(parents=True, exist_ok=True)

    print("| classes | command | exit | peak RSS | time | HTML size |")
    print("|---:|---|---:|---:|---:|---:|")
    baseline = measure([sys.executable, "-c", "import segviz.report, segviz.cli"])
    print(f"| – | import segviz.report | {baseline['status']} | {baseline['peak_mb']:.0f} MB | "
          f"{baseline['seconds']:.1f} s | |")
    for k in (int(c) for c in args.classes.split(",") if c):
        data = many_classes(out / f"classes-{k}", k)
        html = out / f"report-{k}.html"
        for name, cmd in (
            ("evaluate", segviz("evaluate", str(data), "--quiet")),
            ("report", segviz("report", str(data), "--out", str(html))),
        ):
            r = measure(cmd)
            size = f"{html.stat().st_size / 1e6:.1f} MB" if name == "report" and html.exists() else ""
            print(f"| {k:,} | {name} | {r['status']} | {r['peak_mb']:.0f} MB | {r['seconds']:.1f} s | {size} |")
    for value in (300_000_000, 1_000_000_000):
        data = value_dataset(out / f"value-{value}", value)
        for name, cmd in (
            ("evaluate", segviz("evaluate", str(data), "--quiet")),
            ("report", segviz("report", str(data), "--out", str(out / "value.html"))),
        ):
            r = measure(cmd)
            print(f"| 2 (one pixel = {value:.0e}) | {name} | {r['status']} | {r['peak_mb']:.0f} MB | "
                  f"{r['seconds']:.1f} s | |")
    if args.zip_entries:
        sys.path.insert(0, str(ROOT / "tests"))
        from make_bad_corpus import zip_bytes

        path = out / f"folders-{args.zip_entries}.zip"
        if not path.exists():
            path.write_bytes(zip_bytes([f"d/{i:07d}/" for i in range(args.zip_entries)]))
        code = (
            "import sys; from segviz.archive import extract_dataset_zip; from segviz.errors import DatasetError\n"
            "try: extract_dataset_zip(sys.argv[1], sys.argv[2])\n"
            "except DatasetError as e: print(e, file=sys.stderr); sys.exit(2)"
        )
        r = measure([sys.executable, "-c", code, str(path), str(out / "unzipped")])
        print(f"| – | refuse a zip of {args.zip_entries:,} folders ({path.stat().st_size / 1e6:.0f} MB) | "
              f"{r['status']} | {r['peak_mb']:.0f} MB | {r['seconds']:.2f} s | |")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\n(measured {started}, {os.cpu_count()} cores, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
