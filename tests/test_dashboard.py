"""The dashboard as a package: `segviz app`, its entry file inside segviz/, and the wheel that ships it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import urllib.request

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
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
