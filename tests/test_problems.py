"""Repeated problems grouped into one line per kind (issue #10, item 12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_CLASSES, save_mask
from segviz import evaluate, open_dataset
from segviz.cli import main
from segviz.dataset import Problem
from segviz.problems import group_problems, problem_kind, problem_lines
from segviz.report import build_report

N = 400


@pytest.fixture(scope="module")
def quarter_size_photos(tmp_path_factory) -> Path:
    """400 pairs of 16×12 masks whose photos are stored at a quarter of that size (8×6)."""
    root = tmp_path_factory.mktemp("quarter") / "ds"
    (root / "images").mkdir(parents=True)
    (root / "classes.csv").write_text(TINY_CLASSES)
    rng = np.random.default_rng(0)
    for i in range(N):
        gt = rng.integers(0, 3, (12, 16))
        save_mask(root / "gt" / f"f{i:03}.png", gt)
        save_mask(root / "pred" / f"f{i:03}.png", np.where(rng.random((12, 16)) < 0.8, gt, 0))
        Image.new("RGB", (8, 6), (90, 90, 90)).save(root / "images" / f"f{i:03}.jpg")
    return root


def test_cli_prints_one_line_for_400_photos_of_the_wrong_size(quarter_size_photos, tmp_path, capsys):
    """Regression (issue #10): 400 identical warnings, --quiet included."""
    out = tmp_path / "r.json"
    code = main(["evaluate", str(quarter_size_photos), "--quiet", "--no-store", "--json", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert len(err) == 1, err[:5]
    line = err[0]
    assert line.startswith("segviz: warning: 400 samples (f000, f001, f002 and 397 more): ")
    assert line.endswith("f000.jpg: photo size 8x6 differs from its masks (16x12)")
    warnings = json.loads(out.read_text())["warnings"]  # the JSON keeps every one
    assert len(warnings) == N and [w["name"] for w in warnings] == [f"f{i:03}" for i in range(N)]


def test_the_report_groups_them_too(quarter_size_photos):
    result = evaluate(open_dataset(quarter_size_photos))
    html = build_report(result, title="t", dataset="d", model=None, resamples=10, worst=0)
    section = html.split('<section id="problems"', 1)[1]
    assert "<h3>Warnings (400)</h3>" in section
    assert section.count("<li>") == 1 and "400 samples, e.g." in section
    assert all(f"f{i:03}" in section for i in range(N))  # every sample is still named


def test_groups_keep_every_problem_and_their_order():
    problems = [
        Problem("a", "/d/images/a.jpg: photo size 8x6 differs from its masks (16x12)"),
        Problem("b", "/d/pred/b.png: size 3x4 differs from the ground truth /d/gt/b.png (4x4)"),
        Problem("c", "/d/images/c.jpg: photo size 10x7 differs from its masks (40x28)"),
        Problem("d", "/d/images/d.jpg: photo unreadable (shown without one)"),
    ]
    groups = group_problems(problems)
    assert [g.names for g in groups] == [["a", "c"], ["b"], ["d"]]
    assert sum(g.count for g in groups) == len(problems)
    assert (
        groups[0].kind
        == problem_kind(problems[2].reason)
        == "<file>: photo size #x# differs from its masks (#x#)"
    )
    assert groups[1].line() == problems[1].reason  # a single problem reads as before
    # up to `first` of a kind read one by one, as before; more become one line
    assert problem_lines(problems) == [p.reason for p in (problems[0], problems[2], problems[1], problems[3])]
    assert problem_lines(problems, with_names=True)[0] == "a: " + problems[0].reason
    assert problem_lines(problems * 2)[0] == "4 samples (a, c, a and 1 more): " + problems[0].reason
    assert problem_lines(problems, first=1)[0] == "2 samples (a and 1 more): " + problems[0].reason


def test_different_kinds_stay_apart():
    assert problem_kind("x/a.png: photo unreadable (shown without one)") != problem_kind(
        "x/a.png: photo size 1x1 differs from its masks (2x2)"
    )
    assert group_problems([]) == []
