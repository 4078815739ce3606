"""`eventclf data stats`: counts per label x language, empties, hard cases and dev/train near-duplicates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from training.data import load_sentences, near_duplicates, split_examples
from training.typology import load_typology


def label_language_table(examples, label_ids: list[str]) -> str:
    langs = sorted({e.lang for e in examples})
    counts = Counter((label, e.lang) for e in examples for label in e.labels)
    empty = Counter(e.lang for e in examples if not e.labels)
    total = Counter(e.lang for e in examples)
    header = "| label | " + " | ".join(langs) + " | all |"
    lines = [header, "|" + "---|" * (len(langs) + 2)]
    for label in label_ids:
        row = [counts[(label, lang)] for lang in langs]
        lines.append(f"| {label} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    lines.append("| (no label) | " + " | ".join(str(empty[lang]) for lang in langs) + f" | {sum(empty.values())} |")
    lines.append("| **sentences** | " + " | ".join(str(total[lang]) for lang in langs) + f" | {len(examples)} |")
    return "\n".join(lines)


def print_report(data_dir: Path, dev_percent: int) -> None:
    typology = load_typology(data_dir)
    examples = load_sentences(data_dir, typology)
    train, dev = split_examples(examples, dev_percent)
    print(label_language_table(examples, typology.label_ids))
    multi = sum(1 for e in examples if len(e.labels) > 1)
    print(f"\n{len(examples)} sentences ({len(train)} train, {len(dev)} dev); multi-label {multi}; "
          f"no label {sum(1 for e in examples if not e.labels)}")
    print("hard cases:", dict(Counter(e.hard_case for e in examples if e.hard_case).most_common()))
    pairs = near_duplicates(train, dev)
    print(f"dev sentences with a near-duplicate in train: {len(pairs)}")
    for dev_text, train_text, score in pairs[:20]:
        print(f"  {score:.2f}  dev: {dev_text[:90]}\n        train: {train_text[:90]}")
