"""The benchmark (`make bench`) in quick mode on the tiny model: the report's structure, never its timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

VARIANTS = {"torch_single", "torch_batched", "ort_fp32", "ort_int8"}


@pytest.fixture(scope="module")
def quick_report(tiny_model_dir, tmp_path_factory):
    from benchmarks.run import main

    out = tmp_path_factory.mktemp("bench")
    report = main(["--quick", "--model-dir", str(tiny_model_dir), "--out", str(out)])
    return report, out


def test_quick_benchmark_writes_json_markdown_and_chart(quick_report):
    report, out = quick_report
    stem = f"{report['date']}-{report['machine']['id']}-quick"
    for suffix in (".json", ".md", ".png"):
        assert (out / (stem + suffix)).is_file(), suffix
    assert json.loads((out / f"{stem}.json").read_text())["variants"].keys() == report["variants"].keys()
    assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / f"{stem}.md").read_text()
    for variant in report["variants"].values():
        assert variant["label"] in table
    assert "| target |" in table


def test_every_variant_is_measured_with_latency_memory_and_roofline(quick_report):
    report, _ = quick_report
    assert set(report["variants"]) == VARIANTS
    for name, v in report["variants"].items():
        assert v["sentences_per_s"] > 0, name
        assert len(v["sentences_per_s_rounds"]) == report["plan"]["rounds"]
        assert 0 < v["latency_ms"]["p50"] <= v["latency_ms"]["p95"] <= v["latency_ms"]["p99"]
        assert v["peak_rss_mb"] > 0, name
        assert v["roofline_fraction"] > 0
    assert report["variants"]["torch_single"]["call_size"] == 1
    assert report["variants"]["torch_batched"]["length_sorted"] is True
    sweep = report["engine_sweep"]
    assert {v["call_size"] for v in sweep.values()} == set(report["plan"]["sweep"])
    assert report["roofline"]["matmul_fp32_gflops"] > 0
    assert report["roofline"]["encoder"]["params_non_embedding"] > 0
    assert report["inputs"]["sentences"] > 0 and report["inputs"]["mean_tokens"] > 0


def test_served_levels_scrape_batch_sizes_and_server_memory(quick_report):
    report, _ = quick_report
    http = report["http"]
    assert [(lv["concurrency"], lv["phase"]) for lv in http["levels"]] == [
        (1, "rising"), (8, "rising"), (1, "after_overload")]
    for level in http["levels"]:
        assert level["requests"] == level["ok"] > 0, level["status_counts"]
        assert level["batches"]["model_calls"] > 0
        assert 1 <= level["batches"]["mean_batch_size"] <= level["concurrency"]
        assert level["sentences_per_s"] > 0
        assert level["latency_ms"]["p50"] > 0
    assert http["levels"][0]["batches"]["mean_batch_size"] == 1
    assert http["server"]["peak_rss_mb"] > 0 and http["server"]["processes"]


def test_ratios_and_targets_are_computed(quick_report):
    report, _ = quick_report
    ratios = report["ratios"]
    assert ratios["vs_baseline"]["torch_single"] == pytest.approx(1.0)
    assert all(np.isfinite(x) and x > 0 for x in ratios["vs_baseline"].values())
    for level in report["http"]["levels"]:
        assert level["served_vs_baseline"] > 0
        assert level["served_vs_raw_engine"] > 0 and level["served_vs_raw_engine_sweep"] > 0
        assert level["raw_engine_after"]["batch_size"] == round(level["batches"]["mean_batch_size"])
    assert ratios["c1_p50_vs_engine_b1_p50"] > 0
    targets = {t["name"]: t for t in report["targets"]}
    assert len(targets) == 3
    for t in targets.values():
        assert isinstance(t["met"], bool) and t["value"] > 0
    assert report["device"]["torch"] == "cpu"


def test_device_cuda_without_a_gpu_says_so(monkeypatch):
    import torch

    from benchmarks.run import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = resolve_device("cuda")
    assert info["torch"] == "cpu" and info["onnxruntime"] == "cpu"
    assert "no GPU" in info["note"]


def test_prometheus_histogram_parsing_and_batch_split_plan():
    from benchmarks.experiments import split_plan
    from benchmarks.http_load import parse_histogram

    text = """# HELP eventclf_batch_sentences Sentences per model call
eventclf_batch_sentences_bucket{le="1.0"} 3.0
eventclf_batch_sentences_bucket{le="8.0"} 5.0
eventclf_batch_sentences_bucket{le="+Inf"} 5.0
eventclf_batch_sentences_count 5.0
eventclf_batch_sentences_sum 13.0
other_metric_count 99
"""
    hist = parse_histogram(text)
    assert hist.to_dict()["mean_batch_size"] == pytest.approx(13 / 5)
    assert hist.minus(parse_histogram(text)).count == 0

    lengths = np.array([5, 5, 6, 6, 40, 41])
    groups = split_plan(lengths, max_rows=64, max_tokens=8192, overhead_tokens=8)
    assert groups == [(0, 4), (4, 6)]
    assert split_plan(lengths, max_rows=64, max_tokens=8192, overhead_tokens=10_000) == [(0, 6)]
    assert all(end - start <= 2 for start, end in split_plan(lengths, 2, 8192, 0.0))
