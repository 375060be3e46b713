"""The shareable selection: one frozen :class:`ViewState`, read once per run, validated where it enters.

Streamlit widgets are bound to plain session-state keys (``dataset``, ``model``, ``view``, ``cell``,
``image``, ``present``, ``step``, ``cvd``); this module is the only one that writes them outside a widget. Values
enter from two places and are checked there: the URL query string (:func:`init`, once per session) and
the widgets/callbacks below. What depends on the data (a cell against the class count, an image against
the image names) is checked by :func:`validate` once the evaluation is known. Anything malformed is
dropped with a one-line notice, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

import streamlit as st

VIEWS = ("Overview", "Images", "Compare", "Errors", "Confidence", "Slices")
KEYS = ("dataset", "model", "view", "cell", "image", "present", "step", "cvd", "errors", "slice")
NOTICES = "_notices"
URL_WRITTEN = "_url_written"  # the managed query parameters as last written
FROM_LINK = "_image_from_link"
URL_KEYS = ("dataset", "model", "view", "cell", "image", "present", "step", "errors", "slice")


@dataclass(frozen=True)
class ViewState:
    """What the user is looking at: enough to rebuild the view from a link."""

    dataset: str
    model: str | None = None
    view: str = VIEWS[0]
    cell: tuple[int, int] | None = None
    image: str | None = None
    present: bool = False
    step: int = 0  # presentation screen, 0-based; in the URL 1-based (step=3: the "3 / 5" screen)
    cvd: bool = False
    errors: str | None = None  # error-type filter "class_index:type" (Errors view), see parse_errors
    slice: str | None = None  # "column=value" or "a=x&b=y" (see format_slice): a filter for every view


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


MAX_STEP = 99  # more screens than a presentation can have: a longer step number is refused


def parse_step(text: str | None) -> int | None:
    """The URL's presentation step (1-based, as the "3 / 5" indicator) as a 0-based screen index;
    None when it is not a whole number from 1 to :data:`MAX_STEP`.

    >>> parse_step("3"), parse_step(" 1 "), parse_step("0"), parse_step("two"), parse_step("1e9")
    (2, 0, None, None, None)
    """
    try:
        step = int((text or "").strip())
    except ValueError:
        return None
    return step - 1 if 1 <= step <= MAX_STEP else None


def parse_errors(text: str | None) -> str | None:
    """An error-type filter ``"class_index:type"`` (type: one of segviz.anatomy's error types, e.g.
    ``fn_segment`` = missed segments) in its canonical form; anything else -> None.

    >>> parse_errors("3:fn_segment"), parse_errors(" 0 : boundary "), parse_errors("3:tp"), parse_errors("x:segment")
    ('3:fn_segment', '0:boundary', None, None)
    """
    from typing import get_args

    from segviz.anatomy import ErrorType

    try:
        index, kind = (text or "").split(":")
        index, kind = int(index), kind.strip()
    except ValueError:
        return None
    return f"{index}:{kind}" if index >= 0 and kind in get_args(ErrorType) else None


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
        # the URL is adopted only while the session's own state is what it last wrote: a widget or
        # callback that changed it in this rerun sent the request before the browser had applied
        # the previous run's URL (a lagging URL, not Back), and its change wins
        if browser_navigated() and url_of(current()) == st.session_state.get(URL_WRITTEN):
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
    ss["_dataset_from_link"] = "dataset" in q
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
    errors = parse_errors(q.get("errors"))
    if q.get("errors") is not None and errors is None:
        notice(
            f"The link's error filter {shown(q.get('errors'))} is not class:type (e.g. 3:fn_segment); ignored."
        )
    ss["errors"] = errors
    if q.get("present") not in (None, "0", "1"):
        notice(f"The link's present={shown(q.get('present'))} is neither 0 nor 1; presentation mode is off.")
    ss["present"] = q.get("present") == "1"
    step = parse_step(q.get("step"))
    if q.get("step") is not None and step is None:
        notice(
            f"The link's presentation step {shown(q.get('step'))} is not a screen number "
            f"(1 to {MAX_STEP}); showing the first screen."
        )
    ss["step"] = step or 0
    ss["slice"] = slice_from_url(q.get("slice"))
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
        step=int(ss.get("step") or 0),
        cvd=bool(ss.get("cvd")),
        errors=ss.get("errors"),
        slice=ss.get("slice"),
    )


SERVER_PATHS = "_server_paths"


def set_server_paths(data_root, roots=(), upload=None) -> None:
    """The server folders this session's messages may name, and how viewers see them
    (:func:`segviz.dashboard.widgets.server_text`): the data root's files relative to it, an
    upload's relative to "upload", the other allowed roots by their position in SEGVIZ_DATA_ROOTS."""
    paths = [(str(data_root), "")]
    paths += [(str(r), f"<SEGVIZ_DATA_ROOTS {i}>") for i, r in enumerate(roots) if str(r) != str(data_root)]
    if upload is not None:
        paths.insert(0, (str(upload), "<upload>"))
    st.session_state[SERVER_PATHS] = paths


def server_paths() -> list[tuple[str, str]]:
    return st.session_state.get(SERVER_PATHS, [])


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


def set_step(step: int) -> None:
    """The presentation screen (0-based)."""
    st.session_state["step"] = max(int(step), 0)


def set_errors(errors: str | None) -> None:
    st.session_state["errors"] = parse_errors(errors)


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
    if state.errors is not None and int(state.errors.split(":")[0]) >= num_classes:
        notice(
            f"Error filter {shown(state.errors)}: class {state.errors.split(':')[0]} is not in this "
            f"{num_classes}-class table; no error filter."
        )
        changes["errors"] = None
    if state.image is not None and state.image not in names:
        notice(f"Image {shown(state.image)} is not in this dataset; showing the first image.")
        changes["image"] = None
    if not changes:
        return state
    for key, value in changes.items():
        st.session_state[key] = value
    return replace(state, **changes)


def url_of(state: ViewState) -> dict[str, str]:
    """The managed query parameters that stand for ``state``."""
    wanted = {
        "dataset": state.dataset or None,
        "model": state.model,
        "view": state.view,
        "cell": ",".join(map(str, state.cell)) if state.cell else None,
        "image": state.image,
        "present": "1" if state.present else None,
        "step": str(state.step + 1) if state.present else None,  # only a presentation has steps
        "errors": state.errors,
        "slice": state.slice,
    }
    return {k: str(v) for k, v in wanted.items() if v is not None}


def sync_url(state: ViewState | None = None) -> None:
    """The URL query string follows the selection (the one place that writes it)."""
    wanted = url_of(state or current())
    st.session_state[URL_WRITTEN] = wanted
    if _managed(st.query_params.to_dict()) != wanted:
        # one message for all keys: Streamlit pushes one browser-history entry per URL change, so
        # Back returns to the previous view/image/cell rather than a half-written URL
        others = {k: v for k, v in st.query_params.to_dict().items() if k not in URL_KEYS}
        st.query_params.from_dict({**others, **wanted})


# ---------------------------------------------------------------- slices (issue 15)
MAX_SLICE = 1000  # characters of a slice parameter: longer cannot be two real conditions
SLICE_SAFE = " :[](),.+-_/*'!@;<>~"  # kept readable in the encoded form; "%", "&" and "=" never are


def format_slice(conditions) -> str:
    """A slice's (column, value) conditions as one URL-safe text: each part percent-encoded, so a
    column or value holding "=", "&" or "%" survives the round trip.

    >>> format_slice([("time", "dusk")]), format_slice([("a=b", "x&y"), ("share:Road", "(0.3, 0.35]")])
    ('time=dusk', 'a%3Db=x%26y&share:Road=(0.3, 0.35]')
    """
    return "&".join(
        f"{quote(str(c), safe=SLICE_SAFE)}={quote(str(v), safe=SLICE_SAFE)}" for c, v in conditions
    )


def parse_slice(text: str | None) -> tuple[tuple[str, str], ...] | None:
    """The (column, value) conditions of a slice text (one or two); None when malformed.

    >>> parse_slice("a%3Db=x%26y&share:Road=(0.3, 0.35]")
    (('a=b', 'x&y'), ('share:Road', '(0.3, 0.35]'))
    >>> parse_slice("time"), parse_slice("a=1&b=2&c=3"), parse_slice("=x"), parse_slice("t=" + chr(7))
    (None, None, None, None)
    """
    if not text or len(text) > MAX_SLICE or not text.isprintable():
        return None
    parts = text.split("&")
    if len(parts) > 2 or any("=" not in part for part in parts):
        return None
    out = []
    for part in parts:
        column, _, value = part.partition("=")
        column, value = unquote(column), unquote(value)
        if not column or not (column + value).isprintable():
            return None
        out.append((column, value))
    return tuple(out)


def slice_from_url(text: str | None) -> str | None:
    """The URL's slice when well-formed (re-encoded canonically), else None with a notice."""
    if text is None:
        return None
    conditions = parse_slice(text)
    if conditions is None:
        notice(f"The link's slice {shown(text)} is not column=value (or a=x&b=y); showing all images.")
        return None
    return format_slice(conditions)


def set_slice(text: str | None) -> None:
    st.session_state["slice"] = text
