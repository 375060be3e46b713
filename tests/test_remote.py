"""Datasets behind fsspec URLs: the same numbers as on disk, the results store, errors, Dask."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, save_mask
from segviz import evaluate, open_dataset
from segviz.cli import main
from segviz.dataset import list_models
from segviz.errors import DatasetError
from segviz.store import ResultsStore

SAMPLE = ROOT / "sample_data"


def to_memory(folder: Path) -> str:
    """A copy of ``folder`` in fsspec's in-memory filesystem; its URL (unique per test)."""
    fs = fsspec.filesystem("memory")
    base = f"/segviz-{uuid.uuid4().hex[:8]}"
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix != ".py":
            fs.pipe(f"{base}/{f.relative_to(folder).as_posix()}", f.read_bytes())
    return f"memory://{base}"


def numbers(result) -> dict:
    """Everything of the JSON that does not name a file."""
    d = result.to_dict()
    return {k: v for k, v in d.items() if k not in ("skipped", "warnings", "class_table")}


@pytest.fixture(scope="module")
def sample_url() -> str:
    return to_memory(SAMPLE)


def test_a_url_dataset_gives_the_same_numbers_as_the_folder(sample_url):
    assert list_models(sample_url) == list_models(SAMPLE) == ["baseline", "candidate"]
    local = evaluate(open_dataset(SAMPLE, model="candidate"))
    ds = open_dataset(sample_url, model="candidate")
    assert ds.model == "candidate" and ds.table is not None and ds.table.origin.endswith("/classes.csv")
    assert ds.pairs[0].gt_path == f"{sample_url}/gt/street_000.png"
    assert ds.pairs[0].image_path == f"{sample_url}/images/street_000.jpg"
    result = evaluate(ds)
    assert np.array_equal(result.image_rows, local.image_rows)
    assert numbers(result) == numbers(local)
    assert [w.name for w in result.warnings] == [w.name for w in local.warnings]


def test_file_urls_and_parts_given_separately(tmp_path):
    gt, pred = np.array([[0, 1], [1, 255]]), np.array([[0, 1], [0, 1]])
    save_mask(tmp_path / "gt" / "x.png", gt, mode="P")  # palette: its indices, not its colours
    save_mask(tmp_path / "pred" / "x.npy", pred.astype(np.uint8))
    url = to_memory(tmp_path)
    result = evaluate(open_dataset(gt=f"{url}/gt", pred=f"{url}/pred", classes="voc"))
    assert result.confusion[:2, :2].tolist() == [[1, 0], [1, 1]] and result.ignored_pixels == 1
    on_disk = evaluate(open_dataset(f"file://{tmp_path}", classes="voc"))
    assert numbers(on_disk) == numbers(result)


def test_the_store_recognises_unchanged_and_changed_objects(tmp_path):
    url = to_memory(SAMPLE)
    store = ResultsStore(tmp_path / "store")
    first = evaluate(open_dataset(url, model="baseline"), store=store)
    assert store.stats.misses == 24
    again = evaluate(open_dataset(url, model="baseline"), store=store)
    assert store.stats.hits == 24 and store.stats.misses == 0 and numbers(again) == numbers(first)
    # rewrite one prediction: only that image is read again, and its numbers change
    fs = fsspec.filesystem("memory")
    path = url.removeprefix("memory://") + "/pred/baseline/street_003.png"
    flipped = np.asarray(Image.open(fs.open(path))).copy()
    flipped[:] = flipped[0, 0]
    buf = fs.open(path, "wb")
    Image.fromarray(flipped).save(buf, format="PNG")
    buf.close()
    changed = evaluate(open_dataset(url, model="baseline"), store=store)
    assert store.stats.hits == 23 and store.stats.misses == 1
    assert changed.summary()["mean_iou"] != first.summary()["mean_iou"]


def test_broken_and_missing_objects_are_named(tmp_path):
    save_mask(tmp_path / "gt" / "good.png", np.zeros((2, 2)))
    save_mask(tmp_path / "pred" / "good.png", np.zeros((2, 2)))
    save_mask(tmp_path / "gt" / "cut.png", np.zeros((8, 8)))
    (tmp_path / "pred" / "cut.png").write_bytes((tmp_path / "gt" / "cut.png").read_bytes()[:40])
    save_mask(tmp_path / "gt" / "alone.png", np.zeros((2, 2)))
    url = to_memory(tmp_path)
    result = evaluate(open_dataset(url))
    assert result.names == ["good"]
    reasons = {p.name: p.reason for p in result.skipped}
    assert re.match(
        rf"{re.escape(url)}/pred/cut\.png: (unreadable or truncated image|not an image file)", reasons["cut"]
    )
    assert reasons["alone"] == f"{url}/gt/alone.png: no prediction in {url}/pred"


def test_unknown_protocols_and_missing_packages_are_clear_errors():
    with pytest.raises(DatasetError, match=r"nosuch://x/val: .*nosuch"):
        open_dataset("nosuch://x/val")
    if importlib.util.find_spec("s3fs") is None:  # not a segviz dependency: the user installs it
        with pytest.raises(DatasetError, match=r"^s3://bucket/val: Install s3fs to access S3"):
            open_dataset("s3://bucket/val")
    with pytest.raises(DatasetError, match=r"memory://no/such/dataset: dataset folder does not exist"):
        open_dataset("memory://no/such/dataset")


def test_command_line_reads_a_url(sample_url, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert (
        main(["evaluate", sample_url, "--model", "baseline", "--no-store", "--quiet", "--json", str(out)])
        == 0
    )
    local = evaluate(open_dataset(SAMPLE, model="baseline"))
    got = json.loads(out.read_text())
    assert got["mean_iou"] == local.summary()["mean_iou"] and got["num_images"] == 24


@pytest.mark.dask
def test_dask_workers_read_the_urls_themselves(tmp_path):
    """Worker processes cannot see this process's memory, so file:// URLs stand for s3:// here."""
    distributed = pytest.importorskip("distributed")
    url = f"file://{SAMPLE.resolve()}"
    local = evaluate(open_dataset(SAMPLE, model="candidate"))
    store = ResultsStore(tmp_path / "store")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        result = evaluate(
            open_dataset(url, model="candidate"), store=store, dask_address=cl.scheduler_address
        )
    assert numbers(result) == numbers(local) and store.stats.misses == 24
    evaluate(open_dataset(url, model="candidate"), store=store)
    assert store.stats.hits == 24


def test_report_of_a_url_dataset(sample_url):
    from segviz.report import build_report, dataset_fingerprint

    result = evaluate(open_dataset(sample_url, model="baseline"))
    fingerprint = dataset_fingerprint(result)
    assert fingerprint == dataset_fingerprint(evaluate(open_dataset(sample_url, model="baseline")))
    html = build_report(result, title="t", dataset="d", model="baseline", worst=2)
    assert fingerprint in html and "memory://" not in html  # paths shown relative to the dataset
    assert "gt/street_" in html and html.count("data:image/jpeg;base64") >= 6  # photo, overlays, error map


def test_files_of_another_kind_and_models_as_on_disk(tmp_path):
    save_mask(tmp_path / "gt" / "x.png", np.zeros((2, 2)))
    save_mask(tmp_path / "pred" / "x.png", np.zeros((2, 2)))  # masks directly in pred/: no models
    (tmp_path / "gt" / "notes.txt").write_text("not a mask")
    Image.new("L", (2, 2)).save(tmp_path / "gt" / "lossy.jpg")
    url = to_memory(tmp_path)
    local, remote_ds = open_dataset(tmp_path), open_dataset(url)
    assert list_models(url) == list_models(tmp_path) == [] and remote_ds.model is None
    assert [w.reason.replace(url, "ROOT") for w in remote_ds.warnings] == [
        w.reason.replace(str(tmp_path), "ROOT") for w in local.warnings
    ]
    assert any("JPEG is lossy" in w.reason for w in remote_ds.warnings)
    assert any("notes.txt: not a ground-truth file" in w.reason for w in remote_ds.warnings)
