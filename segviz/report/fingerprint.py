"""Which files a report covers: the dataset fingerprint, and paths shown without the user's folders."""

from __future__ import annotations

import hashlib
import os

from segviz import remote
from segviz.dataset import Location, common_folder
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation
from segviz.report.markup import esc
from segviz.store import file_signature


def dataset_fingerprint(evaluation: Evaluation) -> str:
    """SHA-256 (hex) over the sorted ``(relative path, size, mtime_ns)`` of every evaluated mask.

    Paths are taken relative to the deepest folder holding all ground-truth and predicted files and
    written with ``/``, so moving the dataset keeps the fingerprint; changing, adding, removing or
    touching a mask changes it. Photos are not included. Raises :class:`SegvizError` when a file is
    gone.

    Example:
        >>> from segviz.stats import _example_evaluation        # its masks are not on disk
        >>> dataset_fingerprint(_example_evaluation())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        segviz.errors.SegvizError: gt/a.png: cannot fingerprint the dataset (...); was it moved or changed since it was evaluated?
    """
    files = mask_files(evaluation)
    digest = hashlib.sha256()
    if not files:
        return digest.hexdigest()
    root = common_folder(files)
    entries = []
    for f in files:
        name, size, version = file_signature(f)  # version: mtime_ns, or a URL's listed version
        if size < 0:
            raise SegvizError(
                f"{f}: cannot fingerprint the dataset (no such file); was it moved or changed since it was evaluated?"
            )
        entries.append((relative(name, root), size, version))
    for rel, size, mtime in sorted(entries):
        digest.update(f"{rel}\t{size}\t{mtime}\n".encode())
    return digest.hexdigest()


def mask_files(evaluation: Evaluation) -> list[Location]:
    """Every ground-truth and predicted mask of ``evaluation``, sorted, each once."""
    return sorted({p for pair in evaluation.pairs for p in (pair.gt_path, pair.pred_path)}, key=str)


def mask_root(evaluation: Evaluation) -> str | None:
    """The deepest folder holding every mask of ``evaluation`` (None when it has none)."""
    files = mask_files(evaluation)
    return common_folder(files) if files else None


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


def without_dataset_folder(evaluation: Evaluation):
    """An escaper that also leaves the dataset's folder out of the paths in a text (a reason, the
    class table's origin): a shared report must not show a user's home or a server's layout."""
    root = mask_root(evaluation)
    prefix = _prefix(str(root)) if root is not None else None

    def shown(text: str) -> str:
        return esc(text.replace(prefix, "") if prefix else text)

    return shown


def shown_path(path: Location, root: str | None) -> str:
    """A mask path relative to the dataset's common folder (no user's home in a shared report)."""
    if root is None:
        return str(path)
    return relative(path if remote.is_url(path) else os.path.abspath(path), root)
