"""Small display helpers shared by the views: number formatting, names, metric tiles, legends, CSS.

Every user-visible name (dataset, model, class, image) goes through :func:`name` or :func:`name_html`,
so escaping rules live in one place.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import streamlit as st

from segviz.classes import ClassTable
from segviz.compare import DISAGREEMENT_COLOURS, DISAGREEMENT_LABELS

CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
THUMB_WIDTH = 320
VIEW_WIDTH = 960
PRESENTATION_CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 3rem; }
[data-testid="stMain"] h1 { font-size: 3rem !important; }
</style>
"""


#: The overview's layout rules (scoped to its keyed containers): metric values shrink with their
#: tile (a container query) instead of being cut to "90…"; the buttons of the most-confused
#: pairs and of the thumbnails wrap their text instead of cutting it.
OVERVIEW_CSS = """
<style>
.st-key-tiles [data-testid="stMetric"] { container-type: inline-size; }
.st-key-tiles [data-testid="stMetricValue"] { font-size: min(2.25rem, 14cqi); }
.st-key-pairs button, .st-key-opairs button { justify-content: flex-start; text-align: left;
  min-height: 0; padding-top: 0.2rem; padding-bottom: 0.2rem; }
.st-key-pairs button > div, .st-key-opairs button > div { justify-content: flex-start; width: 100%; }
.st-key-pairs button p, .st-key-opairs button p { text-align: left; }
.st-key-pairs button p, .st-key-opairs button p, .st-key-thumbs button p {
  white-space: normal; overflow-wrap: anywhere; font-size: 0.85rem; }
</style>
"""


def fmt(value: float | None, pct: bool = True) -> str:
    """A metric as shown in the app: ``0.5 -> "50.00 %"``, undefined (None/NaN) as "n/a"."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{100 * value:.2f} %" if pct else f"{value:,}"


def name(text: str) -> str:
    """A user-supplied name (dataset, model, class, image) for plain-text elements and markdown."""
    return str(text)


def name_html(text: str) -> str:
    """A user-supplied name inside HTML that the app writes itself."""
    return html.escape(str(text))


def safe_filename(text: str) -> str:
    """A download file name built from user-supplied names."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def metric_tiles(tiles: list[tuple[str, str, str]], per_row: int = 4) -> None:
    """(label, value, help) tiles in rows of ``per_row``, in a container keyed ``tiles`` (whose
    values :data:`OVERVIEW_CSS` shrinks to fit)."""
    box = st.container(key="tiles")
    for start in range(0, len(tiles), per_row):
        row = tiles[start : start + per_row]
        for col, (label, value, help_text) in zip(box.columns(per_row), row, strict=False):
            col.metric(label, value, help=help_text, border=True)


def class_legend(table: ClassTable, indices: list[int]) -> None:
    chips = "".join(
        f'<span style="display:inline-block;margin:2px 8px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:12px;height:12px;border:1px solid #555;margin-right:4px;'
        f'vertical-align:-1px;background:rgb{tuple(int(v) for v in table.colors[i])}"></span>'
        f"{name_html(table.names[i])}</span>"
        for i in indices
    )
    st.markdown(f'<div style="font-size:0.85rem">{chips}</div>', unsafe_allow_html=True)


def disagreement_legend(container) -> None:
    legend = "".join(
        f'<span style="margin-right:10px;white-space:nowrap"><span style="display:inline-block;width:11px;'
        f'height:11px;background:rgb{tuple(int(v) for v in c)};margin-right:4px"></span>{label}</span>'
        for c, label in zip(DISAGREEMENT_COLOURS, DISAGREEMENT_LABELS, strict=True)
    )
    container.markdown(f'<div style="font-size:0.8rem">{legend}</div>', unsafe_allow_html=True)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (H, W, 3) uint8 picture resized to ``size`` = (width, height), bilinear."""
    from PIL import Image

    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def problems(skipped, warnings: list[str]) -> None:
    """An expander listing the samples skipped (name, reason) and the warnings while loading."""
    if not (skipped or warnings):
        return
    with st.expander(f"⚠ {len(skipped)} skipped, {len(warnings)} warnings while loading", expanded=False):
        if skipped:
            st.dataframe(
                pd.DataFrame(
                    {"sample": [name(p.name) for p in skipped], "reason": [p.reason for p in skipped]}
                ),
                hide_index=True,
                width="stretch",
            )
        if warnings:
            st.dataframe(pd.DataFrame({"warning": warnings}), hide_index=True, width="stretch")
