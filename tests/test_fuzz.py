"""Property tests (hypothesis) of the input-facing code: mask encodings, class-table CSV, file
pairing, the zip reader, and the invariants of the metrics on random datasets written to disk.

Each test keeps to a few seconds (``max_examples`` below); files go to a temporary folder per example.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import unicodedata
import zipfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segviz import evaluate, kernels, open_dataset
from segviz.archive import extract_dataset_zip
from segviz.classes import MAX_ID, RESERVED_NAMES, ClassTable
from segviz.dataset import LABEL_ID_SUFFIXES, sample_key
from segviz.errors import ClassTableError, DatasetError
from segviz.masks import read_mask

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def scratch():
    with tempfile.TemporaryDirectory(prefix="segviz-fuzz-") as d:
        yield Path(d)


def distinct_colours(n: int) -> list[tuple[int, int, int]]:
    """n distinct colours, none of them black (black is the ignore colour below)."""
    return [((37 * i + 1) % 256, (i * 91 + 7) % 256, (i // 7) % 256 + 1) for i in range(n)]


# ---------------------------------------------------------------------- mask encodings
ENCODINGS = ("L", "P", "I;16", "RGB", "npy:uint8", "npy:uint16", "npy:int32", "npy:int64", "npy:bool")
TOP = {"L": 255, "P": 255, "I;16": 65535, "npy:uint8": 255, "npy:uint16": 65535, "npy:bool": 1}


def write_mask(path: Path, ids: np.ndarray, encoding: str, table: ClassTable | None) -> Path:
    if encoding.startswith("npy:"):
        path = path.with_suffix(".npy")
        np.save(path, ids.astype(encoding[4:]))
    elif encoding == "P":
        im = Image.frombytes("P", ids.shape[::-1], ids.astype(np.uint8).tobytes())
        im.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)])
        im.save(path)
    elif encoding == "I;16":
        Image.fromarray(ids.astype(np.uint16)).save(path)
    elif encoding == "RGB":
        assert table is not None
        lut = dict(zip(table.ids.tolist(), table.colors.tolist(), strict=True))
        rgb = np.array([lut[v] for v in ids.ravel().tolist()], dtype=np.uint8).reshape(*ids.shape, 3)
        Image.fromarray(rgb).save(path)
    else:
        Image.fromarray(ids.astype(np.uint8)).save(path)
    return path


@FAST
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS), fast_png=st.booleans())
def test_mask_encodings_decode_back_to_the_same_ids(data, encoding, fast_png):
    shape = data.draw(st.tuples(st.integers(1, 9), st.integers(1, 9)), label="shape")
    table = None
    if encoding == "RGB":
        ids = data.draw(
            st.lists(st.integers(0, MAX_ID), min_size=1, max_size=6, unique=True), label="table ids"
        )
        colours = distinct_colours(len(ids))
        table = ClassTable.from_rows([(i, f"c{i}", c, False) for i, c in zip(ids, colours, strict=True)])
        values = data.draw(arrays(np.int64, shape, elements=st.sampled_from(ids)), label="mask")
    else:
        top = TOP.get(encoding, 2**31 - 1)
        values = data.draw(arrays(np.int64, shape, elements=st.integers(0, top)), label="mask")
    with (
        scratch() as d,
        mock.patch.object(kernels, "_HAVE_IMAGECODECS", fast_png and kernels._HAVE_IMAGECODECS),
    ):
        out = read_mask(write_mask(d / "m.png", values, encoding, table), table)
    assert out.values.shape == values.shape
    assert out.values.tolist() == values.tolist()
    assert out.unknown_colours == {}


# ---------------------------------------------------------------------- class tables
# Any text but a carriage return: csv.writer leaves "\r" unquoted when the line ends in "\n" alone,
# which no reader can parse back.
names = st.text(st.characters(blacklist_characters="\r"), min_size=1, max_size=10).map(str.strip).filter(bool)
colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


@st.composite
def class_rows(draw) -> list[tuple[int, str, tuple[int, int, int], bool]]:
    ids = draw(st.lists(st.integers(0, MAX_ID), min_size=1, max_size=8, unique=True))
    # class names are unique (in NFC form) and not reserved: anything else is refused (issue 11, item 12)
    unique_names = st.lists(
        names.filter(lambda n: n.casefold() not in {r.casefold() for r in RESERVED_NAMES}),
        min_size=len(ids),
        max_size=len(ids),
        unique_by=lambda n: unicodedata.normalize("NFC", n),
    )
    rows = [(i, n, draw(colours), draw(st.booleans())) for i, n in zip(ids, draw(unique_names), strict=True)]
    if all(r[3] for r in rows):
        rows[0] = (*rows[0][:3], False)  # a table needs one class to evaluate
    return rows


@st.composite
def table_csv(draw, rows) -> str:
    """The CSV text of ``rows``, written in one of the many ways people write it."""
    columns = ["id", "name", "r", "g", "b", "ignore"]
    extra = draw(st.sampled_from([[], ["comment"]]))
    order = draw(st.permutations(columns + extra))
    pad = draw(st.sampled_from(["", " ", "  "]))
    true, false = draw(st.sampled_from([("1", "0"), ("true", "false"), ("yes", "no"), ("1", "")]))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow([pad + c + pad for c in order])
    for cid, name, (r, g, b), ignore in rows:
        value = {"id": cid, "name": name, "r": r, "g": g, "b": b, "ignore": true if ignore else false}
        writer.writerow([name if c == "name" else f"{pad}{value.get(c, 'x')}{pad}" for c in order])
    return draw(st.sampled_from(["", "\ufeff"])) + buf.getvalue()


@FAST
@given(data=st.data(), rows=class_rows())
def test_valid_class_tables_round_trip_through_csv(data, rows):
    table = ClassTable.from_csv_text(data.draw(table_csv(rows)), origin="fuzz.csv")
    assert table.rows() == sorted(rows)
    assert table.ids.tolist() == [r[0] for r in rows if not r[3]]
    assert table.names == tuple(r[1] for r in rows if not r[3])


TOKENS = [
    "id", "name", "r", "g", "b", "ignore", "labelId", "trainId", "ignoreInEval", "0", "1", "255", "-1",
    "300", "65535", "1e3", "red", '"', '""', '"a,b"', "\ufeff", "", " ", "\0", "x" * 131_073,
]  # fmt: skip
garbage_field = st.one_of(st.sampled_from(TOKENS), st.text(max_size=6))
garbage_csv = st.one_of(
    st.text(max_size=300),
    st.lists(st.lists(garbage_field, max_size=8).map(",".join), max_size=8).map(
        lambda lines: "\n".join(lines)
    ),
    st.lists(st.lists(garbage_field, max_size=8).map(";".join), max_size=6).map("\r\n".join),
)


@settings(max_examples=150, deadline=None)
@given(text=garbage_csv)
def test_garbage_csv_parses_or_raises_class_table_error(text):
    try:
        table = ClassTable.from_csv_text(text, origin="garbage.csv")
    except ClassTableError as exc:
        assert str(exc).startswith("garbage.csv")
    else:
        assert table.num_classes >= 1
        assert len(set(table.ids.tolist()) | set(table.ignore_ids)) == len(table.rows())


@FAST
@given(raw=st.binary(max_size=300))
def test_class_table_files_of_random_bytes(raw):
    with scratch() as d:
        (d / "classes.csv").write_bytes(raw)
        try:
            ClassTable.from_csv(d / "classes.csv")
        except ClassTableError as exc:
            assert str(d / "classes.csv") in str(exc)


# ---------------------------------------------------------------------- pairing file names
file_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=10,
).filter(lambda n: not n.startswith(".") and n.strip() == n and len(n.encode()) < 200)


@FAST
@given(stems=st.lists(file_names, min_size=1, max_size=4), nfd_pred=st.booleans())
def test_any_unicode_file_names_pair_up(stems, nfd_pred):
    keys = [sample_key(s + ".png") for s in stems]
    assume(len(set(keys)) == len(keys))  # distinct samples (no two names with one key)
    assume(not any(s.endswith(LABEL_ID_SUFFIXES) for s in stems))  # labelIds need the cityscapes table
    with scratch() as d:
        (d / "gt").mkdir()
        (d / "pred").mkdir()
        for stem in stems:
            pred_stem = unicodedata.normalize("NFD", stem) if nfd_pred else stem  # as macOS writes it
            Image.fromarray(np.zeros((2, 2), np.uint8)).save(d / "gt" / f"{stem}.png")
            Image.fromarray(np.zeros((2, 2), np.uint8)).save(d / "pred" / f"{pred_stem}.png")
        ds = open_dataset(d)
        assert sorted(p.name for p in ds.pairs) == sorted(keys)
        assert ds.skipped == []
        result = evaluate(ds, workers=1)
        assert result.num_images == len(stems)
        result.to_dict()  # every name is valid text for JSON, pandas and the results store


# ---------------------------------------------------------------------- the zip reader
NAME_PARTS = [
    "..", ".", "", "gt", "pred", "images", "a.png", "b.png", "C:", "c:", "D:x", "~", "東京", "straße 1",
    "con", "a" * 260, "<ABS>", " ", "x.zip", "classes.csv",
]  # fmt: skip


@st.composite
def member_names(draw) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(NAME_PARTS), file_names), min_size=1, max_size=4))
    sep = draw(st.sampled_from(["/", "\\", "/", "//"]))
    lead = draw(st.sampled_from(["", "", "/", "\\", "C:\\", "C:/", "\\\\server\\share\\", "./"]))
    return lead + sep.join(parts)


def files_outside(sandbox: Path, dest: Path) -> list[Path]:
    """Everything the extraction created in the sandbox but outside ``dest`` (and any link at all)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(sandbox, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not (
                path == dest or path.is_relative_to(dest) or dest.is_relative_to(path)
            ):
                out.append(path)
    return out


def check_extraction(source, sandbox: Path) -> None:
    dest = sandbox / "dest"
    try:
        root = extract_dataset_zip(source, dest)
    except DatasetError as exc:
        assert str(exc)
    else:
        assert root.is_relative_to(dest) and (root / "gt").is_dir()
    assert files_outside(sandbox, dest) == []


def zip_bytes(entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


@settings(max_examples=120, deadline=None)
@given(
    names=st.lists(member_names(), min_size=1, max_size=5, unique=True),
    payload=st.binary(max_size=40),
    compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
)
def test_zip_member_names_never_escape_the_destination(names, payload, compression):
    with scratch() as d:
        sandbox = d / "sandbox"
        sandbox.mkdir()
        names = [n.replace("<ABS>", str(d / "escaped")) for n in names]
        source = io.BytesIO(zip_bytes([(n, payload) for n in names], compression))
        source.name = "upload.zip"
        check_extraction(source, sandbox)
        assert sorted(p.name for p in d.iterdir()) == ["sandbox"]


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=600))
def test_random_bytes_as_a_zip(raw):
    with scratch() as d:
        source = io.BytesIO(raw)
        source.name = "random.zip"
        check_extraction(source, d)


VALID_ZIP = zip_bytes(
    [("ds/classes.csv", b"id,name,r,g,b\n0,a,1,2,3\n"), ("ds/gt/a.png", b"\x89PNG" + bytes(200)),
     ("ds/pred/a.png", b"\x89PNG" + bytes(range(200))), ("ds/images/a.jpg", bytes(100))]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(VALID_ZIP) - 1), st.integers(0, 255)), min_size=1, max_size=6)
)
def test_damaged_zips(edits):
    raw = bytearray(VALID_ZIP)
    for pos, value in edits:
        raw[pos] = value
    with scratch() as d:
        source = io.BytesIO(bytes(raw))
        source.name = "damaged.zip"
        check_extraction(source, d)


# ---------------------------------------------------------------------- metric invariants
INVALID = 254  # a predicted value that is never a class id below


@st.composite
def random_dataset(draw):
    k = draw(st.integers(1, 5))
    ids = draw(st.lists(st.integers(0, 253), min_size=k, max_size=k, unique=True))
    ignore = draw(st.sampled_from([[], [255]]))
    images = []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.tuples(st.integers(1, 6), st.integers(1, 6)))
        gt = draw(arrays(np.uint8, shape, elements=st.sampled_from(ids + ignore)))
        pred = draw(arrays(np.uint8, shape, elements=st.sampled_from([*ids, INVALID])))
        images.append((gt, pred))
    return ids, ignore, images


def write_dataset(root: Path, ids, ignore, images, *, rename=None) -> Path:
    """classes.csv (class ``c<i>`` for the i-th id) and L-mode masks; ``rename`` maps every class
    id to another one, in the table and in the masks alike."""
    rename = rename or {i: i for i in ids}
    rows = ["id,name,r,g,b,ignore"]
    for n, (cid, colour) in enumerate(zip(ids, distinct_colours(len(ids)), strict=True)):
        rows.append(f"{rename[cid]},c{n},{colour[0]},{colour[1]},{colour[2]},0")
    rows += [f"{i},void,0,0,0,1" for i in ignore]
    root.mkdir(parents=True)
    (root / "classes.csv").write_text("\n".join(rows) + "\n")
    lut = np.arange(256, dtype=np.uint8)
    for old, new in rename.items():
        lut[old] = new
    for sub in ("gt", "pred"):
        (root / sub).mkdir()
    for n, (gt, pred) in enumerate(images):
        Image.fromarray(lut[gt]).save(root / "gt" / f"{n}.png")
        Image.fromarray(lut[pred]).save(root / "pred" / f"{n}.png")
    return root


def in_unit_interval_or_nan(values) -> bool:
    v = np.asarray(values, dtype=float)
    return bool(np.all(np.isnan(v) | ((v >= 0) & (v <= 1))))


@FAST
@given(spec=random_dataset())
def test_totals_are_preserved_and_metrics_bounded(spec):
    ids, ignore, images = spec
    with scratch() as d:
        result = evaluate(open_dataset(write_dataset(d / "ds", ids, ignore, images)), workers=1)
    pixels = [g.size for g, _ in images]
    assert result.num_images == len(images)
    assert int(result.confusion.sum()) + result.ignored_pixels == sum(pixels)
    for i, n in enumerate(pixels):
        assert int(result.image_confusion(i).sum()) + int(result.ignored_per_image[i]) == n
    assert result.ignored_pixels == sum(int(np.isin(g, ignore).sum()) for g, _ in images)
    assert result.invalid_pred_pixels == sum(
        int(((p == INVALID) & ~np.isin(g, ignore)).sum()) for g, p in images
    )
    summary = result.summary()
    for key in ("pixel_accuracy", "mean_pixel_accuracy", "mean_iou", "frequency_weighted_iou", "mean_dice"):
        assert in_unit_interval_or_nan(summary[key]), key
    classes = result.class_frame()
    for column in ("iou", "accuracy", "precision", "dice"):
        assert in_unit_interval_or_nan(classes[column]), column
    frame = result.image_frame()
    assert in_unit_interval_or_nan(frame["pixel_accuracy"]) and in_unit_interval_or_nan(frame["mean_iou"])


@FAST
@given(spec=random_dataset())
def test_perfect_predictions_score_one(spec):
    ids, ignore, images = spec
    perfect = [(g, np.where(np.isin(g, ignore), ids[0], g).astype(np.uint8)) for g, _ in images]
    assume(any((~np.isin(g, ignore)).any() for g, _ in perfect))
    with scratch() as d:
        result = evaluate(open_dataset(write_dataset(d / "ds", ids, ignore, perfect)), workers=1)
    s = result.summary()
    assert s["pixel_accuracy"] == 1 and s["mean_iou"] == 1 and s["mean_dice"] == 1
    assert s["mean_pixel_accuracy"] == 1 and s["frequency_weighted_iou"] == pytest.approx(1)
    assert s["invalid_pred_pixels"] == 0
    iou = result.class_frame()["iou"].to_numpy()
    assert np.all(np.isnan(iou) | (iou == 1))


@FAST
@given(spec=random_dataset(), data=st.data())
def test_renaming_class_ids_permutes_the_per_class_results(spec, data):
    ids, ignore, images = spec
    new_ids = data.draw(st.permutations(range(254)).map(lambda p: p[: len(ids)]), label="new ids")
    rename = dict(zip(ids, new_ids, strict=True))
    with scratch() as d:
        a = evaluate(open_dataset(write_dataset(d / "a", ids, ignore, images)), workers=1)
        b = evaluate(open_dataset(write_dataset(d / "b", ids, ignore, images, rename=rename)), workers=1)
    fa, fb = a.class_frame().set_index("name"), b.class_frame().set_index("name")
    assert fb.loc[fa.index, "id"].tolist() == [rename[i] for i in fa["id"]]
    columns = ["iou", "accuracy", "precision", "dice", "gt_pixels", "pred_pixels", "invalid_pred_pixels"]
    np.testing.assert_allclose(fb.loc[fa.index, columns].to_numpy(float), fa[columns].to_numpy(float))
    for key, value in a.summary().items():
        np.testing.assert_allclose(b.summary()[key], value, err_msg=key)
