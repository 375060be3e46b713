"""The command line's confidence parts: ``evaluate --confidence``, ``label-errors`` and ``next``.

Kept apart from :mod:`segviz.cli` (which only hooks them in) so the commands stay small.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from segviz import cli_common
from segviz.confidence import DEFAULT_BINS, ConfidenceResult, evaluate_confidence
from segviz.safety import check_not_in_dataset, csv_safe_frame, terminal_text

COMMANDS = ("label-errors", "next")


def add_evaluate_flags(ev: argparse.ArgumentParser) -> None:
    """``--confidence`` and its options on ``segviz evaluate``."""
    ev.add_argument(
        "--confidence",
        action="store_true",
        help="also read conf/MODEL/ or prob/MODEL/ and report calibration and risk-coverage",
    )
    _confidence_args(ev)


def add_report_flags(rep: argparse.ArgumentParser) -> None:
    """``--confidence`` and its options on ``segviz report`` (a calibration section)."""
    rep.add_argument(
        "--confidence",
        action="store_true",
        help="add a calibration section (reads conf/MODEL/ or prob/MODEL/)",
    )
    _confidence_args(rep)


def _confidence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="calibration bins (default 15)")
    p.add_argument("--conf", metavar="DIR", help="folder of confidence PNGs (default DATASET/conf/MODEL)")
    p.add_argument(
        "--prob", metavar="DIR", help="folder of probability .npy/.npz (default DATASET/prob/MODEL)"
    )
    p.add_argument(
        "--logits",
        action="store_true",
        help='the probability files hold logits (softmax applied); or write {"logits": true} in meta.json',
    )


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``label-errors`` and ``next`` sub-commands."""
    le = sub.add_parser(
        "label-errors",
        help="rank likely label errors: ground truth disagreeing with a confident prediction",
        description="Find pixels whose ground truth disagrees with a confident prediction (per-class "
        "thresholds as in confident learning), group them into regions and write a ranked queue to DIR: "
        "images.csv, regions.csv, label_errors.json and masks/NAME.png. Each is a hypothesis for a person "
        "to check, not a correction.",
    )
    cli_common.dataset_args(le)
    le.add_argument("--model", help="model name when pred/ holds several models")
    le.add_argument("--pred", help="folder of predicted masks")
    le.add_argument(
        "--out", metavar="DIR", required=True, help="folder to write the queue to (outside the dataset)"
    )
    le.add_argument(
        "--rule",
        choices=("auto", "top1", "probabilities"),
        default="auto",
        help="top1: confident disagreement of the top class; probabilities: confident learning on full "
        "probabilities (auto: probabilities when every image has them)",
    )
    le.add_argument("--min-pixels", type=int, default=20, help="smallest region kept (default 20)")
    le.add_argument("--top", type=int, default=10, help="regions listed on stdout (default 10)")
    _confidence_args(le)

    nx = sub.add_parser(
        "next",
        help="rank unlabelled images (prediction and confidence, no ground truth) by expected error",
        description="Rank the images that have a prediction and a confidence map but no ground truth by "
        "expected error, and write the list as CSV.",
    )
    cli_common.dataset_args(nx)
    nx.add_argument("--model", help="model name when pred/ holds several models")
    nx.add_argument("--pred", help="folder of predicted masks")
    nx.add_argument("--out", metavar="PATH", required=True, help="the CSV file to write")
    nx.add_argument(
        "--unlabelled",
        metavar="DIR",
        help="a folder of unlabelled images laid out like a dataset without gt/ (pred/[MODEL]/, conf/[MODEL]/); "
        "default: the dataset's own predictions that have no ground truth",
    )
    nx.add_argument(
        "--by",
        choices=("auto", "model", "uncertainty"),
        default="auto",
        help="model: a ridge regression on per-image confidence features predicts mIoU; uncertainty: "
        "1 - mean confidence (auto: whichever ranks the labelled images better in cross-validation; the model "
        "needs at least 8)",
    )
    nx.add_argument("--top", type=int, default=10, help="images listed on stdout (default 10)")
    _confidence_args(nx)


def handlers() -> dict:
    return {"label-errors": _label_errors, "next": _next}


# ---------------------------------------------------------------------- loading
def load_confidence(
    args: argparse.Namespace, *, unlabelled_ok: bool = False
) -> tuple[ConfidenceResult, object]:
    """Evaluate the dataset with its confidence (problems reported on stderr, as ``cli_common.load``).
    ``unlabelled_ok``: predictions without ground truth are the input (``next``), not skipped samples."""
    if getattr(args, "dask", None):
        raise cli_common.UsageError("--dask cannot be combined with confidence (it runs in local threads)")
    if args.bins < 1:
        raise cli_common.UsageError(f"--bins must be a positive integer (got {args.bins})")
    held: dict = {}

    def evaluator(dataset, *, workers, generated_ignore, store, dask_address=None):
        if unlabelled_ok:
            from segviz.review import unlabelled_files

            keys = set(unlabelled_files(dataset)[0])
            dataset.skipped = [
                p for p in dataset.skipped if not (p.name in keys and "no ground-truth mask" in p.reason)
            ]
        result = evaluate_confidence(
            dataset,
            workers=workers,
            bins=args.bins,
            conf=args.conf,
            prob=args.prob,
            logits=True if args.logits else None,
            store=store,
            generated_ignore=generated_ignore,
        )
        held["result"], held["dataset"] = result, dataset
        return result.evaluation

    cli_common.load(args, model=args.model, pred=args.pred, evaluator=evaluator)
    result = held["result"]
    for p in result.warnings:
        cli_common.say(f"warning: {p.reason}")
    return result, held["dataset"]


# ---------------------------------------------------------------------- evaluate --confidence
def with_confidence(data: dict, result: ConfidenceResult) -> dict:
    """The evaluation's JSON ``data`` with the calibration and risk–coverage keys and, per image, its
    mean confidence and ECE (``segviz evaluate --confidence --json``)."""
    data.update(result.to_dict())
    per_image = result.image_frame()
    for entry, row in zip(data["images"], per_image.itertuples(index=False), strict=True):
        entry["mean_confidence"] = _clean(row.mean_confidence)
        entry["ece"] = _clean(row.ece)
    data["confidence_warnings"] = [{"name": p.name, "message": p.reason} for p in result.warnings]
    return data


def format_confidence(result: ConfidenceResult) -> str:
    """Calibration and risk–coverage in a few lines."""
    cal = result.calibration()
    rc = result.risk_coverage()
    rci = result.risk_coverage(over="images")
    n = int(result.has_confidence.sum())
    lines = [
        f"confidence        {n} of {len(result.images)} images, {cal.pixels:,} pixels, {cal.bins} bins",
        f"ECE / ACE / MCE   {_pct(cal.ece)} / {_pct(cal.ace)} / {_pct(cal.mce)}",
    ]
    cw = result.classwise_ece()
    if cw is not None:
        lines.append(f"class-wise ECE    {_pct(cw['mean'])}")
    lines += [
        f"AURC / E-AURC     {_pct(rc.aurc)} / {_pct(rc.e_aurc)}  (pixels)",
        f"                  {_pct(rci.aurc)} / {_pct(rci.e_aurc)}  (images, by mean confidence)",
        f"AUROC             {_pct(rc.auroc)}  (low confidence as a detector of wrong pixels)",
        cal.sentence(),
        "(percent)",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- label-errors
def _label_errors(args: argparse.Namespace) -> int:
    from segviz.review import HYPOTHESIS, find_label_errors

    out = Path(args.out)
    if args.min_pixels < 1:
        raise cli_common.UsageError(f"--min-pixels must be at least 1 (got {args.min_pixels})")
    _refuse_dataset_root(args, out)
    result, dataset = load_confidence(args)
    if args.rule == "probabilities" and not result.has_probabilities:
        raise cli_common.UsageError(
            "--rule probabilities needs full probabilities (prob/MODEL/) for every image"
        )
    queue = find_label_errors(
        result, dataset, rule=args.rule, min_pixels=args.min_pixels, workers=args.workers
    )
    for p in queue.warnings:
        cli_common.say(f"warning: {p.reason}")
    try:
        queue.write(out)
    except OSError as exc:
        raise cli_common.UsageError(f"{out}: cannot write the queue ({exc.strerror or exc})") from None
    flagged = sum(i["flagged_pixels"] for i in queue.images)
    print(
        f"{len(queue.regions):,} regions ({flagged:,} pixels) in "
        f"{sum(1 for i in queue.images if i['regions'])} of {len(queue.images)} images are likely label errors "
        f"(rule: {queue.rule}); written to {out}"
    )
    print(HYPOTHESIS)
    for r in queue.regions[: max(0, args.top)]:
        labelled = ", ".join(f"{n} {c:,}" for n, c in list(r.labelled_as.items())[:3])
        print(
            terminal_text(
                f"  {r.image} #{r.region}: {r.pixels:,} px labelled {labelled}; the model says {r.model_says} "
                f"(mean confidence {r.mean_confidence:.2f})"
            )
        )
    return (
        cli_common.EXIT_SKIPPED
        if result.evaluation.skipped or not result.has_confidence.all()
        else cli_common.EXIT_OK
    )


def _refuse_dataset_root(args: argparse.Namespace, out: Path) -> None:
    """Outputs never go inside the dataset folder, nor inside its confidence folders when given
    elsewhere (--conf, --prob): the one output rule, :func:`segviz.safety.check_not_in_dataset`."""
    local = [f for f in (args.dataset, args.conf, args.prob) if f is not None and "://" not in str(f)]
    check_not_in_dataset(out, local, option="--out")


# ---------------------------------------------------------------------- next
def _next(args: argparse.Namespace) -> int:
    from segviz.review import rank_next

    _refuse_dataset_root(args, Path(args.out))
    result, dataset = load_confidence(args, unlabelled_ok=args.unlabelled is None)
    if args.unlabelled:
        check_not_in_dataset(args.out, _folders_of(args.unlabelled), option="--out")
    ranked = rank_next(result, dataset, by=args.by, unlabelled=args.unlabelled, model=args.model)
    for p in ranked.warnings:
        cli_common.say(f"warning: {p.reason}")
    try:
        csv_safe_frame(ranked.frame).to_csv(args.out, index=False, float_format="%.6f")
    except OSError as exc:
        raise cli_common.UsageError(f"{args.out}: cannot write the list ({exc.strerror or exc})") from None
    print(ranked.summary() + f"; written to {args.out}")
    for row in ranked.frame.head(max(0, args.top)).itertuples(index=False):
        print(
            terminal_text(
                f"  {row.rank:>3}. {row.image}  expected error {_pct(row.expected_error).strip()} %"
            )
        )
    if ranked.frame.empty:
        cli_common.say("note: no image has a prediction and a confidence map without ground truth")
    return cli_common.EXIT_SKIPPED if ranked.warnings else cli_common.EXIT_OK


def _folders_of(root: str):
    from segviz.dataset import Dataset

    folder = Path(root).resolve()
    return Dataset(folder, folder, None, None, None, [])


def _pct(value: float | None) -> str:
    return "   n/a" if value is None or math.isnan(value) else f"{100 * value:6.2f}"


def _clean(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
