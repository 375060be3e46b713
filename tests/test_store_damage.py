"""A damaged results store never crashes a run and never gives wrong numbers (issue #11, part 5).

The corpus: a good store of the tiny dataset, then one kind of damage per case. "Plain" damage is
what a disk, a crash or a careless edit does (the checksums must catch it); "sealed" damage also
rewrites the manifest so every hash matches (the type and range checks must catch it). Every case
must give exactly the fresh numbers, with one warning line, and the next run must read the repaired
store. Then 50 random single-bit flips (fixed seed), each giving the fresh numbers either from the
store or recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segviz import evaluate, open_dataset
from segviz.cli import main
from segviz.store import ResultsStore


# ---------------------------------------------------------------------- the store format, written here
def manifest(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text())


def data_path(folder: Path, role: str) -> Path:
    return folder / manifest(folder)["files"][role]["name"]


def read(folder: Path, role: str) -> pa.Table:
    return pq.read_table(data_path(folder, role))


def reseal(folder: Path, *, images: pa.Table | None = None, counts: pa.Table | None = None, **meta) -> None:
    """Rewrite the store with these tables and manifest fields, every hash made to match (an
    independent writer of the documented format: BLAKE2b-128 of each file and of the manifest's
    JSON without its checksum, keys sorted)."""
    old = manifest(folder)
    body = {"format": old["format"], "pairs": old["pairs"], "rows": old["rows"], "files": {}}
    for role, table in (("images", images), ("counts", counts)):
        if table is None:
            data = data_path(folder, role).read_bytes()
        else:
            sink = io.BytesIO()
            pq.write_table(table, sink)
            data = sink.getvalue()
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        name = f"{role}-{digest}.parquet"
        (folder / name).write_bytes(data)
        body["files"][role] = {"name": name, "bytes": len(data), "blake2b": digest}
    body.update(meta)
    checked = {k: v for k, v in body.items() if k != "checksum"}
    body["checksum"] = hashlib.blake2b(
        json.dumps(checked, sort_keys=True).encode(), digest_size=16
    ).hexdigest()
    (folder / "meta.json").write_text(json.dumps(body))


def with_column(table: pa.Table, name: str, values) -> pa.Table:
    """``table`` with column ``name`` replaced; a count column (stored unsigned and as narrow as its
    values allow, format 3) becomes int64, which the format also allows, to hold any damage."""
    i = table.schema.get_field_index(name)
    kind = table.schema.field(i).type
    kind = pa.int64() if pa.types.is_unsigned_integer(kind) else kind
    return table.set_column(i, pa.field(name, kind), pa.array(values, type=kind))


def wide(schema: pa.Schema) -> pa.Schema:
    """The count columns as int64 (allowed by the format; holds negative and huge damage)."""
    return pa.schema(
        [(f.name, pa.int64() if pa.types.is_unsigned_integer(f.type) else f.type) for f in schema]
    )


def column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


# ---------------------------------------------------------------------- the corpus
def _plain_meta(text: str) -> Callable[[Path], None]:
    return lambda f: (f / "meta.json").write_text(text)


def _meta_field(**fields) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        meta = manifest(folder)
        meta.update(fields)
        (folder / "meta.json").write_text(json.dumps(meta))

    return damage


def _truncate(role: str, keep: float) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = data_path(folder, role) if role != "meta" else folder / "meta.json"
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return damage


def _swap_pred_for_gt(folder: Path) -> None:
    """The issue's case: the prediction column replaced by the ground truth (mIoU 100 % before)."""
    counts = read(folder, "counts")
    pq.write_table(with_column(counts, "pred", column(counts, "gt")), data_path(folder, "counts"))


def _non_json_key_cell(folder: Path) -> None:
    images = read(folder, "images")
    keys = column(images, "key")
    keys[1] = keys[1][:-3]
    pq.write_table(with_column(images, "key", keys), data_path(folder, "images"))


def _sealed_counts(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        counts = read(folder, "counts")
        cols = {name: column(counts, name) for name in counts.schema.names}
        edit(cols)
        reseal(folder, counts=pa.table(cols, schema=wide(counts.schema)))

    return damage


def _sealed_images(edit: Callable[[dict], None], schema: pa.Schema | None = None) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        images = read(folder, "images")
        cols = {name: column(images, name) for name in images.schema.names}
        edit(cols)
        reseal(folder, images=pa.table(cols, schema=schema or images.schema))

    return damage


def _set(name: str, i: int, value) -> Callable[[dict], None]:
    def edit(cols: dict) -> None:
        cols[name][i] = value

    return edit


def _pred_is_gt(cols: dict) -> None:
    cols["pred"] = list(cols["gt"])


def _move_count(cols: dict) -> None:  # totals still add up, one count becomes 0
    cols["count"][-1] += cols["count"][-2]
    cols["count"][-2] = 0


def _overflow(cols: dict) -> None:  # four positive counts whose int64 sum wraps to the right total
    for i in range(4):
        cols["count"][i] += 1 << 62


def _duplicate_entry(cols: dict) -> None:
    cols["key"][1] = cols["key"][0]


def _colour_value_too_large(folder: Path) -> None:
    """An entry decoded from colours holds ids up to 65535 only (65535 = unknown colour)."""
    images, counts = read(folder, "images"), read(folder, "counts")
    gt = column(counts, "gt")
    last = column(images, "rows")[0] - 1  # entry 0's last row: its largest gt value
    gt[last] = 70_000
    reseal(
        folder,
        images=with_column(images, "colour_coded", [True, False]),
        counts=with_column(counts, "gt", gt),
    )


def _float_counts(folder: Path) -> None:
    counts = read(folder, "counts")
    reseal(folder, counts=counts.set_column(2, "count", pa.array(column(counts, "count"), pa.float64())))


def _int16_counts(folder: Path) -> None:
    """Format 3 allows uint16, uint32 and int64 count columns only (a signed 16-bit column could
    hold negative values that wrap)."""
    counts = read(folder, "counts")
    reseal(folder, counts=counts.set_column(2, "count", pa.array(column(counts, "count"), pa.int16())))


def _drop_content_column(folder: Path) -> None:
    images = read(folder, "images")
    reseal(folder, images=images.drop(["content"]))


def _extra_column(folder: Path) -> None:
    images = read(folder, "images")
    reseal(folder, images=images.append_column("extra", pa.array([1] * images.num_rows)))


def _null_cell(folder: Path) -> None:
    images = read(folder, "images")
    reseal(folder, images=with_column(images, "warnings", [None, "[]"]))


def _files_outside(folder: Path) -> None:
    meta = manifest(folder)
    files = meta["files"]
    files["counts"] = {**files["counts"], "name": "../" + files["counts"]["name"]}
    reseal(folder, files=files)


def _meta_is_a_folder(folder: Path) -> None:
    (folder / "meta.json").unlink()
    (folder / "meta.json").mkdir()


def _legacy_layout(folder: Path) -> None:
    """A format-1 store (before checksums) of the same results."""
    images, counts = read(folder, "images"), read(folder, "counts")
    for path in list(folder.iterdir()):
        if path.is_file() and path.name != ".lock":
            path.unlink()
    pq.write_table(images.drop(["content"]), folder / "images.parquet")
    pq.write_table(counts, folder / "counts.parquet")
    (folder / "meta.json").write_text('{"format": 1, "pairs": 2}')


DAMAGE: dict[str, Callable[[Path], None]] = {
    # the cases
    "meta-pairs-not-a-number": _meta_field(pairs="abc"),
    "images-non-json-key-cell": _non_json_key_cell,
    "counts-pred-replaced-by-gt": _swap_pred_for_gt,
    # the manifest, damaged
    "meta-not-json": _plain_meta('{"format": 2, "pairs": '),
    "meta-empty": _plain_meta(""),
    "meta-a-list": _plain_meta("[2, 2]"),
    "meta-format-a-string": _meta_field(format="2"),
    "meta-huge": _plain_meta(" " * 100_000 + "{}"),
    "meta-truncated": _truncate("meta", 0.5),
    "meta-a-folder": _meta_is_a_folder,
    "old-format": _legacy_layout,
    "format-2": lambda f: reseal(f, format=2),  # (before the narrow count columns: recomputed once)
    # data files, damaged
    "counts-truncated": _truncate("counts", 0.5),
    "images-truncated": _truncate("images", 0.9),
    "counts-empty": _truncate("counts", 0.0),
    "counts-missing": lambda f: data_path(f, "counts").unlink(),
    "images-garbage": lambda f: data_path(f, "images").write_bytes(b"not parquet at all"),
    # sealed: every hash matches, the values are wrong
    "sealed-meta-pairs-not-a-number": lambda f: reseal(f, pairs="abc"),
    "sealed-meta-rows-negative": lambda f: reseal(f, rows=-1),
    "sealed-meta-files-outside-the-folder": _files_outside,
    "sealed-pred-replaced-by-gt": _sealed_counts(_pred_is_gt),
    "sealed-zero-count": _sealed_counts(_move_count),
    "sealed-wrong-total": _sealed_counts(lambda c: c["count"].__setitem__(0, c["count"][0] + 5)),
    "sealed-count-overflow": _sealed_counts(_overflow),
    "sealed-negative-gt": _sealed_counts(_set("gt", 0, -1)),
    "sealed-rows-swapped": _sealed_counts(lambda c: c["pred"].__setitem__(slice(0, 2), c["pred"][1::-1])),
    "sealed-start-outside": _sealed_images(_set("start", 1, 10_000)),
    "sealed-rows-overlap": _sealed_images(_set("start", 1, 0)),
    "sealed-height-zero": _sealed_images(_set("h", 0, 0)),
    "sealed-non-json-key": _sealed_images(_set("key", 0, "[not json")),
    "sealed-key-a-number": _sealed_images(_set("key", 0, "5")),
    "sealed-non-json-warnings": _sealed_images(_set("warnings", 0, "{")),
    "sealed-warnings-a-dict": _sealed_images(_set("warnings", 0, '{"a": 1}')),
    "sealed-duplicate-entry": _sealed_images(_duplicate_entry),
    "sealed-bad-colour-key": _sealed_images(_set("colour_key", 0, "../x")),
    "sealed-colour-value-too-large": _colour_value_too_large,
    "sealed-bad-content-hash": _sealed_images(_set("content", 0, "zz")),
    "sealed-float-counts": _float_counts,
    "sealed-signed-16-bit-counts": _int16_counts,
    "sealed-missing-column": _drop_content_column,
    "sealed-extra-column": _extra_column,
    "sealed-null-cell": _null_cell,
}


@pytest.fixture
def stored(tiny_dataset, tmp_path):
    """(dataset, store root, the store's folder, the fresh results) after one run."""
    root = tmp_path / "store"
    expected = evaluate(open_dataset(tiny_dataset), store=ResultsStore(root)).to_dict()
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return tiny_dataset, root, folder, expected


def test_the_sealing_helper_writes_a_store_segviz_accepts(stored):
    """The corpus's "sealed" cases are only meaningful if an undamaged reseal is read back."""
    dataset, root, folder, expected = stored
    reseal(folder, images=read(folder, "images"), counts=read(folder, "counts"))
    store = ResultsStore(root)
    assert evaluate(open_dataset(dataset), store=store).to_dict() == expected
    assert (store.stats.hits, store.stats.warnings) == (2, [])


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_store_gives_the_fresh_numbers_with_one_warning(stored, case):
    """Regression (issue #11): these crashed every later run, or gave mIoU 100 %, before."""
    dataset, root, folder, expected = stored
    DAMAGE[case](folder)
    store = ResultsStore(root)
    result = evaluate(open_dataset(dataset), store=store)
    assert result.to_dict() == expected
    assert (store.stats.hits, store.stats.misses) == (0, 2)
    assert len(store.stats.warnings) == 1 and "stored results not used" in store.stats.warnings[0]
    assert "\n" not in store.stats.warnings[0]
    again = ResultsStore(root)  # repaired by the run
    assert evaluate(open_dataset(dataset), store=again).to_dict() == expected
    assert (again.stats.hits, again.stats.warnings) == (2, [])
    names = {p.name for p in folder.iterdir()}
    assert len(names) == 4 and {"meta.json", ".lock"} < names  # the damaged files are gone


@pytest.mark.parametrize(
    "case", ["meta-pairs-not-a-number", "counts-pred-replaced-by-gt", "sealed-zero-count"]
)
def test_cli_prints_one_warning_line_and_the_fresh_numbers(stored, case, tmp_path, capsys):
    dataset, root, folder, expected = stored
    DAMAGE[case](folder)
    out = tmp_path / "r.json"
    assert main(["evaluate", str(dataset), "--store", str(root), "--json", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "results store" in line] == [
        line for line in err if line.startswith("segviz: warning: results store") and "recomputing" in line
    ]
    assert len([line for line in err if "results store" in line]) == 1
    assert json.loads(out.read_text())["mean_iou"] == expected["mean_iou"] < 1


def test_fifty_random_bit_flips_never_crash_nor_change_a_number(stored):
    """Regression (issue #11): 15 of 50 flips crashed every later run, 3 changed PA silently."""
    dataset, root, folder, expected = stored
    pristine = root.with_name("pristine")
    shutil.copytree(folder, pristine)
    files = sorted(p.name for p in pristine.iterdir() if p.name != ".lock")
    rng = random.Random(11)
    outcomes = {"recomputed": 0, "from the store": 0}
    for _ in range(50):
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)
        target = folder / rng.choice(files)
        data = bytearray(target.read_bytes())
        bit = rng.randrange(len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
        target.write_bytes(bytes(data))
        store = ResultsStore(root)
        result = evaluate(open_dataset(dataset), store=store)
        assert result.to_dict() == expected, (target.name, bit)
        outcomes["recomputed" if store.stats.misses else "from the store"] += 1
        assert len(store.stats.warnings) == (1 if store.stats.misses else 0)
    assert outcomes["recomputed"] == 50  # every flip is caught: the hashes cover every byte


# ---------------------------------------------------------------------- stores that cannot be written
def _change_prediction(dataset: Path) -> None:
    from conftest import save_mask

    pred = dataset / "pred" / "b.png"
    save_mask(pred, np.array([[0, 0, 0], [0, 1, 1]]))
    st = pred.stat()
    os.utime(pred, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _fresh(dataset: Path) -> dict:
    return evaluate(open_dataset(dataset)).to_dict()


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".tmp")]


@pytest.mark.parametrize(
    "error", [PermissionError(13, "Permission denied"), OSError(28, "No space left on device")]
)
def test_a_failed_save_warns_returns_the_results_and_keeps_the_old_store(stored, monkeypatch, error):
    dataset, root, _, _ = stored
    _change_prediction(dataset)

    def fail(*args, **kwargs):
        raise error

    store = ResultsStore(root)
    with monkeypatch.context() as m:
        m.setattr(os, "replace", fail)
        result = evaluate(open_dataset(dataset), store=store)
    assert result.to_dict() == _fresh(dataset)
    assert len(store.stats.warnings) == 1 and "results not saved" in store.stats.warnings[0]
    assert error.strerror in store.stats.warnings[0]
    assert not _temp_files(root)
    store = ResultsStore(root)  # the previous store is intact: one entry reused, one recomputed
    assert evaluate(open_dataset(dataset), store=store).to_dict() == _fresh(dataset)
    assert (store.stats.hits, store.stats.misses, store.stats.warnings) == (1, 1, [])


def test_a_full_disk_while_writing_keeps_the_old_store(stored, monkeypatch):
    dataset, root, _, _ = stored
    _change_prediction(dataset)
    real = os.fdopen

    class Full(io.RawIOBase):
        def write(self, data):
            raise OSError(28, "No space left on device")

    store = ResultsStore(root)
    with monkeypatch.context() as m:
        m.setattr(os, "fdopen", lambda fd, *a, **k: (os.close(fd), Full())[1])
        result = evaluate(open_dataset(dataset), store=store)
    assert os.fdopen is real
    assert result.to_dict() == _fresh(dataset)
    assert ["No space left" in w for w in store.stats.warnings] == [True]
    assert not _temp_files(root)
    store = ResultsStore(root)
    evaluate(open_dataset(dataset), store=store)
    assert (store.stats.hits, store.stats.misses, store.stats.warnings) == (1, 1, [])


def test_a_store_path_that_is_a_file_warns_and_evaluates(tiny_dataset, tmp_path):
    root = tmp_path / "store"
    root.write_text("not a folder")
    store = ResultsStore(root)
    result = evaluate(open_dataset(tiny_dataset), store=store)
    assert result.to_dict() == _fresh(tiny_dataset)
    assert len(store.stats.warnings) == 1 and "results not saved" in store.stats.warnings[0]
    assert root.read_text() == "not a folder"


def _mount(*args: str) -> None:
    import subprocess

    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount here ({proc.stderr.strip()})")


@pytest.fixture
def mounts():
    import subprocess

    points: list[Path] = []
    yield points
    for point in reversed(points):
        subprocess.run(["umount", str(point)], capture_output=True)


def test_a_real_full_disk_and_a_real_read_only_store(stored, tmp_path, mounts):
    """The same through the kernel (needs mount rights; skipped without them)."""
    dataset, root, folder, _ = stored
    tiny = tmp_path / "tiny-disk"
    tiny.mkdir()
    _mount("-t", "tmpfs", "-o", "size=4k", "tmpfs", str(tiny))
    mounts.append(tiny)
    (tiny / "filler").write_bytes(b"x" * 4096)  # whatever is left, the store will not fit
    store = ResultsStore(tiny)
    assert evaluate(open_dataset(dataset), store=store).to_dict() == _fresh(dataset)
    assert len(store.stats.warnings) == 1 and "No space left" in store.stats.warnings[0]

    _change_prediction(dataset)
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    _mount("--bind", str(root), str(readonly))
    mounts.append(readonly)
    _mount("-o", "remount,bind,ro", str(readonly))
    before = {p: p.read_bytes() for p in folder.iterdir()}
    store = ResultsStore(readonly)
    assert evaluate(open_dataset(dataset), store=store).to_dict() == _fresh(dataset)
    assert (store.stats.hits, store.stats.misses) == (1, 1)  # read without its lock file's write access
    assert len(store.stats.warnings) == 1 and "Read-only file system" in store.stats.warnings[0]
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


def test_a_store_locked_too_long_warns_and_evaluates(stored):
    import fcntl

    dataset, root, folder, _ = stored
    _change_prediction(dataset)
    with open(folder / ".lock", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process, stuck while writing
        store = ResultsStore(root, lock_timeout=0.2)
        result = evaluate(open_dataset(dataset), store=store)
    assert result.to_dict() == _fresh(dataset)
    assert [w.split(": ", 1)[1].split(" (")[0] for w in store.stats.warnings] == [
        "stored results not used",
        "results not saved",
    ]
    assert all("held by another process for over 0.2 s" in w for w in store.stats.warnings)
    store = ResultsStore(root)  # once released, the old store is read
    evaluate(open_dataset(dataset), store=store)
    assert (store.stats.hits, store.stats.misses, store.stats.warnings) == (1, 1, [])


def test_what_a_killed_save_leaves_is_ignored_then_removed(stored):
    dataset, root, folder, expected = stored
    (folder / ".tmp-abc123").write_bytes(b"half a parquet file")
    (folder / ("counts-" + "0" * 32 + ".parquet")).write_bytes(b"written, never listed")
    store = ResultsStore(root)
    assert evaluate(open_dataset(dataset), store=store).to_dict() == expected
    assert (store.stats.hits, store.stats.warnings) == (2, [])
    _change_prediction(dataset)
    evaluate(open_dataset(dataset), store=store)  # the next save cleans up
    assert sorted(p.name[:7] for p in folder.iterdir()) == [".lock", "counts-", "images-", "meta.js"]


# ---------------------------------------------------------------------- --verify
def _rewrite_keeping_size_and_time(path: Path, array: np.ndarray) -> None:
    from conftest import save_mask

    st = path.stat()
    save_mask(path, array)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_verify_catches_a_mask_rewritten_with_the_same_size_and_time(tiny_dataset, tmp_path):
    root = tmp_path / "store"
    store = ResultsStore(root, verify=True)
    evaluate(open_dataset(tiny_dataset), store=store)
    assert store.stats.misses == 2
    _rewrite_keeping_size_and_time(tiny_dataset / "pred" / "a.png", np.array([[0, 0, 1], [1, 0, 1]]))
    fresh = _fresh(tiny_dataset)

    plain = ResultsStore(root)  # the documented limit: size and time alone cannot see it
    assert evaluate(open_dataset(tiny_dataset), store=plain).to_dict() != fresh
    assert plain.stats.hits == 2

    store = ResultsStore(root, verify=True)
    assert evaluate(open_dataset(tiny_dataset), store=store).to_dict() == fresh
    assert (store.stats.hits, store.stats.misses, store.stats.changed) == (1, 1, 1)
    assert len(store.stats.warnings) == 1 and "--verify found 1 of 2" in store.stats.warnings[0]
    store = ResultsStore(root, verify=True)
    evaluate(open_dataset(tiny_dataset), store=store)
    assert (store.stats.hits, store.stats.warnings) == (2, [])
    plain = ResultsStore(root)  # a run without --verify keeps the hashes
    evaluate(open_dataset(tiny_dataset), store=plain)
    store = ResultsStore(root, verify=True)
    evaluate(open_dataset(tiny_dataset), store=store)
    assert (store.stats.hits, store.stats.warnings) == (2, [])


def test_verify_recomputes_entries_stored_without_hashes(tiny_dataset, tmp_path):
    root = tmp_path / "store"
    evaluate(open_dataset(tiny_dataset), store=ResultsStore(root))
    store = ResultsStore(root, verify=True)
    assert evaluate(open_dataset(tiny_dataset), store=store).to_dict() == _fresh(tiny_dataset)
    assert (store.stats.misses, store.stats.changed) == (2, 2)


def test_cli_verify(tiny_dataset, tmp_path, capsys):
    root, out = tmp_path / "store", tmp_path / "r.json"
    args = ["evaluate", str(tiny_dataset), "--store", str(root), "--json", str(out), "--quiet"]
    assert main([*args, "--verify"]) == 0
    _rewrite_keeping_size_and_time(tiny_dataset / "pred" / "a.png", np.array([[0, 0, 1], [1, 0, 1]]))
    capsys.readouterr()
    assert main([*args, "--verify"]) == 0
    assert json.loads(out.read_text())["pixel_accuracy"] == _fresh(tiny_dataset)["pixel_accuracy"]
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if "results store" in line]) == 1
    assert any(line.startswith("segviz: warning: results store: --verify found 1 of 2") for line in err)


# ---------------------------------------------------------------------- concurrent writers and readers
SAVER = """
import json, sys, threading
import numpy as np
from segviz import open_dataset
from segviz.evaluate import count_pairs
from segviz.store import ResultsStore, pair_key


def saves(dataset, root, threads, each):
    \"\"\"``threads`` threads, each saving ``each`` times and reading back after every save.\"\"\"
    ds = open_dataset(dataset)
    counted, _ = count_pairs(ds.pairs, ds.table)
    failures = []

    def work():
        for _ in range(each):
            store = ResultsStore(root)
            try:
                store.save(ds.pairs, counted, ds.table)
                failures.extend(store.stats.warnings)
            except Exception as exc:
                failures.append(f"save: {exc!r}")
                continue
            try:
                got = store.load(ds.pairs, ds.table)  # a reader between the writers
            except Exception as exc:
                failures.append(f"load: {exc!r}")
                continue
            failures.extend(store.stats.warnings)
            same = [k in got and np.array_equal(got[k].counts, pc.counts) for k, pc in zip(map(pair_key, ds.pairs), counted)]
            if not all(same):
                failures.append(f"read back {sum(same)} of {len(same)} entries")

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"saves": threads * each, "failures": failures}


if __name__ == "__main__":
    print(json.dumps(saves(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
"""


def test_900_concurrent_saves_from_threads_and_processes_never_fail(tiny_dataset, tmp_path):
    """Regression (issue #11): 158 of 900 concurrent library-level saves failed on a rename race.
    Three processes of 4 threads (720 saves) and 4 threads here (180), each save read back."""
    import subprocess
    import sys

    from conftest import ROOT

    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", SAVER, str(tiny_dataset), str(root), "4", "60"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    here: dict = {}
    exec(SAVER, here)  # (not __main__: defines saves())
    reports = [here["saves"](tiny_dataset, root, 4, 45)]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        reports.append(json.loads(out))
    assert sum(r["saves"] for r in reports) == 900
    assert [f for r in reports for f in r["failures"]] == []
    store = ResultsStore(root)
    assert evaluate(open_dataset(tiny_dataset), store=store).to_dict() == _fresh(tiny_dataset)
    assert (store.stats.hits, store.stats.warnings) == (2, [])
    (folder,) = root.iterdir()
    names = sorted(p.name for p in folder.iterdir())  # no temporary or superseded file left
    assert len(names) == 4 and names[:2] == [".lock", names[1]] and names[1].startswith("counts-")


# ---------------------------------------------------------------------- the dashboard
@pytest.mark.parametrize(
    "case", ["meta-pairs-not-a-number", "counts-pred-replaced-by-gt", "sealed-zero-count"]
)
def test_the_app_opens_a_damaged_store_with_the_fresh_numbers(stored, case, monkeypatch):
    """The app reads the default store ($SEGVIZ_STORE): no exception, the fresh mIoU and PA."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    dataset, root, folder, expected = stored
    DAMAGE[case](folder)
    st.cache_data.clear()
    st.cache_resource.clear()  # (the app's in-process cache of counts)
    monkeypatch.setenv("SEGVIZ_STORE", str(root))
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(dataset.parent))
    monkeypatch.setenv("SEGVIZ_DATASET", dataset.name)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["mIoU"] == f"{100 * expected['mean_iou']:.2f} %"
    assert shown["Pixel accuracy"] == f"{100 * expected['pixel_accuracy']:.2f} %"
    store = ResultsStore(root)  # and the app wrote the repaired store
    evaluate(open_dataset(dataset), store=store)
    assert (store.stats.hits, store.stats.warnings) == (2, [])


# ---------------------------------------------------------------------- a file changed while counted
def test_a_prediction_changed_while_it_is_counted_is_recomputed_next_time(
    tiny_dataset, tmp_path, monkeypatch
):
    """Regression: the store keyed an entry by the file's size and time read *after* counting, so a
    prediction rewritten during the run was stored with its new time and its old counts, and
    served as current from then on. The key is now taken before the file is read."""
    import importlib

    ev = importlib.import_module("segviz.evaluate")  # (the package's `evaluate` is the function)
    root = tmp_path / "store"
    count_pair = ev.count_pair

    def count_then_rewrite(pair, table=None):
        counted = count_pair(pair, table)
        if pair.name == "b":
            _change_prediction(tiny_dataset)
        return counted

    monkeypatch.setattr(ev, "count_pair", count_then_rewrite)
    evaluate(open_dataset(tiny_dataset), store=ResultsStore(root))
    monkeypatch.undo()
    store = ResultsStore(root)
    assert evaluate(open_dataset(tiny_dataset), store=store).to_dict() == _fresh(tiny_dataset)
    assert (store.stats.hits, store.stats.misses) == (1, 1)
