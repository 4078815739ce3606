"""Training really trains, writes what it promises, and export proves the ONNX graphs before publishing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from serving.bundle import FORMAT_VERSION, read_bundle, sha256_file
from training.export import ExportError, export
from training.model import MultiLabelClassifier
from training.torch_inference import torch_logits
from training.typology import load_typology


def test_training_writes_checkpoint_metrics_and_card(tiny_model_dir, data_dir):
    metrics = json.loads((tiny_model_dir / "metrics.json").read_text())
    labels = load_typology(data_dir).label_ids
    report = metrics["tuned_thresholds"]
    assert set(report["per_label"]) == set(labels)
    assert {"micro_f1", "macro_f1", "per_language", "hard_cases"} <= set(report)
    assert "en" in report["per_language"] and len(report["per_language"]) >= 2
    summary = json.loads((tiny_model_dir / "checkpoint" / "training_summary.json").read_text())
    # BCE at initialisation is ln 2 = 0.693 per label; a model that learned nothing stays there.
    assert summary["training_loss"] < 0.6
    assert len(summary["thresholds"]) == len(labels)
    card = (tiny_model_dir / "README.md").read_text()
    assert "Per language" in card and "Hard cases" in card


def test_warmup_is_the_configured_share_with_a_floor_for_short_runs():
    from training.config import TrainConfig
    from training.train import warmup_steps

    # The default run on 10,772 sentences: 674 steps x 4 epochs; 6% of 2,696 is 162, as Trainer computes it.
    assert warmup_steps(TrainConfig(), 10_772) == 162
    # A 150-step run would warm up for 9 steps by the ratio; the floor (capped at half the run) gives 75.
    assert warmup_steps(TrainConfig(max_steps=150), 2_400) == 75
    assert warmup_steps(TrainConfig(max_steps=1_000, warmup_min_steps=0), 2_400) == 60


def test_layer_lr_decay_gives_each_layer_its_rate(tiny_base):
    from training.config import TrainConfig
    from training.model import ClassifierSpec, build_model
    from training.train import _optimizer

    model = build_model(tiny_base, ClassifierSpec(labels=["a", "b"]))  # 2 transformer layers
    model.freeze_word_embeddings()
    flat = _optimizer(model, TrainConfig(learning_rate=1e-4, head_learning_rate=1e-2, layer_lr_decay=1.0))
    assert sorted(g["lr"] for g in flat.param_groups) == [1e-4, 1e-2]
    decayed = _optimizer(model, TrainConfig(learning_rate=1e-4, head_learning_rate=1e-2, layer_lr_decay=0.5))
    rate_of = {id(p): g["lr"] for g in decayed.param_groups for p in g["params"]}
    params = dict(model.named_parameters())
    assert rate_of[id(params["encoder.encoder.layer.1.output.dense.weight"])] == pytest.approx(1e-4)
    assert rate_of[id(params["encoder.encoder.layer.0.output.dense.weight"])] == pytest.approx(5e-5)
    assert rate_of[id(params["encoder.embeddings.LayerNorm.weight"])] == pytest.approx(2.5e-5)
    assert rate_of[id(params["classifier.weight"])] == 1e-2
    # Every trainable parameter is optimised exactly once; the frozen word embeddings not at all.
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(rate_of) == len(trainable) == sum(len(g["params"]) for g in decayed.param_groups)
    assert id(params["encoder.embeddings.word_embeddings.weight"]) not in rate_of


def test_bundle_manifest_is_complete(tiny_bundle, data_dir):
    manifest = read_bundle(tiny_bundle)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.label_ids == load_typology(data_dir).label_ids
    assert len(manifest.thresholds) == len(manifest.labels)
    assert manifest.max_length == 64 and manifest.pooling == "mean"
    assert len(manifest.data_sha256) == 64
    for name, digest in manifest.files.items():
        assert sha256_file(tiny_bundle / name) == digest
    assert manifest.metrics["export"]["fp32_max_abs_logit_diff"] <= 1e-4
    # The gate decides what the bundle recommends for CPU serving.
    assert manifest.recommended_precision == ("int8" if manifest.int8_agreement >= 0.98 else "fp32")


def test_checkpoint_reloads_to_identical_logits(tiny_model_dir, dev_texts):
    from training.tokenizer import load_checkpoint_tokenizer

    model = MultiLabelClassifier.load(tiny_model_dir / "checkpoint")
    tokenizer = load_checkpoint_tokenizer(tiny_model_dir / "checkpoint")
    first = torch_logits(model, tokenizer, dev_texts[:40])
    again = torch_logits(MultiLabelClassifier.load(tiny_model_dir / "checkpoint"), tokenizer, dev_texts[:40])
    np.testing.assert_array_equal(first, again)


def test_dropout_setting_reaches_every_dropout_layer(tiny_base):
    from training.model import ClassifierSpec, build_model

    model = build_model(tiny_base, ClassifierSpec(labels=["a"], dropout=0.05))
    rates = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    assert rates == {0.05}
    # BERT's attention reads its rate from a Dropout module too, so the modules are the whole story.
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.encoder.modules()) >= 5


def test_training_is_reproducible_from_seed(tmp_path, tiny_base, dev_texts):
    from conftest import tiny_train_config

    from training.tokenizer import load_checkpoint_tokenizer
    from training.train import train

    logits = []
    for run in ("a", "b"):
        out = train(tiny_train_config(tmp_path / run, tiny_base, max_steps=6, limit=200))
        model = MultiLabelClassifier.load(out / "checkpoint")
        logits.append(torch_logits(model, load_checkpoint_tokenizer(out / "checkpoint"), dev_texts[:20]))
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-6)


def test_frozen_lower_layers_do_not_move_in_bf16_training(tmp_path, tiny_base):
    """--freeze-layers 1 keeps embeddings and layer 0 bit-identical; layer 1 and the head still learn."""
    from conftest import tiny_train_config
    from safetensors.torch import load_file

    from training.train import train

    out = train(tiny_train_config(tmp_path, tiny_base, max_steps=4, limit=200, freeze_layers=1, precision="bf16"))
    before = load_file(str(tiny_base / "model.safetensors"))
    after = load_file(str(out / "checkpoint" / "encoder" / "model.safetensors"))
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved, "nothing trained"
    assert not {n for n in moved if n.startswith(("embeddings.", "encoder.layer.0."))}, sorted(moved)
    assert any(n.startswith("encoder.layer.1.") for n in moved)


def test_seen_token_embeddings_move_only_the_rows_training_uses(tmp_path, tiny_base, data_dir):
    """Corrections are learned for the embedding rows of tokens in the training sentences and folded into
    a plain checkpoint; every other row stays bit-identical to the base model."""
    from conftest import tiny_train_config
    from safetensors.torch import load_file

    from training.tokenizer import load_checkpoint_tokenizer
    from training.train import gather_examples, train

    config = tiny_train_config(tmp_path, tiny_base, max_steps=6, limit=200, seen_token_embeddings=True)
    out = train(config)
    before = load_file(str(tiny_base / "model.safetensors"))
    after = load_file(str(out / "checkpoint" / "encoder" / "model.safetensors"))
    assert set(after) == set(before)  # no correction table in the checkpoint: a plain encoder
    key = "embeddings.word_embeddings.weight"
    moved = set((before[key] != after[key]).any(dim=1).nonzero().flatten().tolist())
    summary = json.loads((out / "checkpoint" / "training_summary.json").read_text())
    train_examples, _ = gather_examples(config, load_typology(data_dir))
    tokenizer = load_checkpoint_tokenizer(out / "checkpoint")
    seen = {t for e in train_examples for t in tokenizer(summary["text_prefix"] + e.text, truncation=True,
                                                         max_length=config.max_length)["input_ids"]}
    assert moved, "no embedding row learned anything"
    assert moved <= seen, f"{len(moved - seen)} rows of unseen tokens moved"
    assert len(moved) < before[key].shape[0] // 2


def test_weight_average_follows_the_weights_and_swaps_back():
    from training.weight_averaging import WeightAverage

    layer = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(layer.weight)
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average.update()  # step 0: the early-step cap, decay 1/10 instead of 0.5: 0.1 * 0 + 0.9 * 1
    np.testing.assert_allclose(average.average[0].numpy(), [[0.9, 0.9]], atol=1e-6)
    average.update()  # step 1: decay 2/11
    expected = 0.9 * 2 / 11 + 9 / 11
    np.testing.assert_allclose(average.average[0].numpy(), [[expected] * 2], atol=1e-6)
    average.swap()
    np.testing.assert_allclose(layer.weight.detach().numpy(), [[expected] * 2], atol=1e-6)
    average.swap()
    np.testing.assert_array_equal(layer.weight.detach().numpy(), [[1.0, 1.0]])
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(layer, decay=1.0)


def test_averaged_training_ships_the_average_and_scores_the_live_weights(tmp_path, tiny_base, dev_texts):
    """With --weight-average-decay the checkpoint holds the average, and the last live weights are scored on
    dev beside it, so every averaged run records what averaging changed."""
    from conftest import tiny_train_config

    from training.tokenizer import load_checkpoint_tokenizer
    from training.train import LIVE_WEIGHTS_DIR, train

    plain = train(tiny_train_config(tmp_path / "plain", tiny_base, max_steps=6, limit=200))
    averaged = train(tiny_train_config(tmp_path / "avg", tiny_base, max_steps=6, limit=200,
                                       weight_average_decay=0.9))
    live = json.loads((averaged / LIVE_WEIGHTS_DIR / "metrics.json").read_text())
    assert (averaged / LIVE_WEIGHTS_DIR / "dev_scores.npz").is_file()
    summary = json.loads((averaged / "checkpoint" / "training_summary.json").read_text())
    assert summary["live_weights_headline"] == live["headline"]
    # Same seed and data order: the live weights of the averaged run are the plain run's weights, which is
    # what the run scored; the shipped checkpoint is something else.
    plain_scores = np.load(plain / "dev_scores.npz")["probabilities"]
    np.testing.assert_allclose(np.load(averaged / LIVE_WEIGHTS_DIR / "dev_scores.npz")["probabilities"],
                               plain_scores, atol=1e-5)
    shipped = np.load(averaged / "dev_scores.npz")["probabilities"]
    assert np.abs(shipped - plain_scores).max() > 1e-3
    model = MultiLabelClassifier.load(averaged / "checkpoint")
    tokenizer = load_checkpoint_tokenizer(averaged / "checkpoint")
    assert torch_logits(model, tokenizer, dev_texts[:5]).shape == (5, len(summary["thresholds"]))


def test_hooked_letter_folding_travels_from_training_to_the_served_bundle(tmp_path, tiny_base, dev_texts):
    """With --fold-hooked-letters a Hausa word spelled with hooks and the same word spelled plain are the
    same input everywhere: training, the reloaded checkpoint, and the bundle the server tokenises with."""
    from conftest import tiny_train_config

    from serving.engine import Engine
    from training.tokenizer import load_checkpoint_tokenizer
    from training.train import train

    hooked, plain = "Ƴan bindiga sun ƙona ƙauyen Ɗan Ɓaure", "'Yan bindiga sun kona kauyen Dan Baure"
    out = train(tiny_train_config(tmp_path, tiny_base, max_steps=4, limit=200, fold_hooked_letters=True))
    tokenizer = load_checkpoint_tokenizer(out / "checkpoint")
    assert tokenizer(hooked)["input_ids"] == tokenizer(plain)["input_ids"]
    bundle = export(out)
    engine = Engine(bundle, precision="fp32")
    ids, _ = engine.encode([hooked, plain])
    assert ids[0] == ids[1]
    probs, _ = engine.probabilities([hooked, plain])
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-6)
    # Without the flag the two spellings stay different inputs (the base tokenizer has the hooked letters).
    unfolded = load_checkpoint_tokenizer(tiny_base)
    assert unfolded(hooked)["input_ids"] != unfolded(plain)["input_ids"]


def test_precision_is_bf16_only_where_the_hardware_does_it(monkeypatch):
    import training.train as train_module

    assert train_module.select_precision("fp32", "cpu") == "fp32"
    monkeypatch.setattr(train_module, "native_bf16", lambda device: True)
    assert train_module.select_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(train_module, "native_bf16", lambda device: False)
    assert train_module.select_precision("auto", "cpu") == "fp32"
    assert train_module.select_precision("bf16", "cpu") == "bf16"  # asked for explicitly: obeyed, with a warning
    with pytest.raises(ValueError, match="precision must be"):
        train_module.select_precision("fp16", "cpu")


def test_freezing_more_layers_than_the_encoder_has_is_refused(tiny_base):
    from training.model import ClassifierSpec, build_model

    model = build_model(tiny_base, ClassifierSpec(labels=["a", "b"]))
    with pytest.raises(ValueError, match="has 2"):
        model.freeze_lower_layers(3)


def _perturbed_exporter(original):
    """An exporter that writes a wrong graph: every logit pushed far above any tuned threshold (at most
    0.95, logit 2.9), so every label fires. Pushing logits down instead proves nothing for a tiny model
    that already predicts no label for most dev sentences: its label sets would not change."""
    def exporter(model, path, max_length):
        with torch.no_grad():
            model.classifier.bias += 20.0
        try:
            original(model, path, max_length)
        finally:
            with torch.no_grad():
                model.classifier.bias -= 20.0
    return exporter


def test_export_refuses_fp32_graph_that_differs_from_torch(tiny_model_dir, monkeypatch):
    import training.export as export_module

    monkeypatch.setattr(export_module, "export_onnx", _perturbed_exporter(export_module.export_onnx))
    with pytest.raises(ExportError, match="fp32 ONNX logits differ"):
        export(tiny_model_dir)
    assert read_bundle(tiny_model_dir / "bundle")  # the published bundle is untouched


def test_int8_that_changes_labels_is_refused_or_demoted(tiny_model_dir, monkeypatch, tmp_path):
    import training.export as export_module

    perturbed = _perturbed_exporter(export_module.export_onnx)

    def bad_quantize(fp32_path, int8_path):
        model = MultiLabelClassifier.load(tiny_model_dir / "checkpoint", attn_implementation="eager")
        perturbed(model, int8_path, 64)

    monkeypatch.setattr(export_module, "quantize_int8", bad_quantize)
    before = read_bundle(tiny_model_dir / "bundle").files
    with pytest.raises(ExportError, match="int8 predicts the same labels"):
        export(tiny_model_dir, require_int8=True)
    assert read_bundle(tiny_model_dir / "bundle").files == before  # the published bundle is untouched

    # Without --require-int8 the bundle is published, recommending fp32, and serving follows it.
    copy = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, copy, ignore=shutil.ignore_patterns("bundle", "bundle.partial"))
    bundle = export(copy)
    manifest = read_bundle(bundle)
    assert manifest.recommended_precision == "fp32" and manifest.int8_agreement < 0.98
    from serving.engine import Engine

    assert Engine(bundle).precision == "fp32"
