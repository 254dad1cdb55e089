"""Weights in and out of PyTorch: ``from_torch(torch_sequential)`` and ``to_torch(model)``.

For ``nn.Sequential`` stacks (nested ones included) of the layers both libraries have: Linear, ReLU,
LeakyReLU, Tanh, Sigmoid, GELU, Softmax, LogSoftmax, Identity, Dropout, BatchNorm1d and Flatten. The two
models compute the same function with the same numbers: PyTorch stores ``Linear.weight`` as
``(out_features, in_features)`` and ownnet as ``(in_features, out_features)``, so it is transposed;
everything else (biases, BatchNorm's weight, bias and running statistics) is copied as it is. The
dtype (float32 or float64) and the training/eval mode carry over. ``Residual`` and ``Concat`` have no
``torch.nn`` counterpart and are refused.

PyTorch is an optional extra (``pip install 'ownnet[compare]'``), imported only when called.
"""

import numpy as np

from ownnet import backend
from ownnet.nn import init
from ownnet.nn.activations import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.linear import Linear
from ownnet.nn.module import Module
from ownnet.nn.regularization import BatchNorm1d, Dropout
from ownnet.nn.shape import Flatten

__all__ = ["from_torch", "to_torch"]


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("moving weights to or from PyTorch needs torch: pip install 'ownnet[compare]'") \
            from None
    return torch


def _array(tensor, dtype):
    """A tensor's values as a new, writable NumPy array of ``dtype`` (on the CPU, detached)."""
    return np.array(tensor.detach().cpu().numpy(), dtype=dtype, copy=True)


# --- PyTorch -> ownnet -------------------------------------------------------------------------------
# Each converter builds the module and lists (ownnet array, values) in ``copies``; the values are copied
# in once the whole model is built.
def _linear_from(layer, dtype, where, copies):
    module = Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=dtype)
    copies.append((module.weight.data, _array(layer.weight, dtype).T))  # torch (out, in) -> ownnet (in, out)
    if layer.bias is not None:
        copies.append((module.bias.data, _array(layer.bias, dtype)))
    return module


def _batchnorm_from(layer, dtype, where, copies):
    if layer.momentum is None:
        raise ValueError(f"from_torch: {where} is BatchNorm1d(momentum=None) (a cumulative average); "
                         f"ownnet's BatchNorm1d takes a momentum in [0, 1]")
    module = BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                         track_running_stats=layer.track_running_stats, dtype=dtype)
    if layer.affine:
        copies.append((module.weight.data, _array(layer.weight, dtype)))
        if layer.bias is not None:  # nn.BatchNorm1d(bias=False): ownnet's bias stays zero
            copies.append((module.bias.data, _array(layer.bias, dtype)))
    if layer.track_running_stats:
        copies += [(module.running_mean, _array(layer.running_mean, dtype)),
                   (module.running_var, _array(layer.running_var, dtype))]
    return module


def _softmax_from(layer, dtype, where, copies):
    """``Softmax`` or ``LogSoftmax`` (the class of the same name), with the same ``dim``."""
    name = type(layer).__name__
    if layer.dim is None:
        raise ValueError(f"from_torch: {where} is nn.{name}(dim=None), whose axis depends on the input's "
                         f"number of dimensions; give it an explicit dim (dim=-1 for the last axis)")
    return {"Softmax": Softmax, "LogSoftmax": LogSoftmax}[name](dim=layer.dim)


def _sequential_from(layer, dtype, where, copies):
    return Sequential(*[_from(child, dtype, f"{where}.{index}", copies) for index, child in enumerate(layer)])


def _from_torch_table(nn):
    return {
        nn.Linear: _linear_from,
        nn.BatchNorm1d: _batchnorm_from,
        nn.ReLU: lambda layer, dtype, where, copies: ReLU(),
        nn.LeakyReLU: lambda layer, dtype, where, copies: LeakyReLU(layer.negative_slope),
        nn.Tanh: lambda layer, dtype, where, copies: Tanh(),
        nn.Sigmoid: lambda layer, dtype, where, copies: Sigmoid(),
        nn.GELU: lambda layer, dtype, where, copies: GELU(approximate=layer.approximate),
        nn.Softmax: _softmax_from,
        nn.LogSoftmax: _softmax_from,
        nn.Identity: lambda layer, dtype, where, copies: Identity(),
        nn.Dropout: lambda layer, dtype, where, copies: Dropout(layer.p),
        nn.Flatten: lambda layer, dtype, where, copies: Flatten(layer.start_dim, layer.end_dim),
        nn.Sequential: _sequential_from,
    }


def _from(layer, dtype, where, copies):
    torch = _import_torch()
    table = _from_torch_table(torch.nn)
    convert = table.get(type(layer))
    if convert is None:
        known = ", ".join(sorted(f"nn.{cls.__name__}" for cls in table))
        raise ValueError(f"from_torch: {where} is {type(layer).__name__}, which has no ownnet equivalent "
                         f"here (supported: {known})")
    module = convert(layer, dtype, where, copies)
    module.train(layer.training)
    return module


def _torch_dtype(model):
    torch = _import_torch()
    dtypes = {t.dtype for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"from_torch: the model mixes float dtypes {sorted(map(str, dtypes))}; "
                         f"convert it with .float() or .double() first")
    dtype = dtypes.pop() if dtypes else None
    names = {torch.float32: "float32", torch.float64: "float64"}
    if dtype is not None and dtype not in names:
        raise ValueError(f"from_torch: the model is {dtype}; ownnet computes in float32 or float64 "
                         f"(convert it with .float() first)")
    return backend.resolve_dtype(names.get(dtype))


def from_torch(torch_module):
    """The ownnet twin of a PyTorch ``nn.Sequential`` (or of one supported layer), with the same
    weights, dtype and training/eval mode.

    Raises ``ValueError`` naming the position (``model.2.0``) of a layer with no ownnet equivalent.

    Example::

        net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
        model = on.from_torch(net)     # model(x) == net(torch.tensor(x)) up to rounding
    """
    torch = _import_torch()
    if not isinstance(torch_module, torch.nn.Module):
        raise TypeError(f"torch_module: expected a torch.nn.Module, got {type(torch_module).__name__}")
    dtype = _torch_dtype(torch_module)
    rng_state, copies = init.rng().bit_generator.state, []
    try:  # building draws initial weights, then overwritten: leave a seeded generator as it was
        model = _from(torch_module, dtype, "model", copies)
    finally:
        init.rng().bit_generator.state = rng_state
    for target, values in copies:
        target[...] = backend.to_device(values, backend.device_of(target))
    return model


# --- ownnet -> PyTorch -------------------------------------------------------------------------------
def _linear_to(module, torch, dtype, where):
    twin = torch.nn.Linear(module.in_features, module.out_features, bias=module.bias is not None, dtype=dtype)
    with torch.no_grad():
        twin.weight.copy_(_tensor(torch, module.weight.data.T, dtype))  # ownnet (in, out) -> torch (out, in)
        if module.bias is not None:
            twin.bias.copy_(_tensor(torch, module.bias.data, dtype))
    return twin


def _batchnorm_to(module, torch, dtype, where):
    twin = torch.nn.BatchNorm1d(module.num_features, eps=module.eps, momentum=module.momentum,
                                affine=module.affine, track_running_stats=module.track_running_stats,
                                dtype=dtype)
    with torch.no_grad():
        if module.affine:
            twin.weight.copy_(_tensor(torch, module.weight.data, dtype))
            twin.bias.copy_(_tensor(torch, module.bias.data, dtype))
        if module.track_running_stats:
            twin.running_mean.copy_(_tensor(torch, module.running_mean, dtype))
            twin.running_var.copy_(_tensor(torch, module.running_var, dtype))
    return twin


def _sequential_to(module, torch, dtype, where):
    return torch.nn.Sequential(*[_to(child, torch, dtype, f"{where}.{index}")
                                 for index, child in enumerate(module.children())])


def _tensor(torch, array, dtype):
    return torch.from_numpy(np.array(backend.to_numpy(array), copy=True)).to(dtype)


def _to_torch_table(nn):
    return {
        Linear: _linear_to,
        BatchNorm1d: _batchnorm_to,
        ReLU: lambda module, torch, dtype, where: nn.ReLU(),
        LeakyReLU: lambda module, torch, dtype, where: nn.LeakyReLU(module.negative_slope),
        Tanh: lambda module, torch, dtype, where: nn.Tanh(),
        Sigmoid: lambda module, torch, dtype, where: nn.Sigmoid(),
        GELU: lambda module, torch, dtype, where: nn.GELU(approximate=module.approximate),
        Softmax: lambda module, torch, dtype, where: nn.Softmax(dim=module.dim),
        LogSoftmax: lambda module, torch, dtype, where: nn.LogSoftmax(dim=module.dim),
        Identity: lambda module, torch, dtype, where: nn.Identity(),
        Dropout: lambda module, torch, dtype, where: nn.Dropout(module.p),
        Flatten: lambda module, torch, dtype, where: nn.Flatten(module.start_dim, module.end_dim),
        Sequential: _sequential_to,
    }


def _to(module, torch, dtype, where):
    convert = _to_torch_table(torch.nn).get(type(module))
    if convert is None:
        hint = (" (torch.nn has no residual or concatenation layer)"
                if type(module) in (Residual, Concat) else "")
        raise ValueError(f"to_torch: cannot convert {module.label} at {where}: {type(module).__name__} "
                         f"has no torch.nn equivalent{hint}")
    twin = convert(module, torch, dtype, where)
    twin.train(module.training)
    return twin


def to_torch(model):
    """The PyTorch twin of ``model`` (an ownnet ``Sequential`` or one supported layer): an
    ``nn.Sequential`` with the same weights (``Linear.weight`` transposed), dtype and training/eval mode.

    Raises ``ValueError`` naming the layer and its position for a layer with no ``torch.nn`` equivalent.

    Example::

        net = on.to_torch(model).eval()
        logits = net(torch.from_numpy(x_test)).detach().numpy()
    """
    torch = _import_torch()
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an ownnet Module, got {type(model).__name__}")
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(model.dtype)]
    return _to(model, torch, dtype, "model")
