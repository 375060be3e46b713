"""The sidebar: dataset, model, class table, ignore ids, view and display toggles -> a Selection."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from segviz import ClassTable, SegvizError, list_models
from segviz.archive import extract_dataset_zip
from segviz.presets import PRESETS

from . import state, uploads

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


def discover_datasets(root: Path, depth: int = 3) -> list[str]:
    """Folders below ``root`` that hold gt/ (relative paths), without following symlinks out."""
    found = []
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        rel = Path(dirpath).relative_to(root)
        if len(rel.parts) >= depth:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in ("gt", "pred", "images")
        )
        if (Path(dirpath) / "gt").is_dir():
            found.append(rel.as_posix())
    return found


def resolve_in_root(text: str, root: Path) -> Path:
    """A dataset path from the URL or the sidebar, which must stay inside the data root (symlinks
    resolved). Messages quote the name, never the server's folders."""
    try:
        candidate = (root / text).resolve()
        if not candidate.is_relative_to(root):
            raise SegvizError(f"{state.shown(text)}: outside the data root")
        if not candidate.is_dir():
            raise SegvizError(f"{state.shown(text)}: no such dataset folder under the data root")
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system, ...
        raise SegvizError(f"{state.shown(text)}: not a usable folder name") from None
    return candidate


def _dataset_root(data_root: Path, datasets: list[str], default: str) -> Path | None:
    """The chosen dataset's folder; an unusable one (from a link) is reported in one line and
    replaced by the default dataset, else the first one found."""
    current = st.session_state["dataset"]
    try:
        return resolve_in_root(current, data_root)
    except SegvizError as exc:
        for fallback in dict.fromkeys([default, *datasets]):
            if fallback == current:
                continue
            try:
                root = resolve_in_root(fallback, data_root)
            except SegvizError:
                continue
            st.error(f"{exc}; opened {state.shown(fallback)} instead.")
            st.session_state["dataset"] = fallback
            return root
        st.error(str(exc))
        return None


def upload_ui() -> Path | None:
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
    marker = (upload.name, upload.size)
    root = st.session_state.get("_upload_root")
    # a session that reconnects after its folder was released extracts the zip again
    if st.session_state.get("_upload_marker") != marker or root is None or not Path(root).is_dir():
        try:
            root = extract_dataset_zip(upload, folders.new(uploads.session_id()) / "data")
        except SegvizError as exc:
            folders.discard(uploads.session_id())
            st.sidebar.error(str(exc))
            return None
        st.session_state["_upload_root"] = root
        st.session_state["_upload_marker"] = marker
    return root


def _class_table(root: Path) -> tuple[ClassTable | None, str, str]:
    """(table or None for a generated one, choice, ignore-id text) from the class-table widgets."""
    sb = st.sidebar
    has_csv = (root / "classes.csv").is_file()
    choices = ([DATASET_TABLE] if has_csv else []) + sorted(PRESETS) + [GENERATED_TABLE]
    choice = sb.selectbox("Class table", choices, key=f"table:{root}")
    if choice == DATASET_TABLE:
        table = ClassTable.from_csv(root / "classes.csv")
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


def render(data_root: Path, default_dataset: str) -> Selection | None:
    """Draw the sidebar; None (with an error shown) when no dataset can be opened."""
    sb = st.sidebar
    sb.title("segviz")
    datasets = discover_datasets(data_root)
    slot = sb.container()  # the dataset box, drawn once the choice is known to be usable
    root = upload_ui()
    if root is None:
        root = _dataset_root(data_root, datasets, default_dataset)
    current = st.session_state["dataset"]
    options = datasets if current in datasets else [current, *datasets]
    slot.selectbox(
        "Dataset", options, key="dataset", help=f"Folders holding gt/ under the data root {data_root}"
    )
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
        table, choice, text = _class_table(root)
    except SegvizError as exc:
        st.error(str(exc))
        return None
    try:
        ignore = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        sb.error(f"Ignore ids must be comma-separated integers (got {text!r})")
        ignore = list(table.ignore_ids) if table is not None else []
    if table is not None and tuple(ignore) != table.ignore_ids:
        table = table.with_ignore(ignore)
    generated_ignore = tuple(ignore) if table is None else ()
    views = state.VIEWS if len(models) >= 2 else tuple(v for v in state.VIEWS if v != "Compare")
    if st.session_state.get("view") not in views:
        state.notice(
            f"The {st.session_state.get('view')} view needs two models or more; showing the {views[0]}."
        )
        state.set_view(views[0])
    sb.radio("View", views, key="view", horizontal=True)
    sb.divider()
    sb.toggle("Presentation mode", key="present", help="Hide the controls and enlarge the figures")
    sb.toggle("Colour-blind-safe colours", key="cvd", help="Okabe–Ito based palette (display only)")
    return Selection(root, st.session_state.get("model"), table, f"{choice}:{text}", models, generated_ignore)
