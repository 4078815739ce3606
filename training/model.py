"""The classifier: a pretrained encoder, a pooling step and one independent sigmoid per label.

Multi-label, never softmax: each label has its own logit and its own threshold (tuned on dev).
A checkpoint folder holds ``encoder/`` (Hugging Face format), ``head.safetensors``, ``classifier.json``
and the tokenizer files. Loading never unpickles anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from training.config import DROPOUT

CLASSIFIER_FILE = "classifier.json"
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"


@dataclass
class ClassifierSpec:
    labels: list[str]
    pooling: str = "mean"
    text_prefix: str = ""
    max_length: int = 128
    base_model: str = ""
    dropout: float = DROPOUT


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    if how == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class MultiLabelClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, spec: ClassifierSpec):
        super().__init__()
        if spec.pooling not in {"mean", "cls"}:
            raise ValueError(f"pooling must be mean or cls, not {spec.pooling!r}")
        self.encoder = encoder
        self.spec = spec
        self.dropout = nn.Dropout(spec.dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, len(spec.labels))
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)
        self.pos_weight: torch.Tensor | None = None

    def forward(self, input_ids, attention_mask, labels=None, label_mask=None):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.classifier(self.dropout(pool(hidden, attention_mask, self.spec.pooling)))
        if labels is None:
            return {"logits": logits}
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits, labels.to(logits.dtype), reduction="none", pos_weight=self.pos_weight)
        if label_mask is not None:
            # Labels a source does not code (e.g. displacement in ACLED rows) teach nothing either way.
            loss = (loss * label_mask).sum() / label_mask.sum().clamp(min=1.0)
        else:
            loss = loss.mean()
        return {"loss": loss, "logits": logits}

    def freeze_word_embeddings(self) -> None:
        self.encoder.get_input_embeddings().weight.requires_grad_(False)

    def train_seen_token_embeddings(self, token_ids: torch.Tensor) -> None:
        """Keep the word-embedding matrix frozen but learn corrections for the rows in ``token_ids``."""
        self.freeze_word_embeddings()
        self.encoder.set_input_embeddings(SeenTokenEmbedding(self.encoder.get_input_embeddings(), token_ids))

    def fold_embedding_corrections(self) -> None:
        """Write learned row corrections into the matrix: the encoder is a plain Hugging Face model again."""
        embedding = self.encoder.get_input_embeddings()
        if isinstance(embedding, SeenTokenEmbedding):
            self.encoder.set_input_embeddings(embedding.folded())

    def freeze_lower_layers(self, count: int) -> None:
        """Freeze all embeddings and the first ``count`` transformer layers.

        Nothing below the first trainable layer needs a backward pass, so each frozen layer saves its
        share of the backward compute, and the frozen layers keep the pretrained cross-lingual alignment.
        """
        layers = transformer_layers(self.encoder)
        if not 0 <= count <= len(layers):
            raise ValueError(f"cannot freeze {count} layers: the encoder has {len(layers)}")
        for module in [self.encoder.embeddings, *layers[:count]]:
            for parameter in module.parameters():
                parameter.requires_grad_(False)

    def save(self, out_dir: str | Path) -> None:
        self.fold_embedding_corrections()  # a checkpoint never holds the training-only correction table
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(out / ENCODER_DIR, safe_serialization=True)
        save_file({k: v.contiguous() for k, v in self.classifier.state_dict().items()}, str(out / HEAD_FILE))
        (out / CLASSIFIER_FILE).write_text(json.dumps(asdict(self.spec), indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, checkpoint: str | Path, attn_implementation: str | None = None) -> MultiLabelClassifier:
        from transformers import AutoModel

        checkpoint = Path(checkpoint)
        spec = ClassifierSpec(**json.loads((checkpoint / CLASSIFIER_FILE).read_text()))
        kwargs = {"dtype": torch.float32}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        encoder = AutoModel.from_pretrained(checkpoint / ENCODER_DIR, **kwargs)
        model = cls(encoder, spec)
        model.classifier.load_state_dict(load_file(str(checkpoint / HEAD_FILE)))
        return model.eval()


class SeenTokenEmbedding(nn.Module):
    """A frozen word-embedding matrix plus trainable corrections for the rows of tokens seen in training.

    Training the whole matrix (250k rows for an XLM-R vocabulary) makes each CPU step about 13x slower,
    mostly in the optimiser; a training set touches a small share of the rows. Rows it never touches,
    e.g. of languages absent from training, keep their pretrained values exactly.
    """

    def __init__(self, base: nn.Embedding, token_ids: torch.Tensor):
        super().__init__()
        self.base = base
        ids = torch.unique(torch.as_tensor(token_ids, dtype=torch.long))
        row_of = torch.zeros(base.num_embeddings, dtype=torch.long)  # row 0: no correction
        row_of[ids] = torch.arange(1, len(ids) + 1)
        self.register_buffer("ids", ids, persistent=False)
        self.register_buffer("row_of", row_of, persistent=False)
        self.corrections = nn.Embedding(len(ids) + 1, base.embedding_dim, padding_idx=0)
        nn.init.zeros_(self.corrections.weight)

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.base(input_ids) + self.corrections(self.row_of[input_ids])

    def folded(self) -> nn.Embedding:
        with torch.no_grad():
            self.base.weight[self.ids] += self.corrections.weight[1:].to(self.base.weight.dtype)
        return self.base


class LogitsOnly(nn.Module):
    """The exported graph: (input_ids, attention_mask) -> logits. Nothing else crosses into ONNX."""

    def __init__(self, model: MultiLabelClassifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask)["logits"]


def transformer_layers(encoder: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks of a BERT-, RoBERTa- or DistilBERT-style encoder."""
    for path in ("encoder.layer", "transformer.layer"):
        module = encoder
        for attribute in path.split("."):
            module = getattr(module, attribute, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise ValueError(f"do not know where the transformer layers of {type(encoder).__name__} are")


def build_model(base_path: str | Path, spec: ClassifierSpec) -> MultiLabelClassifier:
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(base_path, dtype=torch.float32, add_pooling_layer=False) \
        if _is_bert_like(base_path) else AutoModel.from_pretrained(base_path, dtype=torch.float32)
    # One rate for the whole network, so that --dropout means the same for every architecture.
    for module in encoder.modules():
        if isinstance(module, nn.Dropout):
            module.p = spec.dropout
    return MultiLabelClassifier(encoder, spec)


def _is_bert_like(base_path: str | Path) -> bool:
    config = Path(base_path) / "config.json"
    if not config.is_file():
        return False
    return json.loads(config.read_text()).get("model_type") in {"bert", "xlm-roberta", "roberta"}
