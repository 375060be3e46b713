"""The HTML report: self-contained, escaped, complete; rendered offline in real Chromium; its PDF."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs

from conftest import ROOT, save_mask
from segviz import __version__, metrics
from segviz.conventions import miou_conventions
from segviz.dataset import open_dataset
from segviz.errors import SegvizError
from segviz.evaluate import evaluate, fold
from segviz.report import (
    CHROMIUM,
    build_report,
    dataset_fingerprint,
    format_percent,
    write_pdf,
)

ARTIFACTS = ROOT / "artifacts"
EVIL_CLASS = "<script>alert(1)</script>"
EVIL_FILE = 'a&"b'


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sample():
    return evaluate(open_dataset(ROOT / "sample_data", model="candidate"))


@pytest.fixture(scope="module")
def sample_html(sample) -> str:
    return build_report(sample, title="Sample data — candidate", dataset="sample_data", model="candidate")


@pytest.fixture
def tiny(tiny_dataset: Path):
    return evaluate(open_dataset(tiny_dataset))


@pytest.fixture
def evil_dataset(tiny_dataset: Path) -> Path:
    """The tiny dataset with a class named like a script tag and a sample named ``a&"b``."""
    classes = tiny_dataset / "classes.csv"
    classes.write_text(classes.read_text().replace("1,car,", f"1,{EVIL_CLASS},"))
    for part, suffix in (("gt", ".png"), ("pred", ".png"), ("images", ".jpg")):
        (tiny_dataset / part / f"a{suffix}").rename(tiny_dataset / part / f"{EVIL_FILE}{suffix}")
    save_mask(tiny_dataset / "gt" / "<only-gt>.png", np.zeros((2, 3)))  # skipped: no prediction
    return tiny_dataset


@pytest.fixture
def evil(evil_dataset: Path):
    return evaluate(open_dataset(evil_dataset))


@pytest.fixture
def evil_html(evil) -> str:
    return build_report(evil, title="<b>T&C</b>", dataset='data "x"', model="<m>")


# ---------------------------------------------------------------------- helpers
class _Outside(HTMLParser):
    """Everything of a page that is not the text of a <script>: tags, attributes, styles, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data
        else:
            self.text.append(data)


def _parse(html: str) -> _Outside:
    parser = _Outside()
    parser.feed(html)
    parser.close()
    return parser


def _external_references(html: str) -> list[str]:
    """Every way the page could load something from elsewhere (the plotly.js bundle excepted)."""
    page = _parse(html)
    found = []
    for tag, attrs in page.tags:
        if tag in ("link", "iframe", "object", "embed", "base", "frame", "audio", "video", "source"):
            found.append(f"<{tag}>")
        for name in ("src", "href", "action", "data", "poster", "srcset", "xlink:href", "background"):
            value = (attrs.get(name) or "").strip()
            if value and not value.startswith(("#", "data:")):
                found.append(f"<{tag} {name}={value!r}>")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            found.append("<meta http-equiv=refresh>")
        style = attrs.get("style") or ""
        found += [f"<{tag} style=url({u})>" for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", style)]
    for css in page.styles:
        found += [
            f"css url({u})" for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", css) if not u.startswith("data:")
        ]
        found += ["css @import"] * css.count("@import")
    bundle = get_plotlyjs()
    for script in page.scripts:
        if script != bundle:  # the figures' own scripts must not name any URL
            found += re.findall(r"https?://[^\s\"']+", script)
    outside = "".join(page.text) + " ".join(str(a) for _, a in page.tags) + "".join(page.styles)
    found += re.findall(r"https?://[^\s\"']+", outside)
    return found


def _render(browser, html: str, *, width: int = 1400):
    """Open the report with every network request refused; returns (context, page, requests, dialogs)."""
    context = browser.new_context(viewport={"width": width, "height": 1000})
    requests: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []

    def refuse(route):
        requests.append(route.request.url)
        route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(html, wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.plotly-graph-div')].every(p => p._fullLayout && "
        "p.querySelector('.main-svg')) && [...document.images].every(i => i.complete)"
    )
    return context, page, requests, dialogs, errors


# ---------------------------------------------------------------------- fingerprint
def test_fingerprint_survives_a_move_but_not_a_change(tiny_dataset: Path, tmp_path: Path):
    before = dataset_fingerprint(evaluate(open_dataset(tiny_dataset)))
    assert re.fullmatch(r"[0-9a-f]{64}", before)
    assert dataset_fingerprint(evaluate(open_dataset(tiny_dataset))) == before
    moved = shutil.copytree(tiny_dataset, tmp_path / "elsewhere" / "tiny")  # copy2 keeps mtimes
    moved_ev = evaluate(open_dataset(moved))
    assert dataset_fingerprint(moved_ev) == before
    st = (moved / "pred" / "a.png").stat()
    os.utime(moved / "pred" / "a.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert dataset_fingerprint(moved_ev) != before
    (moved / "pred" / "a.png").unlink()
    with pytest.raises(SegvizError, match=r"pred/a\.png: cannot fingerprint the dataset"):
        dataset_fingerprint(moved_ev)


def test_fingerprint_covers_ground_truth_and_predictions_not_photos(tiny_dataset: Path):
    ev = evaluate(open_dataset(tiny_dataset))
    before = dataset_fingerprint(ev)
    (tiny_dataset / "images" / "a.jpg").write_bytes(b"changed")
    assert dataset_fingerprint(ev) == before
    with (tiny_dataset / "gt" / "b.png").open("ab") as f:
        f.write(b"\0")
    assert dataset_fingerprint(ev) != before


def brute_force_fingerprint(paths: list[str]) -> str:
    """The fingerprint's definition written out: SHA-256 over the sorted (path relative to the
    files' common folder, size, mtime_ns) lines, each file once."""
    import hashlib

    files = sorted({os.path.abspath(p) for p in paths})
    root = os.path.commonpath([os.path.dirname(f) for f in files])
    lines = sorted(
        (os.path.relpath(f, root).replace(os.sep, "/"), os.stat(f).st_size, os.stat(f).st_mtime_ns)
        for f in files
    )
    return hashlib.sha256("".join(f"{r}\t{s}\t{m}\n" for r, s, m in lines).encode()).hexdigest()


def test_fingerprint_equals_its_definition_for_relative_nested_and_shared_paths(tmp_path, monkeypatch):
    """Issue #17 computes absolute and relative paths once per folder: the same value as per file,
    for paths written relative to the working folder, with "." and ".." in them, in nested folders,
    and a file shared by two pairs (counted once)."""
    from segviz.classes import ClassTable
    from segviz.dataset import Pair
    from segviz.evaluate import Evaluation
    from segviz.report.fingerprint import mask_root

    for rel in ("gt/x/a.png", "gt/x/b.png", "gt/y/c.png", "pred/m/a.png", "pred/m/b.png", "pred/m/c.png"):
        save_mask(tmp_path / "d" / rel, np.full((3, 4), len(rel), dtype=np.uint8))
    monkeypatch.chdir(tmp_path)
    pairs = [
        Pair("a", Path("d/gt/x/a.png"), Path("d/pred/m/a.png")),
        Pair("b", Path("d/gt/x/../x/b.png"), "d/./pred/m/b.png"),
        Pair("c", Path("d/gt/y/c.png"), Path("d/pred/m/c.png")),
        Pair("c2", Path("d/gt/y/c.png"), Path("d/pred/m/c.png")),
    ]
    ev = Evaluation(
        ClassTable.generated([0]),
        [p.name for p in pairs],
        pairs,
        np.zeros((1, 2), dtype=np.int64),
        np.zeros((0, 4), dtype=np.int64),
        np.zeros(len(pairs), dtype=np.int64),
    )
    paths = [str(p) for pair in pairs for p in (pair.gt_path, pair.pred_path)]
    assert dataset_fingerprint(ev) == brute_force_fingerprint(paths)
    assert mask_root(ev) == str(tmp_path / "d")
    assert dataset_fingerprint(ev, root=mask_root(ev)) == dataset_fingerprint(ev)


# ---------------------------------------------------------------------- contents
def test_report_is_one_self_contained_document(sample_html: str):
    assert sample_html.startswith("<!DOCTYPE html>")
    assert sample_html.count("<html") == 1 and sample_html.rstrip().endswith("</html>")
    assert _external_references(sample_html) == []
    assert sample_html.count(get_plotlyjs()) == 1  # plotly.js inlined once
    # and the browser is told to load nothing from elsewhere even if something slipped through
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in sample_html
    scripts = _parse(sample_html).tags
    assert all("src" not in attrs for tag, attrs in scripts if tag == "script")


def test_reference_check_finds_what_it_must():
    """The helper above is what proves "offline": make sure it sees each kind of reference."""
    bad = (
        '<img src="https://x/a.png"><link rel="stylesheet" href="/s.css">'
        "<style>@import 'x.css'; body{background:url(http://x/b.png)}</style>"
        '<div style="background:url(//x/c.png)"></div><script src="p.js"></script><p>see http://x</p>'
    )
    found = _external_references(bad)
    for expected in (
        "https://x/a.png",
        "<link>",
        "css @import",
        "http://x/b.png",
        "//x/c.png",
        "p.js",
        "http://x",
    ):
        assert any(expected in f for f in found), expected


def test_header_names_the_run(sample, sample_html: str):
    text = " ".join(_parse(sample_html).text)
    for expected in (
        "Sample data — candidate",
        "sample_data",
        "candidate",
        f"{sample.num_images} evaluated",
        __version__,
        " UTC",
        f"sha256:{dataset_fingerprint(sample)}",
    ):
        assert expected in text, expected
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text)


def test_summary_metrics_with_intervals(sample, sample_html: str):
    s = sample.summary()
    text = " ".join(_parse(sample_html).text)
    for key in ("mean_iou", "pixel_accuracy", "mean_pixel_accuracy", "frequency_weighted_iou", "mean_dice"):
        assert format_percent(s[key]) in text, key
    assert text.count("95\xa0% CI") == 5
    assert "1,000 resamples, seed 0" in text


def test_sections_and_their_contents(sample, sample_html: str):
    text = " ".join(_parse(sample_html).text)
    for heading in (
        "Summary",
        "Per-class IoU",
        "Confusion matrix",
        "The 6 worst images by mIoU",
        "Which mIoU?",
    ):
        assert f">{heading}</h2>" in sample_html, heading
    assert 'id="figure-classes"' in sample_html and 'id="figure-confusion"' in sample_html
    assert sample_html.count('<article class="card image">') == 6
    assert sample_html.count('src="data:image/jpeg;base64,') == 24  # photo, GT, prediction, error map
    for c in miou_conventions(sample):
        assert f"{format_percent(c.value)}" in text
        assert c.tool in text
    for definition in metrics.DEFINITIONS.values():
        assert definition in text
    for convention in ("Ignored pixels are left out.", "Invalid predictions are errors.", "Undefined ≠ 0."):
        assert convention in text
    assert "No sample was skipped: every sample found was evaluated." in text


def test_worst_images_are_the_lowest_miou_and_no_wider_than_480(sample, sample_html: str):
    frame = sample.image_frame().sort_values("mean_iou", kind="stable")
    names = re.findall(r'<div class="image-head"><h3>([^<]*)</h3>', sample_html)
    assert names == frame["name"].head(6).tolist()
    widths = [int(w) for w in re.findall(r'<img[^>]* src="data:image/jpeg[^"]*" width="(\d+)"', sample_html)]
    assert widths and max(widths) <= 480


def test_worst_count_is_honoured(tiny):
    assert '<section id="worst"' not in build_report(tiny, title="t", dataset="d", model=None, worst=0)
    one = build_report(tiny, title="t", dataset="d", model=None, worst=1)
    assert one.count('<article class="card image">') == 1
    with pytest.raises(ValueError, match=r"worst must be a non-negative integer \(got -1\)"):
        build_report(tiny, title="t", dataset="d", model=None, worst=-1)


def test_user_strings_are_escaped(evil_html: str):
    outside = "".join(_parse(evil_html).text)  # text as a browser shows it (entities decoded)
    # nothing the user wrote reaches the page as markup...
    for raw in (EVIL_CLASS, "<b>T&C</b>", "<m>", EVIL_FILE, 'data "x"', "<only-gt>"):
        assert raw not in evil_html.replace(get_plotlyjs(), ""), raw
    # ...and all of it is shown literally
    for shown in (EVIL_CLASS, "<b>T&C</b>", "<m>", EVIL_FILE, 'data "x"', "<only-gt>"):
        assert shown in outside, shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil_html
    assert "a&amp;&quot;b" in evil_html
    assert "<title>&lt;b&gt;T&amp;C&lt;/b&gt;</title>" in evil_html
    assert _external_references(evil_html) == []


def test_skipped_samples_are_listed_with_their_reason(evil, evil_html: str):
    assert len(evil.skipped) == 1
    text = " ".join(_parse(evil_html).text)
    assert "<only-gt>" in text and "no prediction in" in text
    # paths inside the dataset's folder, never the folder itself (a user's home, a server path)
    assert "gt/<only-gt>.png: no prediction in pred" in text
    assert str(evil.pairs[0].gt_path.parent.parent) not in evil_html


def test_missing_photo_and_unreadable_mask(tiny_dataset: Path):
    ev = evaluate(open_dataset(tiny_dataset))
    (tiny_dataset / "images" / "a.jpg").unlink()
    (tiny_dataset / "pred" / "b.png").write_bytes(b"not a png any more")
    html = build_report(ev, title="t", dataset="d", model=None)
    assert ">no photo</div>" in html
    assert "Could not draw this image:" in html and "pred/b.png" in html


def test_report_of_no_image_at_all(tiny):
    empty = fold([], tiny.table, skipped=tiny.skipped)
    html = build_report(empty, title="nothing", dataset="d", model=None)
    assert "No image was evaluated" in html
    assert ">n/a</div>" in html
    assert _external_references(html) == []


def test_lists_of_samples_are_capped_so_the_size_does_not_grow_with_the_dataset(tiny):
    """Issue #17: 100,000 skipped or warned samples must not make a 100,000-row report; the first
    LISTED_SAMPLES are named, then one line says how many more and where they all are."""
    from segviz.dataset import Problem
    from segviz.report.sections import LISTED_SAMPLES, problems_html

    def report(n: int) -> str:
        skipped = [Problem(f"skip{i:05d}", f"gt/skip{i:05d}.png: unreadable") for i in range(n)]
        warned = [Problem(f"warn{i:05d}", f"images/warn{i:05d}.jpg: photo unreadable") for i in range(n)]
        return problems_html(fold([], tiny.table, skipped=skipped, warnings=warned))

    few, many, more = report(LISTED_SAMPLES), report(LISTED_SAMPLES + 7), report(3 * LISTED_SAMPLES)
    assert "more, not listed here" not in few and f"skip{LISTED_SAMPLES - 1:05d}" in few
    assert f"all {LISTED_SAMPLES:,} samples" in few
    assert many.count("… and 7 more, not listed here") == 2  # the skipped table and the warned names
    assert f"skip{LISTED_SAMPLES - 1:05d}" in many and f"skip{LISTED_SAMPLES:05d}" not in many
    assert f"warn{LISTED_SAMPLES - 1:05d}" in many and f"warn{LISTED_SAMPLES:05d}" not in many
    assert (
        f"the first {LISTED_SAMPLES:,} samples" in many
        and "segviz evaluate --json</code> names every one" in many
    )
    assert f"{LISTED_SAMPLES + 7} samples could not be evaluated" in many  # the counts stay whole
    assert abs(len(more) - len(many)) < 100  # the same size, whatever the number of samples


# ---------------------------------------------------------------------- in a browser
@pytest.mark.browser
def test_report_renders_offline_in_chromium(browser, sample, sample_html: str):
    context, page, requests, dialogs, errors = _render(browser, sample_html)
    try:
        assert page.locator(".js-plotly-plot").count() >= 2
        text = page.inner_text("body")
        miou = format_percent(sample.summary()["mean_iou"])
        assert page.inner_text("[data-metric='mean_iou'] .value") == miou
        assert miou in text
        for name in sample.table.names:
            assert name in text, name
        bars = page.evaluate("() => document.getElementById('figure-classes').data[0].y")
        assert sorted(bars) == sorted(sample.table.names)
        images = page.evaluate("() => [...document.images].map(i => [i.complete, i.naturalWidth])")
        assert len(images) == 24
        assert all(complete and width > 0 for complete, width in images)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
        assert requests == [] and dialogs == [] and errors == []
    finally:
        context.close()


@pytest.mark.browser
def test_escaped_names_show_literally_and_run_nothing(browser, evil_html: str):
    context, page, requests, dialogs, errors = _render(browser, evil_html)
    try:
        text = page.inner_text("body")
        for shown in (EVIL_CLASS, "<b>T&C</b>", EVIL_FILE, "<only-gt>"):
            assert shown in text, shown
        assert page.title() == "<b>T&C</b>"
        # plotly.js decodes the entities of the escaped names: the axis shows the real name
        ticks = page.evaluate(
            "() => [...document.querySelectorAll('#figure-classes .ytick text')].map(t => t.textContent)"
        )
        # the bar label is the short form (cut at 18 characters with "…"), shown as text, never run
        assert any(t.startswith(EVIL_CLASS[:16]) for t in ticks), ticks
        assert page.locator("#figure-classes a, #figure-confusion a").count() == 0
        assert dialogs == [] and requests == [] and errors == []
    finally:
        context.close()


@pytest.mark.browser
def test_narrow_screen_layout(browser, sample_html: str):
    context, page, *_ = _render(browser, sample_html, width=420)
    try:
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
    finally:
        context.close()


@pytest.mark.browser
def test_write_pdf_prints_a_multi_page_a4(sample_html: str, tmp_path: Path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {CHROMIUM}")
        pytest.skip(f"{CHROMIUM} not installed")
    out = tmp_path / "report.pdf"
    write_pdf(sample_html, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    assert pages >= 2
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45](\.\d+)? 84[12](\.\d+)?\s*\]", data)  # A4 in points


def test_write_pdf_without_chromium_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SegvizError, match=r"PDF export needs Chromium at .*no-chromium.*apt-get install"):
        write_pdf("<p>x</p>", tmp_path / "x.pdf", executable=tmp_path / "no-chromium")


def test_jpeg_pictures_decode(sample_html: str):
    import base64
    import io

    first = re.search(r'src="data:image/jpeg;base64,([^"]+)"', sample_html).group(1)
    with Image.open(io.BytesIO(base64.b64decode(first))) as im:
        assert im.format == "JPEG" and im.width <= 480


# ---------------------------------------------------------------------- issue #10
def _section(html: str, anchor: str) -> str:
    return html.split(f'<section id="{anchor}"', 1)[1].split("</section>", 1)[0]


@pytest.mark.shared_data
def test_gains_and_losses_section_lists_only_changes_of_its_sign(shared_data):
    """Regression (issue #10): on CamVid, where every image improved from pixelgbm to tinyfcn, the
    losses list showed gains of +8.4 to +10.2."""
    from segviz.compare import compare

    root = shared_data / "camvid-val"
    a = evaluate(open_dataset(root, model="pixelgbm"))
    b = evaluate(open_dataset(root, model="tinyfcn"))
    comparison = compare(a, b, name_a="pixelgbm", name_b="tinyfcn", resamples=20)
    html = build_report(
        b, title="t", dataset="camvid", model="tinyfcn", resamples=20, worst=0, comparison=comparison
    )
    section = _section(html, "gains-losses")
    gains, losses = section.split("<h3>Largest losses</h3>")
    assert "101 improved, 0 got worse" in section
    changes = [float(x) for x in re.findall(r"<td>([+-]\d+\.\d)</td>", gains)]
    assert len(changes) == 10 and all(c > 0 for c in changes) and changes == sorted(changes, reverse=True)
    best = comparison.gains_and_losses(top=1).gains.iloc[0]
    assert changes[0] == round(100 * best["delta"], 1)
    assert "no image got worse" in losses and "<td>" not in losses
    assert 'href="#gains-losses"' in html
    assert 'id="gains-losses"' not in build_report(
        b, title="t", dataset="camvid", model="m", resamples=20, worst=0
    )


def test_conventions_section_shows_every_caveat(sample, sample_html: str):
    """Issue #10: the caveats of each convention are shown in the report, not only in a docstring."""
    import html as html_lib

    section = _section(sample_html, "which-miou")
    for c in miou_conventions(sample):
        assert c.caveats
        for caveat in c.caveats:
            assert html_lib.escape(caveat, quote=True) in section, caveat


def _visible_text(html: str) -> str:
    """The report without its scripts (plotly.js, figure JSON): what a reader sees."""
    return re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)


def test_undefined_values_read_n_a_never_none_or_nan(tmp_path: Path):
    """Issue #10: "n/a" everywhere for undefined values; never "None" or "nan"."""
    from conftest import TINY_CLASSES

    root = tmp_path / "ds"
    root.mkdir()
    (root / "classes.csv").write_text(TINY_CLASSES)
    save_mask(root / "gt" / "a.png", np.array([[0, 0, 0, 255]]))  # class 1 and 2: no GT
    save_mask(root / "pred" / "a.png", np.array([[0, 0, 1, 0]]))  # car predicted once: accuracy undefined
    save_mask(root / "gt" / "b.png", np.full((1, 4), 255))  # every pixel ignored: no mIoU
    save_mask(root / "pred" / "b.png", np.zeros((1, 4)))
    ev = evaluate(open_dataset(root))
    frame = ev.class_frame()  # person: no GT, no prediction: IoU undefined; car: accuracy undefined
    assert frame["iou"].isna().tolist() == [False, False, True] and frame["accuracy"].isna().sum() == 2
    assert ev.image_frame()["mean_iou"].isna().sum() == 1
    text = _visible_text(build_report(ev, title="t", dataset="d", model=None, resamples=20, worst=2))
    which = _section(text, "which-miou")  # prose about other tools, which do print NaN
    shown = text.replace(which, "")
    assert not re.search(r"\b(None|nan|NaN|null)\b", shown), re.findall(
        r".{60}\b(?:None|nan|NaN)\b.{20}", shown
    )
    assert "No sample was skipped" in shown  # (it read "None: every sample ...")
    rows = _section(text, "classes")
    assert rows.count("<td>n/a</td>") == 1  # car's accuracy
    # issue 16: a class in neither the ground truth nor the prediction gets one line, not a row of n/a
    assert "1 class never appears in the ground truth or the prediction" in rows
    assert re.search(r"never appears.*person", rows) and not re.search(r"person\S*</td>", rows)
