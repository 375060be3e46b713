"""Which files a report covers: the dataset fingerprint, and paths shown without the user's folders."""

from __future__ import annotations

import hashlib
import os
from itertools import chain
from pathlib import Path
from types import EllipsisType

from segviz import remote
from segviz.dataset import Location, PairList, common_folder
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation
from segviz.report.markup import esc
from segviz.store import file_signatures

#: What a ``root`` argument defaults to: find the dataset's folder (:func:`mask_root`).
FIND = ...


def dataset_fingerprint(evaluation: Evaluation, *, root: str | EllipsisType | None = FIND) -> str:
    """SHA-256 (hex) over the sorted ``(relative path, size, mtime_ns)`` of every evaluated mask.

    Paths are taken relative to the deepest folder holding all ground-truth and predicted files and
    written with ``/``, so moving the dataset keeps the fingerprint; changing, adding, removing or
    touching a mask changes it. Photos are not included. Raises :class:`SegvizError` when a file is
    gone. ``root``: that folder when the caller already has it (:func:`mask_root`).

    One ``stat`` per mask (:func:`segviz.store.file_signatures`: in C when the extension is built)
    and one absolute path per folder (not per file): 200,000 masks in well under a second.

    Example:
        >>> from segviz.stats import _example_evaluation        # its masks are not on disk
        >>> dataset_fingerprint(_example_evaluation())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        segviz.errors.SegvizError: gt/a.png: cannot fingerprint the dataset (...); was it moved or changed since it was evaluated?
    """
    files = _unique_masks(evaluation)
    digest = hashlib.sha256()
    if not files:
        return digest.hexdigest()
    root = _root_of(files) if root is FIND else root
    prefix = _prefix(root)
    folders: dict[str, tuple[str, str]] = {}  # a folder as written -> (absolute, relative to root)
    shown_names: list[str | None] = []  # (None: a URL, named by its listing)
    targets: list[str] = []  # what is stat'ed: the absolute path, or the URL
    for name, location in files.items():
        if remote.is_url(location):
            shown_names.append(None)
            targets.append(location)
        else:  # os.path.abspath and relative() once per folder, not per file
            parent, _, base = name.rpartition(os.sep)
            if parent not in folders:
                folder = os.path.join(os.path.dirname(os.path.abspath(name)), "")
                shown = folder[len(prefix) :].replace(os.sep, "/") if folder.startswith(prefix) else folder
                folders[parent] = (folder, shown)
            folder, shown = folders[parent]
            shown_names.append(shown + base)
            targets.append(folder + base)  # = os.path.abspath(name)
    names, sizes, versions = file_signatures(targets)  # (in C when built; a URL's listed version)
    gone = next((i for i, size in enumerate(sizes) if size < 0), None)  # (the first, in order)
    if gone is not None:
        location = list(files.values())[gone]
        raise SegvizError(
            f"{location}: cannot fingerprint the dataset (no such file); was it moved or changed since it was evaluated?"
        )
    entries = [
        (relative(name, root) if shown is None else shown, size, version)
        for shown, name, size, version in zip(shown_names, names, sizes, versions, strict=True)
    ]
    digest.update("".join(f"{rel}\t{size}\t{mtime}\n" for rel, size, mtime in sorted(entries)).encode())
    return digest.hexdigest()


def _unique_masks(evaluation: Evaluation) -> dict[str, Location]:
    """Every ground-truth and predicted mask of ``evaluation`` once, by its path as written (in the
    order ground truth, prediction of each pair in turn).

    The columns of a :class:`~segviz.dataset.PairList` of walked folders or URLs are taken as they
    are, with no :class:`~segviz.dataset.Pair` or ``Path`` per image (1.2 s at 100,000 images; issue
    #17): a walked path is already what ``str(Path(path))`` writes, and a local file is then given
    by that text instead of a ``Path``."""
    pairs = evaluation.pairs
    if isinstance(pairs, PairList) and all(
        url or (url is False and top is not None)
        for url, top in zip(pairs.urls[:2], pairs.tops[:2], strict=True)
    ):
        names = list(chain.from_iterable(zip(pairs.gt, pairs.pred, strict=True)))
        return dict(zip(names, names, strict=True))
    out: dict[str, Location] = {}
    for pair in pairs:
        out.setdefault(str(pair.gt_path), pair.gt_path)
        out.setdefault(str(pair.pred_path), pair.pred_path)
    return out


def mask_files(evaluation: Evaluation) -> list[Location]:
    """Every ground-truth and predicted mask of ``evaluation``, sorted, each once (a ``Path`` for a
    local file, a URL as text)."""
    masks = _unique_masks(evaluation).values()
    return sorted((Path(m) if isinstance(m, str) and not remote.is_url(m) else m for m in masks), key=str)


def mask_root(evaluation: Evaluation) -> str | None:
    """The deepest folder holding every mask of ``evaluation`` (None when it has none)."""
    files = _unique_masks(evaluation)
    return _root_of(files) if files else None


def _root_of(files: dict[str, Location]) -> str:
    """:func:`common_folder` of the files, from one file per folder (the common folder depends on
    the files' folders only): a handful of paths instead of every mask's."""
    one_per_folder: dict[str, Location] = {}
    for name, location in files.items():
        one_per_folder.setdefault(name.rpartition("/" if remote.is_url(location) else os.sep)[0], location)
    return common_folder(list(one_per_folder.values()))


def _prefix(root: str) -> str:
    """The folder ``root`` (an absolute path or a URL) with its separator: what leads its files."""
    return root + ("/" if remote.is_url(root) else os.sep)


def relative(name: str, root: str) -> str:
    """``name`` (an absolute path or a URL) relative to the folder ``root`` holding it, with "/".

    Example:
        >>> relative("https://h/d/gt/a.png", "https://h/d"), relative("https://x/a.png", "https://h/d")
        ('gt/a.png', 'https://x/a.png')
    """
    prefix = _prefix(root)
    return name[len(prefix) :].replace(prefix[-1], "/") if name.startswith(prefix) else name


def without_dataset_folder(evaluation: Evaluation, *, root: str | EllipsisType | None = FIND):
    """An escaper that also leaves the dataset's folder out of the paths in a text (a reason, the
    class table's origin): a shared report must not show a user's home or a server's layout.
    ``root``: that folder (:func:`mask_root`) when the caller already has it."""
    root = mask_root(evaluation) if root is FIND else root
    prefix = _prefix(str(root)) if root is not None else None

    def shown(text: str) -> str:
        return esc(text.replace(prefix, "") if prefix else text)

    return shown


def shown_path(path: Location, root: str | None) -> str:
    """A mask path relative to the dataset's common folder (no user's home in a shared report)."""
    if root is None:
        return str(path)
    return relative(path if remote.is_url(path) else os.path.abspath(path), root)
