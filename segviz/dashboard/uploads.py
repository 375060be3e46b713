"""Uploaded dataset zips: one temporary folder per session, removed as soon as the session goes.

A disconnected session is kept by Streamlit for a while (``server.disconnectedSessionTTL``, 120 s)
so that it can reconnect; its uploaded folder is not: a janitor thread removes the folder of every
session that is no longer connected within a few seconds, and a session that comes back extracts
its zip again.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

JANITOR_PERIOD_S = 5.0


class UploadFolders:
    """The temporary folder of each session's upload, by session id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folders: dict[str, tempfile.TemporaryDirectory] = {}

    def new(self, session_id: str) -> Path:
        """A fresh folder for ``session_id``; the session's previous upload folder is removed."""
        folder = tempfile.TemporaryDirectory(prefix="segviz-upload-")
        with self._lock:
            old = self._folders.pop(session_id, None)
            self._folders[session_id] = folder
        if old is not None:
            old.cleanup()
        return Path(folder.name)

    def discard(self, session_id: str) -> None:
        with self._lock:
            old = self._folders.pop(session_id, None)
        if old is not None:
            old.cleanup()

    def release_inactive(self, is_active: Callable[[str], bool]) -> list[str]:
        """Remove the folders of sessions for which ``is_active(session_id)`` is false."""
        with self._lock:
            gone = [sid for sid in self._folders if not is_active(sid)]
            folders = [self._folders.pop(sid) for sid in gone]
        for folder in folders:
            folder.cleanup()
        return gone

    def __len__(self) -> int:
        return len(self._folders)


def _janitor(folders: UploadFolders) -> None:
    from streamlit import runtime

    while True:
        time.sleep(JANITOR_PERIOD_S)
        if not runtime.exists():
            continue
        try:
            folders.release_inactive(runtime.get_instance().is_active_session)
        except Exception:  # the janitor must outlive any hiccup of the runtime
            continue


@st.cache_resource
def upload_folders() -> UploadFolders:
    """The process-wide registry, with its janitor thread."""
    folders = UploadFolders()
    threading.Thread(target=_janitor, args=(folders,), name="segviz-upload-janitor", daemon=True).start()
    return folders


def session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"
