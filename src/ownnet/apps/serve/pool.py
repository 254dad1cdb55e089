"""``PooledHTTPServer``: an ``http.server.HTTPServer`` that serves connections on a bounded pool of threads.

The standard library's ``ThreadingHTTPServer`` starts a new thread for every connection, with no
limit, and listens with a queue of 5 connections (``socketserver``'s default): under 200 clients
that connect at once the kernel's queue overflows and about a quarter of them are reset.
This server

- listens with a queue of ``request_queue_size`` = 1024 connections (Linux caps it at
  ``net.core.somaxconn``, 4096 by default), so that a burst of connections waits in the kernel
  instead of being refused;
- serves each connection on one of at most ``max_threads`` daemon threads (256 by default), started
  when needed and then reused; a thread serves one connection at a time, keep-alive requests
  included, until the client closes it or it sits idle for the handler's ``timeout``;
- when all threads are busy, stops accepting: new connections wait in the kernel's queue (and,
  beyond it, the clients' own retries) until a thread is free. Threads and memory stay bounded:
  at most ``max_threads`` connections are read at once, each request's size is bounded by the
  handler.

Daemon threads, as ``ThreadingHTTPServer``'s: a connection still open does not keep the program
from exiting.
"""

import queue
import sys
import threading
from http.server import HTTPServer


class PooledHTTPServer(HTTPServer):
    """``HTTPServer`` with a listen queue of ``request_queue_size`` and at most ``max_threads``
    worker threads (see the module docstring). Use it as any ``socketserver`` server:
    ``serve_forever()``, then ``shutdown()`` and ``server_close()``."""

    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address, handler_class, max_threads=256):
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise ValueError(f"max_threads: expected a positive integer, got {max_threads!r}")
        self.max_threads = max_threads
        self.thread_count = 0                          # worker threads started so far (<= max_threads)
        self._slots = threading.Semaphore(max_threads)  # one per connection being served
        self._connections = queue.SimpleQueue()         # accepted, waiting for their worker
        self._idle = 0                                  # workers waiting for a connection
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        super().__init__(address, handler_class)

    def process_request(self, request, client_address):
        """Called by ``serve_forever`` for each accepted connection: give it to an idle worker, or
        start a new one. Waits while ``max_threads`` connections are being served."""
        while not self._slots.acquire(timeout=0.1):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        self._connections.put((request, client_address))
        with self._lock:
            if self._idle > 0:          # a waiting worker will take it
                self._idle -= 1
                return
            self.thread_count += 1
        threading.Thread(target=self._work, name=f"ownnet-serve-{self.thread_count}", daemon=True).start()

    def _work(self):
        while (item := self._connections.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                with self._lock:        # idle before the slot is free: never more threads than slots
                    self._idle += 1
                self._slots.release()

    def handle_error(self, request, client_address):
        """A client that went away (reset, broken pipe) is not the server's error: no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def serve_forever(self, poll_interval=0.5):
        self._stopping.clear()
        super().serve_forever(poll_interval)

    def shutdown(self):
        """Stop ``serve_forever`` (also while it waits for a free thread)."""
        self._stopping.set()
        super().shutdown()

    def server_close(self):
        """Close the listening socket; idle workers end, busy ones when their connection closes."""
        super().server_close()
        self._stopping.set()
        for _ in range(self.thread_count):
            self._connections.put(None)
