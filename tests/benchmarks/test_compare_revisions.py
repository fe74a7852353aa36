"""benchmarks/compare_revisions.py: turning benchmark rows into per-version medians (synthetic
rows; no benchmark runs)."""

import importlib
from pathlib import Path

import pytest


@pytest.fixture
def compare(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    return importlib.import_module("compare_revisions")


def conv_row(variant, median_ms, ratio):
    return {"shape": "FCN 1->128 k8", "length": 270, "variant": variant, "median_ms": median_ms,
            "time_vs_torch": ratio}


def test_conv_records_pair_each_rate_with_torch_conv_of_its_shape(compare):
    rows = [conv_row("torch conv", 10.0, 1.0), conv_row("bandts c=0.5", 6.0, 0.6)]
    assert compare.conv_records(rows) == [{
        "benchmark": "bench_conv", "unit": "ms", "row": "FCN 1->128 k8 L=270 c=0.5",
        "time": 6.0, "baseline_time": 10.0, "ratio": 0.6}]


def test_fcn_records_take_sktime_of_the_same_dataset_as_baseline(compare):
    rows = [{"dataset": d, "config": c, "epoch_seconds": s, "epoch_time_ratio": s / base}
            for d, base in (("ECG200", 2.0), ("GunPoint", 4.0))
            for c, s in (("sktime", base), ("fft-0.5", 1.0))]
    records = compare.fcn_records(rows)
    assert [(r["row"], r["baseline_time"], r["ratio"]) for r in records] == [
        ("ECG200 fft-0.5", 2.0, 0.5), ("GunPoint fft-0.5", 4.0, 0.25)]


def test_aggregate_takes_medians_per_version_and_pairs_times_by_round(compare):
    base_times, current_times = [10.0, 30.0, 20.0], [12.0, 15.0, 40.0]
    records = [{"benchmark": "bench_conv", "row": "r", "unit": "ms", "version": version,
                "round": n, "time": t, "baseline_time": 2 * t, "ratio": 0.5 + n}
               for version, times in (("base", base_times), ("current", current_times))
               for n, t in enumerate(times)]
    [row] = compare.aggregate(records)
    assert (row["base_time"], row["base_baseline_time"], row["base_ratio"]) == (20.0, 40.0, 1.5)
    assert (row["current_time"], row["current_ratio"]) == (15.0, 1.5)
    assert row["current_vs_base_time_rounds"] == [1.2, 0.5, 2.0]
    assert row["current_vs_base_time"] == 1.2
    assert row["base_ratio_rounds"] == [0.5, 1.5, 2.5]
