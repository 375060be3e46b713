"""Safe extraction of an uploaded dataset zip (images/, gt/, pred/, classes.csv).

Every member is checked before anything is written: no absolute paths, no ``..``, no symbolic links,
no nested archives, and limits on the number of files, the total uncompressed size and the
compression ratio (zip bombs). Backslashes in member names are folder separators (zips made on
Windows). Any problem met while extracting (a corrupt member, a name the file system refuses) is
reported as a :class:`DatasetError` naming the member.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from segviz.errors import DatasetError

NESTED_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")


@dataclass(frozen=True)
class ZipLimits:
    """Limits on an uploaded archive."""

    max_files: int = 20_000
    max_total_bytes: int = 2 * 1024**3
    max_ratio: float = 200.0


def extract_dataset_zip(
    source: str | Path | BinaryIO, dest: str | Path, *, limits: ZipLimits = ZipLimits()
) -> Path:
    """Extract a dataset zip into ``dest`` (which must be empty or absent) and return the dataset
    root: the shallowest folder that holds ``gt/``. Raises :class:`DatasetError` with the member name
    and the problem when the archive is unsafe or does not hold a dataset."""
    dest = Path(dest)
    name = getattr(source, "name", str(source))
    try:
        archive = zipfile.ZipFile(source)
    except _OPEN_ERRORS as exc:
        raise DatasetError(f"{name}: not a readable zip file ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.filename.endswith("/")]  # is_dir() fails on ""
        _check_members(members, name, limits)
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise DatasetError(f"{dest}: extraction folder is not empty")
        total = 0
        for m in members:
            try:
                total = _extract_member(archive, m, dest, total, limits, name)
            except _EXTRACTION_ERRORS as exc:
                raise DatasetError(f"{name}: member {m.filename!r} cannot be extracted ({exc})") from None
    roots = sorted((p.parent for p in dest.rglob("gt") if p.is_dir()), key=lambda p: len(p.parts))
    if not roots:
        raise DatasetError(
            f"{name}: no gt/ folder in the archive (expected images/, gt/, pred/, classes.csv)"
        )
    return roots[0]


#: What reading a damaged directory raises (bad offsets, unsupported versions, undecodable names).
_OPEN_ERRORS = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError, struct.error)
#: What reading a damaged member or writing a refused name raises (bad CRC, bad deflate stream,
#: negative offsets, unsupported compression, encryption, a file where a folder is needed, a name
#: too long).
_EXTRACTION_ERRORS = (*_OPEN_ERRORS, zlib.error, RuntimeError)


def _member_parts(filename: str) -> tuple[str, ...]:
    """Path parts of a member name, with backslashes as separators."""
    return PurePosixPath(filename.replace("\\", "/")).parts


def _extract_member(
    archive: zipfile.ZipFile, m: zipfile.ZipInfo, dest: Path, total: int, limits: ZipLimits, name: str
) -> int:
    """Write one (checked) member below ``dest``; returns the running uncompressed total."""
    target = dest.joinpath(*_member_parts(m.filename))
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(m) as src, open(target, "wb") as out:
        while chunk := src.read(1 << 20):
            total += len(chunk)
            if total > limits.max_total_bytes:  # sizes in the header can lie
                raise DatasetError(f"{name}: more than {limits.max_total_bytes:,} bytes uncompressed")
            out.write(chunk)
    return total


def _check_members(members: list[zipfile.ZipInfo], name: str, limits: ZipLimits) -> None:
    if len(members) > limits.max_files:
        raise DatasetError(f"{name}: {len(members):,} files, more than the limit of {limits.max_files:,}")
    total = sum(m.file_size for m in members)
    if total > limits.max_total_bytes:
        raise DatasetError(
            f"{name}: {total:,} bytes uncompressed, more than the limit of {limits.max_total_bytes:,}"
        )
    for m in members:
        path = PurePosixPath(m.filename.replace("\\", "/"))
        if not _member_parts(m.filename) or "\0" in m.filename:
            raise DatasetError(f"{name}: member {m.filename!r} has no usable file name")
        if path.is_absolute() or m.filename.startswith(("/", "\\")) or ":" in path.parts[0]:
            raise DatasetError(f"{name}: member {m.filename!r} has an absolute path")
        if ".." in path.parts:
            raise DatasetError(f"{name}: member {m.filename!r} escapes the extraction folder")
        if stat.S_ISLNK(m.external_attr >> 16):
            raise DatasetError(f"{name}: member {m.filename!r} is a symbolic link")
        if path.suffix.lower() in NESTED_ARCHIVES:
            raise DatasetError(f"{name}: member {m.filename!r} is a nested archive")
        if m.compress_size and m.file_size / m.compress_size > limits.max_ratio:
            raise DatasetError(
                f"{name}: member {m.filename!r} expands {m.file_size / m.compress_size:.0f}× "
                f"(limit {limits.max_ratio:.0f}×): refused as a possible zip bomb"
            )
