"""Load on ``ownnet serve``'s ``POST /predict``: requests/s, latency and errors for 1, 50 and 200 clients.

    python benchmarks/serve_load.py                 # 3 s per row, about 25 s in all
    python benchmarks/serve_load.py --seconds 1     # quicker
    python benchmarks/serve_load.py --clients 1 50  # only some rows

Starts the server in a subprocess (this script with ``--server``: a random 784-128-10 MLP, port 0,
127.0.0.1 only), so that the server and the load generator each have their own interpreter, and
drives it from one asyncio loop of simulated clients. Each client posts the same 784-pixel JSON body
(about 5 KB) again and again, as soon as its previous answer has come:

- ``new``: a new TCP connection per request (``Connection: close``);
- ``keep-alive``: one connection per client for all its requests.

A row runs for ``--seconds`` (and at most ``--max-requests`` requests) after every client has sent
its first request. Latency is from the request's first byte sent (the connection opened, for
``new``) to the answer's last byte read. An error is a refused or reset connection, a time-out
(``--timeout``), a short answer or a status other than 200. Prints a Markdown table, the CPU, and
the targets of issue 17 (0 errors at 200 clients; keep-alive median under 5 ms; at least 500
requests/s with 50 keep-alive clients); exits with status 1 if one is missed. The median target is
checked on one client: these clients send their next request as soon as an answer comes, so with
n of them a request waits for the n - 1 others (median ≈ n / requests per second, Little's law) and
the medians of the 50- and 200-client rows measure the throughput again, not a stall. Nothing
leaves the machine: the only address used is 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HOST = "127.0.0.1"
TARGETS = ("0 errors at 200 clients; keep-alive median < 5 ms (1 client); "
           ">= 500 requests/s with 50 keep-alive clients")


# --- the server (a subprocess) ---------------------------------------------------------------------
def run_server(hidden):
    """Serve a random 784-hidden-10 MLP on a free port of 127.0.0.1; print the port, serve until killed."""
    import ownnet as on
    from ownnet.apps.serve import Predictor, make_server

    on.manual_seed(0)
    server = make_server(Predictor(on.mlp([784, hidden, 10])), samples=None, host=HOST, port=0)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_server(hidden):
    """``(process, port)`` of a server subprocess."""
    command = [sys.executable, os.path.abspath(__file__), "--server", "--hidden", str(hidden)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise RuntimeError(f"the server did not start (it printed {line!r})")
    return process, int(line)


def predict_microseconds(hidden, repeats=2000):
    """The time ``Predictor.predict`` holds the model's lock for one request (the serialised part)."""
    import ownnet as on
    from ownnet.apps.serve import Predictor

    on.manual_seed(0)
    predictor = Predictor(on.mlp([784, hidden, 10]))
    pixels = np.random.default_rng(0).random(784, dtype=np.float32)
    predictor.predict(pixels)
    started = time.perf_counter()
    for _ in range(repeats):
        predictor.predict(pixels)
    return (time.perf_counter() - started) / repeats * 1e6


# --- the clients ------------------------------------------------------------------------------------
def request_bytes(keep_alive):
    pixels = np.random.default_rng(1).random(784).round(3).tolist()
    body = json.dumps({"pixels": pixels}).encode()
    connection = "keep-alive" if keep_alive else "close"
    head = (f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n")
    return head.encode() + body


async def read_answer(reader):
    """Read one HTTP answer; returns its status (raises on a short or malformed answer)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    lengths = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
               if line.lower().startswith(b"content-length:")]
    if len(lengths) != 1:
        raise ValueError(f"an answer without one Content-Length: {head[:200]!r}")
    length = lengths[0]
    await reader.readexactly(length)
    return status


class Row:
    """The counters of one row, shared by its clients (one asyncio loop: no lock needed)."""

    def __init__(self, clients, seconds, max_requests):
        self.clients, self.seconds, self.max_requests = clients, seconds, max_requests
        self.started_clients = 0
        self.latencies, self.errors, self.error_kinds = [], 0, {}
        self.start = self.deadline = None
        self.all_started = asyncio.Event()

    def client_ready(self):
        self.started_clients += 1
        if self.started_clients == self.clients:
            self.start = time.perf_counter()
            self.deadline = self.start + self.seconds
            self.all_started.set()

    def running(self):
        return time.perf_counter() < self.deadline and len(self.latencies) + self.errors < self.max_requests

    def record(self, began, status=None, error=None):
        if error is None and status == 200:
            self.latencies.append(time.perf_counter() - began)
            return
        self.errors += 1
        kind = type(error).__name__ if error is not None else f"HTTP {status}"
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def one_request(port, request, timeout, connection=None):
    """One request, on ``connection`` (reader, writer) or a new one; returns the status."""
    reader, writer = connection or await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        return await asyncio.wait_for(read_answer(reader), timeout)
    finally:
        if connection is None:
            writer.close()


async def client(row, port, keep_alive, timeout):
    request = request_bytes(keep_alive)
    connection = None
    first = True
    while first or row.running():
        began = time.perf_counter()
        try:
            if keep_alive and connection is None:
                connection = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
            status = await one_request(port, request, timeout, connection)
            error = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as caught:
            status, error, connection = None, caught, None
        if first:
            first = False
            row.client_ready()
            await row.all_started.wait()  # the row's clock starts when every client is in
            continue
        row.record(began, status, error)
    if connection is not None:
        connection[1].close()


async def run_row(port, clients, keep_alive, seconds, max_requests, timeout):
    row = Row(clients, seconds, max_requests)
    await asyncio.gather(*(client(row, port, keep_alive, timeout) for _ in range(clients)))
    row.elapsed = time.perf_counter() - row.start
    return row


def summary(row, mode):
    latencies = sorted(row.latencies)
    done = len(latencies)
    p50 = statistics.median(latencies) * 1e3 if latencies else float("nan")
    p99 = latencies[min(done - 1, int(0.99 * done))] * 1e3 if latencies else float("nan")
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(row.error_kinds.items()))
    return {"mode": mode, "clients": row.clients, "requests": done, "errors": row.errors,
            "error_kinds": kinds, "per_second": done / row.elapsed, "p50_ms": p50, "p99_ms": p99}


# --- the report -------------------------------------------------------------------------------------
def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        return f"{names[0]} x {len(names)}" if names else platform.processor()
    except OSError:
        return platform.processor() or "unknown CPU"


def check_targets(results):
    """The issue's targets, each as ``(text, met)``, for the rows that were run."""
    checks = []
    for r in results:
        if r["clients"] == 200:
            checks.append((f"0 errors, {r['mode']}, 200 clients (got {r['errors']})", r["errors"] == 0))
        if r["mode"] == "keep-alive" and r["clients"] == 1:
            checks.append((f"keep-alive median < 5 ms, 1 client (got {r['p50_ms']:.2f} ms)",
                           r["p50_ms"] < 5))
        if r["mode"] == "keep-alive" and r["clients"] == 50:
            checks.append((f">= 500 requests/s, 50 keep-alive clients (got {r['per_second']:.0f})",
                           r["per_second"] >= 500))
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each row (default 3)")
    parser.add_argument("--max-requests", type=int, default=20000, help="at most this many per row")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--hidden", type=int, default=128, help="hidden units of the served MLP")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request is an error")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.server:
        return run_server(args.hidden)
    if not 0 < args.seconds <= 60 or not 0 < args.max_requests <= 10**6 or max(args.clients) > 1000:
        parser.error("--seconds: at most 60; --max-requests: at most 1e6; --clients: at most 1000")
    process, port = start_server(args.hidden)
    try:
        results = []
        asyncio.run(run_row(port, 10, True, 0.5, 10**6, args.timeout))  # warm-up, not reported
        for keep_alive in (False, True):
            for clients in args.clients:
                row = asyncio.run(run_row(port, clients, keep_alive, args.seconds, args.max_requests,
                                          args.timeout))
                results.append(summary(row, "keep-alive" if keep_alive else "new"))
                print(f"  {results[-1]['mode']:10s} {clients:4d} clients: {results[-1]['per_second']:7.0f}/s "
                      f"p50 {results[-1]['p50_ms']:6.2f} ms  p99 {results[-1]['p99_ms']:7.2f} ms  "
                      f"errors {results[-1]['errors']}", file=sys.stderr, flush=True)
    finally:
        process.kill()
        process.wait()
    alone = predict_microseconds(args.hidden)
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}; served model 784-{args.hidden}-10; "
          f"{args.seconds:g} s per row; Predictor.predict alone: {alone:.0f} µs\n")
    print("| connection | clients | requests | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        errors = f"{r['errors']} ({r['error_kinds']})" if r["errors"] else "0"
        print(f"| {r['mode']} | {r['clients']} | {r['requests']} | {r['per_second']:.0f} | "
              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {errors} |")
    checks = check_targets(results)
    print(f"\nTargets ({TARGETS}):")
    for text, met in checks:
        print(f"- {'met' if met else 'MISSED'}: {text}")
    return 0 if all(met for _, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
