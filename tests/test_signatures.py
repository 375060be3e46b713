"""The results store's file signatures stat'ed in C (``segviz._count.stat_many``, issue #17)
against ``os.stat`` itself: the same sizes and ``st_mtime_ns`` on the real datasets, -1/-1 for a
missing file or a "" path, non-UTF-8 names (surrogateescape), symlinks, folders, paths the C side
leaves to Python (URLs, a NUL inside), huge lists split over two threads, and the same store keys
with and without the extension. And the folders listed in C (``scan_folder``): every dataset of
the corpus of broken datasets and the real ones open exactly as with ``os.scandir``."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import Counter

import fsspec
import numpy as np
import pytest

from segviz import kernels, remote
from segviz.dataset import Pair, PairList, list_models, open_dataset
from segviz.errors import SegvizError
from segviz.store import _signatures, _signatures_python, key_texts, pair_key, shared_key_texts

needs_kernel = pytest.mark.skipif(
    not hasattr(kernels._ckernel, "stat_many"), reason="segviz._count built without stat_many"
)


class _CountingKernel:
    """``segviz._count`` whose ``stat_many`` counts the paths it stats itself (not those it leaves
    to Python, which ``os.stat`` counts)."""

    def __init__(self, real, calls: Counter):
        self._real, self._calls = real, calls

    def __getattr__(self, name):
        return getattr(self._real, name)

    def stat_many(self, paths, sizes, times, threads):
        left = self._real.stat_many(paths, sizes, times, threads)
        self._calls.update(
            p for p, size in zip(paths, np.asarray(sizes).tolist(), strict=True) if p and size != -2
        )
        return left


class _CountingScans:
    """``segviz._count`` whose ``scan_folder`` counts the folders it lists (not those it leaves to
    ``os.scandir``, which is counted there)."""

    def __init__(self, real, calls: Counter):
        self._real, self._calls = real, calls

    def __getattr__(self, name):
        return getattr(self._real, name)

    def scan_folder(self, path):
        listed = self._real.scan_folder(path)
        if listed is not None:
            self._calls[os.fspath(path)] += 1
        return listed


def scan_counter(monkeypatch) -> Counter:
    """Count every folder listing of segviz by its path, by ``os.scandir`` or by the C extension's
    ``scan_folder``: for tests that pin how often a folder is listed."""
    calls: Counter = Counter()
    real = os.scandir

    def counted(path, *args, **kwargs):
        calls[os.fspath(path)] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", counted)
    if kernels._ckernel is not None:
        monkeypatch.setattr(kernels, "_ckernel", _CountingScans(kernels._ckernel, calls))
    return calls


def stat_counter(monkeypatch) -> Counter:
    """Count every file stat of segviz by its path, in Python (``os.stat``) or in C (``stat_many``):
    for tests that pin how often a file is stat'ed."""
    calls: Counter = Counter()
    real = os.stat

    def counted(path, *args, **kwargs):
        calls[os.fspath(path)] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counted)
    if kernels._ckernel is not None:
        monkeypatch.setattr(kernels, "_ckernel", _CountingKernel(kernels._ckernel, calls))
    return calls


def brute_force(paths: list[str]) -> tuple[list[str], list[int], list[int]]:
    """One ``os.stat`` per path, written out independently of segviz: (names, sizes, times)."""
    sizes, times = [], []
    for path in paths:
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        sizes.append(st.st_size if st else -1)
        times.append(st.st_mtime_ns if st else -1)
    return list(paths), sizes, times


def c_and_python(paths: list[str], monkeypatch) -> tuple[tuple, tuple]:
    """:func:`_signatures` with the C extension, then without it."""
    with_c = _signatures(paths)
    monkeypatch.setattr(kernels, "_ckernel", None)
    without = _signatures(paths)
    monkeypatch.undo()
    return with_c, without


def as_lists(result: tuple) -> tuple:
    return tuple(list(column) for column in result)


@needs_kernel
def test_real_dataset_files_are_signed_as_os_stat_does(shared_data, monkeypatch):
    checked = 0
    for name, model in (
        ("voc2012-deeplab", "deeplabv3plus"),
        ("ade20k-csail", "csail-2017"),
        ("camvid-val", "tinyfcn"),
    ):
        root = shared_data / name
        columns = PairList.of(open_dataset(root, model=model).pairs)
        for c in ("gt", "pred", "images"):
            paths = columns.absolute(c)
            with_c, without = c_and_python(paths, monkeypatch)
            expected = brute_force(paths)
            assert as_lists(with_c) == as_lists(without) == as_lists(expected), (name, c)
            assert all(type(v) is int for v in with_c[1] + with_c[2])  # (Python ints, as os.stat's)
            if any(paths):
                assert min(expected[1]) >= 0, (name, c)  # (real files: no -1 hiding a wrong answer)
                checked += len(paths)
    assert checked > 300  # (every file of the three datasets)


@needs_kernel
def test_missing_files_empty_paths_folders_and_odd_paths(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        for i in range(5):
            (tmp_path / folder / f"{i}.png").write_bytes(b"x" * (i + 3 * (folder == "b")))
    os.utime(tmp_path / "a" / "0.png", ns=(1, -123_456_789))  # (before 1970: negative mtime_ns)
    paths = [
        str(tmp_path / "a" / "0.png"),
        "",
        str(tmp_path / "a" / "missing.png"),
        str(tmp_path / "nofolder" / "x.png"),
        str(tmp_path / "a"),  # a folder: os.stat answers for it too
        str(tmp_path / "a") + "/",
        str(tmp_path / "a" / "1.png") + "/",  # a file with a trailing '/': ENOTDIR
        str(tmp_path / "a" / "1.png" / "x"),
        str(tmp_path) + "//a/./2.png",
        str(tmp_path / "b" / "../a/3.png"),
        "/",
        "relative/not/here.png",
        *(str(tmp_path / ("a", "b")[i % 2] / f"{i % 5}.png") for i in range(20)),  # folders alternating
    ]
    with_c, without = c_and_python(paths, monkeypatch)
    expected = brute_force(paths)
    assert as_lists(with_c) == as_lists(without) == as_lists(expected)
    assert expected[1][:4] == [0, -1, -1, -1] and expected[2][0] == -123_456_789
    assert expected[1][4] >= 0 and expected[1][6:8] == [-1, -1] and expected[1][8:10] == [2, 3]


@needs_kernel
def test_a_relative_path_without_a_folder_part(tmp_path, monkeypatch):
    (tmp_path / "here.png").write_bytes(b"12345")
    monkeypatch.chdir(tmp_path)
    paths = ["here.png", "gone.png"] * 8
    assert as_lists(_signatures(paths)) == as_lists(brute_force(paths))
    assert _signatures(paths)[1][:2] == [5, -1]


@needs_kernel
def test_non_utf8_and_non_ascii_names(tmp_path, monkeypatch):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9-\xff.png"  # (Latin-1 bytes: not UTF-8)
    with open(raw, "wb") as f:
        f.write(b"abc")
    name = os.fsdecode(raw)
    assert "\udce9" in name  # (surrogateescape: how os.listdir gives such a name)
    utf8 = tmp_path / "café-東京.png"
    utf8.write_bytes(b"abcdef")
    paths = [name, str(utf8), str(tmp_path / "caf\udce9-gone.png"), *[name, str(utf8)] * 8]
    with_c, without = c_and_python(paths, monkeypatch)
    assert as_lists(with_c) == as_lists(without) == as_lists(brute_force(paths))
    assert with_c[1][:3] == [3, 6, -1]


@needs_kernel
def test_symlinks_are_followed_as_os_stat_does(tmp_path, monkeypatch):
    target = tmp_path / "target.png"
    target.write_bytes(b"0123456789")
    (tmp_path / "link.png").symlink_to(target)
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "linked").symlink_to(tmp_path, target_is_directory=True)
    paths = [str(tmp_path / n) for n in ("link.png", "dangling.png", "linked/target.png", "target.png")] * 4
    with_c, without = c_and_python(paths, monkeypatch)
    assert as_lists(with_c) == as_lists(without) == as_lists(brute_force(paths))
    assert with_c[1][:4] == [10, -1, 10, 10] and with_c[2][0] == target.stat().st_mtime_ns


@needs_kernel
def test_huge_lists_in_two_threads(tmp_path, monkeypatch):
    files = []
    for i in range(300):
        folder = tmp_path / f"d{i % 7}"
        folder.mkdir(exist_ok=True)
        files.append(folder / f"{i}.png")
        files[-1].write_bytes(b"y" * i)
    rng = np.random.default_rng(17)
    pool = [str(f) for f in files] + ["", str(tmp_path / "d1" / "gone.png")]
    paths = [pool[i] for i in rng.integers(0, len(pool), 60_000)]
    with_c, without = c_and_python(paths, monkeypatch)
    assert as_lists(with_c) == as_lists(without) == as_lists(brute_force(paths))
    sizes, times = np.empty(len(paths), np.int64), np.empty(len(paths), np.int64)
    for threads in (1, 2):
        assert kernels._ckernel.stat_many(paths, sizes, times, threads) == 0
        assert sizes.tolist() == with_c[1] and times.tolist() == with_c[2]


@needs_kernel
def test_paths_the_c_side_leaves_to_python(tmp_path, monkeypatch):
    f = tmp_path / "x.png"
    f.write_bytes(b"1234")
    fs = fsspec.filesystem("memory")
    url = f"memory://segviz-{uuid.uuid4().hex[:8]}/y.png"
    fs.pipe(url.removeprefix("memory://"), b"12345678")
    colon = str(tmp_path) + "/a://b"  # (not a URL: a folder named "a:" holding a folder "b")
    os.makedirs(colon)
    paths = [str(f), url, str(colon), str(f), *[str(f)] * 8]
    sizes, times = np.empty(len(paths), np.int64), np.empty(len(paths), np.int64)
    assert kernels._ckernel.stat_many(paths, sizes, times, 1) == 2  # (the URL and the "://" folder)
    assert sizes[[1, 2]].tolist() == [-2, -2] and times[[1, 2]].tolist() == [-2, -2]
    names, got_sizes, got_times = _signatures(paths)
    assert names == paths and (got_sizes[1], got_times[1]) == remote.signature(url)[1:]
    assert got_sizes[1] == 8 and got_sizes[2] == os.stat(colon).st_size and got_sizes[0] == 4
    nul = [str(f)] * 8 + [str(f) + "\x00x"]
    with pytest.raises(ValueError, match="embedded null"):  # (as os.stat and segviz before)
        _signatures(nul)
    assert kernels._ckernel.stat_many(nul, np.empty(9, np.int64), np.empty(9, np.int64), 2) == 1


@needs_kernel
def test_stat_many_rejects_wrong_arguments():
    paths = ["/", "/"]
    ok = np.empty(2, np.int64)
    with pytest.raises(ValueError, match=r"stat_many: sizes and times must be int64 buffers of len\(paths\)"):
        kernels._ckernel.stat_many(paths, np.empty(3, np.int64), ok, 1)
    with pytest.raises(ValueError, match=r"stat_many: sizes and times must be int64"):
        kernels._ckernel.stat_many(paths, np.empty(2, np.int32), ok, 1)
    with pytest.raises(ValueError, match="stat_many: threads must be 1 or 2"):
        kernels._ckernel.stat_many(paths, ok, np.empty(2, np.int64), 3)
    with pytest.raises(TypeError, match="must be list"):
        kernels._ckernel.stat_many(tuple(paths), ok, np.empty(2, np.int64), 1)
    with pytest.raises(BufferError, match="not writable"):
        kernels._ckernel.stat_many(paths, b"x" * 16, ok, 1)
    sizes = np.empty(3, np.int64)
    assert kernels._ckernel.stat_many([1, None, "/"], sizes, np.empty(3, np.int64), 1) == 2  # (not str)
    assert sizes[:2].tolist() == [-2, -2] and sizes[2] >= 0


def test_store_keys_are_the_same_with_and_without_the_extension(shared_data, monkeypatch):
    root = shared_data / "voc2012-deeplab"
    pairs = open_dataset(root, model="deeplabv3plus").pairs
    gone = Pair("gone", root / "no-such-gt.png", root / "no-such-pred.png")
    pairs = [*pairs, gone]
    with_c = key_texts(pairs)
    shared = shared_key_texts([pairs, pairs[:10]])
    monkeypatch.setattr(kernels, "_ckernel", None)
    assert key_texts(pairs) == with_c == shared[0] and shared[1] == with_c[:10]
    assert with_c[-1] == json.dumps(pair_key(gone)) and with_c[0] == json.dumps(pair_key(pairs[0]))
    assert json.loads(with_c[-1])[2:4] == [-1, -1]


def test_without_the_extension_python_stats_every_path(tmp_path, monkeypatch):
    f = tmp_path / "x.png"
    f.write_bytes(b"12")
    monkeypatch.setattr(kernels, "_ckernel", None)
    paths = [str(f), "", str(tmp_path / "gone.png")] * 5
    assert as_lists(_signatures(paths)) == as_lists(_signatures_python(paths)) == as_lists(brute_force(paths))


def test_stat_counter_sees_the_stats_in_c_and_in_python(tmp_path, monkeypatch):
    f = tmp_path / "x.png"
    f.write_bytes(b"12")
    paths = [str(f), "", str(tmp_path / "gone.png")] * 5
    calls = stat_counter(monkeypatch)
    _signatures(paths)
    assert calls == {str(f): 5, str(tmp_path / "gone.png"): 5}
    calls.clear()
    _signatures(paths[:3])  # (a short list: os.stat in Python)
    assert calls == {str(f): 1, str(tmp_path / "gone.png"): 1}


# ---------------------------------------------------------------- folders listed in C (scan_folder)
needs_scan = pytest.mark.skipif(
    not hasattr(kernels._ckernel, "scan_folder"), reason="segviz._count built without scan_folder"
)


def opened(root, model, monkeypatch, *, c: bool):
    """Everything ``open_dataset`` gives (columns, skipped, warnings), or its error's message."""
    if not c:
        monkeypatch.setattr(kernels, "_ckernel", None)
    try:
        d = open_dataset(root, model=model)
    except SegvizError as exc:
        return ("error", str(exc))
    finally:
        monkeypatch.undo()
    columns = PairList.of(d.pairs)
    return (
        [
            list(getattr(columns, c))
            for c in ("names", "gt", "pred", "images", "gt_encoding", "pred_encoding")
        ],
        d.skipped,
        d.warnings,
    )


def models_of(root) -> list:
    try:
        return list_models(root) or [None]
    except SegvizError:
        return [None]


@needs_scan
def test_every_broken_dataset_opens_as_with_scandir(tmp_path, monkeypatch):
    from make_bad_corpus import make_corpus

    cases = make_corpus(tmp_path / "corpus")
    checked = 0
    for name in cases:
        root = tmp_path / "corpus" / name
        for model in models_of(root):
            assert opened(root, model, monkeypatch, c=True) == opened(root, model, monkeypatch, c=False), name
            checked += 1
    assert checked >= len(cases) > 20


@needs_scan
def test_real_datasets_open_as_with_scandir(shared_data, monkeypatch):
    for name in ("voc2012-deeplab", "ade20k-csail", "camvid-val", "ade20k-sample", "cityscapes-frame"):
        for model in models_of(shared_data / name):
            with_c = opened(shared_data / name, model, monkeypatch, c=True)
            assert with_c == opened(shared_data / name, model, monkeypatch, c=False), name
            assert with_c[0] != "error" or name == "cityscapes-frame", with_c


@needs_scan
def test_odd_folders_list_as_with_scandir(tmp_path, monkeypatch):
    root = tmp_path / "ds"
    files = {
        "gt": ["b.png", "a.png", ".hidden.png", "c.PNG", "sub/z.png", "sub/.h/x.png", "sub/deeper/y.png",
               "sub2/q.png", "n\u00e9.png", "raw\udcff.png", "d_gt.png", "notes.txt", "x.jpg", "noext",
               "e.npy", "e.png", "strange.png.png", "only/.png"],
        "pred/m": ["a.png", "b.png", "c.png", "sub/z.png", "sub/deeper/y.png", "sub2/q.png", "d.png",
                   "e.png", "strange.png.png", "n\u00e9.png"],
        "pred/plain": ["a.png", "b.png", "c.png", "d.png", "e.png"],
    }  # fmt: skip
    for folder, names in files.items():
        for name in names:
            path = os.fsencode(str(root / folder)) + b"/" + os.fsencode(name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(b"\x89PNG")
    (root / "gt" / "link.png").symlink_to(root / "gt" / "a.png")  # (a link: that folder in Python)
    (root / "gt" / "sub2" / "looped").symlink_to(root / "gt", target_is_directory=True)
    scans = scan_counter(monkeypatch)
    first = opened(root, "m", monkeypatch, c=True)
    assert first == opened(root, "m", monkeypatch, c=False)
    assert [str(root / "pred" / "m")] == [p for p in scans if p.endswith("/m")]  # (listed in C)
    assert first[0][0][:3] == ["a", "b", "c"] and "sub/deeper/y" in first[0][0] and "sub/z" in first[0][0]
    for model in ("plain", None):
        assert opened(root, model, monkeypatch, c=True) == opened(root, model, monkeypatch, c=False)
    top = str(root) + "/"  # (a folder given with a trailing '/')
    assert opened(top, "m", monkeypatch, c=True) == opened(top, "m", monkeypatch, c=False)


@needs_kernel
def test_report_fingerprint_is_the_same_with_and_without_the_extension(shared_data, tmp_path, monkeypatch):
    import shutil

    from segviz import evaluate
    from segviz.report.fingerprint import dataset_fingerprint

    ev = evaluate(open_dataset(shared_data / "camvid-val", model="tinyfcn"))
    assert len(ev.pairs) >= 8  # (enough masks for stat_many)
    with_c = dataset_fingerprint(ev)
    monkeypatch.setattr(kernels, "_ckernel", None)
    assert dataset_fingerprint(ev) == with_c
    monkeypatch.undo()
    copy = tmp_path / "camvid"  # the first mask gone, in the order ground truth, prediction
    shutil.copytree(shared_data / "camvid-val", copy, ignore=shutil.ignore_patterns("images", "conf"))
    moved = evaluate(open_dataset(copy, model="tinyfcn"))
    assert dataset_fingerprint(moved) == with_c  # (relative paths: a move keeps it)
    second = sorted((copy / "pred" / "tinyfcn").iterdir())[1]
    (sorted((copy / "gt").iterdir())[3]).unlink()
    second.unlink()
    with pytest.raises(SegvizError, match=rf"^{re.escape(str(second))}: cannot fingerprint the dataset"):
        dataset_fingerprint(moved)
