"""Issue #17: ``segviz compare`` after loading, two checkouts side by side (CPU = user + sys).

For each code (``--old``, default /work/main; and this checkout), in fresh processes with that
code first on ``sys.path`` and its own results store (a warm store of both models, e.g. a copy of
the same one: ``cp -r STORE STORE-old``):

* ``in process``: open and evaluate both models from the store and build their per-image
  aggregates (untimed: loading), then time ``stats.paired_bootstrap`` (1,000 paired resamples),
  ``compare.compare`` (which runs it again), and the ``--json`` text (``to_json()`` where the code
  has it, else ``json.dumps(to_dict(), indent=1)``); the md5 of that text must be the same for
  both codes;
* ``CLI``: ``segviz compare DATA --models A B --quiet --json F`` (``/usr/bin/time``), the md5 of F;
* ``import``: ``python -c "import segviz.cli, segviz.compare"``.

Runs alternate old / new ``--repeat`` times; the smallest CPU of each is kept.

    python benchmarks/bench_compare.py --data /work/bench-data/scale-100000-128x96 \\
        --store-old DIR --store-new DIR [--old /work/main] [--repeat 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

INNER = r"""
import hashlib, json, resource, sys, time

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

from segviz.dataset import open_dataset
from segviz.evaluate import evaluate
from segviz.store import ResultsStore

data, name_a, name_b = sys.argv[1:4]
a, b = (evaluate(open_dataset(data, model=m), store=ResultsStore()) for m in (name_a, name_b))
a.image_count_matrix(), b.image_count_matrix()
from segviz import stats
from segviz.compare import compare

out = {}
def step(name, fn):
    c, w = cpu(), time.perf_counter()
    result = fn()
    out[name] = (cpu() - c, time.perf_counter() - w)
    return result

step("paired_bootstrap", lambda: stats.paired_bootstrap(a, b, resamples=1000, seed=0))
c = step("compare()", lambda: compare(a, b, name_a=name_a, name_b=name_b, resamples=1000, seed=0))
if hasattr(c, "to_json"):
    text = step("--json text", c.to_json)
else:
    text = step("--json text", lambda: json.dumps(c.to_dict(), indent=1, allow_nan=False))
out["md5"] = hashlib.md5((text + "\n").encode()).hexdigest()
import segviz
out["code"] = segviz.__file__
print(json.dumps(out))
"""


def run_inner(code: Path, store: Path, data: str, models: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "SEGVIZ_STORE": str(store)}
    # (cwd: ``python -c`` and ``-m`` put the current folder first on sys.path, before PYTHONPATH)
    done = subprocess.run(
        [sys.executable, "-c", INNER, data, *models],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_timed(cmd: list[str], code: Path, store: Path) -> tuple[float, float, float]:
    """(CPU s, wall s, peak MB) of a command run with /usr/bin/time."""
    env = {**os.environ, "PYTHONPATH": str(code), "SEGVIZ_STORE": str(store)}
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        subprocess.run(
            ["/usr/bin/time", "-o", t.name, "-f", "%U %S %e %M", *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            cwd=tempfile.gettempdir(),
        )
        user, system, wall, peak = map(float, Path(t.name).read_text().split()[-4:])
    return user + system, wall, peak / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--models", nargs=2, default=["model_a", "model_b"])
    p.add_argument("--old", type=Path, default=Path("/work/main"))
    p.add_argument("--store-old", type=Path, required=True)
    p.add_argument("--store-new", type=Path, required=True)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    codes = {"old": (args.old, args.store_old), "new": (REPO, args.store_new)}
    best: dict[str, dict] = {"old": {}, "new": {}}
    md5: dict[str, set] = {"old": set(), "new": set()}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for label, (code, store) in codes.items():
                inner = run_inner(code, store, args.data, args.models)
                md5[label].add(inner.pop("md5"))
                assert inner.pop("code").startswith(str(code)), f"{label}: not the code of {code}"
                for key, (c, w) in inner.items():
                    best[label][key] = min(best[label].get(key, (1e9, 0)), (c, w))
                out = Path(tmp) / f"{label}.json"
                segviz = [sys.executable, "-m", "segviz", "compare", args.data, "--models", *args.models]
                cli = run_timed([*segviz, "--quiet", "--json", str(out)], code, store)
                md5[label].add("cli " + hashlib.md5(out.read_bytes()).hexdigest())
                best[label]["segviz compare --json (CLI)"] = min(
                    best[label].get("segviz compare --json (CLI)", (1e9,)), cli
                )
                cli = run_timed([*segviz, "--quiet"], code, store)
                best[label]["segviz compare (CLI)"] = min(
                    best[label].get("segviz compare (CLI)", (1e9,)), cli
                )
                imp = run_timed([sys.executable, "-c", "import segviz.cli, segviz.compare"], code, store)
                best[label]["import segviz.cli, segviz.compare"] = min(
                    best[label].get("import segviz.cli, segviz.compare", (1e9,)), imp
                )
    print(f"data {args.data}, models {' '.join(args.models)}; old = {args.old}, new = {REPO}")
    print(f"{'step':<36}{'old CPU s':>10}{'new CPU s':>10}{'ratio':>7}{'old wall':>10}{'new wall':>10}")
    for key in best["old"]:
        o, n = best["old"][key], best["new"][key]
        print(f"{key:<36}{o[0]:>10.2f}{n[0]:>10.2f}{o[0] / max(n[0], 1e-9):>7.2f}{o[1]:>10.2f}{n[1]:>10.2f}")
    for label in ("old", "new"):
        print(f"{label} md5: {', '.join(sorted(md5[label]))}")
    same = md5["old"] == md5["new"] and len({m.split()[-1] for m in md5["old"]}) == 1
    print("the same JSON text (md5) for both codes:", "yes" if same else "NO")


if __name__ == "__main__":
    main()
