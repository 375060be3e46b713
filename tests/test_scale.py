"""Fast paths of issue #17 against the slow paths they replace, on small data: the per-image
aggregates, the per-image table, cell lists and subsets (identical numbers), and the chunked
bootstrap (exactly the dense reference with the same weights; statistically the textbook bootstrap)."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from test_stats import beta_population, evaluation_from_rows, simulated

from segviz import evaluate, metrics, open_dataset
from segviz.stats import (
    SUMMARY_KEYS,
    bootstrap,
    iou_from_counts,
    paired_bootstrap,
    resample_weight_chunks,
    resample_weights,
    summary_from_counts,
)
from segviz.store import ResultsStore

TAIL = 50 * (1 - 0.95)


def random_evaluation(seed: int, n: int = 40, k: int = 7, names=None):
    """Sparse rows of n images: each image holds a few classes, some predictions invalid (pred K)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        present = rng.choice(k, size=rng.integers(1, k + 1), replace=False)
        for g in present:
            for p in rng.choice(k + 1, size=rng.integers(1, 4), replace=False):
                rows.append((i, g, p, int(rng.integers(1, 500))))
    rows = np.array(sorted(rows), dtype=np.int64)
    _, first = np.unique(rows[:, :3], axis=0, return_index=True)
    return evaluation_from_rows(rows[np.sort(first)], k, names)


def dense_counts(ev):
    """(TP, GT, PRED) per image from the dense per-image matrices (the slow path)."""
    return metrics.counts(ev.image_confusions())


def slow_image_frame(ev):
    """The per-image table as it was computed before issue #17 (dense (N, K) counts)."""
    tp, gt, pred = dense_counts(ev)
    iou = metrics.divide(tp, gt + pred - tp)
    return iou, metrics.divide(tp.sum(axis=1), gt.sum(axis=1)), metrics.mean_defined(iou)[0]


@pytest.mark.parametrize("seed", range(5))
def test_aggregates_and_image_table_equal_the_dense_path(seed):
    ev = random_evaluation(seed)
    k = ev.table.num_classes
    matrix = ev.image_count_matrix().toarray()
    for part, dense in zip(range(3), dense_counts(ev), strict=True):
        assert matrix[:, part * k : (part + 1) * k].tolist() == dense.tolist()
    iou, pa, miou = slow_image_frame(ev)
    frame = ev.image_frame()
    np.testing.assert_array_equal(frame[[f"iou:{n}" for n in ev.table.names]].to_numpy(), iou)
    np.testing.assert_array_equal(frame["pixel_accuracy"].to_numpy(), pa)
    np.testing.assert_array_equal(frame["mean_iou"].to_numpy(), miou)
    invalid = ev.image_confusions()[:, :, k].sum(axis=1)
    assert frame["invalid_pred_pixels"].tolist() == invalid.tolist()


@pytest.mark.parametrize("cell", [(0, 0), (2, 5), (3, 7), (6, 1)])
def test_images_for_cell_equals_a_brute_force_loop(cell):
    ev = random_evaluation(3)
    g, p = cell
    dense = ev.image_confusions()
    expected = sorted(
        (
            (i, int(dense[i, g, p]), dense[i, g, p] / dense[i, g, :].sum())
            for i in range(ev.num_images)
            if dense[i, g, p]
        ),
        key=lambda t: -t[1],
    )
    got = ev.images_for_cell(g, p)
    assert list(zip(got["image"], got["pixels"], got["share_of_gt"], strict=True)) == expected
    assert got["name"].tolist() == [ev.names[i] for i, _, _ in expected]


def test_subset_carries_the_aggregates_and_equals_a_fresh_one():
    ev = random_evaluation(4)
    ev.pairs = list(range(ev.num_images))  # (stand-ins: subset only reorders them)
    ev.image_count_matrix()  # computed before: the subset reuses its rows
    idx = [17, 3, 25, 0, 39]
    sub = ev.subset(idx)
    fresh = evaluation_from_rows(
        [(j, g, p, c) for j, i in enumerate(idx) for (im, g, p, c) in ev.image_rows.tolist() if im == i],
        ev.table.num_classes,
        [ev.names[i] for i in idx],
    )
    assert sub.image_count_matrix().toarray().tolist() == fresh.image_count_matrix().toarray().tolist()
    assert sub.confusion.tolist() == fresh.confusion.tolist()
    assert sub.image_frame().equals(fresh.image_frame())


# ---------------------------------------------------------------------- the chunked bootstrap
@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_weight_chunks_are_the_dense_weights(chunk):
    dense = resample_weights(23, resamples=50, seed=9)
    chunks = list(resample_weight_chunks(23, resamples=50, seed=9, chunk=chunk))
    assert np.hstack(chunks).T.tolist() == dense.tolist()
    assert dense.dtype == np.int64 and (dense.sum(axis=1) == 23).all()
    # the draws are those of one default_rng(seed) call, as before issue #17
    draws = np.random.default_rng(9).integers(0, 23, (50, 23))
    assert dense.tolist() == [np.bincount(d, minlength=23).tolist() for d in draws]


def _reference_intervals(counts, weights, confidence=0.95):
    """The dense bootstrap before issue #17: W (B, N) @ counts (N, K), then percentiles."""
    w = weights.astype(np.float64)
    tp, gt, pred = (w @ x.astype(np.float64) for x in counts)
    tail = 50 * (1 - confidence)
    summary = {
        k: np.nanpercentile(v, [tail, 100 - tail]) for k, v in summary_from_counts(tp, gt, pred).items()
    }
    return summary, iou_from_counts(tp, gt, pred)


def test_bootstrap_equals_the_dense_reference_with_the_same_weights(monkeypatch):
    ev = random_evaluation(7, n=60)
    monkeypatch.setattr("segviz.stats.CHUNK_WEIGHTS", 60 * 7)  # 7 resamples per chunk, 29 chunks
    ours = bootstrap(ev, resamples=200, seed=5)
    summary, iou = _reference_intervals(dense_counts(ev), resample_weights(60, resamples=200, seed=5))
    for key in SUMMARY_KEYS:
        assert [ours.summary[key].low, ours.summary[key].high] == summary[key].tolist()
    with np.errstate(all="ignore"):
        tail = 50 * (1 - 0.95)  # (2.5000000000000022: the same float as the library's)
        low, high = np.nanpercentile(iou, [tail, 100 - tail], axis=0)
    np.testing.assert_array_equal(ours.classes["low"], low)
    np.testing.assert_array_equal(ours.classes["high"], high)


@pytest.mark.parametrize("same_gt", [True, False])
def test_paired_bootstrap_equals_the_dense_reference(same_gt):
    a = random_evaluation(11, n=50)
    b = random_evaluation(12, n=50)
    if same_gt:  # b's predictions, a's ground truth: shift b's pred of every a row
        rows = a.image_rows.copy()
        rows[:, 2] = (rows[:, 2] + (rows[:, 0] % 3 == 0)) % (a.table.num_classes + 1)
        _, first = np.unique(rows[:, :3], axis=0, return_index=True)
        rows = rows[np.sort(first)]
        b = evaluation_from_rows(rows, a.table.num_classes)
    ours = paired_bootstrap(a, b, resamples=300, seed=2)
    w = resample_weights(50, resamples=300, seed=2).astype(np.float64)
    ca, cb = dense_counts(a), dense_counts(b)
    ra = summary_from_counts(*(w @ x.astype(np.float64) for x in ca))
    rb = summary_from_counts(*(w @ x.astype(np.float64) for x in cb))
    for key in SUMMARY_KEYS:
        iv = ours.summary[key]
        assert [iv.low, iv.high] == np.nanpercentile(rb[key] - ra[key], [TAIL, 100 - TAIL]).tolist()
        full_a = summary_from_counts(*(x.sum(axis=0) for x in ca))[key]
        full_b = summary_from_counts(*(x.sum(axis=0) for x in cb))[key]
        assert iv.estimate == float(full_b - full_a)
    delta = iou_from_counts(*(w @ x.astype(np.float64) for x in cb)) - iou_from_counts(
        *(w @ x.astype(np.float64) for x in ca)
    )
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(ours.classes["low"], np.nanpercentile(delta, TAIL, axis=0))


def test_bootstrap_distribution_matches_a_textbook_bootstrap():
    """Textbook: draw N image indices with replacement (Python's random, another generator), sum
    the drawn images' confusion matrices, take the metric. 4,000 resamples each: the interval ends
    agree within Monte-Carlo error (a few % of the interval width), the spread within 5 %."""
    rng = np.random.default_rng(1)
    gt, correct = beta_population(rng, 30, mean=0.7)
    ev = simulated(gt, correct)
    ours = bootstrap(ev, resamples=4000, seed=3)
    dense = ev.image_confusions()
    draw = random.Random(4)
    values = np.array(
        [
            metrics.summary_metrics(dense[draw.choices(range(30), k=30)].sum(axis=0))["mean_iou"]
            for _ in range(4000)
        ]
    )
    low, high = np.percentile(values, [2.5, 97.5])
    width = high - low
    iv = ours.summary["mean_iou"]
    assert abs(iv.low - low) < 0.08 * width and abs(iv.high - high) < 0.08 * width
    w = resample_weights(30, resamples=4000, seed=3).astype(np.float64)
    mine = summary_from_counts(*(w @ x.astype(np.float64) for x in dense_counts(ev)))["mean_iou"]
    assert np.std(mine) == pytest.approx(np.std(values), rel=0.05)
    assert iv.high - iv.low == pytest.approx(width, rel=0.1)


# ---------------------------------------------------------------------- incremental store updates
def _segment_dataset(root, n: int = 12):
    from conftest import save_mask

    rng = np.random.default_rng(0)
    for i in range(n):
        gt = rng.integers(0, 5, (12, 16))
        pred = np.where(rng.random((12, 16)) < 0.7, gt, rng.integers(0, 5, (12, 16)))
        save_mask(root / "gt" / f"im{i:02d}.png", gt)
        save_mask(root / "pred" / f"im{i:02d}.png", pred)
    return root


def _change(root, i: int, seed: int) -> None:
    from conftest import save_mask

    path = root / "pred" / f"im{i:02d}.png"
    save_mask(path, np.random.default_rng(seed).integers(0, 5, (12, 16)))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000 * seed))


def _manifest(store_root):
    (folder,) = [p for p in store_root.iterdir() if p.is_dir()]
    return json.loads((folder / "meta.json").read_text()), folder


@pytest.fixture
def appending(monkeypatch):
    """Segments from the first save on (at scale: from APPEND_MIN_ROWS stored rows)."""
    monkeypatch.setattr("segviz.store.APPEND_MIN_ROWS", 0)


def test_a_changed_prediction_adds_a_segment_with_the_numbers_of_a_full_recompute(tmp_path, appending):
    root = _segment_dataset(tmp_path / "ds")
    store = ResultsStore(tmp_path / "store")
    evaluate(open_dataset(root), store=store)
    base, _ = _manifest(tmp_path / "store")
    _change(root, 3, seed=1)
    result = evaluate(open_dataset(root), store=store)
    assert (store.stats.hits, store.stats.misses) == (11, 1)
    meta, folder = _manifest(tmp_path / "store")
    assert meta["files"] == base["files"] and [s["pairs"] for s in meta["segments"]] == [1]
    assert len(list(folder.glob("counts-*"))) == 2
    fresh = evaluate(open_dataset(root))
    assert result.to_dict() == fresh.to_dict()
    again = evaluate(open_dataset(root), store=ResultsStore(tmp_path / "store"))
    assert again.to_dict() == fresh.to_dict()
    assert again.image_frame().equals(fresh.image_frame())


def test_segments_are_compacted_when_they_pile_up(tmp_path, appending):
    from segviz.store import MAX_SEGMENTS

    root = _segment_dataset(tmp_path / "ds")
    store = ResultsStore(tmp_path / "store")
    evaluate(open_dataset(root), store=store)
    for round_ in range(MAX_SEGMENTS + 1):
        _change(root, round_ % 12, seed=round_ + 1)
        result = evaluate(open_dataset(root), store=store)
        assert store.stats.misses == 1 and not store.stats.warnings
        meta, folder = _manifest(tmp_path / "store")
        expected = round_ + 1 if round_ < MAX_SEGMENTS else 0  # the ninth save rewrites everything
        assert len(meta.get("segments", [])) == expected
        assert result.to_dict() == evaluate(open_dataset(root)).to_dict()
    assert meta["pairs"] == 12 and len(list(folder.glob("*.parquet"))) == 2  # stale entries dropped


def test_a_damaged_segment_gives_the_fresh_numbers_with_one_warning(tmp_path, appending):
    root = _segment_dataset(tmp_path / "ds")
    store = ResultsStore(tmp_path / "store")
    evaluate(open_dataset(root), store=store)
    _change(root, 5, seed=2)
    evaluate(open_dataset(root), store=store)
    meta, folder = _manifest(tmp_path / "store")
    path = folder / meta["segments"][0]["files"]["counts"]["name"]
    path.write_bytes(path.read_bytes()[:-9])
    store = ResultsStore(tmp_path / "store")
    result = evaluate(open_dataset(root), store=store)
    assert len(store.stats.warnings) == 1 and "truncated" in store.stats.warnings[0]
    assert result.to_dict() == evaluate(open_dataset(root)).to_dict()
    evaluate(open_dataset(root), store=store)
    assert (store.stats.hits, store.stats.warnings) == (12, [])


def test_to_dict_images_are_the_per_image_table_columns():
    ev = random_evaluation(8)
    frame = ev.image_frame()
    got = ev.to_dict()["images"]
    assert [x["name"] for x in got] == frame["name"].tolist()
    for key in ("pixel_accuracy", "mean_iou"):
        expected = [None if np.isnan(v) else v for v in frame[key]]
        assert [x[key] for x in got] == expected


# ---------------------------------------------------------------------- after reopen, by blocks (#17)
EVALUATE_MODULE = sys.modules[evaluate.__module__]  # (segviz.evaluate: the package exports the function)


def coo_count_matrix(ev):
    """The (N, 3K) [TP | GT | PRED] aggregates built the way they were before issue #17's blocks:
    scipy's COO -> CSR (sort and sum of duplicates), an independent construction."""
    import scipy.sparse as sp

    n, k = ev.num_images, ev.table.num_classes
    img, g, p, c = ev.image_rows.T
    diag, valid = g == p, p < k
    rows = np.concatenate([img[diag], img, img[valid]])
    cols = np.concatenate([g[diag], k + g, 2 * k + p[valid]])
    vals = np.concatenate([c[diag], c, c[valid]])
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n, 3 * k), dtype=np.int64)
    matrix.sum_duplicates()
    return matrix


@pytest.mark.parametrize("block_images", [1, 3, 1000])
def test_count_matrix_by_blocks_equals_the_coo_construction(monkeypatch, block_images):
    """Blocks of 1, 3 or all images; rows in image order and (a subset) in any order."""
    ev = random_evaluation(6, n=30)
    ev.pairs = list(range(ev.num_images))  # (stand-ins: subset only reorders them)
    monkeypatch.setattr(EVALUATE_MODULE, "_BLOCK_CELLS", block_images * 3 * ev.table.num_classes)
    shuffled = ev.subset([int(i) for i in np.random.default_rng(1).permutation(ev.num_images)])
    for e in (ev, shuffled):
        got, expected = e.image_count_matrix(), coo_count_matrix(e)
        assert got.has_canonical_format and got.dtype == np.int64
        assert got.indptr.tolist() == expected.indptr.tolist()
        assert got.indices.tolist() == expected.indices.tolist()
        assert got.data.tolist() == expected.data.tolist()
    empty = evaluation_from_rows(np.zeros((0, 4)), 4, names=[])
    assert empty.image_count_matrix().shape == (0, 12)


@pytest.mark.parametrize("block_images", [1, 4])
def test_image_table_by_blocks_is_bit_for_bit_the_whole_table(monkeypatch, block_images):
    ev = random_evaluation(7, n=25)
    whole = ev.image_frame()
    small = random_evaluation(7, n=25)
    monkeypatch.setattr(EVALUATE_MODULE, "_BLOCK_CELLS", block_images * ev.table.num_classes)
    blocks = small.image_frame()
    assert blocks.equals(whole)  # same floats (NaN where undefined), not merely close
    short = small.image_frame(per_class=False)
    assert short.columns.tolist() == [
        "name",
        "pixel_accuracy",
        "mean_iou",
        "ignored_pixels",
        "invalid_pred_pixels",
    ]
    assert short.equals(whole[short.columns])
    miou = slow_image_frame(small)[2]
    np.testing.assert_array_equal(short["mean_iou"].to_numpy(), miou)


def test_subset_of_every_image_in_order_shares_the_aggregates():
    ev = random_evaluation(8)
    ev.pairs = list(range(ev.num_images))
    matrix = ev.image_count_matrix()
    same = ev.subset(range(ev.num_images))
    assert same.image_count_matrix() is matrix  # nothing re-aggregated
    assert same.names == ev.names and same.names is not ev.names
    assert same.confusion.tolist() == ev.confusion.tolist()
    assert same.image_frame().equals(ev.image_frame())
    as_array = ev.subset(np.arange(ev.num_images))
    assert as_array.image_count_matrix() is matrix
    reordered = ev.subset(np.arange(ev.num_images)[::-1])  # any other order: re-aggregated
    assert reordered.names == ev.names[::-1]
    with pytest.raises(ValueError, match="indices must be unique"):
        ev.subset(np.array([1, 1]))


def test_subset_of_every_image_shares_a_pair_list_without_building_pairs():
    """Bug (measured at 100,000 images after the reopen and bootstrap merges): ``subset`` of every
    image copied a ``PairList`` with ``list()``, building a ``Pair`` and two ``Path`` objects per
    image (2 x 1.3 s CPU of every ``segviz compare``)."""
    from segviz.dataset import Pair, PairList

    ev = random_evaluation(8)
    names = [f"img{i}" for i in range(ev.num_images)]
    ev.pairs = PairList(
        names,
        [f"gt/{n}.png" for n in names],
        [f"pred/{n}.png" for n in names],
        [None] * len(names),
        ["ids"] * len(names),
        ["ids"] * len(names),
    )
    same = ev.subset(range(ev.num_images))
    assert same.pairs is ev.pairs
    assert ev.pairs._built is None  # no Pair built
    assert same.pairs[3] == Pair("img3", Path("gt/img3.png"), Path("pred/img3.png"))
    assert ev.subset([2, 0]).pairs == [ev.pairs[2], ev.pairs[0]]


def test_matching_equal_names_gives_what_the_name_lookup_gives():
    from segviz.stats import match_images

    a = random_evaluation(9, n=12)
    b = random_evaluation(10, n=12)
    b.pairs = list(range(b.num_images))
    in_a, in_b, only_a, only_b = match_images(a, b)  # the same names in the same order
    assert in_a.tolist() == in_b.tolist() == list(range(12)) and only_a == only_b == ()
    shuffled = b.subset([int(i) for i in np.random.default_rng(2).permutation(12)])
    in_a, in_b, _, _ = match_images(a, shuffled)
    assert [shuffled.names[j] for j in in_b] == [a.names[i] for i in in_a] == a.names


@pytest.mark.parametrize("block_images", [1, 5])
def test_conventions_by_blocks_equal_the_rules_on_the_whole_counts(monkeypatch, block_images):
    """Which mIoU? computed a block of images at a time: exactly (==) each rule applied to the
    dense (N, K) counts at once."""
    from segviz import conventions

    ev = random_evaluation(11, n=33)
    monkeypatch.setattr(conventions, "_BLOCK_CELLS", block_images * ev.table.num_classes)
    counts = dense_counts(ev)
    got = conventions.miou_conventions(ev)
    assert [c.key for c in got] == [s.key for s in conventions.CONVENTIONS]
    for convention, spec in zip(got, conventions.CONVENTIONS, strict=True):
        assert (convention.value, convention.classes_counted) == spec.compute(*counts)
    assert got[0].value == ev.summary()["mean_iou"]
    tp, gt, pred = counts  # the two per-image rules by hand
    iou = np.array(
        [
            [t / (g + p - t) if g + p else np.nan for t, g, p in zip(*r, strict=True)]
            for r in zip(tp, gt, pred, strict=True)
        ]
    )
    pooled = next(c for c in got if c.key == "torchmetrics_meaniou").value
    assert pooled == pytest.approx(np.nanmean(iou), rel=1e-12)
    image_mean = next(c for c in got if c.key == "image_mean").value
    assert image_mean == pytest.approx(np.nanmean(np.nanmean(iou, axis=1)), rel=1e-12)
