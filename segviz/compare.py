"""Comparing two models on one dataset: deltas, paired-bootstrap intervals, gains and losses.

Every number comes from the two evaluations' confusion matrices restricted to the images both models
have (matched by name). "Significant" means the paired-bootstrap interval of the difference
(:func:`segviz.stats.paired_bootstrap`) excludes 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segviz import metrics
from segviz.evaluate import Evaluation
from segviz.stats import PairedResult, match_images, paired_bootstrap

#: What a list of changes says when it is empty.
NO_GAINS = "no image improved"
NO_LOSSES = "no image got worse"

#: Codes of a disagreement map.
BOTH_RIGHT, ONLY_A_RIGHT, ONLY_B_RIGHT, BOTH_WRONG, IGNORED = range(5)
DISAGREEMENT_COLOURS = np.array(
    [(46, 160, 67), (0, 114, 178), (230, 159, 0), (214, 39, 40), (127, 127, 127)], dtype=np.uint8
)
DISAGREEMENT_LABELS = ("both right", "only A right", "only B right", "both wrong", "ignored")


@dataclass(frozen=True)
class Comparison:
    """Model B against model A on the images both evaluated.

    Attributes:
        a, b: the two evaluations restricted to the shared images, in the same image order.
        name_a, name_b: model names.
        paired: paired-bootstrap intervals of b − a.
    """

    a: Evaluation
    b: Evaluation
    name_a: str
    name_b: str
    paired: PairedResult
    #: the per-image list, computed once (:meth:`image_frame` returns copies of it)
    _images: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def summary_frame(self) -> pd.DataFrame:
        """One row per summary metric: a, b, delta (b − a), low, high, significant."""
        sa, sb = self.a.summary(), self.b.summary()
        rows = []
        for key in metrics.SUMMARY_METRICS:
            iv = self.paired.summary[key]
            rows.append(
                {
                    "metric": key,
                    "a": sa[key],
                    "b": sb[key],
                    "delta": sb[key] - sa[key],
                    "low": iv.low,
                    "high": iv.high,
                    "significant": self.paired.summary_significant[key],
                }
            )
        return pd.DataFrame(rows)

    def class_frame(self) -> pd.DataFrame:
        """One row per class: id, name, iou_a, iou_b, delta, low, high, significant."""
        ca, cb = self.a.class_frame(), self.b.class_frame()
        p = self.paired.classes
        return pd.DataFrame(
            {
                "id": ca["id"],
                "name": ca["name"],
                "iou_a": ca["iou"],
                "iou_b": cb["iou"],
                "delta": cb["iou"] - ca["iou"],
                "low": p["low"],
                "high": p["high"],
                "significant": p["significant"],
                "gt_pixels": ca["gt_pixels"],
            }
        )

    def image_frame(self) -> pd.DataFrame:
        """One row per shared image: mIoU and PA of both models and the mIoU delta, biggest gain first.
        Computed once per comparison (the gains and losses, the JSON and the text all read it); each
        call returns a copy."""
        if "frame" not in self._images:
            self._images["frame"] = self._image_frame()
        return self._images["frame"].copy()

    def _image_frame(self) -> pd.DataFrame:
        fa, fb = self.a.image_frame(per_class=False), self.b.image_frame(per_class=False)
        frame = pd.DataFrame(
            {
                "image": np.arange(self.a.num_images),
                "name": fa["name"],
                "miou_a": fa["mean_iou"],
                "miou_b": fb["mean_iou"],
                "delta": fb["mean_iou"] - fa["mean_iou"],
                "pa_a": fa["pixel_accuracy"],
                "pa_b": fb["pixel_accuracy"],
            }
        )
        return frame.sort_values("delta", ascending=False, na_position="last", kind="stable")

    def gains_and_losses(self, *, top: int = 10) -> GainsAndLosses:
        """The images that improved and those that got worse; see :func:`gains_and_losses`."""
        return gains_and_losses(self.image_frame(), top=top)

    def confusion_difference(self) -> np.ndarray:
        """b − a of the (K, K+1) dataset confusion matrices on the shared images."""
        return self.b.confusion - self.a.confusion

    def to_dict(self) -> dict:
        """The JSON contract of ``segviz compare --json`` (undefined values as None)."""
        return self._to_dict(_records(self.image_frame().drop(columns="image")))

    def to_json(self) -> str:
        """``json.dumps(self.to_dict(), indent=1, allow_nan=False)``: the same text, character for
        character, without building a dict per image (the per-image list, one record per shared
        image, is formatted column by column: at 100,000 images 0.3 s instead of about 1 s).

        Example:
            >>> import json
            >>> from segviz.stats import _example_evaluation
            >>> c = compare(_example_evaluation(), _example_evaluation(), resamples=20)
            >>> c.to_json() == json.dumps(c.to_dict(), indent=1, allow_nan=False)
            True
        """
        images = _records_json(self.image_frame().drop(columns="image"), depth=1)
        if images is None:  # (a value json would refuse or a column of another kind: the slow way)
            return json.dumps(self.to_dict(), indent=1, allow_nan=False)
        data = self._to_dict([])
        return _dict_json(data, {"images": images})

    def _to_dict(self, images: list) -> dict:
        return {
            "model_a": self.name_a,
            "model_b": self.name_b,
            "num_images": self.a.num_images,
            "only_in_a": list(self.paired.only_in_a),
            "only_in_b": list(self.paired.only_in_b),
            "bootstrap": {
                "resamples": self.paired.resamples,
                "confidence": self.paired.confidence,
                "seed": self.paired.seed,
            },
            "summary": _records(self.summary_frame()),
            "classes": _records(self.class_frame()),
            "images": images,
            **self.gains_and_losses(top=10).to_dict(),
        }


@dataclass(frozen=True)
class GainsAndLosses:
    """The images whose mIoU rose (gains) and fell (losses) from model A to model B.

    Attributes:
        gains: rows of :meth:`Comparison.image_frame` with delta > 0, largest gain first (at most
            ``top``); columns image, name, miou_a, miou_b, delta, pa_a, pa_b.
        losses: rows with delta < 0, largest loss (most negative delta) first (at most ``top``).
        improved, worse, unchanged, undefined: how many images rose, fell, kept their mIoU, or have
            no delta (mIoU undefined for either model); together every shared image.
    """

    gains: pd.DataFrame
    losses: pd.DataFrame
    improved: int
    worse: int
    unchanged: int
    undefined: int

    @property
    def gains_empty_text(self) -> str:
        """What to show instead of an empty gains list: "no image improved" (or "" when not empty)."""
        return "" if len(self.gains) else NO_GAINS

    @property
    def losses_empty_text(self) -> str:
        """What to show instead of an empty losses list: "no image got worse" (or "" when not empty)."""
        return "" if len(self.losses) else NO_LOSSES

    def to_dict(self) -> dict:
        """JSON form: ``largest_gains`` / ``largest_losses`` ({name, miou_a, miou_b, delta}) and counts."""
        columns = ["name", "miou_a", "miou_b", "delta"]
        return {
            "largest_gains": _records(self.gains[columns]),
            "largest_losses": _records(self.losses[columns]),
            "images_improved": self.improved,
            "images_worse": self.worse,
            "images_unchanged": self.unchanged,
            "images_undefined": self.undefined,
        }


def gains_and_losses(images: pd.DataFrame, *, top: int = 10) -> GainsAndLosses:
    """Split per-image changes into gains (delta > 0) and losses (delta < 0), never overlapping.

    ``images`` has a float ``delta`` column (b − a, NaN = undefined), e.g.
    :meth:`Comparison.image_frame`. Gains are sorted by delta, largest first; losses by delta, most
    negative first; each list holds at most ``top`` rows and only changes of its own sign, so it can be
    empty (show :attr:`GainsAndLosses.gains_empty_text` / ``losses_empty_text`` then). Images with
    delta 0 or NaN are in neither list.

    Example:
        >>> f = pd.DataFrame({"name": list("abcde"), "delta": [0.1, -0.3, 0.0, float("nan"), 0.2]})
        >>> gl = gains_and_losses(f, top=5)
        >>> gl.gains["name"].tolist(), gl.losses["name"].tolist(), gl.unchanged, gl.undefined
        (['e', 'a'], ['b'], 1, 1)
        >>> gains_and_losses(f[f["delta"] > 0]).losses_empty_text
        'no image got worse'
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ValueError(f"top must be a non-negative integer (got {top!r})")
    delta = images["delta"].astype(float)
    up, down = images[delta > 0], images[delta < 0]
    return GainsAndLosses(
        gains=up.sort_values("delta", ascending=False, kind="stable").head(top),
        losses=down.sort_values("delta", ascending=True, kind="stable").head(top),
        improved=len(up),
        worse=len(down),
        unchanged=int((delta == 0).sum()),
        undefined=int(delta.isna().sum()),
    )


def compare(
    a: Evaluation,
    b: Evaluation,
    *,
    name_a: str = "A",
    name_b: str = "B",
    resamples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare model B with model A on the images both evaluated.

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> c = compare(_example_evaluation(), _example_evaluation(), resamples=50)
        >>> c.summary_frame()["delta"].tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0]
    """
    in_a, in_b, _, _ = match_images(a, b)
    paired = paired_bootstrap(a, b, resamples=resamples, seed=seed)
    return Comparison(a.subset(in_a), b.subset(in_b), name_a, name_b, paired)


def disagreement_map(gt: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, num_classes: int) -> np.ndarray:
    """uint8 codes per pixel: both right, only A right, only B right, both wrong, ignored.

    Inputs are class indices (see :func:`segviz.overlay.class_indices`): gt ≥ K is ignored.

    Example:
        >>> g = np.array([[0, 0, 1, 1, 2]]); a = np.array([[0, 0, 0, 0, 0]]); b = np.array([[0, 1, 1, 0, 0]])
        >>> disagreement_map(g, a, b, 2).tolist()
        [[0, 1, 2, 3, 4]]
    """
    right_a, right_b = pred_a == gt, pred_b == gt
    codes = np.full(gt.shape, BOTH_WRONG, dtype=np.uint8)
    codes[right_a & right_b] = BOTH_RIGHT
    codes[right_a & ~right_b] = ONLY_A_RIGHT
    codes[~right_a & right_b] = ONLY_B_RIGHT
    codes[gt >= num_classes] = IGNORED
    return codes


def disagreement_rgb(
    codes: np.ndarray, photo: np.ndarray | None = None, *, alpha: float = 0.65
) -> np.ndarray:
    """Colour a disagreement map, optionally blended over the photo (ignored pixels show the photo)."""
    colours = DISAGREEMENT_COLOURS[codes].astype(np.float32)
    if photo is None:
        return colours.astype(np.uint8)
    base = photo.astype(np.float32)
    out = alpha * colours + (1 - alpha) * base
    out[codes == IGNORED] = base[codes == IGNORED]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _records(frame: pd.DataFrame) -> list[dict]:
    """One dict per row, plain Python values, None for NaN (what the JSON holds); column by column
    (numpy's ``tolist``) rather than pandas' ``to_dict(orient="records")``, the same values.

    Example:
        >>> _records(pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")], "c": ["x", None]}))
        [{'a': 1, 'b': 0.5, 'c': 'x'}, {'a': 2, 'b': None, 'c': None}]
    """
    keys = list(frame.columns)
    if not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        return [  # (pandas' own way for other column labels)
            {k: (None if isinstance(v, float) and math.isnan(v) else _plain(v)) for k, v in row.items()}
            for row in frame.to_dict(orient="records")
        ]
    if not keys:
        return [{} for _ in range(len(frame))]
    columns = [_plain_column(frame[k]) for k in keys]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def _plain_column(column: pd.Series) -> list:
    """A column's values as plain Python values (None for NaN), as in :func:`_records`."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if kind in "iub":
        return column.to_numpy().tolist()
    if kind == "f":
        return [None if v != v else v for v in column.to_numpy().tolist()]
    return [None if isinstance(v, float) and math.isnan(v) else _plain(v) for v in column.tolist()]


def _records_json(frame: pd.DataFrame, *, depth: int) -> str | None:
    """The list :func:`_records` makes of ``frame``, as ``json.dumps(..., indent=1,
    allow_nan=False)`` writes it nested ``depth`` levels deep (the same text: keys and strings
    through json's own escaping, floats by ``repr``, NaN as null, ints, bools); None when a column
    is not numbers, bools or strings, or holds an infinity (the caller then lets json do it).

    Example:
        >>> f = pd.DataFrame({"name": ["a"], "x": [float("nan")]})
        >>> print(_records_json(f, depth=0))
        [
         {
          "name": "a",
          "x": null
         }
        ]
    """
    if not len(frame):
        return "[]"
    names = list(frame.columns)
    if not names or not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        return None
    cells = [_column_json(frame[name]) for name in names]
    if any(c is None for c in cells):
        return None
    item, field = "\n" + " " * (depth + 1), "\n" + " " * (depth + 2)
    prefixes = [
        ("," if j else "") + field + _json_string(name) + ": " for j, name in enumerate(frame.columns)
    ]
    cells = [[prefix + v for v in values] for prefix, values in zip(prefixes, cells, strict=True)]
    rows = map("".join, zip(*cells, strict=True))
    return "[" + ",".join(f"{item}{{{row}{item}}}" for row in rows) + "\n" + " " * depth + "]"


def _column_json(column: pd.Series) -> list[str] | None:
    """Each value of a column as json writes it (see :func:`_records_json`), or None."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if kind == "f":
        values = column.to_numpy()
        if np.isinf(values).any():
            return None
        texts = list(map(float.__repr__, values.astype(np.float64).tolist()))
        for i in np.flatnonzero(np.isnan(values)).tolist():
            texts[i] = "null"
        return texts
    if kind in "iu":
        return list(map(int.__repr__, column.to_numpy().tolist()))
    if kind == "b":
        return ["true" if v else "false" for v in column.to_numpy().tolist()]
    values = column.tolist()
    return [_json_string(v) for v in values] if all(type(v) is str for v in values) else None


def _json_string(text: str) -> str:
    """A string as json.dumps writes it (ASCII, escaped)."""
    return json.encoder.encode_basestring_ascii(text)


def _dict_json(data: dict, texts: dict[str, str]) -> str:
    """``json.dumps(data, indent=1, allow_nan=False)`` with the values of the keys in ``texts``
    already written (nested one level deep)."""
    lines = []
    for key, value in data.items():
        text = (
            texts[key] if key in texts else json.dumps(value, indent=1, allow_nan=False).replace("\n", "\n ")
        )
        lines.append(f" {_json_string(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
