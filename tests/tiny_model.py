"""Build a tiny, randomly initialised BERT-style base model with its own tokenizer, for fast tests.

It is a real Hugging Face model folder (config, safetensors, tokenizer), so it goes through exactly the
same code paths as the multilingual base model: `--base-model <folder>`.
"""

from __future__ import annotations

import json
from pathlib import Path


def build_tiny_base(out_dir: Path, corpus: list[str], seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=2000, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64, pad_token_id=0)
    BertModel(config, add_pooling_layer=False).save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "provenance.json").write_text(json.dumps({"name": "tiny-random-bert", "recommended_prefix": ""}))
    return out_dir
