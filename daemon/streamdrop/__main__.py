"""`python -m streamdrop` runs the command line."""

import sys

from streamdrop.cli import main

sys.exit(main())
