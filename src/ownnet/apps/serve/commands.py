"""What ``ownnet serve MODEL`` and ``ownnet train --dashboard`` run."""

import sys

from ownnet.apps.serve.predictor import Predictor
from ownnet.apps.serve.server import make_server
from ownnet.data.datasets import load_mnist
from ownnet.io import load
from ownnet.nn.module import Module


def _mnist_test_set():
    _, (x_test, y_test) = load_mnist()
    return x_test, y_test


def start_up_lines(server):
    """What ``ownnet serve`` prints when it starts: the address, and who may reach it when that is
    more than this computer."""
    lines = [f"ownnet serve: {server.url}  (Ctrl+C stops)"]
    hosts = server.hosts
    if hosts.any_host:
        lines.append("ownnet serve: the Host and Origin checks are off (--allow-host '*'): any web page "
                     "you visit can send requests to this server")
    elif not hosts.loopback_only:
        lines.append(f"ownnet serve: reachable from your network, without authentication; it answers "
                     f"requests that name it as {hosts.describe()} (more names: --allow-host NAME)")
    return lines


def serve_main(model, port=8000, host="127.0.0.1", samples="mnist", log_requests=False, allow_hosts=()):
    """Serve the draw page for ``model`` (a model file's path, or a Module) until Ctrl+C; returns 0.

    ``samples``: ``"mnist"`` (the MNIST test set, loaded on the first request of the test-digits
    panel), ``(images (n, 784), labels (n,))``, or None. ``allow_hosts``: more ``Host`` names to
    answer to (``["*"]``: any; see ``ownnet.apps.serve.hosts``). Raises ``FileNotFoundError``,
    ``ModelFormatError`` (a bad file), ``ValueError`` (a model that does not take 784 inputs, a bad
    ``allow_hosts`` entry) and ``OSError`` (the port is taken).
    """
    predictor = Predictor(model if isinstance(model, Module) else load(model))
    server = make_server(predictor=predictor, samples=_mnist_test_set if samples == "mnist" else samples,
                         host=host, port=port, log_requests=log_requests, allow_hosts=allow_hosts)
    for line in start_up_lines(server):
        print(line, file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
