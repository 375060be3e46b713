"""Small display helpers shared by the views: number formatting, names, metric tiles, legends, CSS.

Every user-visible name (dataset, model, class, image) goes through :func:`name` or :func:`name_html`,
so escaping rules live in one place.
"""

from __future__ import annotations

import html
import re

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
[class*="st-key-tiles"] [data-testid="stMetric"] { container-type: inline-size; }
[class*="st-key-tiles"] [data-testid="stMetricValue"] { font-size: min(2.25rem, 14cqi); }
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


#: Characters Streamlit's markdown gives a meaning (CommonMark punctuation, LaTeX ``$``, HTML).
_MARKDOWN = frozenset("\\`*_{}[]()#+-.!|<>~$&:;\"'=^%@")
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate / pop: a name's direction stays inside it
WJ = "\u2060"  # word joiner (invisible): breaks what GitHub-flavoured Markdown turns into links
# GFM links bare URLs and e-mail addresses *after* backslash escapes are undone, so escaping is not
# enough: a word joiner after "http", "www", ... and before "@" keeps them text.
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|www|xmpp)")
MAX_SHOWN = 40  # longer names are cut in axes, bars and tables (the full name on hover)


def literal(text: str) -> str:
    """``text`` with control characters escaped (a newline cannot start a new line or block).

    >>> print(literal("a" + chr(10) + "b" + chr(27)))
    a\\nb\\x1b
    """
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in str(text))


def isolate(text: str) -> str:
    """``text`` between U+2068 and U+2069, so that a right-to-left override in a name cannot
    reorder the numbers around it."""
    return f"{FSI}{text}{PDI}"


def short(text: str, limit: int = MAX_SHOWN) -> str:
    """A name cut to ``limit`` characters with "…".

    >>> short("a" * 50, 10), short("road")
    ('aaaaaaaaa…', 'road')
    """
    text = literal(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name(text: str, limit: int | None = None) -> str:
    """A user-supplied name (dataset, model, class, image) as literal text inside Streamlit
    markdown (headings, captions, labels, buttons, notices): every markdown, LaTeX and HTML
    character backslash-escaped, control characters escaped, the direction isolated.

    >>> print(name("[x](http://e.example) $1$").strip(FSI + PDI).replace(WJ, ""))
    \\[x\\]\\(http\\://e\\.example\\) \\$1\\$
    """
    text = short(text, limit) if limit else literal(text)
    text = _AUTOLINK.sub("\\1" + WJ, text).replace("@", WJ + "@")
    return isolate("".join("\\" + ch if ch in _MARKDOWN else ch for ch in text))


def plain(text: str, limit: int | None = MAX_SHOWN) -> str:
    """A name for plain-text places (table cells, select options): control characters escaped,
    cut to ``limit``. (A cell holds one value, so a direction override cannot reach its numbers.)"""
    return short(text, limit) if limit else literal(text)


def plot_names(names) -> list[str]:
    """Names for plotly axes and hover, before the figure escapes them (plotly renders a subset of
    HTML): cut to :data:`MAX_SHOWN`, isolated, and kept distinct (two long names sharing their first
    characters would merge into one axis category, so later ones get " #2", " #3", ...)."""
    out, seen = [], {}
    for n in names:
        label = short(n)
        seen[label] = seen.get(label, 0) + 1
        out.append(isolate(label if seen[label] == 1 else f"{label} #{seen[label]}"))
    return out


_ABSOLUTE = re.compile(r"(?<![^\s'\"(=])/[^/\s:,;'\"()]+(?:/[^/\s:,;'\"()]+)+")


def plot_title(text: str, limit: int = MAX_SHOWN) -> str:
    """A name inside a plotly title or label the dashboard builds itself (the figure functions
    escape only the names they take as data): cut, HTML-escaped, isolated.

    >>> plot_title("<b>x</b>") == isolate("&lt;b&gt;x&lt;/b&gt;")
    True
    """
    return isolate(html.escape(short(text, limit), quote=False))


def server_text(text: str, paths: list[tuple[str, str]] | None = None) -> str:
    """A message for viewers without the server's absolute folders (issue 11, item 16): paths below
    the data root relative to it, an upload's below "<upload>", any other absolute path reduced to
    its last two parts. ``paths``: (folder, label) pairs, by default the session's
    (:func:`segviz.dashboard.state.set_server_paths`). Every message that may hold a path goes
    through here.

    >>> server_text("/srv/d/camvid/classes.csv: bad, outside the data root /srv/d", [("/srv/d", "")])
    'camvid/classes.csv: bad, outside the data root <data root>'
    >>> server_text("link to /etc/ssl/private/key.pem refused", [])
    'link to …/private/key.pem refused'
    """
    from . import state

    text = str(text)
    paths = state.server_paths() if paths is None else paths
    for prefix, label in sorted(paths, key=lambda p: -len(p[0])):
        prefix = prefix.rstrip("/")
        if not prefix:
            continue
        text = text.replace(prefix + "/", f"{label}/" if label else "")
        text = re.sub(re.escape(prefix) + r"(?![\w.-])", lambda _, lb=label: lb or "<data root>", text)
    return _ABSOLUTE.sub(lambda m: "…/" + "/".join(m.group(0).split("/")[-2:]), text)


def name_html(text: str) -> str:
    """A user-supplied name inside HTML that the app writes itself: HTML-escaped, and the characters
    Markdown or LaTeX would act on as numeric entities (the browser shows them as text), isolated.

    >>> name_html("![x](u) <b>")
    '\u2068&#33;&#91;x&#93;&#40;u&#41; &lt;b&gt;\u2069'
    """
    escaped = html.escape(literal(text))
    return isolate("".join(f"&#{ord(ch)};" if ch in "![]()$*_`\\~|" else ch for ch in escaped))


def safe_filename(text: str) -> str:
    """A download file name built from user-supplied names."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def metric_tiles(tiles: list[tuple[str, str, str]], per_row: int = 4, *, key: str = "tiles") -> None:
    """(label, value, help) tiles in rows of ``per_row``, in a container keyed ``key`` (one per
    group on a page; every key starting with ``tiles`` gets :data:`OVERVIEW_CSS`'s shrink-to-fit)."""
    box = st.container(key=key)
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


def problems(skipped, warnings, notes=()) -> None:
    """What went wrong while loading: one line per kind of problem (400 photos at a quarter of
    their masks' size are one line with the count and the first names; issue 10, item 12), one line
    per note (class-table and results-store warnings), and an expander listing every problem."""
    from segviz.problems import problem_lines

    lines = [*problem_lines([*skipped, *warnings], with_names=True), *notes]
    for line in lines:
        st.warning(name(server_text(line)), icon=":material/warning:")
    if not (skipped or warnings or notes):
        return
    with st.expander(f"⚠ {len(skipped)} skipped, {len(warnings)} warnings while loading", expanded=False):
        if skipped:
            st.dataframe(
                pd.DataFrame(
                    {
                        "sample": [p.name for p in skipped],
                        "reason": [server_text(p.reason) for p in skipped],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
        if warnings or notes:
            texts = [*(server_text(w.reason) for w in warnings), *(server_text(n) for n in notes)]
            st.dataframe(pd.DataFrame({"warning": texts}), hide_index=True, width="stretch")


def cell_name(result, cell: tuple[int, int]) -> tuple[str, str]:
    """(GT class name, predicted class name) of a confusion cell, shown literally (:func:`name`);
    column K is the invalid column."""
    from segviz.figures import INVALID_NAME

    names = [*result.table.names, INVALID_NAME]
    return name(names[cell[0]]), name(names[cell[1]])
