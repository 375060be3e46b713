"""Class tables: CSV parsing, presets, generated tables, lookup tables and colour decoding."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from segviz.classes import RESERVED_NAMES, ClassTable, parse_ignore_ids
from segviz.errors import ClassTableError, OptionError
from segviz.presets import PRESETS


def test_csv_with_ignore_column():
    t = ClassTable.from_csv_text("id,name,r,g,b,ignore\n0,road,1,2,3,0\n1,car,4,5,6,0\n255,void,0,0,0,1\n")
    assert t.ids.tolist() == [0, 1] and t.names == ("road", "car") and t.ignore_ids == (255,)
    assert t.colors.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_csv_without_ignore_column_and_with_bom():
    t = ClassTable.from_csv_text("\ufeffid,name,r,g,b\n3,a,0,0,0\n")
    assert t.ids.tolist() == [3] and t.ignore_ids == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,name,r,g,b\n1,a,0,0,0\n1,b,1,1,1\n", r"classes.csv: id 1 appears twice \('a' and 'b'\)"),
        (
            "id,name,r,g\n1,a,0,0\n",
            r"classes.csv: missing column\(s\) b; expected header 'id,name,r,g,b\[,ignore\]'",
        ),
        ("id,name,r,g,b\n1,a,0,300,0\n", r"classes.csv, line 2: column 'g' must be in 0..255 \(got 300\)"),
        (
            "id,name,r,g,b\nx,a,0,0,0\n",
            r"classes.csv, line 2: column 'id' must be an integer in 0..65534 \(got 'x'\)",
        ),
        (
            "id,name,r,g,b,ignore\n1,a,0,0,0,maybe\n",
            r"line 2: column 'ignore' must be 0 or 1 \(got 'maybe'\)",
        ),
        ("id,name,r,g,b\n1,,0,0,0\n", r"line 2: empty class name"),
        ("id,name,r,g,b\n", r"no classes"),
        ("", r"missing column"),
    ],
    ids=[
        "duplicate-id",
        "missing-column",
        "colour-range",
        "id-not-int",
        "bad-flag",
        "empty-name",
        "no-rows",
        "empty-file",
    ],
)
def test_csv_errors_name_the_file_and_problem(text, message):
    with pytest.raises(ClassTableError, match=message):
        ClassTable.from_csv_text(text, origin="classes.csv")


def test_duplicate_colours_warn_and_are_not_decoded():
    t = ClassTable.from_csv_text("id,name,r,g,b\n1,a,9,9,9\n2,b,9,9,9\n3,c,1,1,1\n", origin="t.csv")
    assert len(t.warnings) == 1 and "colour (9, 9, 9) is shared by ids 1, 2" in t.warnings[0]
    _codes, ids = t.colour_codes()
    assert ids.tolist() == [3]


def test_unknown_preset_and_missing_file():
    with pytest.raises(ClassTableError, match="unknown class-table preset 'coco'; expected one of ade20k"):
        ClassTable.from_preset("coco")
    with pytest.raises(ClassTableError, match=r"nope\.csv: no such class-table file, and not a preset"):
        ClassTable.load("nope.csv")


def test_lookup_tables_map_ignore_and_unknown():
    t = ClassTable.from_csv_text("id,name,r,g,b,ignore\n0,a,0,0,0,0\n5,b,1,1,1,0\n255,void,2,2,2,1\n")
    gt = t.gt_lut(256)
    assert gt[0] == 0 and gt[5] == 1 and gt[255] == 2 and gt[1] == 3  # K=2: 2 = ignore, 3 = unknown
    pred = t.pred_lut(256)
    assert pred[0] == 0 and pred[5] == 1 and pred[255] == 2 and pred[7] == 2  # 2 = invalid


def test_with_ignore_replaces_ignore_ids():
    t = ClassTable.from_preset("voc").with_ignore([0, 255])
    assert t.ignore_ids == (0, 255) and t.num_classes == 20 and t.names[0] == "aeroplane"


def test_generated_table_has_distinct_colours():
    t = ClassTable.generated(range(40), ignore_ids=[255])
    assert t.names[:2] == ("class_0", "class_1") and t.ignore_ids == (255,)
    assert len({tuple(c) for c in t.colors.tolist()}) == 40


def test_cityscapes_preset_maps_label_ids_to_train_ids():
    t = ClassTable.from_preset("cityscapes")
    assert t.num_classes == 19 and t.names[0] == "road" and t.names[18] == "bicycle"
    lut = t.gt_lut(256, encoding="label_ids")
    assert lut[7] == 0 and lut[26] == 13 and lut[33] == 18  # road, car, bicycle
    assert lut[0] == 19 and lut[1] == 19  # unlabeled, ego vehicle: ignored


def _read_shared_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("preset", "folder"), [("voc", "voc2012-deeplab"), ("camvid", "camvid-val"), ("ade20k", "ade20k-csail")]
)
def test_presets_agree_with_the_real_datasets_tables(shared_data, preset, folder):
    ours = ClassTable.from_preset(preset)
    theirs = ClassTable.from_csv(shared_data / folder / "classes.csv")
    assert ours.ids.tolist() == theirs.ids.tolist()
    assert ours.colors.tolist() == theirs.colors.tolist()
    assert ours.ignore_ids == theirs.ignore_ids
    # names agree up to ADE's synonym lists ("building;edifice")
    for a, b in zip(ours.names, theirs.names, strict=True):
        assert b.replace(";", " ").startswith(a.split(";")[0].split(" ")[0])


@pytest.mark.shared_data
def test_cityscapes_csv_format_gives_the_preset(shared_data):
    theirs = ClassTable.from_csv(shared_data / "cityscapes-frame" / "classes.csv")
    ours = ClassTable.from_preset("cityscapes")
    assert theirs.names == ours.names and theirs.colors.tolist() == ours.colors.tolist()
    assert dict(theirs.source_ids) == dict(ours.source_ids)
    assert np.array_equal(theirs.gt_lut(256, encoding="label_ids"), ours.gt_lut(256, encoding="label_ids"))


# ---------------------------------------------------------------------- how the table was chosen (issue #10)
def test_describe_table_choice_names_file_preset_or_generated(tmp_path):
    from segviz.classes import describe_table_choice

    csv = tmp_path / "classes.csv"
    csv.write_text("id,name,r,g,b,ignore\n0,road,1,2,3,0\n255,void,0,0,0,1\n")
    choice = describe_table_choice(ClassTable.from_csv(csv))
    assert (choice.kind, choice.origin) == ("file", str(csv))
    assert choice.text == f"class table: {csv} (1 classes; ignore ids: 255)"
    preset = describe_table_choice(ClassTable.from_preset("ade20k"))
    assert (preset.kind, preset.origin) == ("preset", "ade20k")
    assert preset.text == "class table: preset ade20k (150 classes; ignore ids: 0)"
    generated = describe_table_choice(ClassTable.generated([0, 1, 11]))
    assert generated.kind == "generated"
    assert (
        generated.text
        == "no class table; generated 3 classes from the ids found in the masks (ignore ids: none)"
    )


@pytest.fixture
def camvid_without_classes(shared_data, tmp_path):
    """CamVid's folders (symlinked, not copied) without its classes.csv."""
    root = tmp_path / "camvid"
    root.mkdir()
    for part in ("gt", "pred", "images"):
        (root / part).symlink_to(shared_data / "camvid-val" / part)
    return root


@pytest.mark.shared_data
def test_a_folder_without_classes_csv_gets_a_generated_table_never_a_preset(camvid_without_classes, capsys):
    """Regression (issue #10): the dashboard silently picked the ade20k preset for CamVid without
    classes.csv (mIoU 50.40 %, 1.6 M pixels "ignored"); the command line generates a table and says so
    (53.80 %; 60.41 % once 11 "Unlabelled" is ignored, the reference value). Both must do the same."""
    from segviz.classes import describe_table_choice
    from segviz.cli import main
    from segviz.dataset import find_class_table, open_dataset
    from segviz.evaluate import evaluate

    root = camvid_without_classes
    assert find_class_table(root) is None  # what the app must default to: generated, not a preset
    ev = evaluate(open_dataset(root, model="tinyfcn"))
    choice = describe_table_choice(ev.table)
    assert choice.kind == "generated" and choice.text.startswith("no class table; generated 12 classes")
    assert ev.summary()["mean_iou"] == pytest.approx(0.5380, abs=5e-5) and ev.ignored_pixels == 0
    ignoring = evaluate(open_dataset(root, model="tinyfcn"), generated_ignore=[11])
    assert ignoring.summary()["mean_iou"] == pytest.approx(0.60408, abs=5e-6)
    assert ignoring.ignored_pixels == 297271
    assert main(["evaluate", str(root), "--model", "tinyfcn", "--no-store"]) == 0
    out, err = capsys.readouterr()
    assert f"segviz: note: {choice.text}" in err
    assert "mIoU                 53.80  (12 classes)" in out
    # the preset the app used to guess gives other numbers: never silently
    ade = evaluate(open_dataset(root, model="tinyfcn", classes="ade20k"))
    assert ade.summary()["mean_iou"] == pytest.approx(0.5040, abs=5e-5) and ade.ignored_pixels == 1601620
    assert describe_table_choice(ade.table).kind == "preset"


# ---------------------------------------------------------------------- names (issue 11, item 12)
def test_duplicate_class_names_are_refused_with_the_line():
    """Regression (issue 11, item 12): two classes named 'car' merged their matrix rows and broke
    the Images view."""
    text = "id,name,r,g,b\n0,road,1,1,1\n1,car,2,2,2\n2,car,3,3,3\n"
    with pytest.raises(
        ClassTableError, match=r"^t\.csv, line 4: class name 'car' is used twice \(also on line 3\)"
    ):
        ClassTable.from_csv_text(text, origin="t.csv")
    with pytest.raises(
        ClassTableError, match=r"^preset: class name 'a' is used twice \(also on another class\)"
    ):
        ClassTable.from_rows([(0, "a", (1, 1, 1), False), (1, "a", (2, 2, 2), False)], origin="preset")


def test_ignore_rows_may_share_a_name_but_not_a_reserved_one():
    text = "id,name,r,g,b,ignore\n0,road,1,1,1,0\n254,void,0,0,0,1\n255,void,0,0,0,1\n"
    assert ClassTable.from_csv_text(text).ignore_names == ("void", "void")
    assert ClassTable.from_csv_text(text).with_ignore([7, 8, 255]).ignore_ids == (255, 7, 8)


@pytest.mark.parametrize("name", [*RESERVED_NAMES, "(INVALID)", "(Other)"])
def test_reserved_names_are_refused(name):
    """Regression: a class named '(invalid)' merged with the invalid-prediction column."""
    with pytest.raises(ClassTableError, match=r"line 3: class name .* is reserved for segviz's own labels"):
        ClassTable.from_csv_text(f"id,name,r,g,b\n0,road,1,1,1\n1,{name},2,2,2\n", origin="t.csv")


def test_invalid_column_name_is_reserved():
    from segviz.figures import INVALID_NAME

    assert INVALID_NAME in RESERVED_NAMES


def test_every_preset_has_unique_unreserved_names():
    for name in PRESETS:
        table = ClassTable.from_preset(name)
        assert len(set(table.names)) == table.num_classes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,name,r,g,b,name\n0,road,1,1,1,x\n", r"t\.csv, line 1: column\(s\) 'name' appear more than once"),
        (
            "id,name,r,g,b\n0,road,1,1,1\n1,a,b,2,2,2\n",
            r"t\.csv, line 3: 6 fields but the header has 5 columns",
        ),
        (
            "name,labelId,trainId,r,g,b,ignoreInEval\nroad,7,0,1,1,1,0\ncar,7,1,2,2,2,0\n",
            r"t\.csv, line 3: labelId 7 appears twice \(lines 2 and 3\)",
        ),
        (
            "name,labelId,trainId,r,g,b,ignoreInEval\nroad,7,0,1,1,1,0\ncar,8,1,2,2,2,0,extra\n",
            r"t\.csv, line 3: 8 fields but the header has 7 columns \(extra: 'extra'\)",
        ),
        (
            "name,labelId,trainId,r,g,b,ignoreInEval\nroad,7,0,1,1,1,0\nroad,8,1,2,2,2,0\n",
            r"t\.csv, line 3: class name 'road' is used twice \(also on line 2\)",
        ),
    ],
    ids=[
        "duplicate-header",
        "extra-field",
        "cityscapes-duplicate-label-id",
        "cityscapes-extra",
        "cityscapes-dup-name",
    ],
)
def test_malformed_rows_and_headers_are_refused(text, message):
    with pytest.raises(ClassTableError, match=message):
        ClassTable.from_csv_text(text, origin="t.csv")


def test_cityscapes_labels_sharing_a_train_id_keep_the_first_name():
    text = (
        "name,labelId,trainId,r,g,b,ignoreInEval\nroad,7,0,1,1,1,0\nparking,9,0,2,2,2,0\nvoid,0,255,0,0,0,1\n"
    )
    table = ClassTable.from_csv_text(text)
    assert table.names == ("road",) and table.source_ids == {7: 0, 9: 0, 0: 255}


# ---------------------------------------------------------------------- ignore ids typed by a user
@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("255", (255,)),
        ("0, 255", (0, 255)),
        ("255,0,255", (255, 0)),
        ("", ()),
        (" , ", ()),
        ("65534", (65534,)),
    ],
)
def test_parse_ignore_ids(text, ids):
    assert parse_ignore_ids(text) == ids


@pytest.mark.parametrize(
    "text", ["-1", "99999999999999999999", "65535", "1e3", "0x10", "2.5", "void", "١٢", "+1", "1 2"]
)
def test_parse_ignore_ids_refuses_what_is_not_an_id(text):
    """Regression (issue 11, item 7): --ignore=-1 silently ignored the largest raw value and a
    20-digit id crashed with a traceback."""
    with pytest.raises(
        OptionError, match=r"^--ignore: '.+' is not an id; expected comma-separated integers in 0\.\.65534$"
    ):
        parse_ignore_ids(text)
    with pytest.raises(ValueError, match="Ignore ids: "):  # OptionError is a ValueError too (the app's)
        parse_ignore_ids(text, option="Ignore ids")


def test_describe_ids_of_huge_sparse_ids_builds_no_range():
    """Regression: describe_ids built list(range(first, last)); ids up to 10**9 raised MemoryError
    while folding a pair with an unknown ground-truth value (found by the fold kernel's tests)."""
    table = ClassTable.generated([1, 5, 10**9], ignore_ids=[0])
    assert table.describe_ids() == "ids 1, 5, 1000000000; ignore 0"
    assert ClassTable.generated([3, 4, 5]).describe_ids() == "ids 3..5"
    assert ClassTable.generated([3, 5, 6]).describe_ids() == "ids 3, 5, 6"
