"""The table printer of benchmarks/bench_issue17.py on canned results of bench_scale and bench_app
(no timing here: the figures are made up, the test checks which figure lands in which cell)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("bench_issue17")


def _cli(wall: float, cpu: float, rc: int = 0, **extra) -> dict:
    return {"wall": wall, "cpu": cpu, "rss_mb": 500.0, "rc": rc, "stderr": "", **extra}


def _app(overview: float, control: float, peak: float, **extra) -> dict:
    return {
        "first overview": [overview, overview / 2],
        "control change": [control, control / 2],
        "image view": [0.2, 0.1],
        "next image": [0.1, 0.05],
        "rss peak MB": peak,
        **extra,
    }


def _canned() -> dict:
    """One size's results as bench_issue17 stores them: bench_scale's results-N.json under "cli",
    bench_app's --json under "app" (three rounds of each app, in rounds' order)."""
    return {
        "images": 2000,
        "machine": {"cpu": "Test CPU", "cores": 2, "memory GiB": 24.0, "python": "3.11.7", "system": "Linux"},
        "before": "/work/old",
        "revisions": {"before": "2889ef6", "new": "abc1234"},
        "dataset": {"path": "/d/scale-2000-128x96", "disk MB": 14.2},
        "load": {"start": 1.5, "after CLI": 2.25},
        "cli": {
            "before": {
                "evaluate cold": _cli(9.0, 8.0),
                "evaluate warm": _cli(0.71, 0.64),
                "compare warm": _cli(1.25, 1.5),
                "report": _cli(1.9, 1.8, bytes=5_150_000),
            },
            "new": {
                "evaluate cold": _cli(8.0, 7.0),
                "evaluate warm": _cli(0.5, 0.45),
                "compare warm": _cli(0.8, 0.9, rc=2),
                # no report: that step did not run
            },
        },
        "app": {
            "rounds": 3,
            "variants": {"old": "old app.py", "fragment": "new, fragment rerun (browser)"},
            "runs": {
                "old": [_app(6.0, 1.5, 300.0), _app(1.0, 0.5, 3000.0), _app(2.0, 9.0, 310.0)],
                "fragment": [
                    _app(0.9, 0.04, 290.0),
                    _app(0.7, 0.06, 280.0, error="the step after 'first overview' raised: boom"),
                    _app(0.8, 0.05, 1600.0),
                ],
            },
        },
    }


def _cells(text: str, code: str) -> list[str]:
    """The cells of the table row whose code column starts with ``code``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 2 and cells[2].startswith(code):
            return cells
    raise AssertionError(f"no row for {code} in:\n{text}")


def test_each_figure_lands_in_its_column_old_and_new_side_by_side(bench):
    text = bench.table([_canned()])
    head = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    assert head == [
        "images",
        "disk",
        "code",
        "CLI evaluate warm",
        "compare warm",
        "report",
        "app first overview",
        "control change",
        "Images view",
        "Next image",
        "server peak",
    ]
    old, new = _cells(text, "old"), _cells(text, "new")
    assert old[:3] == ["2,000", "14 MB", "old (2889ef6)"]
    assert new[:3] == ["", "", "new (abc1234)"]  # the size and its disk once per N
    # CLI: bench_scale's wall / CPU of the same step and code; the report with its size
    assert old[3:6] == ["0.71 s / 0.64 s", "1.25 s / 1.50 s", "1.90 s / 1.80 s, 5.15 MB"]
    # a failed command is marked with its exit code; a step that did not run is '–'
    assert new[3:6] == ["0.50 s / 0.45 s", "0.80 s / 0.90 s (exit 2)", "–"]
    # app: the median of the rounds (not the mean, not the first), wall and CPU each
    assert old[6:10] == ["2.00 s / 1.00 s", "1.50 s / 0.75 s", "0.20 s / 0.10 s", "0.10 s / 0.05 s"]
    assert new[6:8] == ["0.80 s / 0.40 s", "0.05 s / 0.03 s"]  # new = the fragment reruns
    assert (old[10], new[10]) == ("310 MB", "290 MB")
    assert "2,000 images, fragment app: the step after 'first overview' raised: boom" in text
    assert "2,000 images: load average (1 min) start 1.5, after CLI 2.2" in text


def test_peak_in_gigabytes_and_several_sizes_in_one_table(bench):
    small, large = _canned(), _canned()
    large["images"] = 100_000
    large["dataset"]["disk MB"] = 15.0
    for run in large["app"]["runs"]["old"]:
        run["rss peak MB"] = 4096.0
    text = bench.table([small, large])
    sizes = [c[0] for c in (line.strip("|").split("|") for line in text.splitlines()[3:7])]
    assert [s.strip() for s in sizes] == ["2,000", "", "100,000", ""]
    assert text.count("| old (2889ef6)") == 2
    assert text.splitlines()[2].startswith("| target at 100,000 | ≤ 2 GB |")
    assert "| 4.00 GB |" in text


def test_the_keys_read_are_the_ones_bench_app_writes(bench):
    """A renamed step in bench_app would leave a column empty ('–') without failing the run."""
    app = _load("bench_app")
    written = {step for step, _ in app.STEPS}
    read = {key for _, key, _ in bench.APP_COLUMNS} | {bench.PEAK[1]}
    assert read <= written
    assert set(bench.APP_VARIANTS.values()) <= set(app.VARIANTS)


def test_from_json_reprints_a_saved_run(bench, tmp_path, capsys, monkeypatch):
    saved = tmp_path / "issue17-2000.json"
    saved.write_text(json.dumps(_canned()))
    monkeypatch.setattr("sys.argv", ["bench_issue17.py", "--from-json", str(saved)])
    bench.main()
    out = capsys.readouterr().out
    assert out.startswith("machine: Test CPU, 2 cores, 24.0 GiB, Python 3.11.7")
    assert _cells(out, "old")[3] == "0.71 s / 0.64 s"


def test_browser_columns_when_the_browser_ran(bench):
    result = _canned()
    result["browser"] = {
        "rounds": 1,
        "runs": {
            "before": [{"first overview": [4.3, 0.45], "control change": [0.34, 0.14]}],
            "new": [{"first overview": [3.7, 0.41], "control change": [0.31, 0.11]}],
        },
    }
    text = bench.table([result])
    head = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    assert head[-3:] == ["first overview (browser)", "control change (browser)", "server peak"]
    assert _cells(text, "old")[-3:-1] == ["4.30 s / 0.45 s", "0.34 s / 0.14 s"]
    assert _cells(text, "new")[-3:-1] == ["3.70 s / 0.41 s", "0.31 s / 0.11 s"]
    assert "| first overview (browser)" not in bench.table([_canned()])
