"""`python -m streamdrop` runs the command line."""

import sys

from streamdrop.cli import main

# Guarded: anyio's worker processes (see `validator`) load the parent's main module
# as `__mp_main__`, which must not run the command line again.
if __name__ == "__main__":
    sys.exit(main())
