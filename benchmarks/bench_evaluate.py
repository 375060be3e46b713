#!/usr/bin/env python3
"""Throughput benchmark of segviz's evaluation pipeline against the decode-only limit.

    python benchmarks/bench_evaluate.py --quick          # smoke run, ~40 pairs per kind
    python benchmarks/bench_evaluate.py                  # full run (see benchmarks/README.md)

Synthetic datasets (see ``benchmarks/datagen.py``) are generated once into ``--out`` (default
/tmp/segviz-bench, never inside the repository) and reused. Everything else is measured in this
run, side by side, repeated and interleaved (the order rotates each round); figures are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SRC = REPO  # where segviz is imported from (--src: a patched copy, for A/B runs)
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))  # the segviz of this checkout, whatever else is installed

import datagen  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

KINDS = ("cityscapes", "voc", "ade")
LABEL = {"cityscapes": "Cityscapes-like (L, 2048x1024, K=19)", "voc": "VOC-like (P, ~500x375, K=21)",
         "ade": "ADE-like (L, ~512x512, K=150)"}  # fmt: skip
SHORT = {"cityscapes": "Cityscapes-like", "voc": "VOC-like", "ade": "ADE-like"}
FULL_PAIRS = {"cityscapes": 500, "voc": 1000, "ade": 2000}
QUICK_PAIRS = 40
TARGET_PCT = {"cityscapes": 90.0, "voc": 85.0, "ade": 90.0}
TARGET_NAIVE = {"cityscapes": 4.0, "voc": 3.0, "ade": 4.0}
# how the naive loop counts: (K for the bincount over raw ids, ignored raw id)
NAIVE = {"cityscapes": (19, 255), "voc": (21, 255), "ade": (151, 0)}


def log(*a) -> None:
    print(*a, flush=True)


# ----------------------------------------------------------------------------- decoders
def pil_decode(path: str) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im)


def palette_as_grey(data: bytes) -> bytes:
    """An 8-bit palette PNG relabelled as greyscale (IHDR colour type 3 -> 0, CRC recomputed,
    PLTE/tRNS dropped): any greyscale decoder then returns the stored palette indices."""
    import struct
    import zlib

    assert data[24] == 8 and data[25] == 3, "not an 8-bit palette PNG"
    ihdr = bytearray(data[16:29])
    ihdr[9] = 0
    out = [data[:16], bytes(ihdr), struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))]
    pos = 33
    while pos + 12 <= len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] not in (b"PLTE", b"tRNS"):
            out.append(data[pos : pos + 12 + n])
        pos += 12 + n
    return b"".join(out)


def context_decoders(kind: str) -> dict:
    """Decoders measured for information only, never the limit: for P, imagecodecs on the bytes
    relabelled as greyscale (returns the indices, but is not an off-the-shelf decoder call)."""
    if kind != "voc":
        return {}
    try:
        import imagecodecs
    except ImportError:
        return {}
    return {
        "imagecodecs on P relabelled grey": lambda p: imagecodecs.png_decode(
            palette_as_grey(Path(p).read_bytes())
        )
    }


def decoders(kind: str) -> dict:
    """Decoders that return class indices for this kind (P: only Pillow)."""
    out = {"Pillow": pil_decode}
    if kind == "voc":
        return out
    try:
        import imagecodecs

        out["imagecodecs"] = lambda p: imagecodecs.png_decode(Path(p).read_bytes())
    except ImportError:
        pass
    try:
        import cv2

        out["OpenCV"] = lambda p: cv2.imread(p, cv2.IMREAD_UNCHANGED)
    except ImportError:
        pass
    return out


def decode_only(paths: list[tuple[str, str]], fn, threads: int = 2) -> float:
    """Seconds to decode both masks of every pair in ``threads`` threads, doing nothing else."""
    c0, t0 = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda gp: (fn(gp[0]), fn(gp[1])), paths):
            pass
    return time.perf_counter() - t0, time.process_time() - c0


# ----------------------------------------------------------------------------- baselines
def naive_loop(paths, k: int, ignore: int) -> tuple[float, np.ndarray]:
    """The textbook serial loop: Pillow + np.bincount(K*gt[valid] + pred[valid])."""
    t0 = time.perf_counter()
    cm = np.zeros(k * k, dtype=np.int64)
    for g, p in paths:
        gt, pred = pil_decode(g), pil_decode(p)
        valid = gt != ignore
        cm += np.bincount(k * gt[valid].astype(np.intp) + pred[valid], minlength=k * k)
    return time.perf_counter() - t0, cm.reshape(k, k)


def naive_kernel(gt, pred, k, ignore):
    valid = gt != ignore
    return np.bincount(k * gt[valid].astype(np.intp) + pred[valid], minlength=k * k).reshape(k, k)


def sklearn_kernel(gt, pred, k, ignore):
    from sklearn.metrics import confusion_matrix

    valid = gt != ignore
    return confusion_matrix(gt[valid], pred[valid], labels=np.arange(k))


def tm_style_kernel(gt, pred, k, ignore):
    """mmsegmentation's intersect_and_union / torchmetrics-style: mask, then three histograms
    (torch.histc(x.float(), bins=K, min=0, max=K-1) mimicked with np.histogram on floats)."""
    mask = gt != ignore
    label = gt[mask].astype(np.float32)
    p = pred[mask].astype(np.float32)
    inter = p[p == label]
    rng = (0, k - 1)
    area_i = np.histogram(inter, bins=k, range=rng)[0]
    area_p = np.histogram(p, bins=k, range=rng)[0]
    area_l = np.histogram(label, bins=k, range=rng)[0]
    return area_i, area_p, area_l


def segviz_kernel(gt, pred, k, ignore):
    from segviz.masks import joint_counts

    return joint_counts(gt, pred)


# ----------------------------------------------------------------------------- helpers
def med(xs) -> float:
    return float(statistics.median(xs))


def subprocess_env(numba_cache: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NUMBA_CACHE_DIR"] = str(numba_cache)
    return env


def run_child(code: str, env: dict, timeout: float = 600) -> dict:
    """Run a Python snippet in a fresh interpreter; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tempfile.gettempdir(),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


COLD_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from segviz import kernels
from segviz.dataset import open_dataset
from segviz.evaluate import evaluate
t1 = time.perf_counter()
ds = open_dataset(sys.argv[1] if len(sys.argv) > 1 else {root!r})
t2 = time.perf_counter()
ev = evaluate(ds, workers=2)
ev.summary()
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "open_s": t2 - t1, "evaluate_s": t3 - t2, "n": ev.num_images,
                  "accelerators": kernels.accelerators()}}))
"""

RSS_CHILD = """
import json, time
from pathlib import Path

def hwm_kb():  # peak RSS of this process image (VmHWM; unlike ru_maxrss it does not carry the
    # parent's size across fork/exec)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

from segviz import kernels
from segviz.dataset import open_dataset
from segviz.evaluate import evaluate
ds = open_dataset({root!r})
kernels.warm_up(wait=True)
base = hwm_kb()
t0 = time.perf_counter()
ev = evaluate(ds, workers=2)
ev.summary(); ev.class_frame(); ev.image_frame()
t1 = time.perf_counter()
peak = hwm_kb()
print(json.dumps({{"base_kb": base, "peak_kb": peak, "rows_nbytes": int(ev.image_rows.nbytes),
                  "rows": int(len(ev.image_rows)), "n": ev.num_images, "k": ev.table.num_classes,
                  "seconds": t1 - t0}}))
"""


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod, attr in (("PIL", "__version__"), ("imagecodecs", "__version__"), ("numba", "__version__"),
                      ("cv2", "__version__"), ("sklearn", "__version__")):  # fmt: skip
        try:
            versions[mod] = getattr(__import__(mod), attr)
        except ImportError:
            versions[mod] = "absent"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "versions": versions,
        "loadavg_start": os.getloadavg(),
    }


def source_fingerprint(src: Path) -> str:
    """git HEAD (if src is this repository) and a hash of segviz/*.py as they are on disk: other
    people edit the code while benchmarks run, so every result names the exact code it measured."""
    import hashlib

    h = hashlib.sha1()
    for f in sorted((src / "segviz").glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    head = ""
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "segviz"],
                               capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
        if head and dirty:
            head += f" + uncommitted changes in {len(dirty.splitlines())} segviz file(s)"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"{head or 'not a git checkout'}; segviz/*.py sha1 {h.hexdigest()[:12]}"


def machine_line(m: dict) -> str:
    v = m["versions"]
    return (
        f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), Python {v['python']}, numpy {v['numpy']}, "
        f"Pillow {v['PIL']}, imagecodecs {v['imagecodecs']}, numba {v['numba']}, OpenCV {v['cv2']}, "
        f"scikit-learn {v['sklearn']}; load average at start {m['loadavg_start'][0]:.2f}, "
        f"at end {m.get('loadavg_end', (float('nan'),))[0]:.2f}"
    )


# ----------------------------------------------------------------------------- measurements
def bench_throughput(kind: str, root: Path, reps: int, naive_n: int, ctx_n: int, cold_env: dict) -> dict:
    from segviz import kernels
    from segviz.dataset import open_dataset
    from segviz.evaluate import count_pairs, evaluate

    ds = open_dataset(root)
    assert not ds.skipped, ds.skipped[:3]
    n = len(ds.pairs)
    paths = [(str(p.gt_path), str(p.pred_path)) for p in ds.pairs]
    for g, p in paths:  # page cache warm for every contender
        Path(g).read_bytes(), Path(p).read_bytes()
    decs = decoders(kind)
    extra = context_decoders(kind)
    ref = pil_decode(paths[0][0])
    for name, fn in (decs | extra).items():  # every decoder must return the same class indices
        assert np.array_equal(fn(paths[0][0]), ref), f"{name} does not return class indices"
    kernels.warm_up(wait=True)
    ev = evaluate(ds, workers=2)  # warm-up round (also the reference result)
    k, ignore = NAIVE[kind]
    sub = paths[:naive_n]

    runs: dict[str, list[float]] = {f"decode:{d}": [] for d in decs} | {f"context:{d}": [] for d in extra}
    runs |= {"segviz:evaluate": [], "segviz:count_pairs": [], "naive": []}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    jobs = {f"decode:{d}": (lambda fn=fn: decode_only(paths, fn)) for d, fn in decs.items()}
    jobs |= {f"context:{d}": (lambda fn=fn: decode_only(paths, fn)) for d, fn in extra.items()}

    def timed(f):
        c0, t0 = time.process_time(), time.perf_counter()
        f()
        return time.perf_counter() - t0, time.process_time() - c0

    jobs["segviz:evaluate"] = lambda: timed(lambda: evaluate(ds, workers=2))
    jobs["segviz:count_pairs"] = lambda: timed(lambda: count_pairs(ds.pairs, ds.table, workers=2))
    naive_cm = None

    def naive_job():
        nonlocal naive_cm
        c0 = time.process_time()
        s, naive_cm = naive_loop(sub, k, ignore)
        return s, time.process_time() - c0

    jobs["naive"] = naive_job
    names = list(jobs)
    for r in range(reps):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            wall, used = jobs[name]()
            runs[name].append(wall)
            cpu[name].append(used)
        log(f"  {kind} round {r + 1}/{reps}: " + ", ".join(f"{nm} {runs[nm][-1]:.2f}s" for nm in names))

    # the naive loop and segviz must agree
    seg = ev.subset(range(len(sub))).confusion
    if kind == "ade":
        agree = np.array_equal(seg[:, :150], naive_cm[1:, 1:]) and not naive_cm[1:, 0].any()
    else:
        agree = np.array_equal(seg[:, :k], naive_cm) and not seg[:, k].any()

    rate = {nm: (len(sub) if nm == "naive" else n) / med(v) for nm, v in runs.items()}
    best = max(decs, key=lambda d: rate[f"decode:{d}"])
    limit = rate[f"decode:{best}"]
    # cross-checks that are less sensitive to other load on the machine: the per-round ratio
    # (decode-only pass and segviz pass of the same round) and CPU time per pair
    paired = med([d / s for d, s in zip(runs[f"decode:{best}"], runs["segviz:evaluate"], strict=True)])
    cpu_ms = {nm: 1e3 * med(v) / (len(sub) if nm == "naive" else n) for nm, v in cpu.items()}

    # context: kernels alone and the other libraries' paths, serially, on a few pre-decoded pairs
    ctx_paths = paths[:ctx_n]
    t0 = time.perf_counter()
    arrays = [(pil_decode(g), pil_decode(p)) for g, p in ctx_paths]
    pil_pair_s = (time.perf_counter() - t0) / len(ctx_paths)
    kern = {}
    for name, fn in (("naive bincount", naive_kernel), ("segviz joint_counts", segviz_kernel),
                     ("scikit-learn confusion_matrix", sklearn_kernel),
                     ("torchmetrics-style 3 histograms", tm_style_kernel)):  # fmt: skip
        times = []
        for gt, pred in arrays:
            t0 = time.perf_counter()
            out = fn(gt, pred, k, ignore)
            times.append(time.perf_counter() - t0)
            if name.startswith("scikit"):
                assert np.array_equal(out, naive_kernel(gt, pred, k, ignore))
            if name.startswith("torch"):
                cm = naive_kernel(gt, pred, k, ignore)
                assert np.array_equal(out[0], np.diag(cm)) and np.array_equal(out[2], cm.sum(1))
        kern[name] = med(times)
    ctx = {name: {"kernel_ms": s * 1e3, "serial_pairs_s": 1.0 / (pil_pair_s + s)} for name, s in kern.items()}

    # cold: a fresh process, empty numba cache (the kernel compiles in the background while reading)
    cold_cache = Path(tempfile.mkdtemp(prefix="numba-cold-", dir=cold_env["_OUT"]))
    env = dict(cold_env, NUMBA_CACHE_DIR=str(cold_cache))
    env.pop("_OUT")
    cold = run_child(COLD_CHILD.format(root=str(root)), env)
    shutil.rmtree(cold_cache, ignore_errors=True)
    cold["pairs_s"] = cold["n"] / cold["evaluate_s"]

    return {
        "kind": kind,
        "pairs": n,
        "naive_pairs": len(sub),
        "runs": runs,
        "rates": rate,
        "best_decoder": best,
        "limit": limit,
        "paired_pct": 100 * paired,
        "cpu": cpu,
        "cpu_ms_per_pair": cpu_ms,
        "agree": bool(agree),
        "context": ctx,
        "context_pairs": len(ctx_paths),
        "pillow_serial_pair_ms": pil_pair_s * 1e3,
        "cold": cold,
        "accelerators": kernels.accelerators(),
    }


def bench_cli(root: Path, reps: int, env: dict, decode_fn, out: Path) -> dict:
    """`python -m segviz evaluate ROOT --quiet --no-store`, process start included, interleaved with
    decode-only passes of the same pairs."""
    from segviz.dataset import open_dataset

    paths = [(str(p.gt_path), str(p.pred_path)) for p in open_dataset(root).pairs]
    cmd = [sys.executable, "-m", "segviz", "evaluate", str(root), "--quiet", "--no-store"]

    def cli(e):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=e, cwd=tempfile.gettempdir(), capture_output=True, text=True)
        s = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"segviz evaluate exited {proc.returncode}: {proc.stderr[-2000:]}")
        return s

    cli(env)  # numba cache filled, page cache warm
    cli_s, dec_s, start_s = [], [], []
    for _ in range(reps):
        cli_s.append(cli(env))
        dec_s.append(decode_only(paths, decode_fn)[0])
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "segviz", "--version"], env=env, capture_output=True, check=True
        )
        start_s.append(time.perf_counter() - t0)
    cold_cache = Path(tempfile.mkdtemp(prefix="numba-cold-", dir=out))
    cold_s = cli(dict(env, NUMBA_CACHE_DIR=str(cold_cache)))
    shutil.rmtree(cold_cache, ignore_errors=True)
    return {
        "pairs": len(paths),
        "cli_s": med(cli_s),
        "decode_s": med(dec_s),
        "ratio": med(cli_s) / med(dec_s),
        "start_s": med(start_s),
        "cold_cache_cli_s": cold_s,
        "runs": {"cli": cli_s, "decode": dec_s, "start": start_s},
    }


def bench_store(root: Path, out: Path, reps: int, subset_n: int, env: dict) -> dict:
    from segviz.dataset import open_dataset
    from segviz.evaluate import evaluate
    from segviz.store import ResultsStore

    store_dir = out / f"store-{root.name}"
    shutil.rmtree(store_dir, ignore_errors=True)
    t0 = time.perf_counter()
    store = ResultsStore(store_dir)
    first = evaluate(open_dataset(root), workers=2, store=store)
    fill_s = time.perf_counter() - t0
    assert store.stats.misses == first.num_images
    reopen = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ds = open_dataset(root)
        store = ResultsStore(store_dir)
        ev = evaluate(ds, workers=2, store=store)
        ev.summary()
        reopen.append(time.perf_counter() - t0)
        assert (store.stats.hits, store.stats.misses) == (ev.num_images, 0), store.stats
    assert np.array_equal(ev.confusion, first.confusion)
    # where the reopen time goes (one more, split into steps)
    t0 = time.perf_counter()
    ds = open_dataset(root)
    t1 = time.perf_counter()
    store = ResultsStore(store_dir)
    stored = store.load(ds.pairs, ds.table)
    t2 = time.perf_counter()
    ev = evaluate(ds, workers=2, store=store)
    t3 = time.perf_counter()
    split = {"open_dataset_s": t1 - t0, "store_load_s": t2 - t1, "evaluate_with_store_s": t3 - t2}
    assert len(stored) == ev.num_images

    rng = np.random.default_rng(0)
    n = ev.num_images
    sub_ms, sub_img_ms = [], []
    for _ in range(max(30, reps * 6)):
        idx = rng.choice(n, size=subset_n, replace=False)
        t0 = time.perf_counter()
        s = ev.subset(idx)
        s.summary()
        s.class_frame()
        t1 = time.perf_counter()
        s.image_frame()
        t2 = time.perf_counter()
        sub_ms.append((t1 - t0) * 1e3)
        sub_img_ms.append((t2 - t0) * 1e3)
    # the command line reading the same store in a fresh process (context)
    cmd = [sys.executable, "-m", "segviz", "evaluate", str(root), "--quiet", "--store", str(store_dir)]
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=tempfile.gettempdir(), capture_output=True, check=True)
        cli.append(time.perf_counter() - t0)
    size = sum(f.stat().st_size for f in store_dir.rglob("*") if f.is_file())
    return {
        "pairs": n,
        "fill_s": fill_s,
        "reopen_s": med(reopen),
        "reopen_runs": reopen,
        "split": split,
        "subset_n": subset_n,
        "subset_ms": med(sub_ms),
        "subset_with_images_ms": med(sub_img_ms),
        "cli_from_store_s": med(cli),
        "store_bytes": size,
    }


def bench_rss(root: Path, env: dict) -> dict:
    r = run_child(RSS_CHILD.format(root=str(root)), env)
    dense = r["n"] * r["k"] * (r["k"] + 1) * 8
    r |= {"dense_nbytes": dense, "peak_mb": r["peak_kb"] / 1024, "base_mb": r["base_kb"] / 1024}
    return r


# ----------------------------------------------------------------------------- report
def fmt_rate(x: float) -> str:
    return f"{x:,.0f} pairs/s" if x >= 100 else f"{x:,.1f} pairs/s"


def build_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(measurement, value, target, result) rows of the summary table."""
    rows = []

    def verdict(ok):
        return "—" if ok is None else ("**pass**" if ok else "**FAIL**")

    for kind in KINDS:
        t = res["throughput"].get(kind)
        if t is None:
            continue
        s, n = SHORT[kind], t["pairs"]
        lim = t["limit"]
        seg = t["rates"]["segviz:evaluate"]
        cp = t["rates"]["segviz:count_pairs"]
        pct = 100 * seg / lim
        rows.append((f"{s} ({n} pairs): decode-only limit, 2 threads, best of "
                     f"{'/'.join(d.split(':')[1] for d in t['rates'] if d.startswith('decode:'))}",
                     f"{fmt_rate(lim)} ({t['best_decoder']})", "—", verdict(None)))  # fmt: skip
        cm = t["cpu_ms_per_pair"]
        rows.append((f"{s}: segviz `evaluate`, 2 workers, no store, warm",
                     f"{fmt_rate(seg)} = {pct:.1f} % of limit (per-round ratio {t['paired_pct']:.1f} %; CPU "
                     f"{cm['segviz:evaluate']:.2f} vs {cm['decode:' + t['best_decoder']]:.2f} ms/pair decode-only)",
                     f"≥ {TARGET_PCT[kind]:.0f} %", verdict(pct >= TARGET_PCT[kind])))  # fmt: skip
        rows.append((f"{s}: segviz `count_pairs`, 2 workers, warm", f"{fmt_rate(cp)} = {100 * cp / lim:.1f} % of limit",
                     f"(≥ {TARGET_PCT[kind]:.0f} %)", verdict(None)))  # fmt: skip
        c = t["cold"]
        rows.append((f"{s}: segviz `evaluate`, cold (fresh process, empty numba cache)",
                     f"{fmt_rate(c['pairs_s'])} = {100 * c['pairs_s'] / lim:.1f} % of limit", "—", verdict(None)))  # fmt: skip
        naive = t["rates"]["naive"]
        target = TARGET_NAIVE[kind]
        rows.append((f"{s}: naive serial loop (Pillow + bincount; {t['naive_pairs']} pairs)",
                     f"{fmt_rate(naive)}; segviz = {seg / naive:.2f}×" + ("" if t["agree"] else " (MISMATCH!)"),
                     f"≥ {target:.0f}×", verdict(seg / naive >= target and t["agree"])))  # fmt: skip
        ctx = t["context"]
        rows.append((f"{s}: context, serial Pillow + kernel ({t['context_pairs']} pairs)",
                     "; ".join(f"{nm.split(' ')[0]} {v['kernel_ms']:.1f} ms/pair → {fmt_rate(v['serial_pairs_s'])}"
                               for nm, v in ctx.items()), "—", verdict(None)))  # fmt: skip
    c = res.get("cli")
    if c:
        rows.append((f"`python -m segviz evaluate --quiet --no-store`, {c['pairs']} Cityscapes-like pairs "
                     "(process start included)", f"{c['cli_s']:.2f} s = {c['ratio']:.2f}× decode-only "
                     f"({c['decode_s']:.2f} s)", "≤ 1.3×", verdict(c["ratio"] <= 1.3)))  # fmt: skip
        rows.append(("  context: interpreter + `segviz --version`; same CLI with an empty numba cache",
                     f"{c['start_s']:.2f} s; {c['cold_cache_cli_s']:.2f} s", "—", verdict(None)))  # fmt: skip
    st = res.get("store")
    if st:
        rows.append((f"Reopen {st['pairs']} evaluated ADE-like pairs from the results store "
                     "(`open_dataset` + `evaluate(store=)` + `summary()`)", f"{st['reopen_s']:.3f} s",
                     "≤ 0.5 s", verdict(st["reopen_s"] <= 0.5)))  # fmt: skip
        rows.append((f"`Evaluation.subset` of {st['subset_n']} random images + `summary()` + `class_frame()`",
                     f"{st['subset_ms']:.2f} ms", "≤ 10 ms", verdict(st["subset_ms"] <= 10)))  # fmt: skip
        rows.append(("  context: subset incl. `image_frame()`; first evaluation writing the store; "
                     "CLI re-run from the store (fresh process)",
                     f"{st['subset_with_images_ms']:.2f} ms; {st['fill_s']:.2f} s; {st['cli_from_store_s']:.2f} s",
                     "—", verdict(None)))  # fmt: skip
    m = res.get("rss")
    if m:
        rows.append((f"Peak RSS (VmHWM) evaluating {m['n']} ADE-like pairs, fresh process (before evaluating: imports + numba)",
                     f"{m['peak_mb']:.0f} MB ({m['base_mb']:.0f} MB)", "—", verdict(None)))  # fmt: skip
        rows.append(("Per-image matrices: sparse `image_rows.nbytes` vs dense N×150×151 int64",
                     f"{m['rows_nbytes'] / 1e6:.2f} MB ({m['rows']:,} rows) vs {m['dense_nbytes'] / 1e6:.0f} MB",
                     "—", verdict(None)))  # fmt: skip
    return rows


def markdown(res: dict) -> str:
    rows = build_rows(res)
    lines = [
        f"# segviz evaluation benchmark ({'quick' if res['quick'] else 'full'} run, {res['date']})",
        "",
        f"Machine: {machine_line(res['machine'])}.",
        "",
        f"Accelerators active (segviz.kernels.accelerators()): {res['accelerators']}. "
        f"segviz imported from `{res['segviz_file']}` ({res['source_start']}).",
        "",
        f"Medians of {res['reps']} interleaved rounds; pairs/s counts a ground-truth + prediction pair. "
        "Generated by `python benchmarks/bench_evaluate.py" + (" --quick" if res["quick"] else "") + "`; "
        "what each figure means: benchmarks/README.md.",
        "",
        "| measurement | value | target | result |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["", "## Decoders, 2 threads, decode only (pairs/s)", "",
              "| dataset | " + " | ".join(["Pillow", "imagecodecs", "OpenCV"]) + " | segviz evaluate |",
              "|---|---|---|---|---|"]  # fmt: skip
    extra_lines: list[str] = []
    for kind in KINDS:
        t = res["throughput"].get(kind)
        if t is None:
            continue
        cells = [fmt_rate(t["rates"][f"decode:{d}"]) if f"decode:{d}" in t["rates"] else "n/a (returns colours)"
                 for d in ("Pillow", "imagecodecs", "OpenCV")]  # fmt: skip
        lines.append(
            f"| {LABEL[kind]} | " + " | ".join(cells) + f" | {fmt_rate(t['rates']['segviz:evaluate'])} |"
        )
        for name, rate in t["rates"].items():
            if name.startswith("context:"):
                extra_lines.append(f"{LABEL[kind]}: {name.split(':', 1)[1]} (not counted in the limit): "
                                   f"{fmt_rate(rate)}.")  # fmt: skip
    lines += ["", *extra_lines] if extra_lines else []
    lines += ["", "Raw timings (seconds per round) are in the JSON file next to the generated data "
              f"(`{res['json_path']}`)."]  # fmt: skip
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_PAIRS} pairs per kind, 2 rounds")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "segviz-bench"),
                    help="folder for the generated datasets, stores and raw JSON (default %(default)s)")  # fmt: skip
    ap.add_argument("--pairs", type=int, help="pairs per kind (default: 500 Cityscapes-like, 1000 VOC-like, "
                    "2000 ADE-like; --quick: 40)")  # fmt: skip
    ap.add_argument("--reps", type=int, help="interleaved rounds per measurement (default 5; --quick 2)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="subset of cityscapes,voc,ade")
    ap.add_argument("--src", help="import segviz from this folder (holding segviz/) instead of the "
                    "repository: A/B runs of a patched copy")  # fmt: skip
    ap.add_argument("--results", help="markdown output (default benchmarks/results.md for a full run, "
                    "OUT/results-quick.md for --quick)")  # fmt: skip
    args = ap.parse_args(argv)

    out = Path(args.out).absolute()
    if out.is_relative_to(REPO):
        ap.error(f"--out {out} is inside the repository; pick a folder outside it")
    out.mkdir(parents=True, exist_ok=True)
    numba_cache = out / "numba-cache"  # never the repository's __pycache__
    os.environ["NUMBA_CACHE_DIR"] = str(numba_cache)
    env = subprocess_env(numba_cache)
    kinds = [k for k in args.kinds.split(",") if k]
    reps = args.reps or (2 if args.quick else 5)
    sizes = {k: args.pairs or (QUICK_PAIRS if args.quick else FULL_PAIRS[k]) for k in KINDS}
    tag = ("quick" if args.quick else "full") + ("-src" if args.src else "")
    results_md = Path(args.results) if args.results else (
        HERE / "results.md" if tag == "full" else out / f"results-{tag}.md")  # fmt: skip

    global SRC
    if args.src:
        SRC = Path(args.src).absolute()
        sys.path.insert(0, str(SRC))
        env = subprocess_env(numba_cache)
    import segviz
    from segviz import kernels

    t_start = time.perf_counter()
    res = {"quick": args.quick, "reps": reps, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
           "segviz_file": segviz.__file__, "throughput": {}, "notes": []}  # fmt: skip
    res["source_start"] = source_fingerprint(SRC)
    log(f"segviz from {segviz.__file__} ({res['source_start']})")
    log("machine:", machine_line(res["machine"]))
    roots = {k: datagen.ensure_dataset(out, k, sizes[k], jobs=os.cpu_count() or 2, log=log) for k in kinds}
    for k in kinds:
        acc = datagen.pixel_accuracy(roots[k], k, limit=100)
        res["notes"].append(f"{LABEL[k]}: {sizes[k]} pairs in `{roots[k]}`; prediction pixel accuracy "
                            f"{100 * acc:.1f} % on the first 100 pairs.")  # fmt: skip
    kernels.warm_up(wait=True)
    res["accelerators"] = kernels.accelerators()
    log("accelerators:", res["accelerators"])

    cold_env = dict(env, _OUT=str(out))
    naive_n = {"cityscapes": 100, "voc": 250, "ade": 400}
    ctx_n = {"cityscapes": 8, "voc": 40, "ade": 40}
    for k in kinds:
        log(f"throughput: {LABEL[k]}")
        t = bench_throughput(k, roots[k], reps, min(sizes[k], naive_n[k]), min(sizes[k], ctx_n[k]), cold_env)
        res["throughput"][k] = t
        log(f"  limit {t['limit']:.1f} pairs/s ({t['best_decoder']}); segviz {t['rates']['segviz:evaluate']:.1f} "
            f"({100 * t['rates']['segviz:evaluate'] / t['limit']:.1f} %); naive {t['rates']['naive']:.1f}; "
            f"cold {t['cold']['pairs_s']:.1f}")  # fmt: skip
    if "cityscapes" in kinds:
        log("command line end to end ...")
        best = res["throughput"]["cityscapes"]["best_decoder"]
        res["cli"] = bench_cli(roots["cityscapes"], max(3, reps - 2), env, decoders("cityscapes")[best], out)
        log(f"  {res['cli']}")
    if "ade" in kinds:
        log("results store ...")
        res["store"] = bench_store(roots["ade"], out, reps, min(500, max(1, sizes["ade"] // 4)), env)
        log(f"  {res['store']}")
        log("peak RSS ...")
        res["rss"] = bench_rss(roots["ade"], env)
        log(f"  {res['rss']}")
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["source_end"] = source_fingerprint(SRC)
    if res["source_end"] != res["source_start"]:
        res["notes"].append(f"segviz's code changed on disk during the run ({res['source_start']} → "
                            f"{res['source_end']}): in-process figures measured the first, later "
                            "subprocesses may have run the second.")  # fmt: skip
    res["total_s"] = time.perf_counter() - t_start
    res["notes"].append(f"Benchmark wall time {res['total_s']:.0f} s (dataset generation, if any, included).")
    res["json_path"] = str(out / f"results-{tag}.json")
    res["src"] = str(SRC)
    Path(res["json_path"]).write_text(json.dumps(res, indent=1, default=str))
    text = markdown(res)
    results_md.write_text(text)
    log("")
    log(text)
    log(f"written {results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
