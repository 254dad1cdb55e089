"""Optional compiled CPU kernels (Numba): an optimizer's update, an activation or the loss in one pass,
on every core where the arrays are large enough.

NumPy has no fused multiply-add, so SGD with momentum walks over every parameter four times
(``b *= m; b += g; s = b * lr; p -= s``) and Adam about ten; at batch 128 that is the largest cost of
a CPU step after the matrix products. The activations' element-wise passes are smaller but many
(ReLU's backward is a comparison, a temporary mask and a product), and the softmax cross-entropy of a
(128, 10) batch is a dozen NumPy calls on tiny arrays. With Numba installed
(``pip install 'ownnet[fast]'``) one loop (``ownnet.backend.cpu_loops``) does the same arithmetic,
element by element, in the same order and the same dtype: the updates and activations give bitwise the
NumPy reference's results (``ownnet.backend.ops.numpy_ops``); the cross-entropy sums its row in another
order, so it agrees to a few ulps (``tests/backend/test_ops.py`` compares them all).

The element-wise passes (updates, activations) also have a parallel loop over fixed chunks, bitwise
the serial one; ``ownnet.backend.cpu_parallel`` picks one per call by size and by timing both
(``OWNNET_PARALLEL=0`` or ``numba.set_num_threads(1)`` keeps them serial). The loss and the accuracy
count stay serial: their arrays are small, and a sum split by thread would depend on the split.

``ownnet.backend.ops.numba_ops.NumbaOps`` calls these functions where the arrays suit them
(``elementwise_ready``); the CPU gets those ops where ``available()`` (Numba installed, not switched off
by ``OWNNET_NUMBA=0`` or ``set_enabled(False)``), else the NumPy reference. The functions mirror
``ownnet.backend.cuda.kernels``.
"""

import math
import os

import numpy as np

import ownnet.backend.cpu_parallel as cpu_parallel

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

_loops = None  # the module ownnet.backend.cpu_loops once imported; False where Numba is missing
_switched_on = None  # None: read OWNNET_NUMBA at the next check


def available():
    """Whether the compiled kernels are in use (Numba installed and not switched off)."""
    global _switched_on
    if _switched_on is None:
        _switched_on = os.environ.get("OWNNET_NUMBA", "1") != "0"
    return _switched_on and _kernels() is not False


def set_enabled(enabled):
    """Switch the compiled kernels off (False) or back on where Numba exists and ``OWNNET_NUMBA`` allows
    (True). Ops chosen before keep theirs; what chooses its ops afterwards follows the switch."""
    global _switched_on
    _switched_on = None if enabled else False


def _kernels():
    global _loops
    if _loops is None:
        try:
            import ownnet.backend.cpu_loops as cpu_loops
        except ImportError:  # Numba is not installed
            cpu_loops = False
        _loops = cpu_loops
    return _loops


def _elementwise(name, *args):
    """Run the loop ``name`` of ``cpu_loops`` over the whole of ``args[0]``, on one core or on all
    (``cpu_parallel.run``)."""
    loops = _loops or _kernels()
    size = args[0].size
    if size < cpu_parallel.MIN_PARALLEL_SIZE:  # the common case of small arrays, without a detour
        getattr(loops, name)(0, size, *args)
        return
    cpu_parallel.run(name, getattr(loops, name), getattr(loops, name + "_parallel"), *args)


def elementwise_ready(*arrays):
    """Whether the kernels apply to these arrays: NumPy float32 or float64 arrays of one dtype and
    shape, C-contiguous (so that a flat view is the array itself). (A plain loop: called for every
    pass, it costs about a microsecond.)"""
    first = arrays[0]
    if not isinstance(first, np.ndarray) or first.dtype not in _FLOATS:
        return False
    dtype, shape = first.dtype, first.shape
    for array in arrays:
        if (not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != shape
                or not array.flags.c_contiguous):
            return False
    return True


def _flat(array):
    return array.reshape(-1)  # a view: callers check C-contiguity (elementwise_ready)


# The updates take flat (1-D) views of one parameter's arrays, checked by the caller
# (``elementwise_ready``; ``NumbaOps`` keeps the views of each parameter from step to step).
def sgd_update(data, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, first):
    """One SGD step of one parameter, in place (``buffer``: the momentum buffer, or None)."""
    t = data.dtype.type
    if buffer is None:  # no momentum: the loop never touches the buffer argument
        buffer, momentum = grad, 0.0
    elif not (weight_decay or dampening or nesterov or first):
        _elementwise("sgd_momentum", data, grad, buffer, t(lr), t(momentum))
        return
    _elementwise("sgd", data, grad, buffer, t(lr), t(weight_decay), t(momentum), t(1 - dampening),
                 dampening != 0, bool(nesterov), bool(first))


def adam_update(data, grad, m, v, betas, eps, lr, step, weight_decay, decoupled):
    """One Adam (or AdamW, ``decoupled``) step of one parameter, in place; no AMSGrad."""
    t = data.dtype.type
    beta1, beta2 = betas
    _elementwise("adam", data, grad, m, v, t(beta1), t(1 - beta1), t(beta2),
                 t(1 - beta2), t(eps), t(lr / (1 - beta1 ** step)), t(math.sqrt(1 - beta2 ** step)),
                 t(0.0 if decoupled else weight_decay), t(1 - lr * weight_decay), bool(decoupled))


def rmsprop_update(data, grad, square_avg, grad_avg, buffer, lr, alpha, eps, weight_decay, momentum):
    """One RMSProp step of one parameter, in place (``grad_avg``: centred, or None; ``buffer``: the
    momentum buffer, or None)."""
    t = data.dtype.type
    absent = square_avg  # stands in for a state array the loop then never touches
    centred = absent if grad_avg is None else grad_avg
    momentum = 0.0 if buffer is None else momentum
    _elementwise("rmsprop", data, grad, square_avg, centred, absent if buffer is None else buffer, t(lr),
                 t(alpha), t(1 - alpha), t(eps), t(weight_decay), t(momentum), grad_avg is not None)


def _into_new(name, like, *inputs, constant):
    """A new array like ``like``, filled by loop ``name`` from ``inputs`` and ``constant`` (0 or 1 in the
    arrays' dtype: a Python number would make Numba compute float32 arithmetic in float64)."""
    out = np.empty_like(like)
    _elementwise(name, _flat(out), *[_flat(a) for a in inputs], like.dtype.type(constant))
    return out


def relu(x):
    """``max(x, 0)`` in one pass (a new array)."""
    return _into_new("relu", x, x, constant=0)


def relu_backward(grad, out):
    """dL/dx of ReLU: ``grad`` where ``out > 0``, else 0."""
    return _into_new("relu_backward", grad, grad, out, constant=1)


def tanh_backward(grad, out):
    """dL/dx of tanh: ``(1 - out^2) * grad``."""
    return _into_new("tanh_backward", grad, grad, out, constant=1)


def sigmoid_backward(grad, out):
    """dL/dx of the sigmoid: ``(1 - out) * out * grad``."""
    return _into_new("sigmoid_backward", grad, grad, out, constant=1)


def softmax_cross_entropy(logits, labels, label_smoothing, scale):
    """``(row_losses (batch,), grad (batch, C))`` of softmax cross-entropy with integer labels in
    range; ``grad`` is dL/dlogits already multiplied by ``scale`` (1/batch for the mean). Serial: the
    arrays are small, and the row sums would otherwise depend on how rows are split."""
    t = logits.dtype.type
    labels = np.ascontiguousarray(labels)
    return _kernels().softmax_cross_entropy(logits, labels, t(label_smoothing), t(scale), t(1))


def count_correct(logits, labels):
    """The number of rows whose largest score (the first one on ties, as ``np.argmax``) is at the
    label; -1 if a label is negative. ``logits`` (batch, C) C-contiguous, ``labels`` (batch,) integers."""
    return int(_kernels().count_correct(logits, np.ascontiguousarray(labels)))
