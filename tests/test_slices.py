"""Slices: metadata, binning, a slice's metrics and intervals, worst-slice discovery, the CLI and the
report; cross-checked on hand-computed cases, brute-force loops and CamVid evaluated again."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from segviz import ClassTable, SegvizError, evaluate, metrics, open_dataset
from segviz.cli import main
from segviz.dataset import Pair
from segviz.evaluate import Evaluation
from segviz.report import build_report
from segviz.slice_figures import slice_bar_figure, slice_compare_figure, worst_slices_table
from segviz.slices import (
    MISSING,
    Slicer,
    align_metadata,
    benjamini_hochberg,
    bin_values,
    compare_by,
    open_slices,
    read_metadata,
)
from segviz.stats import SUMMARY_KEYS, percentile_interval, poisson_weights
from segviz.store import ResultsStore


def evaluation_from_matrices(matrices, names=None) -> Evaluation:
    """An Evaluation from dense per-image (K, K+1) matrices (last column: invalid predictions)."""
    matrices = np.asarray(matrices, dtype=np.int64)
    n, k = matrices.shape[:2]
    img, g, p = np.nonzero(matrices)
    rows = np.stack([img, g, p, matrices[img, g, p]], axis=1)
    names = [f"img{i:03d}" for i in range(n)] if names is None else list(names)
    pairs = [Pair(name, Path(f"gt/{name}.png"), Path(f"pred/{name}.png")) for name in names]
    table = ClassTable.generated(range(k))
    return Evaluation(table, names, pairs, matrices.sum(axis=0), rows, np.zeros(n, np.int64))


# Four images, two classes; hand-computed below.
TINY = [
    [[8, 2, 0], [0, 10, 0]],  # a
    [[6, 0, 0], [4, 10, 0]],  # b
    [[0, 0, 0], [5, 5, 0]],  # c: only class 1, half wrong
    [[2, 2, 1], [0, 5, 0]],  # d: one invalid prediction
]


def tiny_slicer(**options) -> Slicer:
    ev = evaluation_from_matrices(TINY, names=list("abcd"))
    attrs = pd.DataFrame({"light": ["day", "day", "dusk", "dusk"], "speed": [10, 20, 30, 40]})
    return Slicer(ev, attrs, min_images=options.pop("min_images", 1), **options)


# ---------------------------------------------------------------------- a slice's numbers
def test_slice_numbers_are_hand_computed():
    s = tiny_slicer(resamples=200)
    day = s.metrics("light", "day")
    # day = a + b: [[14, 2, 0], [4, 20, 0]]; TP 14, 20; GT 16, 24; PRED 18, 22
    assert day.images == 2 and day.pixels == 40
    assert day.summary["pixel_accuracy"].estimate == pytest.approx(34 / 40)
    assert day.summary["mean_iou"].estimate == pytest.approx((14 / 20 + 20 / 26) / 2)
    # dusk = c + d: [[2, 2, 1], [5, 10, 0]]; TP 2, 10; GT 5, 15; PRED 7, 12
    dusk_miou = (2 / 10 + 10 / 17) / 2
    assert s.metrics("light", "dusk").summary["mean_iou"].estimate == pytest.approx(dusk_miou)
    assert day.delta["mean_iou"].estimate == pytest.approx((14 / 20 + 20 / 26) / 2 - dusk_miou)
    assert day.classes["iou"].tolist() == pytest.approx([14 / 20, 20 / 26])
    assert day.classes["delta"].tolist() == pytest.approx([14 / 20 - 2 / 10, 20 / 26 - 10 / 17])


def test_slice_equals_the_subset_evaluation_for_every_metric():
    rng = np.random.default_rng(3)
    matrices = rng.integers(0, 30, (40, 4, 5)) * (rng.random((40, 4, 1)) < 0.7)
    ev = evaluation_from_matrices(matrices)
    attrs = pd.DataFrame({"g": rng.choice(["x", "y", "z"], 40)})
    s = Slicer(ev, attrs, resamples=50)
    for m in s.by("g"):
        inside = metrics.summary_metrics(ev.subset(m.indices).confusion)
        rest = metrics.summary_metrics(ev.subset(np.setdiff1d(np.arange(40), m.indices)).confusion)
        for key in SUMMARY_KEYS:
            assert m.summary[key].estimate == pytest.approx(inside[key])
            assert m.delta[key].estimate == pytest.approx(inside[key] - rest[key])
        per_class = metrics.class_metrics(ev.subset(m.indices).confusion)["iou"]
        np.testing.assert_allclose(m.classes["iou"], per_class)


def test_intervals_match_a_brute_force_poisson_bootstrap():
    """Each resample rebuilt image by image as a weighted sum of dense matrices, through metrics."""
    rng = np.random.default_rng(5)
    matrices = rng.integers(0, 20, (12, 3, 4))
    ev = evaluation_from_matrices(matrices)
    attrs = pd.DataFrame({"g": ["x"] * 5 + ["y"] * 7})
    s = Slicer(ev, attrs, resamples=300, seed=11, min_images=1)
    got = s.metrics("g", "x")
    w = poisson_weights(12, resamples=300, seed=11)
    inside, rest = np.arange(5), np.arange(5, 12)
    miou_in, delta = [], []
    for b in range(300):
        cm_in = sum(w[b, i] * matrices[i] for i in inside)
        cm_rest = sum(w[b, i] * matrices[i] for i in rest)
        a = metrics.summary_metrics(cm_in)["mean_iou"]
        miou_in.append(a)
        delta.append(a - metrics.summary_metrics(cm_rest)["mean_iou"])
    lo, hi = percentile_interval(np.array(miou_in), 0.95)
    assert (got.summary["mean_iou"].low, got.summary["mean_iou"].high) == pytest.approx((lo, hi))
    lo, hi = percentile_interval(np.array(delta), 0.95)
    assert (got.delta["mean_iou"].low, got.delta["mean_iou"].high) == pytest.approx((lo, hi))


def test_too_few_images_and_no_rest():
    s = tiny_slicer(min_images=3)
    day = s.metrics("light", "day")
    assert day.too_few and day.min_images == 3
    everything = s.metrics_of(np.arange(4))
    assert math.isnan(everything.delta["mean_iou"].estimate)
    assert everything.to_dict()["delta_ci"] == [None, None]


def test_same_seed_same_intervals_and_json_contract():
    a, b = tiny_slicer(seed=4).metrics("light", "day"), tiny_slicer(seed=4).metrics("light", "day")
    assert a.to_dict() == b.to_dict()
    keys = {"column", "value", "images", "pixels", "pixel_accuracy", "mean_iou", "mean_iou_ci"}
    assert keys | {"delta_mean_iou", "delta_ci"} <= set(a.to_dict())


def test_unknown_column_and_value_are_named():
    s = tiny_slicer()
    with pytest.raises(SegvizError, match=r"no attribute 'weather'; the attributes are: light, speed"):
        s.metrics("weather", "x")
    with pytest.raises(SegvizError, match=r"light: no value 'night'; the values are: day, dusk"):
        s.metrics("light", "night")


# ---------------------------------------------------------------------- binning
def test_binning_rules():
    codes, labels, _ = bin_values(pd.Series(["b", "a", None, "b"]))
    assert labels == ("a", "b", MISSING) and codes.tolist() == [1, 0, 2, 1]
    codes, labels, how = bin_values(pd.Series([True, False, True]))
    assert labels == ("False", "True") and codes.tolist() == [1, 0, 1]
    codes, labels, how = bin_values(pd.Series([3, 1, 3, 2]))
    assert labels == ("1", "2", "3") and how == "values"
    x = pd.Series(np.arange(1, 101, dtype=float))
    codes, labels, how = bin_values(x)
    assert how == "4 quantile bins" and np.bincount(codes).tolist() == [25, 25, 25, 25]
    assert labels[0] == "[1, 25.75]" and labels[-1] == "(75.25, 100]"
    many = pd.Series([f"v{i % 30}" for i in range(90)] + ["v0"] * 5)
    codes, labels, how = bin_values(many, max_values=5)
    assert len(labels) == 5 and labels[-1] == "(other: 26 values)" and "4 most frequent" in how


def test_a_value_held_by_many_images_gets_its_own_bin():
    shares = pd.Series([0.0] * 40 + list(np.linspace(0.1, 0.9, 60)))
    codes, labels, how = bin_values(shares)
    assert labels[0] == "= 0" and np.sum(codes == 0) == 40 and how.startswith("own bin for 0")
    assert len(labels) == 4 and np.bincount(codes)[1:].tolist() == [20, 20, 20]


def test_dates_are_binned_by_time():
    days = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-03-01", "2024-06-01", "2024-07-01"]))
    _, labels, how = bin_values(days)
    assert how == "4 quantile bins" and labels[0].startswith("[2024-01-01")


# ---------------------------------------------------------------------- metadata
def test_metadata_warnings_name_the_rows(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("name,weather\na,rain\na,sun\nb.png,fog\nghost,sun\n")
    frame = read_metadata(f)
    aligned, warnings = align_metadata(frame, ["a", "b", "c"], source=str(f))
    assert aligned["weather"].tolist()[:2] == ["rain", "fog"] and pd.isna(aligned["weather"].iloc[2])
    assert any("1 duplicate rows for a; the first row of each is used" in w for w in warnings)
    assert any("1 names match no evaluated image: ghost" in w for w in warnings)
    assert any("1 evaluated images have no row" in w and w.endswith(": c") for w in warnings)


def test_metadata_errors_name_the_file(tmp_path):
    (tmp_path / "m.csv").write_text("image,weather\na,rain\n")
    with pytest.raises(SegvizError, match=r"m\.csv: no 'name' column \(columns: image, weather\)"):
        read_metadata(tmp_path / "m.csv")
    with pytest.raises(SegvizError, match=r"m\.xlsx: metadata must be a \.csv or \.parquet file"):
        read_metadata(tmp_path / "m.xlsx")
    with pytest.raises(SegvizError, match=r"nope\.csv: metadata file not found"):
        read_metadata(tmp_path / "nope.csv")


def test_parquet_metadata_with_typed_columns(tmp_path):
    pd.DataFrame(
        {"name": ["a", "b", "c", "d"], "night": [False, False, True, True], "t": [1.0, 2, 3, 4]}
    ).to_parquet(tmp_path / "m.parquet")
    ev = evaluation_from_matrices(TINY, names=list("abcd"))
    s, warnings = open_slices(ev, metadata=tmp_path / "m.parquet", pixels=False, min_images=1, resamples=20)
    assert warnings == [] and s.columns["night"].labels == ("False", "True")
    assert s.columns["night"].source == "metadata" and s.columns["prefix"].source == "automatic"
    assert s.metrics("night", "True").indices.tolist() == [2, 3]


# ---------------------------------------------------------------------- discovery
def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(0).random(50) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), scipy.stats.false_discovery_control(p, method="bh"))


def planted(n: int = 200, seed: int = 0):
    """Images of 3 classes; images with weather = fog AND time = night are predicted much worse."""
    rng = np.random.default_rng(seed)
    weather = rng.choice(["clear", "fog", "rain"], n)
    time = rng.choice(["day", "night"], n)
    noise = rng.choice(list("pqrs"), n)
    bad = (weather == "fog") & (time == "night")
    matrices = np.zeros((n, 3, 4), dtype=np.int64)
    for i in range(n):
        gt = rng.integers(200, 400, 3)
        acc = rng.beta(4, 4) * 0.3 + (0.1 if bad[i] else 0.6)
        right = rng.binomial(gt, acc)
        for c in range(3):
            matrices[i, c, c] = right[c]
            matrices[i, c, (c + 1) % 3] = gt[c] - right[c]
    attrs = pd.DataFrame({"weather": weather, "time": time, "noise": noise})
    return evaluation_from_matrices(matrices), attrs, bad


def test_discovery_finds_the_planted_pair_and_ranks_by_drop_times_share():
    ev, attrs, bad = planted()
    s = Slicer(ev, attrs, resamples=300)
    worst = s.worst(top=50)
    top = worst.frame.iloc[0]
    assert top["slice"] == "weather = fog & time = night" and top["significant"]
    assert worst.indices[0].tolist() == np.flatnonzero(bad).tolist()
    # the ranking by (all − slice) × share, checked on subsets evaluated independently
    everything = ev.summary()["mean_iou"]
    for row, idx in zip(worst.frame.itertuples(), worst.indices, strict=True):
        inside = metrics.summary_metrics(ev.subset(idx).confusion)["mean_iou"]
        rest = metrics.summary_metrics(ev.subset(np.setdiff1d(np.arange(200), idx)).confusion)["mean_iou"]
        assert row.rest == pytest.approx(rest) and row.drop == pytest.approx(everything - inside)
        assert row.score == pytest.approx((everything - inside) * len(idx) / 200)
    assert worst.frame["score"].is_monotonic_decreasing
    assert (worst.frame["images"] >= 10).all()
    assert "Benjamini–Hochberg at FDR 0.05 over all" in worst.method()


def test_noise_attributes_are_not_significant():
    ev, attrs, _ = planted(seed=1)
    s = Slicer(ev, attrs[["noise"]], resamples=300)
    worst = s.worst()
    assert not worst.frame["significant"].any()
    # four values: 4 candidate slices, none duplicated
    assert worst.candidates == 4


def test_slices_holding_the_same_images_are_counted_once():
    ev, attrs, _ = planted()
    attrs = attrs.assign(copy=attrs["weather"])
    s = Slicer(ev, attrs, resamples=100)
    assert s.worst().candidates == Slicer(ev, attrs.drop(columns="copy"), resamples=100).worst().candidates


def test_discovery_options_are_checked():
    s = tiny_slicer()
    with pytest.raises(ValueError, match=r"metric must be one of pixel_accuracy, mean_iou"):
        s.worst(metric="iou")
    with pytest.raises(ValueError, match=r"fdr must be between 0 and 1"):
        s.worst(fdr=5)


# ---------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def camvid(shared_data):
    root = shared_data / "camvid-val"
    return root, evaluate(open_dataset(root, model="tinyfcn"))


def evaluate_only(root, names):
    """An independent evaluation: the dataset with only these pairs, read from the files again."""
    ds = open_dataset(root, model="tinyfcn")
    ds.pairs = [p for p in ds.pairs if p.name in set(names)]
    return evaluate(ds)


@pytest.mark.shared_data
def test_camvid_sequence_slice_is_the_whole_set(camvid):
    """The camvid-val split holds one sequence (0016E5, see the data's PROVENANCE.md): its slice is
    every image, with no rest to compare with."""
    _, ev = camvid
    s, _ = open_slices(ev, pixels=False, resamples=200)
    (only,) = s.by("prefix")
    assert only.value == "0016E5" and only.images == 101
    assert only.summary["mean_iou"].estimate == pytest.approx(0.60408, abs=5e-6)
    assert math.isnan(only.delta["mean_iou"].estimate)


@pytest.mark.shared_data
def test_camvid_metadata_slices_equal_an_independent_evaluation(camvid, tmp_path):
    root, ev = camvid
    frames = pd.DataFrame({"name": ev.names})
    order = np.argsort([int(n.split("_")[1]) for n in ev.names])  # by frame number, four parts
    frames["part"] = ""
    frames.loc[order, "part"] = [f"part{i * 4 // len(order)}" for i in range(len(order))]
    frames.to_csv(tmp_path / "metadata.csv", index=False)
    s, warnings = open_slices(ev, metadata=tmp_path / "metadata.csv", pixels=False, resamples=200)
    assert warnings == []
    slices = s.by("part")
    assert sum(m.images for m in slices) == 101 and len(slices) >= 2
    for m in slices:
        names = [ev.names[i] for i in m.indices]
        alone = evaluate_only(root, names)
        assert alone.num_images == m.images
        expected = alone.summary()
        for key in SUMMARY_KEYS:
            assert m.summary[key].estimate == pytest.approx(expected[key], abs=1e-12)
        np.testing.assert_allclose(m.classes["iou"], alone.class_frame()["iou"], atol=1e-12)
        assert m.pixels == expected["evaluated_pixels"]


@pytest.mark.shared_data
def test_camvid_brightness_slices_equal_an_independent_evaluation(camvid, tmp_path):
    root, ev = camvid
    from segviz.store import ResultsStore

    s, _ = open_slices(ev, store=ResultsStore(tmp_path / "store"), resamples=200)
    slices = s.by("brightness")
    assert [m.images for m in slices] == [26, 25, 25, 25]
    darkest = slices[0]
    alone = evaluate_only(root, [ev.names[i] for i in darkest.indices]).summary()
    assert darkest.summary["mean_iou"].estimate == pytest.approx(alone["mean_iou"], abs=1e-12)


# ---------------------------------------------------------------------- CLI and report
@pytest.fixture
def tagged(tiny_dataset, tmp_path):
    (tiny_dataset / "metadata.csv").write_text("name,light\na,day\nb,dusk\nghost,day\n")
    return tiny_dataset


def test_cli_evaluate_by_prints_a_table_and_writes_json(tagged, tmp_path, capsys):
    out = tmp_path / "e.json"
    code = main(
        ["evaluate", str(tagged), "--by", "light", "--json", str(out), "--min-images", "1", "--no-store"]
    )
    assert code == 0
    printed = capsys.readouterr()
    assert "slices by light" in printed.out and "1 names match no evaluated image: ghost" in printed.err
    slices = json.loads(out.read_text())["slices"]
    assert [(s["column"], s["value"], s["images"]) for s in slices] == [
        ("light", "day", 1),
        ("light", "dusk", 1),
    ]
    alone = evaluate(open_dataset(tagged)).subset([0]).summary()
    assert slices[0]["mean_iou"] == pytest.approx(alone["mean_iou"])
    assert slices[0]["delta_mean_iou"] == pytest.approx(alone["mean_iou"] - slices[1]["mean_iou"])
    assert len(slices[0]["mean_iou_ci"]) == 2 and len(slices[0]["delta_ci"]) == 2


def test_cli_too_few_and_unknown_column(tagged, capsys):
    assert main(["evaluate", str(tagged), "--by", "light", "--no-store"]) == 0
    assert "too few images (< 10)" in capsys.readouterr().out
    assert main(["evaluate", str(tagged), "--by", "weather", "--no-store"]) == 2
    assert "segviz: error: no attribute 'weather'; the attributes are: light" in capsys.readouterr().err


def test_cli_slices_json(tagged, tmp_path, capsys):
    out = tmp_path / "w.json"
    code = main(
        ["slices", str(tagged), "--min-images", "1", "--json", str(out), "--resamples", "50", "--no-store"]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["metric"] == "mean_iou" and data["candidates"] >= 1 and "Benjamini" in data["method"]
    assert "score = drop × share" in capsys.readouterr().out


def test_report_says_where_the_model_is_weakest(tiny_dataset):
    ev = evaluate(open_dataset(tiny_dataset))
    worst = Slicer(ev, pd.DataFrame({"light": ["day", "dusk"]}), resamples=50, min_images=1).worst()
    html = build_report(ev, title="t", dataset="d", model="m", worst=0, resamples=50, weakest=worst)
    assert "Where the model is weakest" in html
    sentence = worst.sentences()[0]
    assert sentence.startswith("On the 1 image where light = ") and sentence in html


# ---------------------------------------------------------------------- two models, figures
def test_compare_by_is_paired_and_matches_subsets():
    ev_a, attrs, _ = planted(seed=2)
    ev_b, _, _ = planted(seed=3)  # same names, other counts
    f = compare_by(ev_a, ev_b, attrs, "weather", resamples=200)
    for row in f.itertuples():
        idx = np.flatnonzero(attrs["weather"].to_numpy() == row.value)
        a = metrics.summary_metrics(ev_a.subset(idx).confusion)["mean_iou"]
        b = metrics.summary_metrics(ev_b.subset(idx).confusion)["mean_iou"]
        assert (row.a, row.b, row.delta) == pytest.approx((a, b, b - a))
        assert row.low <= row.delta <= row.high
    same = compare_by(ev_a, ev_a, attrs, "weather", resamples=50)
    assert (same[["delta", "low", "high"]].to_numpy() == 0).all() and not same["significant"].any()


def test_compare_by_uses_the_shared_images_only():
    ev, attrs, _ = planted(n=60)
    fewer = ev.subset(range(30))
    f = compare_by(ev, fewer, attrs, "time", resamples=20)
    assert f["images"].sum() == 30


def test_slice_bar_figure_shows_the_frame():
    ev, attrs, _ = planted()
    frame = Slicer(ev, attrs, resamples=100).frame("weather")
    fig = slice_bar_figure(frame, overall=ev.summary()["mean_iou"])
    bar = fig.data[0]
    assert list(bar.x) == frame["value"].tolist()
    np.testing.assert_allclose(bar.y, 100 * frame["mean_iou"])
    np.testing.assert_allclose(
        np.asarray(bar.y) - np.asarray(bar.error_y.arrayminus), 100 * frame["mean_iou_low"]
    )
    assert fig.layout.shapes[0].y0 == pytest.approx(100 * ev.summary()["mean_iou"])


def test_worst_slices_table_is_the_ranked_list():
    ev, attrs, _ = planted()
    worst = Slicer(ev, attrs, resamples=100).worst()
    table = worst_slices_table(worst)
    assert table["slice"].tolist() == worst.frame["slice"].tolist()
    assert table["mIoU %"].tolist() == pytest.approx((100 * worst.frame["mean_iou"]).round(2).tolist())


def test_percentile_interval_equals_numpy_nanpercentile():
    """The vectorised path for columns with some undefined resamples (NaN) gives numpy's numbers."""
    rng = np.random.default_rng(8)
    samples = rng.random((333, 40))
    samples[rng.random((333, 40)) < 0.3] = np.nan
    samples[:, 3] = np.nan
    samples[:-1, 5] = np.nan  # one value
    low, high = percentile_interval(samples, 0.9)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        ref = np.nanpercentile(samples, [5, 95], axis=0)
    np.testing.assert_allclose(low, ref[0], rtol=1e-12)  # (the last bits of q·(n − 1) may differ)
    np.testing.assert_allclose(high, ref[1], rtol=1e-12)
    assert np.isnan(low[3]) and low[5] == high[5] == samples[-1, 5]


def test_cli_report_with_slices_says_so_even_when_no_slice_qualifies(tiny_dataset, tmp_path):
    out = tmp_path / "r.html"
    code = main(["report", str(tiny_dataset), "--out", str(out), "--slices", "--worst", "0", "--no-store"])
    assert code == 0
    html = out.read_text()
    assert "Where the model is weakest" in html
    assert "No slice of at least 10 images does worse than the other images." in html


def test_poisson_weights_are_poisson_one():
    """The inverse-CDF draw: mean 1, variance 1, P(0) = P(1) = 1/e, P(2) = 1/(2e); the tail beyond
    the vectorised levels (u ≥ CDF(7)) agrees with a plain search."""
    w = poisson_weights(1000, resamples=1000, seed=1)
    assert w.mean() == pytest.approx(1, abs=0.005) and w.var() == pytest.approx(1, abs=0.01)
    share = np.bincount(w.astype(int).ravel()) / w.size
    assert share[:3] == pytest.approx([math.exp(-1), math.exp(-1), math.exp(-1) / 2], abs=0.002)
    u = np.random.default_rng(1).random((1000, 1000))
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)])
    np.testing.assert_array_equal(w, np.searchsorted(cdf, u, side="right"))


def test_numeric_looking_names_stay_text(tmp_path):
    """Regression: pandas read the name "0001" as the number 1, which matched no image."""
    (tmp_path / "m.csv").write_text("name,light\n0001,day\n0002,dusk\n")
    _, warnings = align_metadata(read_metadata(tmp_path / "m.csv"), ["0001", "0002"], source="m.csv")
    assert warnings == []


def test_cli_bad_metadata_is_a_usage_error(tiny_dataset, tmp_path, capsys):
    (tmp_path / "m.csv").write_text("image,light\na,day\n")
    code = main(
        ["evaluate", str(tiny_dataset), "--by", "light", "--metadata", str(tmp_path / "m.csv"), "--no-store"]
    )
    assert code == 2
    assert "m.csv: no 'name' column (columns: image, light)" in capsys.readouterr().err


def test_close_bin_edges_print_differently():
    """Regression: edges 0.057712 and 0.057714 both printed as 0.05771, two bins with one label."""
    x = pd.Series([0.0577, 0.057712, 0.057713, 0.057714, 0.0578, 0.06, 0.07, 0.08, 0.09])
    _, labels, _ = bin_values(x, bins=8)
    assert len(set(labels)) == len(labels)


def test_discovery_p_value_and_interval_match_a_brute_force_bootstrap():
    """p = Φ(Δ / SE), Δ = slice − rest, SE the sd of Δ over the same Poisson resamples, rebuilt here
    image by image (regression: Δ was taken from the whole data instead of the rest)."""
    ev, attrs, _ = planted(n=60, seed=4)
    worst = Slicer(ev, attrs, resamples=200, min_images=5).worst(top=3)
    row, idx = worst.frame.iloc[0], worst.indices[0]
    rest = np.setdiff1d(np.arange(60), idx)
    dense = ev.image_confusions()
    w = poisson_weights(60, resamples=200, seed=0)
    deltas = []
    for b in range(200):
        inside = metrics.summary_metrics(np.tensordot(w[b, idx], dense[idx], axes=1))["mean_iou"]
        outside = metrics.summary_metrics(np.tensordot(w[b, rest], dense[rest], axes=1))["mean_iou"]
        deltas.append(inside - outside)
    deltas = np.array(deltas)
    delta = row["mean_iou"] - row["rest"]
    assert row["p_value"] == pytest.approx(
        scipy.stats.norm.cdf(delta / deltas.std(ddof=1)), rel=1e-6, abs=1e-300
    )
    assert (row["delta_low"], row["delta_high"]) == pytest.approx(tuple(np.percentile(deltas, [2.5, 97.5])))


def test_a_metadata_column_replaces_an_automatic_attribute_with_a_warning():
    ev = evaluation_from_matrices(TINY, names=list("abcd"))
    meta = pd.DataFrame({"name": list("abcd"), "prefix": ["x", "x", "y", "y"]})
    s, warnings = open_slices(ev, metadata=meta, pixels=False, min_images=1, resamples=20)
    assert warnings == ["metadata: columns prefix replace the automatic attributes of that name"]
    assert s.columns["prefix"].source == "metadata" and s.columns["prefix"].labels == ("x", "y")


def test_slice_json_carries_every_interval_and_class():
    m = tiny_slicer(resamples=50).metrics("light", "day")
    d = m.to_dict()
    assert set(d["intervals"]) == set(SUMMARY_KEYS) and d["intervals"]["mean_iou"] == d["mean_iou_ci"]
    assert d["deltas"]["mean_iou"][0] == d["delta_mean_iou"]
    assert [c["name"] for c in d["classes"]] == ["class_0", "class_1"]
    assert d["classes"][0]["iou"] == pytest.approx(14 / 20)
    json.dumps(d, allow_nan=False)


@pytest.mark.shared_data
def test_cli_slices_of_two_models_on_camvid(shared_data, tmp_path, capsys):
    root = shared_data / "camvid-val"
    out = tmp_path / "two.json"
    args = ["slices", str(root), "--models", "pixelgbm", "tinyfcn", "--by", "brightness"]
    assert main([*args, "--json", str(out), "--resamples", "200", "--store", str(tmp_path / "s")]) == 0
    rows = json.loads(out.read_text())["slices"]
    assert "tinyfcn vs pixelgbm by brightness" in capsys.readouterr().out
    a = evaluate(open_dataset(root, model="pixelgbm"))
    b = evaluate(open_dataset(root, model="tinyfcn"))
    s, _ = open_slices(a, store=ResultsStore(tmp_path / "s"), resamples=200)
    for row, m in zip(rows, s.by("brightness"), strict=True):
        assert row["value"] == m.value and row["a"] == pytest.approx(m.summary["mean_iou"].estimate)
        alone = metrics.summary_metrics(b.subset(m.indices).confusion)["mean_iou"]
        assert row["b"] == pytest.approx(alone) and row["low"] <= row["delta"] <= row["high"]
    assert main(["slices", str(root), "--models", "pixelgbm", "tinyfcn", "--no-store"]) == 2
    assert "--models needs --by COLUMN" in capsys.readouterr().err


def test_slice_compare_figure_shows_the_paired_frame():
    ev_a, attrs, _ = planted(seed=2)
    ev_b, _, _ = planted(seed=3)
    frame = compare_by(ev_a, ev_b, attrs, "weather", resamples=100)
    fig = slice_compare_figure(frame, a="a<1>", b="b", column="weather")
    bar = fig.data[0]
    assert list(bar.y) == frame["value"].tolist()
    np.testing.assert_allclose(bar.x, 100 * frame["delta"])
    np.testing.assert_allclose(np.asarray(bar.x) - np.asarray(bar.error_x.arrayminus), 100 * frame["low"])
    np.testing.assert_allclose(np.asarray(bar.x) + np.asarray(bar.error_x.array), 100 * frame["high"])
    grey = [c.startswith("rgba(127,127,127") for c in bar.marker.color]
    assert grey == (~frame["significant"]).tolist()
    assert "a&lt;1&gt;" in fig.layout.xaxis.title.text  # names escaped
