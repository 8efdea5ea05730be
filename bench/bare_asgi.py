"""The anchor of bench/serve.py: the floor of what any Python ASGI server does per request here.

A bare ASGI app for uvicorn that reads the whole body, parses it with orjson (as airfoil does) and
answers a fixed prediction. Run: uvicorn bare_asgi:app --app-dir bench --workers W.
"""

from __future__ import annotations

from typing import Any

import orjson

ANSWER = orjson.dumps({"predictions": ["malignant"], "model_version": 1})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the body, parse it, answer the same bytes to every request."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    orjson.loads(body)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":  # bench/serve.py: the same worker model as `airfoil serve` (serving.workers)
    import argparse
    import sys
    from pathlib import Path

    from airfoil.serving import workers

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the workers import bare_asgi:app
    workers.run(
        "bare_asgi:app",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
