"""The class table: the one ordered list of classes that everything else asks.

A :class:`ClassTable` owns the evaluated class ids (in table order), their names and colours, the ids
that are ignored (e.g. 255 "void"), the decoding of colour-coded masks, and optional *source ids*
(Cityscapes' 34 ``labelIds`` that map onto its 19 train ids).

Masks are first read as *raw values* (whatever integers the file holds). The table turns raw values
into *class indices* with lookup tables:

* ground truth: ``0..K-1`` for a class, :data:`GT_IGNORE` (``K``) for an ignored id and
  :data:`GT_UNKNOWN` (``K+1``) for a value that is not in the table at all;
* prediction: ``0..K-1`` for a class and :data:`PRED_INVALID` (``K``) for anything else, including the
  ignore value: a prediction of "void" is wrong, never skipped.
"""

from __future__ import annotations

import colorsys
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from segviz import presets
from segviz.errors import ClassTableError, OptionError

#: Offsets, relative to the number of classes K, of the extra lookup-table outputs.
GT_IGNORE = 0  # K + 0
GT_UNKNOWN = 1  # K + 1
PRED_INVALID = 0  # K + 0

Encoding = Literal["ids", "label_ids"]
MAX_ID = 65534  # 65535 marks an unknown RGB colour (segviz.masks.UNKNOWN_COLOUR)
#: Labels segviz adds beside the classes (the invalid-prediction column, the "other" bucket of the
#: top-N views, ignored pixels): a class may not take one of these names (compared case-insensitively).
RESERVED_NAMES = ("(invalid)", "(other)", "(ignored)")


@dataclass(frozen=True, eq=False)
class ClassTable:
    """Evaluated classes in order, plus ignored ids, colours and optional source-id mapping.

    Attributes:
        ids: int64 array (K,) of class ids in table order.
        names: K class names.
        colors: uint8 array (K, 3) of RGB colours.
        ignore_ids: ids whose ground-truth pixels are left out of every count.
        ignore_colors: RGB colour of each ignore id (used to decode RGB masks and to draw overlays).
        ignore_names: name of each ignore id.
        source_ids: optional mapping of source ids (e.g. Cityscapes labelIds) to class or ignore ids.
        origin: where the table came from ("preset voc", a CSV path, "generated").
        warnings: non-fatal problems found while building it (e.g. two classes sharing a colour).

    Example:
        >>> t = ClassTable.from_rows([(0, "road", (128, 64, 128), False), (255, "void", (0, 0, 0), True)])
        >>> t.num_classes, t.names, t.ignore_ids
        (1, ('road',), (255,))
    """

    ids: np.ndarray
    names: tuple[str, ...]
    colors: np.ndarray
    ignore_ids: tuple[int, ...] = ()
    ignore_colors: tuple[tuple[int, int, int], ...] = ()
    ignore_names: tuple[str, ...] = ()
    source_ids: Mapping[int, int] | None = None
    origin: str = ""
    warnings: tuple[str, ...] = field(default=())

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_rows(
        cls,
        rows: Iterable[presets.Row],
        *,
        source_ids: Mapping[int, int] | None = None,
        origin: str = "",
    ) -> ClassTable:
        """Build a table from ``(id, name, (r, g, b), ignore)`` rows; ids must be unique."""
        rows = list(rows)
        seen: dict[int, str] = {}
        for cid, name, _, _ in rows:
            if cid in seen:
                raise ClassTableError(
                    f"{origin or 'class table'}: id {cid} appears twice ({seen[cid]!r} and {name!r})"
                )
            seen[cid] = name
        kept = [r for r in rows if not r[3]]
        _check_names([(r[1], None) for r in kept], origin)
        ignored = [r for r in rows if r[3]]
        warnings = _duplicate_colour_warnings(rows, origin)
        return cls(
            ids=np.array([r[0] for r in kept], dtype=np.int64),
            names=tuple(r[1] for r in kept),
            colors=np.array([r[2] for r in kept], dtype=np.uint8).reshape(-1, 3),
            ignore_ids=tuple(r[0] for r in ignored),
            ignore_colors=tuple(tuple(r[2]) for r in ignored),
            ignore_names=tuple(r[1] for r in ignored),
            source_ids=dict(source_ids) if source_ids is not None else None,
            origin=origin,
            warnings=tuple(warnings),
        )

    @classmethod
    def from_preset(cls, name: str) -> ClassTable:
        """A built-in table: ``voc``, ``cityscapes``, ``ade20k`` or ``camvid``."""
        key = name.lower()
        if key not in presets.PRESETS:
            raise ClassTableError(
                f"unknown class-table preset {name!r}; expected one of {', '.join(sorted(presets.PRESETS))}"
            )
        source = presets.CITYSCAPES_LABEL_IDS if key == "cityscapes" else None
        return cls.from_rows(presets.PRESETS[key], source_ids=source, origin=f"preset {key}")

    @classmethod
    def from_csv(
        cls, path: str | Path, *, allowed_root: str | Path | Sequence[str | Path] | None = None
    ) -> ClassTable:
        """Read ``id,name,r,g,b[,ignore]`` or Cityscapes' ``labelId,name,trainId,r,g,b,ignoreInEval``.

        With ``allowed_root``, a file whose real path leaves that folder (a symbolic link out of the
        data root) is refused with :class:`ClassTableError` before it is opened."""
        path = Path(path)
        if allowed_root is not None:
            from segviz.errors import OutsideRootError
            from segviz.safety import check_inside_root

            try:
                check_inside_root(path, allowed_root, what="class table")
            except OutsideRootError as exc:
                raise ClassTableError(str(exc)) from None
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ClassTableError(f"{path}: cannot read class table ({exc})") from exc
        return cls.from_csv_text(text, origin=str(path))

    @classmethod
    def from_csv_text(cls, text: str, *, origin: str = "classes.csv") -> ClassTable:
        """Parse the text of a class-table CSV (see :meth:`from_csv`); raises
        :class:`ClassTableError` naming ``origin`` and the line on any problem."""
        reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
        try:
            return cls._from_csv_reader(reader, origin)
        except csv.Error as exc:
            raise ClassTableError(
                f"{origin}, line {reader.line_num}: not a readable CSV table ({exc})"
            ) from None

    @classmethod
    def _from_csv_reader(cls, reader: csv.DictReader, origin: str) -> ClassTable:
        header = [h.strip() for h in (reader.fieldnames or [])]
        doubled = sorted({h for h in header if header.count(h) > 1})
        if doubled:
            raise ClassTableError(
                f"{origin}, line 1: column(s) {', '.join(map(repr, doubled))} appear more than once in the header"
            )
        reader.fieldnames = header
        if {"labelId", "trainId"} <= set(header):
            return _from_cityscapes_rows(reader, origin)
        missing = [c for c in ("id", "name", "r", "g", "b") if c not in header]
        if missing:
            raise ClassTableError(
                f"{origin}: missing column(s) {', '.join(missing)}; expected header "
                f"'id,name,r,g,b[,ignore]' (found {','.join(header) or 'nothing'})"
            )
        rows = []
        lines = []
        for line, rec in enumerate(reader, start=2):
            if not any((v or "").strip() for v in rec.values() if isinstance(v, str)):
                continue
            _check_no_extra_fields(rec, len(header), line, origin)
            lines.append(line)
            rows.append(
                (
                    _parse_int(rec, "id", line, origin, 0, MAX_ID),
                    _parse_name(rec, line, origin),
                    tuple(_parse_int(rec, c, line, origin, 0, 255) for c in "rgb"),
                    _parse_flag(rec.get("ignore"), line, origin),
                )
            )
        if not rows:
            raise ClassTableError(f"{origin}: no classes (the file has a header but no rows)")
        named = list(zip(rows, lines, strict=True))
        _check_names([(r[1], line) for r, line in named if not r[3]], origin)
        _check_names([(r[1], line) for r, line in named if r[3]], origin, unique=False)
        if all(r[3] for r in rows):
            raise ClassTableError(
                f"{origin}: no classes to evaluate (every row is marked ignore); expected at least one "
                "row with ignore 0"
            )
        return cls.from_rows(rows, origin=origin)

    @classmethod
    def load(
        cls, spec: str | Path, *, allowed_root: str | Path | Sequence[str | Path] | None = None
    ) -> ClassTable:
        """A preset name or a CSV path (refused outside ``allowed_root``, see :meth:`from_csv`)."""
        if isinstance(spec, str) and spec.lower() in presets.PRESETS:
            return cls.from_preset(spec)
        path = Path(spec)
        if not path.is_file():
            raise ClassTableError(
                f"{spec}: no such class-table file, and not a preset ({', '.join(sorted(presets.PRESETS))})"
            )
        return cls.from_csv(path, allowed_root=allowed_root)

    @classmethod
    def generated(cls, ids: Iterable[int], *, ignore_ids: Iterable[int] = ()) -> ClassTable:
        """A table for masks that came without one: names ``class_<id>`` and distinct colours.

        Example:
            >>> ClassTable.generated([0, 3], ignore_ids=[255]).names
            ('class_0', 'class_3')
        """
        ignore = sorted(set(int(i) for i in ignore_ids))
        kept = sorted(set(int(i) for i in ids) - set(ignore))
        colours = distinct_colors(len(kept))
        rows = [(cid, f"class_{cid}", colours[i], False) for i, cid in enumerate(kept)]
        rows += [(cid, "ignore" if cid != 255 else "void", (0, 0, 0), True) for cid in ignore]
        return cls.from_rows(rows, origin=GENERATED_ORIGIN)

    def with_ignore(self, ignore_ids: Iterable[int]) -> ClassTable:
        """The same table with exactly ``ignore_ids`` ignored (classes listed there are dropped)."""
        ignore = set(int(i) for i in ignore_ids)
        rows = self.rows()
        known = {r[0] for r in rows}
        rows = [(cid, n, c, cid in ignore) for cid, n, c, _ in rows]
        rows += [(cid, "ignore", (0, 0, 0), True) for cid in sorted(ignore - known)]
        return ClassTable.from_rows(rows, source_ids=self.source_ids, origin=self.origin)

    def with_colors(self, colors: Sequence[Sequence[int]]) -> ClassTable:
        """The same table with the classes drawn in ``colors`` (K RGB triples), e.g. for a
        colour-blind-safe presentation; decoding of colour-coded masks keeps the original colours,
        so only use this for display."""
        arr = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
        if len(arr) != self.num_classes:
            raise ClassTableError(f"with_colors: expected {self.num_classes} colours (got {len(arr)})")
        return replace(self, colors=arr)

    # ----------------------------------------------------------------- queries
    @property
    def num_classes(self) -> int:
        return len(self.names)

    def rows(self) -> list[presets.Row]:
        """All rows, classes then ignore ids, as ``(id, name, (r, g, b), ignore)``."""
        out = [
            (int(i), n, tuple(int(v) for v in c), False)
            for i, n, c in zip(self.ids, self.names, self.colors, strict=True)
        ]
        for cid, name, col in zip(self.ignore_ids, self.ignore_names, self.ignore_colors, strict=True):
            out.append((cid, name, col, True))
        return sorted(out, key=lambda r: r[0])

    def index_of(self, class_id: int) -> int:
        """Position of ``class_id`` in table order; raises ``KeyError`` if it is not a class."""
        hits = np.flatnonzero(self.ids == class_id)
        if hits.size == 0:
            raise KeyError(class_id)
        return int(hits[0])

    def describe_ids(self) -> str:
        """A short human description of the valid values, for error messages."""
        ids = self.ids.tolist()
        # (contiguous when the ids step by one; never a list of the range: ids may reach 10**9)
        if ids and bool((np.diff(self.ids) == 1).all()):
            text = f"ids {ids[0]}..{ids[-1]}"
        else:
            text = "ids " + ", ".join(map(str, ids[:12])) + (", ..." if len(ids) > 12 else "")
        if self.ignore_ids:
            text += "; ignore " + ", ".join(map(str, self.ignore_ids))
        return text

    # ----------------------------------------------------------------- lookups
    def _known_values(self, encoding: Encoding) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The raw values the table knows, sorted (int64), with their class index (-1: none) and
        whether they are ignored. Sized by the table, never by a raw value."""
        if encoding == "label_ids":
            if self.source_ids is None:
                raise ClassTableError(
                    f"{self.origin}: masks use source label ids but the class table has no "
                    "labelId→id mapping (use the 'cityscapes' preset or a Cityscapes-style CSV)"
                )
            raw = np.array(sorted(self.source_ids), dtype=np.int64)
            targets = np.array([self.source_ids[int(r)] for r in raw], dtype=np.int64)
            index = self._class_index_of(targets)
            return raw, index, index < 0  # a source id mapped onto no class is ignored
        raw = np.concatenate([self.ids, np.array(self.ignore_ids, dtype=np.int64)]).astype(np.int64)
        index = np.concatenate([np.arange(self.num_classes), np.full(len(self.ignore_ids), -1)])
        order = np.argsort(raw, kind="stable")
        return raw[order], index[order].astype(np.int64), (index[order] < 0)

    def _class_index_of(self, values: np.ndarray) -> np.ndarray:
        """Table position of each class id in ``values`` (-1 where it is not a class)."""
        order = np.argsort(self.ids, kind="stable")
        return _sparse_lookup(self.ids[order], order.astype(np.int64), values, -1)

    def gt_indices(self, values: np.ndarray, *, encoding: Encoding = "ids") -> np.ndarray:
        """Class index of each raw value (any shape, non-negative integers of any size): ``0..K-1``
        a class, ``K`` an ignore id, ``K+1`` a value not in the table. int64, same shape.

        Memory grows with ``values`` and the table, never with the size of a value.

        Example:
            >>> t = ClassTable.from_rows([(0, "a", (1, 1, 1), False), (255, "void", (0, 0, 0), True)])
            >>> t.gt_indices(np.array([0, 255, 7, 10**12])).tolist()
            [0, 1, 2, 2]
        """
        raw, index, ignore = self._known_values(encoding)
        k = self.num_classes
        code = np.where(index >= 0, index, np.where(ignore, k + GT_IGNORE, k + GT_UNKNOWN))
        return _sparse_lookup(raw, code, values, k + GT_UNKNOWN)

    def pred_indices(self, values: np.ndarray, *, encoding: Encoding = "ids") -> np.ndarray:
        """Class index of each raw predicted value: ``0..K-1`` a class, ``K`` anything else (an
        invalid prediction, ignore ids included). int64, same shape as ``values``.

        Example:
            >>> t = ClassTable.from_rows([(0, "a", (1, 1, 1), False), (255, "void", (0, 0, 0), True)])
            >>> t.pred_indices(np.array([0, 255, 3 * 10**8])).tolist()
            [0, 1, 1]
        """
        raw, index, _ = self._known_values(encoding)
        k = self.num_classes
        return _sparse_lookup(raw, np.where(index >= 0, index, k + PRED_INVALID), values, k + PRED_INVALID)

    def gt_lut(self, size: int, *, encoding: Encoding = "ids") -> np.ndarray:
        """Lookup table raw value → class index for the values ``0..size-1``: ``K`` = ignore,
        ``K+1`` = not in the table (see :meth:`gt_indices` for values of any size)."""
        return self.gt_indices(np.arange(size, dtype=np.int64), encoding=encoding)

    def pred_lut(self, size: int, *, encoding: Encoding = "ids") -> np.ndarray:
        """Lookup table raw value → class index for the values ``0..size-1``: ``K`` = not a class
        (invalid prediction); see :meth:`pred_indices`."""
        return self.pred_indices(np.arange(size, dtype=np.int64), encoding=encoding)

    def palette(self, size: int = 256) -> np.ndarray:
        """uint8 (size, 3) colour per raw id; ignore ids get their colour, unknown ids black."""
        pal = np.zeros((size, 3), dtype=np.uint8)
        inside = self.ids < size
        pal[self.ids[inside]] = self.colors[inside]
        for cid, col in zip(self.ignore_ids, self.ignore_colors, strict=True):
            if cid < size:
                pal[cid] = col
        return pal

    # ----------------------------------------------------------------- colour decoding
    def colour_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted packed colours ``r<<16|g<<8|b`` and the id each decodes to.

        A colour shared by two rows is left out: it cannot be decoded unambiguously.
        """
        rows = self.rows()
        packed = np.array([(r << 16) | (g << 8) | b for _, _, (r, g, b), _ in rows], dtype=np.int64)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        uniq, counts = np.unique(packed, return_counts=True)
        keep = np.isin(packed, uniq[counts == 1])
        order = np.argsort(packed[keep])
        return packed[keep][order], ids[keep][order]


# --------------------------------------------------------------------- helpers
def _sparse_lookup(keys: np.ndarray, codes: np.ndarray, values: np.ndarray, missing: int) -> np.ndarray:
    """``codes[i]`` where ``values == keys[i]`` (``keys`` sorted int64), else ``missing``; int64,
    shaped like ``values``. A binary search per value: no table indexed by value."""
    values = np.asarray(values)
    flat = values.reshape(-1)
    if flat.dtype.kind == "u" and flat.dtype.itemsize == 8:  # int64 keys: compare exactly, no float
        big = flat > np.iinfo(np.int64).max
        flat = np.where(big, 0, flat).astype(np.int64)
    else:
        big = None
        flat = flat.astype(np.int64, copy=False)
    out = np.full(flat.shape, missing, dtype=np.int64)
    if len(keys):
        pos = np.minimum(np.searchsorted(keys, flat), len(keys) - 1)
        hit = keys[pos] == flat
        if big is not None:
            hit &= ~big
        out[hit] = codes[pos[hit]]
    return out.reshape(values.shape)


def distinct_colors(n: int) -> list[tuple[int, int, int]]:
    """``n`` well-separated RGB colours (golden-ratio hue steps, alternating lightness)."""
    out = []
    for i in range(n):
        h = (i * 0.618033988749895) % 1.0
        light = (0.45, 0.62, 0.35)[i % 3]
        sat = (0.85, 0.65)[(i // 3) % 2]
        r, g, b = colorsys.hls_to_rgb(h, light, sat)
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def _duplicate_colour_warnings(rows: Sequence[presets.Row], origin: str) -> list[str]:
    by_colour: dict[tuple[int, ...], list[int]] = {}
    for cid, _, col, ign in rows:
        if not ign:
            by_colour.setdefault(tuple(col), []).append(cid)
    return [
        f"{origin or 'class table'}: colour {col} is shared by ids "
        f"{', '.join(map(str, ids))}; RGB masks cannot tell them apart, so that colour is reported "
        "as unknown when decoding colour-coded masks"
        for col, ids in by_colour.items()
        if len(ids) > 1
    ]


def _parse_int(rec: Mapping[str, str | None], col: str, line: int, origin: str, lo: int, hi: int) -> int:
    raw = (rec.get(col) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        raise ClassTableError(
            f"{origin}, line {line}: column '{col}' must be an integer in {lo}..{hi} (got {raw!r})"
        ) from None
    if not lo <= value <= hi:
        raise ClassTableError(f"{origin}, line {line}: column '{col}' must be in {lo}..{hi} (got {value})")
    return value


def _parse_name(rec: Mapping[str, str | None], line: int, origin: str) -> str:
    name = (rec.get("name") or "").strip()
    if not name:
        raise ClassTableError(f"{origin}, line {line}: empty class name")
    return name


def _parse_flag(raw: str | None, line: int, origin: str) -> bool:
    value = (raw or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ClassTableError(f"{origin}, line {line}: column 'ignore' must be 0 or 1 (got {raw!r})")


def _from_cityscapes_rows(reader: csv.DictReader, origin: str) -> ClassTable:
    """Cityscapes' labels table: train ids become the classes, labelIds the source ids."""
    classes: dict[int, presets.Row] = {}
    source: dict[int, int] = {}
    label_lines: dict[int, int] = {}
    name_lines: list[tuple[str, int]] = []
    for line, rec in enumerate(reader, start=2):
        if not any((v or "").strip() for v in rec.values() if isinstance(v, str)):
            continue
        _check_no_extra_fields(rec, len(reader.fieldnames or ()), line, origin)
        label_id = _parse_int(rec, "labelId", line, origin, 0, MAX_ID)
        if label_id in label_lines:
            raise ClassTableError(
                f"{origin}, line {line}: labelId {label_id} appears twice (lines {label_lines[label_id]} and {line})"
            )
        label_lines[label_id] = line
        train_id = _parse_int(rec, "trainId", line, origin, 0, MAX_ID)
        ignored = _parse_flag(rec.get("ignoreInEval"), line, origin) or train_id == 255
        colour = tuple(_parse_int(rec, c, line, origin, 0, 255) for c in "rgb")
        target = 255 if ignored else train_id
        source[label_id] = target
        if not ignored and train_id not in classes:
            classes[train_id] = (train_id, _parse_name(rec, line, origin), colour, False)
            name_lines.append((classes[train_id][1], line))
    if not classes:
        raise ClassTableError(
            f"{origin}: no classes to evaluate (no row with a trainId other than 255 and ignoreInEval 0)"
        )
    _check_names(name_lines, origin)
    rows = [classes[k] for k in sorted(classes)] + [(255, "void", (0, 0, 0), True)]
    return ClassTable.from_rows(rows, source_ids=source, origin=origin)


def _check_no_extra_fields(rec: Mapping, columns: int, line: int, origin: str) -> None:
    """csv.DictReader puts the fields beyond the header under the key None."""
    extra = rec.get(None)
    if extra:
        raise ClassTableError(
            f"{origin}, line {line}: {columns + len(extra)} fields but the header has {columns} columns "
            f"(extra: {', '.join(map(repr, extra))}); quote a name that holds a comma"
        )


def _check_names(names: Sequence[tuple[str, int | None]], origin: str, *, unique: bool = True) -> None:
    """Class names must be unique (compared in Unicode NFC form; ``unique=False`` for ignore rows,
    which may share a name like "void") and not one of :data:`RESERVED_NAMES`; ``names`` holds
    (name, line or None)."""
    reserved = {r.casefold() for r in RESERVED_NAMES}
    seen: dict[str, int | None] = {}
    for name, line in names:
        at = f"{origin or 'class table'}" + (f", line {line}" if line is not None else "")
        if name.casefold() in reserved:
            raise ClassTableError(
                f"{at}: class name {name!r} is reserved for segviz's own labels "
                f"({', '.join(RESERVED_NAMES)}); rename the class"
            )
        key = unicodedata.normalize("NFC", name)
        if unique and key in seen:
            first = f"line {seen[key]}" if seen[key] is not None else "another class"
            raise ClassTableError(
                f"{at}: class name {name!r} is used twice (also on {first}); class names must be unique"
            )
        seen[key] = line


def parse_ignore_ids(text: str, *, option: str = "--ignore") -> tuple[int, ...]:
    """The ignore ids a user typed: comma-separated integers in ``0..MAX_ID``, in the order given
    (repeats dropped); blank text means "ignore nothing". Shared by the CLI and the app.

    Raises:
        OptionError: naming ``option`` and the value that is not an id.

    Example:
        >>> parse_ignore_ids("255, 0,255")
        (255, 0)
        >>> parse_ignore_ids("-1")
        Traceback (most recent call last):
        ...
        segviz.errors.OptionError: --ignore: '-1' is not an id; expected comma-separated integers in 0..65534
    """
    ids: list[int] = []
    for token in text.split(","):
        token = token.strip()
        if not token:
            continue
        if not re.fullmatch(r"[0-9]{1,6}", token) or int(token) > MAX_ID:
            raise OptionError(
                f"{option}: {_short(token)!r} is not an id; expected comma-separated integers in 0..{MAX_ID}"
            )
        ids.append(int(token))
    return tuple(dict.fromkeys(ids))


def _short(token: str) -> str:
    return token if len(token) <= 40 else token[:40] + "…"


#: Okabe & Ito's colour-blind-safe palette (without black), the base of :func:`cvd_safe_colors`.
OKABE_ITO = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
)


def cvd_safe_colors(n: int) -> list[tuple[int, int, int]]:
    """``n`` colours that stay distinguishable under the common colour-vision deficiencies.

    The 7 Okabe–Ito hues, then the same hues darker and lighter (21 colours); beyond that the cycle
    repeats with less saturation, so past ~21 classes colour alone cannot separate every class
    (show the names, or the top-N classes, too).

    Example:
        >>> cvd_safe_colors(2)
        [(230, 159, 0), (86, 180, 233)]
    """
    out = []
    for i in range(n):
        r, g, b = OKABE_ITO[i % 7]
        h, light, s = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        light = light * (1.0, 0.62, 1.28)[(i // 7) % 3]
        s = s * (1.0, 0.55)[(i // 21) % 2]
        rr, gg, bb = colorsys.hls_to_rgb(h, min(light, 0.92), s)
        out.append((round(rr * 255), round(gg * 255), round(bb * 255)))
    return out


# ---------------------------------------------------------------------- how the table was chosen
#: The origin of a table generated from the ids found in the masks (:meth:`ClassTable.generated`).
GENERATED_ORIGIN = "generated from the ids found in the masks"

TableKind = Literal["file", "preset", "generated"]


@dataclass(frozen=True)
class TableChoice:
    """Where a class table came from, said the same way by the command line and the dashboard.

    Attributes:
        kind: "file" (a CSV: the dataset's ``classes.csv`` or ``--classes FILE``), "preset"
            (``--classes voc``, ...) or "generated" (no table: one class per id found in the masks).
        origin: the file or URL, the preset's name, or :data:`GENERATED_ORIGIN`.
        text: one sentence for the user, e.g. "no class table; generated 12 classes from the ids
            found in the masks (ignore ids: none)".
    """

    kind: TableKind
    origin: str
    text: str


def describe_table_choice(table: ClassTable) -> TableChoice:
    """How ``table`` was chosen, as :class:`TableChoice` (from its ``origin``).

    Example:
        >>> describe_table_choice(ClassTable.from_preset("voc")).text
        'class table: preset voc (21 classes; ignore ids: 255)'
        >>> c = describe_table_choice(ClassTable.generated([0, 3, 11], ignore_ids=[11]))
        >>> c.kind, c.text
        ('generated', 'no class table; generated 2 classes from the ids found in the masks (ignore ids: 11)')
    """
    ignore = ", ".join(map(str, table.ignore_ids)) or "none"
    if table.origin == GENERATED_ORIGIN:
        text = f"no class table; generated {table.num_classes} classes from the ids found in the masks (ignore ids: {ignore})"
        return TableChoice("generated", table.origin, text)
    if table.origin.startswith("preset "):
        name = table.origin.removeprefix("preset ")
        return TableChoice(
            "preset", name, f"class table: preset {name} ({table.num_classes} classes; ignore ids: {ignore})"
        )
    origin = table.origin or "classes.csv"
    return TableChoice(
        "file", origin, f"class table: {origin} ({table.num_classes} classes; ignore ids: {ignore})"
    )
