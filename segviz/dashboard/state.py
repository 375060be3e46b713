"""The shareable selection: one frozen :class:`ViewState`, read once per run, validated where it enters.

Streamlit widgets are bound to plain session-state keys (``dataset``, ``model``, ``view``, ``cell``,
``image``, ``present``, ``cvd``); this module is the only one that writes them outside a widget. Values
enter from two places and are checked there: the URL query string (:func:`init`, once per session) and
the widgets/callbacks below. What depends on the data (a cell against the class count, an image against
the image names) is checked by :func:`validate` once the evaluation is known. Anything malformed is
dropped with a one-line notice, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

VIEWS = ("Overview", "Images", "Compare")
KEYS = ("dataset", "model", "view", "cell", "image", "present", "cvd")
NOTICES = "_notices"
URL_WRITTEN = "_url_written"  # the managed query parameters as last written
FROM_LINK = "_image_from_link"
URL_KEYS = ("dataset", "model", "view", "cell", "image", "present")


@dataclass(frozen=True)
class ViewState:
    """What the user is looking at: enough to rebuild the view from a link."""

    dataset: str
    model: str | None = None
    view: str = VIEWS[0]
    cell: tuple[int, int] | None = None
    image: str | None = None
    present: bool = False
    cvd: bool = False


MAX_NAME = 255  # longer names (a folder, a model, an image) cannot be real: refused where they enter


def parse_cell(text: str | None) -> tuple[int, int] | None:
    """``"3,1" -> (3, 1)``; anything else (empty, not two integers) -> None.

    >>> parse_cell("3,1"), parse_cell("a,b"), parse_cell(None), parse_cell(" 2 , 0 ")
    ((3, 1), None, None, (2, 0))
    """
    try:
        a, b = (int(v) for v in (text or "").split(","))
        return a, b
    except ValueError:
        return None


def shown(text: str, limit: int = 60) -> str:
    """A user-supplied value as quoted in a notice: control characters escaped, cut to ``limit``.

    >>> print(shown("voc" + chr(0)), shown("a" * 100, limit=5))
    'voc\\x00' 'aaaaa…' (100 characters)
    """
    text = str(text)
    if len(text) > limit:
        return repr(text[:limit])[:-1] + f"…' ({len(text):,} characters)"
    return repr(text)


def plausible_name(text: str | None) -> bool:
    """A dataset, model or image name as it can appear in a URL: not empty, not too long, no
    control characters.

    >>> plausible_name("camvid-val"), plausible_name("voc" + chr(0)), plausible_name("x" * 5000)
    (True, False, False)
    """
    return bool(text) and len(text) <= MAX_NAME and text.isprintable()


def init(default_dataset: str) -> None:
    """Session state is initialised in one place, from the URL query string when present.

    Each parameter is checked here for its form (what depends on the data is checked by the
    sidebar and :func:`validate`); a malformed one is replaced by its default with a notice."""
    if st.session_state.get("_initialised"):
        if browser_navigated():
            _from_url(default_dataset)
        return
    _from_url(default_dataset)


def browser_navigated() -> bool:
    """True when the URL differs from the one this session last wrote: the browser's Back or
    Forward button (Streamlit pushes a history entry for each URL change and reruns the script
    with the old query string on Back), or a link opened in the same tab."""
    written = st.session_state.get(URL_WRITTEN)
    if written is None:
        return False
    return _managed(st.query_params.to_dict()) != written


def _managed(params: dict) -> dict:
    return {k: v for k, v in params.items() if k in URL_KEYS}


def _from_url(default_dataset: str) -> None:
    q = st.query_params
    ss = st.session_state
    dataset = q.get("dataset", default_dataset)
    if not plausible_name(dataset):
        notice(f"The link's dataset {shown(dataset)} is not a folder name; opening {shown(default_dataset)}.")
        dataset = default_dataset
    ss["dataset"] = dataset
    model = q.get("model")
    if model is not None and not plausible_name(model):
        notice(f"The link's model {shown(model)} is not a model name; showing the first model.")
        model = None
    ss["model"] = model
    view = q.get("view")
    if view is not None and view not in VIEWS:
        notice(f"The link's view {shown(view)} is not one of {', '.join(VIEWS)}; showing the {VIEWS[0]}.")
    ss["view"] = view if view in VIEWS else VIEWS[0]
    image = q.get("image")
    if image is not None and not plausible_name(image):
        notice(f"The link's image {shown(image)} is not an image name; showing the first image.")
        image = None
    ss["image"] = image
    cell = parse_cell(q.get("cell"))
    if q.get("cell") is not None and cell is None:
        notice(f"The link's confusion cell {shown(q.get('cell'))} is not two integers (row,column); ignored.")
    ss["cell"] = cell
    if q.get("present") not in (None, "0", "1"):
        notice(f"The link's present={shown(q.get('present'))} is neither 0 nor 1; presentation mode is off.")
    ss["present"] = q.get("present") == "1"
    # a link naming an image and a cell must open an image that has that confusion
    ss[FROM_LINK] = image is not None and cell is not None and ss["view"] == "Images"
    ss["_initialised"] = True


def current() -> ViewState:
    """The selection as one immutable value (read by the views; they never write it)."""
    ss = st.session_state
    return ViewState(
        dataset=ss.get("dataset") or "",
        model=ss.get("model"),
        view=ss.get("view") if ss.get("view") in VIEWS else VIEWS[0],
        cell=ss.get("cell"),
        image=ss.get("image"),
        present=bool(ss.get("present")),
        cvd=bool(ss.get("cvd")),
    )


def notice(text: str) -> None:
    """A one-line message shown at the top of the page on this run."""
    st.session_state.setdefault(NOTICES, []).append(text)


def take_notices() -> list[str]:
    return st.session_state.pop(NOTICES, [])


# ---------------------------------------------------------------- writers (widgets and callbacks)
def set_model(model: str | None) -> None:
    st.session_state["model"] = model


def set_view(view: str) -> None:
    st.session_state["view"] = view if view in VIEWS else VIEWS[0]


def set_image(name: str | None) -> None:
    st.session_state["image"] = name


def set_cell(cell: tuple[int, int] | None) -> None:
    st.session_state["cell"] = cell


def open_image(name: str) -> None:
    """Button callback (runs before the widgets are drawn, so it may change the view)."""
    set_image(name)
    set_view("Images")


def on_cell_select(chart_key: str) -> None:
    """Plotly selection callback: store the clicked cell (AppTest sets session_state['cell'] directly)."""
    event = st.session_state.get(chart_key)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points and points[0].get("customdata"):
        a, b, _ = points[0]["customdata"]
        set_cell((int(a), int(b)))
    else:
        set_cell(None)


# ---------------------------------------------------------------- validation against the data
def validate(state: ViewState, *, num_classes: int, names: list[str] | tuple[str, ...]) -> ViewState:
    """The state with a cell outside the matrix (rows 0..K-1, columns 0..K, K = invalid predictions)
    or an unknown image dropped, each with a notice."""
    changes = {}
    cell = state.cell
    if cell is not None and not (0 <= cell[0] < num_classes and 0 <= cell[1] <= num_classes):
        notice(
            f"Confusion cell {cell[0]},{cell[1]} is outside this {num_classes}-class matrix "
            f"(rows 0–{num_classes - 1}, columns 0–{num_classes}); no cell selected."
        )
        changes["cell"] = None
    if state.image is not None and state.image not in names:
        notice(f"Image {shown(state.image)} is not in this dataset; showing the first image.")
        changes["image"] = None
    if not changes:
        return state
    for key, value in changes.items():
        st.session_state[key] = value
    return replace(state, **changes)


def sync_url(state: ViewState | None = None) -> None:
    """The URL query string follows the selection (the one place that writes it)."""
    state = state or current()
    wanted = {
        "dataset": state.dataset or None,
        "model": state.model,
        "view": state.view,
        "cell": ",".join(map(str, state.cell)) if state.cell else None,
        "image": state.image,
        "present": "1" if state.present else None,
    }
    wanted = {k: str(v) for k, v in wanted.items() if v is not None}
    st.session_state[URL_WRITTEN] = wanted
    if _managed(st.query_params.to_dict()) != wanted:
        # one message for all keys: Streamlit pushes one browser-history entry per URL change, so
        # Back returns to the previous view/image/cell rather than a half-written URL
        others = {k: v for k, v in st.query_params.to_dict().items() if k not in URL_KEYS}
        st.query_params.from_dict({**others, **wanted})
