"""``ownnet.datasets``: the data sets, as ``ownnet.data.datasets`` (this name is kept for
``from ownnet.datasets import load_mnist``)."""

from ownnet.data.datasets import *  # noqa: F403
from ownnet.data.datasets import __all__  # noqa: F401
