"""Whole documents: segment, classify every sentence, and summarise which events the document reports."""

from __future__ import annotations

from serving.engine import SentenceResult
from serving.segmentation import SentenceSpan


def document_sentences(spans: list[SentenceSpan], results: list[SentenceResult]) -> list[dict]:
    return [{"start": span.start, "end": span.end, "text": span.text} | result.to_dict()
            for span, result in zip(spans, results)]


def summarise(sentences: list[dict], labels: list[str]) -> list[dict]:
    """For each label present: how many sentences carry it, and the strongest evidence sentence."""
    summary = []
    for label in labels:
        carrying = [i for i, s in enumerate(sentences) if label in s["labels"]]
        if not carrying:
            continue
        best = max(carrying, key=lambda i: sentences[i]["scores"][label])
        summary.append({"label": label, "sentences": len(carrying), "max_score": sentences[best]["scores"][label],
                        "evidence": sentences[best]["text"], "evidence_index": best})
    return summary
