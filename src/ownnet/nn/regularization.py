"""Regularization layers: ``Dropout`` and ``BatchNorm1d``; both behave differently in training and eval."""

import math
import numbers

from ownnet import backend
from ownnet.nn.init import rng
from ownnet.nn.module import Module


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the others
    by ``1 / (1 - p)``, so that the expected output equals the input; in eval mode, the identity.

    The mask is drawn from the generator that ``manual_seed`` seeds, so runs are reproducible.
    Backward multiplies by the same mask.

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    capturable = False  # its masks come from the host's generator (the same masks on CPU and GPU)

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.mask = None  # the scaled keep-mask of the last training forward, None for the identity
        self.shape = None

    def forward(self, x):
        self.shape = x.shape
        if not self.training or self.p == 0:
            self.mask = None
            return x
        xp = backend.xp_of(x)
        mask = xp.asarray(rng().random(x.shape, dtype=x.dtype))  # the same masks on either device
        xp.greater_equal(mask, self.p, out=mask)  # keep with probability 1 - p: now 0.0 or 1.0
        mask *= 1.0 / (1.0 - self.p)
        self.mask = mask
        return x * mask

    def backward(self, grad_out):
        self._check_grad_shape(grad_out, self._saved(self.shape))
        if self.mask is None:
            return grad_out
        return grad_out * self.mask

    def get_config(self):
        return {"p": self.p}


class BatchNorm1d(Module):
    """Batch normalisation over the batch axis, per feature (PyTorch's ``BatchNorm1d``)::

        x_hat = (x - mean) / sqrt(var + eps);   y = weight * x_hat + bias

    In training, ``mean`` and ``var`` are the batch's (biased variance) and the running statistics are
    updated: ``running = (1 - momentum) * running + momentum * batch_statistic``, with the *unbiased*
    batch variance for ``running_var``. In eval mode, the running statistics are used (with
    ``track_running_stats=False``, the batch's statistics are always used).

    Shape: input ``(batch, num_features)`` -> the same shape. ``weight`` (ones) and ``bias`` (zeros)
    are ``(num_features,)`` parameters (when ``affine``); ``running_mean`` (zeros) and
    ``running_var`` (ones) are buffers, saved in ``state_dict``.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=None):
        super().__init__()
        if (isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral)
                or num_features < 1):
            raise ValueError(f"BatchNorm1d: num_features must be a positive integer, got {num_features!r}")
        num_features = int(num_features)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ValueError(f"BatchNorm1d: eps must be a positive number and finite, got {eps!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be a number in [0, 1], got {momentum!r}")
        self.num_features = num_features
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        shape, dtype = (num_features,), backend.resolve_dtype(dtype)
        self.weight = self.bias = None
        if self.affine:
            self.weight = self.add_parameter("weight", backend.xp.ones(shape, dtype=dtype), dtype)
            self.bias = self.add_parameter("bias", backend.zeros(shape, dtype), dtype)
        if self.track_running_stats:
            self.add_buffer("running_mean", backend.zeros(shape, dtype))
            self.add_buffer("running_var", backend.xp.ones(shape, dtype=dtype))
        self.x_hat = self.inv_std = self.used_batch_stats = None

    # The buffers live in self._buffers (``to(dtype)`` replaces them there), so read them from it.
    @property
    def running_mean(self):
        return self._buffers.get("running_mean")

    @property
    def running_var(self):
        return self._buffers.get("running_var")

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.num_features:
            hint = " (for a single sample use x.reshape(1, -1))" if x.ndim == 1 else ""
            raise ValueError(
                f"{self.label}: expected input of shape (batch, {self.num_features}), "
                f"got {tuple(x.shape)}{hint}"
            )
        if self.affine or self.track_running_stats:
            backend.check_device(x, self.device, f"input to {self.label}")
        if (self.affine or self.track_running_stats) and x.dtype != self.dtype:
            x = x.astype(self.dtype)
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats:
            batch = x.shape[0]
            if batch < 2:
                raise ValueError(
                    f"{self.label}: expected more than 1 sample per feature in training, got input shape "
                    f"{tuple(x.shape)} (use eval mode, or a larger batch)"
                )
            mean = x.mean(axis=0)
            x_hat = x - mean
            var = (x_hat * x_hat).mean(axis=0)  # biased: normalises this batch
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, batch)
        else:
            mean, var = self.running_mean, self.running_var
            x_hat = x - mean
        inv_std = var + self.eps
        backend.xp_of(inv_std).sqrt(inv_std, out=inv_std)
        backend.xp_of(inv_std).reciprocal(inv_std, out=inv_std)
        x_hat *= inv_std
        self.x_hat, self.inv_std, self.used_batch_stats = x_hat, inv_std, use_batch_stats
        if not self.affine:
            return x_hat.copy()  # a new array: backward still needs x_hat as it is
        return x_hat * self.weight.data + self.bias.data

    def _update_running_stats(self, mean, var, batch):
        momentum, running_mean, running_var = self.momentum, self.running_mean, self.running_var
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += (momentum * batch / (batch - 1)) * var  # unbiased variance, as PyTorch

    def backward(self, grad_out):
        x_hat, inv_std = self._saved(self.x_hat), self._saved(self.inv_std)
        self._check_grad_shape(grad_out, x_hat.shape)
        if self.affine:
            self.weight.grad += (grad_out * x_hat).sum(axis=0)  # dL/dweight = sum_batch g * x_hat
            self.bias.grad += grad_out.sum(axis=0)  # dL/dbias = sum_batch g
            grad_x_hat = grad_out * self.weight.data
        else:
            grad_x_hat = grad_out
        if not self.used_batch_stats:
            return grad_x_hat * inv_std  # mean and var are constants
        # mean and var depend on every sample of the batch:
        # dL/dx = inv_std * (h - mean_batch(h) - x_hat * mean_batch(h * x_hat)), h = dL/dx_hat
        grad = grad_x_hat - grad_x_hat.mean(axis=0)
        grad -= x_hat * (grad_x_hat * x_hat).mean(axis=0)
        grad *= inv_std
        return grad

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats}

    @classmethod
    def state_shapes(cls, config):
        """``(num_features,)`` for ``weight``/``bias`` (if affine) and the running statistics (if tracked)."""
        shape, shapes = (config.get("num_features"),), {}
        if config.get("affine", True):
            shapes.update(weight=shape, bias=shape)
        if config.get("track_running_stats", True):
            shapes.update(running_mean=shape, running_var=shape)
        return shapes
