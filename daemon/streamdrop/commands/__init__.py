"""One module per group of commands; each exposes `register(subparsers)`.

Command modules keep their top-level imports light (argparse only) and import
what they need inside their handlers, so that `streamdrop validate` starts fast.
"""
