"""Validation of what the page sends: the size of its headers, the JSON body of ``POST /predict``
and query parameters.

Anything wrong raises ``RequestError`` with the HTTP status and a message that says what was
expected and what came; the server answers ``{"error": message}`` with that status.
"""

import http.client
import json
import math

import numpy as np

from ownnet.apps.serve.predictor import N_PIXELS

MAX_BODY_BYTES = 64 * 1024
"""784 numbers written with full float precision take about 16 KiB."""

MAX_HEADER_BYTES = 64 * 1024
"""The headers of one request, all lines together (a browser sends well under 4 KiB)."""


class RequestError(Exception):
    """A bad request: ``status`` (400, 411, 413, ...) and a message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class HeaderBudget:
    """A connection's reader (``rfile``) that can cap the bytes ``readline`` returns.

    http.server limits each header line to 64 KiB and a request to 100 headers, which lets one
    request hold 6.4 MB of headers; between ``cap_lines()`` and ``uncap_lines()``, ``readline``
    raises ``http.client.HTTPException`` past that many bytes in all, which http.server answers
    with 431. ``read`` (the body) is not counted: ``check_length`` bounds it.
    """

    def __init__(self, stream):
        self.stream = stream
        self.left = None  # bytes readline may still return; None: no limit

    def cap_lines(self):
        self.left = MAX_HEADER_BYTES

    def uncap_lines(self):
        self.left = None

    def readline(self, size=-1):
        line = self.stream.readline(size)
        if self.left is not None:
            self.left -= len(line)
            if self.left < 0:
                raise http.client.HTTPException(f"headers: at most {MAX_HEADER_BYTES} bytes in all")
        return line

    def read(self, size=-1):
        return self.stream.read(size)

    def close(self):
        self.stream.close()


def _reject_constant(name):
    raise RequestError(400, f"body: {name} is not a number JSON allows; send finite numbers in 0..1")


def check_length(content_length):
    """The ``Content-Length`` header as an int, or a ``RequestError`` (missing, malformed, too big)."""
    if content_length is None:
        raise RequestError(411, "body: send a Content-Length header with the JSON body")
    try:
        length = int(content_length)
    except ValueError:
        raise RequestError(400, f"Content-Length: expected a byte count, got {content_length!r}") from None
    if length < 0:
        raise RequestError(400, f"Content-Length: expected a byte count, got {content_length!r}")
    if length > MAX_BODY_BYTES:
        raise RequestError(413, f"body: at most {MAX_BODY_BYTES} bytes, got {length}")
    return length


def parse_pixels(body):
    """``b'{"pixels": [784 numbers in 0..1]}'`` -> ``(784,)`` float32 array."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(413, f"body: at most {MAX_BODY_BYTES} bytes, got {len(body)}")
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise RequestError(400, "body: expected UTF-8 JSON text") from None
    except (ValueError, RecursionError) as error:
        raise RequestError(400, f"body: not valid JSON ({error})") from None
    if not isinstance(payload, dict) or "pixels" not in payload:
        got = "an object without 'pixels'" if isinstance(payload, dict) else type(payload).__name__
        raise RequestError(400, f'body: expected {{"pixels": [{N_PIXELS} numbers in 0..1]}}, got {got}')
    pixels = payload["pixels"]
    if not isinstance(pixels, list):
        raise RequestError(400, f"pixels: expected a list of {N_PIXELS} numbers, got {type(pixels).__name__}")
    if len(pixels) != N_PIXELS:
        raise RequestError(400, f"pixels: expected {N_PIXELS} numbers (a 28x28 image, row by row), "
                                f"got {len(pixels)}")
    values = _as_numbers(pixels)
    if values is None or not (np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0):
        _raise_for_first_bad_pixel(pixels)
    return values.astype(np.float32)


def _as_numbers(pixels):
    """``pixels`` as a float64 array when every entry is a JSON number (``int`` or ``float``, not a
    bool), else None. One pass in C: NumPy would also convert strings, booleans and null."""
    if not set(map(type, pixels)) <= {int, float}:
        return None
    try:
        return np.asarray(pixels, dtype=np.float64)
    except OverflowError:  # an integer with hundreds of digits
        return None


def _raise_for_first_bad_pixel(pixels):
    """The ``RequestError`` that names the first pixel that is not a number in 0..1."""
    for index, value in enumerate(pixels):
        # bool is an int in Python, but true/false is not a pixel value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            shown = json.dumps(value)[:40]
            raise RequestError(400, f"pixels[{index}]: expected a number in 0..1, got {shown}")
        try:
            in_range = math.isfinite(value) and 0.0 <= value <= 1.0
        except OverflowError:  # an integer too large for a float
            in_range = False
        if not in_range:
            raise RequestError(400, f"pixels[{index}]: expected a number in 0..1, got {repr(value)[:40]}")


def query_int(query, name, default, low, high):
    """``query[name]`` (from ``urllib.parse.parse_qs``) as an int in ``[low, high]``."""
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise RequestError(400, f"{name}: expected an integer in {low}..{high}, got {values[-1]!r}") from None
    if not low <= value <= high:
        raise RequestError(400, f"{name}: expected an integer in {low}..{high}, got {value}")
    return value
