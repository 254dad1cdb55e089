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
        arrays = (data, grad) if buffer is None else (data, grad, buffer)
        if not elementwise_ready(*arrays):
            return super().sgd_update(data, grad, buffer, work, lr, weight_decay, momentum, dampening,
                                      nesterov, first)
        cpu_kernels.sgd_update(data, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, first)

    def adam_update(self, data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay, decoupled):
        if v_max is not None or not elementwise_ready(data, grad, m, v):  # no kernel for AMSGrad
            return super().adam_update(data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay,
                                       decoupled)
        cpu_kernels.adam_update(data, grad, m, v, betas, eps, lr, step, weight_decay, decoupled)

    def rmsprop_update(self, data, grad, square_avg, grad_avg, buffer, work, lr, alpha, eps, weight_decay,
                       momentum):
        arrays = [a for a in (data, grad, square_avg, grad_avg, buffer) if a is not None]
        if not elementwise_ready(*arrays):
            return super().rmsprop_update(data, grad, square_avg, grad_avg, buffer, work, lr, alpha, eps,
                                          weight_decay, momentum)
        cpu_kernels.rmsprop_update(data, grad, square_avg, grad_avg, buffer, lr, alpha, eps, weight_decay,
                                   momentum)
