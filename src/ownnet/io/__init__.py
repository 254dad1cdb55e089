"""Files in and out: model files, tensor files, ONNX export, PyTorch weights.

    on.save(model, "mnist.safetensors")          # the architecture and the weights, one file
    model = on.load("mnist.safetensors")         # rebuilt, weights copied in; never unpickles

Where each part lives:

    safetensors.py    write_tensors / read_tensors: named arrays + {str: str} metadata in one
                      safetensors file, every header entry checked before anything is allocated;
                      ModelFormatError (a ValueError) for every problem with a file's content
    npz.py            the same for NumPy's .npz, read without pickle
    modelfile.py      save / load / read_metadata: the model format (docs/model-format.md) on top
                      of the two above, rebuilt from the layer registry ownnet.nn.module.MODULES
    onnx.py           export_onnx (the onnx package is an optional extra)
    torch_interop.py  from_torch / to_torch (PyTorch is an optional extra)

``atomic_write`` (write to a temporary file, then rename it into place) is ``ownnet.files``'s,
re-exported here: every part of ownnet that writes files uses it.
"""

from ownnet.files import atomic_write
from ownnet.io.modelfile import load, read_metadata, save
from ownnet.io.safetensors import ModelFormatError, read_tensors, write_tensors

__all__ = ["ModelFormatError", "atomic_write", "load", "read_metadata", "read_tensors", "save",
           "write_tensors"]
