"""Server time of the dashboard's Confidence view, driven by AppTest (one session, one process).

Steps: the first draw of the view (results store and confidence cache warm, app caches empty), a
second draw (app caches warm), and moves of the threshold slider, both as AppTest's whole-script
rerun and as the fragment rerun a browser asks for (the slider lives in an ``@st.fragment``).

    python benchmarks/bench_app_confidence.py [--data /work/shared/data] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_app import FragmentRerun, timed  # noqa: E402

TARGET_SLIDER = 0.2  # s, issue 14


def session(root: Path, dataset: str, model: str, rounds: int) -> dict[str, list[float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["SEGVIZ_DATA_ROOT"], os.environ["SEGVIZ_DATASET"] = str(root), dataset
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.query_params["view"], at.query_params["model"] = "Confidence", model
    out: dict[str, list[float]] = {"first draw": [timed(at.run)], "second draw": [timed(at.run)]}
    out["slider, whole script"], out["slider, fragment rerun"] = [], []
    values = [0.3, 0.6, 0.9, 0.75, 0.5]
    for i in range(rounds):
        t = values[i % len(values)]
        out["slider, whole script"].append(timed(at.slider(key="cf:t").set_value(t).run))
        with FragmentRerun(at, "threshold_section") as rerun:
            if not rerun.used:
                raise RuntimeError("no threshold_section fragment")
            out["slider, fragment rerun"].append(timed(at.slider(key="cf:t").set_value(1 - t / 2).run))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=os.environ.get("SEGVIZ_SHARED_DATA", ROOT.parent / "shared" / "data")
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("SEGVIZ_STORE", tempfile.mkdtemp(prefix="segviz-bench-store-"))
    cases = [(ROOT, "sample_data", "candidate"), (ROOT, "sample_data", "baseline")]
    if (Path(args.data) / "camvid-val").is_dir():
        cases.append((Path(args.data), "camvid-val", "tinyfcn"))
    for root, dataset, model in cases:
        session(root, dataset, model, 1)  # fills the results store and the confidence cache
        times = session(root, dataset, model, args.rounds)
        print(f"{dataset} / {model}")
        for step, values in times.items():
            print(f"  {step:<24} median {1000 * statistics.median(values):7.1f} ms  (n={len(values)})")
        ok = statistics.median(times["slider, fragment rerun"]) <= TARGET_SLIDER
        print(
            f"  slider target ≤ {1000 * TARGET_SLIDER:.0f} ms (fragment rerun): {'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
