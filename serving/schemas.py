"""Request and response shapes of the HTTP API (also the OpenAPI schema that clients and fuzzers read)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SentenceResult(BaseModel):
    labels: list[str] = Field(description="labels whose score reaches their threshold, in typology order")
    scores: dict[str, float] = Field(description="sigmoid score of every label, 0..1")
    truncated: bool = Field(description="the sentence was longer than the model's max length and was cut")


class ClassifyResponse(BaseModel):
    model: str
    version: str
    results: list[SentenceResult] = Field(description="one per input sentence, in input order")


class DocumentSentence(SentenceResult):
    start: int = Field(description="character offset of the sentence in the submitted text")
    end: int = Field(description="exclusive end offset")
    text: str


class LabelSummary(BaseModel):
    label: str
    sentences: int = Field(description="number of sentences carrying the label")
    max_score: float
    evidence: str = Field(description="the sentence with the highest score for the label")
    evidence_index: int


class DocumentResponse(BaseModel):
    model: str
    version: str
    sentences: list[DocumentSentence]
    summary: list[LabelSummary]


class ErrorBody(BaseModel):
    error: str
    detail: object | None = None
