"""``python -m aotgraph``: see :mod:`aotgraph.cli`."""

import sys

from aotgraph.cli import main

if __name__ == "__main__":
    sys.exit(main())
