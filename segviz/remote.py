"""Datasets behind fsspec URLs: ``s3://``, ``gs://``, ``az://``, ``https://`` and any other
protocol fsspec knows (``memory://`` and ``file://`` too).

A folder given as a URL is listed and read through fsspec; everything else is the same as for a
local folder. The protocol's own package must be installed (``s3fs`` for ``s3://``, ``gcsfs`` for
``gs://``, ...), and credentials come from the usual places for that package (environment, config
files). With ``--dask`` the workers read the files themselves, so they need the package and the
credentials too. A file's identity for the results store is its URL, its size and its version as
the listing reports it (modification time, ETag or generation), so a changed object is read again.

Example:
    >>> from pathlib import Path
    >>> is_url("s3://bucket/val"), is_url("data/val"), is_url(Path("x"))
    (True, False, False)
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from segviz.errors import DatasetError

#: Listing details (size, version) of every file listed in this process, by URL: the store key of a
#: remote file without one more request per file.
_listed: dict[str, dict[str, Any]] = {}
_listed_lock = threading.Lock()
#: What identifies a version of a file in a listing, most specific first: local and SFTP mtime,
#: S3 LastModified, GCS generation / updated, Azure etag, in-memory created.
_VERSION_FIELDS = ("mtime", "LastModified", "last_modified", "generation", "updated", "ETag", "etag", "md5Hash", "created")  # fmt: skip


def is_url(path: object) -> bool:
    """Whether ``path`` is a URL (``protocol://…``), not a local path."""
    return isinstance(path, str) and "://" in path and path.split("://", 1)[0].replace("+", "").isalnum()


def filesystem(url: str):
    """(fsspec filesystem, path inside it) of a URL; a clear error when the protocol is unknown
    or its package is missing."""
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with dask
        raise DatasetError(f"{url}: reading URLs needs fsspec: pip install fsspec") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # e.g. "Install s3fs to access S3"
        raise DatasetError(f"{url}: {exc}") from None
    except ValueError as exc:  # unknown protocol
        raise DatasetError(f"{url}: {exc}") from None


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *parts])


def parent(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[0]


def is_dir(url: str) -> bool:
    return _check(url, "isdir")


def is_file(url: str) -> bool:
    return _check(url, "isfile")


def _check(url: str, question: str) -> bool:
    fs, path = filesystem(url)
    try:
        return bool(getattr(fs, question)(path))
    except OSError:  # unreachable or forbidden: as good as absent, and the caller says what is missing
        return False


def entries(url: str) -> tuple[list[str], list[str]]:
    """Names of the non-hidden folders and files directly inside ``url``, each sorted."""
    fs, path = filesystem(url)
    try:
        listed = fs.ls(path, detail=True)
    except OSError as exc:
        raise DatasetError(f"{url}: cannot list ({exc})") from None
    folders, files = [], []
    for e in listed:
        name = e["name"].rstrip("/").rsplit("/", 1)[-1]
        if not name.startswith("."):
            (folders if e.get("type") == "directory" else files).append(name)
    return sorted(folders), sorted(files)


def list_files(url: str) -> list[tuple[str, str]]:
    """(path relative to ``url`` with "/", file URL) of every file below ``url``, sorted; hidden
    files and folders are left out."""
    fs, path = filesystem(url)
    try:
        found = fs.find(path, detail=True, withdirs=False)
    except OSError as exc:
        raise DatasetError(f"{url}: cannot list ({exc})") from None
    base = path.rstrip("/") + "/"
    out = []
    with _listed_lock:
        for name, info in found.items():
            if not name.startswith(base) or info.get("type", "file") != "file":
                continue
            rel = name[len(base) :]
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            file_url = fs.unstrip_protocol(name)
            _listed[file_url] = info
            out.append((rel, file_url))
    return sorted(out)


def read_bytes(url: str) -> bytes:
    """The whole file; raises OSError (or DatasetError for an unknown protocol)."""
    fs, path = filesystem(url)
    return fs.cat_file(path)


def open_file(url: str):
    """A seekable binary file object (reads on demand: a header costs a few kB)."""
    fs, path = filesystem(url)
    return fs.open(path, "rb")


def signature(url: str) -> tuple[str, int, int]:
    """(URL, size, version) for the results store; (URL, -1, -1) when the file is gone."""
    info = _listed.get(url)
    if info is None:
        fs, path = filesystem(url)
        try:
            info = fs.info(path)
        except (OSError, ValueError):
            return (url, -1, -1)
    version = next((info[f] for f in _VERSION_FIELDS if info.get(f) is not None), None)
    digest = hashlib.sha1(repr(version).encode()).hexdigest()[:15]  # stable across processes
    return (url, int(info.get("size", -1)), int(digest, 16))
