"""Every surface on a corpus of broken datasets (tests/make_bad_corpus.py).

For each case the library (``open_dataset`` + ``evaluate``), the CLI (``segviz evaluate``) and the app
(AppTest) must evaluate the two good pairs with the right numbers, name the file they could not use,
and never raise; dataset-level failures (empty folders, a broken class table) stop with a message
(``DatasetError`` / ``ClassTableError``, exit status 2, ``st.error``). Nothing is ever written into a
dataset.
"""

from __future__ import annotations

import csv
import hashlib
import io
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
    FORGED_NAME,
    FORMULA_IMAGE,
    GOOD,
    GOOD_CONFUSION,
    GOOD_IGNORED,
    Case,
    _dataset_members,
    make_corpus,
    make_zip_cases,
    reference_counts,
    two_models,
    zip_bytes,
)
from PIL import ImageFile
from streamlit.testing.v1 import AppTest

from conftest import ROOT, unmarked
from segviz import errors, evaluate, kernels, open_dataset
from segviz.archive import ZipLimits, extract_dataset_zip
from segviz.cli import main
from segviz.errors import SegvizError
from segviz.safety import terminal_text

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
            evaluate(open_dataset(folder, allowed_root=corpus.root))
        return
    assert_evaluation(evaluate(open_dataset(folder, allowed_root=corpus.root)), case, folder)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cli(corpus, name, tmp_path, capsys):
    case, folder = corpus.get(name)
    if case.outside_root:
        pytest.skip("the CLI has no data root: it follows its user's own links")
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
        assert f"skipped {terminal_text(skipped)}: " in err
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
    if case.outside_root:
        pytest.skip("the CLI has no data root: it follows its user's own links")
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
def test_app(corpus, name, monkeypatch, request):
    case, folder = corpus.get(name)
    corpus.app_runs.add(name)
    at = run_app(monkeypatch, corpus.root, name)
    assert not at.exception, at.exception
    if case.error:
        assert any(re.search(case.message, unmarked(e.value)) for e in at.error), [e.value for e in at.error]
        return
    # the app opens every dataset confined to its data root (issue 11, item 15)
    lib = evaluate(open_dataset(folder, allowed_root=corpus.root))
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
    assert any(unmarked(h.value) == (case.item or "good1") for h in at.subheader)


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


# ---------------------------------------------------------------------- names from the data (issue 11)
def test_cli_prints_control_characters_escaped(corpus, capsys):
    """Regression (issue 11, item 11): a file name holding a newline, a fake "segviz: 0 skipped" line
    and ANSI escapes reached the terminal raw. Every line of stderr is one of segviz's own."""
    _, folder = corpus.get("control-characters-in-name")
    assert main(["evaluate", str(folder)]) == 1
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\u202e" not in stream and "\r" not in stream
    lines = captured.err.splitlines()
    assert all(line.startswith("segviz: ") for line in lines), lines
    (line,) = [line for line in lines if "evil" in line]
    assert line.startswith("segviz: skipped evil\\nsegviz: 0 skipped\\x1b[2K\\x1b[1A\\u202e: ")
    assert terminal_text(FORGED_NAME) == "evil\\nsegviz: 0 skipped\\x1b[2K\\x1b[1A\\u202e"


def _read_csv(data: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data)))


def test_formula_names_are_neutralised_in_every_csv(corpus, tmp_path, capsys):
    """Regression (issue 11, item 10): names starting with = + - @ went raw into --csv and the CSV
    downloads. Each gets a leading ' (OWASP); numbers stay numbers; JSON keeps the names as they are."""
    from segviz.export import tables_csv

    _, folder = corpus.get("formula-names")
    formula = '=HYPERLINK("http://evil.example","x")'
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    assert main(["evaluate", str(folder), "--csv", str(out_csv), "--json", str(out_json), "--quiet"]) == 0
    rows = _read_csv(out_csv.read_text())
    assert [r["name"] for r in rows] == ["'" + formula, "'-2+3", "'@SUM(1+1)"]
    assert all(float(r["iou"]) >= 0 and float(r["gt_pixels"]) > 0 for r in rows)  # numbers, unquoted
    data = json.loads(out_json.read_text())
    assert [c["name"] for c in data["classes"]] == [formula, "-2+3", "@SUM(1+1)"]

    files = tables_csv(evaluate(open_dataset(folder)))
    classes = _read_csv(files["classes.csv"].decode())
    assert [r["name"] for r in classes] == ["'" + formula, "'-2+3", "'@SUM(1+1)"]
    images = _read_csv(files["images.csv"].decode())
    assert sorted(r["name"] for r in images) == sorted(["'" + FORMULA_IMAGE, "good1", "good2"])
    assert [c for c in images[0] if c.startswith("iou:")] == [
        "iou:" + formula,
        "iou:-2+3",
        "iou:@SUM(1+1)",
    ]  # a label that does not start a cell with a formula character is left as it is
    matrix = files["confusion_matrix.csv"].decode().splitlines()
    header = next(csv.reader(matrix[:1]))
    assert header == ["ground_truth", "'" + formula, "'-2+3", "'@SUM(1+1)", "(invalid)"]
    assert [line.split(",")[-4:] for line in matrix[-2:]] == [
        [str(v) for v in row] for row in (evaluate(open_dataset(folder)).confusion.tolist()[1:])
    ]
    for line in [*out_csv.read_text().splitlines(), *matrix]:
        cells = next(csv.reader([line]))
        assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), line


# ---------------------------------------------------------------------- options (issue 11 item 7, issue 10 item 9)
#: (id, argv with {D} = a dataset, {M} = a two-model dataset, {T} = a scratch folder, regex of the one
#: error line). Each must exit 2 before the dataset is opened, leaving the datasets as they were.
BAD_OPTIONS = [
    # never write into a dataset (issue 10, item 9)
    (
        "csv-onto-class-table",
        "evaluate {D} --csv {D}/classes.csv",
        r"--csv .*classes\.csv: inside the dataset folder .*; segviz never writes into a dataset folder",
    ),
    ("json-into-gt", "evaluate {D} --json {D}/gt/r.json", r"--json .*r\.json: inside the dataset folder"),
    (
        "json-dotdot",
        "evaluate {D} --json {D}/gt/../r.json",
        r"--json .*r\.json \(resolves to .*\): inside the dataset folder",
    ),
    ("out-into-dataset", "report {D} --out {D}/r.html", r"--out .*r\.html: inside the dataset folder"),
    (
        "pdf-into-dataset",
        "report {D} --out {T}/r.html --pdf {D}/images/r.pdf",
        r"--pdf .*r\.pdf: inside the dataset folder",
    ),
    ("store-is-dataset", "evaluate {D} --store {D}", r"--store .*: inside the dataset folder"),
    (
        "store-inside-pred",
        "evaluate {D} --store {D}/pred/cache",
        r"--store .*cache: inside the dataset folder",
    ),
    (
        "json-onto-other-model",
        "evaluate {M} --model a --json {M}/pred/b/good1.png",
        r"--json .*good1\.png: inside the dataset folder",
    ),
    (
        "compare-json-onto-prediction",
        "compare {M} --models a b --json {M}/pred/a/good1.png",
        r"--json .*: inside the dataset folder",
    ),
    (
        "gt-pred-layout-parent",
        "evaluate --gt {M}/gt --pred {M}/pred/a --csv {M}/pred/b/x.csv",
        r"--csv .*x\.csv: inside the dataset folder .*two-models",
    ),
    (
        "csv-onto-class-table-file",
        "evaluate --gt {M}/gt --pred {M}/pred/a --classes {T}/t.csv --csv {T}/t.csv",
        r"--csv .*t\.csv: is the dataset's file .*t\.csv",
    ),
    (
        "symlink-to-class-table",
        "evaluate {D} --csv {T}/link.csv",
        r"--csv .*link\.csv \(resolves to .*classes\.csv\): inside the dataset folder",
    ),
    (
        "symlinked-folder",
        "evaluate {D} --json {T}/dlink/r.json",
        r"--json .*r\.json \(resolves to .*\): inside the dataset folder",
    ),
    # outputs where no file can be written (issue 11, item 7)
    (
        "json-missing-folder",
        "evaluate {D} --json /nonexistent/x.json",
        r"--json /nonexistent/x\.json: the folder /nonexistent does not exist",
    ),
    ("json-onto-folder", "evaluate {D} --json {T}", r"--json .*: is a folder; give a file name"),
    (
        "csv-below-a-file",
        "evaluate {D} --csv {T}/file.txt/r.csv",
        r"--csv .*r\.csv: .*file\.txt is a file, not a folder",
    ),
    (
        "csv-in-proc",
        "evaluate {D} --csv /proc/segviz.csv",
        r"--csv /proc/segviz\.csv: cannot write this file",
    ),
    (
        "csv-onto-proc-file",
        "evaluate {D} --csv /proc/version",
        r"--csv /proc/version: cannot write this file",
    ),
    ("out-onto-folder", "report {D} --out {T}", r"--out .*: is a folder"),
    ("store-onto-file", "evaluate {D} --store {T}/file.txt", r"--store .*file\.txt: is a file, not a folder"),
    (
        "store-below-file",
        "evaluate {D} --store {T}/file.txt/cache",
        r"--store .*cache: .*file\.txt is a file, not a folder",
    ),
    (
        "same-file-twice",
        "evaluate {D} --json {T}/r.out --csv {T}/r.out",
        r"--csv .*r\.out: the same file as --json",
    ),
    # values out of range (issue 11, item 7)
    (
        "ignore-huge",
        "evaluate {D} --ignore 99999999999999999999",
        r"--ignore: '99999999999999999999' is not an id; expected comma-separated integers in 0\.\.65534",
    ),
    ("ignore-negative", "evaluate {D} --ignore=-1", r"--ignore: '-1' is not an id"),
    ("ignore-above-max-id", "evaluate {D} --ignore 255,65535", r"--ignore: '65535' is not an id"),
    ("ignore-word", "evaluate {D} --ignore 255,void", r"--ignore: 'void' is not an id"),
    ("ignore-fraction", "evaluate {D} --ignore 2.5", r"--ignore: '2\.5' is not an id"),
    (
        "ignore-unicode-digits",
        "evaluate {D} --ignore \u0662\u0665\u0665",
        r"--ignore: '\u0662\u0665\u0665' is not an id",
    ),
    (
        "compare-resamples-0",
        "compare {M} --models a b --resamples 0",
        r"--resamples must be an integer in 1\.\.10,000 \(got 0\)",
    ),
    (
        "report-resamples-huge",
        "report {D} --out {T}/r.html --resamples 10001",
        r"--resamples must be an integer in 1\.\.10,000 \(got 10001\)",
    ),
    (
        "report-worst-negative",
        "report {D} --out {T}/r.html --worst -1",
        r"--worst must be an integer in 0\.\.100 \(got -1\)",
    ),
    (
        "report-worst-huge",
        "report {D} --out {T}/r.html --worst 101",
        r"--worst must be an integer in 0\.\.100 \(got 101\)",
    ),
    (
        "seed-negative",
        "compare {M} --models a b --seed -1",
        r"--seed must be an integer in 0\.\.4,294,967,295 \(got -1\)",
    ),
    ("workers-0", "evaluate {D} --workers 0", r"--workers must be an integer in 1\.\.256 \(got 0\)"),
    (
        "workers-huge",
        "evaluate {D} --workers 100000",
        r"--workers must be an integer in 1\.\.256 \(got 100000\)",
    ),
]


@pytest.fixture(scope="module")
def option_datasets(tmp_path_factory) -> tuple[Path, Path, Path]:
    from make_bad_corpus import _base

    root = tmp_path_factory.mktemp("options")
    dataset, models, scratch = _base(root, "good"), two_models(root), root / "scratch"
    scratch.mkdir()
    (scratch / "file.txt").write_text("not a folder\n")
    (scratch / "t.csv").write_text((dataset / "classes.csv").read_text())
    (scratch / "link.csv").symlink_to(dataset / "classes.csv")
    (scratch / "dlink").symlink_to(dataset, target_is_directory=True)
    return dataset, models, scratch


@pytest.mark.parametrize(("argv", "message"), [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_options_exit_2_before_any_work(option_datasets, argv, message, monkeypatch, capsys):
    dataset, models, scratch = option_datasets
    before = {f: snapshot(f) for f in (dataset, models)}  # (a probe may touch scratch/'s mtime)
    started: list[str] = []
    monkeypatch.setattr("segviz.cli_common.open_dataset", lambda *a, **k: started.append("open_dataset"))
    args = [a.format(D=dataset, M=models, T=scratch) for a in argv.split(" ")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert not started, "the dataset was opened before the option was checked"
    assert err.count("\n") == 1 and err.startswith("segviz: error: ") and "Traceback" not in err, err
    assert re.search(message, err), err
    assert {f: snapshot(f) for f in before} == before


def test_pdf_without_chromium_is_refused_before_any_work(option_datasets, monkeypatch, capsys):
    dataset, _, scratch = option_datasets
    monkeypatch.setattr("segviz.report.CHROMIUM", str(scratch / "no-chromium"))
    monkeypatch.setattr(
        "segviz.cli_common.open_dataset", lambda *a, **k: pytest.fail("the dataset was opened")
    )
    args = ["report", str(dataset), "--out", str(scratch / "r.html"), "--pdf", str(scratch / "r.pdf")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"segviz: error: --pdf needs Chromium at .*no-chromium, which does not exist \(apt-get .*\)\n", err
    )


def test_a_store_from_the_environment_inside_the_dataset_is_refused(option_datasets, monkeypatch, capsys):
    dataset, _, _ = option_datasets
    monkeypatch.setenv("SEGVIZ_STORE", str(dataset / "gt" / ".cache"))
    assert main(["evaluate", str(dataset), "--quiet"]) == 2
    assert re.search(
        r"the results store \(--store, \$SEGVIZ_STORE\) .*: inside the dataset folder",
        capsys.readouterr().err,
    )
    assert main(["evaluate", str(dataset), "--quiet", "--no-store"]) == 0
    assert not (dataset / "gt" / ".cache").exists()


def test_good_options_still_work(option_datasets, tmp_path, capsys):
    """The same options with values in range and paths outside the datasets: evaluated, written."""
    dataset, models, _ = option_datasets
    out = tmp_path / "out"
    out.mkdir()
    argv = ["evaluate", str(dataset), "--ignore", "255, 0", "--workers", "256", "--json", str(out / "r.json")]
    assert main([*argv, "--csv", str(out / "r.csv"), "--store", str(out / "store"), "--quiet"]) == 0
    ignored = sum(int(np.isin(gt, (0, 255)).sum()) for gt, _ in GOOD.values())
    assert ignored == 14 + 16 and json.loads((out / "r.json").read_text())["ignored_pixels"] == ignored
    assert (
        main(
            [
                "compare",
                str(models),
                "--models",
                "a",
                "b",
                "--resamples",
                "1",
                "--seed",
                str(2**32 - 1),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(["report", str(dataset), "--out", str(out / "r.html"), "--worst", "0", "--resamples", "10"]) == 0
    )
    assert (out / "r.html").stat().st_size > 0


def test_a_write_that_fails_after_the_work_is_exit_2(option_datasets, tmp_path, monkeypatch, capsys):
    """A disk that fills up during the run: one line naming the file, no traceback."""
    import errno

    dataset, _, _ = option_datasets

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["evaluate", str(dataset), "--json", str(tmp_path / "r.json"), "--quiet", "--no-store"]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"segviz: error: --json .*r\.json: cannot write \(No space left on device\)\n", err
    ), err


def test_json_to_stdout_through_a_pipe(option_datasets, tmp_path):
    """``--json /dev/stdout`` (a pipe's link under /proc) is written through its own name, not refused."""
    dataset, _, _ = option_datasets
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEGVIZ_STORE": str(tmp_path / "store")}
    proc = subprocess.run(
        [sys.executable, "-m", "segviz", "evaluate", str(dataset), "--quiet", "--json", "/dev/stdout"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["num_images"] == 2


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
