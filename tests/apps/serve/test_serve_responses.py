"""How the server writes its answers (issue 17, defect 3 and "JSON for every error"): headers and body
in one ``sendall``, TCP_NODELAY on every accepted socket, and a JSON ``{"error": ...}`` for every
error, http.server's own (400, 414, 431, 501, 505) included."""

import io
import json
import socket

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.serve import Predictor, make_server, start_in_thread
from ownnet.apps.serve.server import ServeHandler


@pytest.fixture(scope="module")
def server():
    on.manual_seed(0)
    server = make_server(Predictor(on.mlp([784, 8, 10])), port=0)
    start_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


class RecordingSocket:
    """A stand-in for an accepted socket: reads come from ``data``; each ``sendall`` and
    ``setsockopt`` is recorded."""

    def __init__(self, data):
        self.data, self.sent, self.options = data, [], []

    def settimeout(self, seconds):
        pass

    def setsockopt(self, level, option, value):
        self.options.append((level, option, value))

    def getsockname(self):
        return ("127.0.0.1", 8000)

    def makefile(self, mode, buffering=-1):
        assert mode == "rb"  # the handler writes through sendall (wbufsize 0)
        return io.BytesIO(self.data)

    def sendall(self, data):
        self.sent.append(bytes(data))


def _post(body):
    body = json.dumps(body).encode()
    return b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _get(path):
    return b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode()


def _split_answer(data):
    """``(status, headers dict, body)`` of exactly one complete HTTP answer (asserts nothing is left)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert len(body) == int(headers["Content-Length"]), "the body is not all in this write"
    return int(lines[0].split()[1]), headers, body


def test_each_answer_is_one_sendall_and_nagle_is_off(server):
    pixels = np.random.default_rng(0).random(784).round(4).tolist()
    requests = [_get("/api/info"), _post({"pixels": pixels}), _post({"pixels": [2] * 784}), _get("/nothing"),
                _get("/"), b"PUT /predict HTTP/1.1\r\nHost: localhost\r\n\r\n"]
    connection = RecordingSocket(b"".join(requests))  # pipelined on one keep-alive connection
    ServeHandler(connection, ("127.0.0.1", 50000), server)
    assert [_split_answer(write)[0] for write in connection.sent] == [200, 200, 400, 404, 200, 501]
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, True) in connection.options


def test_accepted_sockets_have_tcp_nodelay(server, monkeypatch):
    seen = []
    setup = ServeHandler.setup

    def recording_setup(handler):
        setup(handler)
        seen.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(ServeHandler, "setup", recording_setup)
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as client:
            client.sendall(b"GET /api/info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1 200")
    assert len(seen) == 2 and all(seen)


def _raw(server, data):
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as client:
        client.sendall(data)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("request_bytes, status, fragment", [
    (b"PUT /predict HTTP/1.1\r\nHost: localhost\r\n\r\n", 501, "PUT: method not supported"),
    (b"BREW /coffee HTTP/1.1\r\nHost: localhost\r\n\r\n", 501, "GET, HEAD and POST"),
    (b"DELETE / HTTP/1.1\r\nHost: localhost\r\n\r\n", 501, "DELETE"),
    (b"GARBAGE\r\n\r\n", 400, "Bad request"),
    (b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505, "version"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "URI"),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431, "header"),
    (b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 404, "no such page"),
    (b"GET /predict HTTP/1.1\r\nHost: localhost\r\n\r\n", 405, "use POST"),
    (b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999\r\n\r\n", 413, "at most"),
    (b"POST /predict HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
     400, "Host"),
])
def test_every_error_is_json(server, request_bytes, status, fragment):
    answer = _raw(server, request_bytes)
    got, headers, body = _split_answer(answer)
    assert got == status and headers["Content-Type"] == "application/json"
    assert fragment.lower() in json.loads(body)["error"].lower()


def test_head_answers_headers_only(server):
    answer = _raw(server, b"HEAD /api/info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: " in head and body == b""


def _padded_get(lines):
    """A GET with ``lines`` extra header lines of 2 KiB each."""
    padding = b"X-Pad: %s\r\n" % (b"a" * 2048) * lines
    return b"GET /api/info HTTP/1.1\r\nHost: localhost\r\n" + padding + b"\r\n"


def test_headers_are_capped_in_all_not_only_per_line(server):
    # 40 lines of 2 KiB: each under http.server's 64 KiB per line and 100 lines, 80 KiB together
    connection = RecordingSocket(_padded_get(40) + _get("/api/info"))
    ServeHandler(connection, ("127.0.0.1", 50000), server)
    (answer,) = connection.sent  # the connection is closed after the 431
    status, headers, body = _split_answer(answer)
    assert status == 431 and headers["Content-Type"] == "application/json"
    assert "at most 65536 bytes" in json.loads(body)["error"]
    # the cap is per request: three requests of 30 KiB of headers each on one connection are served
    keep_alive = RecordingSocket(_padded_get(15) * 3)
    ServeHandler(keep_alive, ("127.0.0.1", 50000), server)
    assert [_split_answer(write)[0] for write in keep_alive.sent] == [200, 200, 200]


@pytest.mark.parametrize("path, host, status", [(b"/nothing", b"localhost", 404),
                                                (b"/predict", b"evil.example", 400)])
def test_a_post_refused_before_its_body_is_read_closes_the_connection(server, path, host, status):
    body = b'{"pixels": []}'
    post = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s" % (path, host, len(body), body)
    connection = RecordingSocket(post + _get("/api/info"))
    ServeHandler(connection, ("127.0.0.1", 50000), server)
    (answer,) = connection.sent  # not a second answer to the body read as a request line
    got, headers, _ = _split_answer(answer)
    assert got == status and headers["Connection"] == "close"
