"""Issue 17, the app's first overview at 100,000 images (<= 3 s): what was taken off its path and
the rules that keep it exact. The timings are in benchmarks/bench_app.py (README, "The first
overview at 100,000 images")."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import conftest
from conftest import ROOT, save_mask


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def _nested(root):
    """A dataset whose masks sit in city folders two deep, with an empty folder, a folder of
    files of another kind and a link to a folder (which os.walk does not enter)."""
    for city in ("aachen", "bremen/north", "bremen/south"):
        for name in ("a", "b"):
            save_mask(root / "gt" / city / f"{name}.png", np.array([[0, 1], [1, 0]]))
            save_mask(root / "pred" / "m1" / city / f"{name}.png", np.array([[0, 1], [0, 0]]))
    (root / "gt" / "empty").mkdir()
    (root / "images" / "notes").mkdir(parents=True)
    (root / "images" / "notes" / "readme.txt").write_text("not a photo")
    os.symlink(root / "gt" / "aachen", root / "pred" / "linked")
    return root


def test_folder_signature_lists_only_folders_with_subfolders(tmp_path, monkeypatch):
    """Regression (issue 17, profiled at 100,000 images): the signature listed every file of every
    folder (os.walk: 0.15-0.27 s of the first overview) only to find the folders. A folder whose
    link count says it has no subfolder is now stat'ed, not listed; the folders and mtimes are
    exactly what os.walk finds."""
    from segviz.dashboard import cache

    root = _nested(tmp_path / "ds")
    full = cache.folder_signature(root, leaves_by_links=False)
    assert sorted(full) == sorted(
        (dirpath, os.stat(dirpath).st_mtime_ns)
        for part in ("gt", "pred", "images")
        for dirpath, _, _ in os.walk(root / part)
    )
    listed = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: listed.append(os.fspath(p)) or real_scandir(p))
    fast = cache.folder_signature(root)
    monkeypatch.setattr(os, "scandir", real_scandir)
    assert sorted(fast) == sorted(full)
    assert len(fast) == 14  # gt + 5 below it; pred, m1 + 4 below it (not the link); images, notes
    if os.stat(root / "gt" / "aachen").st_nlink == 2:  # (a file system that keeps link counts)
        leaves = {os.fspath(root / p) for p in ("gt/aachen", "gt/empty", "images/notes", "gt/bremen/north")}
        assert not leaves & set(listed)
        assert os.fspath(root / "gt") in listed  # it has subfolders: listed to find them


def test_the_check_walks_every_folder_when_link_counts_are_wrong(tmp_path, monkeypatch):
    """On a file system that says a folder has no subfolder when it has (link count 2), the
    signature misses the subfolder; the background check (every CHECK_EVERY_S seconds, or "Check
    files now") walks every folder and says the dataset must be listed again."""
    from segviz.dashboard import cache

    root = _nested(tmp_path / "ds")
    real_stat = os.stat

    def two_links(path, *args, **kwargs):
        found = real_stat(path, *args, **kwargs)
        if not stat.S_ISDIR(found.st_mode):
            return found
        return types.SimpleNamespace(st_mode=found.st_mode, st_mtime_ns=found.st_mtime_ns, st_nlink=2)

    monkeypatch.setattr(os, "stat", two_links)
    entry = cache._open(root, "m1", None)
    monkeypatch.setattr(os, "stat", real_stat)
    assert [os.path.relpath(p, root) for p, _ in entry.folders] == ["gt", "pred", "images"]  # (misled)
    save_mask(root / "gt" / "bremen" / "north" / "c.png", np.array([[1, 1], [1, 1]]))  # a new image
    assert not cache.folders_changed(entry.folders)  # the folders it knows did not change
    assert cache.check_files(entry) is True
    assert entry.stale  # the next page run lists the dataset again
    honest = cache._open(root, "m1", None)
    assert cache.check_files(honest) is False  # nothing missed, nothing changed


def test_an_image_added_in_a_subfolder_is_noticed_on_the_next_page_run(monkeypatch, tmp_path):
    """The signature that does not list leaf folders still sees a file added two folders deep
    (its folder's mtime changes) on the next page run, without a check of every mask."""
    root = _nested(tmp_path / "ds")
    at = conftest.run_app(monkeypatch, root=tmp_path, dataset="ds", query={"model": "m1"}, timeout=60)
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Images"] == "6"
    for part in ("gt", "pred/m1"):
        save_mask(root / part / "bremen" / "north" / "c.png", np.array([[1, 1], [1, 0]]))
    at.run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Images"] == "7"


def test_scipy_cluster_is_imported_in_the_background_once_per_process():
    """Regression (issue 17, profiled at 100,000 images): the confusion order of more than 30
    classes imported scipy.cluster (0.45 s, scipy.spatial with it) inside the first overview. The
    dashboard imports it in a background thread, once per process; a page that needs it meanwhile
    waits for that import instead of doing it again."""
    code = (
        "import sys\n"
        "from segviz.dashboard import cache\n"
        "assert 'scipy.cluster.hierarchy' not in sys.modules, 'imported eagerly'\n"
        "t = cache.warm_imports()\n"
        "assert cache.warm_imports() is t and t.name == 'segviz-warm-imports'\n"
        "t.join(60)\n"
        "assert all(m in sys.modules for m in cache.WARM_IMPORTS), sorted(sys.modules)[:5]\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_a_page_run_starts_the_import(monkeypatch):
    """Every page run asks for the background import (the first one in the process starts it)."""
    from segviz.dashboard import cache

    calls = []
    real = cache.warm_imports
    monkeypatch.setattr(cache, "warm_imports", lambda: calls.append(time.time()) or real())
    at = conftest.run_app(monkeypatch, query={"model": "baseline"})
    assert not at.exception, at.exception
    assert len(calls) == 1
    real().join(60)
    assert all(m in sys.modules for m in cache.WARM_IMPORTS)
