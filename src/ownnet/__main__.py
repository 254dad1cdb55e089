"""``python -m ownnet``: the same as the ``ownnet`` command."""

import sys

from .cli import main

sys.exit(main())
