"""Optional compiled CPU kernels (Numba): an optimizer's update in one pass over memory, not four.

NumPy has no fused multiply-add, so SGD with momentum walks over every parameter four times
(``b *= m; b += g; s = b * lr; p -= s``) and Adam about ten; at batch 128 that is the largest cost of
a CPU step after the matrix products. With Numba installed (``pip install 'ownnet[fast]'``) one loop
does the same arithmetic, element by element, in the same order and the same dtype, so the results
are bitwise those of the NumPy code (the tests compare them). Without Numba, or with
``OWNNET_NUMBA=0``, the NumPy code runs. The functions mirror ``ownnet.cuda.kernels``.
"""

import math
import os

_compiled = None  # the kernels once compiled, False when Numba is missing or switched off


def available():
    """Whether the compiled kernels can be used (Numba installed and not ``OWNNET_NUMBA=0``)."""
    global _compiled
    if _compiled is None:
        _compiled = _compile() if os.environ.get("OWNNET_NUMBA", "1") != "0" else False
    return _compiled is not False


def set_enabled(enabled):
    """Switch the compiled kernels off (False) or back on where Numba exists (True)."""
    global _compiled
    _compiled = None if enabled else False


def _compile():
    try:
        import numba
    except ImportError:
        return False
    try:
        return _kernels(numba, cache=True)
    except RuntimeError:  # no writable place for Numba's on-disk cache: compile in memory each run
        return _kernels(numba, cache=False)


def _kernels(numba, cache):
    import numpy as np

    @numba.njit(cache=cache)
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

    @numba.njit(cache=cache)
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

    return {"sgd": sgd, "adam": adam}


def _flat(array):
    return array.reshape(-1)  # a view: the optimizer only calls these for C-contiguous arrays


def sgd_update(data, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, first):
    """One SGD step of one parameter, in place (``buffer``: the momentum buffer, or None)."""
    t = data.dtype.type
    if buffer is None:  # no momentum: the kernel never touches the buffer argument
        buffer, momentum = grad, 0.0
    _compiled["sgd"](_flat(data), _flat(grad), _flat(buffer), t(lr), t(weight_decay), t(momentum),
                     t(1 - dampening), dampening != 0, bool(nesterov), bool(first))


def adam_update(data, grad, m, v, betas, eps, lr, step, weight_decay, decoupled):
    """One Adam (or AdamW, ``decoupled``) step of one parameter, in place; no AMSGrad."""
    t = data.dtype.type
    beta1, beta2 = betas
    _compiled["adam"](_flat(data), _flat(grad), _flat(m), _flat(v), t(beta1), t(1 - beta1), t(beta2),
                      t(1 - beta2), t(eps), t(lr / (1 - beta1 ** step)), t(math.sqrt(1 - beta2 ** step)),
                      t(0.0 if decoupled else weight_decay), t(1 - lr * weight_decay), bool(decoupled))
