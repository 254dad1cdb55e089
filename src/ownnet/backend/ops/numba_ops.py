"""``NumbaOps``: the NumPy reference with the passes that Numba compiles into one loop
(``ownnet.backend.cpu_kernels``, ``pip install 'ownnet[fast]'``): the activations' backward passes,
ReLU, the softmax cross-entropy, the accuracy count and the SGD, Adam and RMSProp updates; the
element-wise ones on every core where the arrays are large enough (``ownnet.backend.cpu_parallel``).

A kernel needs NumPy float32 or float64 arrays of one dtype and shape, C-contiguous
(``cpu_kernels.elementwise_ready``); for anything else each method returns the reference's result
(``super()``), as it does for the options a kernel does not cover (AMSGrad).
"""

import ownnet.backend.cpu_kernels as cpu_kernels
from ownnet.backend.cpu_kernels import elementwise_ready
from ownnet.backend.ops.numpy_ops import NumpyOps


class NumbaOps(NumpyOps):
    """The CPU ops where Numba is installed (and ``OWNNET_NUMBA`` is not 0)."""

    def relu(self, x):
        if not elementwise_ready(x):
            return super().relu(x)
        return cpu_kernels.relu(x)

    def relu_backward(self, grad_out, out):
        if not elementwise_ready(grad_out, out):
            return super().relu_backward(grad_out, out)
        return cpu_kernels.relu_backward(grad_out, out)

    def tanh_backward(self, grad_out, out):
        if not elementwise_ready(grad_out, out):
            return super().tanh_backward(grad_out, out)
        return cpu_kernels.tanh_backward(grad_out, out)

    def sigmoid_backward(self, grad_out, out):
        if not elementwise_ready(grad_out, out):
            return super().sigmoid_backward(grad_out, out)
        return cpu_kernels.sigmoid_backward(grad_out, out)

    def softmax_cross_entropy(self, logits, labels, label_smoothing, scale):
        if not elementwise_ready(logits):
            return super().softmax_cross_entropy(logits, labels, label_smoothing, scale)
        row_loss, grad = cpu_kernels.softmax_cross_entropy(logits, labels, label_smoothing, scale)
        return row_loss.sum() * scale, grad

    def count_correct(self, labels, scores):
        if not (elementwise_ready(scores) and labels.dtype.kind in "iu"):
            return super().count_correct(labels, scores)
        return cpu_kernels.count_correct(scores, labels)

    def sgd_update(self, data, grad, buffer, work, lr, weight_decay, momentum, dampening, nesterov, first):
        flat = _flat_views(work, data, grad, buffer)
        if flat is None:
            return super().sgd_update(data, grad, buffer, work, lr, weight_decay, momentum, dampening,
                                      nesterov, first)
        cpu_kernels.sgd_update(*flat, lr, weight_decay, momentum, dampening, nesterov, first)

    def adam_update(self, data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay, decoupled):
        flat = None if v_max is not None else _flat_views(work, data, grad, m, v)  # no kernel for AMSGrad
        if flat is None:
            return super().adam_update(data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay,
                                       decoupled)
        cpu_kernels.adam_update(*flat, betas, eps, lr, step, weight_decay, decoupled)

    def rmsprop_update(self, data, grad, square_avg, grad_avg, buffer, work, lr, alpha, eps, weight_decay,
                       momentum):
        flat = _flat_views(work, data, grad, square_avg, grad_avg, buffer)
        if flat is None:
            return super().rmsprop_update(data, grad, square_avg, grad_avg, buffer, work, lr, alpha, eps,
                                          weight_decay, momentum)
        cpu_kernels.rmsprop_update(*flat, lr, alpha, eps, weight_decay, momentum)


def _flat_views(work, data, *arrays):
    """Flat views of one parameter's ``data`` and ``arrays`` (gradient, state; None for a state the rule
    does not keep, which stays None) for the update kernels, or None where the kernels do not apply to
    them (``elementwise_ready``).

    Checked once and kept in the parameter's ``work`` dict, with the arrays they view: while the same
    array objects come back (every step, unless a parameter's data, gradient or state was replaced),
    the step reuses the views instead of checking and reshaping each array again (~2 us a parameter,
    much of a small net's update). A NumPy array's memory never moves, so the same object has the same
    memory; the data's dtype and shape are compared too, as NumPy lets them be reassigned in place."""
    sources = (data, *arrays)
    known = work.get("flat_views")
    if known is not None:
        kept, dtype, shape, views = known
        if len(kept) == len(sources) and data.dtype == dtype and data.shape == shape:
            for source, array in zip(kept, sources):
                if source is not array:
                    break
            else:
                return views
    if not elementwise_ready(*(array for array in sources if array is not None)):
        return None
    views = [None if array is None else array.reshape(-1) for array in sources]
    work["flat_views"] = (sources, data.dtype, data.shape, views)
    return views
