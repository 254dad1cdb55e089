"""``--import MODULE``: load the Python module that defines a model's custom layers.

A model file names its layers by class (see docs/model-format.md); ``on.load`` finds a class in the
registry of the ``Module`` subclasses that have been imported. A model with your own layer therefore
needs that layer's module imported first: ``ownnet predict --import mylayers model.safetensors x.png``
(a module importable from the current folder) or ``--import path/to/mylayers.py`` (a file).

Importing runs the module's code: only name modules you trust, as with ``python -c "import mylayers"``.
"""

import importlib
import importlib.util
import os
import sys


def import_user_module(name):
    """Import ``name`` (a dotted module name, looked up from the current folder first, or a ``.py``
    path) and return it. Raises ``ValueError`` with one line naming the module and the cause."""
    is_path = name.endswith(".py") or os.sep in name
    if is_path and not os.path.isfile(name):
        raise ValueError(f"--import {name}: no such file")
    try:
        if is_path:
            module_name = os.path.splitext(os.path.basename(name))[0]
            spec = importlib.util.spec_from_file_location(module_name, name)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            return module
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(name)
    except Exception as error:  # the user's module may raise anything while it runs
        raise ValueError(f"--import {name}: importing it failed ({type(error).__name__}: {error})") \
            from None
