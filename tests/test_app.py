"""The dashboard's logic, driven by Streamlit's AppTest (no browser)."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import conftest
from conftest import ROOT, SHARED, unmarked
from segviz import evaluate, open_dataset

TIMEOUT = 60


@pytest.fixture(autouse=True)
def clear_caches():
    """Caches survive between AppTest instances in one process (shared/NOTES.md)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_app(monkeypatch, **kwargs) -> AppTest:
    return conftest.run_app(monkeypatch, timeout=TIMEOUT, **kwargs)


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_shows_the_library_numbers(monkeypatch):
    at = run_app(monkeypatch)
    assert not at.exception, at.exception
    model = at.selectbox(key="model").value
    s = evaluate(open_dataset(ROOT / "sample_data", model=model)).summary()
    shown = metric_values(at)
    assert shown["mIoU"] == f"{100 * s['mean_iou']:.2f} %"
    assert shown["Pixel accuracy"] == f"{100 * s['pixel_accuracy']:.2f} %"
    assert shown["FWIoU"] == f"{100 * s['frequency_weighted_iou']:.2f} %"
    assert shown["Images"] == str(s["num_images"])
    assert shown["Ignored px"] == f"{s['ignored_pixels']:,}"


def test_switching_model_changes_the_numbers(monkeypatch):
    at = run_app(monkeypatch)
    first = metric_values(at)["mIoU"]
    models = at.selectbox(key="model").options
    assert len(models) == 2
    at.selectbox(key="model").select(models[1]).run()
    assert not at.exception
    s = evaluate(open_dataset(ROOT / "sample_data", model=models[1])).summary()
    assert metric_values(at)["mIoU"] == f"{100 * s['mean_iou']:.2f} %" != first
    assert at.query_params["model"] == models[1]


def _chart(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if chart.proto.id and key in chart.proto.id:
            return spec
    raise AssertionError(f"no plotly chart {key}")


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_confusion_controls_change_the_figure(monkeypatch):
    at = run_app(monkeypatch)
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [unmarked(y) for y in [t for t in heat["data"] if t["type"] == "heatmap"][-1]["y"]]
    assert "road" in ys
    at.multiselect(key="cm:hide").select("road").run()
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [unmarked(y) for y in [t for t in heat["data"] if t["type"] == "heatmap"][-1]["y"]]
    assert "road" not in ys and "car" in ys
    at.number_input(key="cm:top").set_value(5).run()
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [t for t in heat["data"] if t["type"] == "heatmap"][-1]["y"]
    assert len(ys) == 6 and ys[-1] == "(other 13 classes)"  # 5 classes + the 18 - 5 others pooled


def test_metric_toggle_changes_the_bars(monkeypatch):
    at = run_app(monkeypatch)
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert bars["layout"]["xaxis"]["title"]["text"] == "IoU (%)"
    at.segmented_control(key="ov:metric").set_value("dice").run()
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert bars["layout"]["xaxis"]["title"]["text"] == "Dice (%)"


def test_selected_cell_lists_images_and_opens_one(monkeypatch):
    at = run_app(monkeypatch)
    model = at.selectbox(key="model").value
    result = evaluate(open_dataset(ROOT / "sample_data", model=model))
    names = list(result.table.names)
    cell = (names.index("sidewalk"), names.index("road"))
    ranked = result.images_for_cell(*cell)
    at.session_state["cell"] = cell
    at.run()
    assert not at.exception
    assert any("GT sidewalk → predicted road" in unmarked(s.value) for s in at.subheader)
    first = at.button(key=f"thumb:{ranked['name'].iloc[0]}")
    assert unmarked(first.label).startswith(
        f"{ranked['name'].iloc[0]} · {int(ranked['pixels'].iloc[0]):,} px"
    )
    first.click().run()
    assert not at.exception
    assert at.session_state["view"] == "Images" and at.session_state["image"] == ranked["name"].iloc[0]
    assert at.query_params["cell"] == f"{cell[0]},{cell[1]}"
    assert at.query_params["image"] == ranked["name"].iloc[0]
    assert any(ranked["name"].iloc[0] == unmarked(s.value) for s in at.subheader)


def test_url_reproduces_the_view(monkeypatch):
    result = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    name = result.names[3]
    at = run_app(monkeypatch, query={"model": "baseline", "view": "Images", "image": name, "cell": "1,0"})
    assert not at.exception
    assert at.selectbox(key="model").value == "baseline"
    assert any(unmarked(s.value) == name for s in at.subheader)
    assert unmarked(at.checkbox(key="im:hl").label) == "Highlight only GT sidewalk → predicted road"


def test_image_view_navigation(monkeypatch):
    at = run_app(monkeypatch, query={"view": "Images"})
    assert not at.exception
    first = at.session_state["image"]
    next_button = next(b for b in at.button if b.label == "Next ▶")
    next_button.click().run()
    assert at.session_state["image"] != first
    next(b for b in at.button if b.label == "◀ Prev").click().run()
    assert at.session_state["image"] == first
    at.slider(key="im:alpha").set_value(0.2).run()
    at.segmented_control(key="im:style").set_value("boundary").run()
    assert not at.exception


def test_ignore_ids_control_refolds(monkeypatch):
    at = run_app(monkeypatch)
    before = metric_values(at)["Ignored px"]
    key = next(t.key for t in at.text_input if t.key.startswith("ignore:"))
    at.text_input(key=key).input("255,0").run()
    assert not at.exception
    after = metric_values(at)["Ignored px"]
    assert int(after.replace(",", "")) > int(before.replace(",", ""))
    at.text_input(key=key).input("x").run()
    # the library's parser (shared with --ignore), its message as one line
    errors = [unmarked(e.value) for e in at.error]
    assert errors == ["Ignore ids: 'x' is not an id; expected comma-separated integers in 0..65534"], errors
    at.text_input(key=key).input("-1").run()  # once silently ignored the largest raw value
    assert [unmarked(e.value) for e in at.error] == [
        "Ignore ids: '-1' is not an id; expected comma-separated integers in 0..65534"
    ]
    assert metric_values(at)["Ignored px"] == before  # the table's own ignore ids are kept


def test_dataset_outside_the_root_is_refused(monkeypatch):
    at = run_app(monkeypatch, query={"dataset": "../"})
    assert any("outside the data root" in unmarked(e.value) for e in at.error)


def test_broken_dataset_still_shows_what_it_can(monkeypatch, tiny_dataset):
    (tiny_dataset / "gt" / "broken.png").write_bytes(b"not a png")
    (tiny_dataset / "pred" / "broken.png").write_bytes(b"not a png")
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny")
    assert not at.exception
    assert metric_values(at)["Images"] == "2"
    assert any("1 skipped" in e.label for e in at.expander)


def test_compare_view_shows_the_library_comparison(monkeypatch):
    from segviz.compare import compare

    at = run_app(monkeypatch, query={"view": "Compare"})
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp:a").value == "baseline" and at.selectbox(key="cmp:b").value == "candidate"
    a = evaluate(open_dataset(ROOT / "sample_data", model="baseline"))
    b = evaluate(open_dataset(ROOT / "sample_data", model="candidate"))
    expected = compare(a, b, resamples=1000).summary_frame().set_index("metric")
    shown = {m.label.rstrip(" ★"): m for m in at.metric}
    assert shown["mIoU"].value == f"{100 * b.summary()['mean_iou']:.2f} %"
    assert shown["mIoU"].delta == f"{100 * expected.loc['mean_iou', 'delta']:+.2f} pts"
    assert any(unmarked(s.value).startswith("sample_data: candidate vs baseline") for s in at.title)
    at.segmented_control(key="cmp:which").set_value("baseline").run()
    assert not at.exception


def test_overview_intervals_and_conventions(monkeypatch):
    at = run_app(monkeypatch)
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert "error_x" in bars["data"][0]
    assert any("mIoU 95 % interval" in c.value for c in at.caption)
    assert any(e.label.startswith("Which mIoU?") for e in at.expander)


def test_presentation_mode_hides_controls(monkeypatch):
    at = run_app(monkeypatch, query={"present": "1"})
    assert not at.exception
    keys = {w.key for w in at.segmented_control}
    assert "ov:metric" not in keys and "cm:norm" not in keys
    assert metric_values(at)["mIoU"].endswith("%")
    at.toggle(key="cvd").set_value(True).run()
    assert not at.exception


def test_export_panel_builds_the_report(monkeypatch):
    at = run_app(monkeypatch)
    assert {b.label for b in at.get("download_button")} >= {
        "classes.csv",
        "images.csv",
        "confusion_matrix.csv",
        "results.json",
    }
    at.button(key="ex:report").click().run()
    assert not at.exception
    html = at.session_state["ex:report_html"]
    assert html.startswith("<!DOCTYPE html>") and "sample_data" in html


# ---------------------------------------------------------------------- issue 10 item 7, issue 16 items 7-8
@pytest.fixture
def camvid_data_root(shared_data, tmp_path):
    """A data root holding only CamVid's folders (symlinked, not copied) without its classes.csv."""
    root = tmp_path / "camvid"
    root.mkdir()
    for part in ("gt", "pred", "images"):
        (root / part).symlink_to(shared_data / "camvid-val" / part)
    return tmp_path


def _all_text(at: AppTest) -> list[str]:
    """Every markdown body, label, caption, notice and table cell of the page."""
    out = [
        e.value
        for kind in ("title", "subheader", "caption", "markdown", "error", "warning")
        for e in at.get(kind)
    ]
    out += [str(e.label) for e in at.get("expander")] + [getattr(e, "help", "") or "" for e in at.selectbox]
    for frame in at.dataframe:
        out += [str(v) for v in frame.value.to_numpy().ravel()]
    return out


@pytest.mark.shared_data
def test_a_folder_without_classes_csv_gets_the_generated_table_like_the_cli(monkeypatch, camvid_data_root):
    """Regression (issue 10, item 7): the app silently picked the ade20k preset for CamVid without
    classes.csv (mIoU 50.40 %); it must do what `segviz evaluate` does: generate the table and say so
    (53.80 %; 60.41 % once 11 "Unlabelled" is ignored). No sample_data under this data root: the
    first dataset found opens, without an error (issue 16, item 8); its folders are symlinks into
    SEGVIZ_DATA_ROOTS, which the rule allows (issue 16, item 7)."""
    monkeypatch.setenv(
        "SEGVIZ_DATA_ROOTS", str(camvid_data_root.parent / "nowhere") + os.pathsep + str(SHARED)
    )
    at = run_app(monkeypatch, root=camvid_data_root, query={"model": "tinyfcn"})
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="dataset").value == "camvid"
    assert at.selectbox(key="table:" + str(camvid_data_root / "camvid")).value == "generated from the masks"
    assert metric_values(at)["mIoU"] == "53.80 %"
    captions = [unmarked(c.value) for c in at.caption]
    text = "no class table; generated 12 classes from the ids found in the masks (ignore ids: none)"
    assert any(text in c for c in captions), captions
    key = next(t.key for t in at.text_input if t.key.startswith("ignore:"))
    at.text_input(key=key).input("11").run()
    assert metric_values(at)["mIoU"] == "60.41 %"
    assert not any(str(camvid_data_root) in t or str(SHARED) in t for t in _all_text(at))


@pytest.mark.shared_data
def test_a_symlinked_folder_outside_the_allowed_roots_is_refused(monkeypatch, camvid_data_root):
    """Issue 11 item 15 / issue 16 item 7: without SEGVIZ_DATA_ROOTS the links leave the data root:
    refused with a message naming the rule, and no server path is shown (issue 11, item 16)."""
    monkeypatch.delenv("SEGVIZ_DATA_ROOTS", raising=False)
    at = run_app(monkeypatch, root=camvid_data_root, dataset="camvid")
    assert not at.exception, at.exception
    errors = [unmarked(e.value) for e in at.error]
    assert any(
        e.startswith(
            "camvid/gt: the gt folder resolves to …/camvid-val/gt, outside the data root <data root>;"
        )
        and "segviz reads nothing outside the data root" in e
        for e in errors
    ), errors
    assert not any(str(camvid_data_root) in t or str(SHARED) in t for t in _all_text(at))


# ---------------------------------------------------------------------- issue 10 items 5, 6, 8
@pytest.mark.shared_data
def test_compare_gains_and_losses_hold_only_their_sign(monkeypatch, shared_data):
    """Regression (issue 10, item 6): on CamVid every image improves from pixelgbm to tinyfcn, yet
    "Largest losses" listed improvements (+8.4 to +10.2). The lists come from
    Comparison.gains_and_losses: only changes of their sign, never overlapping, "no image got worse"."""
    at = run_app(monkeypatch, root=shared_data, dataset="camvid-val", query={"view": "Compare"})
    assert not at.exception, at.exception
    assert (at.selectbox(key="cmp:a").value, at.selectbox(key="cmp:b").value) == ("pixelgbm", "tinyfcn")
    tables = {d.proto.id.split("-")[-1]: d.value for d in at.dataframe if "cmp:" in d.proto.id}
    gains = next(v for k, v in tables.items() if "gains" in k)
    assert len(gains) == 10 and all(c.startswith("+") for c in gains["change (pts)"])
    assert not any("losses" in k for k in tables)
    assert any(i.value == "no image got worse" for i in at.info)
    at.selectbox(key="cmp:a").select("tinyfcn")
    at.selectbox(key="cmp:b").select("pixelgbm").run()
    tables = {d.proto.id: d.value for d in at.dataframe if "cmp:" in d.proto.id}
    losses = next(v for k, v in tables.items() if "losses" in k)
    assert len(losses) == 10 and all(c.startswith("-") for c in losses["change (pts)"])
    assert not any("gains" in k for k in tables) and any(i.value == "no image improved" for i in at.info)


@pytest.fixture
def tiny_with_absent_class(tiny_dataset):
    """The tiny dataset with a class 'bus' (id 3) that neither mask holds: its scores are undefined."""
    csv = tiny_dataset / "classes.csv"
    csv.write_text(csv.read_text().replace("255,void", "3,bus,0,60,100,0\n255,void"))
    return tiny_dataset


def test_undefined_values_read_na_in_every_table_and_bar(monkeypatch, tiny_with_absent_class):
    """Regression (issue 10, item 8): the per-class table showed "None" for undefined values; every
    table reads "n/a" and the bars show n/a differently from 0."""
    at = run_app(monkeypatch, root=tiny_with_absent_class.parent, dataset="tiny")
    assert not at.exception, at.exception
    cells = [str(v) for d in at.dataframe for v in d.value.to_numpy().ravel()]
    assert not {"None", "nan", "NaN", "<NA>"} & set(cells), cells
    table = next(d.value for d in at.dataframe if "IoU %" in d.value.columns)
    bus = table[table["class"] == "bus"].iloc[0]
    # (Dice is not a column of the narrow table: it follows from IoU; the CSV export has it)
    assert (bus["IoU %"], bus["accuracy %"], bus["precision %"]) == ("n/a",) * 3
    bars = next(c for c in _charts(at) if c["data"] and c["data"][0]["type"] == "bar")["data"][0]
    shown = dict(zip(bars["y"], bars["text"], strict=True))
    assert shown["\u2068bus\u2069"] == "n/a" and all(t != "n/a" for k, t in shown.items() if "bus" not in k)


def test_which_miou_shows_each_conventions_caveats(monkeypatch):
    """Issue 10, item 5: the caveats of each convention are on screen, not only in a docstring."""
    from segviz.conventions import conventions_frame

    at = run_app(monkeypatch)
    (box,) = [e for e in at.expander if e.label.startswith("Which mIoU?")]
    assert not box.table  # computed when opened (issue 17: one rule averages over every image)
    at.session_state["ov:conventions"] = True  # what opening the expander does
    (box,) = [e for e in at.run().expander if e.label.startswith("Which mIoU?")]
    shown = box.table[0].value  # three narrow columns; rules and caveats as wrapping text below
    expected = conventions_frame(evaluate(open_dataset(ROOT / "sample_data", model="baseline")))
    assert shown["mIoU"].tolist() == expected["miou_text"].tolist()
    text = unmarked(" ".join(m.value for m in box.markdown))
    for caveats in expected["caveats"]:
        for sentence in filter(None, caveats.split("\n")):
            assert sentence in text, sentence


# ---------------------------------------------------------------------- issue 11 item 9: names shown literally
LINK_NAME = "[Session expired – sign in again](http://evil.example)"
IMAGE_MD = "![x](http://evil.example/a.png)"
LATEX = "$\\frac{1}{2}$"
HTML_NAME = "<img src=http://evil.example/b.png>"


@pytest.fixture
def hostile_names(tiny_dataset):
    return make_hostile_names(tiny_dataset)


def make_hostile_names(tiny_dataset):
    """The tiny dataset with hostile class, image and dataset names (Markdown links and images,
    LaTeX, HTML, spreadsheet formulas, a forged terminal line): (its folder, the class names)."""
    import csv
    import io

    from make_bad_corpus import FORGED_NAME, FORMULA_CLASSES

    formula = next(
        r["name"] for r in csv.DictReader(io.StringIO(FORMULA_CLASSES)) if r["name"].startswith("=")
    )
    rows = [(0, formula), (1, LINK_NAME), (2, IMAGE_MD), (3, LATEX), (4, HTML_NAME), (5, FORGED_NAME)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "name", "r", "g", "b", "ignore"])
    w.writerows([(i, n, 10 * i, 20, 30, 0) for i, n in rows] + [(255, "void", 0, 0, 0, 1)])
    (tiny_dataset / "classes.csv").write_text(buf.getvalue())
    for part, ext in (("gt", "png"), ("pred", "png"), ("images", "jpg")):
        (tiny_dataset / part / f"a.{ext}").rename(tiny_dataset / part / f"{LATEX}.{ext}")
        (tiny_dataset / part / f"b.{ext}").rename(
            tiny_dataset / part / f"[Session expired](evil.example).{ext}"
        )
    folder = tiny_dataset.rename(tiny_dataset.parent / "tiny [x](http:evil.example)")
    return folder, [n for _, n in rows]


UNESCAPED = re.compile(r"(?<!\\)(\[Session|!\[|\$\\frac|<img|\]\()")


def test_names_are_shown_literally(monkeypatch, hostile_names):
    """Regression (issue 11, item 9): a class or image name put a working link in a heading, made
    browsers fetch an outside image, or rendered LaTeX. Every markdown body holding a name has it
    escaped (and reads literally once unescaped); plotly text holds no raw HTML."""
    folder, classes = hostile_names
    at = run_app(monkeypatch, root=folder.parent, dataset=folder.name)
    assert not at.exception, at.exception
    at.session_state["cell"] = (1, 0)  # GT LINK_NAME → predicted formula
    at.run()
    assert not at.exception, at.exception

    def bodies():
        kinds = ("title", "subheader", "caption", "markdown", "error", "warning", "info")
        return [e.value for k in kinds for e in at.get(k)] + [b.label for b in at.button]

    shown = bodies()
    assert any(unmarked(t) == folder.name for t in shown)
    assert any(unmarked(t) == f"GT {LINK_NAME} → predicted {classes[0]}" for t in shown), shown
    assert any(unmarked(b.label).startswith("[Session expired](evil.example) · ") for b in at.button)
    leaks = [t for t in shown if UNESCAPED.search(t)]
    assert not leaks, leaks
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    labels = [y for t in heat["data"] if t["type"] == "heatmap" for y in t["y"]]
    assert any("&lt;img src=http://evil.example/b.png&gt;" in y for y in labels), labels
    assert not any(
        "<img" in y for c in _charts(at) for t in c["data"] for y in (t.get("y") or []) if isinstance(y, str)
    )
    at.session_state["image"] = LATEX
    at.radio(key="view").set_value("Images").run()
    assert not at.exception, at.exception
    shown = bodies()
    assert any(unmarked(s.value) == LATEX for s in at.subheader)
    leaks = [t for t in shown if UNESCAPED.search(t)]
    assert not leaks, leaks


# ---------------------------------------------------------------------- issue 10 item 12, store warnings
def _quarter_size_photos(root, n: int) -> None:
    """``n`` 8x8 pairs whose photos are stored at a quarter of the masks' size (4x4)."""
    from PIL import Image

    from conftest import save_mask

    (root / "images").mkdir(parents=True)
    (root / "classes.csv").write_text("id,name,r,g,b\n0,road,1,1,1\n1,car,2,2,2\n")
    for i in range(n):
        mask = np.zeros((8, 8), dtype=np.uint8)
        mask[: i % 8] = 1
        save_mask(root / "gt" / f"img_{i:03d}.png", mask)
        save_mask(root / "pred" / f"img_{i:03d}.png", mask)
        Image.new("RGB", (4, 4), (90, 90, 90)).save(root / "images" / f"img_{i:03d}.jpg")


def test_repeated_problems_are_one_line_with_the_count(monkeypatch, tmp_path):
    """Regression (issue 10, item 12): 400 photos at a quarter of their masks' size gave 400
    identical warnings; they are one line with the count and the first names, and the expander
    still lists every one."""
    _quarter_size_photos(tmp_path / "small-photos", 400)
    at = run_app(monkeypatch, root=tmp_path, dataset="small-photos")
    assert not at.exception, at.exception
    lines = [unmarked(w.value) for w in at.warning]
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "400 samples (img_000, img_001, img_002 and 397 more): small-photos/images/img_000.jpg"
    )
    assert str(tmp_path) not in lines[0]  # relative to the data root (issue 11, item 16)
    (box,) = [e for e in at.expander if "while loading" in e.label]
    assert len(box.dataframe[0].value) == 400


def test_results_store_warnings_are_shown(monkeypatch, tmp_path):
    """The results store's warnings (here: it cannot be written, SEGVIZ_STORE is a file) are shown
    as one line each, and the results are still computed."""
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("SEGVIZ_STORE", str(tmp_path / "not-a-folder"))
    at = run_app(monkeypatch)
    assert not at.exception, at.exception
    lines = [unmarked(w.value) for w in at.warning]
    assert any(line.startswith("results store") for line in lines), lines
    assert metric_values(at)["Images"] == "24"


# ---------------------------------------------------------------------- issue 11 item 17, issue 16 item 7
def test_the_dataset_listing_is_cached_bounded_and_says_when_it_stopped(monkeypatch, tmp_path, tiny_dataset):
    """Regression (issue 11, item 17): the sidebar walked the whole data root on every interaction.
    The listing is computed once (cached for LIST_TTL_S), bounded in depth and folders, and says
    when it stopped."""
    from segviz.dashboard import sidebar

    for i in range(30):
        (tmp_path / f"empty-{i:02d}").mkdir()
    calls = []
    real = sidebar.discover_datasets
    monkeypatch.setattr(sidebar, "discover_datasets", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(sidebar, "LIST_MAX_FOLDERS", 10)
    at = run_app(monkeypatch, root=tmp_path, dataset="tiny")
    assert not at.exception, at.exception
    at.radio(key="view").set_value("Images").run()
    at.radio(key="view").set_value("Overview").run()
    assert len(calls) == 1  # three runs, one walk
    listing = real(tmp_path, max_folders=10)
    assert listing.stopped == "listing stopped after 10 folders" and len(listing.datasets) == 0
    assert real(tmp_path).datasets == ("tiny",)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "gt").mkdir()
    assert "a/b/c" not in real(tmp_path).datasets  # deeper than LIST_DEPTH: opened by link only


def test_symlinked_datasets_follow_the_allowed_roots(monkeypatch, tmp_path, tiny_dataset):
    """Issue 16, item 7: a symlinked dataset under the data root is listed when its target is in an
    allowed root (the data root or SEGVIZ_DATA_ROOTS), refused with the rule otherwise."""
    from segviz.dashboard.sidebar import discover_datasets

    data_root = tmp_path / "root"
    data_root.mkdir()
    (data_root / "linked").symlink_to(tiny_dataset)
    listing = discover_datasets(data_root, (data_root,))
    assert listing.datasets == () and listing.refused[0].startswith(
        "linked: a symbolic link to a folder outside"
    )
    assert discover_datasets(data_root, (data_root, tmp_path)).datasets == ("linked",)
    monkeypatch.setenv("SEGVIZ_DATA_ROOTS", str(tmp_path))
    at = run_app(monkeypatch, root=data_root, dataset="linked")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert metric_values(at)["Images"] == "2"
    monkeypatch.delenv("SEGVIZ_DATA_ROOTS")
    at = run_app(monkeypatch, root=data_root, dataset="linked")
    assert any("SEGVIZ_DATA_ROOTS" in unmarked(e.value) for e in at.error), [e.value for e in at.error]
    assert not any(str(tmp_path) in unmarked(e.value) for e in at.error)


def test_long_names_are_cut_and_bidirectional_names_isolated(monkeypatch, tiny_dataset):
    """Regression (issue 11, item 18): a 3,000-character class name squashed the matrix, and a
    right-to-left override in a model name reversed the numbers next to it in Compare."""
    import shutil

    long_name = "x" * 3000
    csv = tiny_dataset / "classes.csv"
    csv.write_text(csv.read_text().replace("2,person", f"2,{long_name}"))
    rlo = "\u202eevil"
    (tiny_dataset / "pred" / "base").mkdir()
    for f in (tiny_dataset / "pred").glob("*.png"):
        f.rename(tiny_dataset / "pred" / "base" / f.name)
    shutil.copytree(tiny_dataset / "pred" / "base", tiny_dataset / "pred" / rlo)
    at = run_app(monkeypatch, root=tiny_dataset.parent, dataset="tiny")
    assert not at.exception, at.exception
    heat = next(c for c in _charts(at) if any(t["type"] == "heatmap" for t in c["data"]))
    ys = [y for t in heat["data"] if t["type"] == "heatmap" for y in t["y"]]
    assert "\u2068" + "x" * 39 + "…\u2069" in ys and max(map(len, ys)) <= 42
    table = next(d.value for d in at.dataframe if "IoU %" in d.value.columns)
    assert max(map(len, table["class"])) <= 40
    at.radio(key="view").set_value("Compare").run()
    assert not at.exception, at.exception
    bars = next(c for c in _charts(at) if c["data"] and c["data"][0]["type"] == "bar")
    title = bars["layout"]["xaxis"]["title"]["text"]
    # the override is shown as an escape (as on the terminal), inside an isolate: it reorders nothing
    assert "\u202e" not in title and "\u2068\\u202eevil\u2069" in title
    assert "\u202e" not in at.title[0].value and "\\u202eevil vs base" in unmarked(at.title[0].value)
