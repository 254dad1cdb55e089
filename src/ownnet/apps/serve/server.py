"""The local web server: the draw page, the training dashboard and their JSON API (standard library).

    GET  /                 the draw page (static/index.html)
    GET  /dashboard        the training dashboard (static/dashboard.html)
    GET  /static/NAME      the page's scripts and style sheet
    GET  /api/info         the model: layer names, parameter count, classes; whether training runs
    POST /predict          {"pixels": [784 numbers in 0..1]} -> {"prediction", "probabilities", "activations"}
    GET  /api/samples?count=12   random test digits with the model's guesses
    GET  /api/training?since=N   the dashboard's numbers (batch losses from index N on)
    GET  /api/weights      the first layer's weights as 28x28 tiles

Bound to 127.0.0.1 by default. Requests must name this machine as their ``Host`` (a loopback name,
its name, the address they reached, or a name given in ``allow_hosts``), so that a web page elsewhere
cannot reach the server by DNS rebinding, and a POST from another origin is refused (``hosts.py``).
Connections are served on a bounded pool of threads (``pool.py``); each response leaves in one write,
with Nagle's algorithm off; every error is JSON ``{"error": ...}``, http.server's own (400, 414, 431,
501) included.
"""

import json
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ownnet.apps.serve.hosts import HostPolicy, host_name
from ownnet.apps.serve.pool import PooledHTTPServer
from ownnet.apps.serve.requests import HeaderBudget, RequestError, check_length, parse_pixels, query_int

_PAGES = {"/": "index.html", "/index.html": "index.html", "/dashboard": "dashboard.html"}
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
MAX_SAMPLES = 48


def _static_files():
    """``{name: bytes}`` of the package's static folder, read once."""
    folder = resources.files("ownnet.apps.serve") / "static"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir()
            if entry.is_file() and entry.name.rsplit(".", 1)[-1] in ("html", "js", "css", "png", "svg")}


class SampleSource:
    """Test digits for the page's panel: ``(images (n, 784) in [0, 1], labels (n,))`` or a function
    that returns them (called once, on the first request; an error becomes the panel's message)."""

    def __init__(self, data):
        self._data = data if callable(data) or data is None else tuple(data)
        self._lock = threading.Lock()
        self._loaded, self._error = None, None

    def get(self):
        with self._lock:
            if self._loaded is None and self._error is None:
                if self._data is None:
                    self._error = "no test digits were given to the server"
                elif callable(self._data):
                    try:
                        self._loaded = self._data()
                    except Exception as error:  # a missing data set must not take the page down
                        self._error = f"no test digits: {error}"
                else:
                    self._loaded = self._data
        if self._error is not None:
            raise RequestError(503, self._error)
        return self._loaded


class ServeServer(PooledHTTPServer):
    """The HTTP server; ``predictor`` (draw page), ``monitor`` (dashboard) and ``samples`` may each
    be None, and the endpoints that need them then answer 503 with a message. ``allow_hosts``: more
    names it answers to (``hosts.HostPolicy``); ``max_threads``: connections served at once."""

    def __init__(self, address, predictor=None, monitor=None, samples=None, log_requests=False,
                 allow_hosts=(), max_threads=256):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.hosts = HostPolicy(address[0], allow_hosts)
        super().__init__(address, ServeHandler, max_threads=max_threads)
        self.predictor, self.monitor = predictor, monitor
        self.no_model_reason = "no model yet: training has not started"
        self.samples = samples if isinstance(samples, SampleSource) else SampleSource(samples)
        self.static = _static_files()
        self.log_requests = log_requests
        self.rng = np.random.default_rng()

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


class ServeHandler(BaseHTTPRequestHandler):
    """Routes the requests listed in the module docstring; every error is JSON ``{"error": ...}``."""

    server_version = "ownnet-serve"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a keep-alive connection may sit idle or send slowly
    disable_nagle_algorithm = True  # TCP_NODELAY on each accepted socket (socketserver does it in setup)

    # --- plumbing ---------------------------------------------------------------------------------
    def setup(self):
        super().setup()
        self.rfile = HeaderBudget(self.rfile)

    def parse_request(self):
        """http.server's parsing of the request line and headers, with the headers' bytes capped."""
        self.rfile.cap_lines()
        try:
            return super().parse_request()
        finally:
            self.rfile.uncap_lines()

    def log_message(self, format, *args):
        if self.server.log_requests:
            super().log_message(format, *args)

    def _send(self, status, body, content_type, extra_headers=()):
        """Write the status line, the headers and ``body`` in one ``sendall``.

        (``send_response`` + ``end_headers`` + ``wfile.write(body)`` writes twice; with Nagle's
        algorithm the second write then waits for the client's delayed ACK, about 40 ms.)
        """
        self.log_request(status, len(body))
        headers = [("Server", self.version_string()), ("Date", self.date_time_string()),
                   ("Content-Type", content_type), ("Content-Length", str(len(body))),
                   ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), *extra_headers]
        if self.close_connection:
            headers.append(("Connection", "close"))
        lines = [f"{self.protocol_version} {status} {HTTPStatus(status).phrase}",
                 *(f"{name}: {value}" for name, value in headers)]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _send_json(self, status, payload):
        self._send(status, json.dumps(payload, separators=(",", ":")).encode(), "application/json")

    def _send_error(self, error):
        self._send_json(error.status, {"error": error.message})

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (a malformed request line or header, 414, 431, 501 for an unknown
        method) as JSON, like the server's; the connection is closed after them."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:
            message = f"{self.command}: method not supported; this server answers GET, HEAD and POST"
        elif code == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE and explain:
            message = explain  # which limit: "got more than 100 headers", "headers: at most ..."
        self.log_error("code %d, message %s", code, message)
        self._send_error(RequestError(int(code), message or HTTPStatus(code).phrase))

    def _check_host(self):
        hosts, local_address = self.server.hosts, self.connection.getsockname()[0]
        host = self.headers.get("Host")
        if host is None or not hosts.allows(host_name(host), local_address):
            raise RequestError(400, f"Host: this server answers only to {hosts.describe()}, got {host!r}")
        origin = self.headers.get("Origin")
        if self.command == "POST" and not hosts.check_origin(origin, local_address):
            raise RequestError(403, f"Origin: requests from {origin!r} are not allowed")

    def _handle(self, routes):
        path = urlsplit(self.path).path
        self.body_read = False
        try:
            self._check_host()
            handler = routes.get(path)
            if handler is None:
                if path.startswith("/static/") and self.command in ("GET", "HEAD"):
                    return self._static(path[len("/static/"):])
                other = [m for m, table in (("GET", self._get_routes()), ("POST", self._post_routes()))
                         if path in table]
                if other:
                    self.close_connection = True  # the body, if any, was not read
                    raise RequestError(405, f"{self.command} {path}: use {' or '.join(other)}")
                raise RequestError(404, f"{path}: no such page or endpoint")
            handler()
        except RequestError as error:
            if self.command == "POST" and not self.body_read:
                self.close_connection = True  # its body would be read as the next request
            self._send_error(error)
        except Exception as error:  # a bug or an unusual model: answer, and keep serving
            self.log_error("%s %s failed: %r", self.command, path, error)
            self.close_connection = True
            self._send_error(RequestError(500, f"internal error: {type(error).__name__}: {error}"))

    # --- routes ------------------------------------------------------------------------------------
    def _get_routes(self):
        routes = {path: (lambda name=name: self._static(name)) for path, name in _PAGES.items()}
        routes.update({"/api/info": self._info, "/api/samples": self._samples,
                       "/api/training": self._training, "/api/weights": self._weights})
        return routes

    def _post_routes(self):
        return {"/predict": self._predict}

    def do_GET(self):
        self._handle(self._get_routes())

    def do_HEAD(self):
        self._handle(self._get_routes())

    def do_POST(self):
        self._handle(self._post_routes())

    def _query(self):
        return parse_qs(urlsplit(self.path).query)

    def _static(self, name):
        body = self.server.static.get(name)
        if body is None:
            raise RequestError(404, f"/static/{name}: no such file")
        suffix = "." + name.rsplit(".", 1)[-1]
        headers = [("Content-Security-Policy", _CSP)] if suffix == ".html" else []
        self._send(200, body, _CONTENT_TYPES[suffix], headers)

    def _predictor(self):
        predictor = self.server.predictor
        if predictor is None:
            raise RequestError(503, self.server.no_model_reason)
        return predictor

    def _info(self):
        predictor, monitor = self.server.predictor, self.server.monitor
        info = {"model": predictor.describe() if predictor is not None else None,
                "training": monitor is not None}
        self._send_json(200, info)

    def _predict(self):
        # Read the body before anything can fail, so that a keep-alive connection stays in step
        # (an error before it is read closes the connection: see _handle).
        length = check_length(self.headers.get("Content-Length"))
        body = self.rfile.read(length)
        self.body_read = True
        if len(body) != length:
            self.close_connection = True
            raise RequestError(400, f"body: Content-Length said {length} bytes, got {len(body)}")
        pixels = parse_pixels(body)
        self._send_json(200, self._predictor().predict(pixels))

    def _samples(self):
        count = query_int(self._query(), "count", 12, 1, MAX_SAMPLES)
        images, labels = self.server.samples.get()
        rows = self.server.rng.choice(len(images), size=min(count, len(images)), replace=False)
        picked = np.asarray(images[rows], dtype=np.float32)
        guesses, confidences = self._predictor().classify(picked)
        pixels = np.clip(np.rint(picked * 255), 0, 255).astype(np.uint8)
        self._send_json(200, {"samples": [
            {"index": int(row), "label": int(labels[row]), "prediction": int(guess),
             "confidence": round(float(confidence), 4), "pixels": image.tolist()}
            for row, guess, confidence, image in zip(rows, guesses, confidences, pixels)]})

    def _monitor(self):
        if self.server.monitor is None:
            raise RequestError(503, "no training is running: start one with `ownnet train --dashboard`")
        return self.server.monitor

    def _training(self):
        since = query_int(self._query(), "since", 0, 0, 2**31 - 1)
        self._send_json(200, self._monitor().snapshot(since))

    def _weights(self):
        self._send_json(200, self._monitor().weight_tiles())


def make_server(predictor=None, monitor=None, samples=None, host="127.0.0.1", port=8000,
                log_requests=False, allow_hosts=(), max_threads=256):
    """A ``ServeServer`` bound to ``(host, port)`` (port 0: any free port; see ``server.url``).
    Run it with ``server.serve_forever()`` or ``start_in_thread(server)``; stop with
    ``server.shutdown(); server.server_close()``. ``allow_hosts``: more ``Host`` names to answer to
    (``["*"]``: any; see ``hosts.py``); ``max_threads``: connections served at once (see ``pool.py``)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port: expected an integer in 0..65535, got {port!r}")
    return ServeServer((host, port), predictor, monitor, samples, log_requests, allow_hosts, max_threads)


def start_in_thread(server):
    """Serve in a daemon thread; returns the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="ownnet-serve",
                              daemon=True)
    thread.start()
    return thread
