"""A corpus of broken datasets: one folder per case, each a full dataset that holds two good pairs
plus one broken item, and what every surface (library, CLI, app) must do with it.

Deterministic (fixed arrays, no randomness, no clock): the same bytes on every run. Run it to look at
the corpus::

    python tests/make_bad_corpus.py /tmp/bad-corpus

Every case records the pairs that must be evaluated, with their expected (K, K+1) confusion matrices
(computed by :func:`reference_counts`, a plain loop independent of segviz), the sample names that
must be skipped, the names that must be warned about, and a regex the message must match. The
regexes always name the file at fault.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = (
    "id,name,r,g,b,ignore\n0,road,128,64,128,0\n1,car,0,0,142,0\n2,person,220,20,60,0\n255,void,0,0,0,1\n"
)
IDS = (0, 1, 2)
IGNORE = (255,)
COLOURS = {0: (128, 64, 128), 1: (0, 0, 142), 2: (220, 20, 60), 255: (0, 0, 0)}
K = len(IDS)

GOOD = {
    "good1": (
        np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [2, 2, 0, 0, 255, 255], [2, 2, 0, 0, 255, 255]]),
        np.array([[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 2], [2, 0, 0, 0, 0, 0], [2, 2, 0, 1, 0, 0]]),
    ),
    "good2": (
        np.array([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]),
        np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 2, 2]]),
    ),
}
#: The good pairs' matrices, counted by hand: rows GT road/car/person, columns predicted
#: road/car/person/invalid; good1 also has 4 ignored (void) pixels.
GOOD_CONFUSION = {
    "good1": [[8, 2, 0, 0], [0, 5, 1, 0], [1, 0, 3, 0]],
    "good2": [[13, 1, 2, 0], [2, 6, 0, 0], [0, 0, 0, 0]],
}
GOOD_IGNORED = {"good1": 4, "good2": 0}

#: The broken items' content when their pixels matter (4 x 6, like the good pairs).
ITEM_GT = np.array([[0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 2], [255, 255, 0, 1, 2, 0]])
ITEM_PRED = np.array([[0, 1, 1, 1, 2, 0], [0, 0, 1, 2, 2, 2], [1, 1, 2, 0, 0, 2], [0, 2, 0, 1, 2, 0]])
#: Not a class id (above the table) and not a colour of the table.
BAD_ID, BAD_COLOUR = 7, (1, 2, 3)


@dataclass(frozen=True)
class Expected:
    """One pair that must be evaluated: its (K, K+1) confusion matrix and ignored pixels."""

    confusion: list[list[int]]
    ignored: int

    @property
    def invalid(self) -> int:
        return sum(row[-1] for row in self.confusion)


@dataclass(frozen=True)
class Case:
    """One broken dataset and what must happen to it.

    Attributes:
        name: folder name and test id.
        what: the broken item, in words.
        evaluated: pair name → expected counts, for every pair that must be evaluated.
        skipped: sample names that must be skipped (exactly these).
        warned: sample or file names that must appear among the warnings.
        message: regex that a skipped reason, a warning or the error must match; it names the file.
        error: for a dataset-level failure, the segviz exception class name (DatasetError,
            ClassTableError): nothing is evaluated, the CLI exits 2 and the app shows ``st.error``.
        item: name of the broken item when it is evaluated (the app's image view opens it).
        outside_root: the case holds a symbolic link out of the data root (the corpus root): the
            expectations hold for a surface that opens the dataset with that root
            (``open_dataset(..., allowed_root=ROOT)``, the app); the CLI has no data root and follows
            its user's links.
    """

    name: str
    what: str
    evaluated: dict[str, Expected] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    warned: tuple[str, ...] = ()
    message: str | None = None
    error: str | None = None
    item: str | None = None
    outside_root: bool = False

    @property
    def exit_status(self) -> int:
        """What ``segviz evaluate`` must return: 2 usage error, 1 something skipped, 0 all fine."""
        return 2 if self.error else 1 if self.skipped else 0

    @property
    def confusion(self) -> list[list[int]]:
        """The dataset matrix: the sum of the evaluated pairs'."""
        total = np.zeros((K, K + 1), dtype=np.int64)
        for e in self.evaluated.values():
            total += np.array(e.confusion)
        return total.tolist()


# ---------------------------------------------------------------------- reference and writers
def reference_counts(gt: np.ndarray, pred: np.ndarray) -> Expected:
    """The confusion matrix by a plain loop: GT ignore ids are left out, a predicted value that is
    not a class id (or -1 for an unknown colour) counts in the last, invalid column."""
    cm = [[0] * (K + 1) for _ in range(K)]
    ignored = 0
    for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist(), strict=True):
        if g in IGNORE:
            ignored += 1
            continue
        cm[IDS.index(g)][IDS.index(p) if p in IDS else K] += 1
    return Expected(cm, ignored)


def good_expected() -> dict[str, Expected]:
    return {name: Expected(GOOD_CONFUSION[name], GOOD_IGNORED[name]) for name in GOOD}


def _png(path: Path, array: np.ndarray, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        Image.fromarray(array.astype(np.uint16)).save(path)
    elif mode in ("RGB", "RGBA"):  # (H, W, 3) or (H, W, 4) uint8
        Image.fromarray(array.astype(np.uint8)).save(path)
    else:
        Image.fromarray(array.astype(np.uint8)).save(path, format="PNG")
    return path


def _photo(path: Path, size: tuple[int, int] = (6, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 110, 130)).save(path, format="JPEG" if path.suffix == ".jpg" else "PNG")
    return path


def _colours(ids: np.ndarray) -> np.ndarray:
    """(H, W, 3) colour-coded mask of an id array; -1 gets :data:`BAD_COLOUR`."""
    out = np.zeros((*ids.shape, 3), dtype=np.uint8)
    for cid, colour in [*COLOURS.items(), (-1, BAD_COLOUR)]:
        out[ids == cid] = colour
    return out


def png_claiming_size(width: int, height: int) -> bytes:
    """A real 1x1 greyscale PNG whose IHDR is patched (with a valid CRC) to claim width x height:
    a decompression bomb that is 70 bytes on disk."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # type + 13 data bytes
    return bytes(data)


def npy_claiming_shape(shape: tuple[int, ...]) -> bytes:
    """A .npy header claiming an int64 array of ``shape``, followed by 64 bytes of data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<i8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + bytes(64)


def _base(root: Path, name: str, *, classes: str = CLASSES, gt: bool = True, pred: bool = True) -> Path:
    """A dataset folder with the class table and the two good pairs (photos as JPEG)."""
    folder = root / name
    for sub in ("images", "gt", "pred"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "classes.csv").write_text(classes, encoding="utf-8")
    for pair, (g, p) in GOOD.items():
        if gt:
            _png(folder / "gt" / f"{pair}.png", g)
        if pred:
            _png(folder / "pred" / f"{pair}.png", p)
        _photo(folder / "images" / f"{pair}.jpg")
    return folder


def _item(
    folder: Path, name: str, *, gt: np.ndarray | None = ITEM_GT, pred: np.ndarray | None = ITEM_PRED
) -> None:
    """A good item pair (L PNGs) and its photo; None leaves that side out (written by the case)."""
    if gt is not None:
        _png(folder / "gt" / f"{name}.png", gt)
    if pred is not None:
        _png(folder / "pred" / f"{name}.png", pred)
    _photo(folder / "images" / f"{name}.jpg")


def _file(*parts: str) -> str:
    """Regex of a path ending in ``parts`` (either separator)."""
    return r"[/\\]".join(map(re.escape, parts))


# ---------------------------------------------------------------------- the cases
Builder = Callable[[Path], Case | None]
BUILDERS: list[Builder] = []


def case(fn: Builder) -> Builder:
    BUILDERS.append(fn)
    return fn


def _skip_case(name: str, what: str, message: str, *, skipped: tuple[str, ...] = ("broken",)) -> Case:
    """A case whose broken item is skipped while the two good pairs are evaluated."""
    return Case(name, what, good_expected(), skipped=skipped, message=message)


@case
def truncated_png(root: Path) -> Case:
    folder = _base(root, "truncated-png")
    noise = np.arange(64 * 64).reshape(64, 64) * 2654435761 % 251 % 3  # incompressible enough
    data = _png(folder / "gt" / "broken.png", noise).read_bytes()
    (folder / "gt" / "broken.png").write_bytes(data[: len(data) // 2])
    _png(folder / "pred" / "broken.png", noise)
    _photo(folder / "images" / "broken.jpg", (64, 64))
    return _skip_case(
        "truncated-png",
        "gt/broken.png cut in half",
        _file("gt", "broken.png") + ": unreadable or truncated image",
    )


@case
def zero_byte_png(root: Path) -> Case:
    folder = _base(root, "zero-byte-png")
    _item(folder, "broken", pred=None)
    (folder / "pred" / "broken.png").write_bytes(b"")
    return _skip_case(
        "zero-byte-png", "pred/broken.png is empty", _file("pred", "broken.png") + ": not an image file"
    )


@case
def text_as_png(root: Path) -> Case:
    folder = _base(root, "text-as-png")
    _item(folder, "broken", gt=None)
    (folder / "gt" / "broken.png").write_text("id,name\nthis is a text file, not a PNG\n")
    return _skip_case(
        "text-as-png", "gt/broken.png holds text", _file("gt", "broken.png") + ": not an image file"
    )


@case
def rgba_transparent(root: Path) -> Case:
    folder = _base(root, "rgba-transparent")
    _item(folder, "broken", pred=None)
    rgba = np.dstack([_colours(ITEM_PRED), np.full(ITEM_PRED.shape, 255, np.uint8)])
    rgba[0, :3, 3] = 0
    _png(folder / "pred" / "broken.png", rgba, "RGBA")
    return _skip_case(
        "rgba-transparent",
        "pred/broken.png is RGBA with transparent pixels",
        _file("pred", "broken.png") + ": RGBA mask with transparent pixels",
    )


@case
def rgba_opaque(root: Path) -> Case:
    folder = _base(root, "rgba-opaque")
    _item(folder, "rgba", pred=None)
    rgba = np.dstack([_colours(ITEM_PRED), np.full(ITEM_PRED.shape, 255, np.uint8)])
    _png(folder / "pred" / "rgba.png", rgba, "RGBA")
    return Case(
        "rgba-opaque",
        "pred/rgba.png is opaque RGBA colours of the table: read as colours",
        {**good_expected(), "rgba": reference_counts(ITEM_GT, ITEM_PRED)},
        item="rgba",
    )


@case
def i16_gt_above_table(root: Path) -> Case:
    folder = _base(root, "i16-gt-above-table")
    gt = ITEM_GT.copy()
    gt[0, :2], gt[1, 0] = 300, 1000
    _png(folder / "gt" / "deep.png", gt, "I;16")
    _item(folder, "deep", gt=None)
    return _skip_case(
        "i16-gt-above-table",
        "gt/deep.png is 16-bit (I;16) with ids 300 and 1000",
        _file("gt", "deep.png")
        + r": ground-truth values 300 \(2 px\), 1000 \(1 px\) are not in the class table",
        skipped=("deep",),
    )


@case
def i16_pred_above_table(root: Path) -> Case:
    folder = _base(root, "i16-pred-above-table")
    pred = ITEM_PRED.copy()
    pred[0, :2], pred[3, 5] = 300, 1000
    _png(folder / "pred" / "deep.png", pred, "I;16")
    _item(folder, "deep", pred=None)
    return Case(
        "i16-pred-above-table",
        "pred/deep.png is 16-bit (I;16) with ids 300 and 1000: invalid predictions",
        {**good_expected(), "deep": reference_counts(ITEM_GT, pred)},
        message=_file("pred", "deep.png")
        + r": values that are not class ids in 3 px \(300: 2 px, 1000: 1 px\)",
        warned=("deep",),
        item="deep",
    )


@case
def gt_ids_above_table(root: Path) -> Case:
    folder = _base(root, "gt-ids-above-table")
    gt = ITEM_GT.copy()
    gt[2, 2:4] = BAD_ID
    _item(folder, "above", gt=gt)
    return _skip_case(
        "gt-ids-above-table",
        f"gt/above.png holds id {BAD_ID}, not in the table",
        _file("gt", "above.png") + rf": ground-truth values {BAD_ID} \(2 px\) are not in the class table",
        skipped=("above",),
    )


@case
def pred_ids_above_table(root: Path) -> Case:
    folder = _base(root, "pred-ids-above-table")
    pred = ITEM_PRED.copy()
    pred[2, 2:5] = BAD_ID
    _item(folder, "above", pred=pred)
    return Case(
        "pred-ids-above-table",
        f"pred/above.png holds id {BAD_ID}: invalid predictions",
        {**good_expected(), "above": reference_counts(ITEM_GT, pred)},
        message=_file("pred", "above.png") + rf": values that are not class ids in \d px \({BAD_ID}: \d px\)",
        warned=("above",),
        item="above",
    )


@case
def rgb_unknown_colour_gt(root: Path) -> Case:
    folder = _base(root, "rgb-unknown-colour-gt")
    gt = ITEM_GT.copy()
    gt[1, 1:4] = -1
    _png(folder / "gt" / "colour.png", _colours(gt), "RGB")
    _item(folder, "colour", gt=None)
    return _skip_case(
        "rgb-unknown-colour-gt",
        f"gt/colour.png is colour-coded with rgb{BAD_COLOUR}, not in the table",
        _file("gt", "colour.png") + r": colour rgb\(1, 2, 3\) \(3 px\) not in the class table",
        skipped=("colour",),
    )


@case
def rgb_unknown_colour_pred(root: Path) -> Case:
    folder = _base(root, "rgb-unknown-colour-pred")
    pred = ITEM_PRED.copy()
    pred[1, 1:4] = -1
    _png(folder / "pred" / "colour.png", _colours(pred), "RGB")
    _item(folder, "colour", pred=None)
    return Case(
        "rgb-unknown-colour-pred",
        f"pred/colour.png is colour-coded with rgb{BAD_COLOUR}: invalid predictions and a warning",
        {**good_expected(), "colour": reference_counts(ITEM_GT, pred)},
        warned=("colour",),
        message=_file("pred", "colour.png")
        + r": colour rgb\(1, 2, 3\) \(3 px\) not in the class table \(counted as invalid predictions\)",
        item="colour",
    )


@case
def size_mismatch_masks(root: Path) -> Case:
    folder = _base(root, "size-mismatch-masks")
    _item(folder, "odd", pred=ITEM_PRED[:, :5])
    return _skip_case(
        "size-mismatch-masks",
        "pred/odd.png is 5x4, gt/odd.png 6x4",
        _file("pred", "odd.png")
        + r": size 5x4 differs from the ground truth .*"
        + _file("gt", "odd.png")
        + r" \(6x4\)",
        skipped=("odd",),
    )


@case
def size_mismatch_photo(root: Path) -> Case:
    folder = _base(root, "size-mismatch-photo")
    _item(folder, "odd")
    _photo(folder / "images" / "odd.jpg", (8, 8))
    return Case(
        "size-mismatch-photo",
        "images/odd.jpg is 8x8, its masks 6x4: evaluated, with a warning",
        {**good_expected(), "odd": reference_counts(ITEM_GT, ITEM_PRED)},
        warned=("odd",),
        message=_file("images", "odd.jpg") + r": photo size 8x8 differs from its masks \(6x4\)",
        item="odd",
    )


@case
def duplicate_photo_stems(root: Path) -> Case:
    folder = _base(root, "duplicate-photo-stems")
    _item(folder, "a")
    _photo(folder / "images" / "a.png")
    return Case(
        "duplicate-photo-stems",
        "images/a.png and images/a.jpg: evaluated without a photo, with a warning",
        {**good_expected(), "a": reference_counts(ITEM_GT, ITEM_PRED)},
        warned=("a",),
        message=r"ambiguous image files share the name 'a': .*"
        + _file("images", "a.jpg")
        + ".*"
        + _file("images", "a.png")
        + r" \(shown without a photo\)",
        item="a",
    )


@case
def duplicate_mask_stems(root: Path) -> Case:
    folder = _base(root, "duplicate-mask-stems")
    _item(folder, "a")
    np.save(folder / "gt" / "a.npy", ITEM_GT.astype(np.uint8))
    return _skip_case(
        "duplicate-mask-stems",
        "gt/a.png and gt/a.npy",
        r"ambiguous ground-truth files share the name 'a': .*"
        + _file("gt", "a.npy")
        + ".*"
        + _file("gt", "a.png"),
        skipped=("a",),
    )


@case
def unicode_names(root: Path) -> Case:
    folder = _base(root, "unicode-names")
    _item(folder, "straße 1")
    _item(folder, "東京", gt=ITEM_PRED, pred=ITEM_GT)
    return Case(
        "unicode-names",
        "'straße 1.png' and '東京.png' (spaces, non-ASCII): evaluated",
        {
            **good_expected(),
            "straße 1": reference_counts(ITEM_GT, ITEM_PRED),
            "東京": reference_counts(ITEM_PRED, ITEM_GT),
        },
        # the ground truth's void pixels, used as a prediction, are not class ids
        message=_file("pred", "東京.png") + r": values that are not class ids in \d+ px \(255: ",
        warned=("東京",),
        item="straße 1",
    )


@case
def unicode_nfd_vs_nfc(root: Path) -> Case:
    folder = _base(root, "unicode-nfd-vs-nfc")
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    _png(folder / "gt" / f"{nfc}.png", ITEM_GT)
    _png(folder / "pred" / f"{nfd}.png", ITEM_PRED)  # a macOS-made name
    _photo(folder / "images" / f"{nfd}.jpg")
    return Case(
        "unicode-nfd-vs-nfc",
        "gt/café.png in NFC, pred/café.png and its photo in NFD: paired as 'café'",
        {**good_expected(), nfc: reference_counts(ITEM_GT, ITEM_PRED)},
        item=nfc,
    )


@case
def non_utf8_name(root: Path) -> Case | None:
    folder = _base(root, "non-utf8-name")
    try:
        for sub, ids in (("gt", ITEM_GT), ("pred", ITEM_PRED)):
            target = os.path.join(os.fsencode(folder / sub), b"caf\xe9.png")  # Latin-1 bytes
            Image.fromarray(ids.astype(np.uint8)).save(target, format="PNG")
    except (OSError, ValueError):  # a file system that only stores UTF-8 names (macOS, Windows)
        shutil.rmtree(folder)
        return None
    return _skip_case(
        "non-utf8-name",
        "gt/ and pred/ hold caf\\xe9.png, a Latin-1 (not UTF-8) file name",
        _file("gt") + r"[/\\]caf\\xe9\.png: file name is not valid UTF-8",
        skipped=("caf\\xe9",),
    )


@case
def symlink_dir_loop(root: Path) -> Case | None:
    folder = _base(root, "symlink-dir-loop")
    try:
        (folder / "gt" / "loop").symlink_to(".", target_is_directory=True)
    except (OSError, NotImplementedError):
        return None
    return Case("symlink-dir-loop", "gt/loop → gt/ (a folder loop): not followed", good_expected())


@case
def symlink_file_loop(root: Path) -> Case | None:
    folder = _base(root, "symlink-file-loop")
    _item(folder, "self", gt=None)
    try:
        (folder / "gt" / "self.png").symlink_to("self.png")
    except (OSError, NotImplementedError):
        return None
    return _skip_case(
        "symlink-file-loop",
        "gt/self.png → itself",
        _file("gt", "self.png") + ": symbolic link loop, not a file, skipped",
        skipped=("self",),
    )


@case
def dangling_symlink(root: Path) -> Case | None:
    folder = _base(root, "dangling-symlink")
    _item(folder, "gone", pred=None)
    try:
        (folder / "pred" / "gone.png").symlink_to("missing.png")
    except (OSError, NotImplementedError):
        return None
    return _skip_case(
        "dangling-symlink",
        "pred/gone.png → missing.png, which does not exist",
        _file("pred", "gone.png") + r": broken symbolic link to 'missing\.png'",
        skipped=("gone",),
    )


@case
def fifo_in_gt(root: Path) -> Case | None:
    if not hasattr(os, "mkfifo"):
        return None
    folder = _base(root, "fifo-in-gt")
    _item(folder, "pipe", gt=None)
    os.mkfifo(folder / "gt" / "pipe.png")  # opening it would block forever
    return _skip_case(
        "fifo-in-gt",
        "gt/pipe.png is a named pipe",
        _file("gt", "pipe.png") + r": not a regular file \(a pipe, socket or device\)",
        skipped=("pipe",),
    )


@case
def empty_gt(root: Path) -> Case:
    _base(root, "empty-gt", gt=False)
    return Case("empty-gt", "gt/ is empty", error="DatasetError", message=r"gt: no ground-truth masks found")


@case
def empty_pred(root: Path) -> Case:
    _base(root, "empty-pred", pred=False)
    return Case(
        "empty-pred", "pred/ is empty", error="DatasetError", message=r"pred: no predicted masks found"
    )


def _table_case(root: Path, name: str, what: str, classes: str, message: str) -> Case:
    _base(root, name, classes=classes)
    return Case(name, what, error="ClassTableError", message=_file("classes.csv") + message)


@case
def classes_duplicate_ids(root: Path) -> Case:
    return _table_case(
        root,
        "classes-duplicate-ids",
        "id 1 twice in classes.csv",
        CLASSES + "1,bus,0,60,100,0\n",
        r": id 1 appears twice \('car' and 'bus'\)",
    )


@case
def classes_colour_300(root: Path) -> Case:
    return _table_case(
        root,
        "classes-colour-300",
        "g = 300 in classes.csv",
        CLASSES.replace("1,car,0,0,142", "1,car,0,300,142"),
        r", line 3: column 'g' must be in 0\.\.255 \(got 300\)",
    )


@case
def classes_colour_negative(root: Path) -> Case:
    return _table_case(
        root,
        "classes-colour-negative",
        "b = -1 in classes.csv",
        CLASSES.replace("0,road,128,64,128", "0,road,128,64,-1"),
        r", line 2: column 'b' must be in 0\.\.255 \(got -1\)",
    )


@case
def classes_colour_word(root: Path) -> Case:
    return _table_case(
        root,
        "classes-colour-word",
        "r = 'red' in classes.csv",
        CLASSES.replace("2,person,220", "2,person,red"),
        r", line 4: column 'r' must be an integer in 0\.\.255 \(got 'red'\)",
    )


@case
def classes_missing_columns(root: Path) -> Case:
    return _table_case(
        root,
        "classes-missing-columns",
        "classes.csv has id,name,colour",
        "id,name,colour\n0,road,purple\n1,car,blue\n2,person,red\n",
        r": missing column\(s\) r, g, b; expected header 'id,name,r,g,b\[,ignore\]' \(found id,name,colour\)",
    )


@case
def classes_all_ignored(root: Path) -> Case:
    return _table_case(
        root,
        "classes-all-ignored",
        "every row of classes.csv has ignore 1",
        CLASSES.replace(",0\n", ",1\n"),
        r": no classes to evaluate \(every row is marked ignore\)",
    )


@case
def classes_huge_field(root: Path) -> Case:
    return _table_case(
        root,
        "classes-huge-field",
        "a 200,000-character class name (beyond the csv module's field limit)",
        CLASSES + "3," + "x" * 200_000 + ",1,2,3,0\n",
        r", line \d+: not a readable CSV table \(field larger than field limit",
    )


@case
def decompression_bomb(root: Path) -> Case:
    folder = _base(root, "decompression-bomb")
    (folder / "gt" / "bomb.png").write_bytes(png_claiming_size(30_000, 30_000))
    _item(folder, "bomb", gt=None)
    return _skip_case(
        "decompression-bomb",
        "gt/bomb.png: 70 bytes whose header claims 30000x30000 (900 Mpx)",
        _file("gt", "bomb.png") + ": refused, image too large",
        skipped=("bomb",),
    )


@case
def decompression_bomb_100mpx(root: Path) -> Case:
    folder = _base(root, "decompression-bomb-100mpx")
    (folder / "pred" / "bomb.png").write_bytes(png_claiming_size(10_000, 10_000))
    _item(folder, "bomb", pred=None)
    return _skip_case(
        "decompression-bomb-100mpx",
        "pred/bomb.png claims 10000x10000: above Pillow's limit, below its hard error",
        _file("pred", "bomb.png") + r": refused, image too large \(10000x10000",
        skipped=("bomb",),
    )


@case
def photo_bomb(root: Path) -> Case:
    folder = _base(root, "photo-bomb")
    _item(folder, "huge")
    (folder / "images" / "huge.jpg").unlink()
    (folder / "images" / "huge.png").write_bytes(png_claiming_size(30_000, 30_000))
    return Case(
        "photo-bomb",
        "images/huge.png claims 30000x30000: evaluated without the photo, with a warning",
        {**good_expected(), "huge": reference_counts(ITEM_GT, ITEM_PRED)},
        warned=("huge",),
        message=_file("images", "huge.png") + r": photo unreadable \(shown without one\)",
        item="huge",
    )


@case
def photo_bomb_100mpx(root: Path) -> Case:
    folder = _base(root, "photo-bomb-100mpx")
    _item(folder, "huge")
    (folder / "images" / "huge.jpg").unlink()
    (folder / "images" / "huge.png").write_bytes(png_claiming_size(10_000, 10_000))
    return Case(
        "photo-bomb-100mpx",
        "images/huge.png claims 10000x10000 (above Pillow's limit, below its hard error): no photo, a warning",
        {**good_expected(), "huge": reference_counts(ITEM_GT, ITEM_PRED)},
        warned=("huge",),
        message=_file("images", "huge.png") + r": photo size 10000x10000 differs from its masks \(6x4\)",
        item="huge",
    )


@case
def photo_truncated(root: Path) -> Case:
    folder = _base(root, "photo-truncated")
    _item(folder, "cut")
    noise = (np.arange(6 * 4 * 3).reshape(4, 6, 3) * 2654435761 % 251).astype(np.uint8)
    data = _png(folder / "images" / "cut.png", noise, "RGB").read_bytes()
    (folder / "images" / "cut.jpg").unlink()
    (folder / "images" / "cut.png").write_bytes(data[: len(data) - 20])  # IDAT cut, IEND gone
    return Case(
        "photo-truncated",
        "images/cut.png is a PNG photo cut short (right size in its header): no photo",
        {**good_expected(), "cut": reference_counts(ITEM_GT, ITEM_PRED)},
        item="cut",
    )


@case
def jpeg_mask_extension(root: Path) -> Case:
    folder = _base(root, "jpeg-mask-extension")
    Image.fromarray(ITEM_GT.astype(np.uint8)).save(folder / "gt" / "lossy.jpg", quality=75)
    _item(folder, "lossy", gt=None)
    return Case(
        "jpeg-mask-extension",
        "gt/lossy.jpg (a JPEG mask): ignored with a warning, its pair skipped",
        good_expected(),
        skipped=("lossy",),
        warned=("lossy.jpg",),
        message=_file("gt", "lossy.jpg") + ": JPEG is lossy and cannot hold exact class ids",
    )


@case
def jpeg_data_in_png(root: Path) -> Case:
    folder = _base(root, "jpeg-data-in-png")
    Image.fromarray(ITEM_PRED.astype(np.uint8)).save(folder / "pred" / "lossy.png", format="JPEG", quality=75)
    _item(folder, "lossy", pred=None)
    return _skip_case(
        "jpeg-data-in-png",
        "pred/lossy.png holds JPEG data",
        _file("pred", "lossy.png") + ": JPEG data is lossy",
        skipped=("lossy",),
    )


@case
def npy_pickled(root: Path) -> Case:
    folder = _base(root, "npy-pickled")
    objects = np.empty((4, 6), dtype=object)
    objects[...] = 1
    np.save(folder / "gt" / "obj.npy", objects, allow_pickle=True)
    _item(folder, "obj", gt=None)
    return _skip_case(
        "npy-pickled",
        "gt/obj.npy is a pickled object array",
        _file("gt", "obj.npy") + r": holds Python objects \(a pickled object array\), refused",
        skipped=("obj",),
    )


@case
def npy_header_bomb(root: Path) -> Case:
    folder = _base(root, "npy-header-bomb")
    (folder / "pred" / "huge.npy").write_bytes(npy_claiming_shape((100_000, 100_000)))
    _item(folder, "huge", pred=None)
    return _skip_case(
        "npy-header-bomb",
        "pred/huge.npy: a header claiming 100000x100000 int64 (80 GB), 64 bytes of data",
        _file("pred", "huge.npy") + r": truncated \.npy file \(its header claims shape \(100000, 100000\)",
        skipped=("huge",),
    )


# ---------------------------------------------------------------------- issue 11, items 12, 11, 10, 15
@case
def classes_duplicate_names(root: Path) -> Case:
    return _table_case(
        root,
        "classes-duplicate-names",
        "two classes named 'car' (ids 1 and 3): would merge their matrix rows",
        CLASSES + "3,car,9,9,9,0\n",
        r", line 6: class name 'car' is used twice \(also on line 3\); class names must be unique",
    )


@case
def classes_duplicate_names_nfd(root: Path) -> Case:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    return _table_case(
        root,
        "classes-duplicate-names-nfd",
        "'café' in NFC and in NFD: two names that look the same",
        CLASSES.replace("car,", f"{nfc},").replace("person,", f"{nfd},"),
        r", line 4: class name 'caf.+' is used twice \(also on line 3\)",
    )


@case
def classes_reserved_invalid(root: Path) -> Case:
    return _table_case(
        root,
        "classes-reserved-invalid",
        "a class named '(invalid)': would merge with the invalid-prediction column",
        CLASSES.replace("person", "(invalid)"),
        r", line 4: class name '\(invalid\)' is reserved for segviz's own labels",
    )


@case
def classes_reserved_other(root: Path) -> Case:
    return _table_case(
        root,
        "classes-reserved-other",
        "a class named '(Other)' (any case): the top-N views' bucket",
        CLASSES.replace("road", "(Other)"),
        r", line 2: class name '\(Other\)' is reserved for segviz's own labels",
    )


@case
def classes_reserved_ignored_row(root: Path) -> Case:
    return _table_case(
        root,
        "classes-reserved-ignored-row",
        "the ignore row is named '(ignored)'",
        CLASSES.replace("void", "(ignored)"),
        r", line 5: class name '\(ignored\)' is reserved",
    )


@case
def classes_duplicate_header(root: Path) -> Case:
    return _table_case(
        root,
        "classes-duplicate-header",
        "the header names 'name' twice",
        CLASSES.replace("id,name,r,g,b,ignore", "id,name,r,g,b,name"),
        r", line 1: column\(s\) 'name' appear more than once in the header",
    )


@case
def classes_extra_fields(root: Path) -> Case:
    return _table_case(
        root,
        "classes-extra-fields",
        "an unquoted comma in a name gives a row 7 fields under a 6-column header",
        CLASSES.replace("2,person,", "2,person,rider,"),
        r", line 4: 7 fields but the header has 6 columns \(extra: '0'\); quote a name that holds a comma",
    )


CITYSCAPES_HEADER = "name,labelId,trainId,r,g,b,ignoreInEval\n"


@case
def cityscapes_duplicate_label_id(root: Path) -> Case:
    table = CITYSCAPES_HEADER + "road,7,0,128,64,128,0\ncar,26,1,0,0,142,0\nperson,7,2,220,20,60,0\n"
    return _table_case(
        root,
        "cityscapes-duplicate-label-id",
        "a Cityscapes-style table with labelId 7 on two rows",
        table,
        r", line 4: labelId 7 appears twice \(lines 2 and 4\)",
    )


@case
def cityscapes_duplicate_names(root: Path) -> Case:
    table = CITYSCAPES_HEADER + "road,7,0,128,64,128,0\ncar,26,1,0,0,142,0\nroad,24,2,220,20,60,0\n"
    return _table_case(
        root,
        "cityscapes-duplicate-names",
        "a Cityscapes-style table naming two train ids 'road'",
        table,
        r", line 4: class name 'road' is used twice \(also on line 2\)",
    )


#: A file name that tries to forge CLI output: a newline, a fake summary line and ANSI escapes.
FORGED_NAME = "evil\nsegviz: 0 skipped\x1b[2K\x1b[1A\u202e"


@case
def control_characters_in_name(root: Path) -> Case:
    folder = _base(root, "control-characters-in-name")
    _png(folder / "gt" / f"{FORGED_NAME}.png", ITEM_GT)  # no prediction: skipped, and named
    return _skip_case(
        "control-characters-in-name",
        "gt/'evil<newline>segviz: 0 skipped<ESC>[2K….png' (a name forging output), without prediction",
        _file("gt") + r"[/\\]evil[\s\S]*: no prediction in",
        skipped=(FORGED_NAME,),
    )


#: Class and image names a spreadsheet would run as formulas (OWASP's CSV-injection examples).
FORMULA_CLASSES = (
    CLASSES.replace("road", '"=HYPERLINK(""http://evil.example"",""x"")"')
    .replace("person", "@SUM(1+1)")
    .replace("car", "-2+3")
)
FORMULA_IMAGE = "=1+2"


@case
def formula_names(root: Path) -> Case:
    folder = _base(root, "formula-names", classes=FORMULA_CLASSES)
    _item(folder, FORMULA_IMAGE)
    return Case(
        "formula-names",
        "class names '=HYPERLINK(…)', '-2+3', '@SUM(1+1)' and an image '=1+2': evaluated; CSVs neutralise them",
        {**good_expected(), FORMULA_IMAGE: reference_counts(ITEM_GT, ITEM_PRED)},
        item=FORMULA_IMAGE,
    )


#: Where the root cases' links point: a sibling of the corpus root, outside it.
OUTSIDE = "outside-the-data-root"


def _outside(root: Path) -> Path:
    """The folder outside the corpus root that the links of the root cases point into (the same
    relative target from every case, so the corpus stays deterministic)."""
    out = root.parent / OUTSIDE
    (out / "gt").mkdir(parents=True, exist_ok=True)
    (out / "secret.csv").write_text("id,name,r,g,b\n0,SECRET-PASSWORD,1,2,3\n", encoding="utf-8")
    _png(out / "secret.png", ITEM_PRED)
    _photo(out / "secret.jpg")
    for pair, (g, _) in GOOD.items():
        _png(out / "gt" / f"{pair}.png", g)
    return out


def _link_out(root: Path, link: Path, target: str) -> bool:
    """``link`` → ``../../outside-the-data-root/target`` (relative: the same target in every corpus)."""
    folders = len(link.relative_to(root).parts) - 1  # case folder [/ sub-folder]
    rel = "/".join([".."] * (folders + 1) + [OUTSIDE, target])
    try:
        link.symlink_to(rel, target_is_directory=target == "gt")
    except (OSError, NotImplementedError):
        return False
    return True


def _root_base(root: Path, name: str) -> Path:
    _outside(root)
    return _base(root, name)


@case
def symlink_classes_outside_root(root: Path) -> Case | None:
    folder = _root_base(root, "symlink-classes-outside-root")
    (folder / "classes.csv").unlink()
    if not _link_out(root, folder / "classes.csv", "secret.csv"):
        return None
    return Case(
        "symlink-classes-outside-root",
        "classes.csv → a file outside the data root: refused, its content never shown",
        error="ClassTableError",
        message=_file("classes.csv") + r": the class table resolves to .*outside-the-data-root.*"
        r"outside the data root .*segviz reads nothing outside the data root",
        outside_root=True,
    )


@case
def symlink_mask_outside_root(root: Path) -> Case | None:
    folder = _root_base(root, "symlink-mask-outside-root")
    _png(folder / "gt" / "leak.png", ITEM_GT)
    if not _link_out(root, folder / "pred" / "leak.png", "secret.png"):
        return None
    return Case(
        "symlink-mask-outside-root",
        "pred/leak.png → a mask outside the data root: its sample is skipped",
        good_expected(),
        skipped=("leak",),
        message=_file("pred", "leak.png") + r": symbolic link to .*outside-the-data-root.*secret\.png, "
        r"outside the data root .* refused \(segviz reads nothing outside the data root\), skipped",
        outside_root=True,
    )


@case
def symlink_photo_outside_root(root: Path) -> Case | None:
    folder = _root_base(root, "symlink-photo-outside-root")
    _item(folder, "leak")
    (folder / "images" / "leak.jpg").unlink()
    if not _link_out(root, folder / "images" / "leak.jpg", "secret.jpg"):
        return None
    return Case(
        "symlink-photo-outside-root",
        "images/leak.jpg → a photo outside the data root: evaluated without it, with a warning",
        {**good_expected(), "leak": reference_counts(ITEM_GT, ITEM_PRED)},
        warned=("leak",),
        message=_file("images", "leak.jpg")
        + r": symbolic link to .*outside the data root .*shown without a photo",
        item="leak",
        outside_root=True,
    )


@case
def symlink_gt_folder_outside_root(root: Path) -> Case | None:
    folder = _root_base(root, "symlink-gt-folder-outside-root")
    shutil.rmtree(folder / "gt")
    if not _link_out(root, folder / "gt", "gt"):
        return None
    return Case(
        "symlink-gt-folder-outside-root",
        "gt/ → a folder outside the data root: refused",
        error="OutsideRootError",
        message=_file("gt") + r": the gt folder resolves to .*outside-the-data-root.*outside the data root",
        outside_root=True,
    )


@case
def symlink_inside_root(root: Path) -> Case | None:
    folder = _base(root, "symlink-inside-root")
    _png(folder / "gt" / "alias.png", ITEM_GT)
    _photo(folder / "images" / "alias.jpg")
    _png(folder / "pred-real.png", ITEM_PRED)  # outside pred/ but inside the data root
    try:
        (folder / "pred" / "alias.png").symlink_to("../pred-real.png")
    except (OSError, NotImplementedError):
        return None
    return Case(
        "symlink-inside-root",
        "pred/alias.png → ../pred-real.png, inside the data root: read like any file",
        {**good_expected(), "alias": reference_counts(ITEM_GT, ITEM_PRED)},
        item="alias",
    )


def two_models(root: Path, name: str = "two-models") -> Path:
    """A good dataset with two models, ``pred/a/`` and ``pred/b/`` (the same predictions): for the
    output-path cases, where another model's prediction file is data too."""
    folder = _base(root, name)
    for model in ("a", "b"):
        for pair, (_, p) in GOOD.items():
            _png(folder / "pred" / model / f"{pair}.png", p)
    for pair in GOOD:
        (folder / "pred" / f"{pair}.png").unlink()
    return folder


# ---------------------------------------------------------------------- raw values of any size
# Issue #11 (1, 8): one pixel of 3e8 in a tiny .npy made the evaluation allocate a table indexed by
# value (7-8 GB); uint64 values >= 2**63 wrapped around into int64 and counted as a real class.
def _npy(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)
    return path


def _value_case(
    root: Path, name: str, what: str, side: str, array: np.ndarray, message: str, *, tiff: bool = False
) -> Case:
    """``side`` ("gt" or "pred") of item "big" holds ``array`` as .npy (or a 32-bit TIFF); the other
    side is the item's PNG. Out-of-table predictions are evaluated (invalid); the rest skipped."""
    folder = _base(root, name)
    path = folder / side / ("big.tif" if tiff else "big.npy")
    if tiff:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array.astype(np.int32), mode="I").save(path)
    else:
        _npy(path, array)
    _item(folder, "big", **{side: None})
    regex = _file(side, path.name) + message
    exact = np.issubdtype(array.dtype, np.integer) and int(array.min()) >= 0 and int(array.max()) < 2**32
    if side == "pred" and exact:
        return Case(
            name,
            what,
            {**good_expected(), "big": reference_counts(ITEM_GT, array)},
            warned=("big",),
            message=regex,
            item="big",
        )
    return _skip_case(name, what, regex, skipped=("big",))


def _with(array: np.ndarray, dtype, at: tuple[int, int], value) -> np.ndarray:
    out = array.astype(dtype)
    out[at] = value
    return out


@case
def npy_pred_value_3e8(root: Path) -> Case:
    return _value_case(
        root,
        "npy-pred-value-3e8",
        "pred/big.npy (int64) has one pixel of 300,000,000: an invalid prediction, no table of 3e8 cells",
        "pred",
        _with(ITEM_PRED, np.int64, (1, 1), 300_000_000),
        r": values that are not class ids in 1 px \(300000000: 1 px\)",
    )


@case
def npy_pred_value_1e9_many(root: Path) -> Case:
    pred = _with(ITEM_PRED, np.int64, (0, 0), 10**9)
    pred[3, 2:5] = (2**32 - 1, 65_535, 10**9)  # (GT at [3, 0:2] is void)
    return _value_case(
        root,
        "npy-pred-value-1e9-many",
        "pred/big.npy holds 1e9 (twice), 2**32-1 and 65535: invalid predictions",
        "pred",
        pred,
        r": values that are not class ids in 4 px \(1000000000: 2 px, 65535: 1 px, 4294967295: 1 px\)",
    )


@case
def npy_pred_uint32_3e9(root: Path) -> Case:
    return _value_case(
        root,
        "npy-pred-uint32-3e9",
        "pred/big.npy (uint32) has one pixel of 3,000,000,000: an invalid prediction",
        "pred",
        _with(ITEM_PRED, np.uint32, (2, 3), 3_000_000_000),
        r": values that are not class ids in 1 px \(3000000000: 1 px\)",
    )


@case
def tiff_pred_value_1e9(root: Path) -> Case:
    return _value_case(
        root,
        "tiff-pred-value-1e9",
        "pred/big.tif (32-bit TIFF, mode I) has one pixel of 1,000,000,000: an invalid prediction",
        "pred",
        _with(ITEM_PRED, np.int64, (0, 5), 10**9),
        r": values that are not class ids in 1 px \(1000000000: 1 px\)",
        tiff=True,
    )


@case
def npy_gt_value_1e9(root: Path) -> Case:
    return _value_case(
        root,
        "npy-gt-value-1e9",
        "gt/big.npy has one pixel of 1,000,000,000: not in the class table, skipped",
        "gt",
        _with(ITEM_GT, np.int64, (1, 1), 10**9),
        r": ground-truth values 1000000000 \(1 px\) are not in the class table",
    )


@case
def npy_pred_uint64_wraps(root: Path) -> Case:
    return _value_case(
        root,
        "npy-pred-uint64-wraps",
        "pred/big.npy (uint64) holds 2**63, which int64 would read as a negative number: skipped",
        "pred",
        _with(ITEM_PRED, np.uint64, (0, 1), 2**63),
        r": value 9,223,372,036,854,775,808 \(dtype uint64, at \(0, 1\)\) cannot be a class id",
    )


@case
def npy_gt_uint64_max(root: Path) -> Case:
    return _value_case(
        root,
        "npy-gt-uint64-max",
        "gt/big.npy (uint64) holds 2**64-1 (-1 once wrapped): skipped",
        "gt",
        _with(ITEM_GT, np.uint64, (3, 5), 2**64 - 1),
        r": value 18,446,744,073,709,551,615 \(dtype uint64, at \(3, 5\)\) cannot be a class id",
    )


@case
def npy_pred_above_uint32(root: Path) -> Case:
    return _value_case(
        root,
        "npy-pred-above-uint32",
        "pred/big.npy (int64) holds 2**32 + 5, above every possible id: skipped",
        "pred",
        _with(ITEM_PRED, np.int64, (2, 2), 2**32 + 5),
        r": value 4,294,967,301 \(dtype int64, at \(2, 2\)\) cannot be a class id; mask values must be "
        r"integers in 0\.\.4,294,967,295",
    )


@case
def npy_pred_float_fraction(root: Path) -> Case:
    return _value_case(
        root,
        "npy-pred-float-fraction",
        "pred/big.npy is float64 with a pixel of 1.5: skipped",
        "pred",
        _with(ITEM_PRED, np.float64, (0, 0), 1.5),
        r": a mask must hold integers \(got dtype float64\)",
    )


@case
def npy_gt_float_nan(root: Path) -> Case:
    return _value_case(
        root,
        "npy-gt-float-nan",
        "gt/big.npy is float32 with a NaN pixel: skipped",
        "gt",
        _with(ITEM_GT, np.float32, (2, 4), np.nan),
        r": a mask must hold integers \(got dtype float32\)",
    )


@case
def npy_pred_negative(root: Path) -> Case:
    return _value_case(
        root,
        "npy-pred-negative",
        "pred/big.npy (int8) holds -1: skipped",
        "pred",
        _with(ITEM_PRED, np.int8, (1, 4), -1),
        r": negative values \(-1\) are not class ids",
    )


#: Every case's name (its builder's name with dashes), known without writing anything.
CASE_NAMES = [build.__name__.replace("_", "-") for build in BUILDERS]


# ---------------------------------------------------------------------- hostile zips (uploads)
@dataclass(frozen=True)
class ZipCase:
    """An uploaded dataset zip that ``segviz.archive.extract_dataset_zip`` must refuse before it
    parses the central directory (``early``) or before it extracts anything, with ``message``."""

    name: str
    what: str
    data: bytes
    message: str
    early: bool = True
    max_files: int = 20_000


def zip_bytes(
    names: list[str],
    *,
    contents: dict[str, bytes] | None = None,
    zip64: bool = False,
    claimed_entries: int | None = None,
    comment_bytes: int = 0,
) -> bytes:
    """A stored (uncompressed) zip written byte by byte, fast for a million entries: ``names``
    ending in "/" are folder entries, the others hold ``contents[name]`` (default empty).

    ``zip64`` adds a zip64 end record (the classic one then says 0xFFFF entries);
    ``claimed_entries`` makes the end record(s) claim another number of entries;
    ``comment_bytes`` gives every central-directory entry a file comment of that many bytes."""
    import struct

    contents = contents or {}
    local, central = [], []
    offset = 0
    for name in names:
        raw, data = name.encode(), contents.get(name, b"")
        crc = zlib.crc32(data)
        header = struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 33, crc, len(data), len(data), len(raw), 0
        )
        local.append(header + raw + data)
        attr = (0o40755 << 16) | 0x10 if name.endswith("/") else 0o100644 << 16
        comment = b"c" * comment_bytes
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                0,
                0,
                33,
                crc,
                len(data),
                len(data),
                len(raw),
                0,
                len(comment),
                0,
                0,
                attr,
                offset,
            )
            + raw
            + comment
        )
        offset += len(header) + len(raw) + len(data)
    directory = b"".join(central)
    count = len(names) if claimed_entries is None else claimed_entries
    tail = b""
    if zip64:
        record_at = offset + len(directory)
        tail += struct.pack(
            "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), offset
        )
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, record_at, 1)
        tail += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        small = min(count, 0xFFFF)
        tail += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, small, small, len(directory), offset, 0)
    return b"".join(local) + directory + tail


def _dataset_members() -> tuple[list[str], dict[str, bytes]]:
    """A small valid dataset (the good pairs, classes.csv) with its folder entries."""
    contents = {"ds/classes.csv": CLASSES.encode()}
    for pair, (g, p) in GOOD.items():
        for side, array in (("gt", g), ("pred", p)):
            buf = io.BytesIO()
            Image.fromarray(array.astype(np.uint8)).save(buf, format="PNG")
            contents[f"ds/{side}/{pair}.png"] = buf.getvalue()
    return ["ds/", "ds/gt/", "ds/pred/", *contents], contents


def make_zip_cases() -> dict[str, ZipCase]:
    """Issue #11 (4): a zip with 1.8 M folder entries cost 1 GB and 10 s before being refused:
    folder entries count toward the entry limit, read from the end record before parsing. The
    cases use 25,000 folder entries (the same rule; the 1.8 M case is in benchmarks/)."""
    names, contents = _dataset_members()
    folders = [f"ds/f{i:06d}/" for i in range(25_000)]
    n = len(names) + len(folders)
    limit = r"more than the limit of 20,000"
    return {
        c.name: c
        for c in (
            ZipCase(
                "zip-folder-entries",
                "a dataset plus 25,000 empty folder entries",
                zip_bytes(names + folders, contents=contents),
                rf"upload\.zip: {n:,} entries \(files and folders\), {limit}",
            ),
            ZipCase(
                "zip64-folder-entries",
                "the same with a zip64 end record (the classic record says 0xFFFF)",
                zip_bytes(names + folders, contents=contents, zip64=True),
                rf"upload\.zip: {n:,} entries \(files and folders\), {limit}",
            ),
            ZipCase(
                "zip-claims-million-entries",
                "a valid dataset zip whose zip64 end record claims 1,800,000 entries",
                zip_bytes(names, contents=contents, zip64=True, claimed_entries=1_800_000),
                rf"upload\.zip: 1,800,000 entries \(files and folders\), {limit}",
            ),
            ZipCase(
                "zip-understates-entries",
                "25,000 folder entries behind an end record claiming 9",
                zip_bytes(names + folders, contents=contents, claimed_entries=9),
                rf"upload\.zip: {n:,} entries \(files and folders\), {limit}",
                early=False,
            ),
            ZipCase(
                "zip-bloated-directory",
                "8 entries whose 60 KB comments make a 480 KB central directory (limit: 8 entries)",
                zip_bytes(names, contents=contents, comment_bytes=60_000),
                r"upload\.zip: its central directory takes [\d,]+ bytes, more than 8,192 for at most 8 entries",
                max_files=8,
            ),
        )
    }


def make_corpus(root: Path) -> dict[str, Case]:
    """Write every case's dataset under ``root`` (one folder each) and return the cases by name.

    Cases the file system cannot represent (symbolic links, named pipes, non-UTF-8 names) are left
    out."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cases = {}
    for name, build in zip(CASE_NAMES, BUILDERS, strict=True):
        built = build(root)
        if built is not None:
            assert built.name == name, (built.name, name)
            cases[name] = built
    return cases


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-corpus")
    for c in make_corpus(out).values():
        outcome = c.error or (f"skips {', '.join(c.skipped)}" if c.skipped else "evaluates everything")
        print(f"{c.name:28} {outcome:32} {c.what}")
