"""What every ``segviz`` command shares: exit statuses, the usage error, the dataset arguments,
messages on stderr, checked writes and loading a dataset (the command modules import this one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segviz.classes import describe_table_choice, parse_ignore_ids
from segviz.dataset import Dataset, open_dataset, open_models
from segviz.evaluate import Evaluation, evaluate
from segviz.problems import problem_lines
from segviz.safety import terminal_text
from segviz.store import ResultsStore, shared_key_texts

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
    try:
        ignore = _ignore_ids(args)
        dataset = open_dataset(args.dataset, model=model, pred=pred, **_opening(args, ignore))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    store = None if args.no_store else ResultsStore(args.store, verify=args.verify)
    result = (evaluator or evaluate)(
        dataset, workers=args.workers, generated_ignore=ignore or (), store=store, dask_address=args.dask
    )
    _report_problems(args, dataset, result, store, model, said=set())
    return result


def load_models(args: argparse.Namespace, *, models: list[str]) -> list[Evaluation]:
    """:func:`load` of each model of the dataset (``compare``), in turn, with the same results and
    messages, but the ground truth listed and stat'ed once for all (:func:`segviz.dataset.open_models`,
    :func:`segviz.store.shared_key_texts`; issue #17), and each class-table warning said once."""
    try:
        ignore = _ignore_ids(args)
        datasets = open_models(args.dataset, models=models, **_opening(args, ignore))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # (every file's size and mtime taken before any counting, as a single load takes them)
    keys = [None] * len(datasets) if args.no_store else shared_key_texts([d.pairs for d in datasets])
    said: set[str] = set()
    results = []
    for model, dataset, model_keys in zip(models, datasets, keys, strict=True):
        store = None if args.no_store else ResultsStore(args.store, verify=args.verify)
        result = evaluate(
            dataset,
            workers=args.workers,
            generated_ignore=ignore or (),
            store=store,
            dask_address=args.dask,
            keys=model_keys,
        )
        _report_problems(args, dataset, result, store, model, said=said)
        results.append(result)
    return results


def _ignore_ids(args: argparse.Namespace) -> list[int] | None:
    return list(parse_ignore_ids(args.ignore)) if args.ignore is not None else None


def _opening(args: argparse.Namespace, ignore: list[int] | None) -> dict:
    """The options of :func:`segviz.dataset.open_dataset` / ``open_models`` the arguments give."""
    return {"images": args.images, "gt": args.gt, "classes": args.classes, "ignore_ids": ignore}


def _report_problems(
    args: argparse.Namespace,
    dataset: Dataset,
    result: Evaluation,
    store: ResultsStore | None,
    model: str | None,
    *,
    said: set[str],
) -> None:
    """One model's problems on stderr; a class-table warning in ``said`` (already said for another
    model of the same table) is not said again."""
    for line in store.stats.warnings if store is not None else ():  # a damaged or unwritable store
        say(f"warning: {line}")
    label = f"[{model}] " if model and args.command == "compare" else ""
    if dataset.table is None:
        say(f"note: {label}{describe_table_choice(result.table).text}")
    for w in [w for w in result.table.warnings if w not in said]:
        say(f"warning: {w}")
    said.update(result.table.warnings)
    # one line per kind of problem (400 photos of the wrong size: one line); all of them in --json
    for line in problem_lines(result.warnings):
        say(f"warning: {label}{line}")
    for line in problem_lines(result.skipped, with_names=True):
        say(f"skipped {label}{line}")


def say(message: str) -> None:
    """One line on stderr; names from the data cannot break it (control characters escaped)."""
    print(f"segviz: {terminal_text(message)}", file=sys.stderr)


def write(path: str, option: str, text: str) -> None:
    """Write an output checked by :func:`check_arguments`; a failure now (disk full) is exit 2."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None
