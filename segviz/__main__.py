"""``python -m segviz``: the same as the ``segviz`` command."""

import sys

from segviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
