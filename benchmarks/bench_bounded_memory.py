"""Memory that depends on image size and class count, never on a value (issue #11).

Prints, for ``segviz report`` and ``segviz evaluate`` on synthetic datasets of 500, 1,000 and 5,000
classes, the peak resident memory of the process, the wall time and the HTML size; then the cost of
a prediction holding one pixel of 3e8 / 1e9 (a 928-byte .npy), and of refusing a zip of 1.8 M folder
entries. Each run is a fresh process (``segviz`` through ``python -m``) measured with
``resource.getrusage(RUSAGE_CHILDREN)``; everything is measured side by side in one run.

    python benchmarks/bench_bounded_memory.py                 # 500, 1000, 5000 classes (~1 min)
    python benchmarks/bench_bounded_memory.py --classes 500   # one size
    python benchmarks/bench_bounded_memory.py --zip-entries 0 # skip the 1.8 M-entry zip (writes 170 MB)
    python benchmarks/bench_bounded_memory.py --baseline /work/main   # side by side with another checkout

Every run has an address-space limit (``--limit-gb``, default 4): a baseline that would need 23 GB
fails with a MemoryError instead of taking the machine down; it is shown as "over the limit".

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
limit = int(sys.argv[1])
t = time.perf_counter()
proc = subprocess.run(sys.argv[2:], capture_output=True, text=True,
                      preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
print(json.dumps({"status": proc.returncode, "seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "stderr": proc.stderr[-2000:]}))
"""


LIMIT = 4 * 1024**3


def measure(args: list[str], src: Path = ROOT) -> dict:
    """Run one command in a fresh process importing segviz from ``src``, under :data:`LIMIT`; its
    exit status, wall time and peak RSS (MB)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(  # run from /tmp: `python -c` and `-m` put the working folder first
        [sys.executable, "-c", _MEASURE, str(LIMIT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/tmp",
    )
    result = json.loads(out.stdout)
    result["over"] = "MemoryError" in result["stderr"]
    return result


def cell(r: dict) -> str:
    if r["over"]:
        return f"over the {LIMIT / 1024**3:.0f} GB limit (MemoryError)"
    return f"exit {r['status']}, {r['peak_mb']:.0f} MB, {r['seconds']:.1f} s"


def segviz(*args: str) -> list[str]:
    return [sys.executable, "-m", "segviz", *args, "--no-store"]


def main() -> None:
    global LIMIT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/segviz-bench-memory")
    parser.add_argument("--classes", default="500,1000,5000")
    parser.add_argument("--zip-entries", type=int, default=1_800_000)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--limit-gb", type=float, default=4.0)
    args = parser.parse_args()
    LIMIT = int(args.limit_gb * 1024**3)
    out = Path(args.out).resolve()
    if out.is_relative_to(ROOT):
        parser.error(f"--out {out} is inside the repository")
    out.mkdir(parents=True, exist_ok=True)
    sources = {"this checkout": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})

    print("| case | command | " + " | ".join(sources) + " |")
    print("|---|---|" + "---|" * len(sources))

    def row(case: str, name: str, cmd: list[str], html: Path | None = None) -> None:
        cells = []
        for src in sources.values():
            if html is not None:
                html.unlink(missing_ok=True)
            r = measure(cmd, src)
            size = f", {html.stat().st_size / 1e6:.1f} MB HTML" if html is not None and html.exists() else ""
            cells.append(cell(r) + (size if r["status"] in (0, 1) else ""))
        print(f"| {case} | {name} | " + " | ".join(cells) + " |")

    row("–", "import segviz.report", [sys.executable, "-c", "import segviz.report, segviz.cli"])
    for k in (int(c) for c in args.classes.split(",") if c):
        data = many_classes(out / f"classes-{k}", k)
        row(f"{k:,} classes", "evaluate", segviz("evaluate", str(data), "--quiet"))
        html = out / f"report-{k}.html"
        row(f"{k:,} classes", "report", segviz("report", str(data), "--out", str(html)), html)
    for value in (300_000_000, 1_000_000_000):
        data = value_dataset(out / f"value-{value}", value)
        case = f"one pixel of {value:.0e} (.npy)"
        row(case, "evaluate", segviz("evaluate", str(data), "--quiet"))
        row(case, "report", segviz("report", str(data), "--out", str(out / "value.html")))
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
        row(
            f"zip of {args.zip_entries:,} folder entries ({path.stat().st_size / 1e6:.0f} MB)",
            "refuse it",
            [sys.executable, "-c", code, str(path), str(out / "unzipped")],
        )
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"\n(measured {started}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; peak RSS per process)"
    )


if __name__ == "__main__":
    main()
