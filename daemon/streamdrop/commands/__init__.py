"""One module per group of commands; each exposes `register(subparsers)`.

Command modules keep their top-level imports light (argparse only) and import
what they need inside their handlers, so that `streamdrop validate` starts fast.
"""

from __future__ import annotations

import argparse

# What `register` receives: argparse's subcommand collection (its class is private).
Subparsers = argparse._SubParsersAction
