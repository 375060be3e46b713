"""Several models of one dataset opened on one listing of the ground truth (issue #17):
:func:`segviz.dataset.open_models`, :func:`segviz.store.shared_key_texts` and ``segviz compare``."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import save_mask
from segviz import evaluate, open_dataset, open_models
from segviz.cli import main
from segviz.compare import compare
from segviz.dataset import list_models
from segviz.errors import DatasetError, SegvizError
from segviz.store import key_texts, shared_key_texts

#: A class table with two ids sharing a colour: its warning is the table's, not a model's.
SHARED_COLOUR = (
    "id,name,r,g,b,ignore\n0,road,1,2,3,0\n1,car,1,2,3,0\n2,person,220,20,60,0\n255,void,0,0,0,1\n"
)


def same_datasets(one, other) -> None:
    """Two Dataset objects hold the same pairs, problems (in order) and parts."""
    assert one.pairs == other.pairs
    assert one.pairs.names == other.pairs.names and one.pairs.gt == other.pairs.gt
    assert one.pairs.pred == other.pairs.pred and one.pairs.images == other.pairs.images
    assert one.pairs.gt_encoding == other.pairs.gt_encoding
    assert one.pairs.pred_encoding == other.pairs.pred_encoding
    assert (one.pairs.urls, one.pairs.tops) == (other.pairs.urls, other.pairs.tops)
    assert one.skipped == other.skipped and one.warnings == other.warnings
    assert (one.gt_dir, one.pred_dir, one.images_dir, one.model, one.root) == (
        other.gt_dir,
        other.pred_dir,
        other.images_dir,
        other.model,
        other.root,
    )
    assert (one.table is None) == (other.table is None)
    if one.table is not None:
        assert np.array_equal(one.table.ids, other.table.ids) and list(one.table.names) == list(
            other.table.names
        )
        assert one.table.warnings == other.table.warnings


@pytest.fixture
def troubled(tmp_path):
    """Three models of 4 images, with a problem in every folder: an ambiguous ground truth ('b':
    b.png and b.npy), a JPEG in gt/ (lossy: a warning), a ground truth without predictions ('d'
    for m2), a prediction without ground truth ('x' for m1), a missing photo ('c') and a note in
    images/; m3 has every prediction."""
    root = tmp_path / "troubled"
    (root / "images").mkdir(parents=True)
    (root / "classes.csv").write_text(SHARED_COLOUR)
    for name in "abcd":
        save_mask(root / "gt" / f"{name}.png", np.array([[0, 1], [2, 255]]))
        if name != "c":
            Image.new("RGB", (2, 2), (90, 90, 90)).save(root / "images" / f"{name}.jpg")
        for model in ("m1", "m2", "m3"):
            if not (model == "m2" and name == "d"):
                save_mask(root / "pred" / model / f"{name}.png", np.array([[0, 1], [1, 0]]))
    save_mask(root / "gt" / "b.npy", np.zeros((2, 2), np.uint8))
    Image.new("L", (2, 2)).save(root / "gt" / "e.jpg")
    save_mask(root / "pred" / "m1" / "x.png", np.zeros((2, 2)))
    (root / "images" / "notes.txt").write_text("not a photo\n")
    (root / "images" / "bad.webm").write_text("not a photo either\n")
    return root


def test_open_models_gives_what_separate_opens_give(troubled):
    models = ["m1", "m2", "m3"]
    together = open_models(troubled, models=models)
    for model, dataset in zip(models, together, strict=True):
        same_datasets(dataset, open_dataset(troubled, model=model))
    m1, m2, m3 = together
    assert m1.pairs.names == ["a", "c", "d"] and m2.pairs.names == ["a", "c"]
    # each ground-truth problem named once in each model's lists (not once per model opened)
    for dataset in together:
        assert [p.name for p in dataset.skipped].count("b") == 1
        assert sum("e.jpg" in w.reason for w in dataset.warnings) == 1
        assert sum("bad.webm" in w.reason for w in dataset.warnings) == 1
        assert sum("no photo" in w.reason for w in dataset.warnings) == 1
    assert [p.name for p in m1.skipped] == ["b", "x"] and [p.name for p in m2.skipped] == ["b", "d"]
    # m1 and m3 pair the same ground-truth keys as the listing: (here 'b' is ambiguous, so each
    # model pairs on its own; the columns are equal, not shared)
    assert m1.pairs.gt == m3.pairs.gt


def test_models_with_every_file_share_the_ground_truth_column(tiny_dataset):
    for model in ("m1", "m2"):
        for name in ("a", "b"):
            save_mask(tiny_dataset / "pred" / model / f"{name}.png", np.zeros((2, 3)))
    for name in ("a", "b"):
        (tiny_dataset / "pred" / f"{name}.png").unlink()
    one, two = open_models(tiny_dataset, models=["m1", "m2"])
    same_datasets(one, open_dataset(tiny_dataset, model="m1"))
    same_datasets(two, open_dataset(tiny_dataset, model="m2"))
    assert one.pairs.gt is two.pairs.gt and one.pairs.names is two.pairs.names
    assert one.pairs.images is two.pairs.images and one.pairs.pred != two.pairs.pred


def test_open_models_names_the_first_model_that_cannot_be_opened(troubled):
    with pytest.raises(DatasetError, match=r"pred: no model 'nope' \(models: m1, m2, m3\)"):
        open_models(troubled, models=["m1", "nope", "m2"])
    (troubled / "pred" / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"pred/empty: no predicted masks found"):
        open_models(troubled, models=["m1", "empty"])


def counting(monkeypatch, name: str) -> Counter:
    """Count the calls of ``os.<name>`` by their first argument (a path); for "stat" and
    "scandir", the stats and listings of the C extension too (:mod:`test_signatures`)."""
    if name in ("stat", "scandir"):
        from test_signatures import scan_counter, stat_counter

        return (stat_counter if name == "stat" else scan_counter)(monkeypatch)
    calls: Counter = Counter()
    real = getattr(os, name)

    def counted(path, *args, **kwargs):
        calls[os.fspath(path)] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, counted)
    return calls


def test_the_ground_truth_folder_is_walked_once_for_every_model(troubled, monkeypatch):
    scans = counting(monkeypatch, "scandir")
    open_models(troubled, models=["m1", "m2", "m3"])
    gt, images = str(troubled / "gt"), str(troubled / "images")
    assert scans[gt] == 1 and scans[images] == 1
    assert all(scans[str(troubled / "pred" / m)] == 1 for m in ("m1", "m2", "m3"))
    scans.clear()
    for model in ("m1", "m2", "m3"):  # (what compare did before: the counting is right)
        open_dataset(troubled, model=model)
    assert scans[gt] == 3 and scans[images] == 3


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", ["ade20k-csail", "camvid-val", "voc2012-deeplab"])
def test_real_models_open_and_key_as_they_did_one_by_one(shared_data, folder, monkeypatch):
    """ade20k-csail's csail-2017 covers 2 of the 3 images: its ground-truth column is a part of
    csail-2018's (the files seen before are not stat'ed again, the others are)."""
    root = shared_data / folder
    models = list_models(root)
    assert len(models) == 2
    alone = [open_dataset(root, model=m) for m in models]
    together = open_models(root, models=models)
    for one, other in zip(together, alone, strict=True):
        same_datasets(one, other)
    expected = [key_texts(d.pairs) for d in alone]
    stats = counting(monkeypatch, "stat")
    assert shared_key_texts([d.pairs for d in together]) == expected
    files = {p for d in together for c in ("gt", "pred", "images") for p in d.pairs.absolute(c) if p}
    assert set(stats) == files and set(stats.values()) == {1}  # every file stat'ed once


def test_shared_keys_of_parts_and_of_lists_without_shared_files(troubled, monkeypatch):
    m1, m2, m3 = open_models(troubled, models=["m1", "m2", "m3"])
    part = m1.pairs.take([2, 0])  # (another order, a part)
    lists = [m1.pairs, part, m2.pairs, m3.pairs, m3.pairs.take([1]), []]  # (a part of each)
    expected = [key_texts(pairs) for pairs in lists]
    stats = counting(monkeypatch, "stat")
    assert shared_key_texts(lists) == expected
    assert max(stats.values()) == 1 and len(stats) == 3 + 2 + 3 + 3 + 2  # gt, photos, 3 models


def test_a_file_gone_keeps_its_missing_signature(troubled):
    m1, m3 = open_models(troubled, models=["m1", "m3"])
    (troubled / "gt" / "a.png").unlink()
    keys = shared_key_texts([m1.pairs, m3.pairs])
    assert keys == [key_texts(m1.pairs), key_texts(m3.pairs)]
    assert json.loads(keys[1][0])[2:4] == [-1, -1]  # (size, mtime of a file that is gone)


def test_compare_says_the_class_table_warning_once(troubled, tmp_path, capsys):
    """Regression (issue #17, compare at 100,000 images): ``segviz compare`` said the class table's
    warning (a colour shared by two ids) once per model; the models' own problems are still said
    per model, in the order of the models, and --json is what separate opens give."""
    out = tmp_path / "c.json"
    code = main(["compare", str(troubled), "--models", "m1", "m2", "--json", str(out), "--resamples", "100"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("colour (1, 2, 3) is shared by ids 0, 1") == 1
    lines = err.splitlines()
    assert sum(line.startswith("segviz: skipped [m1]") for line in lines) >= 1
    assert err.index("skipped [m1]") < err.index("skipped [m2]")
    assert err.count("e.jpg: JPEG is lossy") == 2  # (a file problem of each model's dataset)
    a = evaluate(open_dataset(troubled, model="m1"))
    b = evaluate(open_dataset(troubled, model="m2"))
    expected = compare(a, b, name_a="m1", name_b="m2", resamples=100).to_dict()
    assert out.read_text() == json.dumps(expected, indent=1, allow_nan=False) + "\n"
    store_json = out.read_text()
    assert main(["compare", str(troubled), "--models", "m1", "m2", "--json", str(out), "--resamples", "100",
                 "--no-store"]) == 1  # fmt: skip
    assert out.read_text() == store_json


def test_compare_stats_each_ground_truth_file_once(troubled, tmp_path, monkeypatch, capsys):
    """``segviz compare`` with the store warm: the ground-truth folder listed once, each of its
    files stat'ed once (its listing and keys were taken once per model before)."""
    args = [
        "compare",
        str(troubled),
        "--models",
        "m1",
        "m3",
        "--resamples",
        "20",
        "--store",
        str(tmp_path / "s"),
    ]
    assert main(args) == 1  # (cold: counts stored)
    scans, stats = counting(monkeypatch, "scandir"), counting(monkeypatch, "stat")
    assert main(args) == 1
    capsys.readouterr()
    gt = troubled / "gt"
    assert scans[str(gt)] == 1
    assert [stats[str(gt / f"{name}.png")] for name in "acd"] == [1, 1, 1]
    assert stats[str(troubled / "pred" / "m1" / "a.png")] == 1


def test_url_datasets_open_and_key_as_one_by_one(tmp_path):
    """A dataset behind fsspec URLs (here in memory): the listing is shared the same way, and
    the keys of objects (their listed versions) are taken once each."""
    pytest.importorskip("fsspec")
    from test_remote import SAMPLE, to_memory

    url = to_memory(SAMPLE)
    models = list_models(url)
    together = open_models(url, models=models)
    alone = [open_dataset(url, model=m) for m in models]
    for one, other in zip(together, alone, strict=True):
        same_datasets(one, other)
    assert together[0].pairs.gt[0].startswith("memory://")
    assert shared_key_texts([d.pairs for d in together]) == [key_texts(d.pairs) for d in alone]


def test_report_fingerprint_reads_the_pair_columns(tmp_path, monkeypatch):
    """Issue #17 (report at 100,000 images): the report's fingerprint and mask folder take the
    walked paths from the pairs' columns (building a ``Pair`` and two ``Path`` objects per image
    cost 1.2 s): the same values as its definition, for a dataset named relative to the working
    folder with nested folders; no ``Pair`` is built; a file gone is named as before (the first
    missing in the order ground truth, prediction of each pair)."""
    from test_report import brute_force_fingerprint

    from segviz.report.fingerprint import dataset_fingerprint, mask_files, mask_root

    for rel in (
        "gt/x/a.png",
        "gt/x/b.png",
        "gt/y/c.png",
        "pred/m/x/a.png",
        "pred/m/x/b.png",
        "pred/m/y/c.png",
    ):
        save_mask(tmp_path / "d" / rel, np.full((3, 4), len(rel), dtype=np.uint8))
    monkeypatch.chdir(tmp_path)
    ev = evaluate(open_dataset("d", model="m", classes="voc"), store=None)
    texts = [p for pair in zip(ev.pairs.gt, ev.pairs.pred, strict=True) for p in pair]
    assert texts[:2] == ["d/gt/x/a.png", "d/pred/m/x/a.png"]
    assert dataset_fingerprint(ev) == brute_force_fingerprint(texts)
    assert mask_root(ev) == str(tmp_path / "d")
    assert mask_files(ev) == sorted(map(Path, texts), key=str)
    assert ev.pairs._built is None  # (no Pair object built)
    (tmp_path / "d" / "gt" / "y" / "c.png").unlink()
    (tmp_path / "d" / "pred" / "m" / "x" / "b.png").unlink()
    with pytest.raises(SegvizError, match=r"^d/pred/m/x/b\.png: cannot fingerprint the dataset"):
        dataset_fingerprint(ev)
