"""``NumpyOps``: the reference implementation of every operation the layers, losses, metrics and
optimizers hand to the backend, in plain NumPy: the lesson's formulas.

A faster implementation of the same operation is a subclass that overrides one method
(``NumbaOps``: compiled loops on the CPU; ``CupyOps``: cuBLAS and fused kernels on the GPU); what it
does not override falls back to the formula here by inheritance. Every method works through
``self.xp``, the array module of the ops' device (NumPy here, CuPy for ``CupyOps``), and keeps the
dtype of its inputs: scalar constants are Python floats, which never upcast a float32 array.
"""

import math

import numpy as np


class NumpyOps:
    """The NumPy reference ops (the CPU without compiled kernels)."""

    xp = np
    """The array module of this device."""
    device = "cpu"
    flat_updates = False
    """Whether optimizers update all parameters at once, as views of one flat array
    (``ownnet.optim.FlatParameters``): one kernel launch instead of one per parameter, which pays where
    launches cost (the GPU)."""

    # --- matrix products ----------------------------------------------------------------------
    def matmul(self, a, b, out=None, accumulate=False):
        """``a @ b`` for 2-D arrays, into ``out`` when given; ``accumulate=True`` adds it to ``out``
        (NumPy's ``matmul``: a BLAS call, no temporary without ``accumulate``)."""
        if accumulate:
            out += a @ b
            return out
        return self.xp.matmul(a, b, out=out)

    def column_sum_into(self, grad_out, out, accumulate):
        """``out = grad_out.sum(axis=0)`` (``+=`` with ``accumulate``): a bias gradient, the sum over the
        batch of ``grad_out`` ``(batch, *out.shape)``."""
        if accumulate:
            out += grad_out.sum(axis=0)
        else:
            grad_out.sum(axis=0, out=out)

    # --- activations: y from x, and dL/dx from dL/dy (grad_out) and the saved output y (out) ----
    def relu(self, x):
        """``y = max(x, 0)`` (NaN stays NaN)."""
        return self.xp.maximum(x, 0)

    def relu_backward(self, grad_out, out):
        """``dL/dx = dL/dy`` where ``y > 0``, else 0."""
        return grad_out * (out > 0)

    def tanh(self, x):
        return self.xp.tanh(x)

    def tanh_backward(self, grad_out, out):
        """``dL/dx = (1 - y^2) dL/dy``."""
        grad = out * out
        self.xp.subtract(1, grad, out=grad)
        grad *= grad_out
        return grad

    def sigmoid(self, x):
        """``y = 1 / (1 + exp(-x))``; for very negative ``x`` exp(-x) overflows to inf and y = 0, the
        correctly rounded result: that overflow is expected and silenced."""
        xp = self.xp
        out = xp.negative(x)
        with np.errstate(over="ignore"):
            xp.exp(out, out=out)
        out += 1
        xp.reciprocal(out, out=out)
        return out

    def sigmoid_backward(self, grad_out, out):
        """``dL/dx = (1 - y) y dL/dy``."""
        grad = 1 - out
        grad *= out
        grad *= grad_out
        return grad

    def erf(self, z):
        """The error function, in ``z``'s dtype: SciPy's where it is installed, else Python's exact
        ``math.erf`` element by element (slower on large arrays; SciPy is not a dependency)."""
        return _erf_function()(z)

    # --- the loss and the accuracy of classification ------------------------------------------
    def softmax_cross_entropy(self, logits, labels, label_smoothing, scale):
        """``(loss, dL/dlogits)`` of softmax cross-entropy on ``logits`` ``(batch, C)`` with integer
        ``labels`` ``(batch,)`` in ``[0, C)``, both already multiplied by ``scale`` (1/batch for the
        mean, 1 for the sum).

        With the target t = (1 - eps) one_hot(y) + eps / C (``eps``: the label smoothing), per row:
        loss = logsumexp(z) - sum_c t_c z_c and dL/dz = softmax(z) - t. The row's maximum is subtracted
        first, so that exp cannot overflow; no one-hot array is built.
        """
        xp, dtype = self.xp, logits.dtype
        n, classes = logits.shape
        eps = dtype.type(label_smoothing)
        shifted = logits - logits.max(axis=1, keepdims=True)  # <= 0: exp cannot overflow
        rows = xp.arange(n)
        # -log p_y = log(sum exp(shifted)) - shifted_y; gather (and sum, for smoothing) before exp
        picked = shifted[rows, labels]
        shifted_sum = shifted.sum(axis=1) if label_smoothing else None
        probs = xp.exp(shifted, out=shifted)
        sums = probs.sum(axis=1, keepdims=True)
        probs /= sums
        log_sums = xp.log(sums[:, 0])
        # per sample: (1-eps)(log_sum - z_y) + eps/C * sum_c (log_sum - z_c)
        total = (log_sums - picked).sum()
        if label_smoothing:
            total = (dtype.type(1) - eps) * total + eps / dtype.type(classes) * (
                dtype.type(classes) * log_sums - shifted_sum).sum()
        grad = probs  # softmax - target, in place
        if label_smoothing:
            grad -= eps / dtype.type(classes)
        grad[rows, labels] -= dtype.type(1) - eps
        grad *= scale
        return total * scale, grad

    def count_correct(self, labels, scores):
        """The number of rows of ``scores`` ``(batch, C)`` whose largest score (the first on ties; NaN
        counts as the largest, as in ``argmax``) is at the row's integer label; -1 if a label is
        negative (the caller then reports it)."""
        if labels.min() < 0:
            return -1
        return int(np.count_nonzero(scores.argmax(axis=1) == labels))

    # --- optimizer updates: one parameter's data and state, in place ---------------------------
    # ``work`` is a dict in which a rule keeps its scratch arrays between steps (made on first use,
    # so that later steps allocate nothing); the kernels of the subclasses need none.
    def _work(self, work, name, like):
        array = work.get(name)
        if array is None:
            array = work[name] = self.xp.empty_like(like)
        return array

    def _decayed(self, data, grad, weight_decay, work):
        """``grad + weight_decay * data`` (L2 weight decay folded into the gradient)."""
        decayed = self._work(work, "decayed", data)
        self.xp.multiply(data, weight_decay, out=decayed)
        decayed += grad
        return decayed

    def sgd_update(self, data, grad, buffer, work, lr, weight_decay, momentum, dampening, nesterov, first):
        """SGD (``ownnet.optim.SGD``): with d = grad + weight_decay * data::

            b = d  (first step)  or  momentum * b + (1 - dampening) * d
            data -= lr * (d + momentum * b  if nesterov,  b  with momentum,  d  without)

        ``buffer`` is the momentum buffer (None without momentum)."""
        xp = self.xp
        scratch = self._work(work, "scratch", data)
        d = self._decayed(data, grad, weight_decay, work) if weight_decay else grad
        direction = d
        if momentum:
            if first:
                buffer[...] = d
            else:
                buffer *= momentum
                if dampening:
                    xp.multiply(d, 1 - dampening, out=scratch)
                    buffer += scratch
                else:
                    buffer += d
            direction = buffer
            if nesterov:
                xp.multiply(buffer, momentum, out=scratch)
                scratch += d
                direction = scratch
        xp.multiply(direction, lr, out=scratch)
        data -= scratch

    def adam_update(self, data, grad, m, v, v_max, work, betas, eps, lr, step, weight_decay, decoupled):
        """Adam (``ownnet.optim.Adam``; AdamW with ``decoupled``) at step ``step``, with
        d = grad + weight_decay * data (or, decoupled, d = grad after ``data *= 1 - lr * weight_decay``)::

            m = beta1 * m + (1 - beta1) * d;   v = beta2 * v + (1 - beta2) * d**2
            v_max = max(v_max, v)   (AMSGrad, when ``v_max`` is given; it replaces v below)
            data -= lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)
        """
        xp = self.xp
        beta1, beta2 = betas
        scratch = self._work(work, "scratch", data)
        d = grad
        if decoupled and weight_decay:
            data *= 1 - lr * weight_decay
        elif weight_decay:
            d = self._decayed(data, grad, weight_decay, work)
        m *= beta1
        xp.multiply(d, 1 - beta1, out=scratch)
        m += scratch
        v *= beta2
        xp.multiply(d, d, out=scratch)
        scratch *= 1 - beta2
        v += scratch
        if v_max is not None:
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        denominator = xp.sqrt(v, out=scratch)
        denominator /= math.sqrt(1 - beta2**step)
        denominator += eps
        update = xp.divide(m, denominator, out=scratch)
        update *= lr / (1 - beta1**step)
        data -= update

    def rmsprop_update(self, data, grad, square_avg, grad_avg, buffer, work, lr, alpha, eps, weight_decay,
                       momentum):
        """RMSProp (``ownnet.optim.RMSProp``): with d = grad + weight_decay * data::

            s = alpha * s + (1 - alpha) * d**2;   a = alpha * a + (1 - alpha) * d   (centered: ``grad_avg``)
            denominator = sqrt(s - a**2) + eps  (centered)  or  sqrt(s) + eps
            b = momentum * b + d / denominator;  data -= lr * b   (``buffer``, with momentum)
            data -= lr * d / denominator                            (without)
        """
        xp = self.xp
        scratch = self._work(work, "scratch", data)
        d = self._decayed(data, grad, weight_decay, work) if weight_decay else grad
        square_avg *= alpha
        xp.multiply(d, d, out=scratch)
        scratch *= 1 - alpha
        square_avg += scratch
        if grad_avg is not None:
            grad_avg *= alpha
            xp.multiply(d, 1 - alpha, out=scratch)
            grad_avg += scratch
            xp.multiply(grad_avg, grad_avg, out=scratch)
            xp.subtract(square_avg, scratch, out=scratch)
            xp.maximum(scratch, 0, out=scratch)  # s >= a**2 exactly; rounding must not make sqrt NaN
            denominator = xp.sqrt(scratch, out=scratch)
        else:
            denominator = xp.sqrt(square_avg, out=scratch)
        denominator += eps
        update = xp.divide(d, denominator, out=scratch)
        if momentum:
            buffer *= momentum
            buffer += update
            update = xp.multiply(buffer, lr, out=scratch)
        else:
            update *= lr
        data -= update


_erf = None


def _erf_function():
    """``scipy.special.erf`` if SciPy is installed, else Python's exact ``math.erf`` element by element."""
    global _erf
    if _erf is None:
        try:
            from scipy.special import erf
        except ImportError:
            erf = _math_erf
        _erf = erf
    return _erf


_math_erf_objects = np.frompyfunc(math.erf, 1, 1)


def _math_erf(z):
    return np.asarray(_math_erf_objects(z), dtype=z.dtype)  # frompyfunc gives objects: convert back
