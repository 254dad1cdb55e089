"""``CupyOps``: the ops of the GPU. The NumPy reference runs on CuPy arrays as it is (``xp`` is CuPy);
what launches several kernels where one does is overridden: matrix products and bias gradients go to
cuBLAS directly (``ownnet.backend.cuda.cublas``, which a CUDA graph can capture), the activations'
backward passes, the softmax cross-entropy, the accuracy count and the SGD and Adam updates are one
fused kernel each (``ownnet.backend.cuda.kernels``), and optimizers update all parameters at once
(``flat_updates``: one launch per step instead of one per parameter).
"""

from ownnet.backend.cuda import kernels
from ownnet.backend.cuda.cublas import gemm, ones_row
from ownnet.backend.device import import_cupy
from ownnet.backend.ops.numpy_ops import NumpyOps


class CupyOps(NumpyOps):
    """The GPU ops (needs CuPy and a GPU)."""

    device = "gpu"
    flat_updates = True

    def __init__(self, cupy=None):
        self.xp = import_cupy() if cupy is None else cupy  # a stand-in module in the CPU tests

    def matmul(self, a, b, out=None, accumulate=False):
        return gemm(a, b, out, accumulate)

    def column_sum_into(self, grad_out, out, accumulate):
        """The sum over the batch as the product ``ones (1, batch) @ grad_out``, so that cuBLAS adds
        it into ``out`` in one call."""
        rows = grad_out.reshape(grad_out.shape[0], -1)
        self.matmul(ones_row(grad_out.shape[0], grad_out.dtype), rows, out=out.reshape(1, -1),
                    accumulate=accumulate)

    def relu_backward(self, grad_out, out):
        return kernels.relu_backward(grad_out, out)

    def tanh_backward(self, grad_out, out):
        return kernels.tanh_backward(grad_out, out)

    def sigmoid_backward(self, grad_out, out):
        return kernels.sigmoid_backward(grad_out, out)

    def erf(self, z):
        from cupyx.scipy.special import erf

        return erf(z)

    def softmax_cross_entropy(self, logits, labels, label_smoothing, scale):
        row_loss, grad = kernels.softmax_cross_entropy(logits, labels, label_smoothing, scale)
        return row_loss.sum() * scale, grad

    def count_correct(self, labels, scores):
        """The count as a 0-d float64 GPU array (reading it would make the step wait for the GPU);
        labels are not checked here (``fit`` checks them once, before the first step)."""
        return kernels.count_correct(scores, labels)

    def sgd_update(self, data, grad, buffer, work, lr, weight_decay, momentum, dampening, nesterov, first):
        kernels.sgd_update(data, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, first)

    def adam_update(self, data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay, decoupled):
        if v_max is not None:  # no kernel for AMSGrad: the reference, on CuPy
            return super().adam_update(data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay,
                                       decoupled)
        kernels.adam_update(data, grad, m, v, betas, eps, lr, step, weight_decay, decoupled)
