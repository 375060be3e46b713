"""The ``segviz`` command line: headless evaluation for scripts and CI pipelines.

Commands: ``evaluate`` (one model), ``compare`` (two models, with paired-bootstrap intervals) and
``report`` (a self-contained HTML/PDF report). Exit status: 0 when every sample was evaluated, 1 when
some were skipped (each reported on stderr with its reason), 2 for a usage error (bad arguments,
missing folders, a broken class table).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from segviz import __version__
from segviz.dataset import Dataset, open_dataset
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation, evaluate
from segviz.store import ResultsStore

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or input that stops the command (exit status 2)."""


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
    _anatomy_args(rep)
    return parser


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", nargs="?", help="dataset folder, or its fsspec URL (s3://bucket/val, ...)")
    p.add_argument("--images", help="folder of photos (optional)")
    p.add_argument("--gt", help="folder of ground-truth masks")
    p.add_argument("--classes", help="class table: a CSV file or a preset (voc, cityscapes, ade20k, camvid)")
    p.add_argument(
        "--ignore", help="comma-separated ids to ignore, replacing the table's ignore ids (e.g. 255 or 0,255)"
    )
    p.add_argument("--workers", type=int, default=2, help="reading threads (default 2)")
    p.add_argument(
        "--store", metavar="DIR", help="results store folder (default $SEGVIZ_STORE or ~/.cache/segviz)"
    )
    p.add_argument("--no-store", action="store_true", help="neither read nor write the results store")
    p.add_argument(
        "--dask", metavar="ADDRESS", help="run the per-image work on this Dask scheduler (tcp://host:8786)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dataset is None and (args.gt is None or getattr(args, "pred", None) is None):
        parser.error("give a DATASET folder, or both --gt and --pred")
    command = {"evaluate": _evaluate, "compare": _compare, "report": _report}[args.command]
    try:
        return command(args)
    except (UsageError, SegvizError) as exc:
        print(f"segviz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def load(args: argparse.Namespace, *, model: str | None, pred: str | None = None) -> Evaluation:
    """Open and evaluate the dataset the arguments describe; report problems on stderr."""
    try:
        ignore = _parse_ids(args.ignore) if args.ignore is not None else None
        dataset = open_dataset(
            args.dataset,
            model=model,
            images=args.images,
            gt=args.gt,
            pred=pred,
            classes=args.classes,
            ignore_ids=ignore,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for out in (getattr(args, key, None) for key in ("json", "csv", "out", "pdf")):
        if out is not None:
            _refuse_inside(Path(out), dataset)
    store = None if args.no_store else ResultsStore(args.store)
    if store is not None:
        _refuse_inside(store.root / "x", dataset)
    result = evaluate(
        dataset, workers=args.workers, generated_ignore=ignore or (), store=store, dask_address=args.dask
    )
    if store is not None and store.stats.rebuilt:
        _say(f"warning: results store discarded and rebuilt: {store.stats.rebuilt}")
    label = f"[{model}] " if model and args.command == "compare" else ""
    if dataset.table is None:
        _say(
            f"note: {label}no class table; generated {result.table.num_classes} classes from the ids found "
            f"in the masks (ignore ids: {', '.join(map(str, result.table.ignore_ids)) or 'none'})"
        )
    for w in result.table.warnings:
        _say(f"warning: {w}")
    for p in result.warnings:
        _say(f"warning: {label}{p.reason}")
    for p in result.skipped:
        _say(f"skipped {label}{p.name}: {p.reason}")
    return result


def _evaluate(args: argparse.Namespace) -> int:
    width = _anatomy_width(args)
    result = load(args, model=args.model, pred=args.pred)
    anatomy = _run_anatomy(args, result, width) if args.errors else None
    if args.json:
        data = result.to_dict() if anatomy is None else _with_anatomy(result.to_dict(), anatomy)
        Path(args.json).write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    if args.csv:
        result.class_frame().to_csv(args.csv, index=False, float_format="%.6f")
    if not args.quiet:
        print(format_report(result))
        if anatomy is not None:
            print()
            print(format_anatomy(anatomy))
    skipped = result.skipped or (anatomy is not None and anatomy.skipped)
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
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> int:
    from segviz.compare import compare

    name_a, name_b = args.models
    if name_a == name_b:
        raise UsageError(f"--models: give two different models (got {name_a} twice)")
    a, b = load(args, model=name_a), load(args, model=name_b)
    comparison = compare(a, b, name_a=name_a, name_b=name_b, resamples=args.resamples, seed=args.seed)
    for name in comparison.paired.only_in_a:
        _say(f"skipped {name}: only {name_a} has a prediction for it")
    for name in comparison.paired.only_in_b:
        _say(f"skipped {name}: only {name_b} has a prediction for it")
    if args.json:
        Path(args.json).write_text(json.dumps(comparison.to_dict(), indent=1, allow_nan=False) + "\n")
    if not args.quiet:
        print(format_comparison(comparison))
    skipped = a.skipped or b.skipped or comparison.paired.dropped
    return EXIT_SKIPPED if skipped else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from segviz.report import build_report, write_pdf

    width = _anatomy_width(args)
    result = load(args, model=args.model, pred=args.pred)
    anatomy = _run_anatomy(args, result, width) if args.errors else None
    dataset = Path(args.dataset or args.gt).resolve().name
    model = args.model or (Path(args.pred).name if args.pred else None)
    html = build_report(
        result,
        title=args.title or f"{dataset} — {model or 'predictions'}",
        dataset=dataset,
        model=model,
        resamples=args.resamples,
        seed=args.seed,
        worst=args.worst,
        anatomy=anatomy,
    )
    Path(args.out).write_text(html, encoding="utf-8")
    if args.pdf:
        write_pdf(html, args.pdf)
    print(f"segviz: wrote {args.out}" + (f" and {args.pdf}" if args.pdf else ""))
    return EXIT_SKIPPED if result.skipped else EXIT_OK


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
    return "\n".join(lines)


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
    images = comparison.image_frame().dropna(subset=["delta"])
    lines += [
        "",
        "largest gains (mIoU):  "
        + ", ".join(f"{r.name} {_signed(r.delta).strip()}" for r in images.head(5).itertuples()),
        "largest losses (mIoU): "
        + ", ".join(f"{r.name} {_signed(r.delta).strip()}" for r in images.iloc[::-1].head(5).itertuples()),
        "(points = percent; * = the interval excludes 0)",
    ]
    return "\n".join(lines)


def _side_by_side(left: list[str], right: list[str]) -> list[str]:
    lw = max(len(line) for line in left)
    return [
        f"{left[i] if i < len(left) else '':<{lw}}    {right[i] if i < len(right) else ''}".rstrip()
        for i in range(max(len(left), len(right)))
    ]


def _say(message: str) -> None:
    print(f"segviz: {message}", file=sys.stderr)


def _pct(value: float | None) -> str:
    return "   n/a" if value is None or math.isnan(value) else f"{100 * value:6.2f}"


def _signed(value: float | None) -> str:
    return "    n/a" if value is None or math.isnan(value) else f"{100 * value:+7.2f}"


def _interval(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return f"{'n/a':>18}"
    return f"[{100 * low:+6.2f}, {100 * high:+6.2f}]".rjust(18)


def _parse_ids(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"--ignore must be comma-separated integers (got {text!r})") from None


def _refuse_inside(out: Path, dataset: Dataset) -> None:
    """segviz never writes into a dataset's folders."""
    target = out.resolve().parent
    for folder in (dataset.gt_dir, dataset.pred_dir, dataset.images_dir):
        if isinstance(folder, Path) and target.is_relative_to(folder.resolve()):  # (a URL is not local)
            raise UsageError(f"{out}: refusing to write inside the dataset folder {folder}")
