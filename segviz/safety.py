"""The rules that keep segviz from harming its user: where it may write, what it may read, and how
untrusted names are shown.

* **Never write into a dataset** (:func:`check_output_path`): an output path is resolved (symbolic
  links and ``..``) and refused when it lies inside a dataset's folder or one of its parts (the
  dataset folder, ``gt/``, ``pred/`` with every model's sub-folder, ``images/``, the class-table
  file), or where no file can be written (a missing folder, a folder where a file is wanted, a file
  as a parent). Checked before any work starts.
* **Never read outside the data root** (:func:`check_inside_root`): when a dataset is opened with an
  ``allowed_root`` (the app's data root or upload folder), a folder or file whose real path leaves it
  (a symbolic link to ``/etc/passwd``, ``../..``) is refused, never opened.
* **Names are data, not markup**: :func:`csv_cell` neutralises spreadsheet formulas in CSV cells
  (OWASP's "CSV injection" advice) and :func:`terminal_text` escapes control characters (newlines,
  ANSI escape sequences, bidirectional overrides) before a name reaches a terminal.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from segviz.errors import OutputPathError, OutsideRootError

if TYPE_CHECKING:
    import pandas as pd

    from segviz.dataset import Dataset

#: The folder names of the dataset layout: a folder given as ``--gt DIR/gt`` protects ``DIR`` too.
LAYOUT_PARTS = ("gt", "pred", "images")

OUTPUT_RULE = "segviz never writes into a dataset folder; choose a path outside it"
ROOT_RULE = "segviz reads nothing outside the data root"


# ---------------------------------------------------------------------- writing
def protected_locations(
    dataset: Dataset | str | os.PathLike | Iterable[str | os.PathLike | None] | None,
) -> list[Path]:
    """The local folders and files an output must stay out of, resolved (links and ``..``).

    ``dataset`` is an opened :class:`~segviz.dataset.Dataset`, a dataset folder, or several
    folders/files (``None`` entries and URLs are left out: nothing is written to a URL). A model
    folder ``…/pred/MODEL`` also protects ``…/pred`` (another model's predictions are data too), and
    a folder ``gt``, ``pred``, ``images`` or ``pred/MODEL`` protects the folder above when that one
    is laid out as a dataset (it holds both ``gt/`` and ``pred/``).

    Example:
        >>> [p.name for p in protected_locations(["/data/city/pred/deeplab"])]
        ['deeplab', 'pred']
    """
    if dataset is None:
        return []
    if isinstance(dataset, str | os.PathLike):
        given: list = [dataset]
    elif hasattr(dataset, "gt_dir"):
        table = getattr(dataset, "table", None)
        origin = getattr(table, "origin", "") if table is not None else ""
        given = [
            getattr(dataset, "root", None),
            dataset.gt_dir,
            dataset.pred_dir,
            dataset.images_dir,
            origin if origin and Path(origin).is_file() else None,
        ]
    else:
        given = list(dataset)
    out: list[Path] = []
    for item in given:
        if item is None or _is_url(item):
            continue
        path = Path(item).resolve()
        out.append(path)
        parent = path.parent
        if parent.name == "pred":  # a model's folder: every model's predictions are data
            out.append(parent)
            parent = parent.parent
        elif path.name not in LAYOUT_PARTS:
            continue
        if (parent / "gt").is_dir() and (parent / "pred").is_dir():  # laid out as a dataset
            out.append(parent)
    return list(dict.fromkeys(out))


def check_output_path(
    path: str | os.PathLike,
    dataset: Dataset | str | os.PathLike | Iterable[str | os.PathLike | None] | None,
    *,
    kind: Literal["file", "folder"] = "file",
    option: str = "output",
) -> Path:
    """Refuse an output path inside the dataset, or where nothing of ``kind`` can be written.

    Args:
        path: where the output goes (any relative path, ``..`` or symbolic link).
        dataset: what must not be written into (see :func:`protected_locations`).
        kind: ``"file"`` (a file is written there: the folder must exist, the path must not be a
            folder, and the file must be creatable or appendable, tried without changing anything)
            or ``"folder"`` (a folder is created there, like the results store: it must not be a
            file, nor lie below one).
        option: the option's name for the message (``--csv``).

    Returns:
        The resolved path.

    Raises:
        OutputPathError: naming the option, the path and the rule.

    Example:
        >>> check_output_path("/data/city/classes.csv", "/data/city", option="--csv")
        Traceback (most recent call last):
        ...
        segviz.errors.OutputPathError: --csv /data/city/classes.csv: inside the dataset folder /data/city; segviz never writes into a dataset folder; choose a path outside it
    """
    resolved = check_not_in_dataset(path, dataset, option=option)
    if kind == "folder":
        _check_folder_target(os.fspath(path), resolved, option)
    else:
        _check_file_target(os.fspath(path), resolved, option)
    return resolved


def check_not_in_dataset(
    path: str | os.PathLike,
    dataset: Dataset | str | os.PathLike | Iterable[str | os.PathLike | None] | None,
    *,
    option: str = "output",
) -> Path:
    """The dataset half of :func:`check_output_path` (touches nothing): the resolved path, or
    :class:`OutputPathError` when it lies inside the dataset.

    Example:
        >>> check_not_in_dataset("/elsewhere/r.json", "/data/city")
        PosixPath('/elsewhere/r.json')
    """
    given = os.fspath(path)
    if given == "":
        raise OutputPathError(f"{option}: empty path")
    resolved = Path(given).resolve()
    for location in protected_locations(dataset):
        if resolved == location or resolved.is_relative_to(location):
            is_file = resolved == location and not location.is_dir()
            where = (
                f"is the dataset's file {location}" if is_file else f"inside the dataset folder {location}"
            )
            shown = given if Path(given).absolute() == resolved else f"{given} (resolves to {resolved})"
            raise OutputPathError(f"{option} {shown}: {where}; {OUTPUT_RULE}")
    return resolved


def _check_file_target(given: str, resolved: Path, option: str) -> None:
    parent = resolved.parent
    if os.path.isdir(given):
        raise OutputPathError(f"{option} {given}: is a folder; give a file name")
    try:
        if os.path.isfile(given):  # appending writes nothing: the bytes and the mtime stay
            with open(given, "ab"):
                return
        if os.path.exists(given):  # a device or pipe, opened by its own name (/dev/stdout), never blocking
            os.close(os.open(given, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)))
            return
    except OSError as exc:
        why = "a named pipe that nothing reads" if exc.errno == errno.ENXIO else exc.strerror or exc
        raise OutputPathError(f"{option} {given}: cannot write this file ({why})") from None
    if not parent.exists():
        raise OutputPathError(f"{option} {given}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"{option} {given}: {parent} is a file, not a folder")
    try:
        with open(resolved, "xb"):
            pass
        resolved.unlink()
    except OSError as exc:
        raise OutputPathError(f"{option} {given}: cannot write this file ({exc.strerror or exc})") from None


def _check_folder_target(given: str, resolved: Path, option: str) -> None:
    if resolved.exists() and not resolved.is_dir():
        raise OutputPathError(f"{option} {given}: is a file, not a folder")
    for ancestor in resolved.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise OutputPathError(f"{option} {given}: {ancestor} is a file, not a folder")
            break


def check_distinct_outputs(outputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse two options that would write the same file (``--json x --csv x``).

    Example:
        >>> check_distinct_outputs({"--json": "a.json", "--csv": "a.csv", "--pdf": None})
    """
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        resolved = Path(path).resolve()
        if resolved in seen:
            raise OutputPathError(
                f"{option} {os.fspath(path)}: the same file as {seen[resolved]}; give two paths"
            )
        seen[resolved] = option


# ---------------------------------------------------------------------- reading
def allowed_roots(root: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The real paths of ``root``: one folder, or several (the app's data root and
    ``SEGVIZ_DATA_ROOTS``); a path is allowed when it resolves inside any of them.

    Example:
        >>> [p.name for p in allowed_roots(["/data/a", "/data/b/../c"])]
        ['a', 'c']
    """
    if isinstance(root, str | os.PathLike):
        return [Path(root).resolve()]
    return [Path(r).resolve() for r in root]


def inside_roots(real: Path, roots: Sequence[Path]) -> bool:
    """True when the real path ``real`` is one of ``roots`` or below one of them."""
    return any(real == r or real.is_relative_to(r) for r in roots)


def roots_text(roots: Sequence[Path]) -> str:
    """How a message names the allowed roots: "the data root /d" (or "/d and 2 other allowed roots")."""
    more = (
        f" and {len(roots) - 1} other allowed root{'s' if len(roots) > 2 else ''}" if len(roots) > 1 else ""
    )
    return f"the data root {roots[0]}{more}"


def check_inside_root(
    path: str | os.PathLike, root: str | os.PathLike | Sequence[str | os.PathLike], *, what: str = "file"
) -> Path:
    """The real path of ``path`` (links and ``..`` resolved), or :class:`OutsideRootError` when it
    leaves ``root`` (one folder, or several: then it must stay inside one of them). ``what`` names
    the thing in the message (``"class table"``).

    Example:
        >>> check_inside_root("/data/root/../etc/passwd", "/data/root", what="class table")
        Traceback (most recent call last):
        ...
        segviz.errors.OutsideRootError: /data/root/../etc/passwd: the class table resolves to /data/etc/passwd, outside the data root /data/root; segviz reads nothing outside the data root
    """
    roots = allowed_roots(root)
    real = Path(path).resolve()
    if not inside_roots(real, roots):
        raise OutsideRootError(
            f"{terminal_text(os.fspath(path))}: the {what} resolves to {terminal_text(str(real))}, "
            f"outside {roots_text(roots)}; {ROOT_RULE}"
        )
    return real


def _is_url(item: object) -> bool:
    return isinstance(item, str) and "://" in item


# ---------------------------------------------------------------------- showing names
#: First characters that make a spreadsheet evaluate a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``= + - @``, a tab or a
    carriage return gets a leading single quote (as OWASP recommends); anything else, numbers
    included, is returned unchanged.

    Example:
        >>> csv_cell("=HYPERLINK(\\"http://x\\")"), csv_cell("road"), csv_cell(-0.5)
        ('\\'=HYPERLINK("http://x")', 'road', -0.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`csv_cell` applied to every text cell, column label and index
    label, for every CSV segviz writes. Numeric columns keep their dtype.

    Example:
        >>> import pandas as pd
        >>> csv_safe_frame(pd.DataFrame({"name": ["@SUM(A1)", "car"], "iou": [-1.0, 0.5]})).to_dict("list")
        {'name': ["'@SUM(A1)", 'car'], 'iou': [-1.0, 0.5]}
    """
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(csv_cell)
    out.columns = _safe_labels(out.columns)
    out.index = _safe_labels(out.index)
    return out


def _safe_labels(index: pd.Index) -> pd.Index:
    import pandas as pd

    if isinstance(index, pd.MultiIndex) or not (index.dtype == object or pd.api.types.is_string_dtype(index)):
        return index
    return pd.Index([csv_cell(v) for v in index], name=csv_cell(index.name))


#: Bidirectional formatting characters: they reorder what follows them on screen.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_text(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape: control
    characters (newline, carriage return, tab, ESC of ANSI sequences, C1 controls), line and
    paragraph separators, bidirectional overrides, and undecodable file-name bytes (``\\xe9``).
    Printable text of any script is kept.

    Example:
        >>> print(terminal_text("a\\nsegviz: 0 skipped\\x1b[2K 東京\\u202e"))
        a\\nsegviz: 0 skipped\\x1b[2K 東京\\u202e
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a file-name byte that is not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == " " or (ch.isprintable() and ch not in _BIDI):
            out.append(ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif unicodedata.category(ch) in ("Cf", "Mn", "Mc", "Zs") and ch not in _BIDI:
            out.append(ch)  # joiners and marks that scripts need (ZWJ in emoji, ZWNJ in Persian)
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
