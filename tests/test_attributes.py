"""Automatic attributes: objects against a brute-force flood fill, photo statistics against Pillow's
ImageStat, names, and the cache (a second run reads no file)."""

from __future__ import annotations

import os
from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageStat

from segviz import attributes as attributes_module
from segviz import evaluate, open_dataset
from segviz.attributes import (
    cache_path,
    file_attributes,
    object_statistics,
    photo_statistics,
    pixel_attributes,
)
from segviz.store import ResultsStore


def flood_fill_segments(labels: np.ndarray, cls: int) -> list[int]:
    """Sizes of the 8-connected segments of ``cls``, by breadth-first search (the reference)."""
    h, w = labels.shape
    seen = np.zeros_like(labels, dtype=bool)
    sizes = []
    for y in range(h):
        for x in range(w):
            if labels[y, x] != cls or seen[y, x]:
                continue
            queue, size = deque([(y, x)]), 0
            seen[y, x] = True
            while queue:
                cy, cx = queue.popleft()
                size += 1
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and labels[ny, nx] == cls:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
            sizes.append(size)
    return sizes


@pytest.mark.parametrize("seed", range(5))
def test_objects_match_a_flood_fill(seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(4, size=(23, 31), p=[0.5, 0.3, 0.15, 0.05])  # 3 = ignored (K = 3)
    counts, medians = object_statistics(labels, 3)
    for c in range(3):
        sizes = flood_fill_segments(labels, c)
        assert counts[c] == len(sizes)
        assert medians[c] == (np.median(sizes) if sizes else pytest.approx(np.nan, nan_ok=True))


def test_diagonal_pixels_are_one_object():
    diagonal = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    counts, medians = object_statistics(diagonal, 2)
    # the 0s touch across the diagonal at (1, 0)-(0, 1) and (2, 1)-(1, 2): one segment of 6
    # (4-connectivity would give two of 3)
    assert counts.tolist() == [1, 1] and medians.tolist() == [6.0, 3.0]


def test_photo_statistics_match_pillow(shared_data):
    photo = shared_data / "camvid-val" / "images" / "0016E5_07959.png"
    with Image.open(photo) as im:
        stat = ImageStat.Stat(im.convert("L"))
    mean, std = photo_statistics(photo)
    assert mean == pytest.approx(stat.mean[0]) and std == pytest.approx(stat.stddev[0])


def test_unreadable_photo_gives_missing_values(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not a jpeg")
    assert all(np.isnan(photo_statistics(tmp_path / "x.jpg")))


def test_names_give_folder_and_prefix():
    frame = file_attributes(["0001TP_006690", "Seq05VD_f00000", "frankfurt/frankfurt_000000_000294", "x"])
    assert frame["prefix"].tolist() == ["0001TP", "Seq05VD", "frankfurt", "(none)"]
    assert frame["folder"].tolist() == ["(top)", "(top)", "frankfurt", "(top)"]


def test_pixel_attributes_of_the_tiny_dataset(tiny_dataset, tmp_path):
    ev = evaluate(open_dataset(tiny_dataset))
    frame, warnings = pixel_attributes(ev, store=ResultsStore(tmp_path / "store"))
    assert warnings == []
    assert frame["size"].tolist() == ["3x2", "3x2"]
    assert frame["brightness"].tolist() == pytest.approx([90, 90], abs=1.5)  # JPEG of a flat grey
    # a: gt [[0,0,1],[1,255,2]] -> road: 1 object of 2 px, car: 2 of 1 px (not touching), person: 1
    assert frame.loc[0, ["objects:road", "objects:car", "objects:person"]].tolist() == [1, 2, 1]
    assert frame.loc[0, ["object_size:road", "object_size:car"]].tolist() == [2, 1]
    # b: gt [[0,0,0],[0,1,1]] -> person absent: no object, undefined median size
    assert frame.loc[1, "objects:person"] == 0 and np.isnan(frame.loc[1, "object_size:person"])


def test_second_run_reads_no_file(tiny_dataset, tmp_path, monkeypatch):
    store = ResultsStore(tmp_path / "store")
    ev = evaluate(open_dataset(tiny_dataset))
    first, _ = pixel_attributes(ev, store=store)
    assert cache_path(store, ev.pairs, ev.table).is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("a file was read although its attributes are cached")

    monkeypatch.setattr(attributes_module, "image_attributes", refuse)
    again, warnings = pixel_attributes(ev, store=store)
    assert warnings == [] and again.equals(first)


def test_a_changed_mask_is_read_again_and_only_it(tiny_dataset, tmp_path, monkeypatch):
    store = ResultsStore(tmp_path / "store")
    ev = evaluate(open_dataset(tiny_dataset))
    pixel_attributes(ev, store=store)
    gt = tiny_dataset / "gt" / "b.png"
    os.utime(gt, ns=(1, 1))  # a new modification time: a new key
    ev = evaluate(open_dataset(tiny_dataset))
    read = []
    original = attributes_module.image_attributes
    monkeypatch.setattr(
        attributes_module, "image_attributes", lambda p, t: read.append(p.name) or original(p, t)
    )
    pixel_attributes(ev, store=store)
    assert read == ["b"]


def test_a_corrupt_cache_is_recomputed_with_a_warning(tiny_dataset, tmp_path):
    store = ResultsStore(tmp_path / "store")
    ev = evaluate(open_dataset(tiny_dataset))
    first, _ = pixel_attributes(ev, store=store)
    path = cache_path(store, ev.pairs, ev.table)
    path.write_bytes(b"garbage")
    again, warnings = pixel_attributes(ev, store=store)
    assert len(warnings) == 1 and warnings[0].startswith(f"attribute cache {path} unreadable")
    assert again.equals(first)


def test_every_model_of_a_dataset_shares_the_cache(shared_data, tmp_path):
    store = ResultsStore(tmp_path / "store")
    root = shared_data / "camvid-val"
    a = evaluate(open_dataset(root, model="tinyfcn"))
    b = evaluate(open_dataset(root, model="pixelgbm"))
    assert cache_path(store, a.pairs, a.table) == cache_path(store, b.pairs, b.table)


def test_threads_give_the_same_attributes(shared_data):
    ev = evaluate(open_dataset(shared_data / "camvid-val", model="tinyfcn")).subset(range(12))
    one, _ = pixel_attributes(ev, workers=1)
    two, _ = pixel_attributes(ev, workers=2)
    assert one.equals(two) and one["objects:Car"].notna().all()
