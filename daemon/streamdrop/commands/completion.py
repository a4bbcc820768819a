"""`streamdrop completion bash|zsh|fish`: a shell completion script, generated from the parser.

shtab reads the whole argparse tree (every command, flag and choice), so the script
never drifts from the commands. Install, for example:
    streamdrop completion bash > ~/.local/share/bash-completion/completions/streamdrop
    streamdrop completion zsh > ~/.zfunc/_streamdrop     (with fpath+=~/.zfunc)
    streamdrop completion fish > ~/.config/fish/completions/streamdrop.fish
"""

from __future__ import annotations

import argparse
import sys

from streamdrop.commands import Subparsers

SHELLS = ("bash", "zsh", "fish")


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "completion", help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script of SHELL for every streamdrop command, "
                    "flag and choice, e.g. `streamdrop completion bash > "
                    "~/.local/share/bash-completion/completions/streamdrop`.")
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    parser.set_defaults(handler=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    root: argparse.ArgumentParser = args.root_parser  # the dispatcher's, with every command
    sys.stdout.write(shtab.complete(root, shell=args.shell))
    return 0
