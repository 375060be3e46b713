"""The C kernel's fold (``fold_rows``) and per-image aggregates (``image_matrix``) against the numpy
code they replace (issue #17): the same evaluation, bit for bit, on the real datasets and on random
cases (gt values not in the table, invalid predictions, colour-coded masks with unknown colours,
raw values folding out of order or onto one cell, a huge table, empty images), and both against
a brute-force loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segviz import kernels
from segviz.classes import ClassTable
from segviz.counts import CountColumns, Counted, PairCounts
from segviz.dataset import Pair, PairList, open_dataset
from segviz.evaluate import _count_matrix, _fold_kernel, count, fold
from segviz.masks import UNKNOWN_COLOUR

needs_kernel = pytest.mark.skipif(
    not hasattr(kernels._ckernel, "fold_rows"), reason="segviz._count built without fold_rows"
)


def _both(counted, table, monkeypatch):
    """The evaluation and its (N, 3K) matrix with the C kernel, then with numpy only."""
    out = []
    for kernel in (kernels._ckernel, None):
        monkeypatch.setattr(kernels, "_ckernel", kernel)
        ev = fold(counted, table)
        out.append((ev, ev.image_count_matrix()))
    monkeypatch.undo()
    return out


def _assert_identical(c_result, numpy_result):
    (a, ma), (b, mb) = c_result, numpy_result
    for name in ("confusion", "image_rows", "ignored_per_image"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.int64, name
        assert x.shape == y.shape and np.array_equal(x, y), name
    assert a.names == b.names and list(a.pairs) == list(b.pairs)
    assert a.skipped == b.skipped and a.warnings == b.warnings
    assert ma.shape == mb.shape
    for name in ("data", "indices", "indptr"):
        x, y = getattr(ma, name), getattr(mb, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def _brute_force(pcs: list[PairCounts], table: ClassTable):
    """The fold as a loop over rows with dicts: confusion, rows, ignored per kept image, bad names."""
    k = table.num_classes
    gl = {int(v): int(table.gt_indices(np.array([v]))[0]) for pc in pcs for v in pc.gt_values}
    pl = {int(v): int(table.pred_indices(np.array([v]))[0]) for pc in pcs for v in pc.pred_values}
    confusion = np.zeros((k, k + 1), np.int64)
    rows, ignored, bad = [], [], []
    for pc in pcs:
        if any(gl[int(v)] == k + 1 for v in pc.gt_values):
            bad.append(pc.pair.name)
            continue
        cells: dict[tuple[int, int], int] = {}
        lost = 0
        for g, p, c in zip(pc.gt_values.tolist(), pc.pred_values.tolist(), pc.counts.tolist(), strict=True):
            if gl[g] == k:
                lost += c
                continue
            cells[gl[g], pl[p]] = cells.get((gl[g], pl[p]), 0) + c
            confusion[gl[g], pl[p]] += c
        image = len(ignored)
        rows += [(image, g, p, c) for (g, p), c in sorted(cells.items())]
        ignored.append(lost)
    return confusion, np.array(rows, np.int64).reshape(-1, 4), np.array(ignored, np.int64), bad


def _brute_matrix(rows: np.ndarray, n: int, k: int) -> np.ndarray:
    out = np.zeros((n, 3 * k), np.int64)
    for image, g, p, c in rows.tolist():
        out[image, k + g] += c
        if g == p:
            out[image, g] += c
        if p < k:
            out[image, 2 * k + p] += c
    return out


def _random_counts(rng, n: int, ids: list[int], *, extra: list[int], dtype, colour: float = 0.0):
    """n pairs of sparse rows sorted by (gt, pred) raw value, over ``ids`` plus ``extra`` values."""
    values = np.array(sorted(set(ids) | set(extra)))
    pcs = []
    for i in range(n):
        m = int(rng.integers(0, 40))
        keys = np.unique(rng.choice(values, m) * (1 << 32) + rng.choice(values, m))
        g, p = (keys >> 32).astype(dtype), (keys & 0xFFFFFFFF).astype(dtype)
        counts = rng.integers(1, 5000, len(keys)).astype(dtype if np.iinfo(dtype).max >= 5000 else np.int64)
        is_colour = bool(rng.random() < colour)
        pair = Pair(f"img{i:03d}", Path(f"gt/img{i:03d}.png"), Path(f"pred/img{i:03d}.png"))
        pcs.append(PairCounts(pair, g, p, counts, (1, int(counts.sum())), colour_coded=is_colour))
    return pcs


def _columns(pcs: list[PairCounts], dtype) -> CountColumns:
    """As the store gives them: the columns in a narrow type."""
    cols = CountColumns.of(pcs)
    return CountColumns(
        cols.pairs,
        cols.gt_values.astype(dtype),
        cols.pred_values.astype(dtype),
        cols.counts.astype(np.uint16) if cols.counts.max(initial=0) < 1 << 16 else cols.counts,
        cols.offsets,
        cols.shapes,
        cols.warnings,
        cols.colour_coded,
    )


@needs_kernel
@pytest.mark.parametrize(
    ("dtype", "seed"), [(np.uint8, 1), (np.uint16, 2), (np.int64, 3), (np.uint16, 4), (np.uint32, 5)]
)
def test_random_cases_match_numpy_and_a_brute_force_loop(dtype, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    top = 250 if dtype == np.uint8 else 60000
    # ids in an order that is not the raw values' (rows fold out of order), two ignore ids, values
    # not in the table (gt: the pair is skipped; pred: invalid, several onto one cell)
    ids = [int(v) for v in rng.permutation(np.arange(1, top, max(1, top // 40)))[:30]]
    rows = [(cid, f"c{cid}", (j, j, j), False) for j, cid in enumerate(ids)]
    rows += [(0, "void", (0, 0, 0), True), (top + 1, "border", (1, 1, 1), True)]
    table = ClassTable.from_rows(rows)
    extra = [top + 1, 0, top - 3] + ([UNKNOWN_COLOUR] if dtype != np.uint8 else [])
    pcs = _random_counts(rng, 60, [*ids, 0], extra=extra, dtype=np.int64, colour=0.3)
    pcs[5] = PairCounts(pcs[5].pair, pcs[5].gt_values[:0], pcs[5].pred_values[:0], pcs[5].counts[:0], (0, 0))
    cols = _columns(pcs, dtype)
    c_result, numpy_result = _both(Counted(cols), table, monkeypatch)
    _assert_identical(c_result, numpy_result)
    ev, matrix = c_result
    confusion, expected_rows, ignored, bad = _brute_force(pcs, table)
    assert ev.confusion.tolist() == confusion.tolist()
    assert ev.image_rows.tolist() == expected_rows.tolist()
    assert ev.ignored_per_image.tolist() == ignored.tolist()
    assert [p.name for p in ev.skipped] == bad and bad  # (some pairs have gt values not in the table)
    assert any("not class ids" in w.reason for w in ev.warnings)
    k = table.num_classes
    assert matrix.toarray().tolist() == _brute_matrix(ev.image_rows, ev.num_images, k).tolist()


@needs_kernel
def test_huge_table_and_one_encoding_per_side(monkeypatch):
    rng = np.random.default_rng(11)
    table = ClassTable.generated(range(0, 9000, 3), ignore_ids=[1])  # 3,000 classes
    pcs = _random_counts(rng, 40, list(range(0, 9000, 3)), extra=[1, 2], dtype=np.int64)
    c_result, numpy_result = _both(Counted(CountColumns.of(pcs)), table, monkeypatch)
    _assert_identical(c_result, numpy_result)
    assert c_result[0].confusion.shape == (3000, 3001)


def test_the_kernel_stands_aside_where_it_does_not_apply(monkeypatch):
    """Values past the lookup tables, or several encodings on a side: the numpy fold (None)."""
    rng = np.random.default_rng(5)
    table = ClassTable.generated([3, 70000, 10**9])
    pcs = _random_counts(rng, 5, [3, 70000], extra=[], dtype=np.int64)
    assert _fold_kernel(CountColumns.of(pcs), PairList.of([q.pair for q in pcs]), table) is None
    c_result, numpy_result = _both(pcs, table, monkeypatch)
    _assert_identical(c_result, numpy_result)
    swapped = CountColumns.of(_random_counts(rng, 5, [3], extra=[], dtype=np.int64))
    swapped.gt_values = swapped.gt_values.astype(">u2")  # (not native: the kernel would misread it)
    assert _fold_kernel(swapped, PairList.of(list(swapped.pairs)), table) is None
    _assert_identical(*_both(Counted(swapped), table, monkeypatch))
    monkeypatch.setattr(kernels, "_ckernel", None)
    small = _random_counts(rng, 5, [3], extra=[], dtype=np.int64)
    assert _fold_kernel(CountColumns.of(small), PairList.of([q.pair for q in small]), table) is None


@needs_kernel
def test_count_matrix_of_rows_in_any_image_order(monkeypatch):
    """A subset in another order: the rows are sorted by image first, as in the numpy code."""
    rng = np.random.default_rng(9)
    table = ClassTable.generated(range(12))
    pcs = _random_counts(rng, 30, list(range(13)), extra=[], dtype=np.int64)
    ev = fold(pcs, table)
    order = rng.permutation(ev.num_images)
    sub = ev.subset(order)
    fast = _count_matrix(sub.image_rows, sub.num_images, 12)
    monkeypatch.setattr(kernels, "_ckernel", None)
    slow = _count_matrix(sub.image_rows, sub.num_images, 12)
    for name in ("data", "indices", "indptr"):
        assert getattr(fast, name).dtype == getattr(slow, name).dtype
        assert np.array_equal(getattr(fast, name), getattr(slow, name))
    assert fast.toarray().tolist() == ev.image_count_matrix().toarray()[order].tolist()


@needs_kernel
def test_kernel_refuses_bad_buffers():
    ck = kernels._ckernel
    z = np.zeros(3, np.int64)
    rows = np.array([[0, 0, 0, 5], [1, 0, 0, 1], [0, 1, 1, 2]], np.int64)  # image 0 after image 1
    room = np.zeros(9, np.int32), np.zeros(9, np.int64)
    with pytest.raises(ValueError, match="images non-decreasing"):
        ck.image_matrix(rows, 2, 2, z, *room)
    with pytest.raises(ValueError, match="indptr int64"):
        ck.image_matrix(rows, 5, 2, z, *room)
    with pytest.raises(ValueError, match="need 3R entries"):
        ck.image_matrix(rows, 2, 2, z, room[0][:8], room[1])
    lut = np.array([0, 1], np.int32)
    offsets = np.array([0, 1], np.int64)
    raw = np.array([2], np.uint8)  # beyond the lookup table
    out = [np.zeros(6, np.int64), np.zeros(1, np.int64), np.zeros(1, np.uint8), np.zeros((1, 4), np.int64)]
    with pytest.raises(ValueError, match="beyond its lookup table"):
        ck.fold_rows(offsets, raw, raw, raw, lut, lut, 2, np.zeros(1, np.uint8), 65535, *out)
    with pytest.raises(ValueError, match="offsets\\[N\\] values"):
        ck.fold_rows(
            np.array([0, 2], np.int64), raw, raw, raw, lut, lut, 2, np.zeros(1, np.uint8), 65535, *out
        )


@pytest.mark.parametrize(
    ("name", "model", "rgb"),
    [
        ("voc2012-deeplab", "deeplabv3plus", False),
        ("voc2012-deeplab", "mediapipe-selfie", False),
        ("voc2012-deeplab", "deeplabv3plus", True),
        ("ade20k-csail", "csail-2018", False),
        ("camvid-val", "pixelgbm", False),
    ],
)
def test_real_datasets_fold_identically(shared_data, name, model, rgb, monkeypatch):
    if not hasattr(kernels._ckernel, "fold_rows"):
        pytest.skip("segviz._count built without fold_rows")
    root = shared_data / name
    if rgb:
        ds = open_dataset(
            gt=root / "rgb" / "gt", pred=root / "rgb" / "pred" / model, classes=root / "classes.csv"
        )
    else:
        ds = open_dataset(root, model=model)
    counted = count(ds)
    c_result, numpy_result = _both(counted, ds.table, monkeypatch)
    _assert_identical(c_result, numpy_result)
    assert c_result[0].num_images == len(ds.pairs)
    if name == "ade20k-csail":  # (reference values of /work/shared/data/README.md)
        assert c_result[0].ignored_pixels == 12985
