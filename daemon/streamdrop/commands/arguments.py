"""Arguments: types that refuse a bad value with the reason (argparse shows it, exit 2),
the parser class of every command, and the refusal of a secret on the command line."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn


def _number(text: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations: `--api-secret VALUE` must never be taken for
    `--api-secret-file`, whose error would print the secret back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # An unknown option's value may be a secret typed by mistake: name options only.
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            words = message.removeprefix(prefix).split()
            options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
            message = prefix + (" ".join(options) if options else f"{len(words)} more")
        super().error(message)


class _RefuseSecret(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        parser.error(f"{option_string}: a secret is never taken on the command line (it would "
                     "show in `ps` and shell history); set STREAM_SECRET or STREAM_SECRET_FILE, "
                     "or pass --api-secret-file PATH")


def refuse_secret_option(parser: argparse.ArgumentParser) -> None:
    """`--api-secret VALUE` refused with a clear message that does not repeat the value."""
    parser.add_argument("--api-secret", nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)
