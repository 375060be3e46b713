"""The report at 150 classes (issue 16, item 6), and the report package's files (issue 12).

Seen on ADE20K (csail-2018, 150 classes of which 42 appear): a 14-page PDF with ~108 rows of "n/a"
for classes that never appear, the Precision / Dice / pixel columns cut off the printed page, an
unreadable 150 × 150 matrix, and 12.9 MB of HTML.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs

from conftest import ROOT
from segviz.dataset import open_dataset
from segviz.evaluate import evaluate
from segviz.report import CHROMIUM, DATA_FILES, PRINT_WIDTH, build_report, write_pdf
from segviz.report.sections import ABSENT_PRINTED, short_names

#: Stated bounds for the ADE20K report (measured: 5.58 MB, 763 KB without plotly.js, 9 pages).
ADE_HTML_BYTES = 6_000_000
ADE_HTML_BYTES_WITHOUT_PLOTLY = 1_000_000
ADE_PDF_PAGES = 10
#: What one class that never appears may add to the HTML: its name in the folded list.
BYTES_PER_ABSENT_CLASS = 160
COLUMNS = [
    "Class",
    "IoU %",
    "95 % CI",
    "Accuracy %",
    "Precision %",
    "Dice %",
    "GT pixels",
    "Predicted pixels",
]


def _section(html: str, anchor: str) -> str:
    return html.split(f'<section id="{anchor}"', 1)[1].split("</section>", 1)[0]


def _rows(section: str) -> list[str]:
    """The per-class table's rows (their HTML), outside the folded list of absent classes."""
    return re.findall(r"<tr><td class='name'>.*?</tr>", section)


@pytest.fixture(scope="module")
def ade(shared_data):
    return evaluate(open_dataset(shared_data / "ade20k-csail", model="csail-2018"))


@pytest.fixture(scope="module")
def ade_html(ade) -> str:
    return build_report(ade, title="ADE20K", dataset="ade20k-csail", model="csail-2018", resamples=200)


def _present_by_hand(root: Path, model: str) -> set[str]:
    """Names of the classes with a pixel in some ground truth or some prediction (at pixels whose
    ground truth is not ignored), read from the PNGs with Pillow and numpy alone."""
    names, ignored = {}, set()
    for line in (root / "classes.csv").read_text().splitlines()[1:]:
        cid, name, *_, ignore = line.split(",")
        (ignored.add(int(cid)) if ignore == "1" else names.__setitem__(int(cid), name))
    seen: set[int] = set()
    for gt_file in sorted((root / "gt").glob("*.png")):
        gt = np.asarray(Image.open(gt_file))
        pred = np.asarray(Image.open(root / "pred" / model / gt_file.name))
        valid = ~np.isin(gt, list(ignored))
        seen |= set(np.unique(gt[valid]).tolist()) | set(np.unique(pred[valid]).tolist())
    return {names[i] for i in seen if i in names}


# ---------------------------------------------------------------------- ADE20K, HTML
@pytest.mark.shared_data
def test_ade20k_has_a_row_for_each_class_that_appears_and_one_line_for_the_rest(shared_data, ade_html):
    """Regression (issue 16): 108 rows of "n/a" for the classes that never appear."""
    present = _present_by_hand(shared_data / "ade20k-csail", "csail-2018")
    section = _section(ade_html, "classes")
    rows = _rows(section)
    shown = {re.sub(r"<[^>]+>", "", re.search(r"<td class='name'>(.*?)</td>", r).group(1)) for r in rows}
    import html as html_module

    assert {html_module.unescape(n) for n in shown} == present and len(rows) == len(present) == 42
    assert f"{150 - len(present)} classes never appear in the ground truth or the prediction" in section
    absent = section.split("never appear", 1)[1]
    assert absent.count('class="chip"') == 150 - len(present) == 108
    assert all("n/a</td><td" not in r.split("</td>", 2)[1] for r in rows)  # every shown IoU defined


@pytest.mark.shared_data
def test_ade20k_table_has_every_column_in_every_row(ade_html):
    section = _section(ade_html, "classes")
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", section).group(1)
    assert re.findall(r"<th>(.*?)</th>", head) == COLUMNS
    for row in _rows(section):
        assert row.count("<td") == len(COLUMNS), row


@pytest.mark.shared_data
def test_ade20k_html_size_is_bounded(ade_html):
    """Regression (issue 16): 12.9 MB of HTML for 3 images of 150 classes."""
    size = len(ade_html.encode())
    assert size < ADE_HTML_BYTES
    assert size - len(get_plotlyjs().encode()) < ADE_HTML_BYTES_WITHOUT_PLOTLY


@pytest.mark.shared_data
def test_ade20k_matrix_leaves_absent_classes_out_and_pools_the_rest(ade, ade_html):
    section = _section(ade_html, "confusion")
    assert "the other 17 that appear are pooled into the (other) row and column" in section
    assert "Left out: the 108 classes that never appear" in section
    assert "(other 17 classes)" in section  # the axis label counts only classes that appear


# ---------------------------------------------------------------------- growth with K
def _ten_classes_of(folder: Path, k: int) -> Path:
    """Eight 48×64 images using classes 0..9 only, with a class table of ``k`` classes."""
    rng = np.random.default_rng(0)
    for sub in ("gt", "pred"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{i},class number {i},{i % 251},{i * 7 % 256},{i * 13 % 256},0\n" for i in range(k))
    (folder / "classes.csv").write_text("id,name,r,g,b,ignore\n" + rows)
    for i in range(8):
        tiles = rng.integers(0, 10, (6, 8))
        pred = np.where(rng.random(tiles.shape) < 0.2, rng.integers(0, 10, tiles.shape), tiles)
        for sub, t in (("gt", tiles), ("pred", pred)):
            Image.fromarray(np.kron(t, np.ones((8, 8), dtype=np.int64)).astype(np.uint8)).save(
                folder / sub / f"im{i}.png"
            )
    return folder


def test_html_grows_with_the_class_table_only_by_the_absent_names(tmp_path):
    """The same ten classes in a table of 12 and of 150: no rows, bars or matrix cells for the 138
    classes that never appear, only their names in one folded list."""
    sizes = {}
    for k in (12, 150):
        ev = evaluate(open_dataset(_ten_classes_of(tmp_path / f"k{k}", k)))
        page = build_report(ev, title="t", dataset="d", model=None, resamples=50, worst=0)
        sizes[k] = len(page.encode())
        assert len(_rows(_section(page, "classes"))) == 10
        assert f"{k - 10} classes never appear" in page
    assert 0 < sizes[150] - sizes[12] <= (150 - 12) * BYTES_PER_ABSENT_CLASS


@pytest.mark.browser
def test_printed_list_of_absent_classes_is_open_unless_long(browser, tmp_path):
    """The names of the classes that never appear print open (the PDF has no clicks), but not
    thousands of them: above ABSENT_PRINTED the PDF says where the list is."""
    heights = {}
    for k in (150, 10 + ABSENT_PRINTED + 1):
        ev = evaluate(open_dataset(_ten_classes_of(tmp_path / f"k{k}", k)))
        page_html = build_report(ev, title="t", dataset="d", model=None, resamples=20, worst=0)
        assert ("(listed in the HTML report)" in page_html) == (k - 10 > ABSENT_PRINTED)
        context = browser.new_context(viewport={"width": PRINT_WIDTH, "height": 1100}, offline=True)
        try:
            page = context.new_page()
            for media in ("screen", "print"):
                page.emulate_media(media=media)
                page.set_content(page_html, wait_until="load")
                heights[k, media] = page.evaluate(
                    "() => document.querySelector('details.absent').getBoundingClientRect().height"
                )
        finally:
            context.close()
    line = heights[150, "screen"]  # folded: the one line
    assert 0 < line < 50 and heights[150, "print"] > 3 * line  # open in print: 140 names
    assert 0 < heights[10 + ABSENT_PRINTED + 1, "print"] < 50


def test_short_names_stay_unique():
    names = ["wall", "computer;computing machine", "x" * 40, "bed", "bed;cot", "b" * 30 + "1", "b" * 30 + "2"]
    short = short_names(names, width=10)
    assert short[:4] == ["wall", "computer", "xxxxxxxxx…", "bed"] and short[4] == "bed;cot"
    assert len(set(short)) == len(short)  # two cut names alike keep their full names
    assert short[5:] == names[5:]


# ---------------------------------------------------------------------- in Chromium: print layout, PDF
def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {CHROMIUM}")
        pytest.skip(f"{CHROMIUM} not installed")


@pytest.mark.browser
@pytest.mark.shared_data
def test_ade20k_printed_table_shows_every_column(browser, ade_html):
    """Regression (issue 16): Precision, Dice and the pixel columns were cut off the printed page."""
    context = browser.new_context(viewport={"width": PRINT_WIDTH, "height": 1100}, offline=True)
    try:
        page = context.new_page()
        page.emulate_media(media="print")
        page.set_content(ade_html, wait_until="load")
        cells = page.evaluate(
            """() => [...document.querySelectorAll('table.classes th, table.classes td')].map(c => {
                 const r = c.getBoundingClientRect();
                 return [c.textContent, r.left, r.right, c.scrollWidth, c.clientWidth]; })"""
        )
        width = page.evaluate("() => document.documentElement.clientWidth")
    finally:
        context.close()
    assert [c[0] for c in cells[: len(COLUMNS)]] == COLUMNS
    outside = [c for c in cells if c[1] < 0 or c[2] > width + 0.5]
    assert not outside, outside[:5]
    cut = [c for c in cells if c[3] > c[4] + 1]  # a cell whose content overflows it
    assert not cut, cut[:5]


@pytest.mark.browser
@pytest.mark.shared_data
def test_ade20k_pdf_page_count_is_bounded(ade_html, tmp_path):
    """Regression (issue 16): 14 pages, the bars over 3 of them."""
    _need_chromium()
    out = tmp_path / "ade.pdf"
    write_pdf(ade_html, out)
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", out.read_bytes()))
    assert 2 <= pages <= ADE_PDF_PAGES


# ---------------------------------------------------------------------- the package's files
def test_every_data_file_is_listed_read_and_shipped_by_the_package_data_globs():
    folder = ROOT / "segviz" / "report"
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".py")
    assert sorted(DATA_FILES) == files
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "segviz.report" in config["packages"]
    globs = config["package-data"]["segviz.report"]
    assert all(any(fnmatch(f, g) for g in globs) for f in files)


def test_the_build_ships_the_templates_and_the_style_sheet(tmp_path):
    """setuptools' build step that fills the wheel (``build_py``, reading pyproject's package-data),
    run on a copy of the sources: nothing is written into the checkout, nothing downloaded."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "segviz", src / "segviz", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    lib = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
        check=True, cwd=src, capture_output=True,
    )  # fmt: skip
    shipped = {p.name for p in (lib / "segviz" / "report").iterdir()}
    assert set(DATA_FILES) <= shipped and {"__init__.py", "sections.py", "pdf.py"} <= shipped
