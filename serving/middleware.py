"""ASGI middleware in front of every route: request body size limit and the optional API key.

Settings are read from the environment when the app is built (not at import), like the service's own.

Both answer with a JSON body, like every other error of the service.
"""

from __future__ import annotations

import hmac
import json

from serving.config import ServingConfig

# Routes that orchestrators poll without credentials.
HEALTH_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


async def _send_json(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``: from Content-Length when given, else by counting as it streams."""

    def __init__(self, app, max_bytes: int | None = None):
        self.app = app
        self.max_bytes = ServingConfig.from_env().max_body_bytes if max_bytes is None else max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"request body larger than {self.max_bytes} bytes (EVENTCLF_MAX_BODY_BYTES)"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _send_json(send, 413, too_large)
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 413, too_large)


class _BodyTooLarge(Exception):
    pass


class ApiKeyMiddleware:
    """When a key is configured, every route but the health checks needs it (Bearer token or X-API-Key)."""

    def __init__(self, app, api_key: str | None = None):
        self.app = app
        self.api_key = (ServingConfig.from_env().api_key if api_key is None else api_key).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.api_key or scope["path"] in HEALTH_PATHS:
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
