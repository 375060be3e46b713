"""Issue #17 (compare at 100,000 images): the C kernel of the paired bootstrap's sums
(segviz/_count.c ``blocked_csc`` / ``draw_counts`` / ``weighted_sums``) gives exactly the sums of
the dense weights, like scipy's product it replaces; bad buffers get a clear error, no crash."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from test_scale import random_evaluation
from test_stats import evaluation_from_rows

import segviz.stats as stats_module
from segviz import kernels
from segviz.stats import _equal_columns, _resampled_sums, paired_bootstrap, resample_weights

needs_kernel = pytest.mark.skipif(
    kernels._ckernel is None or not hasattr(kernels._ckernel, "weighted_sums"),
    reason="segviz._count not built (python setup.py build_ext --inplace)",
)


def sparse_counts(rng, n: int, m: int, density: float = 0.3, high: int = 50_000) -> sp.csr_matrix:
    dense = rng.integers(0, high, (n, m)) * (rng.random((n, m)) < density)
    dense[rng.random(n) < 0.2] = 0  # some images with no count at all
    return sp.csr_matrix(dense.astype(np.int64))


def reference(matrix: sp.csr_matrix, n: int, *, resamples: int, seed: int) -> np.ndarray:
    """The dense bootstrap: int64 weights (resamples, n) @ counts, exact, as float64."""
    return (resample_weights(n, resamples=resamples, seed=seed) @ matrix.toarray()).astype(np.float64)


@needs_kernel
@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 1000])
@pytest.mark.parametrize("resamples", [1, 7, 8, 9, 32, 33, 70])
def test_kernel_sums_equal_the_dense_product(monkeypatch, n, resamples):
    """Every chunk width (8-wide for chunks of at most 8 resamples, else 32-wide, the last chunk
    short), image blocks cut anywhere (256 images per block), empty images: the exact sums."""
    monkeypatch.setattr(stats_module, "KERNEL_IMAGES", 256)
    rng = np.random.default_rng(n * 100 + resamples)
    m = sparse_counts(rng, n, 11)
    got = _resampled_sums(m, n, resamples=resamples, seed=3)
    assert got.dtype == np.float64 and got.shape == (resamples, 11)
    assert got.tolist() == reference(m, n, resamples=resamples, seed=3).tolist()


@needs_kernel
@pytest.mark.parametrize("chunk_weights", [5, 8 * 40, 1 << 22])
def test_kernel_and_scipy_give_the_same_sums(monkeypatch, chunk_weights):
    """The C kernel and scipy's product (the fallback without a compiler): bit for bit the same,
    whatever the chunk size (8 resamples per chunk, the last one short, or 32)."""
    monkeypatch.setattr(stats_module, "CHUNK_WEIGHTS", chunk_weights)
    monkeypatch.setattr(stats_module, "KERNEL_IMAGES", 16)
    rng = np.random.default_rng(1)
    a, b = sparse_counts(rng, 40, 9), sparse_counts(rng, 40, 9)
    with_kernel = _resampled_sums([a, b], 40, resamples=50, seed=8)
    monkeypatch.setattr(kernels, "_ckernel", None)
    with_scipy = _resampled_sums([a, b], 40, resamples=50, seed=8)
    assert [x.tolist() for x in with_kernel] == [y.tolist() for y in with_scipy]


@needs_kernel
def test_shared_columns_are_multiplied_once_and_copied(monkeypatch):
    """``same=(lo, hi)``: the later matrices' columns lo..hi-1 are the first's sums (the kernel
    skips them); equal to multiplying them again."""
    rng = np.random.default_rng(4)
    a, b = sparse_counts(rng, 30, 9).tolil(), sparse_counts(rng, 30, 9).tolil()
    b[:, 3:6] = a[:, 3:6]
    a, b = a.tocsr(), b.tocsr()
    assert _equal_columns(a, b, 3, 6) and not _equal_columns(a, b, 2, 6)
    calls = []
    ck = kernels._ckernel
    real = ck.weighted_sums

    def spy(counts, nb, n, ib, parts):
        calls.append([part[4:] for part in parts])
        return real(counts, nb, n, ib, parts)

    monkeypatch.setattr(stats_module, "KERNEL_CHUNK", 32)

    class Spy:
        def __getattr__(self, name):
            return spy if name == "weighted_sums" else getattr(ck, name)

    monkeypatch.setattr(kernels, "_ckernel", Spy())
    shared = _resampled_sums([a, b], 30, resamples=40, seed=2, same=(3, 6))
    assert calls and all(skips == [(0, 0), (3, 6)] for skips in calls)
    assert shared[0].tolist() == reference(a, 30, resamples=40, seed=2).tolist()
    assert shared[1].tolist() == reference(b, 30, resamples=40, seed=2).tolist()


@needs_kernel
def test_paired_bootstrap_with_the_kernel_equals_scipy(monkeypatch):
    """The intervals of a paired bootstrap (models on the same ground truth: GT sums shared) are
    the same numbers with the kernel and with scipy."""
    a = random_evaluation(11, n=70)
    k = a.table.num_classes
    rows = a.image_rows.copy()  # b: a's ground truth, a third of the predictions moved to another class
    rows[:, 2] = np.where(rows[:, 3] % 3 == 0, (rows[:, 2] + 1) % k, rows[:, 2])
    keys, where = np.unique(rows[:, :3], axis=0, return_inverse=True)
    rows = np.column_stack([keys, np.bincount(where.ravel(), weights=rows[:, 3]).astype(np.int64)])
    b = evaluation_from_rows(rows, k, a.names)
    assert _equal_columns(a.image_count_matrix(), b.image_count_matrix(), k, 2 * k)
    ours = paired_bootstrap(a, b, resamples=90, seed=6)
    monkeypatch.setattr(kernels, "_ckernel", None)
    theirs = paired_bootstrap(a, b, resamples=90, seed=6)
    for key, iv in ours.summary.items():
        assert (iv.low, iv.high) == (theirs.summary[key].low, theirs.summary[key].high)
    assert ours.classes.equals(theirs.classes)


@needs_kernel
def test_kernel_rejects_bad_buffers():
    ck = kernels._ckernel
    counts = np.zeros((2, 5), np.int32)
    with pytest.raises(ValueError, match="draw_counts: a draw is outside"):
        ck.draw_counts(np.array([[0, 1, 5, 2, 3]], np.int32), 5, np.zeros((1, 5), np.int32))
    with pytest.raises(ValueError, match="draw_counts: draws and counts must be int32"):
        ck.draw_counts(np.zeros((1, 5), np.int32), 5, np.zeros((1, 4), np.int32))
    m = sp.csr_matrix(np.array([[1, 0], [0, 2], [3, 4], [0, 0], [5, 0]], np.int64))
    colptr, rows, vals = np.empty(2 * 2 + 1, np.int64), np.empty(5, np.int32), np.empty(5)
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int32)
    with pytest.raises(ValueError, match="blocked_csc: not a CSR matrix"):
        ck.blocked_csc(indptr, indices, m.data, 5, 1, 3, colptr, rows, vals)  # a column index >= m
    ck.blocked_csc(indptr, indices, m.data, 5, 2, 3, colptr, rows, vals)
    # blocks of 3 images, then columns: (0-2, col 0) images 0, 2; (0-2, col 1) 1, 2; (3-4, col 0) 4
    assert colptr.tolist() == [0, 2, 4, 5, 5] and rows.tolist() == [0, 2, 1, 2, 4]
    assert vals.tolist() == [1.0, 3.0, 2.0, 4.0, 5.0]
    out = np.empty((2, 2))
    with pytest.raises(ValueError, match="each part must be a tuple"):
        ck.weighted_sums(counts, 2, 5, 3, [[colptr, rows, vals, out, 0, 0]])
    with pytest.raises(ValueError, match="a part's sizes do not match"):
        ck.weighted_sums(counts, 2, 5, 3, [(colptr, rows, vals, np.empty((2, 3)), 0, 0)])
    with pytest.raises(ValueError, match="outside its block"):
        ck.weighted_sums(counts, 2, 5, 3, [(colptr, rows[::-1].copy(), vals, out, 0, 0)])
    with pytest.raises(ValueError, match="need 1 <= b <= 32"):
        ck.weighted_sums(
            np.zeros((33, 5), np.int32), 33, 5, 3, [(colptr, rows, vals, np.empty((33, 2)), 0, 0)]
        )
    counts[0] = [1, 0, 2, 1, 1]
    counts[1] = [0, 0, 0, 0, 5]
    ck.weighted_sums(counts, 2, 5, 3, [(colptr, rows, vals, out, 0, 0)])
    assert out.tolist() == (counts @ m.toarray()).tolist()
