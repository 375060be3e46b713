"""The sidebar: dataset, model, class table, ignore ids, view and display toggles -> a Selection."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from segviz import ClassTable, SegvizError, list_models
from segviz.archive import extract_dataset_zip
from segviz.classes import parse_ignore_ids
from segviz.presets import PRESETS
from segviz.safety import ROOT_RULE, allowed_roots, inside_roots

from . import cache, state, uploads
from .widgets import name, server_text

DATASET_TABLE = "dataset's classes.csv"
GENERATED_TABLE = "generated from the masks"


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: the dataset folder, the model, the class table (None = generated)."""

    root: Path
    model: str | None
    table: ClassTable | None
    table_choice: str
    models: list[str]
    generated_ignore: tuple[int, ...] = ()
    allowed: tuple[str, ...] = field(default=())  # every file read must resolve inside one of these


#: How far the sidebar looks for datasets: folder depth below the data root, folders visited, and
#: how long a listing is reused (a new folder shows up within that time).
LIST_DEPTH = 3
LIST_MAX_FOLDERS = 5000
LIST_TTL_S = 30


def data_roots(data_root: Path) -> tuple[Path, ...]:
    """The folders datasets may resolve into: the data root, then each of ``SEGVIZ_DATA_ROOTS``
    (``os.pathsep``-separated)."""
    extra = [p for p in os.environ.get("SEGVIZ_DATA_ROOTS", "").split(os.pathsep) if p.strip()]
    return tuple(dict.fromkeys(allowed_roots([data_root, *extra])))


@dataclass(frozen=True)
class Listing:
    """The datasets found under the data root (relative paths), the symlinked ones refused (with
    why), and a note when the walk stopped early."""

    datasets: tuple[str, ...]
    refused: tuple[str, ...] = ()
    stopped: str | None = None


def discover_datasets(
    root: Path, roots: tuple[Path, ...] = (), *, depth: int = LIST_DEPTH, max_folders: int = LIST_MAX_FOLDERS
) -> Listing:
    """Folders below ``root`` that hold gt/, at most ``depth`` levels down and ``max_folders``
    folders visited. A symbolic link to a folder is listed when its target lies inside one of
    ``roots`` (the allowed roots) and refused otherwise; links are never walked into."""
    roots = roots or (root,)
    found, refused, visited = [], [], 0
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        rel = Path(dirpath).relative_to(root)
        if (Path(dirpath) / "gt").is_dir():
            found.append(rel.as_posix())
        if len(rel.parts) + 1 >= depth:
            dirnames[:] = []
        names = sorted(d for d in dirnames if not d.startswith(".") and d not in ("gt", "pred", "images"))
        dirnames[:] = []
        for d in names:
            visited += 1
            if visited > max_folders:
                return Listing(tuple(found), tuple(refused), f"listing stopped after {max_folders:,} folders")
            path = Path(dirpath) / d
            if not path.is_symlink():
                dirnames.append(d)
            elif (path / "gt").is_dir():
                if inside_roots(path.resolve(), roots):
                    found.append((rel / d).as_posix())
                else:
                    refused.append(f"{(rel / d).as_posix()}: {LINK_RULE}")
    return Listing(tuple(found), tuple(refused))


LINK_RULE = (
    "a symbolic link to a folder outside the data root and SEGVIZ_DATA_ROOTS, not listed; "
    f"{ROOT_RULE} (add the folder to SEGVIZ_DATA_ROOTS to allow it)"
)


@st.cache_data(ttl=LIST_TTL_S, max_entries=16, show_spinner=False)
def cached_listing(root: str, roots: tuple[str, ...]) -> Listing:
    """The listing, computed at most once per ``LIST_TTL_S`` seconds (not on every interaction)."""
    return discover_datasets(Path(root), tuple(Path(r) for r in roots))


def resolve_in_root(text: str, root: Path, roots: tuple[Path, ...] = ()) -> Path:
    """A dataset path from the URL or the sidebar: relative, without ``..``, below the data root,
    and resolving (symlinks followed) inside one of the allowed ``roots``. Messages quote the name,
    never the server's folders. Returns the path below the data root (links not resolved)."""
    roots = roots or (root,)
    try:
        given = Path(text)
        if given.is_absolute() or ".." in given.parts:
            raise SegvizError(f"{state.shown(text)}: outside the data root")
        candidate = root / given
        if not inside_roots(candidate.resolve(), roots):
            raise SegvizError(f"{state.shown(text)}: {LINK_RULE.replace(', not listed', '')}")
        if not candidate.is_dir():
            raise SegvizError(f"{state.shown(text)}: no such dataset folder under the data root")
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system, ...
        raise SegvizError(f"{state.shown(text)}: not a usable folder name") from None
    return candidate


def _dataset_root(data_root: Path, datasets: tuple[str, ...], default: str, roots) -> Path | None:
    """The chosen dataset's folder. A default that does not exist opens the first dataset found,
    quietly; an unusable one from a link is reported in one line and replaced the same way."""
    current = st.session_state["dataset"]
    try:
        return resolve_in_root(current, data_root, roots)
    except SegvizError as exc:
        for fallback in dict.fromkeys([default, *datasets]):
            if fallback == current:
                continue
            try:
                root = resolve_in_root(fallback, data_root, roots)
            except SegvizError:
                continue
            if st.session_state.get("_dataset_from_link") or current != default:
                st.error(name(f"{exc}; opened {state.shown(fallback)} instead."))
            st.session_state["dataset"] = fallback
            return root
        if current == default and not os.path.lexists(data_root / current):
            st.error(
                "No dataset under the data root: a dataset is a folder holding gt/ and pred/ "
                f"(looked {LIST_DEPTH} levels down)."
            )
        else:
            st.error(name(str(exc)))
        return None


def upload_ui() -> tuple[Path, Path] | None:
    """(dataset folder, the upload's own folder: the only place its files may resolve into)."""
    upload = st.sidebar.file_uploader(
        "…or upload a dataset zip",
        type=["zip"],
        key="upload",
        help="A zip holding images/, gt/, pred/ and classes.csv",
    )
    folders = uploads.upload_folders()
    if upload is None:
        if st.session_state.pop("_upload_root", None) is not None:
            folders.discard(uploads.session_id())  # removed from the box: its folder goes now
            st.session_state.pop("_upload_marker", None)
        return None
    # keyed on the content (issue 11, item 14): a changed zip with the same name and size is new
    marker = _content_key(upload)
    root = st.session_state.get("_upload_root")
    # a session that reconnects after its folder was released extracts the zip again
    if st.session_state.get("_upload_marker") != marker or root is None or not Path(root).is_dir():
        base = folders.new(uploads.session_id())
        try:
            root = extract_dataset_zip(upload, base / "data")
        except SegvizError as exc:
            folders.discard(uploads.session_id())
            st.sidebar.error(name(server_text(str(exc))))
            return None
        st.session_state["_upload_root"] = root
        st.session_state["_upload_base"] = str(base)
        st.session_state["_upload_marker"] = marker
    return Path(root), Path(st.session_state["_upload_base"])


def _content_key(upload) -> str:
    """A hash of the upload's bytes, computed once per uploaded file (not on every rerun)."""
    file_id = getattr(upload, "file_id", None)
    known = st.session_state.get("_upload_hash")
    if file_id is not None and known is not None and known[0] == file_id:
        return known[1]
    digest = hashlib.blake2b(upload.getvalue(), digest_size=16).hexdigest()
    st.session_state["_upload_hash"] = (file_id, digest)
    return digest


def _class_table(root: Path, allowed: tuple[Path, ...]) -> tuple[ClassTable | None, str, str]:
    """(table or None for a generated one, choice, ignore-id text) from the class-table widgets.

    The default is the dataset's classes.csv when it has one, else a table generated from the ids
    in the masks (what ``segviz evaluate`` does); a preset is used only when the user picks it."""
    sb = st.sidebar
    has_csv = (root / "classes.csv").is_file()
    choices = [DATASET_TABLE if has_csv else GENERATED_TABLE, *sorted(PRESETS)]
    if has_csv:
        choices.append(GENERATED_TABLE)
    choice = sb.selectbox("Class table", choices, key=f"table:{root}")
    if choice == DATASET_TABLE:
        table = ClassTable.from_csv(root / "classes.csv", allowed_root=allowed)
    elif choice == GENERATED_TABLE:
        table = None
    else:
        table = ClassTable.from_preset(choice)
    default_ignore = ",".join(map(str, table.ignore_ids)) if table is not None else ""
    text = sb.text_input(
        "Ignore ids",
        value=default_ignore,
        key=f"ignore:{root}:{choice}",
        help="Comma-separated ids whose ground-truth pixels are left out (e.g. 255)",
    )
    return table, choice, text


def _views(root: Path, models: list[str]) -> list[str]:
    """The views this dataset and model offer (Compare: two models; Confidence: confidence maps);
    a view asked for (by a link) that is not offered is replaced by the first, with a notice."""
    needs = {"Compare": "two models or more"}
    if not cache.has_confidence(root, st.session_state.get("model")):
        needs["Confidence"] = "confidence maps or probabilities for this model (conf/MODEL/ or prob/MODEL/)"
    views = [v for v in state.VIEWS if v not in needs or (v == "Compare" and len(models) >= 2)]
    view = st.session_state.get("view")
    if view not in views:
        state.notice(
            f"The {view} view needs {needs.get(view, 'two models or more')}; showing the {views[0]}."
        )
        state.set_view(views[0])
    return views


def _ignore_ids(text: str, table: ClassTable | None) -> tuple[int, ...]:
    """The typed ignore ids (the library's parser); a bad entry is one error line and the table's
    own ids are kept."""
    try:
        return parse_ignore_ids(text, option="Ignore ids")
    except SegvizError as exc:
        st.sidebar.error(name(str(exc)))
        return tuple(table.ignore_ids) if table is not None else ()


def _dataset_box(slot, data_root: Path, listing: Listing) -> None:
    current = st.session_state["dataset"]
    options = list(listing.datasets) if current in listing.datasets else [current, *listing.datasets]
    slot.selectbox(
        "Dataset",
        options,
        key="dataset",
        help="Folders holding gt/ under the data root "
        f"(up to {LIST_DEPTH} levels down; the list is refreshed every {LIST_TTL_S} s)",
    )
    if listing.stopped:
        slot.caption(f"{listing.stopped}; open a deeper dataset with a link (?dataset=path/below/the/root)")
    for line in listing.refused:
        slot.caption(name(line))


def render(data_root: Path, default_dataset: str) -> Selection | None:
    """Draw the sidebar; None (with an error shown) when no dataset can be opened."""
    sb = st.sidebar
    sb.title("segviz")
    roots = data_roots(data_root)
    state.set_server_paths(data_root, roots)
    listing = cached_listing(str(data_root), tuple(map(str, roots)))
    slot = sb.container()  # the dataset box, drawn once the choice is known to be usable
    uploaded = upload_ui()
    if uploaded is not None:
        root, allowed = uploaded[0], (uploaded[1],)
        state.set_server_paths(data_root, roots, upload=uploaded[1])
    else:
        root, allowed = _dataset_root(data_root, listing.datasets, default_dataset, roots), roots
    _dataset_box(slot, data_root, listing)
    if root is None:
        return None
    models = list_models(root)
    if models:
        wanted = st.session_state.get("model")
        if wanted not in models:
            if wanted is not None:
                state.notice(
                    f"Model {state.shown(wanted)} is not in this dataset; showing {state.shown(models[0])}."
                )
            state.set_model(models[0])
        sb.selectbox("Model", models, key="model")
    else:
        state.set_model(None)
    try:
        table, choice, text = _class_table(root, allowed)
    except SegvizError as exc:
        st.error(name(server_text(str(exc))))
        return None
    ignore = _ignore_ids(text, table)
    if table is not None and tuple(ignore) != table.ignore_ids:
        table = table.with_ignore(ignore)
    generated_ignore = tuple(ignore) if table is None else ()
    views = _views(root, models)
    sb.radio("View", views, key="view", horizontal=True)
    sb.divider()
    sb.toggle("Presentation mode", key="present", help="Hide the controls and enlarge the figures")
    sb.toggle("Colour-blind-safe colours", key="cvd", help="Okabe–Ito based palette (display only)")
    return Selection(
        root,
        st.session_state.get("model"),
        table,
        f"{choice}:{','.join(map(str, ignore))}",
        models,
        generated_ignore,
        tuple(map(str, allowed)),
    )


def files_ui(entry: cache.Opened, files: str | None) -> None:
    """When the results were last checked against the files, and a button to check now (the rule
    in the README: folders on every page run, every mask's size and mtime every CHECK_EVERY_S
    seconds in the background or on this button)."""
    sb = st.sidebar
    when = time.strftime("%H:%M:%S", time.localtime(entry.checked_at))
    age = entry.age()
    ago = f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min"
    sb.caption(
        f"Results checked against the files at {when} ({ago} ago). Added, removed or renamed files "
        f"are noticed on every page run; a file rewritten in place within {cache.CHECK_EVERY_S:g} s "
        "(checked in the background), or now:"
    )
    sb.button(
        "Check files now",
        key="files:check",
        on_click=_check_now,
        args=(entry,),
        disabled=entry.checking,
        help="Compare every mask's size and modification time with the results (one file "
        "system look-up per file: about a second per 100,000 images)",
    )
    pool = cache.results_cache()
    if pool.oversize:
        sb.caption(
            f"These results ({pool.oversize / 2**30:.1f} GB) are larger than the results cache "
            f"(SEGVIZ_CACHE_MB = {pool.budget / 2**20:,.0f} MB): the latest such result is kept "
            "outside it, one at a time; another one replaces it and is then reopened from the store."
        )
    # said on the first run whose results come from other files than the previous run's
    # (``files``: the digest the shown evaluation was counted from)
    before = st.session_state.get("_files_shown")
    where = (str(entry.dataset.root), entry.dataset.model)
    st.session_state["_files_shown"] = (where, files)
    if before is not None and before[0] == where and before[1] != files:
        found = time.strftime("%H:%M:%S", time.localtime(entry.changed_at or time.time()))
        st.info(
            f"Files changed on disk (found at {found}): the results below are recomputed from the "
            "files as they are now.",
            icon=":material/sync:",
        )


def _check_now(entry: cache.Opened) -> None:
    if not entry.checking:
        entry.checking = True
        if not cache.check_files(entry):
            st.toast(f"No mask changed ({2 * len(entry.dataset.pairs):,} files checked).")
