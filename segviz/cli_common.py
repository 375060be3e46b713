"""What every ``segviz`` command shares: exit statuses, the usage error, the dataset arguments,
messages on stderr, checked writes and loading a dataset (the command modules import this one)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from segviz.classes import describe_table_choice, parse_ignore_ids
from segviz.dataset import open_dataset
from segviz.evaluate import Evaluation, evaluate
from segviz.problems import problem_lines
from segviz.safety import terminal_text
from segviz.store import ResultsStore

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or input that stops the command (exit status 2)."""


def dataset_args(p: argparse.ArgumentParser) -> None:
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
        "--verify",
        action="store_true",
        help="check every stored result against its masks' content hashes (reads every mask file once)",
    )
    p.add_argument(
        "--dask", metavar="ADDRESS", help="run the per-image work on this Dask scheduler (tcp://host:8786)"
    )


def load(
    args: argparse.Namespace, *, model: str | None, pred: str | None = None, evaluator=None
) -> Evaluation:
    """Open and evaluate the dataset the arguments describe; report problems on stderr.
    ``evaluator``: called instead of :func:`segviz.evaluate.evaluate` (same arguments)."""
    return _report_loaded(args, model, *_open_and_evaluate(args, model, pred, evaluator))


def load_models(
    args: argparse.Namespace, models: Sequence[str], *, aggregates: bool = False
) -> list[Evaluation]:
    """:func:`load` of each model, in a thread each (listing, ``stat``, the store's reads and the
    array work release the GIL: two models' reopens overlap on two cores); the problems are
    reported on stderr model by model in the order given, as one :func:`load` after another does.
    A usage error of a model is raised after the problems of the models before it.
    ``aggregates``: also build each evaluation's per-image aggregates
    (:meth:`Evaluation.image_count_matrix`, what a comparison reads) in its thread."""
    if args.dask or len(models) < 2:
        out = [load(args, model=m) for m in models]
        for ev in out if aggregates else ():
            ev.image_count_matrix()
        return out
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(models)) as pool:
        futures = [pool.submit(_open_and_evaluate, args, m, None, None, aggregates) for m in models]
    out = []
    for model, future in zip(models, futures, strict=True):
        out.append(_report_loaded(args, model, *future.result()))
    return out


def _open_and_evaluate(
    args: argparse.Namespace, model: str | None, pred: str | None, evaluator, aggregates: bool = False
):
    try:
        ignore = list(parse_ignore_ids(args.ignore)) if args.ignore is not None else None
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
    store = None if args.no_store else ResultsStore(args.store, verify=args.verify)
    result = (evaluator or evaluate)(
        dataset, workers=args.workers, generated_ignore=ignore or (), store=store, dask_address=args.dask
    )
    if aggregates:
        result.image_count_matrix()
    return dataset, store, result


def _report_loaded(
    args: argparse.Namespace, model: str | None, dataset, store: ResultsStore | None, result: Evaluation
) -> Evaluation:
    for line in store.stats.warnings if store is not None else ():  # a damaged or unwritable store
        say(f"warning: {line}")
    label = f"[{model}] " if model and args.command == "compare" else ""
    if dataset.table is None:
        say(f"note: {label}{describe_table_choice(result.table).text}")
    for w in result.table.warnings:
        say(f"warning: {w}")
    # one line per kind of problem (400 photos of the wrong size: one line); all of them in --json
    for line in problem_lines(result.warnings):
        say(f"warning: {label}{line}")
    for line in problem_lines(result.skipped, with_names=True):
        say(f"skipped {label}{line}")
    return result


def say(message: str) -> None:
    """One line on stderr; names from the data cannot break it (control characters escaped)."""
    print(f"segviz: {terminal_text(message)}", file=sys.stderr)


def write(path: str, option: str, text: str) -> None:
    """Write an output checked by :func:`check_arguments`; a failure now (disk full) is exit 2."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None
