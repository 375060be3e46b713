"""Opening two models of one dataset (issue #17): this checkout against an earlier segviz, side by side.

``segviz compare`` used to open each model on its own: the ground-truth folder walked and indexed
twice, every ground-truth file stat'ed twice for the results store's keys. Now
:func:`segviz.dataset.open_models` lists the ground truth once and
:func:`segviz.store.shared_key_texts` stats each file once. For each code (``--before``, default
main before this change; and this checkout), in fresh processes, interleaved rounds, the fastest
(least CPU) of each kept:

* ``compare``: ``segviz compare DATASET --models A B --json`` (CPU = user + sys, wall, peak RSS),
  and the JSON's MD5 (must be the same for both codes);
* ``report``: ``segviz report DATASET --model A`` (one model: the listing and keys of one), and
  the MD5 of its HTML but for the time stamp (must be the same for both codes);
* in one process, CPU of: ``open two`` (both models listed and paired: two ``open_dataset`` before,
  one ``open_models`` now), ``keys two`` (their store keys: two ``key_texts`` before, one
  ``shared_key_texts`` now), ``open one`` / ``keys one`` (model A alone, as ``evaluate`` and the
  dashboard reopen it: must not be slower).

The store is warm: ``--store DIR`` (made beforehand with ``segviz evaluate`` of both models) is
copied once per code into OUT; the dataset is only read.

    python benchmarks/bench_open_models.py DATASET [--models A B] --store DIR [--before REV]
        [--rounds 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "2889ef6"  # main before open_models

# run with PYTHONPATH=<code>: CPU seconds of each opening step, best of 3 (JSON on stdout)
_INNER = r"""
import json, sys, time
import segviz.dataset as ds
from segviz.store import key_texts
root, a, b = sys.argv[1:4]

def cpu(fn):
    best = None
    for _ in range(3):
        t = time.process_time(); out = fn(); t = time.process_time() - t
        best = t if best is None else min(best, t)
    return best, out

if hasattr(ds, "open_models"):
    from segviz.store import shared_key_texts
    two, (da, db) = cpu(lambda: ds.open_models(root, models=[a, b]))
    keys, _ = cpu(lambda: shared_key_texts([da.pairs, db.pairs]))
else:
    two, (da, db) = cpu(lambda: (ds.open_dataset(root, model=a), ds.open_dataset(root, model=b)))
    keys, _ = cpu(lambda: (key_texts(da.pairs), key_texts(db.pairs)))
one, d = cpu(lambda: ds.open_dataset(root, model=a))
keys_one, _ = cpu(lambda: key_texts(d.pairs))
print(json.dumps({"segviz": ds.__file__, "open two": two, "keys two": keys, "open one": one, "keys one": keys_one}))
"""


def export(rev: str, out: Path) -> Path:
    """``bench_scale.export``: the segviz of revision ``rev`` unpacked under ``out``, or a checkout's folder."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scale import export as export_code

    return export_code(rev, out)


def run(cmd: list[str], *, code: Path, store: Path, out: Path) -> dict:
    """``cmd`` under /usr/bin/time: wall s, CPU s (user + sys), peak RSS MB, exit code, stdout."""
    env = {**os.environ, "PYTHONPATH": str(code), "SEGVIZ_STORE": str(store)}
    timing = out / "time.txt"
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), *cmd],
        env=env,
        cwd=out,  # (not the checkout: ``python -m`` and ``-c`` import from the working folder first)
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    wall, user, system, rss = timing.read_text().split()[-4:]
    return {
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "rss_mb": int(rss) / 1024,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
    }


def one_round(name: str, code: Path, store: Path, args, out: Path) -> dict[str, dict]:
    """Every step of one code once: {step: {cpu, wall, rss_mb[, md5, warnings]}}."""
    a, b = args.models
    js = out / f"compare-{name}.json"
    compare = [sys.executable, "-m", "segviz", "compare", str(args.dataset), "--models", a, b]
    steps = {"compare": run([*compare, "--quiet", "--json", str(js)], code=code, store=store, out=out)}
    steps["compare"]["md5"] = hashlib.md5(js.read_bytes()).hexdigest()
    steps["compare"]["warnings"] = steps["compare"]["stderr"].count("warning:")
    report = [sys.executable, "-m", "segviz", "report", str(args.dataset), "--model", a]
    html = out / f"report-{name}.html"
    steps["report"] = run([*report, "--out", str(html)], code=code, store=store, out=out)
    stamp = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")  # (the report's time stamp)
    steps["report"]["md5"] = hashlib.md5(stamp.sub(b"", html.read_bytes())).hexdigest()
    res = run([sys.executable, "-c", _INNER, str(args.dataset), a, b], code=code, store=store, out=out)
    inner = json.loads(res["stdout"])
    if Path(inner.pop("segviz")).resolve().parents[1] != Path(code).resolve():
        raise SystemExit(f"{name}: segviz not imported from {code}")
    for step, cpu in inner.items():
        steps[step] = {"cpu": cpu, "wall": float("nan"), "rss_mb": float("nan")}
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--models", nargs=2, default=["model_a", "model_b"])
    parser.add_argument(
        "--store", type=Path, required=True, help="a warm results store (copied, never written)"
    )
    parser.add_argument("--before", default=BEFORE, help=f"earlier git revision (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segviz-open-models")
    args = parser.parse_args()
    out = args.out.resolve()
    if out.is_relative_to(REPO):
        raise SystemExit(f"--out {out}: inside the repository; choose a folder outside it")
    out.mkdir(parents=True, exist_ok=True)
    codes = {"before": export(args.before, out), "now": REPO}
    for name in codes:
        if not (out / f"store-{name}").exists():
            shutil.copytree(args.store, out / f"store-{name}")
    best: dict[tuple[str, str], dict] = {}
    digests: dict[tuple[str, str], set[str]] = {
        (n, step): set() for n in codes for step in ("compare", "report")
    }
    for r in range(args.rounds):
        for name in list(codes) if r % 2 == 0 else list(reversed(codes)):
            for step, result in one_round(name, codes[name], out / f"store-{name}", args, out).items():
                if (name, step) not in best or result["cpu"] < best[(name, step)]["cpu"]:
                    best[(name, step)] = result
                if "md5" in result:
                    digests[(name, step)].add(result["md5"])
    print_table(best, digests, args)


def print_table(best: dict[tuple[str, str], dict], digests: dict[tuple[str, str], set[str]], args) -> None:
    """The figures of both codes side by side (markdown), and whether their outputs are the same."""
    print(f"{args.dataset} ({args.rounds} rounds, least CPU of each kept; before = {args.before})\n")
    print(
        "| step | before CPU s | now CPU s | now / before | before wall s | now wall s | peak MB before / now |"
    )
    print("|---|---|---|---|---|---|---|")
    for step in ("compare", "report", "open two", "keys two", "open one", "keys one"):
        x, y = best[("before", step)], best[("now", step)]
        print(
            f"| {step} | {x['cpu']:.2f} | {y['cpu']:.2f} | {y['cpu'] / x['cpu']:.2f} | {x['wall']:.2f} | "
            f"{y['wall']:.2f} | {x['rss_mb']:.0f} / {y['rss_mb']:.0f} |"
        )
    for step, what in (("compare", "compare --json"), ("report", "report HTML but its time stamp")):
        before, now = sorted(digests[("before", step)]), sorted(digests[("now", step)])
        same = "identical" if len(set(before) | set(now)) == 1 else "DIFFERENT"
        print(f"\n{what} MD5: before {before}, now {now}: {same}", end="")
    print()
    said = {name: best[(name, "compare")]["warnings"] for name in ("before", "now")}
    print(f"warning lines on stderr (compare): before {said['before']}, now {said['now']}")


if __name__ == "__main__":
    main()
