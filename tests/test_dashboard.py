"""The dashboard as a package: `segviz app`, its entry file inside segviz/, and the wheel that ships it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import urllib.request

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, unmarked
from segviz import evaluate, open_dataset
from segviz.cli import main
from segviz.dashboard.launch import ENTRY, streamlit_command


@pytest.fixture(autouse=True)
def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def test_package_entry_runs_the_dashboard(monkeypatch):
    """`segviz app sample_data` runs segviz/dashboard/main.py as the script, with the dataset in the
    environment: the overview shows the library's numbers."""
    _, env = streamlit_command(str(ROOT / "sample_data"))
    assert env["SEGVIZ_DATA_ROOT"] == str(ROOT) and env["SEGVIZ_DATASET"] == "sample_data"
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", env["SEGVIZ_DATA_ROOT"])
    monkeypatch.setenv("SEGVIZ_DATASET", env["SEGVIZ_DATASET"])
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert not at.exception, at.exception
    model = at.selectbox(key="model").value
    s = evaluate(open_dataset(ROOT / "sample_data", model=model)).summary()
    assert {m.label: m.value for m in at.metric}["mIoU"] == f"{100 * s['mean_iou']:.2f} %"


def test_app_command_serves_the_dashboard(tmp_path):
    """`python -m segviz app DATASET` from another folder starts a server that answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "segviz", "app", str(ROOT / "sample_data"), "--port", str(port), "--headless"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, ok = time.time() + 60, False
        while time.time() < deadline and not ok:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    ok = r.status == 200
            except OSError:
                time.sleep(0.3)
        assert ok, "the dashboard did not start"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "Traceback" not in out, out


def test_app_command_refuses_a_missing_folder(tmp_path, capsys):
    assert main(["app", str(tmp_path / "missing")]) == 2
    assert "missing: no such folder" in capsys.readouterr().err


def test_wheel_ships_every_package():
    """Regression: pyproject listed only "segviz", so an installed segviz had no dashboard."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "segviz").rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject's [tool.setuptools] packages: {found - listed}"
    assert {"segviz.dashboard", "segviz.dashboard.views"} <= found


# ---------------------------------------------------------------- caches bounded by bytes (issue 11)
def test_byte_budget_bounds_what_the_cache_keeps():
    """Regression: caches were bounded by entry count (256 photos), so 10 photos of 8000x8000 kept
    2.9 GB. Broadcast arrays report their full size without allocating it."""
    import numpy as np

    from segviz.dashboard.cache import ByteLru

    lru = ByteLru(budget=512 * 2**20)
    photos = [np.broadcast_to(np.full(3, i, np.uint8), (8000, 8000, 3)) for i in range(10)]
    for i, photo in enumerate(photos):
        lru.put(("photo", i), photo)
        assert lru.nbytes <= lru.budget
    kept = [i for i in range(10) if lru.get(("photo", i)) is not None]
    assert kept == [8, 9]  # 2 x 192 MB fit in 512 MB; the least recently used went first
    lru.put("huge", np.broadcast_to(np.uint8(0), (20000, 20000, 3)))  # larger than the budget
    assert lru.get("huge") is None and lru.get(("photo", 9)) is not None


def test_the_results_cache_keeps_the_latest_value_over_its_budget():
    """Bug (issue #17, measured at 1,000,000 images): an evaluation of ≈ 4 GB was larger than the
    results cache's 1 GB budget, silently not kept, and every page run reopened the dataset (≈ 23 s
    CPU a click). The results cache keeps the latest such value outside the budget and says so."""
    import numpy as np

    from segviz.dashboard.cache import ByteLru

    lru = ByteLru(budget=2**20, keep_oversize=True)
    lru.put("small", np.zeros(2**16, np.uint8))
    big = np.broadcast_to(np.uint8(1), (2**21,))
    lru.put("big", big)
    assert lru.get("big") is big and lru.get("small") is not None  # kept beside the budgeted ones
    assert lru.nbytes <= lru.budget and 2**21 <= lru.oversize < 2**21 + 1024
    for i in range(40):  # budgeted values come and go; the big one stays
        lru.put(("other", i), np.zeros(2**16, np.uint8))
    assert lru.get("big") is big and lru.nbytes <= lru.budget
    bigger = np.broadcast_to(np.uint8(2), (2**22,))
    lru.put("bigger", bigger)  # one at a time: the latest replaces it
    assert lru.get("big") is None and lru.get("bigger") is bigger and 2**22 <= lru.oversize < 2**22 + 1024
    lru.discard("bigger")
    assert lru.get("bigger") is None and lru.oversize == 0
    plain = ByteLru(budget=2**20)  # the pictures cache keeps nothing over its budget
    plain.put("big", big)
    assert plain.get("big") is None and plain.oversize == 0


def test_decoded_photos_respect_the_picture_budget(monkeypatch, tmp_path):
    import numpy as np
    from PIL import Image

    from segviz.dashboard import cache

    monkeypatch.setenv("SEGVIZ_PICTURE_CACHE_MB", "1")
    import streamlit as st

    st.cache_resource.clear()
    for i in range(10):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(np.full((400, 400, 3), i * 20, np.uint8)).save(path)
        photo = cache.load_photo(*cache.file_key(path))
        assert photo.shape == (400, 400, 3) and photo[0, 0, 0] == i * 20
        assert not photo.flags.writeable  # shared between sessions: read-only
    pool = cache.pictures_cache()
    assert pool.budget == 2**20 and pool.nbytes <= 2**20 and len(pool._data) == 2


def test_a_changed_file_is_read_again(tmp_path):
    """Keys are (path, size, mtime): rewriting a photo in place gives the new pixels."""
    import numpy as np
    from PIL import Image

    from segviz.dashboard import cache

    path = tmp_path / "p.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    assert cache.load_photo(*cache.file_key(path))[0, 0, 0] == 0
    Image.fromarray(np.full((4, 4, 3), 9, np.uint8)).save(path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert cache.load_photo(*cache.file_key(path))[0, 0, 0] == 9


# ---------------------------------------------------------------- upload folders
def test_upload_folders_of_gone_sessions_are_released():
    from segviz.dashboard.uploads import UploadFolders

    folders = UploadFolders()
    a, b = folders.new("a"), folders.new("b")
    assert a.is_dir() and b.is_dir() and a != b
    assert folders.release_inactive(lambda sid: sid == "a") == ["b"]
    assert a.is_dir() and not b.exists() and len(folders) == 1
    a2 = folders.new("a")  # a new upload replaces the session's previous one at once
    assert a2.is_dir() and not a.exists()
    folders.discard("a")
    assert not a2.exists() and len(folders) == 0


def test_the_janitor_asks_the_runtime_which_sessions_are_connected(monkeypatch):
    """The registry is cleaned by a thread that asks Streamlit's runtime, not by garbage collection."""
    from segviz.dashboard import uploads

    class FakeRuntime:
        def is_active_session(self, sid):
            return sid == "connected"

    monkeypatch.setattr(uploads, "JANITOR_PERIOD_S", 0.05)
    monkeypatch.setattr("streamlit.runtime.exists", lambda: True)
    monkeypatch.setattr("streamlit.runtime.get_instance", lambda: FakeRuntime())
    import streamlit as st

    st.cache_resource.clear()
    folders = uploads.upload_folders()
    kept, gone = folders.new("connected"), folders.new("disconnected")
    deadline = time.time() + 10
    while gone.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not gone.exists() and kept.is_dir()
    folders.discard("connected")


def test_an_uploaded_zip_opens_and_its_folder_goes_when_removed(monkeypatch, tiny_dataset):
    """The upload box: the zip's dataset is evaluated; clearing the box removes its folder at once."""
    import io
    import zipfile

    from segviz.dashboard import uploads

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in sorted(tiny_dataset.rglob("*")):
            if path.is_file():
                z.write(path, f"tiny/{path.relative_to(tiny_dataset).as_posix()}")
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(ROOT))
    monkeypatch.setenv("SEGVIZ_DATASET", "sample_data")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.get("file_uploader")[0].set_value(("tiny.zip", buf.getvalue(), "application/zip")).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Images"] == "2"
    assert unmarked(at.title[0].value).startswith("tiny")
    folder = at.session_state["_upload_root"]
    assert folder.is_dir() and len(uploads.upload_folders()) == 1
    at.get("file_uploader")[0].set_value(None).run()
    assert not at.exception and not folder.exists() and len(uploads.upload_folders()) == 0
    assert {m.label: m.value for m in at.metric}["Images"] == "24"  # back on the chosen dataset


def _zip_with_predictions(tiny_dataset, pred_a) -> bytes:
    """The tiny dataset as a stored (uncompressed) zip whose pred/a is the .npy ``pred_a``: two
    such zips differ in content but not in name or size."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for path in sorted(tiny_dataset.rglob("*")):
            if path.is_file() and path.relative_to(tiny_dataset).as_posix() != "pred/a.png":
                z.write(path, f"tiny/{path.relative_to(tiny_dataset).as_posix()}")
        npy = io.BytesIO()
        np.save(npy, np.asarray(pred_a, dtype=np.uint8))
        z.writestr("tiny/pred/a.npy", npy.getvalue())
    return buf.getvalue()


def test_a_changed_zip_with_the_same_name_and_size_shows_the_new_results(monkeypatch, tiny_dataset):
    """Regression (issue 11, item 14): uploads were keyed on (name, size), so re-uploading a changed
    zip of the same size showed the old results."""
    first = _zip_with_predictions(tiny_dataset, [[0, 1, 1], [1, 0, 2]])
    second = _zip_with_predictions(tiny_dataset, [[0, 0, 1], [1, 0, 2]])
    assert len(first) == len(second) and first != second
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(ROOT))
    monkeypatch.setenv("SEGVIZ_DATASET", "sample_data")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.get("file_uploader")[0].set_value(("tiny.zip", first, "application/zip")).run()
    before = {m.label: m.value for m in at.metric}["Pixel accuracy"]
    at.get("file_uploader")[0].set_value(("tiny.zip", second, "application/zip")).run()
    assert not at.exception, at.exception
    after = {m.label: m.value for m in at.metric}["Pixel accuracy"]
    # 11 labelled pixels (a: 5, its 255 ignored; b: 6); correct: a 4 + b 4 = 8 in the first zip;
    # pixel a(0,1), gt 0, is predicted 1 in the first and 0 in the second: 9 correct
    assert (before, after) == (f"{800 / 11:.2f} %", f"{900 / 11:.2f} %")


# ---------------------------------------------------------------- fragments
def _fragment_rerun(at: AppTest, qualname: str) -> AppTest:
    """Rerun only the fragment ``qualname``, as the browser asks when a widget inside it changes
    (AppTest itself reruns the whole script)."""
    import functools

    from streamlit.runtime.scriptrunner import RerunData
    from streamlit.testing.v1 import local_script_runner

    storage = at._fragment_storage
    found = []
    for fid, frag in storage._fragments.items():
        for cell in getattr(frag, "__closure__", None) or ():
            if getattr(cell.cell_contents, "__qualname__", None) == qualname:
                found.append((storage._registration_sequence_by_id.get(fid, 0), fid))
    assert found, f"no fragment {qualname}"
    original = local_script_runner.RerunData
    local_script_runner.RerunData = functools.partial(RerunData, fragment_id_queue=[max(found)[1]])
    try:
        return at.run()
    finally:
        local_script_runner.RerunData = original


def test_a_control_reruns_its_fragment_only(monkeypatch):
    """The confusion controls and the image view are fragments: a change redraws them without
    reopening the dataset, and the URL still follows the selection."""
    import json

    from segviz.dashboard import cache

    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(ROOT))
    monkeypatch.setenv("SEGVIZ_DATASET", "sample_data")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    opened = []
    real = cache.open_model
    monkeypatch.setattr(cache, "open_model", lambda *a, **k: opened.append(a) or real(*a, **k))
    at.segmented_control(key="cm:norm").set_value("column")
    at.session_state["cell"] = (1, 0)
    _fragment_rerun(at, "confusion_section")
    assert not at.exception, at.exception
    heat = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith("ov:cm"))
    colours = next(t for t in heat["data"] if t["type"] == "heatmap" and "colorbar" in t)
    assert colours["colorbar"]["title"]["text"] == "% of pred column"
    assert any("GT sidewalk → predicted road" in unmarked(s.value) for s in at.subheader)
    assert at.query_params["cell"] == "1,0" and opened == []  # the page was not rerun
    at.run()  # a whole-page run does reopen (and check) the dataset
    assert len(opened) == 1
    at.session_state["view"] = "Images"
    at.run()
    first = at.session_state["image"]
    opened.clear()
    next(b for b in at.button if b.label == "Next ▶").click()
    _fragment_rerun(at, "image_page")
    assert not at.exception and opened == []
    assert at.session_state["image"] != first and at.query_params["image"] == at.session_state["image"]


def test_an_uploads_messages_name_no_server_folder(monkeypatch, tiny_dataset):
    """Regression (issue 11, item 16): the app showed absolute server paths (upload temp folders,
    the class table's path). An upload's broken classes.csv is named below "<upload>/"."""
    import tempfile

    (tiny_dataset / "classes.csv").write_text("id,name,r,g,b\n0,road,1,1,1\n0,car,2,2,2\n")
    data = _zip_with_predictions(tiny_dataset, [[0, 1, 1], [1, 0, 2]])
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(ROOT))
    monkeypatch.setenv("SEGVIZ_DATASET", "sample_data")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.get("file_uploader")[0].set_value(("tiny.zip", data, "application/zip")).run()
    assert not at.exception, at.exception
    errors = [unmarked(e.value) for e in at.error]
    assert any(e.startswith("<upload>/data/tiny/classes.csv") for e in errors), errors
    texts = errors + [unmarked(c.value) for c in at.caption] + [unmarked(w.value) for w in at.warning]
    assert not any(tempfile.gettempdir() in t or str(ROOT) in t for t in texts), texts
