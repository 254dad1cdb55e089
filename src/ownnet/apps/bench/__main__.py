"""``python -m ownnet.apps.bench``: the bench's command line (also how the parent starts its workers)."""

import sys

from ownnet.apps.bench.command import main

sys.exit(main())
