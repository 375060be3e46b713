"""The dashboard's entry: page config, state, sidebar -> Selection, one page per view, URL sync.

``streamlit run app.py`` (the repository's entry) and ``segviz app [DATASET]`` (an installed segviz,
which runs this file as the script: absolute imports only) both call :func:`main`.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from segviz import SegvizError
from segviz.dashboard import sidebar, state
from segviz.dashboard.context import Context
from segviz.dashboard.views import compare, images, overview, present
from segviz.dashboard.widgets import name, problems

PAGES = {"Overview": overview.render, "Images": images.render, "Compare": compare.render}


def data_root(default: Path) -> Path:
    """The folder datasets are listed under and confined to ($SEGVIZ_DATA_ROOT, else ``default``)."""
    return Path(os.environ.get("SEGVIZ_DATA_ROOT", default)).resolve()


def main(default_root: Path | None = None) -> None:
    st.set_page_config(page_title="segviz", page_icon="🟦", layout="wide")
    default_dataset = os.environ.get("SEGVIZ_DATASET", "sample_data")
    state.init(default_dataset)
    sel = sidebar.render(data_root(default_root or Path.cwd()), default_dataset)
    if sel is None:
        show_notices()
        state.sync_url()
        st.stop()
    view = state.current().view
    # The view comes from the ViewState (URL ?view=, the sidebar radio, a thumbnail's button), so the
    # navigation holds the one page to draw; its title names the browser tab.
    page = st.navigation([st.Page(lambda: _run(sel, view), title=view, default=True)], position="hidden")
    page.run()
    state.sync_url()


def _run(sel: sidebar.Selection, view: str) -> None:
    if state.current().present:
        _present(sel)
        return
    try:
        if view == "Compare":
            show_notices()
            compare.render(Context(sel, state.current()))
            return
        result, key = Context(sel, state.current()).evaluation(sel.model)
    except SegvizError as exc:
        st.error(str(exc))
        state.sync_url()
        st.stop()
    st.title(name(sel.root.name) + (f" · {name(sel.model)}" if sel.model else ""))
    st.caption(
        f"{result.num_images} images · class table: {result.table.origin} · "
        f"ignore ids: {', '.join(map(str, result.table.ignore_ids)) or 'none'}"
    )
    problems(result.skipped, [*result.table.warnings, *(w.reason for w in result.warnings)])
    if result.num_images == 0:
        show_notices()
        st.error("No image could be evaluated; see the problems above.")
        return
    current = state.validate(state.current(), num_classes=result.table.num_classes, names=result.names)
    show_notices()
    PAGES[view](Context(sel, current, result, key))


def _present(sel: sidebar.Selection) -> None:
    """Stakeholder mode: the presentation of the selected model, whatever the view."""
    try:
        result, key = Context(sel, state.current()).evaluation(sel.model)
    except SegvizError as exc:
        st.error(str(exc))
        return
    if result.num_images == 0:
        st.error("No image could be evaluated; leave presentation mode to see why.")
        return
    current = state.validate(state.current(), num_classes=result.table.num_classes, names=result.names)
    show_notices()
    present.render(Context(sel, current, result, key))


def show_notices() -> None:
    """The one-line notices about what the link asked for and could not be shown."""
    for text in state.take_notices():
        st.warning(text, icon=":material/link:")


if __name__ == "__main__":  # `streamlit run segviz/dashboard/main.py` (what `segviz app` does)
    main()
