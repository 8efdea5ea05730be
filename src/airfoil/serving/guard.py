"""ASGI middleware in front of every route: bearer token, body size, and load shedding."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

import orjson

from airfoil.serving.http import too_large
from airfoil.serving.metrics import Metrics
from airfoil.settings import Settings

OPEN_PATHS = ("/v2/health/live", "/v2/health/ready")


def resolve_token(settings: Settings) -> tuple[str, str]:
    """The API token and where it came from: AIRFOIL_API_TOKEN, else one generated under AIRFOIL_HOME."""
    if settings.api_token:
        return settings.api_token, "AIRFOIL_API_TOKEN"
    path = Path(settings.home) / "api_token"
    if path.exists():
        return path.read_text().strip(), str(path)
    settings.home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, f"{path} (generated)"


class Guard:
    """401 without the token, 413 for declared bodies over the limit, 503 when at capacity.

    Bodies sent without a Content-Length are counted as they are read (`read_body` in the app).
    `fast_routes`: what the fast protocol answers itself (`serving.fast_routes`), behind the same
    checks and counting in the same `inflight`.
    """

    def __init__(self, app: Any, token: str, max_body: int, max_inflight: int, metrics: Metrics):
        self.app = app
        self.fast_routes: Any = None
        self.expected = f"Bearer {token}".encode()
        self.max_body = max_body
        self.max_inflight = max_inflight
        self.metrics = metrics
        self.inflight = 0

    def authorized(self, authorization: bytes) -> bool:
        """Whether an Authorization header's value is the bearer token."""
        return hmac.compare_digest(authorization, self.expected)

    def admits(self, length: bytes) -> bool:
        """Whether a declared Content-Length is within the limit."""
        return length.isdigit() and int(length) <= self.max_body

    @property
    def at_capacity(self) -> bool:
        return self.inflight >= self.max_inflight

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in OPEN_PATHS:
            headers = dict(scope["headers"])
            if not self.authorized(headers.get(b"authorization", b"")):
                await _error(
                    send,
                    401,
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
                    [(b"www-authenticate", b"Bearer")],
                )
                return
            length = headers.get(b"content-length")
            if length is not None and not self.admits(length):
                await _error(send, 413, too_large(self.max_body))
                return
        if self.at_capacity and scope["path"] not in OPEN_PATHS:
            self.metrics.shed.inc()
            await _error(send, 503, "the server is at capacity; retry shortly", [(b"retry-after", b"1")])
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


async def _error(
    send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps({"error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
