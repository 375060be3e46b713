"""evaluate() as public steps (count → choose_table → fold), so a caller that caches (the dashboard)
calls the library's steps instead of rebuilding them (issue 12)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import save_mask
from segviz import evaluate, open_dataset
from segviz.counts import Counted
from segviz.evaluate import choose_table, count, count_pairs, fold
from segviz.store import ResultsStore


def assert_same_evaluation(a, b) -> None:
    assert a.names == b.names and a.pairs == b.pairs and a.table is b.table
    np.testing.assert_array_equal(a.confusion, b.confusion)
    np.testing.assert_array_equal(a.image_rows, b.image_rows)
    np.testing.assert_array_equal(a.ignored_per_image, b.ignored_per_image)
    assert a.skipped == b.skipped and a.warnings == b.warnings


def with_bad_pair(tiny_dataset):
    """The tiny dataset plus an unreadable pair (c), an unpaired prediction (d) and a prediction value
    that is not a class id (a warning)."""
    (tiny_dataset / "gt" / "c.png").write_bytes(b"not a png")
    shutil.copy(tiny_dataset / "pred" / "a.png", tiny_dataset / "pred" / "c.png")
    shutil.copy(tiny_dataset / "pred" / "a.png", tiny_dataset / "pred" / "d.png")
    save_mask(tiny_dataset / "pred" / "b.png", np.array([[0, 0, 7], [0, 0, 1]]))
    return open_dataset(tiny_dataset)


def test_evaluate_is_count_choose_table_fold(tiny_dataset):
    dataset = with_bad_pair(tiny_dataset)
    counted = count(dataset)
    assert isinstance(counted, Counted)
    assert [pc.pair.name for pc in counted.counts] == ["a", "b"]
    assert [p.name for p in counted.unreadable] == ["c"]
    table = choose_table(dataset, counted)
    assert table is dataset.table
    by_steps = fold(counted, table, skipped=dataset.skipped, warnings=dataset.warnings)
    whole = evaluate(dataset)
    assert_same_evaluation(by_steps, whole)
    # the dataset's problems first, then the unreadable pair; the invalid value is a warning
    assert [p.name for p in whole.skipped] == [*[p.name for p in dataset.skipped], "c"]
    assert any(p.name == "d" for p in dataset.skipped)
    assert any("not class ids" in p.reason for p in whole.warnings)


def test_fold_of_counted_equals_fold_of_count_pairs(tiny_dataset):
    """The older entry points keep working and give the same evaluation."""
    dataset = with_bad_pair(tiny_dataset)
    ok, bad = count_pairs(dataset.pairs, dataset.table)
    old = fold(ok, dataset.table, skipped=[*dataset.skipped, *bad], warnings=dataset.warnings)
    new = fold(count(dataset), dataset.table, skipped=dataset.skipped, warnings=dataset.warnings)
    assert_same_evaluation(old, new)


def test_choose_table_generates_one_without_a_table(tiny_dataset):
    (tiny_dataset / "classes.csv").unlink()
    dataset = open_dataset(tiny_dataset)
    assert dataset.table is None
    counted = count(dataset)
    table = choose_table(dataset, counted, generated_ignore=[255])
    assert table.ids.tolist() == [0, 1, 2] and table.ignore_ids == (255,)
    generated = choose_table(dataset, counted)
    assert generated.ids.tolist() == [0, 1, 2, 255]
    whole = evaluate(dataset, generated_ignore=[255])
    assert whole.table.rows() == table.rows()
    by_steps = fold(counted, table, skipped=dataset.skipped, warnings=dataset.warnings)
    np.testing.assert_array_equal(whole.confusion, by_steps.confusion)
    assert whole.ignored_pixels == by_steps.ignored_pixels == 1


def test_one_count_folds_through_any_table(shared_data, tmp_path):
    """Counting depends on the files only: one Counted, folded through the CamVid table with and
    without its ignore id, gives what evaluating with each table gives (the reference mIoU
    0.60408 of shared/data/README.md with it); a second count comes from the store."""
    dataset = open_dataset(shared_data / "camvid-val", model="tinyfcn")
    store = ResultsStore(tmp_path / "store")
    counted = count(dataset, store=store)
    assert len(counted.counts) == 101 and counted.unreadable == ()
    assert store.stats.misses == 101
    with_ignore = fold(counted, dataset.table)
    assert with_ignore.summary()["mean_iou"] == pytest.approx(0.60408, abs=5e-6)
    without = dataset.table.with_ignore([])  # "Unlabelled" (11) becomes a class
    folded = fold(counted, without)
    assert folded.table.num_classes == with_ignore.table.num_classes + 1 and folded.ignored_pixels == 0
    fresh = evaluate(open_dataset(shared_data / "camvid-val", model="tinyfcn", classes=without))
    np.testing.assert_array_equal(folded.confusion, fresh.confusion)
    np.testing.assert_array_equal(folded.image_rows, fresh.image_rows)
    again = count(dataset, store=store)
    assert store.stats.hits == 101 and store.stats.misses == 0
    for a, b in zip(again.counts, counted.counts, strict=True):
        np.testing.assert_array_equal(a.counts, b.counts)
