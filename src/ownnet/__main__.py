"""``python -m ownnet``: the same as the ``ownnet`` command."""

import sys

from ownnet.apps.cli import main

sys.exit(main())
