"""uvicorn's httptools protocol, answering the POST prediction routes itself.

An ASGI request costs uvicorn and Starlette ~90 µs of Python per request before any handler runs (a
task, the receive/send messages, the middleware and router), more than a one-row prediction. This
subclass of uvicorn's own `HttpToolsProtocol` (uvicorn keeps workers, signals, lifespan, keep-alive,
timeouts and limits) takes the requests `FastRoutes.admit` accepts, collects the body as the parser
delivers it, and writes the answer of `Inference` when the request is complete, in the parser's
callback: nothing waits, so the next request on the connection is parsed only after this answer.

Every other request takes uvicorn's path to the ASGI app unchanged, and so does any request that
arrives while an ASGI request on the same connection is unanswered (pipelining), that expects
`100-continue`, that asks to upgrade, has no Content-Length, or is beyond uvicorn's connection limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from airfoil.serving.fast_routes import FastRoutes, Pending
from airfoil.serving.inference import Answer


class FastProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the prediction routes answered in place (see the module)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.routes = find_routes(self.app)  # None (another app): exactly uvicorn's protocol
        self.fast: Pending | None = None  # the request being answered here, while its body arrives
        self.waiting = False  # `fast` arrived whole and waits for its answer (`deliver`)
        self.keep_alive_after = True  # keep the connection open after that answer
        self.close_after = False  # the server is shutting down: close once `fast` is answered
        self._defaults: list[tuple[bytes, bytes]] | None = None  # uvicorn's default headers, and
        self._defaults_bytes = b""  # them as bytes

    # A request's start, URL and headers are only collected here; uvicorn's own callbacks run, in the
    # same order on the same values, once the request turns out not to be ours.
    def on_message_begin(self) -> None:
        if self.waiting:  # a pipelined request: the one before it is answered first
            assert self.routes is not None
            self.routes.flush()
        if self.timeout_keep_alive_task is not None:  # armed by that answer: this one is not idle
            self._unset_keepalive_if_required()
        self.url = b""
        self.headers = []
        self.expect_100_continue = False

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.routes is not None and self._may_be_fast():
            try:
                path = httptools.parse_url(self.url).path.decode("ascii")
            except (httptools.HttpParserError, UnicodeDecodeError):  # uvicorn's path refuses it
                path = ""
            self.fast = self.routes.admit(path, self.headers)
            if self.fast is not None:
                version = self.parser.get_http_version()
                self.fast.keep_alive = version != "1.0" and self.parser.should_keep_alive()
                return
        url, headers = self.url, self.headers
        super().on_message_begin()
        super().on_url(url)
        for name, value in headers:
            super().on_header(name, value)
        super().on_headers_complete()

    def _may_be_fast(self) -> bool:
        """A POST, and nothing about it or the connection asks for uvicorn's own handling."""
        cycle, limit = self.cycle, self.limit_concurrency
        return (
            self.parser.get_method() == b"POST"
            and (cycle is None or cycle.response_complete)
            and not self.pipeline
            and not self.expect_100_continue
            and not self.parser.should_upgrade()
            and not self.root_path
            and b"%" not in self.url
            and (limit is None or (len(self.connections) < limit and len(self.tasks) < limit))
        )

    def on_body(self, body: bytes) -> None:
        if self.fast is not None:
            self.fast.chunks.append(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        pending = self.fast
        if pending is None:
            super().on_message_complete()
            return
        assert self.routes is not None
        self.fast = None
        self.waiting = True
        self.keep_alive_after = pending.keep_alive
        self.routes.submit(pending, self, self.loop)

    def deliver(self, answer: Answer) -> None:
        """Write the answer to the request that waited for it; then close, or wait for the next."""
        self.waiting = False
        if self.transport.is_closing():  # the client left while its request was being answered
            return
        keep_alive = self.keep_alive_after and not self.close_after
        self.transport.write(self._head(answer, keep_alive) + answer.body)
        # What uvicorn's on_response_complete does after an answer: count it, close or arm the
        # keep-alive timer (reading is never paused and nothing is queued while a fast request runs).
        self.server_state.total_requests += 1
        if not keep_alive:
            self.transport.close()
        else:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def _head(self, answer: Answer, keep_alive: bool) -> bytes:
        """Status line and headers: uvicorn's default ones (server, date), then the answer's."""
        defaults = self.server_state.default_headers
        if defaults is not self._defaults:  # uvicorn replaces the list when the date changes
            self._defaults = defaults
            self._defaults_bytes = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
        head = STATUS_LINE[answer.status] + self._defaults_bytes
        head += b"content-type: application/json\r\ncontent-length: %d\r\n" % len(answer.body)
        if answer.version is not None:
            head += b"x-model-version: %d\r\n" % answer.version
        return head + (b"\r\n" if keep_alive else b"connection: close\r\n\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fast is not None and self.routes is not None:
            self.fast = None
            self.routes.release()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if self.fast is not None or self.waiting:  # answer the request being received, then close
            self.close_after = True
            return
        super().shutdown()


def find_routes(app: Any) -> FastRoutes | None:
    """The `FastRoutes` of airfoil's app, through uvicorn's middleware (each holds the next in `.app`)."""
    for _ in range(10):
        found = getattr(app, "fast_routes", None)
        if isinstance(found, FastRoutes):
            return found
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None
