"""``python -m cpts_geo``: the ``cpts-geo`` command line."""

import sys

from cpts_geo.cli.main import main

sys.exit(main())
