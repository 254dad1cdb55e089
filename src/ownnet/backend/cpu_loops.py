"""The Numba loops behind ``ownnet.backend.cpu_kernels``: each element-wise pass once, as a loop over a
range of indices, and a parallel variant that splits the array into fixed chunks over the cores.

Imported only where Numba is installed (``cpu_kernels`` imports it when a kernel is first needed).

- ``name(start, stop, a, b, ...)`` computes elements ``start..stop-1`` of flat, C-contiguous arrays of one
  dtype; ``name(0, a.size, ...)`` is the whole serial pass. Each loop runs over slices ``a[start:stop]``
  with ``range(size)``: an index that cannot be negative lets LLVM vectorise the loop (with
  ``range(start, stop)`` Numba checks each index for wrap-around, and the loop ran 5x slower). The
  scalars come in the arrays' dtype (a Python float would make Numba compute a float32 array's
  arithmetic in float64).
- ``name_parallel(a, b, ...)`` runs ``name`` on chunks of ``CHUNK`` elements with ``prange``: every
  element gets the same operations in the same order as in the serial pass, so the result is bitwise
  the serial one whatever the number of threads (no element depends on another; nothing is summed
  across elements). Which one runs is ``cpu_parallel``'s choice.

Each op spells out its four-line parallel variant: Numba keeps compiled code on disk only for
functions that name the loops they call (a factory's closure, or a loop passed as an argument, would
compile anew in every process, and a loop passed as an argument costs ~20 us per call).

The arithmetic of every element is the NumPy reference's (``ownnet.backend.ops.numpy_ops``), in its
order: no fused multiply-add (Numba contracts nothing without ``fastmath``), no reassociation.
"""

import numba
import numpy as np
from numba import prange

CHUNK = 16384
"""Elements per chunk of a parallel pass (64 KiB of float32): several chunks per core for the arrays
that may go parallel (``cpu_parallel.MIN_PARALLEL_SIZE``, 2 ** 17 elements, and more), each long enough
for the vectorised inner loop."""


def _cache_possible():
    """Whether Numba can keep compiled code on disk next to this file (or in NUMBA_CACHE_DIR); where it
    cannot, the kernels compile in memory at each run."""
    try:
        numba.njit(cache=True)(_cache_possible)
    except RuntimeError:
        return False
    return True


_CACHE = _cache_possible()
jit = numba.njit(cache=_CACHE)
parallel_jit = numba.njit(cache=_CACHE, parallel=True)


@jit
def _chunks(size):
    """How many chunks cover ``size`` elements (the last may be shorter)."""
    return (size + CHUNK - 1) // CHUNK


@jit
def _stop(chunk, size):
    """Where chunk number ``chunk`` ends."""
    return min(size, (chunk + 1) * CHUNK)


# --- optimizer updates, in place --------------------------------------------------------------------
@jit
def sgd(start, stop, p, g, b, lr, wd, momentum, one_minus_dampening, dampened, nesterov, first):
    """SGD with every option (``NumpyOps.sgd_update``); ``b`` is ``g`` itself when there is no momentum."""
    p, g, b = p[start:stop], g[start:stop], b[start:stop]
    for i in range(p.size):
        d = p[i] * wd + g[i] if wd != 0 else g[i]  # the L2 term first, as grad + wd * data
        step = d
        if momentum != 0:
            if first:
                bi = d
            elif dampened:
                bi = b[i] * momentum + d * one_minus_dampening
            else:
                bi = b[i] * momentum + d
            b[i] = bi
            step = bi * momentum + d if nesterov else bi
        p[i] = p[i] - step * lr


@parallel_jit
def sgd_parallel(p, *rest):
    for c in prange(_chunks(p.size)):
        sgd(c * CHUNK, _stop(c, p.size), p, *rest)


@jit
def sgd_momentum(start, stop, p, g, b, lr, momentum):
    """The common case (momentum, no L2, dampening or Nesterov), unbranched: b = m b + g; p -= lr b."""
    p, g, b = p[start:stop], g[start:stop], b[start:stop]
    for i in range(p.size):
        bi = b[i] * momentum + g[i]
        b[i] = bi
        p[i] = p[i] - bi * lr


@parallel_jit
def sgd_momentum_parallel(p, *rest):
    for c in prange(_chunks(p.size)):
        sgd_momentum(c * CHUNK, _stop(c, p.size), p, *rest)


@jit
def adam(start, stop, p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, step_size,
         bias2_sqrt, wd, decay, decoupled):
    """Adam, AdamW with ``decoupled`` (``NumpyOps.adam_update`` without AMSGrad)."""
    p, g, m, v = p[start:stop], g[start:stop], m[start:stop], v[start:stop]
    for i in range(p.size):
        if decoupled:
            p[i] = p[i] * decay
        d = p[i] * wd + g[i] if wd != 0 else g[i]
        mi = m[i] * beta1 + d * one_minus_beta1
        vi = v[i] * beta2 + (d * d) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi) / bias2_sqrt + eps)) * step_size


@parallel_jit
def adam_parallel(p, *rest):
    for c in prange(_chunks(p.size)):
        adam(c * CHUNK, _stop(c, p.size), p, *rest)


@jit
def rmsprop(start, stop, p, g, s, a, b, lr, alpha, one_minus_alpha, eps, wd, momentum, centered):
    """RMSProp (``NumpyOps.rmsprop_update``); ``a`` (the centred average) and ``b`` (the momentum
    buffer) are ``s`` itself where unused, and never touched then."""
    zero = lr - lr
    p, g, s, a, b = p[start:stop], g[start:stop], s[start:stop], a[start:stop], b[start:stop]
    for i in range(p.size):
        d = p[i] * wd + g[i] if wd != 0 else g[i]
        si = s[i] * alpha + (d * d) * one_minus_alpha
        s[i] = si
        if centered:
            ai = a[i] * alpha + d * one_minus_alpha
            a[i] = ai
            spread = si - ai * ai
            denominator = np.sqrt(zero if spread < zero else spread) + eps  # max(., 0); NaN stays
        else:
            denominator = np.sqrt(si) + eps
        update = d / denominator
        if momentum != 0:
            bi = b[i] * momentum + update
            b[i] = bi
            update = bi
        p[i] = p[i] - update * lr


@parallel_jit
def rmsprop_parallel(p, *rest):
    for c in prange(_chunks(p.size)):
        rmsprop(c * CHUNK, _stop(c, p.size), p, *rest)


# --- activations: y from x, dL/dx from dL/dy and the saved output y, into ``out`` ---------------------
@jit
def relu(start, stop, out, x, zero):
    """``max(x, 0)`` as ``np.maximum(x, 0)`` gives it: NaN stays NaN, -0.0 becomes +0.0."""
    out, x = out[start:stop], x[start:stop]
    for i in range(out.size):
        out[i] = x[i] if x[i] > zero or x[i] != x[i] else zero


@parallel_jit
def relu_parallel(out, *rest):
    for c in prange(_chunks(out.size)):
        relu(c * CHUNK, _stop(c, out.size), out, *rest)


@jit
def relu_backward(start, stop, out, g, y, one):
    """``g * (y > 0)``, the mask a product as in the reference: where y <= 0, g * 0 (-0.0 for a negative
    g, NaN for an infinite one)."""
    zero = one - one
    out, g, y = out[start:stop], g[start:stop], y[start:stop]
    for i in range(out.size):
        out[i] = g[i] * (one if y[i] > zero else zero)


@parallel_jit
def relu_backward_parallel(out, *rest):
    for c in prange(_chunks(out.size)):
        relu_backward(c * CHUNK, _stop(c, out.size), out, *rest)


@jit
def tanh_backward(start, stop, out, g, y, one):
    """``(1 - y^2) g``."""
    out, g, y = out[start:stop], g[start:stop], y[start:stop]
    for i in range(out.size):
        out[i] = (one - y[i] * y[i]) * g[i]


@parallel_jit
def tanh_backward_parallel(out, *rest):
    for c in prange(_chunks(out.size)):
        tanh_backward(c * CHUNK, _stop(c, out.size), out, *rest)


@jit
def sigmoid_backward(start, stop, out, g, y, one):
    """``(1 - y) y g``."""
    out, g, y = out[start:stop], g[start:stop], y[start:stop]
    for i in range(out.size):
        out[i] = ((one - y[i]) * y[i]) * g[i]


@parallel_jit
def sigmoid_backward_parallel(out, *rest):
    for c in prange(_chunks(out.size)):
        sigmoid_backward(c * CHUNK, _stop(c, out.size), out, *rest)


# --- the loss and the accuracy: small (batch, classes) arrays, serial -------------------------------
@jit
def softmax_cross_entropy(z, labels, eps, scale, one):
    """Per row of z (batch, C): max, log-sum-exp, the row's loss and its gradient
    (softmax - target) * scale, where target = (1 - eps) one_hot(y) + eps / C."""
    n, classes = z.shape
    c_ = one * classes
    grad = np.empty_like(z)
    row_loss = np.empty(n, z.dtype)
    for i in range(n):
        m = z[i, 0]
        for c in range(1, classes):
            m = z[i, c] if z[i, c] > m else m
        s = one - one
        shifted_sum = one - one
        for c in range(classes):
            grad[i, c] = np.exp(z[i, c] - m)  # kept for the gradient below
            s += grad[i, c]
            shifted_sum += z[i, c] - m
        log_s = np.log(s)
        y = labels[i]
        row_loss[i] = (one - eps) * (log_s - (z[i, y] - m)) + eps / c_ * (c_ * log_s - shifted_sum)
        inv_s = one / s
        for c in range(classes):
            target = eps / c_ + ((one - eps) if c == y else one - one)
            grad[i, c] = (grad[i, c] * inv_s - target) * scale
    return row_loss, grad


@jit
def count_correct(z, labels):
    """Rows whose first largest score (NaN the largest, as in ``np.argmax``) is at the label; -1 if a
    label is negative."""
    hits = 0
    for i in range(z.shape[0]):
        if labels[i] < 0:
            return -1
        best = 0
        for c in range(1, z.shape[1]):
            if z[i, best] != z[i, best]:
                break  # a NaN is the largest, as in np.argmax: the first one wins
            if z[i, c] > z[i, best] or z[i, c] != z[i, c]:
                best = c
        hits += best == labels[i]
    return hits
