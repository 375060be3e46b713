"""Shared fixtures: tiny datasets written on the fly, and the real data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGVIZ_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def private_results_store(tmp_path_factory):
    """Tests never write into the user's cache: the results store lives in a temporary folder."""
    os.environ["SEGVIZ_STORE"] = str(tmp_path_factory.mktemp("store"))
    yield


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (never `playwright install`)."""
    from segviz.report import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install --no-install-recommends chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets; mandatory in CI, skipped with a reason elsewhere."""
    if not (SHARED / "voc2012-deeplab").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real datasets at {SHARED} (set SEGVIZ_SHARED_DATA)")
        pytest.skip(f"real datasets not found at {SHARED} (set SEGVIZ_SHARED_DATA)")
    return SHARED


def save_mask(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    """Write an integer array as a mask file (.png via Pillow in ``mode``, or .npy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, array)
        return path
    if mode == "P":
        # A palette whose colours differ from the indices: reading must return the indices.
        im = Image.frombytes("P", array.shape[::-1], array.astype(np.uint8).tobytes())
        im.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)])
    elif mode == "I;16":
        im = Image.fromarray(array.astype(np.uint16))
    elif mode == "RGB":
        im = Image.fromarray(array.astype(np.uint8))
    else:
        im = Image.fromarray(array.astype(np.uint8))
    im.save(path)
    return path


TINY_CLASSES = (
    "id,name,r,g,b,ignore\n0,road,128,64,128,0\n1,car,0,0,142,0\n2,person,220,20,60,0\n255,void,0,0,0,1\n"
)


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Two 2x3 images with a hand-computed confusion matrix (see test_evaluate)."""
    root = tmp_path / "tiny"
    (root / "images").mkdir(parents=True)
    (root / "classes.csv").write_text(TINY_CLASSES)
    gt_a = np.array([[0, 0, 1], [1, 255, 2]])
    pr_a = np.array([[0, 1, 1], [1, 0, 2]])
    gt_b = np.array([[0, 0, 0], [0, 1, 1]])
    pr_b = np.array([[0, 0, 255], [0, 0, 1]])
    for name, g, p in (("a", gt_a, pr_a), ("b", gt_b, pr_b)):
        save_mask(root / "gt" / f"{name}.png", g)
        save_mask(root / "pred" / f"{name}.png", p)
        Image.new("RGB", (3, 2), (90, 90, 90)).save(root / "images" / f"{name}.jpg")
    return root


def unmarked(markdown: str) -> str:
    """What a viewer reads from a markdown body written with segviz.dashboard.widgets.name:
    backslash escapes undone, direction isolates (U+2068 / U+2069) and word joiners dropped."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2068", "").replace("\u2069", "").replace("\u2060", "")


def loose(text: str):
    """A pattern matching ``text`` as a browser shows it when written with segviz.dashboard.widgets
    (name / plot_names): direction isolates and word joiners (U+2068, U+2069, U+2060) may stand
    between any two characters. For Playwright's ``has_text`` / ``get_by_text``."""
    import re

    marks = "[\u2060\u2068\u2069]*"
    return re.compile(marks + marks.join(re.escape(ch) for ch in text) + marks)


def run_app(
    monkeypatch, *, root: Path = ROOT, dataset: str = "sample_data", query=None, timeout: float = 120
):
    """The dashboard in AppTest on ``root``/``dataset`` (the data root and default dataset by
    environment, as a server gets them), with ``query`` as the link's parameters; after one run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(root))
    monkeypatch.setenv("SEGVIZ_DATASET", dataset)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()
