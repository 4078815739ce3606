"""The BentoML service: a thin HTTP shell over the engine.

Routes: POST /classify, POST /classify_document, GET /info, the web page at /ui, and BentoML's own
/livez, /readyz and /metrics. Settings come from EVENTCLF_* variables (serving/config.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

import bentoml
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from serving.batching import AdaptiveBatcher, Overloaded
from serving.bundle import BundleError, read_bundle
from serving.config import ServingConfig
from serving.documents import document_sentences, summarise
from serving.engine import Engine, SentenceResult
from serving.middleware import ApiKeyMiddleware, BodyLimitMiddleware
from serving.schemas import ClassifyResponse, DocumentResponse
from serving.segmentation import split_sentences

log = logging.getLogger("eventclf.service")

RETRY_AFTER_SECONDS = "1"
STATIC_DIR = Path(__file__).parent / "static"
# The analyst web page: static files, no build step.
ui_app = Starlette(routes=[Mount("/", app=StaticFiles(directory=STATIC_DIR, html=True))])

batch_size_histogram = bentoml.metrics.Histogram(
    name="eventclf_batch_sentences",
    documentation="Sentences per model call formed by adaptive batching",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)


def error(status: int, message: str, detail: object | None = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": message} if detail is None else {"error": message, "detail": detail}
    return JSONResponse(body, status_code=status, headers=headers)


def load_engine(config: ServingConfig) -> Engine:
    recommended = read_bundle(config.bundle, verify=False).recommended_precision
    engine = Engine(config.bundle, precision=config.resolved_precision(recommended), device=config.device,
                    threads=config.threads, max_batch_size=config.max_batch_size)
    seconds = engine.warmup()
    log.info("serving %s %s (%s, %s) from %s; warm-up %.2fs", engine.name, engine.version, engine.precision,
             engine.device, config.bundle, seconds)
    return engine


@bentoml.asgi_app(ui_app, path="/ui")
# Loopback unless told otherwise (EVENTCLF_HOST / --host): plain `bentoml serve` would bind 0.0.0.0.
@bentoml.service(name="eventclf", workers=1, traffic={"timeout": 120}, http={"host": "127.0.0.1"})
class EventClassifier:
    def __init__(self) -> None:
        self.config = ServingConfig.from_env()
        try:
            self.engine = load_engine(self.config)
        except BundleError as err:
            log.error("cannot start: %s", err)
            raise
        self.batcher: AdaptiveBatcher[SentenceResult] = AdaptiveBatcher(
            self.engine.classify, max_batch_size=self.config.max_batch_size,
            max_latency_ms=self.config.max_latency_ms, max_wait_ms=self.config.max_batch_wait_ms,
            on_batch=batch_size_histogram.observe)
        self._ready = True

    def __is_ready__(self) -> bool:
        return getattr(self, "_ready", False)

    def _check_sentences(self, sentences: list[str]) -> JSONResponse | None:
        limit = self.config.max_sentences
        if not sentences:
            return error(422, "'sentences' is empty: send at least one sentence")
        if len(sentences) > limit:
            return error(413, f"{len(sentences)} sentences in one request; the limit is {limit} "
                              "(EVENTCLF_MAX_SENTENCES): split the request")
        blank = [i for i, s in enumerate(sentences) if not s.strip()]
        if blank:
            return error(422, "empty or whitespace-only sentence(s)", {"indices": blank[:50]})
        too_long = [i for i, s in enumerate(sentences) if len(s) > self.config.max_sentence_chars]
        if too_long:
            return error(413, f"sentence(s) longer than {self.config.max_sentence_chars} characters "
                              "(EVENTCLF_MAX_SENTENCE_CHARS)", {"indices": too_long[:50]})
        return None

    async def _classify(self, sentences: list[str]) -> list[SentenceResult] | JSONResponse:
        try:
            return await self.batcher.submit(sentences)
        except Overloaded as err:
            return error(503, str(err), headers={"Retry-After": RETRY_AFTER_SECONDS})

    @bentoml.api(route="/classify")
    async def classify(self, sentences: list[str]) -> ClassifyResponse:
        """Classify sentences: for each, in order, the labels above threshold and every label's score."""
        problem = self._check_sentences(sentences)
        if problem is not None:
            return problem
        results = await self._classify(sentences)
        if isinstance(results, JSONResponse):
            return results
        return ClassifyResponse(model=self.engine.name, version=self.engine.version,
                                results=[r.to_dict() for r in results])

    @bentoml.api(route="/classify_document")
    async def classify_document(self, text: str, lang: str = "") -> DocumentResponse:
        """Split an article into sentences and classify each; summarise the labels found, with evidence.

        ``lang`` (an ISO code, or empty to detect) only tunes segmentation; a plain string, not nullable,
        because BentoML's OpenAPI renders optional fields as their base type.
        """
        limit = self.config.max_document_chars
        if len(text) > limit:
            return error(413, f"document of {len(text)} characters; the limit is {limit} (EVENTCLF_MAX_DOCUMENT_CHARS)")
        spans = split_sentences(text, lang or None)
        if len(spans) > self.config.max_document_sentences:
            return error(413, f"document of {len(spans)} sentences; the limit is {self.config.max_document_sentences} "
                              "(EVENTCLF_MAX_DOCUMENT_SENTENCES)")
        results = await self._classify([span.text for span in spans]) if spans else []
        if isinstance(results, JSONResponse):
            return results
        sentences = document_sentences(spans, results)
        return DocumentResponse(model=self.engine.name, version=self.engine.version, sentences=sentences,
                                summary=summarise(sentences, self.engine.labels))

    @bentoml.api(route="/info")
    def info(self) -> dict:
        """The model being served: name, version, labels with display names, thresholds, limits."""
        limits = {k: getattr(self.config, k) for k in ("max_sentences", "max_sentence_chars",
                                                        "max_document_chars", "max_document_sentences", "max_batch_size",
                                                        "max_latency_ms")}
        return self.engine.info() | {"limits": limits}


# Outermost first: the size limit sees the raw body before anything reads it.
EventClassifier.add_asgi_middleware(ApiKeyMiddleware)
EventClassifier.add_asgi_middleware(BodyLimitMiddleware)
