"""The prediction routes answered by airfoil's own protocol (`serving.fast_protocol`), seen from a
socket: the same answers and errors as the FastAPI routes, requests that arrive in pieces, pipelined
or together on many connections, keep-alive, HTTP/1.0, `Expect: 100-continue`, clients that leave.

A request sent with `Transfer-Encoding: chunked` always takes the FastAPI route: that is how these
tests compare the two paths on the same request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import pytest

from tests.integration.conftest import Server
from tests.integration.serving.support import (
    BC,
    BC3,
    BC_COLUMNS,
    BC_OIP,
    BC_ROWS,
    CARS_INVOKE,
    CARS_OIP,
    CARS_ROWS,
    INFER,
    INVOKE,
    MAX_INFLIGHT,
    MAX_ROWS,
    assert_no_internal_error,
    oip,
    with_input,
)

pytestmark = pytest.mark.integration

Answer = tuple[int, dict[str, str], bytes]


def split(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dataframe_split": {"columns": BC_COLUMNS, "data": [list(r.values()) for r in rows]}}


def request(server: Server, path: str, body: bytes, *, chunked: bool = False, extra: str = "") -> bytes:
    """A POST as bytes: with a Content-Length (the fast path), or chunked (the FastAPI route)."""
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {server.token}\r\n{extra}"
    head += "Content-Type: application/json\r\n"
    if not chunked:
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 100]), body[i : i + 100]) for i in range(0, len(body), 100)
    )
    return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"


def read_answer(f: BinaryIO) -> Answer:
    """One HTTP answer from a socket file: status, headers (lower-case names), body."""
    status = int(f.readline().split()[1])
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, value = line.decode().split(":", 1)
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, f.read(int(headers["content-length"]))
    body = b""
    while size := int(f.readline().split(b";")[0], 16):  # chunked
        body += f.read(size)
        f.readline()
    f.readline()
    return status, headers, body


@pytest.fixture
def connect(server: Server) -> Iterator[Any]:
    """Open sockets to the server (closed after the test)."""
    port = int(server.url.rsplit(":", 1)[1])
    opened: list[socket.socket] = []

    def open_socket() -> tuple[socket.socket, BinaryIO]:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        opened.append(s)
        return s, s.makefile("rb")

    yield open_socket
    for s in opened:
        s.close()


def exchange(connect: Any, data: bytes, answers: int = 1) -> list[Answer]:
    """Send `data` on a new connection; its answers, then the connection is closed."""
    s, f = connect()
    s.sendall(data)
    out = [read_answer(f) for _ in range(answers)]
    s.close()
    return out


# --- the same answers on both paths ------------------------------------------------------------------
def _bc_record(**changes: Any) -> dict[str, Any]:
    return {"dataframe_records": [{**BC3[0], **changes}]}


SAME = [
    ("split", INVOKE, split(BC3)),
    ("split-1-row", INVOKE, split(BC3[:1])),
    ("records", INVOKE, {"dataframe_records": BC3}),
    ("instances-rows", INVOKE, {"instances": [list(r.values()) for r in BC3]}),
    ("oip", INFER, BC_OIP),
    (
        "oip-version",
        f"/v2/models/{BC}/versions/1/infer",
        {**BC_OIP, "id": "x", "outputs": [{"name": "predict"}]},
    ),
    (
        "oip-2d",
        INFER,
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [3, 30],
                    "datatype": "FP64",
                    "data": [v for r in BC3 for v in r.values()],
                }
            ]
        },
    ),
    ("cars-sklearn-text", CARS_INVOKE, {"dataframe_records": CARS_ROWS[:3]}),
    ("cars-oip", "/v2/models/cars/infer", CARS_OIP),
    ("bool-in-number", INVOKE, split([{**BC3[0], "mean_area": True}])),
    ("text-in-number", INVOKE, _bc_record(mean_area="big")),
    ("null-where-not-allowed", INVOKE, _bc_record(mean_radius=None)),
    ("row-too-short", INVOKE, {"dataframe_split": {"columns": BC_COLUMNS, "data": [[1.0] * 29]}}),
    ("unknown-column", INVOKE, _bc_record(zip=1)),
    ("too-many-rows", INVOKE, split((BC_ROWS * 2)[: MAX_ROWS + 1])),
    ("oip-bad-datatype", INFER, with_input(BC_OIP, "mean_area", datatype="BYTES")),
    ("oip-empty", INFER, {"inputs": []}),
    ("not-an-object", INVOKE, [1, 2]),
    ("unknown-model", "/v1/models/nope/invocations", split(BC3)),
    ("version-not-loaded", f"/v2/models/{BC}/versions/99/infer", BC_OIP),
    ("version-not-a-number", f"/v2/models/{BC}/versions/one/infer", BC_OIP),
]


@pytest.mark.parametrize(("path", "body"), [pytest.param(p, b, id=i) for i, p, b in SAME])
def test_both_paths_give_the_same_answer(server: Server, connect: Any, path: str, body: Any) -> None:
    raw = json.dumps(body).encode()
    [fast] = exchange(connect, request(server, path, raw))
    [routed] = exchange(connect, request(server, path, raw, chunked=True))
    assert fast[0] == routed[0], (fast, routed)
    assert fast[2] == routed[2], (fast[2][:300], routed[2][:300])
    for header in ("content-type", "x-model-version"):
        assert fast[1].get(header) == routed[1].get(header), header


@pytest.mark.parametrize(
    "raw", [b"{", b"", b'{"dataframe_split": {"data": [[NaN]]}}'], ids=["truncated", "empty", "nan"]
)
def test_bodies_that_are_not_json_get_the_same_400(server: Server, connect: Any, raw: bytes) -> None:
    [fast] = exchange(connect, request(server, INVOKE, raw))
    [routed] = exchange(connect, request(server, INVOKE, raw, chunked=True))
    assert fast[0] == routed[0] == 400 and fast[2] == routed[2]
    assert b"not valid JSON" in fast[2]


def test_a_wrong_token_gets_the_guards_401(server: Server, connect: Any) -> None:
    raw = json.dumps(split(BC3)).encode()
    data = request(server, INVOKE, raw).replace(server.token.encode(), b"wrong")
    [(status, headers, body)] = exchange(connect, data)
    assert status == 401 and headers["www-authenticate"] == "Bearer" and b"bearer token" in body


# --- how requests arrive -----------------------------------------------------------------------------
def predictions(answer: Answer) -> list[Any]:
    assert answer[0] == 200, answer
    return list(json.loads(answer[2])["predictions"])


def test_pipelined_requests_are_answered_in_order(server: Server, connect: Any) -> None:
    one, three = json.dumps(split(BC3[:1])).encode(), json.dumps(split(BC3)).encode()
    models = f"GET /v1/models HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {server.token}\r\n\r\n".encode()
    data = request(server, INVOKE, three) + models + request(server, INVOKE, one)
    data += request(server, INVOKE, b"{") + request(server, INFER, json.dumps(BC_OIP).encode())
    answers = exchange(connect, data, 5)
    assert len(predictions(answers[0])) == 3
    assert answers[1][0] == 200 and b'"models"' in answers[1][2]
    assert predictions(answers[2]) == predictions(answers[0])[:1]
    assert answers[3][0] == 400
    assert answers[4][0] == 200 and json.loads(answers[4][2])["model_name"] == BC


def test_a_body_sent_in_pieces(server: Server, connect: Any) -> None:
    raw = json.dumps(split(BC3)).encode()
    whole = predictions(exchange(connect, request(server, INVOKE, raw))[0])
    data = request(server, INVOKE, raw)
    s, f = connect()
    for i in range(0, len(data), len(data) // 4):
        s.sendall(data[i : i + len(data) // 4])
        time.sleep(0.05)
    assert predictions(read_answer(f)) == whole


def test_keep_alive_and_http_1_0(server: Server, connect: Any) -> None:
    raw = json.dumps(split(BC3[:1])).encode()
    s, f = connect()
    for _ in range(3):  # one connection, one request after another
        s.sendall(request(server, INVOKE, raw))
        status, headers, _ = read_answer(f)
        assert status == 200 and "connection" not in headers
    s, f = connect()
    s.sendall(request(server, INVOKE, raw).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    status, headers, _ = read_answer(f)
    assert status == 200 and headers["connection"] == "close"
    assert f.read() == b""  # the server closed the connection


def test_expect_100_continue(server: Server, connect: Any) -> None:
    raw = json.dumps(split(BC3)).encode()
    data = request(server, INVOKE, raw, extra="Expect: 100-continue\r\n")
    head, body = data.split(b"\r\n\r\n", 1)
    s, f = connect()
    s.sendall(head + b"\r\n\r\n")
    assert f.readline().startswith(b"HTTP/1.1 100")
    f.readline()
    s.sendall(body)
    assert len(predictions(read_answer(f))) == 3


def test_clients_that_leave_mid_body_free_their_slots(server: Server, connect: Any) -> None:
    raw = json.dumps(split(BC3)).encode()
    data = request(server, INVOKE, raw)
    for _ in range(2):  # twice as many clients leave as there are slots
        held = []
        for _ in range(MAX_INFLIGHT):
            s, _ = connect()
            s.sendall(data[:-10])
            held.append(s)
        time.sleep(0.2)
        for s in held:
            s.close()
    time.sleep(0.2)
    assert len(predictions(exchange(connect, data)[0])) == 3


def test_requests_arriving_together_each_get_their_own_answer(server: Server, connect: Any) -> None:
    """Requests on many connections at once are predicted together; each gets the answer it gets alone."""
    rows = BC_ROWS[:40]
    bodies = [
        json.dumps(split([r])).encode() if i % 2 else json.dumps(oip([r])).encode()
        for i, r in enumerate(rows)
    ]
    paths = [INVOKE if i % 2 else INFER for i in range(len(rows))]
    alone = [exchange(connect, request(server, p, b))[0][2] for p, b in zip(paths, bodies, strict=True)]
    together: list[bytes | None] = [None] * len(rows)

    def client(k: int) -> None:
        s, f = connect()
        for _ in range(5):
            for i in range(k, len(rows), 8):
                s.sendall(request(server, paths[i], bodies[i]))
                together[i] = read_answer(f)[2]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


def test_the_server_logged_no_internal_error(server: Server) -> None:
    """Runs last in this module: nothing above made the server answer 500 or log a traceback."""
    assert_no_internal_error(server.output())
