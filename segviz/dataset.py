"""Finding a dataset's files and pairing them.

Layout (every part can be overridden)::

    DATASET/
      classes.csv   id,name,r,g,b[,ignore]
      images/       photos (jpg, png, ...)
      gt/           ground-truth masks
      pred/         predicted masks of one model, or pred/MODEL_NAME/ for several models

Files are matched by their path relative to their folder, without extension and without known
dataset suffixes (Cityscapes' ``_leftImg8bit`` / ``_gtFine_labelIds`` …), so ``images/a/x.jpg``,
``gt/a/x.png`` and ``pred/a/x.png`` form one pair (names compared in Unicode NFC form, so a
macOS-made ``café.png`` matches a ``café.png`` made elsewhere). Folders are walked without following
symbolic links to folders (no loops); files that are not regular files (broken or looping links,
pipes) and file names that are not valid UTF-8 are reported, never opened. Nothing is ever written
into the dataset. Opened with ``allowed_root`` (the app's data root), a folder, class table, mask or
photo whose real path leaves that root (a symbolic link pointing out of it) is refused, never read
(:func:`segviz.safety.check_inside_root`). Any part may be an fsspec URL (``s3://bucket/val``): see :mod:`segviz.remote`.
"""

from __future__ import annotations

import errno
import operator
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from segviz import remote
from segviz.classes import ClassTable, Encoding
from segviz.errors import ClassTableError, DatasetError
from segviz.masks import MASK_SUFFIXES
from segviz.safety import ROOT_RULE, allowed_roots, check_inside_root, inside_roots, roots_text

#: A local folder or file, or the URL of one (``s3://…``; read through fsspec, see segviz.remote).
Location = Path | str

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")

#: Dataset suffixes stripped from stems before matching, longest first.
KNOWN_SUFFIXES = (
    "_gtFine_labelTrainIds",
    "_gtCoarse_labelTrainIds",
    "_gtFine_labelIds",
    "_gtCoarse_labelIds",
    "_gtFine_trainIds",
    "_labelTrainIds",
    "_leftImg8bit",
    "_labelIds",
    "_trainIds",
    "_L",  # CamVid's label files
)
#: Suffixes whose masks hold source label ids (Cityscapes labelIds), not class ids.
LABEL_ID_SUFFIXES = ("_labelIds",)
_SUFFIX_RE = re.compile("(" + "|".join(map(re.escape, KNOWN_SUFFIXES)) + ")$")
_STRIPPED = (*KNOWN_SUFFIXES, "\n")  # (stems _SUFFIX_RE may change: "$" also matches before a final newline)


@dataclass(frozen=True)
class Pair:
    """One evaluable sample: a ground-truth mask, a prediction and (optionally) the photo."""

    name: str
    gt_path: Location
    pred_path: Location
    image_path: Location | None = None
    gt_encoding: Encoding = "ids"
    pred_encoding: Encoding = "ids"


class PairList(Sequence[Pair]):
    """A dataset's pairs held as columns of strings (issue #17): :class:`Pair` objects, and the
    ``Path`` objects in them, are built only for the pairs a caller looks at; the evaluation of a
    large dataset reads the columns (names, paths, encodings) instead.

    It behaves as a read-only list of :class:`Pair` (``len``, indexing, slicing, iteration, ``==``
    with a list of the same pairs).

    Args:
        names, gt, pred: one entry per pair; ``gt`` / ``pred`` the files' paths as text (local
            paths as walked, or URLs).
        images: the photo of each pair, or None.
        gt_encoding, pred_encoding: each pair's mask encodings.
        urls: whether the (gt, pred, images) columns hold URLs (kept as text) rather than local
            paths (given to callers as ``Path``); None: either, per path (:meth:`of`).
        tops: for a local column walked below one folder, (that folder as walked, the same made
            absolute, each with a final "/"): every path of the column then starts with the
            first, and its absolute path is one string concatenation; None otherwise.

    Example:
        >>> pl = PairList(["a"], ["gt/a.png"], ["pred/a.png"], [None], ["ids"], ["ids"])
        >>> pl[0] == Pair("a", Path("gt/a.png"), Path("pred/a.png"))
        True
        >>> len(pl), pl == [Pair("a", Path("gt/a.png"), Path("pred/a.png"))]
        (1, True)
        >>> pl.absolute("gt")[0] == os.path.abspath("gt/a.png")
        True
    """

    __slots__ = ("_built", "gt", "gt_encoding", "images", "names", "pred", "pred_encoding", "tops", "urls")

    def __init__(
        self,
        names: list[str],
        gt: list[str],
        pred: list[str],
        images: list[str | None],
        gt_encoding: list[str],
        pred_encoding: list[str],
        *,
        urls: tuple[bool | None, bool | None, bool | None] = (False, False, False),
        tops: tuple[tuple[str, str] | None, ...] = (None, None, None),
    ) -> None:
        self.names, self.gt, self.pred, self.images = names, gt, pred, images
        self.gt_encoding, self.pred_encoding = gt_encoding, pred_encoding
        self.urls, self.tops = urls, tops
        self._built: list[Pair] | None = None

    @classmethod
    def of(cls, pairs: Iterable[Pair]) -> PairList:
        """The columns of existing :class:`Pair` objects (kept as they are)."""
        if isinstance(pairs, PairList):
            return pairs
        pairs = list(pairs)
        text = [os.fspath, os.fspath, lambda p: None if p is None else os.fspath(p)]
        out = cls(
            [p.name for p in pairs],
            [text[0](p.gt_path) for p in pairs],
            [text[1](p.pred_path) for p in pairs],
            [text[2](p.image_path) for p in pairs],
            [p.gt_encoding for p in pairs],
            [p.pred_encoding for p in pairs],
            urls=(None, None, None),  # (per path: see absolute)
        )
        out._built = pairs
        return out

    def __len__(self) -> int:
        return len(self.names)

    def _pair(self, i: int) -> Pair:
        gt_url, pred_url, image_url = self.urls
        image = self.images[i]
        return Pair(
            self.names[i],
            self.gt[i] if gt_url else Path(self.gt[i]),
            self.pred[i] if pred_url else Path(self.pred[i]),
            None if image is None else (image if image_url else Path(image)),
            self.gt_encoding[i],
            self.pred_encoding[i],
        )

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.take(range(len(self))[index])
        if self._built is not None:
            return self._built[index]
        n = len(self.names)
        if not -n <= index < n:
            raise IndexError("pair index out of range")
        return self._pair(index % n)

    def __iter__(self):
        if self._built is None:
            self._built = [self._pair(i) for i in range(len(self.names))]
        return iter(self._built)

    def _columns(self) -> tuple:
        return (self.urls, self.names, self.gt, self.pred, self.images, self.gt_encoding, self.pred_encoding)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PairList) and self._columns() == other._columns():
            return True
        if isinstance(other, (PairList, list, tuple)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # (a list: not hashable)

    def __repr__(self) -> str:
        shown = ", ".join(repr(self[i]) for i in range(min(2, len(self))))
        return f"PairList([{shown}{', ...' if len(self) > 2 else ''}], {len(self)} pairs)"

    def take(self, indices: Iterable[int]) -> PairList:
        """The pairs at ``indices`` (any order), as a PairList."""
        idx = list(indices)
        out = PairList(
            *([col[i] for i in idx] for col in (self.names, self.gt, self.pred, self.images)),
            [self.gt_encoding[i] for i in idx],
            [self.pred_encoding[i] for i in idx],
            urls=self.urls,
            tops=self.tops,
        )
        if self._built is not None:
            out._built = [self._built[i] for i in idx]
        return out

    def absolute(self, column: Literal["gt", "pred", "images"]) -> list[str]:
        """Each pair's file in ``column`` as an absolute path (``os.path.abspath``; a URL as it is;
        "" for no photo): one string concatenation per file for a walked folder."""
        i = ("gt", "pred", "images").index(column)
        values = getattr(self, column)
        if self.urls[i] is None:  # (columns of given Pair objects: URLs and paths mixed)
            return ["" if v is None else v if remote.is_url(v) else os.path.abspath(v) for v in values]
        if self.urls[i]:
            return ["" if v is None else v for v in values]
        top = self.tops[i]
        if top is not None:  # (every path of the column starts with the walked prefix)
            walked, absolute = top
            n = len(walked)
            if walked == absolute:  # (walked below an absolute folder: already absolute)
                return values if None not in values else ["" if v is None else v for v in values]
            if None not in values:
                return [absolute + v[n:] for v in values]
            return ["" if v is None else absolute + v[n:] for v in values]
        return ["" if v is None else os.path.abspath(v) for v in values]


@dataclass(frozen=True)
class Problem:
    """A file or sample that could not be used, and why."""

    name: str
    reason: str


@dataclass
class Dataset:
    """The resolved parts of a dataset and its pairs.

    ``table`` is None when no class table was given or found: evaluation then generates one from the
    ids found in the masks. ``skipped`` lists samples that cannot be evaluated (with the reason);
    ``warnings`` lists problems that do not stop evaluation.
    """

    gt_dir: Location
    pred_dir: Location
    images_dir: Location | None
    table: ClassTable | None
    model: str | None
    pairs: Sequence[Pair]  # a PairList from open_dataset; any list of Pair works
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    root: Location | None = None  # the dataset folder, when one was given


def list_models(root: str | Path) -> list[str]:
    """Model names under ``root/pred``: its sub-folders, or ``[]`` if it holds masks directly."""
    if remote.is_url(root):
        pred_url = remote.join(root, "pred")
        if not remote.is_dir(pred_url):
            return []
        folders, files = remote.entries(pred_url)
        return [] if any(f.lower().endswith(MASK_SUFFIXES) for f in files) else folders
    pred = Path(root) / "pred"
    if not pred.is_dir():
        return []
    if any(p.is_file() and p.suffix.lower() in MASK_SUFFIXES for p in pred.iterdir()):
        return []
    return sorted(p.name for p in pred.iterdir() if p.is_dir() and not p.name.startswith("."))


def open_dataset(
    root: str | Path | None = None,
    *,
    model: str | None = None,
    images: str | Path | None = None,
    gt: str | Path | None = None,
    pred: str | Path | None = None,
    classes: str | Path | ClassTable | None = None,
    ignore_ids: Iterable[int] | None = None,
    allowed_root: str | Path | Sequence[str | Path] | None = None,
) -> Dataset:
    """Resolve a dataset's folders and class table and pair its files.

    ``allowed_root``: when given (the app passes its data root, or an upload's folder), every folder
    and file read must resolve inside it (or inside one of several folders, when a sequence is given:
    the app's data root and ``SEGVIZ_DATA_ROOTS``): a folder outside raises :class:`OutsideRootError`, a class
    table outside :class:`ClassTableError`, a mask outside skips its sample and a photo outside is
    left out, each with a message naming the file and the rule.

    Raises :class:`DatasetError` when a required folder is missing or empty, or the model is
    ambiguous; problems with single files end up in ``skipped`` / ``warnings`` instead.
    (Several models of one dataset: :func:`open_models` lists the ground truth once for all.)
    """
    return _open(
        root,
        [(model, pred)],
        images=images,
        gt=gt,
        classes=classes,
        ignore_ids=ignore_ids,
        allowed_root=allowed_root,
    )[0]


def open_models(
    root: str | Path | None = None,
    *,
    models: Sequence[str],
    images: str | Path | None = None,
    gt: str | Path | None = None,
    classes: str | Path | ClassTable | None = None,
    ignore_ids: Iterable[int] | None = None,
    allowed_root: str | Path | Sequence[str | Path] | None = None,
) -> list[Dataset]:
    """Several models of one dataset (``root/pred/MODEL/`` for each of ``models``), each as
    ``open_dataset(root, model=MODEL, ...)`` opens it — the same pairs, skipped samples and warnings,
    in the same order — but the folders, the class table, the ground-truth and photo folders are
    resolved, walked and indexed once, and the pairs' ground-truth, photo and name columns are
    built once and shared (read-only) by the datasets whose files match the same keys (issue #17).

    Raises :class:`DatasetError` as :func:`open_dataset` does, for the first model (in the order
    given) that cannot be opened; nothing is returned then.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for part in ("gt", "pred/m1", "pred/m2"):
        ...     (root / part).mkdir(parents=True)
        ...     (root / part / "a.png").touch()
        >>> one, two = open_models(root, models=["m1", "m2"])
        >>> one.model, two.model, one.pairs == open_dataset(root, model="m1").pairs
        ('m1', 'm2', True)
        >>> one.pairs.gt is two.pairs.gt  # (one ground-truth column for both)
        True
    """
    return _open(
        root,
        [(model, None) for model in models],
        images=images,
        gt=gt,
        classes=classes,
        ignore_ids=ignore_ids,
        allowed_root=allowed_root,
    )


def _open(
    root: str | Path | None,
    specs: Sequence[tuple[str | None, str | Path | None]],
    *,
    images: str | Path | None,
    gt: str | Path | None,
    classes: str | Path | ClassTable | None,
    ignore_ids: Iterable[int] | None,
    allowed_root: str | Path | Sequence[str | Path] | None,
) -> list[Dataset]:
    """:func:`open_dataset` of each (model, pred folder) of ``specs`` on one listing of the
    ground truth and photos."""
    root_path = _location(root) if root is not None else None
    gt_dir = _resolve_dir(gt, root_path, "gt", required=True)
    pred_dirs = [_resolve_pred_dir(pred, root_path, model) for model, pred in specs]
    images_dir = _resolve_dir(images, root_path, "images", required=False)
    if allowed_root is not None:
        for folder, what in (
            (root_path, "dataset folder"),
            (gt_dir, "gt folder"),
            *((pred_dir, "pred folder") for pred_dir in pred_dirs),
            (images_dir, "images folder"),
        ):
            if isinstance(folder, Path):
                check_inside_root(folder, allowed_root, what=what)
    table = _resolve_table(classes, root_path, allowed_root)
    if table is not None and ignore_ids is not None:
        table = table.with_ignore(ignore_ids)

    listing = _Listing(gt_dir, images_dir)
    listing.gt_files = _index_texts(
        gt_dir, MASK_SUFFIXES, "ground-truth", listing.gt_skipped, listing.gt_warnings, allowed_root
    )
    preds = []
    for pred_dir in pred_dirs:
        skipped: list[Problem] = []
        warnings: list[Problem] = []
        found = _index_texts(pred_dir, MASK_SUFFIXES, "prediction", skipped, warnings, allowed_root)
        preds.append((pred_dir, found, skipped, warnings))
    if images_dir:
        listing.image_files = _index_texts(
            images_dir, IMAGE_SUFFIXES, "image", listing.photo_problems, listing.image_warnings, allowed_root
        )
    if not listing.gt_files:
        raise DatasetError(f"{gt_dir}: no ground-truth masks found ({', '.join(MASK_SUFFIXES)})")
    out = []
    for (model, _), (pred_dir, pred_files, skipped, warnings) in zip(specs, preds, strict=True):
        if not pred_files:
            raise DatasetError(f"{pred_dir}: no predicted masks found ({', '.join(MASK_SUFFIXES)})")
        pred_path = PurePosixPath(pred_dir) if isinstance(pred_dir, str) else pred_dir  # a URL's last parts
        model_name = model or (pred_path.name if pred_path.parent.name == "pred" else None)
        pairs = listing.pair(pred_dir, pred_files, skipped, warnings)
        _check_label_ids(pairs, table)
        out.append(
            Dataset(gt_dir, pred_dir, images_dir, table, model_name, pairs, skipped, warnings, root_path)
        )
    return out


class _Listing:
    """The ground-truth and photo folders of a dataset, indexed once (:func:`_index_texts`), and
    the pairs' columns that come from them, built once for every model whose predictions match
    the same keys."""

    def __init__(self, gt_dir: Location, images_dir: Location | None) -> None:
        self.gt_dir, self.images_dir = gt_dir, images_dir
        self.gt_files: dict[str, str] = {}
        self.image_files: dict[str, str] = {}
        self.gt_skipped: list[Problem] = []
        self.gt_warnings: list[Problem] = []
        self.image_warnings: list[Problem] = []  # (files of another kind)
        self.photo_problems: list[Problem] = []  # a bad photo never stops evaluation: warnings
        self._columns: tuple | None = None

    def columns(self) -> tuple[list[str], list[str], list[str], list[str | None]]:
        """(keys, ground-truth paths, their encodings, photos) of every ground-truth key, sorted;
        built on the first call and shared by every model that has exactly these keys."""
        if self._columns is None:
            gt_files, image_files = self.gt_files, self.image_files
            keys = sorted(gt_files)  # (walk order: nearly sorted already)
            gts = [gt_files[k] for k in keys]
            photos = [image_files[k] for k in keys] if image_files else [None] * len(keys)
            self._columns = (keys, gts, _encodings(gts), photos)
        return self._columns

    def pair(
        self, pred_dir: Location, pred_files: dict[str, str], skipped: list[Problem], warnings: list[Problem]
    ) -> PairList:
        """The pairs of one model's predictions; the listing's problems go first into ``skipped``
        and ``warnings`` (the order :func:`open_dataset` always gave them), then the pairing's."""
        gt_dir, images_dir, gt_files, image_files = (
            self.gt_dir,
            self.images_dir,
            self.gt_files,
            self.image_files,
        )
        skipped[:0] = self.gt_skipped
        warnings[:0] = self.gt_warnings
        warnings.extend(self.image_warnings)
        warnings.extend(self.photo_problems)
        bad_photos = {p.name for p in self.photo_problems}
        ambiguous = {p.name for p in skipped}
        folders = (gt_dir, pred_dir, images_dir)
        urls = tuple(isinstance(f, str) for f in folders)
        tops = tuple(_tops(f) for f in folders)
        if (
            not ambiguous
            and pred_files.keys() == gt_files.keys()
            and (images_dir is None or image_files.keys() == gt_files.keys())
        ):  # (every key has its files: the listing's columns, and one pass for the predictions)
            names, gts, gt_encoding, photos = self.columns()
            preds = [pred_files[k] for k in names]
            return PairList(names, gts, preds, photos, gt_encoding, _encodings(preds), urls=urls, tops=tops)
        # Columns of text, no Pair or Path per file (issue #17): see PairList.
        names: list[str] = []
        gts: list[str] = []
        preds: list[str] = []
        photos: list[str | None] = []
        gt_get, pred_get, image_get = gt_files.get, pred_files.get, image_files.get
        for key in sorted(gt_files.keys() | pred_files.keys() | image_files.keys()):
            g, p, im = gt_get(key), pred_get(key), image_get(key)
            if g is None or p is None or key in ambiguous:
                if key in ambiguous:
                    continue
                if g is None:
                    where = _shown(p if p is not None else im)
                    skipped.append(Problem(key, f"{where}: no ground-truth mask in {gt_dir}"))
                else:
                    skipped.append(Problem(key, f"{_shown(g)}: no prediction in {pred_dir}"))
                continue
            if im is None and images_dir is not None and key not in bad_photos:
                warnings.append(Problem(key, f"{_shown(g)}: no photo in {images_dir} (shown without one)"))
            names.append(key)
            gts.append(g)
            preds.append(p)
            photos.append(im)
        return PairList(names, gts, preds, photos, _encodings(gts), _encodings(preds), urls=urls, tops=tops)


def sample_key(relative: str) -> str:
    """Matching key of a file: relative path without extension and known dataset suffixes.

    Example:
        >>> sample_key("frankfurt/frankfurt_000000_000294_gtFine_labelIds.png")
        'frankfurt/frankfurt_000000_000294'
    """
    if not relative.isascii():  # (NFC changes nothing in ASCII text)
        relative = unicodedata.normalize("NFC", relative)
    stem = os.path.splitext(relative)[0]
    return _SUFFIX_RE.sub("", stem) if stem.endswith(_STRIPPED) else stem


def common_folder(paths: Sequence[Location]) -> str:
    """The deepest folder holding every file: an absolute path, or a URL for URLs."""
    if all(remote.is_url(p) for p in paths):
        parts = [remote.parent(p).split("/") for p in paths]
        common = parts[0]
        for other in parts[1:]:
            n = 0
            while n < min(len(common), len(other)) and common[n] == other[n]:
                n += 1
            common = common[:n]
        return "/".join(common)
    return os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])


def _check_label_ids(pairs: Sequence[Pair], table: ClassTable | None) -> None:
    """Masks named ``*_labelIds`` hold source label ids: without a table that maps them to class
    ids (the ``cityscapes`` preset), they cannot be read as class ids without guessing."""
    if table is not None and table.source_ids is not None:
        return
    columns = PairList.of(pairs)
    for paths, encodings in ((columns.gt, columns.gt_encoding), (columns.pred, columns.pred_encoding)):
        if "label_ids" not in encodings:
            continue
        path = paths[encodings.index("label_ids")]
        has = (
            "no class table" if table is None else f"the class table ({table.origin}) has no labelId mapping"
        )
        raise DatasetError(
            f"{_shown(path)}: a *_labelIds mask holds Cityscapes label ids, not class ids, but {has}; "
            "use --classes cityscapes (or a classes.csv with a labelId mapping), or rename the files"
        )


def _encodings(paths: list[str]) -> list[Encoding]:
    """:func:`_encoding_of` of each path (one test of the whole column for the usual case)."""
    if "_labelIds" not in "\n".join(paths):
        return ["ids"] * len(paths)
    return [_encoding_of(p) for p in paths]


def _shown(path: str | None) -> Location | None:
    """A file of a walked folder as messages showed it before (a ``Path`` for a local file)."""
    if path is None or remote.is_url(path):
        return path
    return Path(path)


def _tops(folder: Location | None) -> tuple[str, str] | None:
    """(prefix of the paths walked below a local ``folder``, the same prefix made absolute)."""
    if folder is None or isinstance(folder, str):
        return None
    walked, absolute = os.fspath(folder), os.path.abspath(folder)
    return (
        walked if walked.endswith("/") else walked + "/",
        absolute if absolute.endswith("/") else absolute + "/",
    )


def _encoding_of(path: Path) -> Encoding:
    stem = os.path.splitext(os.path.basename(path))[0]
    return "label_ids" if stem.endswith(LABEL_ID_SUFFIXES) else "ids"


def _location(path: str | Path) -> Location:
    """A URL stays text (fsspec reads it, see :mod:`segviz.remote`); anything else is a Path."""
    return path if remote.is_url(path) else Path(path)


def _child(folder: Location, name: str) -> Location:
    return remote.join(folder, name) if isinstance(folder, str) else folder / name


def _is_dir(folder: Location) -> bool:
    return remote.is_dir(folder) if isinstance(folder, str) else folder.is_dir()


def _resolve_dir(
    given: str | Path | None, root: Location | None, part: str, *, required: bool
) -> Location | None:
    if given is not None:
        path = _location(given)
        if not _is_dir(path):
            raise DatasetError(f"{path}: --{part} folder does not exist")
        return path
    if root is None:
        if required:
            raise DatasetError(f"no dataset folder and no --{part} folder given")
        return None
    if not _is_dir(root):
        raise DatasetError(f"{root}: dataset folder does not exist")
    path = _child(root, part)
    if _is_dir(path):
        return path
    if required:
        raise DatasetError(f"{root}: no '{part}/' folder (expected {path}, or pass --{part} DIR)")
    return None


def _resolve_pred_dir(given: str | Path | None, root: Location | None, model: str | None) -> Location:
    if given is not None:
        path = _location(given)
        if not _is_dir(path):
            raise DatasetError(f"{path}: --pred folder does not exist")
        return path
    pred = _resolve_dir(None, root, "pred", required=True)
    assert pred is not None and root is not None
    models = list_models(root)
    if model is not None:
        if model not in models:
            listed = ", ".join(models) if models else "none: pred/ holds masks directly"
            raise DatasetError(f"{pred}: no model {model!r} (models: {listed})")
        return _child(pred, model)
    if len(models) > 1:
        raise DatasetError(f"{pred}: several models ({', '.join(models)}); choose one with --model NAME")
    return _child(pred, models[0]) if models else pred


def find_class_table(root: str | Path) -> ClassTable | None:
    """The class table ``segviz evaluate DATASET`` uses without ``--classes``: ``DATASET/classes.csv``
    (a local path or a URL), or None when there is none — evaluation then generates one from the ids
    found in the masks (:func:`segviz.evaluate.generated_table`); a preset is never guessed.

    Raises :class:`ClassTableError` when the file exists but is broken.

    Example:
        >>> import tempfile
        >>> find_class_table(tempfile.mkdtemp()) is None
        True
    """
    return _resolve_table(None, _location(root))


def _resolve_table(
    classes: str | Path | ClassTable | None,
    root: Location | None,
    allowed_root: str | Path | Sequence[str | Path] | None = None,
) -> ClassTable | None:
    if isinstance(classes, ClassTable):
        return classes
    if remote.is_url(classes) or (classes is None and isinstance(root, str)):
        url = classes if classes is not None else remote.join(root, "classes.csv")
        if classes is None and not remote.is_file(url):
            return None
        try:
            text = remote.read_bytes(url).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ClassTableError(f"{url}: unreadable class table ({exc})") from None
        return ClassTable.from_csv_text(text, origin=url)
    if classes is not None:
        return ClassTable.load(classes, allowed_root=allowed_root)
    if root is not None and (root / "classes.csv").is_file():
        return ClassTable.from_csv(root / "classes.csv", allowed_root=allowed_root)
    return None


def _index_folder(
    folder: Location,
    suffixes: tuple[str, ...],
    kind: str,
    skipped: list[Problem],
    warnings: list[Problem],
    allowed_root: str | Path | Sequence[str | Path] | None = None,
) -> dict[str, Location]:
    """Map matching key → file (a ``Path``, or a URL) for every file of the right kind below
    ``folder``; see :func:`_index_texts`."""
    found = _index_texts(folder, suffixes, kind, skipped, warnings, allowed_root)
    if isinstance(folder, str):
        return found
    return {key: Path(path) for key, path in found.items()}


def _index_texts(  # noqa: C901 -- a short path for plain names beside the general one
    folder: Location,
    suffixes: tuple[str, ...],
    kind: str,
    skipped: list[Problem],
    warnings: list[Problem],
    allowed_root: str | Path | Sequence[str | Path] | None = None,
) -> dict[str, str]:
    """Map matching key → file (its path as walked, or its URL, as text) for every file of the
    right kind below ``folder``.

    Files that cannot be used for their key (several files for one key, a file that is not a regular
    file, a name that is not valid UTF-8) go to ``skipped`` under that key; files of another kind
    go to ``warnings``.
    """
    found: dict[str, str] = {}
    doubled: dict[str, list[str]] = {}

    def keep(key: str, path: str) -> None:
        if key in found:
            doubled.setdefault(key, [found[key]]).append(path)
        else:
            found[key] = path

    def other_kind(fname: str, item) -> None:
        suffix = os.path.splitext(fname)[1].lower()
        if kind != "image" or suffix not in (".csv", ".json", ".txt", ".md"):
            warnings.append(Problem(_printable(fname), _wrong_kind_message(_path_of(item), kind)))

    if isinstance(folder, str):
        for rel, url in remote.list_files(folder):
            fname = rel.rsplit("/", 1)[-1]
            if os.path.splitext(fname)[1].lower() not in suffixes:
                other_kind(fname, url)
            else:
                keep(sample_key(rel), url)
    else:
        # This runs for every file each time a dataset opens (issue #17): plain ASCII names take
        # a short path of string operations equal to sample_key and _unusable_file's checks; a
        # folder listed by the C extension whose files all have plain names takes a shorter one.
        for rel_dir, entries in _walk(os.fspath(folder), names=True):
            plain_dir = rel_dir.isascii()
            if type(entries) is tuple:  # (the folder's path + "/", its file names: regular files)
                if _keep_plain(entries, rel_dir, suffixes, found, doubled):
                    continue
                entries = [_File(name, entries[0] + name) for name in entries[1]]  # (the general path)
            for entry in entries:
                fname = entry.name
                dot = fname.rfind(".")
                plain = plain_dir and dot > 0 and fname[0] != "." and fname.isascii()
                if plain:
                    if fname[dot:].lower() not in suffixes:
                        other_kind(fname, entry)
                        continue
                    try:
                        regular = entry.is_file()
                    except OSError:
                        regular = False
                    plain = regular and (allowed_root is None or not entry.is_symlink())
                elif os.path.splitext(fname)[1].lower() not in suffixes:
                    other_kind(fname, entry)
                    continue
                if plain:
                    stem = rel_dir + fname[:dot]
                    key = _SUFFIX_RE.sub("", stem) if stem.endswith(_STRIPPED) else stem
                else:
                    rel = rel_dir + fname
                    problem = _unusable_file(entry, rel, kind, allowed_root)
                    if problem is not None:
                        skipped.append(problem)
                        continue
                    key = sample_key(rel)
                if key in found:
                    doubled.setdefault(key, [found[key]]).append(entry.path)
                else:
                    found[key] = entry.path
    for key in [k for k in found if k in doubled] if doubled else ():  # (in the order first seen)
        paths = doubled[key]
        del found[key]
        listed = ", ".join(str(_shown(p)) for p in paths)
        shown = " (shown without a photo)" if kind == "image" else ""
        skipped.append(Problem(key, f"ambiguous {kind} files share the name {key!r}: {listed}{shown}"))
    return found


def _path_of(item: os.DirEntry | str) -> Location:
    return item if isinstance(item, str) else Path(item.path)


_NAME = operator.attrgetter("name")


def _walk(top: str, *, names: bool = False):
    """(a folder's path relative to ``top`` with a trailing "/" or "", its non-hidden files as
    sorted DirEntry objects), top-down in sorted order; links to folders are not followed (like
    ``os.walk(followlinks=False)``) and unreadable folders are left out.

    ``names=True``: a folder the C extension lists (``segviz._count.scan_folder``: every entry a
    regular file or a folder by its directory entry, no link, no unknown type) gives, instead of
    DirEntry objects, the tuple (the folder's path with a trailing "/", its non-hidden file names
    sorted): the same files, without one Python object per file (issue #17)."""
    from segviz import kernels  # (imported with segviz; here to keep the import order free)

    scan = getattr(kernels.c_extension(), "scan_folder", None) if names else None
    stack = [(top, "")]
    while stack:
        path, rel = stack.pop()
        listed = scan(path) if scan is not None else None
        if listed is not None:
            prefix = path if path.endswith("/") else path + "/"  # (as DirEntry.path joins)
            files = listed[0]
            if "\0." in "\0" + "\0".join(files):  # (hidden files: left out, as below)
                files = [n for n in files if n[0] != "."]
            files.sort()
            yield rel, (prefix, files)
            stack.extend((prefix + n, rel + n + "/") for n in sorted(listed[1], reverse=True) if n[0] != ".")
            continue
        try:
            entries = _entries_of(path)
        except OSError:
            continue
        files, subdirs = [], []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not e.is_symlink():
                    subdirs.append((e.path, rel + e.name + "/"))
            else:
                files.append(e)
        yield rel, files
        stack.extend(reversed(subdirs))


def _entries_of(path: str) -> list[os.DirEntry]:
    """The non-hidden entries of folder ``path``, sorted by name; OSError when it cannot be listed."""
    with os.scandir(path) as it:
        entries = [e for e in it if e.name[0] != "."]
    entries.sort(key=_NAME)
    return entries


class _File:
    """What :func:`_index_texts` asks of the DirEntry of a file the C extension listed as a
    regular file (not a link): its name, its path, ``is_file()`` and ``is_symlink()``."""

    __slots__ = ("name", "path")

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path

    def is_file(self) -> bool:
        return True

    def is_symlink(self) -> bool:
        return False


def _keep_plain(
    listed: tuple[str, list[str]],
    rel_dir: str,
    suffixes: tuple[str, ...],
    found: dict[str, str],
    doubled: dict[str, list[str]],
) -> bool:
    """Index one folder's regular files by :func:`_index_texts`' short path when every name is
    plain (ASCII, a suffix of ``suffixes`` after a non-empty stem, folder path ASCII too): the
    same keys and paths in the same order; False (nothing kept) when any is not."""
    prefix, names = listed
    joined = "\0".join(names) + "\0"  # (no name holds a NUL: each name ends before one)
    if not (rel_dir.isascii() and joined.isascii()):
        return False
    suffix = names[0][names[0].rfind(".") :] if names else ""
    if (
        len(suffix) > 1
        and joined.count(suffix + "\0") == len(names)
        and "\0" + suffix + "\0" not in "\0" + joined
    ):
        # Every name ends with one suffix that holds no other dot, after a non-empty stem.
        if suffix.lower() not in suffixes:
            return False
        stems = [name[: -len(suffix)] for name in names]
        if not any(end + suffix + "\0" in joined for end in _STRIPPED):  # (no stem _SUFFIX_RE changes)
            keys = [rel_dir + stem for stem in stems] if rel_dir else stems
            if found.keys().isdisjoint(keys):
                found.update(zip(keys, [prefix + name for name in names], strict=True))
                return True
    dots = [name.rfind(".") for name in names]
    if (min(dots) if dots else 1) <= 0 or not all(
        name[dot:].lower() in suffixes for name, dot in zip(names, dots, strict=True)
    ):
        return False
    for name, dot in zip(names, dots, strict=True):
        stem = rel_dir + name[:dot]
        key = _SUFFIX_RE.sub("", stem) if stem.endswith(_STRIPPED) else stem
        if key in found:
            doubled.setdefault(key, [found[key]]).append(prefix + name)
        else:
            found[key] = prefix + name
    return True


def _wrong_kind_message(path: Location, kind: str) -> str:
    if kind != "image" and os.path.splitext(path)[1].lower() in (".jpg", ".jpeg"):
        return (
            f"{_printable(path)}: JPEG is lossy and cannot hold exact class ids, ignored; "
            "expected a lossless mask (PNG)"
        )
    return f"{_printable(path)}: not a {kind} file (extension), ignored"


def _unusable_file(
    entry: os.DirEntry, rel: str, kind: str, allowed_root: str | Path | Sequence[str | Path] | None = None
) -> Problem | None:
    """A file that must not be opened: a name that is not valid UTF-8 (it would break every table
    and JSON that shows it), not a regular file (opening a pipe blocks, a link loop fails), or,
    with ``allowed_root``, a symbolic link whose target leaves that root. (URLs are files by their
    listing and are not checked here.)"""
    then = "shown without a photo" if kind == "image" else "skipped"
    if not _is_utf8(rel):
        return Problem(
            sample_key(_printable(rel)),
            f"{_printable(entry.path)}: file name is not valid UTF-8 (undecodable bytes shown as \\x..), "
            f"{then}; rename the file",
        )
    try:
        regular = entry.is_file()  # follows links, like Path.is_file; no system call for plain files
    except OSError:
        regular = False
    if not regular:
        path = Path(entry.path)
        return Problem(sample_key(rel), f"{path}: {_not_a_file(path)}, {then}")
    if allowed_root is not None and entry.is_symlink():  # walked folders are inside; only links leave
        real = Path(entry.path).resolve()
        roots = allowed_roots(allowed_root)
        if not inside_roots(real, roots):
            return Problem(
                sample_key(rel),
                f"{_printable(entry.path)}: symbolic link to {_printable(real)}, outside {roots_text(roots)}, "
                f"refused ({ROOT_RULE}), {then}",
            )
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of a file name come back as lone surrogates
        return False
    return True


def _printable(path: str | Path) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _not_a_file(path: Path) -> str:
    """Why a listed name that is not a regular file cannot be read."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return "symbolic link loop, not a file"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symbolic link loop, not a file"
            return f"broken symbolic link to {os.readlink(path)!r} (no such file)"
        return "symbolic link to something that is not a regular file"
    return "not a regular file (a pipe, socket or device)"


# ---------------------------------------------------------------------- confidence files
#: Per-pixel top-1 confidence maps (8-bit: round(255·p), 16-bit: round(65535·p)).
CONFIDENCE_SUFFIXES = (".png",)
#: Per-pixel class probabilities (or logits), K×H×W.
PROBABILITY_SUFFIXES = (".npy", ".npz")


def confidence_folders(dataset: Dataset) -> tuple[Path | None, Path | None]:
    """``(conf folder, prob folder)`` of a local dataset's model, each None where absent.

    They sit beside ``pred/``: ``pred/MODEL/`` ↔ ``conf/MODEL/`` and ``prob/MODEL/``; a ``pred/``
    holding masks directly ↔ ``conf/`` and ``prob/``.
    """
    pred = dataset.pred_dir
    if not isinstance(pred, Path):
        return None, None
    if pred.parent.name == "pred":
        root, tail = pred.parent.parent, pred.name
        found = [root / part / tail for part in ("conf", "prob")]
    elif pred.name == "pred":
        found = [pred.parent / "conf", pred.parent / "prob"]
    else:
        return None, None
    conf, prob = (f if f.is_dir() else None for f in found)
    return conf, prob


def index_files(
    folder: Location, suffixes: tuple[str, ...], kind: str
) -> tuple[dict[str, Location], list[Problem]]:
    """Map matching key → file below ``folder`` (as for masks), and the files that cannot be used.

    Example:
        >>> index_files(Path("no-such-folder"), (".png",), "confidence")
        ({}, [])
    """
    problems: list[Problem] = []
    if isinstance(folder, Path) and not folder.is_dir():
        return {}, problems
    found = _index_folder(folder, suffixes, kind, problems, problems)
    return found, problems
