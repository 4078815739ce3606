"""The whole slice on the real multilingual base model: convert, train briefly, export with the default
proof gates, serve the bundle, and check that served predictions reproduce torch's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from live_server import live_server

from serving.engine import Engine


@pytest.mark.slow
def test_real_base_model_trains_exports_and_serves(tmp_path, real_base, dev_texts):
    from training.config import TrainConfig
    from training.export import export
    from training.model import MultiLabelClassifier
    from training.tokenizer import load_checkpoint_tokenizer
    from training.torch_inference import sigmoid, torch_logits
    from training.train import train

    config = TrainConfig(name="e2e", base_model=str(real_base), models_dir=tmp_path, max_steps=150, batch_size=16,
                         limit=2400, max_length=64, seed=3)
    model_dir = train(config)
    metrics = json.loads((model_dir / "metrics.json").read_text())
    # 150 steps on part of the data: far from the final model, but well above chance (micro-F1 ~0.2).
    assert metrics["tuned_thresholds"]["micro_f1"] > 0.4, metrics["headline"]

    bundle = export(model_dir)  # default gates: fp32 within 1e-4 of torch, int8 agreeing on >= 98%
    exported = json.loads((bundle / "bundle.json").read_text())
    assert exported["text_prefix"] == "query: " and exported["base_model"] == str(real_base)

    checkpoint = model_dir / "checkpoint"
    probs = sigmoid(torch_logits(MultiLabelClassifier.load(checkpoint), load_checkpoint_tokenizer(checkpoint),
                                 dev_texts[:200]))
    engine = Engine(bundle, precision="fp32")
    served = engine.probabilities(dev_texts[:200])[0]
    np.testing.assert_allclose(served, probs, atol=1e-4)

    with live_server(bundle) as (base, _):
        response = requests.post(base + "/classify", json={"sentences": dev_texts[:16]}, timeout=60)
        assert response.status_code == 200
        int8 = Engine(bundle)
        assert [r["labels"] for r in response.json()["results"]] == [r.labels for r in int8.classify(dev_texts[:16])]
