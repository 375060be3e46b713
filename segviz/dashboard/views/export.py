"""Export and share: CSV/JSON downloads, figures as PNG/SVG, the stakeholder report (HTML or PDF)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import streamlit as st

from segviz import SegvizError
from segviz.figures import class_bar_figure

from .. import cache
from ..context import RESAMPLES, Context
from ..widgets import name, safe_filename, server_text

CSV_FILES = ("classes.csv", "images.csv", "confusion_matrix.csv")  # the keys of segviz.export.tables_csv


def render(ctx: Context, confusion) -> None:
    """The export panel of the current model; ``confusion()`` builds the confusion figure as shown.

    Files are built when a button is clicked (callable ``data``), never on a rerun."""
    from segviz.export import figure_bytes, results_json, tables_csv

    result = ctx.result
    with st.expander("Export and share"):
        cols = st.columns(4)
        for col, fname in zip(cols, CSV_FILES, strict=False):
            col.download_button(
                fname,
                functools.partial(_table_csv, tables_csv, result, fname),
                file_name=fname,
                mime="text/csv",
                width="stretch",
                on_click="ignore",
            )
        cols[3].download_button(
            "results.json",
            functools.partial(results_json, result),
            file_name="results.json",
            mime="application/json",
            width="stretch",
            on_click="ignore",
        )
        f1, f2, f3 = st.columns([2, 1, 2])
        which = f1.selectbox("Figure", ["Per-class IoU", "Confusion matrix"], key="ex:fig")
        fmt_ = f2.selectbox("Format", ["png", "svg"], key="ex:fmt")
        if f3.button("Render figure", key="ex:render", width="stretch"):
            fig = (
                confusion()
                if which == "Confusion matrix"
                else class_bar_figure(result.class_frame(), result.table)
            )
            try:
                st.session_state["ex:bytes"] = (which, fmt_, figure_bytes(fig, format=fmt_, width=1200))
            except SegvizError as exc:
                st.error(name(server_text(str(exc))))
        if st.session_state.get("ex:bytes"):
            label, ext, data = st.session_state["ex:bytes"]
            st.download_button(
                f"Download {label} ({ext.upper()})",
                data,
                key="ex:dl",
                file_name=f"{safe_filename(label.lower())}.{ext}",
                mime="image/png" if ext == "png" else "image/svg+xml",
            )
        _report_ui(ctx)


def _table_csv(tables_csv, result, fname: str) -> bytes:
    return tables_csv(result)[fname]


def _report_ui(ctx: Context) -> None:
    r1, r2 = st.columns(2)
    if r1.button("Build report (HTML)", key="ex:report", width="stretch"):
        st.session_state["ex:report_html"] = build_report_cached(ctx)
    if r2.button("Build report (PDF)", key="ex:pdf", width="stretch"):
        from segviz.report import write_pdf

        with tempfile.TemporaryDirectory() as tmp:
            try:
                write_pdf(build_report_cached(ctx), Path(tmp) / "report.pdf")
                st.session_state["ex:report_pdf"] = (Path(tmp) / "report.pdf").read_bytes()
            except SegvizError as exc:
                st.error(name(server_text(str(exc))))
    sel = ctx.sel
    stem = safe_filename(f"{sel.root.name}-{sel.model or 'predictions'}-report")
    if st.session_state.get("ex:report_html"):
        r1.download_button(
            "Download report.html",
            st.session_state["ex:report_html"],
            file_name=f"{stem}.html",
            mime="text/html",
            key="ex:dl_html",
            width="stretch",
        )
    if st.session_state.get("ex:report_pdf"):
        r2.download_button(
            "Download report.pdf",
            st.session_state["ex:report_pdf"],
            file_name=f"{stem}.pdf",
            mime="application/pdf",
            key="ex:dl_pdf",
            width="stretch",
        )


def build_report_cached(ctx: Context) -> str:
    from segviz.report import build_report

    sel = ctx.sel
    return cache.cached(
        ("report", ctx.key),
        lambda: build_report(
            ctx.result,
            title=f"{sel.root.name} — {sel.model or 'predictions'}",
            dataset=sel.root.name,
            model=sel.model,
            resamples=RESAMPLES,
        ),
    )
