"""The ONNX engine: order, batching, truncation, device fallback, and the torch <-> served parity."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from serving.bundle import MANIFEST, ONNX_INT8, BundleError
from serving.engine import Engine


@pytest.fixture(scope="module")
def engine(tiny_bundle) -> Engine:
    return Engine(tiny_bundle, precision="fp32")


def test_results_follow_input_order_whatever_the_batching(engine, dev_texts):
    texts = dev_texts[:50] + ["Short.", "A much longer sentence " * 20]
    together = engine.classify(texts)
    one_by_one = [engine.classify([t])[0] for t in texts]
    assert [r.labels for r in together] == [r.labels for r in one_by_one]
    for a, b in zip(together, one_by_one):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_every_label_is_scored_and_labels_are_thresholded(engine, dev_texts):
    for result in engine.classify(dev_texts[:30]):
        assert list(result.scores) == engine.labels
        assert all(0.0 <= s <= 1.0 for s in result.scores.values())
        expected = [label for label, t in zip(engine.labels, engine.thresholds) if result.scores[label] >= t - 1e-6]
        assert result.labels == expected


def test_long_sentences_are_truncated_and_flagged(engine):
    short, long = engine.classify(["Clashes near the border.", "Clashes near the border. " * 200])
    assert not short.truncated and long.truncated


def test_batches_are_bounded_by_size_and_padded_tokens(tiny_bundle, dev_texts):
    engine = Engine(tiny_bundle, max_batch_size=8, max_batch_tokens=256)
    ids, _ = engine.encode(dev_texts[:100])
    batches = engine.batches(ids)
    assert sorted(i for b in batches for i in b.order) == list(range(100))
    for batch in batches:
        assert len(batch.order) <= 8
        assert batch.input_ids.size <= 256 or len(batch.order) == 1


def test_cuda_request_falls_back_to_cpu_with_a_log_line(tiny_bundle, caplog):
    caplog.set_level(logging.WARNING, logger="eventclf.engine")
    engine = Engine(tiny_bundle, device="cuda")
    assert engine.device == "cpu"
    assert "Falling back to CPU" in caplog.text


def test_engine_serves_the_precision_the_export_gate_recommended(tiny_bundle, engine, dev_texts):
    default = Engine(tiny_bundle)
    assert default.precision == default.manifest.recommended_precision
    int8 = Engine(tiny_bundle, precision="int8")
    same = np.mean([a.labels == b.labels for a, b in zip(int8.classify(dev_texts), engine.classify(dev_texts))])
    # The engine batches differently from export's check, and int8 activations scale per batch.
    assert same == pytest.approx(default.manifest.int8_agreement, abs=0.03)


def test_served_bundle_reproduces_torch_predictions(tiny_model_dir, engine, dev_texts):
    """Training-serving parity: the same sentences give the same labels through torch and the bundle."""
    from training.model import MultiLabelClassifier
    from training.tokenizer import load_checkpoint_tokenizer
    from training.torch_inference import sigmoid, torch_logits

    checkpoint = tiny_model_dir / "checkpoint"
    summary = json.loads((checkpoint / "training_summary.json").read_text())
    probs = sigmoid(torch_logits(MultiLabelClassifier.load(checkpoint), load_checkpoint_tokenizer(checkpoint),
                                 dev_texts))
    torch_labels = [[l for l, p, t in zip(engine.labels, row, summary["thresholds"]) if p >= t] for row in probs]
    served = engine.classify(dev_texts)
    assert [r.labels for r in served] == torch_labels
    served_probs = np.array([[r.scores[l] for l in engine.labels] for r in served])
    np.testing.assert_allclose(served_probs, probs, atol=1e-4)


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, target)
    return target


def _edit_manifest(bundle, **changes):
    path = bundle / MANIFEST
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_missing_bundle_is_refused_with_the_fix(tmp_path):
    with pytest.raises(BundleError, match="make train"):
        Engine(tmp_path / "nowhere")


def test_corrupted_onnx_is_refused(bundle_copy):
    with (bundle_copy / ONNX_INT8).open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00garbage\x00" * 10)
    with pytest.raises(BundleError, match="does not match its checksum"):
        Engine(bundle_copy)
    with pytest.raises(BundleError, match="not a loadable ONNX model"):
        Engine(bundle_copy, precision="int8", verify=False)  # the corrupted graph, whatever the bundle recommends


def test_incompatible_format_version_is_refused(bundle_copy):
    _edit_manifest(bundle_copy, format_version=99)
    with pytest.raises(BundleError, match="format version 99"):
        Engine(bundle_copy)


def test_label_list_that_does_not_match_the_model_is_refused(bundle_copy):
    data = json.loads((bundle_copy / MANIFEST).read_text())
    _edit_manifest(bundle_copy, labels=data["labels"][:-1], thresholds=data["thresholds"][:-1])
    with pytest.raises(BundleError, match="outputs 10 scores but bundle.json lists 9 labels"):
        Engine(bundle_copy)
