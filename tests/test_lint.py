"""House habits enforced in CI: ruff's lint and format checks, and streamlit only in the dashboard."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DASHBOARD = ROOT / "segviz" / "dashboard"


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check_passes():
    out = _ruff("check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_check_passes():
    out = _ruff("format", "--check", "--no-cache", ".")
    assert out.returncode == 0, "run `ruff format FILES` on:\n" + out.stdout + out.stderr


def streamlit_imports(source: str) -> list[int]:
    """Line numbers where ``source`` imports streamlit (import, from-import, importlib/__import__)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            names = [str(node.args[0].value)] if called in ("import_module", "__import__") else []
        else:
            continue
        if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "source, found",
    [
        ("import streamlit as st", [1]),
        ("import os\nfrom streamlit.testing.v1 import AppTest", [2]),
        ("def f():\n    import importlib\n    return importlib.import_module('streamlit')", [3]),
        ("import streamlit_extras", []),
        ("x = 'import streamlit'", []),
    ],
)
def test_the_scanner_finds_streamlit_imports(source, found):
    assert streamlit_imports(source) == found


def test_only_the_dashboard_imports_streamlit():
    """The library stays usable without streamlit: only segviz/dashboard/ (and app.py) import it."""
    offenders = []
    for path in sorted((ROOT / "segviz").rglob("*.py")):
        if path.is_relative_to(DASHBOARD):
            continue
        for line in streamlit_imports(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == [], "streamlit imported outside segviz/dashboard/: " + ", ".join(offenders)
    assert streamlit_imports((DASHBOARD / "main.py").read_text())  # the scan does look at real files


def test_the_command_line_starts_without_streamlit():
    """`segviz evaluate` must not pay for (or need) streamlit: importing the CLI leaves it unloaded."""
    code = "import sys, segviz.cli, segviz.dashboard.launch; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_complexity_limit_is_configured():
    import tomllib

    lint = tomllib.loads(Path(ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C901" in lint["select"] and lint["mccabe"]["max-complexity"] <= 10
