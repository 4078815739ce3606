"""ASGI middleware in front of every route: request body checks and the optional API key.

Settings are read from the environment when the app is built (not at import), like the service's own.

Both answer with a JSON body, like every other error of the service:

* ``ApiKeyMiddleware``: 401 without the configured key (health checks and the static page under /ui
  are exempt).
* ``BodyLimitMiddleware``: 413 for a body over EVENTCLF_MAX_BODY_BYTES (declared or streamed), 415 for a
  body that says it is not JSON, and readable 400s: BentoML answers a body that does not match the schema
  with "1 validation error for Input"; the middleware rewrites that into a message naming the field and
  the problem (the structured list stays under ``errors``).

Request bodies are never logged: BentoML logs every rejected body with a traceback whose pydantic message
quotes the offending input; ``redact_validation_logs`` (installed when the middleware is built) turns those
records into one WARNING line naming the field and the problem, without the input.
"""

from __future__ import annotations

import hmac
import json
import logging

from serving.config import ServingConfig

# Routes that orchestrators poll without credentials.
HEALTH_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
# The analyst page's static files load without a key (a browser cannot attach one to a page load); the
# page asks for the key and sends it with every API call it makes.
PUBLIC_STATIC_PREFIX = "/ui"
# Methods whose body the service reads.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The logger BentoML reports request errors on (``log_exception`` in bentoml's http_app).
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"
MAX_LISTED_ERRORS = 5


async def _send_json(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def _is_json_media_type(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def _describe_errors(errors: list) -> str:
    """'sentences.0: Input should be a valid string; ...' from pydantic's error list (inputs left out)."""
    parts = []
    for item in errors[:MAX_LISTED_ERRORS]:
        if not isinstance(item, dict):
            continue
        loc = ".".join(str(p) for p in item.get("loc") or ()) or "body"
        parts.append(f"{loc}: {item.get('msg', 'invalid')}")
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_LISTED_ERRORS} more")
    return "; ".join(parts)


def readable_validation_error(body: dict) -> dict | None:
    """BentoML's 400 body ({"error": "N validation error for Input", "detail": [...]}) made readable and
    consistent with its own OpenAPI schema (``InvalidArgument``: error and detail are strings)."""
    errors = body.get("detail")
    if not isinstance(errors, list) or not errors:
        return None
    described = _describe_errors(errors)
    if any(isinstance(e, dict) and e.get("type") == "json_invalid" for e in errors):
        message = f"the request body is not valid JSON (validation error: {described})"
    else:
        message = f"validation error: {described}"
    structured = [{k: e.get(k) for k in ("type", "loc", "msg")} for e in errors if isinstance(e, dict)]
    return {"error": message, "detail": described, "errors": structured}


class _RedactRequestBodies(logging.Filter):
    """One WARNING line, without the input, instead of a traceback quoting the rejected body."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or type(exc).__name__ != "ValidationError" or not hasattr(exc, "errors"):
            return True
        try:
            described = _describe_errors(exc.errors(include_input=False, include_url=False, include_context=False))
        except Exception:  # noqa: BLE001 - never let logging break a request
            described = "invalid body"
        path_method = record.args if isinstance(record.args, tuple) and len(record.args) == 2 else ("?", "?")
        record.msg = "rejected request on %s [%s]: %s (request body not logged)"
        record.args = (*path_method, described)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def redact_validation_logs() -> None:
    """Install the filter once on BentoML's request-error logger (idempotent)."""
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    if not any(isinstance(f, _RedactRequestBodies) for f in logger.filters):
        logger.addFilter(_RedactRequestBodies())


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``, 415 for non-JSON bodies, readable 400s (see the module doc).

    With a Content-Length the size is checked before anything is read (the HTTP server enforces that the
    body matches it). Without one (chunked upload) the body is read here, up to the limit, and replayed
    to the app: an error raised from inside ``receive`` would be caught by BentoML and answered 500.
    """

    def __init__(self, app, max_bytes: int | None = None):
        self.app = app
        self.max_bytes = ServingConfig.from_env().max_body_bytes if max_bytes is None else max_bytes
        redact_validation_logs()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"request body larger than {self.max_bytes} bytes (EVENTCLF_MAX_BODY_BYTES)"
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type")
        if (scope.get("method") in BODY_METHODS and content_type is not None
                and not _is_json_media_type(content_type)):
            shown = content_type.decode("latin-1")[:100]
            return await _send_json(send, 415, f"unsupported Content-Type {shown!r}: send a JSON body "
                                               "with Content-Type: application/json")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                return await _send_json(send, 413, too_large)
            app_receive = receive
        else:
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return None
                body += message.get("body", b"")
                if len(body) > self.max_bytes:
                    return await _send_json(send, 413, too_large)
                if not message.get("more_body", False):
                    break
            replayed = False

            async def app_receive():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

        await self.app(scope, app_receive, _ReadableErrors(send))


class _ReadableErrors:
    """Wraps ``send``: a JSON 400 carrying pydantic's error list is rewritten by readable_validation_error."""

    def __init__(self, send):
        self.send = send
        self.held: dict | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message):
        if message["type"] == "http.response.start" and message.get("status") == 400:
            headers = dict(message.get("headers") or [])
            if _is_json_media_type(headers.get(b"content-type", b"")):
                self.held = message
                return None
        if self.held is not None and message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return None
            return await self._flush()
        return await self.send(message)

    async def _flush(self):
        start, self.held = self.held, None
        body = b"".join(self.chunks)
        try:
            rewritten = readable_validation_error(json.loads(body))
        except (ValueError, AttributeError):
            rewritten = None
        if rewritten is not None:
            body = json.dumps(rewritten).encode()
        headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


def _is_public(scope) -> bool:
    path = scope["path"]
    if path in HEALTH_PATHS:
        return True
    static = path == PUBLIC_STATIC_PREFIX or path.startswith(PUBLIC_STATIC_PREFIX + "/")
    return static and scope.get("method") in ("GET", "HEAD")


class ApiKeyMiddleware:
    """When a key is configured, every route but the health checks and the static web page needs it
    (Bearer token or X-API-Key)."""

    def __init__(self, app, api_key: str | None = None):
        self.app = app
        self.api_key = (ServingConfig.from_env().api_key if api_key is None else api_key).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.api_key or _is_public(scope):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        offered = headers.get(b"x-api-key", b"")
        auth = headers.get(b"authorization", b"")
        if auth.lower().startswith(b"bearer "):
            offered = auth[7:].strip()
        if not hmac.compare_digest(offered, self.api_key):
            return await _send_json(send, 401, "missing or wrong API key (send Authorization: Bearer <key> or X-API-Key)",
                                    [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)
