"""Many clients at once (issue 17, defect 2): the listen backlog, the bounded pool of threads, and 200
concurrent clients on loopback — new connections and keep-alive — all answered, correctly, with no
reset. (How fast is ``benchmarks/serve_load.py``'s business, not a test's.)"""

import json
import socket
import struct
import threading

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.serve import Predictor, make_server, start_in_thread
from ownnet.apps.serve.pool import PooledHTTPServer

CLIENTS = 200


def _model():
    on.manual_seed(0)
    return on.mlp([784, 16, 10])


@pytest.fixture
def serving():
    servers = []

    def start(**kwargs):
        model = _model()
        server = make_server(Predictor(model), port=0, **kwargs)
        start_in_thread(server)
        servers.append(server)
        return server, model

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _request(pixels, keep_alive):
    body = json.dumps({"pixels": pixels}).encode()
    connection = b"keep-alive" if keep_alive else b"close"
    return (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s"
            % (len(body), connection, body))


def _read_answer(stream):
    """``(status, JSON)`` of one answer read from ``stream`` (a socket's ``makefile("rb")``)."""
    status = int(stream.readline().split()[1])
    length = None
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, json.loads(stream.read(length))


def _ask(port, pixels, keep_alive=False, count=1):
    """``count`` answers to POST /predict on one connection (a new one for each if not keep_alive)."""
    answers = []
    client = None
    for _ in range(count):
        if client is None:
            client = socket.create_connection(("127.0.0.1", port), timeout=30)
            stream = client.makefile("rb")
        client.sendall(_request(pixels, keep_alive))
        answers.append(_read_answer(stream))
        if not keep_alive:
            stream.close()
            client.close()
            client = None
    if client is not None:
        stream.close()
        client.close()
    return answers


def _run_clients(port, inputs, keep_alive, count):
    """``CLIENTS`` threads that start together; returns ``(answers per client, errors)``."""
    start = threading.Barrier(CLIENTS)
    answers, errors = [None] * CLIENTS, []

    def client(k):
        start.wait()
        try:
            answers[k] = _ask(port, inputs[k % len(inputs)], keep_alive, count)
        except Exception as error:  # ConnectionResetError, a time-out: what the test must not see
            errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers, errors


def test_the_listen_backlog_holds_a_burst_of_connections(monkeypatch):
    backlogs = []
    listen = socket.socket.listen
    monkeypatch.setattr(socket.socket, "listen", lambda sock, backlog: (backlogs.append(backlog),
                                                                        listen(sock, backlog))[1])
    server = make_server(Predictor(_model()), port=0)
    server.server_close()
    assert PooledHTTPServer.request_queue_size == 1024
    assert backlogs == [1024]  # socketserver's default is 5


@pytest.mark.parametrize("keep_alive, count", [(False, 2), (True, 3)], ids=["new-connections", "keep-alive"])
def test_200_concurrent_clients_are_all_answered_correctly(serving, keep_alive, count):
    server, model = serving()
    rng = np.random.default_rng(0)
    inputs = [rng.random(784).round(4).tolist() for _ in range(8)]
    expected = [on.predict_proba(model, np.asarray([p], dtype=np.float32))[0] for p in inputs]
    answers, errors = _run_clients(server.server_address[1], inputs, keep_alive, count)
    assert errors == []
    for k, client_answers in enumerate(answers):
        assert len(client_answers) == count
        for status, data in client_answers:
            assert status == 200
            # the model's lock keeps concurrent forward passes from mixing their inputs
            np.testing.assert_allclose(data["probabilities"], expected[k % len(inputs)], rtol=1e-5, atol=1e-7)
    assert server.thread_count <= server.max_threads


def test_threads_are_bounded_and_waiting_connections_are_served_when_one_frees(serving):
    server, _ = serving(max_threads=2)
    port, pixels = server.server_address[1], [0.5] * 784
    held = []
    for _ in range(2):  # two keep-alive connections occupy both threads
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        stream = client.makefile("rb")
        client.sendall(_request(pixels, keep_alive=True))
        assert _read_answer(stream)[0] == 200
        held.append((client, stream))
    waiting = socket.create_connection(("127.0.0.1", port), timeout=10)  # accepted by the kernel
    waiting.sendall(_request(pixels, keep_alive=False))
    waiting.settimeout(0.3)
    with pytest.raises(TimeoutError):  # no thread is free: it waits (it is not reset)
        waiting.recv(1)
    assert server.thread_count == 2
    held[0][1].close()
    held[0][0].close()  # one thread frees ...
    waiting.settimeout(10)
    with waiting.makefile("rb") as stream:  # ... and serves the waiting connection
        assert _read_answer(stream)[0] == 200
    waiting.close()
    held[1][1].close()
    held[1][0].close()
    assert server.thread_count == 2


@pytest.mark.parametrize("max_threads", [0, -1, 2.5, True])
def test_max_threads_is_validated(max_threads):
    with pytest.raises(ValueError, match="max_threads"):
        make_server(Predictor(_model()), port=0, max_threads=max_threads)


def test_a_client_that_resets_is_no_traceback_and_the_server_goes_on(serving, capsys):
    server, _ = serving(max_threads=1)  # the next request is served after the reset one is done
    port = server.server_address[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n{")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # linger 0: a reset while the server reads the body
    assert _ask(port, [0.5] * 784)[0][0] == 200
    assert "Traceback" not in capsys.readouterr().err
