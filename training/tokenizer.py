"""The tokenizer a model is trained with, and how a checkpoint's tokenizer is loaded back exactly.

Hausa's hooked letters (ɓ ɗ ƙ ƴ) are in the XLM-R vocabulary only as single characters, so a word
written with them is cut into fragments ("ƙona" -> "▁", "ƙ", "ona") while the same word written the
plain way, as much Hausa on the web is, is one known piece ("kona" -> "▁kona"). Folding the hooked
letters to those plain spellings, as a normalizer step inside tokenizer.json, gives the encoder those
pieces and makes both spellings of a word the same input. Because the fold lives in tokenizer.json,
the bundle carries it and serving applies it without code of its own. It is off by default: on this
project's Hausa, written with the hooks, it cost 0.042 Hausa micro-F1 (docs/experiments.md), probably
because the hooks tell words apart that the plain spellings merge (ɗa "son", da "and").
"""

from __future__ import annotations

from pathlib import Path

# Hooked letter -> the spelling used where it cannot be typed (Hausa; Fula uses the same letters).
HOOKED_LETTER_FOLDS: dict[str, str] = {
    "ɓ": "b", "Ɓ": "B", "ɗ": "d", "Ɗ": "D", "ƙ": "k", "Ƙ": "K", "ƴ": "'y", "Ƴ": "'Y",
}


def fold_hooked_letters(tokenizer) -> None:
    """Put the letter folds in front of a fast tokenizer's normalizer (idempotent)."""
    from tokenizers import normalizers

    backend = tokenizer.backend_tokenizer
    if backend.normalizer is not None and backend.normalizer.normalize_str("ƙ") == "k":
        return
    folds = [normalizers.Replace(letter, plain) for letter, plain in HOOKED_LETTER_FOLDS.items()]
    existing = backend.normalizer
    backend.normalizer = normalizers.Sequence(folds + ([existing] if existing is not None else []))


def load_checkpoint_tokenizer(folder: str | Path):
    """A checkpoint's tokenizer exactly as its tokenizer.json defines it.

    transformers' model-specific tokenizer classes rebuild their normalizer from code when loading, which
    would silently drop the letter folds a model was trained with; the generic fast class does not.
    """
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(folder))
