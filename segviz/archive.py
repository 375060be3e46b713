"""Safe extraction of an uploaded dataset zip (images/, gt/, pred/, classes.csv).

Every member is checked before anything is written: no absolute paths, no ``..``, no symbolic links,
no nested archives, and limits on the number of entries (files and folders), the total uncompressed
size and the compression ratio (zip bombs). The number of entries and the size of the central
directory are read from the archive's end record before :mod:`zipfile` parses the directory (1.8
million folder entries cost 1 GB and 10 s to parse). Backslashes in member names are folder separators (zips made on
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
    #: Most bytes of central directory per allowed entry (a real entry takes 46 bytes plus its name).
    max_directory_bytes_per_file: int = 1024


def extract_dataset_zip(
    source: str | Path | BinaryIO, dest: str | Path, *, limits: ZipLimits = ZipLimits()
) -> Path:
    """Extract a dataset zip into ``dest`` (which must be empty or absent) and return the dataset
    root: the shallowest folder that holds ``gt/``. Raises :class:`DatasetError` with the member name
    and the problem when the archive is unsafe or does not hold a dataset."""
    dest = Path(dest)
    name = getattr(source, "name", str(source))
    _check_directory_size(source, name, limits)
    try:
        archive = zipfile.ZipFile(source)
    except _OPEN_ERRORS as exc:
        raise DatasetError(f"{name}: not a readable zip file ({exc})") from None
    with archive:
        entries = archive.infolist()
        _check_entry_count(len(entries), name, limits)  # the end record may understate it
        members = [m for m in entries if not m.filename.endswith("/")]  # is_dir() fails on ""
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


def _check_entry_count(entries: int, name: str, limits: ZipLimits) -> None:
    if entries > limits.max_files:
        raise DatasetError(
            f"{name}: {entries:,} entries (files and folders), more than the limit of {limits.max_files:,}"
        )


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def _check_directory_size(source: str | Path | BinaryIO, name: str, limits: ZipLimits) -> None:
    """Refuse, from the end record alone, an archive whose central directory holds more entries
    than :attr:`ZipLimits.max_files` or more bytes than that many entries need. An archive without
    a readable end record is left to :mod:`zipfile`, which reports it."""
    try:
        found = _end_record(source)
    except (OSError, ValueError, struct.error):
        found = None
    if found is None:
        return
    entries, directory_bytes = found
    _check_entry_count(entries, name, limits)
    most = limits.max_files * limits.max_directory_bytes_per_file
    if directory_bytes > most:
        raise DatasetError(
            f"{name}: its central directory takes {directory_bytes:,} bytes, more than {most:,} for "
            f"at most {limits.max_files:,} entries"
        )


def _end_record(source: str | Path | BinaryIO) -> tuple[int, int] | None:
    """(number of entries, central directory size in bytes) from the end record (zip64 too), or
    None when there is none. Reads at most the last 64 KB + 22 bytes; a file object is left at
    the position it had."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            return _read_end_record(f)
    start = source.tell()
    try:
        return _read_end_record(source)
    finally:
        source.seek(start)


def _read_end_record(f: BinaryIO) -> tuple[int, int] | None:
    size = f.seek(0, 2)
    tail_start = max(0, size - (_EOCD.size + 0xFFFF))
    f.seek(tail_start)
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    _, _, _, _, entries, directory_bytes, _, _ = _EOCD.unpack_from(tail, at)
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        located = _zip64_end_record(f, tail_start + at)
        if located is not None:
            entries, directory_bytes = located
    return entries, directory_bytes


def _zip64_end_record(f: BinaryIO, eocd_offset: int) -> tuple[int, int] | None:
    if eocd_offset < _ZIP64_LOCATOR.size:
        return None
    f.seek(eocd_offset - _ZIP64_LOCATOR.size)
    signature, _, offset, _ = _ZIP64_LOCATOR.unpack(f.read(_ZIP64_LOCATOR.size))
    if signature != b"PK\x06\x07":
        return None
    f.seek(offset)
    record = f.read(_ZIP64_EOCD.size)
    if len(record) < _ZIP64_EOCD.size or not record.startswith(b"PK\x06\x06"):
        return None
    fields = _ZIP64_EOCD.unpack(record)
    return fields[7], fields[8]  # entries in total, size of the central directory


def _check_members(members: list[zipfile.ZipInfo], name: str, limits: ZipLimits) -> None:
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
