"""The command line: output, files, exit status."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import save_mask
from segviz.cli import main


def test_evaluate_prints_table_and_writes_json_and_csv(tiny_dataset, tmp_path, capsys):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["evaluate", str(tiny_dataset), "--json", str(out_json), "--csv", str(out_csv)]) == 0
    stdout = capsys.readouterr().out
    assert "mIoU" in stdout and "72.73" in stdout  # PA = 8/11
    assert "road" in stdout and "57.14" in stdout  # IoU(road) = 4/7
    data = json.loads(out_json.read_text())
    assert data["pixel_accuracy"] == pytest.approx(8 / 11) and data["num_images"] == 2
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["name"] for r in rows] == ["road", "car", "person"]
    assert float(rows[1]["iou"]) == pytest.approx(3 / 5, abs=1e-6)


def test_exit_status_one_when_something_was_skipped(tiny_dataset, capsys):
    save_mask(tiny_dataset / "gt" / "lonely.png", np.zeros((2, 3)))
    assert main(["evaluate", str(tiny_dataset), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"segviz: skipped lonely: {tiny_dataset / 'gt' / 'lonely.png'}: no prediction in" in err


def test_usage_errors_exit_two(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "dataset folder does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate"])
    assert exc.value.code == 2
    assert main(["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path), "--classes", "nope"]) == 2


def test_refuses_to_write_into_the_dataset(tiny_dataset, capsys):
    assert main(["evaluate", str(tiny_dataset), "--json", str(tiny_dataset / "gt" / "r.json")]) == 2
    assert "inside the dataset folder" in capsys.readouterr().err
    assert not (tiny_dataset / "gt" / "r.json").exists()


def test_ignore_option_overrides_table(tiny_dataset, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", str(tiny_dataset), "--ignore", "255,2", "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["classes"]] == ["road", "car"] and data["ignored_pixels"] == 2


def test_python_dash_m_and_console_script(tiny_dataset):
    proc = subprocess.run(
        [sys.executable, "-m", "segviz", "evaluate", str(tiny_dataset)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PA" in proc.stdout and "72.73" in proc.stdout


def test_report_command_writes_html(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["evaluate", str(tiny_dataset), "--quiet"]) == 0
    assert main(["report", str(tiny_dataset), "--out", str(out), "--resamples", "50"]) == 0
    text = out.read_text()
    assert "72.73" in text and "road" in text  # PA = 8/11
    assert main(["report", str(tiny_dataset), "--out", str(tiny_dataset / "gt" / "r.html")]) == 2


def test_report_and_dashboard_never_write_into_the_dataset(tiny_dataset, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_evaluate import _tree_hash

    from conftest import ROOT

    before = _tree_hash(tiny_dataset)
    assert main(["report", str(tiny_dataset), "--out", str(tmp_path / "r.html"), "--resamples", "20"]) == 0
    monkeypatch.setenv("SEGVIZ_DATA_ROOT", str(tiny_dataset.parent))
    monkeypatch.setenv("SEGVIZ_DATASET", tiny_dataset.name)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.button(key="ex:report").click().run()  # the report built in the app
    at.radio(key="view").set_value("Images").run()
    assert not at.exception
    assert _tree_hash(tiny_dataset) == before
