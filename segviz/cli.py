"""The ``segviz`` command line: headless evaluation for scripts and CI pipelines.

Exit status: 0 when every sample was evaluated, 1 when some were skipped (each reported on stderr
with its reason), 2 for a usage error (bad arguments, missing folders, a broken class table).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from segviz import __version__
from segviz.dataset import open_dataset
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation, evaluate

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE = 0, 1, 2


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
    ev.add_argument("dataset", nargs="?", help="dataset folder")
    ev.add_argument("--model", help="model name when pred/ holds several models")
    ev.add_argument("--images", help="folder of photos (optional)")
    ev.add_argument("--gt", help="folder of ground-truth masks")
    ev.add_argument("--pred", help="folder of predicted masks")
    ev.add_argument("--classes", help="class table: a CSV file or a preset (voc, cityscapes, ade20k, camvid)")
    ev.add_argument(
        "--ignore",
        help="comma-separated ids to ignore, replacing the table's ignore ids (e.g. 255 or 0,255)",
    )
    ev.add_argument("--json", metavar="PATH", help="write the full results as JSON")
    ev.add_argument("--csv", metavar="PATH", help="write the per-class table as CSV")
    ev.add_argument("--workers", type=int, default=2, help="reading threads (default 2)")
    ev.add_argument("--quiet", action="store_true", help="print nothing on stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        return _evaluate(args, parser)
    parser.error(f"unknown command {args.command}")  # pragma: no cover - argparse rejects it first
    return EXIT_USAGE


def _evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.dataset is None and (args.gt is None or args.pred is None):
        parser.error("give a DATASET folder, or both --gt and --pred")
    try:
        ignore = _parse_ids(args.ignore) if args.ignore is not None else None
        dataset = open_dataset(
            args.dataset,
            model=args.model,
            images=args.images,
            gt=args.gt,
            pred=args.pred,
            classes=args.classes,
            ignore_ids=ignore,
        )
        for out in (args.json, args.csv):
            if out is not None:
                _refuse_inside(Path(out), [dataset.gt_dir, dataset.pred_dir, dataset.images_dir])
    except (SegvizError, ValueError) as exc:
        print(f"segviz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    result = evaluate(dataset, workers=args.workers)
    if dataset.table is None and ignore is not None:
        result = _with_generated_ignore(result, dataset, ignore, args.workers)
    if dataset.table is None:
        print(
            f"segviz: note: no class table; generated {result.table.num_classes} classes from the ids "
            f"found in the masks (ignore ids: {', '.join(map(str, result.table.ignore_ids)) or 'none'})",
            file=sys.stderr,
        )
    for w in result.table.warnings:
        print(f"segviz: warning: {w}", file=sys.stderr)
    for p in result.warnings:
        print(f"segviz: warning: {p.reason}", file=sys.stderr)
    for p in result.skipped:
        print(f"segviz: skipped {p.name}: {p.reason}", file=sys.stderr)

    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False) + "\n")
    if args.csv:
        result.class_frame().to_csv(args.csv, index=False, float_format="%.6f")
    if not args.quiet:
        print(format_report(result))
    return EXIT_SKIPPED if result.skipped else EXIT_OK


def _with_generated_ignore(result: Evaluation, dataset, ignore, workers) -> Evaluation:
    from segviz.evaluate import count_pairs, fold, generated_table

    counted, bad = count_pairs(dataset.pairs, None, workers=workers)
    table = generated_table(counted, ignore_ids=ignore)
    return fold(counted, table, skipped=[*dataset.skipped, *bad], warnings=dataset.warnings)


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
    lw = max(len(line) for line in left)
    lines = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        lines.append(f"{a:<{lw}}    {b}".rstrip())
    lines.append("(percent; n/a = undefined: the class is absent from both ground truth and prediction)")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "   n/a" if value is None or math.isnan(value) else f"{100 * value:6.2f}"


def _parse_ids(text: str) -> list[int]:
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--ignore must be comma-separated integers (got {text!r})") from None
    return ids


def _refuse_inside(out: Path, folders: list[Path | None]) -> None:
    """segviz never writes into a dataset's folders."""
    target = out.resolve().parent
    for folder in folders:
        if folder is not None and target.is_relative_to(folder.resolve()):
            raise ValueError(f"{out}: refusing to write inside the dataset folder {folder}")
