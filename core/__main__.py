"""`python -m maldoc`: the same command line as the `maldoc` console script."""

import sys

from maldoc.cli import main

sys.exit(main())
