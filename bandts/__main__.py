"""``python -m bandts``: the bandts command line."""

import sys

from bandts.cli import main

sys.exit(main())
