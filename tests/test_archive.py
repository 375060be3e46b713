"""Uploaded dataset zips: extracted safely or refused with a message naming the member."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from segviz.archive import ZipLimits, extract_dataset_zip
from segviz.errors import DatasetError


def _zip(entries: dict[str, bytes], *, symlink: str | None = None) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    buf.seek(0)
    buf.name = "upload.zip"
    return buf


def test_extracts_a_dataset_and_finds_its_root(tmp_path):
    root = extract_dataset_zip(
        _zip({"ds/gt/a.png": b"x", "ds/pred/a.png": b"y", "ds/classes.csv": b"id"}), tmp_path / "out"
    )
    assert root == tmp_path / "out" / "ds" and (root / "gt" / "a.png").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("entries", "symlink", "message"),
    [
        (
            {"../evil.txt": b"x", "gt/a.png": b"x"},
            None,
            r"member '../evil.txt' escapes the extraction folder",
        ),
        ({"/etc/evil": b"x"}, None, r"member '/etc/evil' has an absolute path"),
        ({"gt/a.png": b"x"}, "gt/link.png", r"member 'gt/link.png' is a symbolic link"),
        ({"gt/inner.zip": b"x"}, None, r"member 'gt/inner.zip' is a nested archive"),
        ({"images/a.jpg": b"x"}, None, r"no gt/ folder in the archive"),
    ],
    ids=["dotdot", "absolute", "symlink", "nested", "no-gt"],
)
def test_unsafe_archives_are_refused(tmp_path, entries, symlink, message):
    with pytest.raises(DatasetError, match=message):
        extract_dataset_zip(_zip(entries, symlink=symlink), tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bomb_limits(tmp_path):
    bomb = _zip({"gt/a.png": b"\0" * 5_000_000})
    with pytest.raises(DatasetError, match=r"member 'gt/a.png' expands \d+× \(limit 200×\)"):
        extract_dataset_zip(bomb, tmp_path / "a")
    with pytest.raises(DatasetError, match=r"3 entries \(files and folders\), more than the limit of 2"):
        extract_dataset_zip(
            _zip({"gt/a": b"1", "gt/b": b"2", "gt/c": b"3"}), tmp_path / "b", limits=ZipLimits(max_files=2)
        )
    with pytest.raises(DatasetError, match=r"bytes uncompressed, more than the limit of 10"):
        extract_dataset_zip(_zip({"gt/a": b"x" * 11}), tmp_path / "c", limits=ZipLimits(max_total_bytes=10))


def test_not_a_zip(tmp_path):
    buf = io.BytesIO(b"hello")
    buf.name = "x.zip"
    with pytest.raises(DatasetError, match=r"x.zip: not a readable zip file"):
        extract_dataset_zip(buf, tmp_path / "out")
