"""Fused element-wise kernels: what NumPy computes in several passes, the GPU does in one launch.

At batch 128 a training step on the GPU costs what its kernel launches cost, not the arithmetic, so
each function here replaces a chain of CuPy operations (each one launch and often one temporary)
by a single kernel. The math is the NumPy reference's (``ownnet.backend.ops.numpy_ops``);
``CupyOps`` calls these functions, and the tests compare the two. Kernels are compiled by CuPy on
first use and cached on disk.
"""

import functools


@functools.cache
def _cupy():
    import cupy

    return cupy


_ELEMENTWISE = {
    # activations' backward: dL/dx from dL/dy and the saved output y
    "relu_backward": ("T g, T y", "T dx", "dx = y > (T)0 ? g : (T)0"),
    "tanh_backward": ("T g, T y", "T dx", "dx = g * ((T)1 - y * y)"),
    "sigmoid_backward": ("T g, T y", "T dx", "dx = g * y * ((T)1 - y)"),
    # SGD, PyTorch's rule, one parameter in one pass (d = grad + weight_decay * data)
    "sgd": ("T g, T lr, T wd", "T p", "p -= lr * (wd != (T)0 ? g + wd * p : g)"),
    "sgd_momentum": (
        "T g, T lr, T wd, T momentum, T dampening, bool nesterov, bool first", "T p, T b",
        """
        const T d = wd != (T)0 ? g + wd * p : g;
        b = first ? d : momentum * b + ((T)1 - dampening) * d;
        p -= lr * (nesterov ? d + momentum * b : b);
        """),
    # Adam/AdamW (coupled or decoupled weight decay), without AMSGrad
    "adam": (
        "T g, T beta1, T beta2, T eps, T step_size, T bias2_sqrt, T wd, T decay",
        "T p, T m, T v",
        """
        p *= decay;
        const T d = wd != (T)0 ? g + wd * p : g;
        m = beta1 * m + ((T)1 - beta1) * d;
        v = beta2 * v + ((T)1 - beta2) * d * d;
        p -= step_size * (m / (sqrt(v) / bias2_sqrt + eps));
        """),
}
"""name -> (inputs, outputs, body) of the kernels that work element by element."""

_ROWWISE = {
    # One thread per row of logits z (batch, C): max, log-sum-exp, the row's loss and its gradient
    # (softmax - target) * scale, where target = (1 - eps) one_hot(y) + eps / C.
    "softmax_cross_entropy": (
        "raw T z, raw I labels, int32 C, T eps, T scale", "raw T grad, T row_loss",
        """
        const ptrdiff_t base = (ptrdiff_t)i * C;
        T m = z[base];
        for (int c = 1; c < C; ++c) m = z[base + c] > m ? z[base + c] : m;
        T s = 0, shifted_sum = 0;
        for (int c = 0; c < C; ++c) { s += exp(z[base + c] - m); shifted_sum += z[base + c] - m; }
        const T log_s = log(s);
        const long long y = labels[i];
        row_loss = ((T)1 - eps) * (log_s - (z[base + y] - m)) + eps / C * (C * log_s - shifted_sum);
        const T inv_s = (T)1 / s;
        for (int c = 0; c < C; ++c) {
            const T target = eps / C + (c == y ? (T)1 - eps : (T)0);
            grad[base + c] = (exp(z[base + c] - m) * inv_s - target) * scale;
        }
        """),
    "argmax_equals": (
        "raw T z, raw I labels, int32 C", "float64 hit",
        """
        const ptrdiff_t base = (ptrdiff_t)i * C;
        int best = 0;
        for (int c = 1; c < C; ++c) if (z[base + c] > z[base + best]) best = c;
        hit = best == labels[i] ? 1.0 : 0.0;
        """),
}
"""name -> (inputs, outputs, body) of the kernels that read whole rows (one thread per row)."""


@functools.cache
def _kernel(name):
    inputs, outputs, body = _ELEMENTWISE[name] if name in _ELEMENTWISE else _ROWWISE[name]
    return _cupy().ElementwiseKernel(inputs, outputs, body, f"ownnet_{name}")


def relu_backward(grad, out):
    return _kernel("relu_backward")(grad, out)


def tanh_backward(grad, out):
    return _kernel("tanh_backward")(grad, out)


def sigmoid_backward(grad, out):
    return _kernel("sigmoid_backward")(grad, out)


def softmax_cross_entropy(logits, labels, label_smoothing, scale):
    """``(row_losses (batch,), grad (batch, C))`` of softmax cross-entropy with integer labels;
    ``grad`` is dL/dlogits already multiplied by ``scale`` (1/batch for the mean)."""
    cupy = _cupy()
    n, classes = logits.shape
    dtype = logits.dtype
    grad = cupy.empty_like(logits)
    row_loss = cupy.empty(n, dtype=dtype)
    _kernel("softmax_cross_entropy")(logits, labels, classes, dtype.type(label_smoothing),
                                     dtype.type(scale), grad, row_loss)
    return row_loss, grad


def count_correct(logits, labels):
    """The number of rows whose largest logit is at the label, as a 0-d float64 GPU array (no sync)."""
    hits = _kernel("argmax_equals")(logits, labels, logits.shape[1], size=logits.shape[0])
    return hits.sum()


def sgd_update(data, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, first):
    """One SGD step of one parameter, in place (``buffer`` is the momentum buffer, or None)."""
    t = data.dtype.type
    if buffer is None:
        _kernel("sgd")(grad, t(lr), t(weight_decay), data)
    else:
        _kernel("sgd_momentum")(grad, t(lr), t(weight_decay), t(momentum), t(dampening),
                                bool(nesterov), bool(first), data, buffer)


def adam_update(data, grad, m, v, betas, eps, lr, step, weight_decay, decoupled):
    """One Adam (or AdamW, ``decoupled``) step of one parameter, in place; no AMSGrad."""
    t = data.dtype.type
    beta1, beta2 = betas
    step_size = lr / (1 - beta1 ** step)
    bias2_sqrt = (1 - beta2 ** step) ** 0.5
    decay = 1 - lr * weight_decay if decoupled else 1.0
    _kernel("adam")(grad, t(beta1), t(beta2), t(eps), t(step_size), t(bias2_sqrt),
                    t(0.0 if decoupled else weight_decay), t(decay), data, m, v)
