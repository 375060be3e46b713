"""The results store: reused while files are unchanged, one image recomputed when one file changes,
corrupt or stale stores rebuilt, never inside the dataset; and the Dask path gives identical numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import save_mask
from segviz import evaluate, open_dataset
from segviz.cli import main
from segviz.store import ResultsStore


def _touch_newer(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_second_run_reads_nothing_and_gives_the_same_numbers(tiny_dataset, tmp_path):
    store = ResultsStore(tmp_path / "store")
    first = evaluate(open_dataset(tiny_dataset), store=store)
    assert (store.stats.hits, store.stats.misses) == (0, 2)
    second = evaluate(open_dataset(tiny_dataset), store=store)
    assert (store.stats.hits, store.stats.misses) == (2, 0)
    assert second.to_dict() == first.to_dict()
    assert not any(p.is_relative_to(tiny_dataset) for p in (tmp_path / "store").rglob("*"))


def test_changing_one_prediction_recomputes_one_image(tiny_dataset, tmp_path):
    store = ResultsStore(tmp_path / "store")
    evaluate(open_dataset(tiny_dataset), store=store)
    pred = tiny_dataset / "pred" / "b.png"
    save_mask(pred, np.array([[0, 0, 0], [0, 1, 1]]))  # now perfect
    _touch_newer(pred)
    result = evaluate(open_dataset(tiny_dataset), store=store)
    assert (store.stats.hits, store.stats.misses) == (1, 1)
    assert result.image_frame().set_index("name").loc["b", "pixel_accuracy"] == 1.0
    fresh = evaluate(open_dataset(tiny_dataset))
    assert result.confusion.tolist() == fresh.confusion.tolist()


# Damaged, unreadable and unwritable stores, and --verify: tests/test_store_damage.py.


def test_rgb_entries_depend_on_the_table_colours(tmp_path):
    from segviz import ClassTable

    save_mask(tmp_path / "gt" / "x.png", np.array([[0, 1]]))
    save_mask(tmp_path / "pred" / "x.png", np.array([[[0, 0, 0], [128, 0, 0]]]), "RGB")
    store = ResultsStore(tmp_path / "store")
    voc = ClassTable.from_preset("voc")
    evaluate(open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=voc), store=store)
    evaluate(
        open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=voc.with_ignore([255, 0])),
        store=store,
    )
    assert store.stats.hits == 1  # same colours: reused
    swapped = ClassTable.from_rows([(0, "a", (128, 0, 0), False), (1, "b", (0, 0, 0), False)])
    result = evaluate(open_dataset(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=swapped), store=store)
    assert store.stats.misses == 1 and result.confusion[:, :2].tolist() == [[0, 1], [1, 0]]


def test_cli_store_options(tiny_dataset, tmp_path, capsys):
    assert main(["evaluate", str(tiny_dataset), "--store", str(tmp_path / "s"), "--quiet"]) == 0
    assert (tmp_path / "s").is_dir()
    assert main(["evaluate", str(tiny_dataset), "--no-store", "--quiet"]) == 0
    assert (
        main(["evaluate", str(tiny_dataset), "--store", str(tiny_dataset / "gt" / "cache"), "--quiet"]) == 2
    )
    assert "cache: inside the dataset folder" in capsys.readouterr().err
    assert not (tiny_dataset / "gt" / "cache").exists()


@pytest.mark.dask
def test_dask_local_cluster_gives_identical_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    from conftest import ROOT

    local = evaluate(open_dataset(ROOT / "sample_data", model="candidate"))
    store = ResultsStore(tmp_path / "store")
    with distributed.LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        remote = evaluate(
            open_dataset(ROOT / "sample_data", model="candidate"),
            store=store,
            dask_address=cl.scheduler_address,
        )
    assert remote.to_dict() == local.to_dict()
    assert store.stats.misses == 24
    again = evaluate(open_dataset(ROOT / "sample_data", model="candidate"), store=store)
    assert store.stats.hits == 24 and again.to_dict() == local.to_dict()  # a local run opens the Dask results
