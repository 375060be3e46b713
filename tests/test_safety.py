"""segviz.safety: the output-path rule, the data-root rule, CSV cells and terminal text."""

from __future__ import annotations

import csv
import io
import os

import pandas as pd
import pytest

from segviz import open_dataset
from segviz.errors import OutputPathError, OutsideRootError
from segviz.safety import (
    check_distinct_outputs,
    check_inside_root,
    check_output_path,
    csv_cell,
    csv_safe_frame,
    protected_locations,
    terminal_text,
)


# ---------------------------------------------------------------------- never write into a dataset
def test_the_dataset_folder_itself_is_protected_not_only_its_mask_folders(tiny_dataset):
    """Regression (issue 10, item 9): the CLI's old check protected gt/, the model's pred/ and
    images/ only, so DATASET/classes.csv and --store DATASET were accepted."""
    for target in ("classes.csv", "r.html", "new/r.json"):
        with pytest.raises(
            OutputPathError, match=r"^--csv .*: inside the dataset folder .*tiny; segviz never"
        ):
            check_output_path(tiny_dataset / target, tiny_dataset, option="--csv")
    with pytest.raises(OutputPathError, match=r"--store .*tiny: inside the dataset folder"):
        check_output_path(tiny_dataset, tiny_dataset, kind="folder", option="--store")


def test_an_opened_dataset_protects_its_root_parts_and_class_table(tiny_dataset, tmp_path):
    dataset = open_dataset(tiny_dataset)
    assert dataset.root == tiny_dataset
    with pytest.raises(OutputPathError, match="inside the dataset folder"):
        check_output_path(tiny_dataset / "classes.csv", dataset)
    table = tmp_path / "elsewhere" / "t.csv"
    table.parent.mkdir()
    table.write_text((tiny_dataset / "classes.csv").read_text())
    parts = open_dataset(gt=tiny_dataset / "gt", pred=tiny_dataset / "pred", classes=table)
    assert parts.root is None
    with pytest.raises(OutputPathError, match=r"is the dataset's file .*t\.csv"):
        check_output_path(table, parts)
    with pytest.raises(OutputPathError, match=r"inside the dataset folder .*tiny"):  # gt/'s parent
        check_output_path(tiny_dataset / "x.json", parts)
    assert check_output_path(table.parent / "r.csv", parts) == (table.parent / "r.csv").resolve()


def test_another_models_folder_is_protected(tmp_path):
    ds = tmp_path / "ds"
    pred_a = ds / "pred" / "a"
    pred_a.mkdir(parents=True)
    assert protected_locations([pred_a]) == [pred_a, ds / "pred"]
    with pytest.raises(OutputPathError, match=r"inside the dataset folder .*ds/pred; "):
        check_output_path(ds / "pred" / "b" / "x.png", [pred_a])
    assert check_output_path(ds / "x.json", [pred_a])  # ds/ has no gt/: not laid out as a dataset
    (ds / "gt").mkdir()
    assert protected_locations([pred_a]) == [pred_a, ds / "pred", ds]
    assert protected_locations([ds / "gt"]) == [ds / "gt", ds]
    assert protected_locations([tmp_path / "elsewhere" / "gt"]) == [tmp_path / "elsewhere" / "gt"]


def test_links_and_dotdot_are_resolved(tiny_dataset, tmp_path):
    (tmp_path / "link.csv").symlink_to(tiny_dataset / "classes.csv")
    (tmp_path / "dlink").symlink_to(tiny_dataset, target_is_directory=True)
    for path in (tmp_path / "link.csv", tmp_path / "dlink" / "r.json", tiny_dataset / "gt" / ".." / "r.json"):
        with pytest.raises(OutputPathError, match=r"\(resolves to .*\): inside the dataset folder"):
            check_output_path(path, tiny_dataset)
    # the dataset reached through a link is the same dataset
    with pytest.raises(OutputPathError, match="inside the dataset folder"):
        check_output_path(tiny_dataset / "r.json", tmp_path / "dlink")


def test_unwritable_targets_are_refused(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    cases = {
        tmp_path / "missing" / "r.json": "the folder .*missing does not exist",
        tmp_path: "is a folder; give a file name",
        tmp_path / "file.txt" / "r.csv": r"file\.txt is a file, not a folder",
        "/proc/segviz-test.csv": "cannot write this file",
    }
    for path, message in cases.items():
        with pytest.raises(OutputPathError, match=message):
            check_output_path(path, None)
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_output_path(tmp_path / "file.txt", None, kind="folder")
    with pytest.raises(OutputPathError, match=r"file\.txt is a file, not a folder"):
        check_output_path(tmp_path / "file.txt" / "a" / "b", None, kind="folder")
    with pytest.raises(OutputPathError, match="empty path"):
        check_output_path("", None)
    assert check_output_path(tmp_path / "new" / "store", None, kind="folder") == tmp_path / "new" / "store"


def test_the_write_probe_changes_nothing(tmp_path):
    existing = tmp_path / "r.json"
    existing.write_text("old")
    before = existing.stat().st_mtime_ns
    check_output_path(existing, None)
    assert existing.read_text() == "old" and existing.stat().st_mtime_ns == before
    check_output_path(tmp_path / "new.json", None)
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_devices_and_pipes(tmp_path):
    """/dev/null and /dev/stdout are fine outputs (opened by their own name); a named pipe that
    nothing reads is refused instead of blocking the run."""
    assert check_output_path("/dev/null", None)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(
        OutputPathError, match=r"fifo: cannot write this file \(a named pipe that nothing reads\)"
    ):
        check_output_path(tmp_path / "fifo", None)


def test_two_options_on_one_file(tmp_path):
    with pytest.raises(OutputPathError, match=r"--csv .*a\.out: the same file as --json"):
        check_distinct_outputs({"--json": tmp_path / "a.out", "--csv": tmp_path / "x" / ".." / "a.out"})


# ---------------------------------------------------------------------- never read outside the root
def test_check_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (tmp_path / "secret.csv").write_text("x")
    (root / "d" / "t.csv").symlink_to(tmp_path / "secret.csv")
    (root / "d" / "ok.csv").symlink_to(root / "d" / "t.csv")  # a chain that ends outside
    assert check_inside_root(root / "d", root) == (root / "d").resolve()
    for path in (root / "d" / "t.csv", root / "d" / "ok.csv", root / ".." / "secret.csv"):
        with pytest.raises(OutsideRootError, match=r"resolves to .*secret\.csv, outside the data root"):
            check_inside_root(path, root)


def test_open_dataset_with_a_root_refuses_links_out(tiny_dataset, tmp_path):
    """Issue 11, item 15: the root rule applies to every file read, not only the dataset folder."""
    outside = tmp_path / "outside"
    outside.mkdir()
    os.replace(tiny_dataset / "pred" / "b.png", outside / "b.png")
    (tiny_dataset / "pred" / "b.png").symlink_to(outside / "b.png")
    os.replace(tiny_dataset / "images" / "a.jpg", outside / "a.jpg")
    (tiny_dataset / "images" / "a.jpg").symlink_to(outside / "a.jpg")
    plain = open_dataset(tiny_dataset)  # no root: the user's own links are followed
    assert [p.name for p in plain.pairs] == ["a", "b"] and not plain.skipped and not plain.warnings
    dataset = open_dataset(tiny_dataset, allowed_root=tiny_dataset)
    assert [(p.name, p.image_path) for p in dataset.pairs] == [("a", None)]
    (problem,) = dataset.skipped
    assert problem.name == "b"
    assert problem.reason == (
        f"{tiny_dataset / 'pred' / 'b.png'}: symbolic link to {outside / 'b.png'}, outside the data root "
        f"{tiny_dataset}, refused (segviz reads nothing outside the data root), skipped"
    )
    (warning,) = dataset.warnings
    assert warning.name == "a" and warning.reason.endswith("outside the data root), shown without a photo")
    with pytest.raises(
        OutsideRootError, match=r"the dataset folder resolves to .*tiny, outside the data root"
    ):
        open_dataset(tiny_dataset, allowed_root=outside)
    assert len(open_dataset(tiny_dataset, allowed_root=tmp_path).pairs) == 2  # both inside tmp_path


# ---------------------------------------------------------------------- CSV cells
@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")'])
def test_formula_cells_get_a_leading_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["road", "'quoted", "a=b", " =1", "", -1, -0.5, 3, float("nan"), None])
def test_other_cells_are_unchanged(value):
    assert csv_cell(value) is value


def test_csv_safe_frame_neutralises_cells_and_labels_and_keeps_numbers():
    frame = pd.DataFrame(
        {"name": ["=cmd", "car"], "=col": ["x", "@y"], "iou": [-1.0, 0.25]}, index=["-a", "b"]
    )
    safe = csv_safe_frame(frame)
    text = safe.to_csv()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["", "name", "'=col", "iou"], ["'-a", "'=cmd", "x", "-1.0"], ["b", "car", "'@y", "0.25"]]
    assert safe["iou"].dtype == float and frame["name"].tolist() == ["=cmd", "car"]  # a copy


# ---------------------------------------------------------------------- terminal text
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("x\ry\tz", "x\\ry\\tz"),
        ("\x9b2J", "\\x9b2J"),  # a C1 control sequence introducer
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("line\u2028sep", "line\\u2028sep"),
        ("caf\udce9", "caf\\xe9"),  # an undecodable file-name byte
    ],
)
def test_terminal_text_escapes_what_a_terminal_acts_on(text, shown):
    assert terminal_text(text) == shown
    assert terminal_text(text).isprintable()


@pytest.mark.parametrize(
    "text", ["road", "東京 straße", "café", "a b", "👩\u200d💻", "می\u200cخواهم", "עברית"]
)
def test_terminal_text_keeps_printable_text_of_any_script(text):
    assert terminal_text(text) == text
