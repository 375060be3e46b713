"""The set-up a newcomer meets: the README's two commands, CI running the same test command, and the
Streamlit settings shipped with the app (issue #10, items 10 and 11)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_has_two_set_up_commands_that_make_a_virtual_environment():
    """Regression (issue #10): on Debian's own python3, `pip install` outside a venv stops with
    "externally-managed-environment" (PEP 668); the README never created one."""
    commands = setup_commands()
    assert len(commands) == 2
    for command in commands:
        assert "\n" not in command
        assert "apt-get install" in command and "python3-venv" in command
        assert "python3 -m venv .venv" in command
        assert ".venv/bin/pip install" in command and " pip install" not in command.replace(
            ".venv/bin/pip", ""
        )
        assert "python3-dev" in command and "gcc" in command  # the optional C kernel builds
    app, tests = commands
    assert app.endswith(".venv/bin/streamlit run app.py")
    assert tests.endswith(".venv/bin/python -m pytest")
    assert "chromium fonts-liberation" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == setup_commands()[1]


def test_streamlit_settings_turn_off_telemetry_and_the_deploy_menu():
    """Regression (issue #10): the app tried to reach Streamlit's telemetry host on every page."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["toolbarMode"] == "viewer"  # hides Deploy, rerun and clear cache
    streamlit_config = pytest.importorskip("streamlit.config")
    known = streamlit_config._config_options_template  # every option this Streamlit knows
    for section, options in config.items():
        for name in options:
            assert f"{section}.{name}" in known, f"{section}.{name} is not a Streamlit {section} option"
