"""Load, validate and split the labelled sentences in data/sentences/*.jsonl.

Each line is ``{"text": str, "labels": [label ids], "lang": "xx"}`` with an optional ``"hard_case"`` tag
(see typology.yaml). The train/dev split is a stable function of the text (a hash), so it does not
change when files are reordered or sentences are added, and no sentence moves between splits.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from training.typology import Typology

SENTENCES_DIR = "sentences"
ALLOWED_KEYS = {"text", "labels", "lang", "hard_case"}


class DataError(ValueError):
    """A data file is malformed; the message names the file, the line and the field."""


@dataclass
class Example:
    text: str
    labels: list[str]
    lang: str
    hard_case: str | None = None
    source: str = ""
    # Per-label 1/0: whether the label is known for this example. None means all are known. ACLED rows
    # do not know the humanitarian labels ACLED does not code (typology.yaml: acled.not_coded).
    label_mask: list[int] | None = None


def normalise(text: str) -> str:
    """Case-, accent-width- and space-insensitive form used for deduplication and hashing."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", text).strip()


def text_key(text: str) -> str:
    """Stable identity of a sentence across runs and edits of other sentences (sha256 of its normal form)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def split_of(text: str, dev_percent: int) -> str:
    bucket = int(text_key(text)[:8], 16) % 100
    return "dev" if bucket < dev_percent else "train"


def parse_record(raw: str, where: str, typology: Typology) -> Example:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: not valid JSON ({err.msg})") from None
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object")
    extra = set(record) - ALLOWED_KEYS
    if extra:
        raise DataError(f"{where}: unknown field(s) {sorted(extra)}")
    text, labels, lang = record.get("text"), record.get("labels"), record.get("lang")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: field 'text' must be a non-empty string")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise DataError(f"{where}: field 'labels' must be a list of label ids")
    unknown = set(labels) - set(typology.label_ids)
    if unknown:
        raise DataError(f"{where}: unknown label(s) {sorted(unknown)}; labels are defined in typology.yaml")
    if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2,3}", lang):
        raise DataError(f"{where}: field 'lang' must be an ISO 639 code such as 'en'")
    hard_case = record.get("hard_case")
    if hard_case is not None and hard_case not in typology.hard_cases:
        raise DataError(f"{where}: unknown hard_case {hard_case!r}; see typology.yaml")
    return Example(text=text.strip(), labels=sorted(set(labels), key=typology.label_ids.index), lang=lang,
                   hard_case=hard_case, source=where.split(":")[0])


def load_sentences(data_dir: str | Path, typology: Typology) -> list[Example]:
    """All examples under data_dir/sentences, exact duplicates (after normalisation) dropped."""
    files = sorted((Path(data_dir) / SENTENCES_DIR).glob("*.jsonl"))
    if not files:
        raise DataError(f"no *.jsonl files in {Path(data_dir) / SENTENCES_DIR}")
    seen: set[str] = set()
    examples = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                example = parse_record(line, f"{path.name}:{number}", typology)
                key = normalise(example.text)
                if key not in seen:
                    seen.add(key)
                    examples.append(example)
    return examples


def split_examples(examples: list[Example], dev_percent: int) -> tuple[list[Example], list[Example]]:
    train = [e for e in examples if split_of(e.text, dev_percent) == "train"]
    dev = [e for e in examples if split_of(e.text, dev_percent) == "dev"]
    return train, dev


def parse_language_weights(spec: str) -> dict[str, float]:
    """``"ha=1.5,so=2"`` -> ``{"ha": 1.5, "so": 2.0}``; a clear ValueError names the part that is wrong."""
    weights: dict[str, float] = {}
    for part in filter(None, (x.strip() for x in spec.split(","))):
        lang, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not lang.strip() or not weight >= 1.0:
            raise ValueError(f"--oversample wants language=weight pairs with weights of 1 or more "
                             f"(e.g. ha=1.5,so=1.5), not {part!r}")
        weights[lang.strip()] = weight
    return weights


def oversample(examples: list[Example], weights: dict[str, float], seed: int) -> list[Example]:
    """Repeat the sentences of the weighted languages: weight 1.5 keeps each once and a seeded half twice.

    For training only: dev sentences are never repeated, so figures stay comparable between runs.
    """
    rng = random.Random(seed)
    repeated = list(examples)
    for lang, weight in weights.items():
        own = [e for e in examples if e.lang == lang]
        whole, fraction = divmod(weight, 1.0)
        repeated += own * (int(whole) - 1) + rng.sample(own, round(fraction * len(own)))
    return repeated


def data_hash(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: (e.source, e.text)):
        digest.update(json.dumps(asdict(example), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def label_matrix(examples: list[Example], label_ids: list[str]) -> list[list[float]]:
    index = {label: i for i, label in enumerate(label_ids)}
    rows = []
    for example in examples:
        row = [0.0] * len(label_ids)
        for label in example.labels:
            row[index[label]] = 1.0
        rows.append(row)
    return rows


def _shingles(text: str, n: int = 5) -> set[str]:
    norm = re.sub(r"[\d\W_]+", " ", normalise(text)).strip()
    return {norm[i : i + n] for i in range(max(1, len(norm) - n + 1))}


def near_duplicates(train: list[Example], dev: list[Example], threshold: float = 0.7) -> list[tuple[str, str, float]]:
    """(dev text, train text, Jaccard similarity of character 5-grams) for pairs above the threshold.

    Digits and punctuation are ignored, so the same sentence with another number or place counts too
    when the rest is shared.
    """
    index: dict[str, list[int]] = defaultdict(list)
    train_shingles = [_shingles(e.text) for e in train]
    for i, shingles in enumerate(train_shingles):
        for s in shingles:
            index[s].append(i)
    pairs = []
    for example in dev:
        shingles = _shingles(example.text)
        counts: dict[int, int] = defaultdict(int)
        for s in shingles:
            postings = index.get(s, ())
            if len(postings) > 200:  # very common n-grams say nothing about duplication
                continue
            for i in postings:
                counts[i] += 1
        for i, shared in counts.items():
            union = len(shingles) + len(train_shingles[i]) - shared
            if union and shared / union >= threshold:
                pairs.append((example.text, train[i].text, shared / union))
    return pairs
