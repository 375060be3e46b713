"""Slices: metrics on the images that share an attribute value, and the worst slices found for you.

A *slice* is the set of images whose attribute ``column`` has one value (``weather = dusk``,
``brightness`` in its lowest quartile), or, in worst-slice discovery, two such conditions at once.
Attributes come from a metadata table (:func:`read_metadata`, :func:`align_metadata`) and from the
automatic attributes of :mod:`segviz.attributes`.

Everything here is folded from the stored per-image counts (:meth:`Evaluation.image_counts`): no
pixel is read, no metric is written again (:func:`segviz.stats.summary_from_counts`).

Conventions (stated, never guessed):

* **Values.** Booleans slice into ``True`` / ``False``; text into its values (more than
  ``max_values`` distinct values: the most frequent ``max_values − 1`` and one ``(other: n values)``);
  numbers and dates with at most ``bins`` distinct values into those values, else into ``bins``
  quantile bins (labels show the edges, ``[lo, hi]`` for the first and ``(lo, hi]`` after); when the
  smallest value is held by at least 1/``bins`` of the images (a class absent from many images:
  share 0) it gets a bin of its own (``= 0``) and the rest are split into ``bins − 1`` quantiles.
  Images without a value form ``(missing)``.
* **Intervals.** A Poisson bootstrap over images (:func:`segviz.stats.poisson_weights`, ``resamples``
  draws, ``seed``): each image's weight is drawn independently, so the slice and the rest of the data
  are resampled independently (a two-sample bootstrap) from one draw. Percentile intervals at
  ``confidence``. The difference is *slice − rest*: negative means the slice is worse.
* **Too few images**: a slice of fewer than ``min_images`` (default :data:`MIN_IMAGES`) images is
  flagged; its numbers are shown but not trusted (percentile intervals are too narrow there).
* **Worst slices** (:meth:`Slicer.worst`): every value of every attribute, and every pair of values
  of two attributes (among the ``pair_attributes`` attributes whose best single slice scores
  highest), with at least ``min_images`` images and at least one image outside. Slices holding the
  same images are counted once (the simplest description kept). Ranked by
  ``score = drop × share of images`` with ``drop = metric on all images − metric on the slice``
  (measured from the whole data, the score prefers the tightest slice holding the bad images:
  for a slice S holding all b bad images, each D worse, the score is ≈ D·b/N·(1 − |S|/N), so a
  broad parent slice scores lower than the precise one). Only slices with a positive drop are
  listed; the ``test`` highest-ranked of them get a bootstrap test: one-sided p-value
  ``Φ(Δ / SE)`` with ``Δ`` = slice − rest and ``SE`` the bootstrap standard deviation of ``Δ``
  (a percentile p-value cannot go below 1/(B+1), too coarse for hundreds of tests). Multiple
  comparisons: Benjamini–Hochberg over *all* m candidate slices at false-discovery rate ``fdr``
  (default 0.05), untested candidates counted with p = 1 (which can only reject fewer).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from segviz import stats
from segviz.dataset import sample_key
from segviz.errors import SegvizError
from segviz.evaluate import Evaluation

#: Fewer images than this: "too few images" (intervals not trusted).
MIN_IMAGES = 10
#: Quantile bins of a numeric attribute.
BINS = 4
#: Most distinct text values kept as slices of their own.
MAX_VALUES = 20
MISSING = "(missing)"

Metric = Literal["pixel_accuracy", "mean_iou", "mean_pixel_accuracy", "frequency_weighted_iou", "mean_dice"]
METRICS: tuple[str, ...] = get_args(Metric)


# ---------------------------------------------------------------------- metadata
def read_metadata(path: str | Path) -> pd.DataFrame:
    """A metadata table (.csv or .parquet) with a ``name`` column; raises :class:`SegvizError`
    naming the file on any problem. Text columns whose every value is an ISO date become dates.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "metadata.csv"
        >>> _ = f.write_text("name,weather,day\\na,rain,2024-05-01\\nb,sun,2024-05-02\\n")
        >>> m = read_metadata(f)
        >>> m.columns.tolist(), str(m["day"].dtype).startswith("datetime64")
        (['name', 'weather', 'day'], True)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise SegvizError(f"{path}: metadata must be a .csv or .parquet file (got {suffix or 'no suffix'!r})")
    try:
        # names stay text: "0001" is not the number 1
        frame = pd.read_csv(path, dtype={"name": str}) if suffix == ".csv" else pd.read_parquet(path)
    except FileNotFoundError:
        raise SegvizError(f"{path}: metadata file not found") from None
    except Exception as exc:
        raise SegvizError(f"{path}: unreadable metadata ({type(exc).__name__}: {exc})") from None
    if "name" not in frame.columns:
        found = ", ".join(map(str, frame.columns[:8])) or "none"
        raise SegvizError(
            f"{path}: no 'name' column (columns: {found}); the first row must name the columns, "
            "one of them 'name' holding each image's name"
        )
    frame["name"] = frame["name"].astype(str)
    for col in frame.columns[1:] if frame.columns[0] == "name" else frame.columns:
        if col != "name" and (frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col])):
            frame[col] = _maybe_dates(frame[col])
    return frame


def _maybe_dates(values: pd.Series) -> pd.Series:
    text = values.dropna().astype(str)
    if text.empty or not text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return values
    try:
        return pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return values


def find_metadata(root: str | Path | None) -> Path | None:
    """``root/metadata.csv`` (or ``.parquet``) when it exists, else None (also for a URL).

    Example:
        >>> find_metadata("s3://bucket/val") is None
        True
    """
    if root is None or "://" in str(root):
        return None
    for name in ("metadata.csv", "metadata.parquet"):
        if (Path(root) / name).is_file():
            return Path(root) / name
    return None


def align_metadata(
    frame: pd.DataFrame, names: Sequence[str], *, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """The metadata rows of the evaluated images, in ``names`` order (index = image name), and the
    warnings: duplicate rows (the first is used), names that match no evaluated image, evaluated
    images without a row (their values are missing). A name with an extension or a dataset suffix
    (``x.png``) matches the image ``x``.

    Example:
        >>> m = pd.DataFrame({"name": ["a", "a", "zz"], "t": [1, 2, 3]})
        >>> aligned, warnings = align_metadata(m, ["a", "b"], source="meta.csv")
        >>> aligned["t"].tolist()[0], len(warnings)
        (1.0, 3)
    """
    wanted = set(names)
    keys = [_metadata_key(n, wanted) for n in frame["name"]]
    frame = frame.assign(name=keys)
    warnings = []
    dup = frame["name"].duplicated(keep="first")
    if dup.any():
        repeated = sorted(set(frame.loc[dup, "name"]))
        warnings.append(
            f"{source}: {int(dup.sum())} duplicate rows for {_listing(repeated)}; the first row of each is used"
        )
    unknown = sorted(set(frame["name"]) - wanted)
    if unknown:
        warnings.append(f"{source}: {len(unknown)} names match no evaluated image: {_listing(unknown)}")
    missing = [n for n in names if n not in set(frame["name"])]
    if missing:
        warnings.append(
            f"{source}: {len(missing)} evaluated images have no row (their values are {MISSING}): "
            f"{_listing(missing)}"
        )
    kept = frame.loc[~dup].set_index("name")
    return kept.reindex(list(names)), warnings


def _metadata_key(name: str, wanted: set[str]) -> str:
    name = unicodedata.normalize("NFC", str(name).strip().replace(os.sep, "/"))
    if name in wanted:
        return name
    key = sample_key(name)
    return key if key in wanted else name


def _listing(items: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# ---------------------------------------------------------------------- binning
@dataclass(frozen=True)
class Column:
    """One attribute turned into slices.

    Attributes:
        name: the attribute's name.
        source: "metadata" or "automatic".
        codes: int64 (N,), the value index of every image.
        labels: the values' labels, in order (quantile bins ascending, text sorted, missing last).
        binning: how the values were made, in words ("4 quantile bins", "values", ...).
    """

    name: str
    source: str
    codes: np.ndarray
    labels: tuple[str, ...]
    binning: str


def bin_values(
    values: pd.Series, *, bins: int = BINS, max_values: int = MAX_VALUES
) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Codes (int64, one per row), labels and a description of the binning (see the module docstring).

    Example:
        >>> codes, labels, how = bin_values(pd.Series([0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
        >>> labels, codes.tolist(), how
        (('= 0', '[1, 2.333]', '(2.333, 3.667]', '(3.667, 5]'), [0, 0, 0, 1, 1, 2, 3, 3], 'own bin for 0, then 3 quantile bins')
    """
    values = pd.Series(values).reset_index(drop=True)
    missing = values.isna().to_numpy()
    kind = _kind(values)
    if kind == "bool":
        text = np.where(missing, None, np.where(values.fillna(False).astype(bool), "True", "False"))
        codes, labels, _ = _text_codes(pd.Series(text), missing, max_values)
        return codes, labels, "True / False"
    if kind in ("number", "date"):
        return _numeric_codes(values, missing, bins=bins, dates=kind == "date")
    return _text_codes(values, missing, max_values)


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    present = values.dropna()
    if len(present) and present.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    return "text"


def _text_codes(
    text: pd.Series, missing: np.ndarray, max_values: int
) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Codes of text values (vectorised: one np.unique), the rare ones folded into one value."""
    present = np.asarray(text, dtype=object)[~missing].astype(str)
    uniq, inverse, counts = np.unique(present, return_inverse=True, return_counts=True)
    how = "values"
    if len(uniq) > max_values:
        order = np.lexsort((uniq, -counts))  # most frequent first, ties by name
        keep = np.sort(order[: max_values - 1])
        labels = [*uniq[keep].tolist(), f"(other: {len(uniq) - len(keep)} values)"]
        to_label = np.full(len(uniq), len(keep), dtype=np.int64)
        to_label[keep] = np.arange(len(keep))
        inverse = to_label[inverse]
        how = f"the {max_values - 1} most frequent values, the rest as one"
    else:
        labels = uniq.tolist()
    codes = np.empty(len(missing), dtype=np.int64)
    codes[~missing] = inverse
    if missing.any():
        labels.append(MISSING)
        codes[missing] = len(labels) - 1
    return codes, tuple(labels), how


def _numeric_codes(
    values: pd.Series, missing: np.ndarray, *, bins: int, dates: bool
) -> tuple[np.ndarray, tuple[str, ...], str]:
    if dates:
        stamps = pd.to_datetime(values)
        x = np.where(missing, np.nan, stamps.dt.tz_localize(None).astype("datetime64[ns]").astype("int64"))

        def shown(v: float) -> str:
            return str(pd.Timestamp(int(v)).date())
    else:
        x = values.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        shown = None  # chosen once the printed points are known
    present = x[~missing]
    distinct = np.unique(present)
    codes = np.full(len(x), -1, dtype=np.int64)
    if len(distinct) <= bins:
        shown = shown or _number_format(distinct)
        labels = [shown(v) for v in distinct]
        codes[~missing] = np.searchsorted(distinct, present)
        how = "values"
    else:
        low = distinct[0]
        own = np.mean(present == low) >= 1.0 / bins
        rest = present[present > low] if own else present
        q = bins - 1 if own else bins
        edges = np.unique(np.quantile(rest, np.linspace(0, 1, q + 1)))
        # bin i holds (edges[i], edges[i+1]], the first one closed: [edges[0], edges[1]]
        shown = shown or _number_format(np.unique(np.r_[low, edges]))
        inner = np.clip(np.searchsorted(edges, rest, side="left") - 1, 0, len(edges) - 2)
        labels = [
            f"{'[' if i == 0 else '('}{shown(edges[i])}, {shown(edges[i + 1])}]"
            for i in range(len(edges) - 1)
        ]
        if own:
            labels.insert(0, f"= {shown(low)}")
            sub = np.zeros(len(present), dtype=np.int64)
            sub[present > low] = inner + 1
        else:
            sub = inner
        codes[~missing] = sub
        how = (
            f"own bin for {shown(low)}, then {len(edges) - 1} quantile bins"
            if own
            else f"{len(edges) - 1} quantile bins"
        )
    if missing.any():
        labels.append(MISSING)
        codes[missing] = len(labels) - 1
    return codes, tuple(labels), how


def _number_format(points: np.ndarray):
    """A formatter with the fewest significant digits (4 at least) that prints distinct ``points``
    distinctly, so two bins never share a label."""
    for digits in (4, 6, 8, 12, 17):

        def shown(v: float, digits: int = digits) -> str:
            return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.{digits}g}"

        if len({shown(v) for v in points}) == len(points):
            break
    return shown


# ---------------------------------------------------------------------- one slice
@dataclass(frozen=True)
class SliceMetrics:
    """Metrics of one slice and their difference to the rest of the data.

    Attributes:
        column, value: which slice (``column`` may read "a & b" for a pair).
        indices: int64 (n,) the slice's image indices into the evaluation.
        images, pixels: images and evaluated (valid ground-truth) pixels behind it.
        share: images / all images.
        summary: an :class:`segviz.stats.Interval` for each of :data:`segviz.stats.SUMMARY_KEYS`.
        delta: slice − rest, an Interval per summary metric (NaN when there is no rest).
        classes: one row per class: id, name, iou, low, high, delta, delta_low, delta_high.
        too_few: fewer than ``min_images`` images.
        min_images: the threshold used.
        confidence: of the intervals.
    """

    column: str
    value: str
    indices: np.ndarray
    images: int
    pixels: int
    share: float
    summary: dict[str, stats.Interval]
    delta: dict[str, stats.Interval]
    classes: pd.DataFrame
    too_few: bool
    min_images: int
    confidence: float = 0.95

    def to_dict(self) -> dict:
        """The JSON record of ``segviz evaluate --by`` (undefined values as None)."""
        s, d = self.summary, self.delta
        return {
            "column": self.column,
            "value": self.value,
            "images": self.images,
            "pixels": self.pixels,
            **{k: _clean(s[k].estimate) for k in stats.SUMMARY_KEYS},
            "mean_iou_ci": [_clean(s["mean_iou"].low), _clean(s["mean_iou"].high)],
            "delta_mean_iou": _clean(d["mean_iou"].estimate),
            "delta_ci": [_clean(d["mean_iou"].low), _clean(d["mean_iou"].high)],
            "too_few_images": self.too_few,
            "intervals": {k: [_clean(s[k].low), _clean(s[k].high)] for k in stats.SUMMARY_KEYS},
            "deltas": {
                k: [_clean(d[k].estimate), _clean(d[k].low), _clean(d[k].high)] for k in stats.SUMMARY_KEYS
            },
            "classes": [
                {
                    "name": row.name,
                    **{
                        c: _clean(getattr(row, c))
                        for c in ("iou", "low", "high", "delta", "delta_low", "delta_high")
                    },
                }
                for row in self.classes.itertuples(index=False)
            ],
        }


class Slicer:
    """The slices of one evaluation over a table of attributes.

    Args:
        evaluation: N images.
        attributes: one row per image, in ``evaluation.names`` order (index ignored), any columns.
        sources: per column, "metadata" or "automatic" (default "metadata").
        bins, max_values: see the module docstring.
        resamples, confidence, seed: of the Poisson bootstrap.
        min_images: the "too few images" threshold and the minimum support of worst slices.

    Example:
        >>> ev = stats._example_evaluation()                   # images "a", "b"
        >>> s = Slicer(ev, pd.DataFrame({"light": ["day", "dusk"]}), min_images=1, resamples=50)
        >>> m = s.metrics("light", "day")
        >>> m.images, m.pixels, round(m.summary["pixel_accuracy"].estimate, 3)
        (1, 50, 0.9)
    """

    def __init__(
        self,
        evaluation: Evaluation,
        attributes: pd.DataFrame,
        *,
        sources: dict[str, str] | None = None,
        bins: int = BINS,
        max_values: int = MAX_VALUES,
        resamples: int = 1000,
        confidence: float = 0.95,
        seed: int = 0,
        min_images: int = MIN_IMAGES,
    ) -> None:
        if len(attributes) != evaluation.num_images:
            raise ValueError(
                f"attributes: {len(attributes)} rows for {evaluation.num_images} images; "
                "give one row per evaluated image, in evaluation.names order"
            )
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95 (got {confidence!r})")
        if isinstance(min_images, bool) or not isinstance(min_images, int) or min_images < 1:
            raise ValueError(f"min_images must be a positive integer (got {min_images!r})")
        self.evaluation = evaluation
        self.attributes = attributes.reset_index(drop=True)
        self.n = evaluation.num_images
        self.resamples, self.confidence, self.seed, self.min_images = resamples, confidence, seed, min_images
        tp, gt, pred = evaluation.image_counts()
        self.k = evaluation.table.num_classes
        self.x = np.concatenate([tp, gt, pred], axis=1).astype(np.float64)  # (N, 3K), exact integers
        self.pixels = gt.sum(axis=1)
        sources = sources or {}
        self.columns: dict[str, Column] = {}
        for name in attributes.columns:
            codes, labels, how = bin_values(attributes[name], bins=bins, max_values=max_values)
            self.columns[str(name)] = Column(str(name), sources.get(name, "metadata"), codes, labels, how)
        self._weights: np.ndarray | None = None
        self._total: np.ndarray | None = None

    # -------------------------------------------------------------- plumbing
    def column(self, name: str) -> Column:
        if name not in self.columns:
            shown = ", ".join(list(self.columns)[:12]) or "none"
            more = f" and {len(self.columns) - 12} more" if len(self.columns) > 12 else ""
            raise SegvizError(f"no attribute {name!r}; the attributes are: {shown}{more}")
        return self.columns[name]

    def _bootstrap(self) -> tuple[np.ndarray, np.ndarray]:
        """Poisson weights (B, N) and the whole data's resampled counts (B, 3K), drawn once."""
        if self._weights is None:
            self._weights = _poisson_weights(self.n, self.resamples, self.seed)
            with one_blas_thread():
                self._total = self._weights @ self.x
        return self._weights, self._total

    def _split(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = self.k
        return counts[..., :k], counts[..., k : 2 * k], counts[..., 2 * k :]

    # -------------------------------------------------------------- one slice
    def metrics(self, column: str, value: str) -> SliceMetrics:
        """Metrics of the images whose ``column`` has ``value`` (a label of :attr:`Column.labels`)."""
        col = self.column(column)
        if value not in col.labels:
            raise SegvizError(f"{column}: no value {value!r}; the values are: {', '.join(col.labels)}")
        idx = np.flatnonzero(col.codes == col.labels.index(value))
        return self.metrics_of(idx, column=column, value=value)

    def metrics_of(self, indices: np.ndarray, *, column: str = "", value: str = "") -> SliceMetrics:
        """Metrics of any set of images (int indices into the evaluation)."""
        idx = np.asarray(indices, dtype=np.int64)
        weights, total = self._bootstrap()
        inside = self.x[idx].sum(axis=0)
        rest = self.x.sum(axis=0) - inside
        with one_blas_thread():
            rep_in = weights[:, idx] @ self.x[idx]
        rep_rest = total - rep_in
        est_in = stats.summary_from_counts(*self._split(inside))
        est_rest = stats.summary_from_counts(*self._split(rest))
        s_in = stats.summary_from_counts(*self._split(rep_in))
        s_rest = stats.summary_from_counts(*self._split(rep_rest))
        has_rest = len(idx) < self.n
        keys = stats.SUMMARY_KEYS
        iou, iou_rest = stats.iou_from_counts(*self._split(inside)), stats.iou_from_counts(*self._split(rest))
        rep_iou = stats.iou_from_counts(*self._split(rep_in))
        rep_d = rep_iou - stats.iou_from_counts(*self._split(rep_rest))
        # every interval from one percentile call over the stacked replicates (B, 2·5 + 2K)
        stacked = np.column_stack(
            [*(s_in[k] for k in keys), *(s_in[k] - s_rest[k] for k in keys), rep_iou, rep_d]
        )
        low, high = stats.percentile_interval(stacked, self.confidence)
        m, k = len(keys), self.k
        summary = {
            key: stats.Interval(float(est_in[key]), float(low[i]), float(high[i]))
            for i, key in enumerate(keys)
        }
        nan = stats.Interval(math.nan, math.nan, math.nan)
        delta = {
            key: stats.Interval(float(est_in[key] - est_rest[key]), float(low[m + i]), float(high[m + i]))
            if has_rest
            else nan
            for i, key in enumerate(keys)
        }
        blank = np.full(k, np.nan)
        table = self.evaluation.table
        classes = pd.DataFrame(
            {"id": table.ids, "name": list(table.names), "iou": iou,
             "low": low[2 * m : 2 * m + k], "high": high[2 * m : 2 * m + k],
             "delta": iou - iou_rest if has_rest else blank,
             "delta_low": low[2 * m + k :] if has_rest else blank,
             "delta_high": high[2 * m + k :] if has_rest else blank}
        )  # fmt: skip
        return SliceMetrics(
            column=column,
            value=value,
            indices=idx,
            images=len(idx),
            pixels=int(self.pixels[idx].sum()),
            share=len(idx) / self.n if self.n else math.nan,
            summary=summary,
            delta=delta,
            classes=classes,
            too_few=len(idx) < self.min_images,
            min_images=self.min_images,
            confidence=self.confidence,
        )

    def by(self, column: str) -> list[SliceMetrics]:
        """One :class:`SliceMetrics` per value of ``column`` that holds at least one image.

        Example:
            >>> s = Slicer(stats._example_evaluation(), pd.DataFrame({"t": [1.0, 2.0]}), resamples=20)
            >>> [(m.value, m.images, m.too_few) for m in s.by("t")]
            [('1', 1, True), ('2', 1, True)]
        """
        col = self.column(column)
        out = []
        for code, label in enumerate(col.labels):
            idx = np.flatnonzero(col.codes == code)
            if len(idx):
                out.append(self.metrics_of(idx, column=column, value=label))
        return out

    def frame(self, column: str) -> pd.DataFrame:
        """One row per value: value, images, pixels, every summary metric with low/high, delta of
        mIoU with its interval, too_few (the table behind the per-value bar chart)."""
        rows = []
        for m in self.by(column):
            row = {"column": column, "value": m.value, "images": m.images, "pixels": m.pixels}
            for k in stats.SUMMARY_KEYS:
                row[k], row[f"{k}_low"], row[f"{k}_high"] = (
                    m.summary[k].estimate,
                    m.summary[k].low,
                    m.summary[k].high,
                )
            d = m.delta["mean_iou"]
            row.update(delta_mean_iou=d.estimate, delta_low=d.low, delta_high=d.high, too_few=m.too_few)
            rows.append(row)
        return pd.DataFrame(rows)

    # -------------------------------------------------------------- discovery
    def worst(
        self,
        *,
        metric: Metric = "mean_iou",
        pairs: bool = True,
        pair_attributes: int = 20,
        test: int = 30,
        fdr: float = 0.05,
        top: int = 10,
        columns: Sequence[str] | None = None,
    ) -> WorstSlices:
        """Find the slices where ``metric`` drops most, weighted by their share of images (see the
        module docstring for the ranking, the test and the multiple-comparison control).

        Example:
            >>> ev = stats._example_evaluation()
            >>> s = Slicer(ev, pd.DataFrame({"light": ["day", "dusk"]}), min_images=1, resamples=50)
            >>> w = s.worst()
            >>> w.frame[["slice", "images"]].values.tolist(), w.candidates
            ([['light = dusk', 1]], 2)
        """
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)} (got {metric!r})")
        if not 0.0 < fdr < 1.0:
            raise ValueError(f"fdr must be between 0 and 1, e.g. 0.05 (got {fdr!r})")
        names = [
            c for c in (columns if columns is not None else self.columns) if len(self.column(c).labels) > 1
        ]
        total = self.x.sum(axis=0)
        cands: list[_Candidate] = []
        seen: set[bytes] = set()
        best: dict[str, float] = {}
        for name in names:
            col = self.columns[name]
            found = self._candidates((name,), col.codes, [(lab,) for lab in col.labels], total, metric, seen)
            cands += found
            best[name] = max((c.score for c in found), default=-math.inf)
        paired = sorted(names, key=lambda c: -best[c])[:pair_attributes] if pairs else []
        for i, a in enumerate(paired):
            for b in paired[i + 1 :]:
                ca, cb = self.columns[a], self.columns[b]
                codes = ca.codes * len(cb.labels) + cb.codes
                labels = [(la, lb) for la in ca.labels for lb in cb.labels]
                cands += self._candidates((a, b), codes, labels, total, metric, seen)
        return self._rank(cands, metric=metric, test=test, fdr=fdr, top=top, pair_attributes=paired)

    def _candidates(self, columns, codes, labels, total, metric, seen) -> list[_Candidate]:
        v = len(labels)
        n = np.bincount(codes, minlength=v)
        ok = np.flatnonzero((n >= self.min_images) & (n < self.n))
        if not len(ok):
            return []
        sums = np.zeros((v, self.x.shape[1]))
        _group_sum(sums, codes, self.x)
        inside = sums[ok]
        m_in = stats.summary_from_counts(*self._split(inside))[metric]
        m_rest = stats.summary_from_counts(*self._split(total - inside))[metric]
        m_all = float(stats.summary_from_counts(*self._split(total))[metric])
        out = []
        for j, code in enumerate(ok):
            members = codes == code
            key = np.packbits(members).tobytes()
            if key in seen:
                continue
            seen.add(key)
            drop = m_all - float(m_in[j])
            out.append(
                _Candidate(columns, labels[code], np.flatnonzero(members), float(m_in[j]), float(m_rest[j]),
                           drop, drop * n[code] / self.n if not math.isnan(drop) else -math.inf)
            )  # fmt: skip
        return out

    def _rank(self, cands, *, metric, test, fdr, top, pair_attributes) -> WorstSlices:
        cands.sort(key=lambda c: -c.score)
        weights, total = self._bootstrap()
        k = self.k
        rows = []
        p_values = np.ones(len(cands))
        tested = 0
        for i, c in enumerate(cands):
            if tested >= test or not c.drop > 0:
                break
            with one_blas_thread():
                rep_in = weights[:, c.indices] @ self.x[c.indices]
            d = (
                stats.summary_from_counts(rep_in[:, :k], rep_in[:, k : 2 * k], rep_in[:, 2 * k :])[metric]
                - stats.summary_from_counts(*self._split(total - rep_in))[metric]
            )
            d = d[~np.isnan(d)]
            se = float(d.std(ddof=1)) if len(d) > 1 else math.nan
            p_values[i] = _one_sided_p(c.metric - c.rest, se)  # Δ = slice − rest
            low, high = stats.percentile_interval(d, self.confidence) if len(d) else (math.nan, math.nan)
            c.low, c.high, c.se, c.tested = float(low), float(high), se, True
            tested += 1
        q_values = benjamini_hochberg(p_values)
        for i, c in enumerate(cands[:top]):
            if not c.drop > 0:
                break
            rows.append(
                {
                    "rank": i + 1,
                    "slice": " & ".join(
                        condition_text(col, val) for col, val in zip(c.columns, c.values, strict=True)
                    ),
                    "columns": list(c.columns),
                    "values": list(c.values),
                    "images": len(c.indices),
                    "share": len(c.indices) / self.n,
                    "pixels": int(self.pixels[c.indices].sum()),
                    metric: c.metric,
                    "rest": c.rest,
                    "drop": c.drop,
                    "score": c.score,
                    "delta_low": c.low,
                    "delta_high": c.high,
                    "p_value": p_values[i] if c.tested else math.nan,
                    "q_value": q_values[i] if c.tested else math.nan,
                    "significant": bool(c.tested and q_values[i] <= fdr),
                }
            )
        columns = ["rank", "slice", "columns", "values", "images", "share", "pixels", metric, "rest", "drop",
                   "score", "delta_low", "delta_high", "p_value", "q_value", "significant"]  # fmt: skip
        return WorstSlices(
            frame=pd.DataFrame(rows, columns=columns),
            metric=metric,
            candidates=len(cands),
            tested=tested,
            fdr=fdr,
            min_images=self.min_images,
            num_images=self.n,
            resamples=self.resamples,
            confidence=self.confidence,
            pair_attributes=tuple(pair_attributes),
            indices=[c.indices for c in cands[: len(rows)]],
        )


@dataclass
class _Candidate:
    columns: tuple[str, ...]
    values: tuple[str, ...]
    indices: np.ndarray
    metric: float
    rest: float
    drop: float
    score: float
    low: float = math.nan
    high: float = math.nan
    se: float = math.nan
    tested: bool = False


def _group_sum(out: np.ndarray, codes: np.ndarray, x: np.ndarray) -> None:
    """out[v] += sum of the rows of x whose code is v (a sparse indicator product)."""
    from scipy import sparse

    indicator = sparse.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(out.shape[0], len(codes))
    )
    out += indicator @ x


@dataclass(frozen=True)
class WorstSlices:
    """The ranked worst slices.

    Attributes:
        frame: one row per slice worse than the rest, best-ranked first: rank, slice (text),
            columns, values, images, share, pixels, <metric> (on the slice), rest (on the other
            images), drop (all images − slice), score (drop × share), delta_low / delta_high (interval of
            slice − rest), p_value (one-sided), q_value (Benjamini–Hochberg), significant (q ≤ fdr);
            NaN for slices not tested.
        metric, fdr, min_images, resamples, confidence: the options used.
        candidates: m, the slices considered (with enough images, duplicates counted once).
        tested: how many were tested.
        num_images: N.
        pair_attributes: the attributes whose pairs were searched.
        indices: the image indices of each row of ``frame``.
    """

    frame: pd.DataFrame
    metric: str
    candidates: int
    tested: int
    fdr: float
    min_images: int
    num_images: int
    resamples: int
    confidence: float
    pair_attributes: tuple[str, ...] = ()
    indices: list[np.ndarray] = field(default_factory=list)

    def method(self) -> str:
        """The method in one sentence (shown under every table of worst slices)."""
        return (
            f"Slices of at least {self.min_images} images over single attributes and pairs of attributes "
            f"({self.candidates} candidates), ranked by drop in {_LABEL.get(self.metric, self.metric)} × share of "
            f"images; the top {self.tested} tested with a {self.resamples}-resample Poisson bootstrap "
            f"(one-sided p from Δ / SE), Benjamini–Hochberg at FDR {self.fdr:g} over all {self.candidates}."
        )

    def sentences(self, limit: int = 3) -> list[str]:
        """Plain sentences about the worst slices (for the report)."""
        label = _LABEL.get(self.metric, self.metric)
        out = []
        for row in self.frame.head(limit).itertuples(index=False):
            sure = (
                "a difference unlikely to be chance"
                if row.significant
                else "not distinguishable from chance at this sample size"
            )
            out.append(
                f"On the {row.images} image{'s' if row.images != 1 else ''} where {row.slice.replace(' & ', ' and ')} "
                f"({100 * row.share:.0f} % of the images), {label} is {100 * getattr(row, self.metric):.1f} % "
                f"against {100 * row.rest:.1f} % on the other images ({100 * (row.rest - getattr(row, self.metric)):.1f} points lower; {sure})."
            )
        return out

    def to_dict(self) -> dict:
        """The JSON of ``segviz slices --json``."""
        records = [{k: _plain(v) for k, v in row.items()} for row in self.frame.to_dict(orient="records")]
        return {
            "metric": self.metric,
            "num_images": self.num_images,
            "min_images": self.min_images,
            "candidates": self.candidates,
            "tested": self.tested,
            "fdr": self.fdr,
            "resamples": self.resamples,
            "confidence": self.confidence,
            "pair_attributes": list(self.pair_attributes),
            "method": self.method(),
            "slices": records,
        }


_LABEL = {
    "pixel_accuracy": "pixel accuracy",
    "mean_iou": "mIoU",
    "mean_pixel_accuracy": "mean pixel accuracy",
    "frequency_weighted_iou": "FWIoU",
    "mean_dice": "mean Dice",
}


def condition_text(column: str, value: str) -> str:
    """One condition of a slice as read: ``time = dusk``; a bin labelled ``= 0`` reads ``share:Sky = 0``.

    Example:
        >>> condition_text("time", "dusk"), condition_text("objects:Car", "= 0")
        ('time = dusk', 'objects:Car = 0')
    """
    return f"{column} {value}" if str(value).startswith("= ") else f"{column} = {value}"


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values): q_(i) = min over j ≥ i of p_(j) · m / j.

    Example:
        >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
        [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(m)
    out[order] = q
    return out


def _one_sided_p(delta: float, se: float) -> float:
    """P(Δ ≥ 0) under a normal with mean ``delta`` and sd ``se``: the p-value that the slice is worse."""
    if math.isnan(delta) or math.isnan(se):
        return 1.0
    if se == 0.0:
        return 0.0 if delta < 0 else 1.0
    return 0.5 * math.erfc(-(delta / se) / math.sqrt(2.0))


@functools.lru_cache(maxsize=2)
def _poisson_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """The same draw for every Slicer of the same size (read-only; 16 MB for 2,000 images)."""
    weights = stats.poisson_weights(n, resamples=resamples, seed=seed)
    weights.flags.writeable = False
    return weights


_CONTROLLER: list = []


def one_blas_thread():
    """A context in which BLAS runs one thread (threadpoolctl), for the small products here: on a busy
    machine OpenBLAS's threads wait for cores and a 1 ms product takes 25 ms. A no-op without
    threadpoolctl."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except ImportError:
            _CONTROLLER.append(None)
    controller = _CONTROLLER[0]
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def _clean(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _clean(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ---------------------------------------------------------------------- assembling
def open_slices(
    evaluation: Evaluation,
    *,
    metadata: str | Path | pd.DataFrame | None = None,
    dataset_root: str | Path | None = None,
    pixels: bool = True,
    workers: int = 2,
    store=None,
    progress=None,
    **options,
) -> tuple[Slicer, list[str]]:
    """A :class:`Slicer` over the metadata (``metadata``, else ``dataset_root/metadata.csv`` when it
    exists) and the automatic attributes (:mod:`segviz.attributes`; ``pixels=False`` skips the group
    that reads files), with the warnings met on the way. ``options`` go to :class:`Slicer`.

    A metadata column named like an automatic attribute wins (with a warning).

    Example:
        >>> ev = stats._example_evaluation()                   # images "a", "b"
        >>> meta = pd.DataFrame({"name": ["a", "b", "c"], "light": ["day", "dusk", "day"]})
        >>> slicer, warnings = open_slices(ev, metadata=meta, pixels=False, min_images=1, resamples=20)
        >>> slicer.columns["light"].labels, warnings
        (('day', 'dusk'), ['metadata: 1 names match no evaluated image: c'])
    """
    from segviz.attributes import automatic_attributes

    warnings: list[str] = []
    auto, found = automatic_attributes(
        evaluation, pixels=pixels, workers=workers, store=store, progress=progress
    )
    warnings += found
    frames, sources = [], {}
    if metadata is None:
        metadata = find_metadata(dataset_root)
    if metadata is not None:
        source = "metadata" if isinstance(metadata, pd.DataFrame) else str(metadata)
        table = metadata if isinstance(metadata, pd.DataFrame) else read_metadata(metadata)
        if "name" not in table.columns:
            raise SegvizError(f"{source}: no 'name' column")
        aligned, found = align_metadata(table, evaluation.names, source=source)
        warnings += found
        clash = [c for c in aligned.columns if c in auto.columns]
        if clash:
            warnings.append(
                f"{source}: columns {', '.join(clash)} replace the automatic attributes of that name"
            )
            auto = auto.drop(columns=clash)
        frames.append(aligned.reset_index(drop=True))
        sources.update({c: "metadata" for c in aligned.columns})
    sources.update({c: "automatic" for c in auto.columns})
    frames.append(auto.reset_index(drop=True))
    return Slicer(evaluation, pd.concat(frames, axis=1), sources=sources, **options), warnings


# ---------------------------------------------------------------------- two models
def compare_by(
    a: Evaluation,
    b: Evaluation,
    attributes: pd.DataFrame,
    column: str,
    *,
    metric: Metric = "mean_iou",
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_images: int = MIN_IMAGES,
    bins: int = BINS,
    max_values: int = MAX_VALUES,
) -> pd.DataFrame:
    """Model b against model a on each value of ``column``, paired: both models resampled with the
    same Poisson weights on the images both evaluated (matched by name).

    ``attributes``: one row per image of ``a`` (``a.names`` order). Returns one row per value:
    value, images, ``a``, ``b`` (the metric of each model), delta (b − a), low, high, significant
    (the interval excludes 0), too_few.

    Example:
        >>> ev = stats._example_evaluation()
        >>> f = compare_by(ev, ev, pd.DataFrame({"light": ["day", "dusk"]}), "light", resamples=20)
        >>> f[["value", "images", "delta", "significant"]].values.tolist()
        [['day', 1, 0.0, False], ['dusk', 1, 0.0, False]]
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)} (got {metric!r})")
    if list(a.table.names) != list(b.table.names):
        raise SegvizError(
            f"b: its class table ({b.table.num_classes} classes) differs from a's ({a.table.num_classes}); "
            "evaluate both models with the same class table"
        )
    sa = Slicer(a, attributes, bins=bins, max_values=max_values, min_images=min_images, confidence=confidence)
    col = sa.column(column)
    where_b = {name: i for i, name in enumerate(b.names)}
    in_a = np.array([i for i, n in enumerate(a.names) if n in where_b], dtype=np.int64)
    in_b = np.array([where_b[a.names[i]] for i in in_a], dtype=np.int64)
    xa = sa.x[in_a]
    xb = np.concatenate(b.image_counts(), axis=1).astype(np.float64)[in_b]
    weights = stats.poisson_weights(len(in_a), resamples=resamples, seed=seed)
    k = a.table.num_classes

    def value_of(counts: np.ndarray) -> np.ndarray:
        return stats.summary_from_counts(counts[..., :k], counts[..., k : 2 * k], counts[..., 2 * k :])[
            metric
        ]

    rows = []
    codes = col.codes[in_a]
    for code, label in enumerate(col.labels):
        idx = np.flatnonzero(codes == code)
        if not len(idx):
            continue
        est_a, est_b = float(value_of(xa[idx].sum(axis=0))), float(value_of(xb[idx].sum(axis=0)))
        with one_blas_thread():
            reps = value_of(weights[:, idx] @ xb[idx]) - value_of(weights[:, idx] @ xa[idx])
        low, high = stats.percentile_interval(reps, confidence)
        interval = stats.Interval(est_b - est_a, float(low), float(high))
        rows.append(
            {"value": label, "images": len(idx), "a": est_a, "b": est_b, "delta": est_b - est_a,
             "low": float(low), "high": float(high), "significant": bool(interval.excludes(0.0)),
             "too_few": len(idx) < min_images}
        )  # fmt: skip
    return pd.DataFrame(rows)
