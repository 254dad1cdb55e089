"""The version of ownnet (``ownnet.__version__``), in a module of its own so that a part of ownnet that
needs it (the ONNX exporter names its producer) need not import the whole package."""

__version__ = "0.1.0"
