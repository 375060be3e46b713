"""HTML building blocks of the report: escaping, the template files, figures, numbers, swatches."""

from __future__ import annotations

import html
import string
from collections.abc import Sequence
from functools import cache
from importlib import resources

import plotly.graph_objects as go

from segviz import display

PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


def esc(text: object) -> str:
    """HTML-escape anything shown (quotes included, so it is safe in attributes too).

    Example:
        >>> esc('<b a="1">&')
        '&lt;b a=&quot;1&quot;&gt;&amp;'
    """
    return html.escape(str(text), quote=True)


def esc_name(name: object) -> str:
    """A class name escaped, with a line-break opportunity after each ``;`` (ADE20K's names are
    lists of synonyms such as ``computer;computing;machine;…`` with no space to wrap at).

    Example:
        >>> esc_name("a;<b>")
        'a;<wbr>&lt;b&gt;'
    """
    return ";<wbr>".join(esc(part) for part in str(name).split(";"))  # not the entities' ";"


@cache
def data_file(name: str) -> str:
    """The text of a file shipped in the ``segviz.report`` package (``report.css``, ``*.html``)."""
    return resources.files("segviz.report").joinpath(name).read_text(encoding="utf-8")


def fill(template: str, /, **values: object) -> str:
    """The template file ``template`` with its ``$placeholders`` filled (values are inserted as they are:
    escape data before). A missing placeholder raises ``KeyError``.

    Example:
        >>> fill("page.html", csp="", version="1", title="T", css="", plotlyjs="", body="<p>x</p>")[:15]
        '<!DOCTYPE html>'
    """
    return string.Template(data_file(template)).substitute(values)


def figure_html(fig: go.Figure, name: str) -> str:
    """A plotly figure as an HTML fragment (plotly.js itself is in the page head, once)."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config=PLOTLY_CONFIG,
        div_id=f"figure-{name}",
        default_width="100%",
    )


def format_percent(value: float | None, digits: int = 2) -> str:
    """A 0..1 metric as the report prints it: ``"71.23 %"``, or ``"n/a"`` when undefined.

    Example:
        >>> format_percent(0.712345), format_percent(float("nan")), format_percent(0.5, 1)
        ('71.23 %', 'n/a', '50.0 %')
    """
    return display.percent(value, digits)


def pct_range(low: float, high: float, digits: int = 1) -> str:
    """An interval of 0..1 values as percentages.

    Example:
        >>> pct_range(0.64843, 0.69361)
        '64.8 – 69.4'
    """
    return f"{100 * float(low):.{digits}f} – {100 * float(high):.{digits}f}"


def num(value: float) -> str:
    """A 0..1 value as a percentage with one decimal, for tables (``n/a`` when undefined).

    Example:
        >>> num(0.5), num(float("nan"))
        ('50.0', 'n/a')
    """
    return display.percent(value, 1, unit=False)


def signed(value: float) -> str:
    """A 0..1 change as signed percentage points with one decimal (``n/a`` when undefined)."""
    return display.points(value, 1)


def swatch(colour: Sequence[int]) -> str:
    """A small square of a class colour.

    Example:
        >>> swatch((1, 2, 3))
        '<span class="swatch" style="background:rgb(1,2,3)"></span>'
    """
    r, g, b = (int(c) for c in colour)
    return f'<span class="swatch" style="background:rgb({r},{g},{b})"></span>'
