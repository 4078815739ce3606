"""Serving configuration: every setting is an ``EVENTCLF_<NAME>`` environment variable.

This module is the one place that knows the settings, their defaults and their limits; the README's
table is generated from the same field list (``eventclf config``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "EVENTCLF_"
DEFAULT_BUNDLE = Path("models") / "default" / "bundle"


class ConfigError(ValueError):
    """An EVENTCLF_* variable has a value that cannot be used."""


@dataclass(frozen=True)
class ServingConfig:
    bundle: Path = field(default=DEFAULT_BUNDLE, metadata={"doc": "bundle folder to serve"})
    device: str = field(default="cpu", metadata={"doc": "cpu or cuda (falls back to cpu with a log line)"})
    precision: str = field(default="auto", metadata={
        "doc": "int8, fp32, or auto (on cpu the bundle's recommendation: int8 when it passed export's gate)"})
    threads: int = field(default=0, metadata={"doc": "onnxruntime intra-op threads; 0 = all cores"})
    max_batch_size: int = field(default=64, metadata={"doc": "most sentences in one adaptive batch"})
    max_latency_ms: int = field(default=2000, metadata={
        "doc": "batching latency budget; beyond it requests are shed with 503"})
    max_batch_wait_ms: int = field(default=25, metadata={
        "doc": "longest an idle model waits for a batch to fill (caps the adaptive window)"})
    max_sentences: int = field(default=256, metadata={"doc": "most sentences in one /classify request (413)"})
    max_sentence_chars: int = field(default=20_000, metadata={
        "doc": "longest sentence accepted (413); longer than the model's max length is truncated and flagged"})
    max_document_chars: int = field(default=200_000, metadata={"doc": "longest /classify_document text (413)"})
    max_document_sentences: int = field(default=2000, metadata={
        "doc": "most sentences in one /classify_document text (413)"})
    max_body_bytes: int = field(default=8_000_000, metadata={"doc": "largest request body (413)"})
    api_key: str = field(default="", metadata={"doc": "when set, required as Bearer token or X-API-Key"})
    host: str = field(default="127.0.0.1", metadata={"doc": "bind address"})
    port: int = field(default=3000, metadata={"doc": "port"})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServingConfig:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {f.type}") from None
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.device not in {"cpu", "cuda"}:
            raise ConfigError(f"{ENV_PREFIX}DEVICE must be cpu or cuda, not {self.device!r}")
        if self.precision not in {"auto", "int8", "fp32"}:
            raise ConfigError(f"{ENV_PREFIX}PRECISION must be auto, int8 or fp32, not {self.precision!r}")
        for name in ("max_batch_size", "max_latency_ms", "max_batch_wait_ms", "max_sentences", "max_sentence_chars",
                     "max_document_chars", "max_document_sentences", "max_body_bytes", "port"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be positive")

    def resolved_precision(self, recommended: str) -> str:
        """The precision to serve: explicit setting, else fp32 on cuda, else the bundle's recommendation."""
        if self.precision != "auto":
            return self.precision
        return "fp32" if self.device == "cuda" else recommended


def _coerce(type_name: str, raw: str):
    if type_name == "int":
        return int(raw)
    if type_name == "Path":
        return Path(raw)
    return raw


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for docs and `eventclf config`."""
    return [(ENV_PREFIX + f.name.upper(), str(f.default), f.metadata.get("doc", "")) for f in fields(ServingConfig)]
