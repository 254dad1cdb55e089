"""Optional compiled CPU kernels (Numba): an optimizer's update, an activation or the loss in one pass.

NumPy has no fused multiply-add, so SGD with momentum walks over every parameter four times
(``b *= m; b += g; s = b * lr; p -= s``) and Adam about ten; at batch 128 that is the largest cost of
a CPU step after the matrix products. The activations' element-wise passes are smaller but many
(ReLU's backward is a comparison, a temporary mask and a product), and the softmax cross-entropy of a
(128, 10) batch is a dozen NumPy calls on tiny arrays. With Numba installed
(``pip install 'ownnet[fast]'``) one loop does the same arithmetic, element by element, in the same
order and the same dtype: the updates and activations give bitwise the NumPy reference's results
(``ownnet.backend.ops.numpy_ops``); the cross-entropy sums its row in another order, so it agrees to a
few ulps (``tests/backend/test_ops.py`` compares them all).

``ownnet.backend.ops.numba_ops.NumbaOps`` calls these functions where the arrays suit them
(``elementwise_ready``); the CPU gets those ops where ``available()`` (Numba installed, not switched off
by ``OWNNET_NUMBA=0`` or ``set_enabled(False)``), else the NumPy reference. The functions mirror
``ownnet.backend.cuda.kernels``.
"""

import math
import os

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

_compiled = None  # name -> compiled kernel once compiled; {} where Numba is missing
_switched_on = None  # None: read OWNNET_NUMBA at the next check


def available():
    """Whether the compiled kernels are in use (Numba installed and not switched off)."""
    global _switched_on
    if _switched_on is None:
        _switched_on = os.environ.get("OWNNET_NUMBA", "1") != "0"
    return _switched_on and bool(_kernels())


def set_enabled(enabled):
    """Switch the compiled kernels off (False) or back on where Numba exists and ``OWNNET_NUMBA`` allows
    (True). Ops chosen before keep theirs; what chooses its ops afterwards follows the switch."""
    global _switched_on
    _switched_on = None if enabled else False


def _kernels():
    global _compiled
    if _compiled is None:
        _compiled = _compile()
    return _compiled


def _compile():
    try:
        import numba
    except ImportError:
        return {}
    try:
        return _all_kernels(numba, cache=True)
    except RuntimeError:  # no writable place for Numba's on-disk cache: compile in memory each run
        return _all_kernels(numba, cache=False)


def _all_kernels(numba, cache):
    jit = numba.njit(cache=cache)
    return {**_optimizer_kernels(jit), **_activation_kernels(jit), **_loss_kernels(jit)}


def _optimizer_kernels(jit):
    @jit
    def sgd(p, g, b, lr, wd, momentum, one_minus_dampening, dampened, nesterov, first):
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

    @jit
    def sgd_momentum(p, g, b, lr, momentum):  # the common case (no L2, dampening or Nesterov), unbranched
        for i in range(p.size):
            bi = b[i] * momentum + g[i]
            b[i] = bi
            p[i] = p[i] - bi * lr

    @jit
    def adam(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, step_size, bias2_sqrt,
             wd, decay, decoupled):
        for i in range(p.size):
            if decoupled:
                p[i] = p[i] * decay
            d = p[i] * wd + g[i] if wd != 0 else g[i]
            mi = m[i] * beta1 + d * one_minus_beta1
            vi = v[i] * beta2 + (d * d) * one_minus_beta2
            m[i] = mi
            v[i] = vi
            p[i] = p[i] - (mi / (np.sqrt(vi) / bias2_sqrt + eps)) * step_size

    return {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}


def _activation_kernels(jit):
    # x, y and dL/dy flat and C-contiguous, the result a new flat array; ``one`` is 1 in the arrays'
    # dtype (a Python 1 would make Numba compute a float32 array's arithmetic in float64)
    @jit
    def relu(x, one):
        y = np.empty_like(x)
        zero = one - one
        for i in range(x.size):
            y[i] = zero if x[i] < zero else x[i]  # max(x, 0): NaN stays NaN, as in np.maximum
        return y

    @jit
    def relu_backward(g, y, one):
        dx = np.empty_like(g)
        zero = one - one
        for i in range(g.size):
            dx[i] = g[i] if y[i] > zero else zero
        return dx

    @jit
    def tanh_backward(g, y, one):
        dx = np.empty_like(g)
        for i in range(g.size):
            dx[i] = (one - y[i] * y[i]) * g[i]
        return dx

    @jit
    def sigmoid_backward(g, y, one):
        dx = np.empty_like(g)
        for i in range(g.size):
            dx[i] = ((one - y[i]) * y[i]) * g[i]
        return dx

    return {"relu": relu, "relu_backward": relu_backward, "tanh_backward": tanh_backward,
            "sigmoid_backward": sigmoid_backward}


def _loss_kernels(jit):
    @jit
    def softmax_cross_entropy(z, labels, eps, scale, one):
        # per row of z (batch, C): max, log-sum-exp, the row's loss and its gradient
        # (softmax - target) * scale, where target = (1 - eps) one_hot(y) + eps / C
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

    return {"softmax_cross_entropy": softmax_cross_entropy, "count_correct": count_correct}


def elementwise_ready(*arrays):
    """Whether the kernels apply to these arrays: NumPy float32 or float64 arrays of one dtype and
    shape, C-contiguous (so that a flat view is the array itself)."""
    first = arrays[0]
    return (isinstance(first, np.ndarray) and first.dtype in _FLOATS
            and all(isinstance(a, np.ndarray) and a.dtype == first.dtype and a.shape == first.shape
                    and a.flags.c_contiguous for a in arrays))


def _flat(array):
    return array.reshape(-1)  # a view: callers check C-contiguity (elementwise_ready)


def sgd_update(data, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, first):
    """One SGD step of one parameter, in place (``buffer``: the momentum buffer, or None)."""
    t = data.dtype.type
    if buffer is None:  # no momentum: the kernel never touches the buffer argument
        buffer, momentum = grad, 0.0
    elif not (weight_decay or dampening or nesterov or first):
        _compiled["sgd_momentum"](_flat(data), _flat(grad), _flat(buffer), t(lr), t(momentum))
        return
    _compiled["sgd"](_flat(data), _flat(grad), _flat(buffer), t(lr), t(weight_decay), t(momentum),
                     t(1 - dampening), dampening != 0, bool(nesterov), bool(first))


def adam_update(data, grad, m, v, betas, eps, lr, step, weight_decay, decoupled):
    """One Adam (or AdamW, ``decoupled``) step of one parameter, in place; no AMSGrad."""
    t = data.dtype.type
    beta1, beta2 = betas
    _compiled["adam"](_flat(data), _flat(grad), _flat(m), _flat(v), t(beta1), t(1 - beta1), t(beta2),
                      t(1 - beta2), t(eps), t(lr / (1 - beta1 ** step)), t(math.sqrt(1 - beta2 ** step)),
                      t(0.0 if decoupled else weight_decay), t(1 - lr * weight_decay), bool(decoupled))


def relu(x):
    """``max(x, 0)`` in one pass (a new array)."""
    return _compiled["relu"](_flat(x), x.dtype.type(1)).reshape(x.shape)


def relu_backward(grad, out):
    """dL/dx of ReLU: ``grad`` where ``out > 0``, else 0."""
    return _compiled["relu_backward"](_flat(grad), _flat(out), grad.dtype.type(1)).reshape(grad.shape)


def tanh_backward(grad, out):
    """dL/dx of tanh: ``(1 - out^2) * grad``."""
    return _compiled["tanh_backward"](_flat(grad), _flat(out), grad.dtype.type(1)).reshape(grad.shape)


def sigmoid_backward(grad, out):
    """dL/dx of the sigmoid: ``(1 - out) * out * grad``."""
    return _compiled["sigmoid_backward"](_flat(grad), _flat(out), grad.dtype.type(1)).reshape(grad.shape)


def softmax_cross_entropy(logits, labels, label_smoothing, scale):
    """``(row_losses (batch,), grad (batch, C))`` of softmax cross-entropy with integer labels in
    range; ``grad`` is dL/dlogits already multiplied by ``scale`` (1/batch for the mean)."""
    t = logits.dtype.type
    return _compiled["softmax_cross_entropy"](logits, np.ascontiguousarray(labels), t(label_smoothing),
                                              t(scale), t(1))


def count_correct(logits, labels):
    """The number of rows whose largest score (the first one on ties, as ``np.argmax``) is at the
    label; -1 if a label is negative. ``logits`` (batch, C) C-contiguous, ``labels`` (batch,) integers."""
    return int(_compiled["count_correct"](logits, np.ascontiguousarray(labels)))
