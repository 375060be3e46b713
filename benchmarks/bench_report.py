#!/usr/bin/env python3
"""Size, PDF length and build time of ``segviz report`` from 11 to 150 classes (issue 16, item 6).

    python benchmarks/bench_report.py                      # this checkout
    python benchmarks/bench_report.py --src /tmp/old       # another copy of segviz, e.g. `git archive`
    python benchmarks/bench_report.py --no-pdf             # HTML only (no Chromium)

For each dataset it prints: classes K, classes that appear (in ground truth or prediction), the HTML
size (total, and without the 4.8 MB of inlined plotly.js, which every report carries once), the
build time of :func:`segviz.report.build_report` (median of ``--repeat`` runs, evaluation excluded),
the PDF's page count (``pdfinfo``) and the time of :func:`segviz.report.write_pdf`.

Datasets: the bundled ``sample_data`` (candidate), VOC 2012 (deeplabv3plus, K = 21) and ADE20K
(csail-2018, K = 150) from ``SEGVIZ_SHARED_DATA`` (skipped when absent), and a synthetic ADE-like set
(K = 150, ``--pairs`` images) from ``benchmarks/datagen.py``, generated once into ``--out``
(default /tmp/segviz-bench, never inside the repository). The same ``--resamples`` and ``--worst``
for every run, so two runs with different ``--src`` compare like with like.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", type=Path, default=REPO, help="folder holding the segviz package to measure")
    p.add_argument("--out", type=Path, default=Path("/tmp/segviz-bench"), help="generated datasets")
    p.add_argument("--pairs", type=int, default=100, help="images of the synthetic 150-class set")
    p.add_argument("--repeat", type=int, default=3, help="builds per dataset (median reported)")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--worst", type=int, default=6)
    p.add_argument("--no-pdf", action="store_true", help="skip the PDFs (no Chromium needed)")
    p.add_argument("--keep", type=Path, default=None, help="write the reports here (e.g. to look at them)")
    return p.parse_args()


def _datasets(out: Path, pairs: int) -> list[tuple[str, Path, str | None]]:
    import datagen

    shared = Path(os.environ.get("SEGVIZ_SHARED_DATA", REPO.parent / "shared" / "data"))
    found = [("sample_data", REPO / "sample_data", "candidate")]
    for name, folder, model in (
        ("VOC 2012", "voc2012-deeplab", "deeplabv3plus"),
        ("ADE20K", "ade20k-csail", "csail-2018"),
    ):
        if (shared / folder).is_dir():
            found.append((name, shared / folder, model))
        else:
            print(f"({name}: {shared / folder} not found, skipped)")
    found.append((f"synthetic ADE ({pairs} img)", datagen.ensure_dataset(out, "ade", pairs, log=print), None))
    return found


def _pages(pdf: Path) -> int:
    try:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    except (OSError, subprocess.CalledProcessError, AttributeError):
        return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


def _measure(name, folder, model, args, keep: Path | None) -> dict:
    from plotly.offline import get_plotlyjs

    from segviz import evaluate, open_dataset
    from segviz.report import build_report, write_pdf

    evaluation = evaluate(open_dataset(folder, model=model))
    k = evaluation.table.num_classes
    cm = evaluation.confusion
    appear = int(((cm[:, :k].sum(axis=1) > 0) | (cm[:k, :k].sum(axis=0) > 0)).sum())
    times, page = [], ""
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        page = build_report(
            evaluation, title=name, dataset=name, model=model, resamples=args.resamples, worst=args.worst
        )
        times.append(time.perf_counter() - t0)
    size = len(page.encode())
    row = {
        "name": name,
        "k": k,
        "appear": appear,
        "html_mb": size / 1e6,
        "html_kb_wo_plotly": (size - len(get_plotlyjs().encode())) / 1e3,
        "build_s": statistics.median(times),
        "pages": "–",
        "pdf_s": float("nan"),
    }
    slug = re.sub(r"\W+", "-", name.lower()).strip("-")
    with tempfile.TemporaryDirectory(prefix="segviz-bench-report-") as tmp:
        folder_out = keep or Path(tmp)
        folder_out.mkdir(parents=True, exist_ok=True)
        (folder_out / f"{slug}.html").write_text(page, encoding="utf-8")
        if not args.no_pdf:
            pdf = folder_out / f"{slug}.pdf"
            t0 = time.perf_counter()
            write_pdf(page, pdf)
            row["pdf_s"] = time.perf_counter() - t0
            row["pages"] = _pages(pdf)
    return row


def main() -> None:
    args = _args()
    if args.out.resolve().is_relative_to(REPO):
        sys.exit(f"--out {args.out} is inside the repository; pick a folder outside it")
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(args.src.resolve()))
    import segviz

    print(f"segviz from {Path(segviz.__file__).parent}")
    rows = [_measure(*d, args, args.keep) for d in _datasets(args.out, args.pairs)]
    print(
        "\n| dataset | K | classes present | HTML MB | HTML KB without plotly.js | build s | PDF pages | PDF s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['k']} | {r['appear']} | {r['html_mb']:.2f} | {r['html_kb_wo_plotly']:,.0f} "
            f"| {r['build_s']:.2f} | {r['pages']} | {r['pdf_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
