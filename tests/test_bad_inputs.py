"""Every surface on a corpus of broken datasets (tests/make_bad_corpus.py).

For each case the library (``open_dataset`` + ``evaluate``), the CLI (``segviz evaluate``) and the app
(AppTest) must evaluate the two good pairs with the right numbers, name the file they could not use,
and never raise; dataset-level failures (empty folders, a broken class table) stop with a message
(``DatasetError`` / ``ClassTableError``, exit status 2, ``st.error``). Nothing is ever written into a
dataset.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from make_bad_corpus import (
    CASE_NAMES,
    GOOD,
    GOOD_CONFUSION,
    GOOD_IGNORED,
    Case,
    _dataset_members,
    make_corpus,
    make_zip_cases,
    reference_counts,
    zip_bytes,
)
from PIL import ImageFile
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from segviz import errors, evaluate, kernels, open_dataset
from segviz.archive import ZipLimits, extract_dataset_zip
from segviz.cli import main
from segviz.errors import SegvizError

APP = str(ROOT / "app.py")
TIMEOUT = 60


# ---------------------------------------------------------------------- fixtures and helpers
class Corpus:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases = make_corpus(root)
        self.baseline = {name: snapshot(root / name) for name in self.cases}
        self.app_runs: set[str] = set()  # cases test_app has driven through both views

    def get(self, name: str) -> tuple[Case, Path]:
        if name not in self.cases:
            pytest.skip(f"{name}: this file system cannot represent the case")
        assert_nothing_paired_can_block(self.root / name)
        return self.cases[name], self.root / name


def assert_nothing_paired_can_block(folder: Path) -> None:
    """Checked before any surface reads the dataset: opening a named pipe blocks forever, so a
    regression in the pairing would hang the test run instead of failing it."""
    try:
        dataset = open_dataset(folder)
    except SegvizError:
        return
    for pair in dataset.pairs:
        for path in (pair.gt_path, pair.pred_path, pair.image_path):
            assert path is None or path.is_file(), f"{path} is paired but is not a regular file"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("bad-corpus"))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh results store per test (every surface really reads the files) and empty app caches."""
    import streamlit as st

    monkeypatch.setenv("SEGVIZ_STORE", str(tmp_path / "store"))
    st.cache_data.clear()
    st.cache_resource.clear()


def snapshot(folder: Path) -> dict[bytes, tuple]:
    """Every entry below ``folder`` (never following links, never opening anything but regular
    files): type, size, mtime and the SHA-256 of a file's bytes or a link's target."""
    top = os.fsencode(folder)
    out: dict[bytes, tuple] = {b".": (os.lstat(top).st_mtime_ns,)}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            else:
                content = None  # a folder (its mtime changes when an entry is added) or a pipe
            out[os.path.relpath(path, top)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, content)
    return out


def reasons(problems) -> list[str]:
    return [p.reason for p in problems]


def assert_good_pairs(result) -> None:
    """The two good pairs are evaluated, with the hand-counted matrices."""
    for name in GOOD:
        assert name in result.names, f"{name} was not evaluated: {result.skipped}"
        i = result.names.index(name)
        assert result.image_confusion(i).tolist() == GOOD_CONFUSION[name]
        assert int(result.ignored_per_image[i]) == GOOD_IGNORED[name]


def assert_evaluation(result, case: Case, folder: Path) -> None:
    assert_good_pairs(result)
    assert sorted(result.names) == sorted(case.evaluated)
    for name, expected in case.evaluated.items():
        i = result.names.index(name)
        assert result.image_confusion(i).tolist() == expected.confusion, name
        assert int(result.ignored_per_image[i]) == expected.ignored, name
    assert result.confusion.tolist() == case.confusion
    assert result.invalid_pred_pixels == sum(e.invalid for e in case.evaluated.values())
    assert {p.name for p in result.skipped} == set(case.skipped), result.skipped
    assert set(case.warned) <= {p.name for p in result.warnings}, result.warnings
    for reason in reasons(result.skipped):
        assert str(folder) in reason, f"the reason does not name a file of the dataset: {reason}"
    if case.message:
        found = reasons(result.skipped) + reasons(result.warnings)
        assert any(re.search(case.message, r) for r in found), (case.message, found)
    for key, value in result.summary().items():
        assert math.isnan(value) or (0 <= value <= 1 if isinstance(value, float) else value >= 0), key


def run_app(monkeypatch, root: Path, dataset: str) -> AppTest:
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(root))
    monkeypatch.setenv("SEGVIZ_DATASET", dataset)
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.2f} %"


def test_reference_counts_agree_with_the_hand_counted_good_pairs():
    for name, (gt, pred) in GOOD.items():
        expected = reference_counts(gt, pred)
        assert expected.confusion == GOOD_CONFUSION[name] and expected.ignored == GOOD_IGNORED[name]


def test_the_corpus_is_deterministic(tmp_path):
    def content(root: Path) -> dict:
        return {k: (v[0], v[1], v[3]) for k, v in snapshot(root).items() if k != b"."}

    make_corpus(tmp_path / "a")
    make_corpus(tmp_path / "b")
    assert content(tmp_path / "a") == content(tmp_path / "b")


# ---------------------------------------------------------------------- the three surfaces
@pytest.mark.parametrize("name", CASE_NAMES)
def test_library(corpus, name):
    case, folder = corpus.get(name)
    if case.error:
        with pytest.raises(getattr(errors, case.error), match=case.message):
            evaluate(open_dataset(folder))
        return
    assert_evaluation(evaluate(open_dataset(folder)), case, folder)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cli(corpus, name, tmp_path, capsys):
    case, folder = corpus.get(name)
    out = tmp_path / "result.json"
    status = main(["evaluate", str(folder), "--json", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status == case.exit_status, err
    assert "Traceback" not in err
    if case.message:
        assert re.search(case.message, err), err
    if case.error:
        assert err.startswith("segviz: error: ") and not out.exists()
        return
    for skipped in case.skipped:
        assert f"skipped {skipped}: " in err
    data = json.loads(out.read_text())
    assert sorted(i["name"] for i in data["images"]) == sorted(case.evaluated)
    assert data["confusion_matrix"] == [row[:-1] for row in case.confusion]
    assert data["invalid_pred_pixels"] == sum(e.invalid for e in case.evaluated.values())
    assert {s["name"] for s in data["skipped"]} == set(case.skipped)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cli_report(corpus, name, tmp_path, capsys):
    """``segviz report`` on every case: the exit status of ``evaluate``, no traceback, and a report
    that names every evaluated image among the worst ones. Regression (issue #11): a photo that is
    a decompression bomb crashed the report (evaluate warned correctly); it is now left out."""
    case, folder = corpus.get(name)
    out = tmp_path / "report.html"
    status = main(["report", str(folder), "--out", str(out), "--resamples", "20", "--worst", "6"])
    err = capsys.readouterr().err
    assert status == case.exit_status, err
    assert "Traceback" not in err
    if case.error:
        assert err.startswith("segviz: error: ") and not out.exists()
        return
    page = out.read_text(encoding="utf-8")
    assert f"The {len(case.evaluated)} worst images by mIoU" in page
    for image in case.evaluated:
        assert f"<h3>{image}</h3>" in page, image
    assert "Could not draw this image" not in page


@pytest.mark.parametrize("name", CASE_NAMES)
def test_app(corpus, name, monkeypatch):
    case, folder = corpus.get(name)
    corpus.app_runs.add(name)
    at = run_app(monkeypatch, corpus.root, name)
    assert not at.exception, at.exception
    if case.error:
        assert any(re.search(case.message, e.value) for e in at.error), [e.value for e in at.error]
        return
    lib = evaluate(open_dataset(folder))
    s = lib.summary()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Images"] == str(len(case.evaluated))
    assert shown["mIoU"] == fmt(s["mean_iou"]) and shown["Pixel accuracy"] == fmt(s["pixel_accuracy"])
    assert shown["Invalid pred px"] == f"{sum(e.invalid for e in case.evaluated.values()):,}"
    problems = [e for e in at.expander if "while loading" in e.label]
    if case.skipped or case.warned or case.message:
        (box,) = problems
        assert box.label == f"⚠ {len(lib.skipped)} skipped, {len(lib.warnings)} warnings while loading"
        tables = [df.value for df in box.dataframe]
        cells = [str(v) for t in tables for v in t.to_numpy().ravel()]
        if case.skipped:
            assert set(tables[0]["sample"]) == set(case.skipped)
        assert any(re.search(case.message, c) for c in cells), cells
    else:
        assert not problems
    at.session_state["image"] = case.item or "good1"
    at.radio(key="view").set_value("Images").run()
    assert not at.exception, at.exception
    assert any(h.value == (case.item or "good1") for h in at.subheader)


# ---------------------------------------------------------------------- nothing written, nothing decoded
@pytest.mark.parametrize("name", CASE_NAMES)
def test_nothing_is_written_into_the_dataset(corpus, name, tmp_path, monkeypatch, capsys):
    """Every file's bytes and mtime, and the list of entries, are what make_corpus wrote, after the
    library, the CLI (with --json and --csv) and the app (both views) read the dataset. The app is
    driven here unless test_app already drove it in this run (the snapshot compares with the
    corpus as written, so those runs are covered too)."""
    case, folder = corpus.get(name)
    try:
        evaluate(open_dataset(folder)).to_dict()
    except SegvizError:
        assert case.error
    main(["evaluate", str(folder), "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")])
    if name not in corpus.app_runs:
        at = run_app(monkeypatch, corpus.root, name)
        if not case.error:
            at.radio(key="view").set_value("Images").run()
    after, before = snapshot(folder), corpus.baseline[name]
    assert sorted(set(after) - set(before)) == [], "new files in the dataset"
    assert after == before


@pytest.mark.parametrize("name", ["decompression-bomb", "decompression-bomb-100mpx", "npy-header-bomb"])
def test_bombs_are_refused_before_decoding(corpus, name, monkeypatch):
    """Regression: the size check happens on the header; no pixel buffer is ever allocated."""
    case, folder = corpus.get(name)
    decoded: list[tuple[int, int]] = []
    loaded: list[str] = []
    original_load, original_np_load = ImageFile.ImageFile.load, np.load

    def load(self):
        decoded.append(self.size)
        return original_load(self)

    def np_load(path, *args, **kwargs):
        loaded.append(str(path))
        return original_np_load(path, *args, **kwargs)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(np, "load", np_load)
    if kernels.imagecodecs is not None:
        original_png_decode = kernels.imagecodecs.png_decode

        def png_decode(data, *args, **kwargs):
            out = original_png_decode(data, *args, **kwargs)
            decoded.append(out.shape[::-1])
            return out

        monkeypatch.setattr(kernels.imagecodecs, "png_decode", png_decode)
    assert_evaluation(evaluate(open_dataset(folder)), case, folder)
    assert all(w * h <= 64 * 64 for w, h in decoded), decoded
    assert not [p for p in loaded if "huge" in p]


def test_reading_masks_leaves_no_warning_filter_behind(corpus, monkeypatch):
    """Regression: read_mask turned DecompressionBombWarning into an error with
    ``warnings.catch_warnings()``, which is not thread-safe: two reader threads left the "error"
    filter installed for the whole process (then a big photo raised in the app)."""
    import warnings

    from PIL import Image

    monkeypatch.setenv("SEGVIZ_NO_IMAGECODECS", "1")
    monkeypatch.setattr(kernels, "_HAVE_IMAGECODECS", False)  # the Pillow path, for every mask
    _, folder = corpus.get("rgba-opaque")
    before = list(warnings.filters)
    for _ in range(20):
        evaluate(open_dataset(folder), workers=4)
    assert not [f for f in warnings.filters if f[2] is Image.DecompressionBombWarning]
    assert warnings.filters == before


def test_cli_as_a_process(corpus, tmp_path):
    """The real entry point: exit status and messages through a pipe (non-ASCII names included)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEGVIZ_STORE": str(tmp_path / "store")}
    for name in ("unicode-names", "decompression-bomb"):
        case, folder = corpus.get(name)
        proc = subprocess.run(
            [sys.executable, "-m", "segviz", "evaluate", str(folder)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert proc.returncode == case.exit_status, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"images          {len(case.evaluated):>10,}" in proc.stdout
        if case.message:
            assert re.search(case.message, proc.stderr), proc.stderr


# ---------------------------------------------------------------------- hostile zips
ZIP_CASES = make_zip_cases()


@pytest.mark.parametrize("name", list(ZIP_CASES))
def test_zip_refused_before_extraction(name, tmp_path, monkeypatch):
    """Regression (issue #11): a zip of 1.8 M folder entries cost 1 GB and 10 s before being
    refused; folder entries count toward the limit, read from the end record before zipfile parses
    the central directory (``early``), else at the latest before anything is written."""
    import zipfile

    case = ZIP_CASES[name]
    upload = tmp_path / "upload.zip"
    upload.write_bytes(case.data)
    if case.early:
        monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("the directory was parsed"))
    with pytest.raises(errors.DatasetError, match=case.message):
        extract_dataset_zip(upload, tmp_path / "out", limits=ZipLimits(max_files=case.max_files))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("zip64", [False, True], ids=["zip", "zip64"])
def test_zip_with_folder_entries_within_the_limit(zip64, tmp_path, capsys):
    """Folder entries are counted, not refused: a dataset zip with its folders (and 100 more)
    extracts, then evaluates through the library and the CLI with the hand-counted matrices."""
    names, contents = _dataset_members()
    folders = [f"ds/extra{i:03d}/" for i in range(100)]
    upload = tmp_path / "upload.zip"
    upload.write_bytes(zip_bytes(names + folders, contents=contents, zip64=zip64))
    limits = ZipLimits(max_files=len(names) + len(folders))
    root = extract_dataset_zip(upload, tmp_path / "out", limits=limits)
    assert_good_pairs(evaluate(open_dataset(root)))
    assert main(["evaluate", str(root), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert (
        data["confusion_matrix"]
        == (np.array(GOOD_CONFUSION["good1"]) + GOOD_CONFUSION["good2"])[:, :-1].tolist()
    )
    with pytest.raises(errors.DatasetError, match=r"entries \(files and folders\), more than the limit of"):
        extract_dataset_zip(upload, tmp_path / "again", limits=ZipLimits(max_files=limits.max_files - 1))
