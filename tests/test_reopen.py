"""Reopening a dataset at scale (issue #17): the columnar paths (PairList, key_texts, CountColumns,
the store matched as text, fold through a lookup table) against the per-object paths they replace,
on small data: the same pairs, keys, store folders and numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import save_mask
from segviz import evaluate, open_dataset
from segviz.classes import ClassTable
from segviz.counts import CountColumns
from segviz.dataset import Pair, PairList
from segviz.evaluate import _lookup, choose_table, count, count_pairs, fold
from segviz.store import ResultsStore, key_texts, pair_key


def _dataset(root: Path, names, *, photos: bool = False, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name in names:
        gt = rng.integers(0, 4, (6, 5))
        save_mask(root / "gt" / f"{name}.png", gt)
        save_mask(
            root / "pred" / f"{name}.png", np.where(rng.random((6, 5)) < 0.6, gt, rng.integers(0, 5, (6, 5)))
        )
        if photos:
            save_mask(root / "images" / f"{name}.png", np.zeros((6, 5), dtype=np.uint8))
    return root


NAMES = ["a", "b-1", "café", 'quote"d', "back\\slash", "sub/c", "sub/deeper/d", "x_leftImg8bit"]


def _old_pairs(ds):
    """The pairs as open_dataset built them before issue #17: one Pair of Path objects each."""
    return [
        Pair(p.name, Path(p.gt_path), Path(p.pred_path), p.image_path, p.gt_encoding, p.pred_encoding)
        for p in ds.pairs
    ]


def test_pair_list_behaves_as_the_list_of_pairs_it_replaces(tmp_path):
    root = _dataset(tmp_path / "ds", NAMES, photos=True)
    ds = open_dataset(root)
    pairs = ds.pairs
    assert isinstance(pairs, PairList) and len(pairs) == len(NAMES)
    listed = list(pairs)
    assert all(isinstance(p.gt_path, Path) and isinstance(p.image_path, Path) for p in listed)
    assert pairs == listed and listed == list(pairs) and pairs == _old_pairs(ds)
    assert pairs[1] == listed[1] and pairs[-1] == listed[-1] and pairs[2:4] == listed[2:4]
    assert [p.name for p in pairs.take([3, 0])] == [listed[3].name, listed[0].name]
    assert sorted(p.name for p in pairs) == sorted(n.replace("_leftImg8bit", "") for n in NAMES)
    with pytest.raises(IndexError, match="out of range"):
        pairs[len(NAMES)]


@pytest.mark.parametrize("relative", [False, True])
def test_key_texts_are_the_json_of_pair_key_for_every_kind_of_name(tmp_path, monkeypatch, relative):
    """Names with non-ASCII letters, quotes and backslashes take json.dumps; the others the format
    string; relative roots are made absolute as file_signature does."""
    root = _dataset(tmp_path / "ds", NAMES, photos=True)
    if relative:
        monkeypatch.chdir(tmp_path)
        root = Path("ds")
    ds = open_dataset(root)
    expected = [json.dumps(pair_key(p)) for p in list(ds.pairs)]
    assert key_texts(ds.pairs) == expected
    assert key_texts(list(ds.pairs)) == expected  # (a plain list of Pair: the general path)
    assert all(json.loads(t)[1].startswith(str(tmp_path)) for t in expected)


def test_the_store_folder_does_not_depend_on_how_the_root_was_named(tmp_path, monkeypatch):
    root = _dataset(tmp_path / "ds", NAMES[:3])
    store = ResultsStore(tmp_path / "store")
    evaluate(open_dataset(root), store=store)
    monkeypatch.chdir(tmp_path)
    for named in (Path("ds"), Path("./ds/../ds"), root):
        ds = open_dataset(named)
        assert (
            store.folder_for(ds.pairs) == store.folder_for(_old_pairs(ds)) == store.folder_for(list(ds.pairs))
        )
        evaluate(ds, store=store)
        assert (store.stats.hits, store.stats.misses) == (3, 0)


def test_a_reordered_or_partial_store_is_matched_entry_by_entry(tmp_path):
    root = _dataset(tmp_path / "ds", ["a", "b", "c", "d"])
    store = ResultsStore(tmp_path / "store")
    ds = open_dataset(root)
    fresh = evaluate(ds)
    counted, _ = count_pairs(list(reversed(list(ds.pairs)))[:3], ds.table, store=store)  # d, c, b
    assert [pc.pair.name for pc in counted] == ["d", "c", "b"]
    again = evaluate(open_dataset(root), store=store)
    assert (store.stats.hits, store.stats.misses) == (3, 1)
    assert again.to_dict() == fresh.to_dict()
    assert again.image_rows.tolist() == fresh.image_rows.tolist()


def test_count_columns_are_the_pair_counts(tmp_path):
    root = _dataset(tmp_path / "ds", ["a", "b", "c"])
    ds = open_dataset(root)
    store = ResultsStore(tmp_path / "store")
    evaluate(ds, store=store)
    counted = count(open_dataset(root), store=store).counts
    assert isinstance(counted, CountColumns) and store.stats.hits == 3
    direct, _ = count_pairs(list(ds.pairs), ds.table)  # read from the masks
    for a, b in zip(counted, direct, strict=True):
        assert a.pair == b.pair and a.shape == b.shape and a.warnings == b.warnings
        for f in ("gt_values", "pred_values", "counts"):
            assert getattr(a, f).dtype == np.int64 and getattr(a, f).tolist() == getattr(b, f).tolist()


def test_the_store_keeps_count_columns_as_narrow_as_their_values(tmp_path):
    """Format 3: 16-bit masks (values up to 65535) and 8-bit ones round-trip exactly."""
    import pyarrow.parquet as pq

    gt = np.array([[0, 1, 60000, 65535], [5, 5, 5, 5]], dtype=np.uint16)
    save_mask(tmp_path / "gt" / "x.png", gt, "I;16")
    save_mask(tmp_path / "pred" / "x.png", gt[::-1], "I;16")
    table = ClassTable.generated([0, 1, 5, 60000, 65535])
    store = ResultsStore(tmp_path / "store")
    ds = open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=table)
    first = evaluate(ds, store=store)
    (folder,) = [p for p in (tmp_path / "store").iterdir() if p.is_dir()]
    meta = json.loads((folder / "meta.json").read_text())
    schema = pq.read_schema(folder / meta["files"]["counts"]["name"])
    assert meta["format"] == 3 and [str(f.type) for f in schema] == ["uint16", "uint16", "uint16"]
    again = evaluate(open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=table), store=store)
    assert store.stats.hits == 1 and again.to_dict() == first.to_dict()
    assert first.confusion.sum() == 8 and not first.skipped
    assert first.confusion[3, 2] == 1  # (gt 60000 predicted as 5: the values survived the narrow store)


@pytest.mark.parametrize("dtype", [np.uint16, np.int64, np.uint64])
def test_the_lookup_table_path_gives_the_sparse_lookups_numbers(dtype):
    """_lookup reads small values from a table of the same function (regression: no value may
    fall outside it); large values keep the binary search."""
    table = ClassTable.from_rows(
        [(1, "a", (1, 1, 1), False), (3, "b", (2, 2, 2), False), (0, "o", (0, 0, 0), True)]
    )
    rng = np.random.default_rng(1)
    small = rng.integers(0, 9, 5000).astype(dtype)
    top = [65535] if dtype == np.uint16 else [65535, 65536, 10**9]
    big = np.concatenate([small, np.array(top, dtype=dtype)])
    img = np.zeros(len(big), dtype=np.int64)
    for values in (small, big):
        for indices, largest in ((table.gt_indices, 3), (table.pred_indices, 2)):
            got = _lookup(values, img[: len(values)], ["ids"], indices, largest)
            assert got.tolist() == indices(values.astype(np.int64)).tolist()


def test_fold_of_columns_equals_fold_of_the_pairs_one_by_one(tmp_path):
    """The columnar fold against the per-pair fold of each image alone (an independent path)."""
    root = _dataset(tmp_path / "ds", [f"im{i:03d}" for i in range(150)], seed=3)
    ds = open_dataset(root)
    counted = count(ds)
    table = choose_table(ds, counted, generated_ignore=[0])
    assert len(counted.counts.counts) > 1024  # (the lookup-table path of _lookup)
    whole = fold(counted, table)
    for i, pc in enumerate(counted.counts):
        alone = fold([pc], table)
        assert np.array_equal(whole.image_confusion(i), alone.image_confusion(0))
        assert whole.ignored_per_image[i] == alone.ignored_per_image[0] == (pc.gt_values == 0) @ pc.counts
    assert whole.confusion.tolist() == sum(fold([pc], table).confusion for pc in counted.counts).tolist()


def test_open_dataset_reports_the_same_problems(tmp_path):
    root = _dataset(tmp_path / "ds", ["a", "b", "c"], photos=True)
    os.unlink(root / "pred" / "b.png")
    os.unlink(root / "images" / "c.png")
    save_mask(root / "gt" / "a.bmp", np.zeros((6, 5)))  # a second file for key "a"
    (root / "gt" / "notes.txt").write_text("x")
    ds = open_dataset(root)
    assert [p.name for p in ds.pairs] == ["c"]
    reasons = {p.name: p.reason for p in ds.skipped}
    assert "no prediction" in reasons["b"] and "ambiguous ground-truth files" in reasons["a"]
    assert any("no photo" in w.reason for w in ds.warnings)
    assert any("not a ground-truth file" in w.reason for w in ds.warnings)


@pytest.mark.parametrize("seed", range(4))
def test_gathering_runs_equals_gathering_row_by_row(seed):
    """_assemble's copy of contiguous runs against an index per row (the slow path it replaces),
    on random pools: parts of 16-bit values and pairs counted now as int64."""
    from segviz.evaluate import _gather_runs
    from segviz.store import concat_ranges

    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 60000, int(rng.integers(1, 50))).astype(np.uint16) for _ in range(3)]
    arrays.append(rng.integers(0, 100, 5).astype(np.int64))
    if seed == 3:
        arrays.append(np.array([70000, 1], dtype=np.int64))  # (does not fit 16 bits: int64)
    pool = np.concatenate(arrays).astype(np.int64)
    starts, sizes = [], []
    for _ in range(30):
        a = int(rng.integers(0, len(pool) - 1))
        starts.append(a)
        sizes.append(int(rng.integers(1, len(pool) - a + 1)))
    starts += [0, 0]  # (a run from the first row, twice: a run that restarts)
    sizes += [3, 2]
    got = _gather_runs(arrays, np.array(starts), np.array(sizes))
    assert got.tolist() == pool[concat_ranges(np.array(starts), np.array(sizes))].tolist()
    assert got.dtype == (np.int64 if seed == 3 else np.uint16)


def test_plain_text_check_equals_the_json_escape_rule():
    """A key is formatted without json.dumps only for text json.dumps writes unchanged."""
    from segviz.store import _PLAIN, _plain

    for code in [*range(0, 300), 0x2028, 0xD800, 0x1F600]:
        text = f"a{chr(code)}b"
        assert _plain(text) == (not _PLAIN.search(text)) == (json.dumps(text) == f'"{text}"'), code
