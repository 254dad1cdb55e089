"""Validation of what the page sends: the JSON body of ``POST /predict`` and query parameters.

Anything wrong raises ``RequestError`` with the HTTP status and a message that says what was
expected and what came; the server answers ``{"error": message}`` with that status.
"""

import json
import math

import numpy as np

from ownnet.apps.serve.predictor import N_PIXELS

MAX_BODY_BYTES = 64 * 1024
"""784 numbers written with full float precision take about 16 KiB."""


class RequestError(Exception):
    """A bad request: ``status`` (400, 411, 413, ...) and a message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


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
    for index, value in enumerate(pixels):
        # bool is an int in Python, but true/false is not a pixel value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            shown = json.dumps(value)[:40]
            raise RequestError(400, f"pixels[{index}]: expected a number in 0..1, got {shown}")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise RequestError(400, f"pixels[{index}]: expected a number in 0..1, got {value!r}")
    return np.asarray(pixels, dtype=np.float32)


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
