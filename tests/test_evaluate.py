"""Metrics: threshold tuning, the cross-fitted (honest) estimate, and re-evaluating a trained model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from training.evaluate import cross_fitted_predictions, dev_metrics, evaluate_predictions, tune_thresholds


def test_cross_fitting_uses_thresholds_from_the_other_fold():
    rng = np.random.default_rng(3)
    probs = rng.random((400, 3)).astype(np.float32)
    gold = (rng.random((400, 3)) < 0.3).astype(float)
    pred = cross_fitted_predictions(probs, gold, folds=2, seed=0)
    order = np.random.default_rng(0).permutation(400)
    fold_of = np.empty(400, dtype=int)
    fold_of[order] = np.arange(400) % 2
    for k in (0, 1):
        other = tune_thresholds(probs[fold_of != k], gold[fold_of != k])
        np.testing.assert_array_equal(pred[fold_of == k], probs[fold_of == k] >= other)


def test_cross_fitted_score_is_not_flattered_by_tuning_on_noise():
    # Scores unrelated to the labels: tuning on the scored rows finds spurious gains; cross-fitting may not.
    rng = np.random.default_rng(11)
    probs = rng.random((300, 4)).astype(np.float32)
    gold = (rng.random((300, 4)) < 0.2).astype(float)
    metrics, _ = dev_metrics(probs, gold, list("abcd"), ["en"] * 300, [None] * 300)
    assert metrics["cross_fitted_thresholds"]["macro_f1"] < metrics["tuned_thresholds"]["macro_f1"]
    assert metrics["headline"]["thresholds"] == "cross-fitted"


def test_separable_scores_stay_perfect_when_cross_fitted():
    gold = np.tile(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]), (50, 1))
    probs = np.where(gold == 1, 0.9, 0.1).astype(np.float32)
    metrics, thresholds = dev_metrics(probs, gold, ["a", "b"], ["en"] * 200, [None] * 200)
    assert metrics["cross_fitted_thresholds"]["micro_f1"] == 1.0
    assert ((thresholds > 0.1) & (thresholds <= 0.9)).all()


def test_training_saves_dev_scores_and_reevaluation_reproduces_metrics(tiny_model_dir, tmp_path, monkeypatch):
    from conftest import REPO

    from training.train import reevaluate

    metrics = json.loads((tiny_model_dir / "metrics.json").read_text())
    assert {"tuned_thresholds", "cross_fitted_thresholds", "threshold_0.5", "headline"} <= set(metrics)
    scores = np.load(tiny_model_dir / "dev_scores.npz")
    assert scores["probabilities"].shape == scores["gold"].shape == (metrics["headline"]["dev_sentences"], 10)
    assert len(scores["lang"]) == len(scores["hard_case"]) == len(scores["text_key"]) == len(scores["gold"])
    assert len(set(scores["text_key"])) == len(scores["gold"])  # one key per dev sentence

    copy = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir / "checkpoint", copy / "checkpoint")
    shutil.copy(tiny_model_dir / "metrics.json", copy / "metrics.json")
    monkeypatch.chdir(REPO)  # the training config records data/ relative to the repository
    again = reevaluate(copy)
    assert "export" in metrics  # the export's own section survives re-evaluation
    assert again == metrics == json.loads((copy / "metrics.json").read_text())
    assert (copy / "README.md").is_file() and (copy / "dev_scores.npz").is_file()

    summary_path = copy / "checkpoint" / "training_summary.json"
    summary = json.loads(summary_path.read_text())
    summary["data_sha256"] = "0" * 64
    summary_path.write_text(json.dumps(summary))
    with pytest.raises(ValueError, match="changed since"):
        reevaluate(copy)


def test_paired_bootstrap_interval_brackets_a_real_difference():
    from training.experiments import paired_bootstrap

    rng = np.random.default_rng(5)
    gold = (rng.random((600, 4)) < 0.3).astype(float)
    perfect = gold == 1
    noisy = perfect ^ (rng.random(gold.shape) < 0.15)  # 15% of decisions flipped
    assert paired_bootstrap(noisy, noisy, gold) == (0.0, 0.0, 0.0)
    point, low, high = paired_bootstrap(noisy, perfect, gold)
    assert 0 < low < point < high <= 1
    point_back, _low_back, high_back = paired_bootstrap(perfect, noisy, gold)
    assert point_back == -point and high_back < 0


def test_threshold_shrinkage_moves_tuned_thresholds_towards_one_half():
    rng = np.random.default_rng(7)
    gold = (rng.random((500, 3)) < 0.3).astype(float)
    # Label 0 separates best at a low threshold, label 2 at a high one.
    probs = np.stack([np.where(gold[:, 0] == 1, 0.3, 0.1), np.where(gold[:, 1] == 1, 0.9, 0.1),
                      np.where(gold[:, 2] == 1, 0.95, 0.85)], axis=1).astype(np.float32)
    probs += rng.normal(0, 0.01, probs.shape).astype(np.float32)
    tuned = tune_thresholds(probs, gold)
    assert tuned[0] < 0.3 and tuned[2] > 0.85
    halfway = tune_thresholds(probs, gold, shrinkage=0.5)
    np.testing.assert_allclose(halfway, 0.5 + (tuned - 0.5) / 2, atol=1e-6)
    np.testing.assert_array_equal(tune_thresholds(probs, gold, shrinkage=1.0), np.full(3, 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match="between 0 and 1"):
        tune_thresholds(probs, gold, shrinkage=1.5)

    metrics, shipped = dev_metrics(probs, gold, list("abc"), ["en"] * 500, [None] * 500, shrinkage=0.5)
    np.testing.assert_array_equal(shipped, halfway)
    assert metrics["threshold_shrinkage"] == 0.5
    # The cross-fitted view scores the same policy: halfway thresholds tuned on the other half.
    expected = evaluate_predictions(cross_fitted_predictions(probs, gold, shrinkage=0.5), gold, list("abc"),
                                    ["en"] * 500, [None] * 500)
    assert metrics["cross_fitted_thresholds"] == expected
    unshrunk = evaluate_predictions(cross_fitted_predictions(probs, gold), gold, list("abc"), ["en"] * 500, [None] * 500)
    assert unshrunk["per_label"] != expected["per_label"]  # the policy changes predictions on this data


def test_runs_on_different_dev_sets_are_compared_on_the_sentences_and_labels_they_share():
    from training.experiments import _shared_dev_rows

    gold = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    keys = np.array(["a", "b", "c", "d"])
    langs = np.array(["en", "ha", "so", "fr"])
    run_a = (None, gold, langs, keys)
    # Run b: "a" dropped, "e" added, "c" relabelled, the rest reordered.
    run_b = (None, np.array([[0, 0], [0, 1], [1, 0], [0, 0]]), np.array(["fr", "ha", "so", "xx"]),
             np.array(["d", "b", "c", "e"]))
    rows_a, rows_b = _shared_dev_rows(run_a, run_b)
    assert list(keys[rows_a]) == list(run_b[3][rows_b]) == ["d", "b"]

    same = _shared_dev_rows(run_a, run_a)
    assert list(same[0]) == list(same[1]) == [0, 1, 2, 3]
    assert _shared_dev_rows(run_a, (None, run_b[1], run_b[2], None)) is None  # a run without text keys


def test_a_model_that_labels_nothing_is_recognised_as_collapsed():
    from training.evaluate import predicts_almost_nothing

    gold = np.zeros((200, 3), dtype=int)
    gold[:80, 0] = 1
    thresholds = np.full(3, 0.5)
    flat = np.full((200, 3), 0.1)  # a collapsed run: every score below every threshold
    assert predicts_almost_nothing(flat, gold, thresholds)
    learned = flat.copy()
    learned[:70, 0] = 0.9
    assert not predicts_almost_nothing(learned, gold, thresholds)
    # Dev without labelled sentences says nothing about collapse.
    assert not predicts_almost_nothing(flat, np.zeros_like(gold), thresholds)
