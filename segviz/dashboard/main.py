"""The dashboard's entry: page config, state, sidebar -> Selection, one page per view, URL sync.

``streamlit run app.py`` (the repository's entry) and ``segviz app [DATASET]`` (an installed segviz,
which runs this file as the script: absolute imports only) both call :func:`main`.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from segviz import SegvizError
from segviz.classes import describe_table_choice
from segviz.dashboard import cache, sidebar, state
from segviz.dashboard.context import Context
from segviz.dashboard.views import anatomy, compare, confidence, images, overview, present, slices
from segviz.dashboard.widgets import name, problems, server_text

PAGES = {
    "Overview": overview.render,
    "Images": images.render,
    "Compare": compare.render,
    "Confidence": confidence.render,  # offered by the sidebar only when the model has confidence
    "Errors": anatomy.render,
    "Slices": slices.render,
}


def data_root(default: Path) -> Path:
    """The folder datasets are listed under and confined to ($SEGVIZ_DATA_ROOT, else ``default``)."""
    return Path(os.environ.get("SEGVIZ_DATA_ROOT", default)).resolve()


def main(default_root: Path | None = None) -> None:
    st.set_page_config(page_title="segviz", page_icon="🟦", layout="wide")
    cache.warm_imports()  # (once per process, in the background: scipy.cluster for a large matrix)
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
        st.error(name(server_text(str(exc))))
        state.sync_url()
        st.stop()
    sidebar.files_ui(cache.opened(sel.root, sel.model, sel.table, sel.allowed), cache.files_of(key))
    st.title(name(sel.root.name) + (f" · {name(sel.model)}" if sel.model else ""))
    # how the class table was chosen, in the command line's words (issue 10, item 7)
    st.caption(name(f"{result.num_images} images · {server_text(describe_table_choice(result.table).text)}"))
    problems(result.skipped, result.warnings, [*result.table.warnings, *cache.store_warnings(key)])
    if result.num_images == 0:
        show_notices()
        st.error("No image could be evaluated; see the problems above.")
        return
    result, key = slices.apply_slice(sel, state.current(), result, key)  # a slice filters every view
    current = state.validate(
        state.current(), num_classes=result.table.num_classes, names=cache.name_index(result, key)
    )
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
    current = state.validate(
        state.current(), num_classes=result.table.num_classes, names=cache.name_index(result, key)
    )
    show_notices()
    present.render(Context(sel, current, result, key))


def show_notices() -> None:
    """The one-line notices about what the link asked for and could not be shown."""
    for text in state.take_notices():
        st.warning(name(text), icon=":material/link:")


if __name__ == "__main__":  # `streamlit run segviz/dashboard/main.py` (what `segviz app` does)
    main()
