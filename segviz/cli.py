"""The ``segviz`` command line: headless evaluation for scripts and CI pipelines.

Commands: ``evaluate`` (one model), ``compare`` (two models, with paired-bootstrap intervals),
``report`` (a self-contained HTML/PDF report) and ``slices`` (the worst slices of images; ``evaluate
--by COLUMN`` gives the metrics per value of one attribute). Exit status: 0 when every sample was evaluated, 1 when
some were skipped (each reported on stderr with its reason), 2 for a usage error (bad arguments,
missing folders, a broken class table, an output path inside the dataset or where no file can be
written: every option is checked before the work starts). Names from the data are printed with
control characters escaped (:func:`segviz.safety.terminal_text`).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

from segviz import __version__, cli_confidence, presets
from segviz.classes import parse_ignore_ids
from segviz.cli_common import (
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_USAGE,
    UsageError,
    load,
    load_models,
)
from segviz.cli_common import dataset_args as _dataset_args
from segviz.cli_common import say as _say
from segviz.cli_common import write as _write
from segviz.dataset import Problem
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation
from segviz.problems import problem_lines
from segviz.safety import (
    check_distinct_outputs,
    check_not_in_dataset,
    check_output_path,
    csv_safe_frame,
    terminal_text,
)
from segviz.store import ResultsStore, default_store_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segviz",
        description="Evaluate predicted segmentation masks against ground truth.",
    )
    parser.add_argument("--version", action="version", version=f"segviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser(
        "evaluate",
        help="compute the confusion matrix and metrics of a dataset",
        description="Evaluate DATASET (images/, gt/, pred/[MODEL/], classes.csv); "
        "--images/--gt/--pred/--classes override each part.",
    )
    _dataset_args(ev)
    ev.add_argument("--model", help="model name when pred/ holds several models")
    ev.add_argument("--pred", help="folder of predicted masks")
    ev.add_argument("--json", metavar="PATH", help="write the full results as JSON")
    ev.add_argument("--csv", metavar="PATH", help="write the per-class table as CSV")
    ev.add_argument("--quiet", action="store_true", help="print nothing on stdout")
    _by_args(ev)
    cli_confidence.add_evaluate_flags(ev)
    _anatomy_args(ev)

    cmp = sub.add_parser(
        "compare",
        help="compare two models on one dataset, with paired-bootstrap intervals",
        description="Compare model B with model A (pred/A/ and pred/B/) on the images both have.",
    )
    _dataset_args(cmp)
    cmp.add_argument("--models", nargs=2, metavar=("A", "B"), required=True, help="the two models")
    cmp.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    cmp.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    cmp.add_argument("--json", metavar="PATH", help="write the comparison as JSON")
    cmp.add_argument("--quiet", action="store_true", help="print nothing on stdout")

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report (and optionally a PDF) of one model",
        description="Evaluate DATASET and write one HTML file that opens offline; --pdf also prints it to A4.",
    )
    _dataset_args(rep)
    rep.add_argument("--model", help="model name when pred/ holds several models")
    rep.add_argument("--pred", help="folder of predicted masks")
    rep.add_argument("--out", metavar="PATH", required=True, help="the HTML file to write")
    rep.add_argument(
        "--pdf", metavar="PATH", help="also print the report to this PDF (needs /usr/bin/chromium)"
    )
    rep.add_argument("--title", help="title shown in the report (default: DATASET — MODEL)")
    rep.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    rep.add_argument("--worst", type=int, default=6, help="how many worst images to show (default 6)")
    rep.add_argument(
        "--slices", action="store_true", help="add 'where the model is weakest' (worst-slice discovery)"
    )
    rep.add_argument(
        "--metadata", metavar="FILE", help="metadata table (.csv/.parquet; default DATASET/metadata.csv)"
    )
    _slices_parser(sub)
    _app_parser(sub)
    cli_confidence.add_report_flags(rep)
    cli_confidence.add_commands(sub)
    _anatomy_args(rep)
    return parser


def _app_parser(sub) -> None:
    app = sub.add_parser(
        "app",
        help="open the dashboard in the browser (needs streamlit: pip install 'segviz[app]')",
        description="Start the Streamlit dashboard on DATASET (a folder holding gt/), or on the datasets "
        "under a folder (default: the current folder).",
    )
    app.add_argument("dataset", nargs="?", help="dataset folder, or a folder of datasets")
    app.add_argument("--port", type=int, help="server port (default: streamlit's, 8501)")
    app.add_argument("--headless", action="store_true", help="do not open a browser")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (
        args.command != "app"
        and args.dataset is None
        and (args.gt is None or getattr(args, "pred", None) is None)
    ):
        parser.error("give a DATASET folder, or both --gt and --pred")
    command = {
        "evaluate": _evaluate,
        "compare": _compare,
        "report": _report,
        "slices": _slices,
        "app": _app,
        **cli_confidence.handlers(),
    }[args.command]
    try:
        if args.command != "app":  # the dashboard checks its own inputs
            check_arguments(args)
        return command(args)
    except (UsageError, SegvizError) as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE


#: Inclusive range of every numeric option (checked before any work; exit status 2 outside).
OPTION_RANGES = {"workers": (1, 256), "resamples": (1, 10_000), "seed": (0, 2**32 - 1), "worst": (0, 100)}
#: The options that write a file, by their attribute name.
OUTPUT_OPTIONS = ("json", "csv", "out", "pdf")


def check_arguments(args: argparse.Namespace) -> None:
    """Every option's value, before anything is read or written: numbers in their range, the ignore
    ids, and every output path (never inside the dataset, and writable). Raises UsageError."""
    for name, (lo, hi) in OPTION_RANGES.items():
        value = getattr(args, name, None)
        if value is not None and not lo <= value <= hi:
            raise UsageError(f"--{name} must be an integer in {lo}..{hi:,} (got {value})")
    if args.ignore is not None:
        parse_ignore_ids(args.ignore)  # raises OptionError naming the value
    dataset = _dataset_locations(args)
    outputs = {f"--{k}": (getattr(args, k, None), "file") for k in OUTPUT_OPTIONS}
    if args.command == "label-errors":  # its --out is a folder of files (the review queue)
        outputs["--out"] = (args.out, "folder")
    if not args.no_store:
        store = args.store if args.store is not None else default_store_dir()
        option = "--store" if args.store is not None else "the results store (--store, $SEGVIZ_STORE)"
        outputs[option] = (store, "folder")
    outputs = {option: out for option, out in outputs.items() if out[0] is not None}
    check_distinct_outputs({option: path for option, (path, _) in outputs.items()})
    for option, (path, _) in outputs.items():  # the dataset rule for all, before any file is tried
        check_not_in_dataset(path, dataset, option=option)
    for option, (path, kind) in outputs.items():
        check_output_path(path, dataset, kind=kind, option=option)
    if getattr(args, "pdf", None) is not None:
        _check_pdf_tools()


def _check_pdf_tools() -> None:
    """What ``write_pdf`` needs, checked before the work rather than after it."""
    import importlib.util

    from segviz import report

    if not Path(report.CHROMIUM).is_file():
        raise UsageError(
            f"--pdf needs Chromium at {report.CHROMIUM}, which does not exist "
            "(apt-get install --no-install-recommends chromium)"
        )
    if importlib.util.find_spec("playwright") is None:
        raise UsageError("--pdf needs the playwright package: pip install playwright")


def _dataset_locations(args: argparse.Namespace) -> list[str | None]:
    """What the command reads: the dataset folder, the folders given, a class-table file."""
    classes = args.classes
    if classes is not None and (classes.lower() in presets.PRESETS or not Path(classes).is_file()):
        classes = None
    return [args.dataset, args.gt, getattr(args, "pred", None), args.images, classes]


def _evaluate(args: argparse.Namespace) -> int:
    width = _anatomy_width(args)
    confidence = cli_confidence.load_confidence(args)[0] if args.confidence else None
    result = confidence.evaluation if confidence else load(args, model=args.model, pred=args.pred)
    anatomy = _run_anatomy(args, result, width) if args.errors else None
    by = _slices_by(args, result) if args.by else []
    if args.json:
        data = result.to_dict() if anatomy is None else _with_anatomy(result.to_dict(), anatomy)
        if args.by:
            data["slices"] = [m.to_dict() for ms, _ in by for m in ms]
        if confidence is not None:
            data = cli_confidence.with_confidence(data, confidence)
        _write(args.json, "--json", json.dumps(data, indent=1, allow_nan=False) + "\n")
    if args.csv:
        _write(
            args.csv, "--csv", csv_safe_frame(result.class_frame()).to_csv(index=False, float_format="%.6f")
        )
    if not args.quiet:
        print(format_report(result))
        if anatomy is not None:
            print()
            print(format_anatomy(anatomy))
        for ms, binning in by:
            print("\n" + format_slices(ms, binning=binning))
        if confidence is not None:
            print()
            print(cli_confidence.format_confidence(confidence))
    skipped = result.skipped or (anatomy is not None and anatomy.skipped)
    if confidence is not None and not confidence.has_confidence.all():
        skipped = True  # an image without its confidence map
    return EXIT_SKIPPED if skipped else EXIT_OK


# ---------------------------------------------------------------------- error anatomy (--errors)
def _anatomy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--errors",
        action="store_true",
        help="error anatomy: boundary / extent / segment errors, Boundary and Trimap IoU, objects",
    )
    p.add_argument(
        "--boundary-width",
        metavar="W",
        default="0.01",
        help="boundary width for --errors: a fraction of the image diagonal in (0, 1) or whole pixels "
        "(default 0.01)",
    )


def _anatomy_width(args: argparse.Namespace) -> float | int:
    from segviz.anatomy import BoundaryWidthError, parse_width

    try:
        return parse_width(args.boundary_width)
    except BoundaryWidthError as exc:
        raise UsageError(f"--boundary-width: {exc}") from None


def _run_anatomy(args: argparse.Namespace, result: Evaluation, width: float | int):
    from segviz.anatomy import BoundaryWidthError, analyse
    from segviz.anatomy_kernel import compiled

    if compiled() is None:
        _say(
            "warning: numba is not installed (or SEGVIZ_NO_NUMBA is set): --errors runs in plain Python, slowly"
        )
    store = None if args.no_store else ResultsStore(args.store)
    try:
        anatomy = analyse(result, width=width, workers=args.workers, store=store)
    except BoundaryWidthError as exc:
        raise UsageError(f"--boundary-width: {exc}") from None
    instance_folder = Path(args.dataset) / "gt_instanceIds" if args.dataset else None
    if instance_folder is not None and instance_folder.is_dir():
        from segviz.anatomy import analyse_instances

        anatomy.instances = analyse_instances(result, instance_folder, workers=args.workers)
        for p in anatomy.instances.skipped:
            _say(f"warning: {p.name}: no instance ids ({p.reason})")
    for p in anatomy.skipped:
        _say(f"skipped {p.name} (error anatomy): {p.reason}")
    return anatomy


def _with_anatomy(data: dict, anatomy) -> dict:
    for entry, extra in zip(data["classes"], anatomy.class_dicts(), strict=True):
        entry.update(extra)
    data["error_anatomy"] = anatomy.to_dict()
    return data


def format_anatomy(anatomy) -> str:
    """Per-class error anatomy: IoU and the error shares of the union, Boundary/Trimap IoU, objects."""
    frame = anatomy.class_frame()
    width = max([len("class"), *(len(n) for n in frame["name"])])
    lines = [
        f"error anatomy (boundary width {anatomy.width}{' px' if anatomy.width >= 1 else ' of the diagonal'}; "
        "percent of each class's union TP+FP+FN)",
        f"{'class':<{width}}  {'IoU':>6}  {'bound':>6}  {'extent':>6}  {'segm':>6}  {'BIoU':>6}  {'TIoU':>6}"
        f"  {'objects':>7}  {'missed':>6}  {'invent':>6}",
    ]
    for row in frame.itertuples(index=False):
        lines.append(
            f"{row.name:<{width}}  {_pct(row.iou)}  {_pct(row.boundary_error)}  {_pct(row.extent_error)}  "
            f"{_pct(row.segment_error)}  {_pct(row.boundary_iou)}  {_pct(row.trimap_iou)}  "
            f"{int(row.gt_objects):>7,}  {int(row.gt_objects - row.found_objects):>6,}  {int(row.invented_objects):>6,}"
        )
    s = anatomy.summary()
    lines.append(
        f"{'mean':<{width}}  {'':>6}  {_pct(s['mean_boundary_error'])}  {_pct(s['mean_extent_error'])}  "
        f"{_pct(s['mean_segment_error'])}  {_pct(s['mean_boundary_iou'])}  {_pct(s['mean_trimap_iou'])}"
    )
    if anatomy.instances is not None:
        inst = anatomy.instances.class_frame().query("instances > 0")
        shown = ", ".join(f"{r.name} {_pct(r.iiou).strip()}" for r in inst.itertuples(index=False))
        lines.append(
            f"iIoU (instance-weighted): {shown or 'no instances'}; mean {_pct(anatomy.instances.mean_iiou()).strip()}"
        )
    return "\n".join(map(terminal_text, lines))


def _compare(args: argparse.Namespace) -> int:
    from segviz.compare import compare

    name_a, name_b = args.models
    if name_a == name_b:
        raise UsageError(f"--models: give two different models (got {name_a} twice)")
    a, b = load_models(args, models=[name_a, name_b])  # (the ground truth listed once for both)
    comparison = compare(a, b, name_a=name_a, name_b=name_b, resamples=args.resamples, seed=args.seed)
    only = [Problem(n, f"only {name_a} has a prediction for it") for n in comparison.paired.only_in_a]
    only += [Problem(n, f"only {name_b} has a prediction for it") for n in comparison.paired.only_in_b]
    for line in problem_lines(only, with_names=True):
        _say(f"skipped {line}")
    if args.json:
        _write(args.json, "--json", comparison.to_json() + "\n")
    if not args.quiet:
        print(format_comparison(comparison))
    skipped = a.skipped or b.skipped or comparison.paired.dropped
    return EXIT_SKIPPED if skipped else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from segviz.report import build_report, write_pdf

    width = _anatomy_width(args)
    confidence = cli_confidence.load_confidence(args)[0] if args.confidence else None
    result = confidence.evaluation if confidence else load(args, model=args.model, pred=args.pred)
    anatomy = _run_anatomy(args, result, width) if args.errors else None
    dataset = Path(args.dataset or args.gt).resolve().name
    model = args.model or (Path(args.pred).name if args.pred else None)
    weakest = _slicer(args, result, pixels=True).worst() if args.slices else None
    html = build_report(
        result,
        weakest=weakest,
        title=args.title or f"{dataset} — {model or 'predictions'}",
        dataset=dataset,
        model=model,
        resamples=args.resamples,
        seed=args.seed,
        worst=args.worst,
        confidence=confidence,
        anatomy=anatomy,
    )
    _write(args.out, "--out", html)
    if args.pdf:
        write_pdf(html, args.pdf)
    print(terminal_text(f"segviz: wrote {args.out}" + (f" and {args.pdf}" if args.pdf else "")))
    return EXIT_SKIPPED if result.skipped else EXIT_OK


# ---------------------------------------------------------------------- slices (issue 15)
def _by_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--by",
        action="append",
        metavar="COLUMN",
        help="metrics per value of a metadata column or automatic attribute (repeatable)",
    )
    p.add_argument(
        "--metadata", metavar="FILE", help="metadata table (.csv/.parquet; default DATASET/metadata.csv)"
    )
    p.add_argument("--min-images", type=int, default=10, help="'too few images' below this (default 10)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def _slices_parser(sub) -> None:
    sl = sub.add_parser(
        "slices",
        help="find the slices of images where the model is weakest",
        description="Rank slices (metadata values, automatic attributes, and pairs of them) by drop in "
        "the metric × share of images, with bootstrap p-values and Benjamini-Hochberg control.",
    )
    _dataset_args(sl)
    sl.add_argument("--model", help="model name when pred/ holds several models")
    sl.add_argument(
        "--models",
        nargs=2,
        metavar=("A", "B"),
        help="compare model B with A per value of each --by column (paired bootstrap)",
    )
    sl.add_argument("--pred", help="folder of predicted masks")
    _by_args(sl)
    sl.add_argument("--metric", default="mean_iou", choices=METRIC_CHOICES, help="metric (default mean_iou)")
    sl.add_argument("--top", type=int, default=10, help="how many slices to list (default 10)")
    sl.add_argument(
        "--fdr", type=float, default=0.05, help="Benjamini-Hochberg false-discovery rate (default 0.05)"
    )
    sl.add_argument("--no-pixels", action="store_true", help="skip the attributes that read masks and photos")
    sl.add_argument("--json", metavar="PATH", help="write the ranked slices as JSON")
    sl.add_argument("--quiet", action="store_true", help="print nothing on stdout")


METRIC_CHOICES = ("pixel_accuracy", "mean_iou", "mean_pixel_accuracy", "frequency_weighted_iou", "mean_dice")


def _slicer(args: argparse.Namespace, result: Evaluation, *, pixels: bool):
    from segviz.slices import open_slices

    for key in ("min_images", "resamples"):
        value = getattr(args, key, 1)
        if value is not None and value < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be a positive integer (got {value})")
    root = args.dataset if args.dataset and "://" not in str(args.dataset) else None
    slicer, warnings = open_slices(
        result,
        metadata=args.metadata,
        dataset_root=root,
        pixels=pixels,
        workers=args.workers,
        store=None if args.no_store else ResultsStore(args.store),
        min_images=getattr(args, "min_images", 10),
        resamples=getattr(args, "resamples", 1000),
        seed=getattr(args, "seed", 0),
    )
    for w in warnings:
        _say(f"warning: {w}")
    return slicer


def _slices_by(args: argparse.Namespace, result: Evaluation) -> list:
    """Each --by column's slices; files are read only when a column needs the pixel attributes."""
    slicer = _slicer(args, result, pixels=False)
    if any(c not in slicer.columns for c in args.by):
        slicer = _slicer(args, result, pixels=True)
    return [(slicer.by(c), slicer.column(c).binning) for c in args.by]


def _slices(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError(f"--top must be a positive integer (got {args.top})")
    if not 0 < args.fdr < 1:
        raise UsageError(f"--fdr must be between 0 and 1 (got {args.fdr})")
    if args.models:
        return _slices_of_two(args)
    result = load(args, model=args.model, pred=args.pred)
    slicer = _slicer(args, result, pixels=not args.no_pixels)
    columns = args.by if args.by else None
    if columns:
        for c in columns:
            slicer.column(c)
    worst = slicer.worst(metric=args.metric, top=args.top, fdr=args.fdr, columns=columns)
    if args.json:
        Path(args.json).write_text(json.dumps(worst.to_dict(), indent=1, allow_nan=False) + "\n")
    if not args.quiet:
        print(format_worst(worst))
    return EXIT_SKIPPED if result.skipped else EXIT_OK


def _slices_of_two(args: argparse.Namespace) -> int:
    """segviz slices --models A B --by COLUMN: B − A per value, paired."""
    from segviz.slices import compare_by

    name_a, name_b = args.models
    if name_a == name_b:
        raise UsageError(f"--models: give two different models (got {name_a} twice)")
    if not args.by:
        raise UsageError("--models needs --by COLUMN (the values to compare the models on)")
    a, b = load_models(args, models=[name_a, name_b])  # (the ground truth listed once for both)
    slicer = _slicer(args, a, pixels=any(c not in _slicer(args, a, pixels=False).columns for c in args.by))
    out = []
    for column in args.by:
        slicer.column(column)
        frame = compare_by(
            a, b, slicer.attributes, column, metric=args.metric, resamples=args.resamples,
            seed=args.seed, min_images=args.min_images,
        )  # fmt: skip
        out.append((column, frame))
    if args.json:
        records = [
            {"column": c, **{k: _plain(v) for k, v in row.items()}}
            for c, f in out
            for row in f.to_dict(orient="records")
        ]
        data = {"a": name_a, "b": name_b, "metric": args.metric, "slices": records}
        Path(args.json).write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    if not args.quiet:
        print("\n\n".join(format_two(c, f, name_a, name_b, args.metric) for c, f in out))
    return EXIT_SKIPPED if a.skipped or b.skipped else EXIT_OK


def format_two(column: str, frame, name_a: str, name_b: str, metric: str) -> str:
    """Per value: both models' metric, the change b − a and its paired interval."""
    w = max(len("value"), *(len(v) for v in frame["value"])) if len(frame) else 5
    lines = [
        f"{name_b} vs {name_a} by {column} ({metric}; paired Poisson bootstrap, 95 % intervals)",
        f"{'value':<{w}}  {'images':>6}  {name_a[:10]:>10}  {name_b[:10]:>10}  {'change':>7}  {'95 % interval':>18}",
    ]
    for r in frame.itertuples(index=False):
        note = "  too few images" if r.too_few else ""
        lines.append(
            f"{r.value:<{w}}  {r.images:>6}  {_pct(r.a):>10}  {_pct(r.b):>10}  {_signed(r.delta)}  "
            f"{_interval(r.low, r.high)}{'  *' if r.significant else ''}{note}"
        )
    lines.append("(percent and points; * = the interval excludes 0)")
    return "\n".join(map(terminal_text, lines))


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def format_slices(slices: list, *, binning: str = "") -> str:
    """One slice table: per value, images, pixels, PA, mIoU with its interval, Δ mIoU to the rest."""
    if not slices:
        return "(no images)"
    first = slices[0]
    conf = round(100 * first.confidence)
    width = max(len("value"), *(len(m.value) for m in slices))
    lines = [
        f"slices by {first.column}{f' ({binning})' if binning else ''}: "
        f"{conf} % Poisson-bootstrap intervals; Δ = slice − the other images",
        f"{'value':<{width}}  {'images':>6}  {'pixels':>11}  {'PA':>6}  {'mIoU':>6}  {f'{conf} % interval':>16}"
        f"  {'Δ mIoU':>7}  {f'{conf} % interval':>18}",
    ]
    for m in slices:
        s, d = m.summary, m.delta["mean_iou"]
        ci = f"[{_pct(s['mean_iou'].low).strip()}, {_pct(s['mean_iou'].high).strip()}]"
        note = f"  too few images (< {m.min_images})" if m.too_few else ""
        lines.append(
            f"{m.value:<{width}}  {m.images:>6,}  {m.pixels:>11,}  {_pct(s['pixel_accuracy'].estimate)}  "
            f"{_pct(s['mean_iou'].estimate)}  {ci:>16}  {_signed(d.estimate)}  {_interval(d.low, d.high)}{note}"
        )
    lines.append("(percent and points; n/a = undefined, e.g. no other image to compare with)")
    return "\n".join(map(terminal_text, lines))


def format_worst(worst) -> str:
    """The ranked worst slices, with the method stated under them."""
    metric = worst.metric
    if worst.frame.empty:
        return (
            f"no slice of at least {worst.min_images} images is worse than the other images\n{worst.method()}"
        )
    width = min(70, max(len("slice"), *(len(s) for s in worst.frame["slice"])))
    lines = [
        f"{'#':>3}  {'slice':<{width}}  {'images':>6}  {metric:>10}  {'rest':>6}  {'drop':>6}  {'score':>6}"
        f"  {'p':>8}  {'q (BH)':>8}",
    ]
    for r in worst.frame.itertuples(index=False):
        name = r.slice if len(r.slice) <= width else r.slice[: width - 1] + "…"
        lines.append(
            f"{r.rank:>3}  {name:<{width}}  {r.images:>6}  {_pct(getattr(r, metric)):>10}  {_pct(r.rest)}  "
            f"{100 * r.drop:6.2f}  {100 * r.score:6.2f}  {_p(r.p_value)}  {_p(r.q_value)}{'  *' if r.significant else ''}"
        )
    lines += [
        "",
        worst.method(),
        "(percent; drop in points; score = drop × share; * = significant; n/t = not tested)",
    ]
    return "\n".join(map(terminal_text, lines))


def _p(value: float) -> str:
    return "     n/t" if math.isnan(value) else f"{value:8.2g}"


def _app(args: argparse.Namespace) -> int:
    from segviz.dashboard.launch import launch

    return launch(args.dataset, port=args.port, headless=args.headless)


def format_report(result: Evaluation) -> str:
    """The human-readable summary: per-class table beside the summary metrics."""
    s = result.summary()
    frame = result.class_frame()
    width = max([len("class"), *(len(n) for n in frame["name"])])
    left = [f"{'class':<{width}}  {'IoU':>6}  {'acc':>6}  {'prec':>6}  {'Dice':>6}  {'GT px':>11}"]
    for row in frame.itertuples(index=False):
        left.append(
            f"{row.name:<{width}}  {_pct(row.iou)}  {_pct(row.accuracy)}  {_pct(row.precision)}  "
            f"{_pct(row.dice)}  {int(row.gt_pixels):>11,}"
        )
    right = [
        "summary",
        f"images          {s['num_images']:>10,}",
        f"PA              {_pct(s['pixel_accuracy']):>10}",
        f"MPA             {_pct(s['mean_pixel_accuracy']):>10}  ({s['mean_pixel_accuracy_classes']} classes)",
        f"mIoU            {_pct(s['mean_iou']):>10}  ({s['mean_iou_classes']} classes)",
        f"FWIoU           {_pct(s['frequency_weighted_iou']):>10}",
        f"mean Dice       {_pct(s['mean_dice']):>10}  ({s['mean_dice_classes']} classes)",
        f"ignored px      {s['ignored_pixels']:>10,}",
        f"invalid pred px {s['invalid_pred_pixels']:>10,}",
        f"skipped         {len(result.skipped):>10,}",
    ]
    lines = _side_by_side(left, right)
    lines.append("(percent; n/a = undefined: the class is absent from both ground truth and prediction)")
    return "\n".join(map(terminal_text, lines))  # one line per line, whatever the names hold


def format_comparison(comparison) -> str:
    """Summary metrics of both models with the change and its interval, then per-class changes."""
    a, b = comparison.name_a, comparison.name_b
    conf = round(comparison.paired.confidence * 100)
    lines = [
        f"{b} vs {a} on {comparison.a.num_images} images "
        f"(paired bootstrap, {comparison.paired.resamples} resamples, {conf} % intervals)",
        "",
    ]
    w = max(len(a), len(b), 6)
    lines.append(f"{'metric':<24}{a:>{w + 2}}{b:>{w + 2}}  {'change':>7}  {f'{conf} % interval':>18}")
    for row in comparison.summary_frame().itertuples(index=False):
        lines.append(
            f"{row.metric:<24}{_pct(row.a):>{w + 2}}{_pct(row.b):>{w + 2}}  {_signed(row.delta)}  "
            f"{_interval(row.low, row.high)}{'  *' if row.significant else ''}"
        )
    lines += [
        "",
        f"{'class':<18}{'IoU ' + a:>{w + 6}}{'IoU ' + b:>{w + 6}}  {'change':>7}  {f'{conf} % interval':>18}",
    ]
    for row in comparison.class_frame().itertuples(index=False):
        lines.append(
            f"{row.name:<18}{_pct(row.iou_a):>{w + 6}}{_pct(row.iou_b):>{w + 6}}  {_signed(row.delta)}  "
            f"{_interval(row.low, row.high)}{'  *' if row.significant else ''}"
        )
    lines += [
        "",
        *format_gains_and_losses(comparison.gains_and_losses(top=5)),
        "(points = percent; * = the interval excludes 0)",
    ]
    return "\n".join(map(terminal_text, lines))  # one line per line, whatever the names hold


def format_gains_and_losses(gl) -> list[str]:
    """Two lines: the images that improved most and those that got worse most (mIoU points), each
    list holding only changes of its sign, or saying that there are none."""
    return [
        f"largest gains (mIoU, {gl.improved} improved):  "
        + (
            ", ".join(f"{r.name} {_signed(r.delta).strip()}" for r in gl.gains.itertuples())
            or gl.gains_empty_text
        ),
        f"largest losses (mIoU, {gl.worse} got worse): "
        + (
            ", ".join(f"{r.name} {_signed(r.delta).strip()}" for r in gl.losses.itertuples())
            or gl.losses_empty_text
        ),
    ]


def _side_by_side(left: list[str], right: list[str]) -> list[str]:
    lw = max(len(line) for line in left)
    return [
        f"{left[i] if i < len(left) else '':<{lw}}    {right[i] if i < len(right) else ''}".rstrip()
        for i in range(max(len(left), len(right)))
    ]


def _pct(value: float | None) -> str:
    return "   n/a" if value is None or math.isnan(value) else f"{100 * value:6.2f}"


def _signed(value: float | None) -> str:
    return "    n/a" if value is None or math.isnan(value) else f"{100 * value:+7.2f}"


def _interval(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return f"{'n/a':>18}"
    return f"[{100 * low:+6.2f}, {100 * high:+6.2f}]".rjust(18)
