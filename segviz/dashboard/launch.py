"""``segviz app [DATASET]``: start the dashboard of an installed segviz (no streamlit import here).

The command runs ``python -m streamlit run segviz/dashboard/main.py`` with the dataset passed through
the environment (``SEGVIZ_DATA_ROOT`` = the folder that holds it, ``SEGVIZ_DATASET`` = its name).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from segviz.errors import SegvizError

ENTRY = Path(__file__).resolve().with_name("main.py")


def streamlit_command(
    dataset: str | None, *, port: int | None = None, headless: bool = False
) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that start the dashboard on ``dataset``.

    A folder holding ``gt/`` opens as the dataset (its parent is the data root, so its siblings are
    listed too); any other folder becomes the data root; no folder means the current folder.

    >>> argv, env = streamlit_command(None, port=8600, headless=True)
    >>> argv[1:4], argv[argv.index("--server.port") + 1]
    (['-m', 'streamlit', 'run'], '8600')
    """
    env = dict(os.environ)
    if dataset is not None:
        folder = Path(dataset).expanduser().resolve()
        if not folder.is_dir():
            raise SegvizError(
                f"{dataset}: no such folder (give a dataset folder holding gt/, or a folder of datasets)"
            )
        if (folder / "gt").is_dir():
            env["SEGVIZ_DATA_ROOT"], env["SEGVIZ_DATASET"] = str(folder.parent), folder.name
        else:
            env["SEGVIZ_DATA_ROOT"] = str(folder)
    else:
        env.setdefault("SEGVIZ_DATA_ROOT", str(Path.cwd()))
    argv = [sys.executable, "-m", "streamlit", "run", str(ENTRY), "--browser.gatherUsageStats", "false"]
    if port is not None:
        argv += ["--server.port", str(port)]
    if headless:
        argv += ["--server.headless", "true"]
    return argv, env


def launch(dataset: str | None, *, port: int | None = None, headless: bool = False) -> int:
    """Run the dashboard until it is stopped (Ctrl+C).

    On POSIX the process *becomes* the streamlit server (``os.execve``), so a signal sent to
    ``segviz app`` (Ctrl+C, ``kill``) stops the server itself, never leaving it orphaned.
    Elsewhere streamlit runs as a child and its exit status is returned.
    """
    if importlib.util.find_spec("streamlit") is None:
        raise SegvizError("segviz app needs streamlit: pip install 'segviz[app]'")
    argv, env = streamlit_command(dataset, port=port, headless=headless)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(argv[0], argv, env)
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 0
