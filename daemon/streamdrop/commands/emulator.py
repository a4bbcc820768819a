"""`streamdrop emulator`: serve a local stand-in for Stream's chat import API."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamdrop.commands import Subparsers

if TYPE_CHECKING:
    from streamdrop.emulator.config import EmulatorConfig


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="serve a local stand-in for Stream's chat import API",
        description="Serve Stream's chat import API locally over HTTP, for tests, demos and "
        "rehearsing a migration offline. Logs go to stderr.",
    )
    _add_server_options(parser)
    _add_app_options(parser)
    _add_limit_options(parser)
    _add_fault_options(parser)
    parser.set_defaults(handler=run)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server")
    group.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1; loopback only unless told)")
    group.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    group.add_argument("--data-dir", type=Path,
                       help="keep uploaded files here (default: a temp folder, removed at exit)")
    group.add_argument("--public-url",
                       help="base of the upload URLs handed out (default: the URL the client used)")


def _add_app_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("emulated app")
    group.add_argument("--api-key", default="demo-key", help="API key (default demo-key)")
    group.add_argument("--api-secret", default=None,
                       help="API secret (default demo-secret-of-the-streamdrop-emulator)")
    group.add_argument("--api-secret-file", type=Path,
                       help="read the API secret from this file (keeps it out of `ps`)")
    group.add_argument("--app-id", default="1000001", help="app id in import paths")
    group.add_argument("--roles", help="role names, comma-separated "
                       "(default: user,admin,guest,anonymous)")
    group.add_argument("--channel-types", help="NAME[:MAXLEN],... (default: Stream's built-in "
                       "livestream,messaging,team,gaming,commerce with 5000)")
    group.add_argument("--step-seconds", type=float, default=2.0,
                       help="time between import states (default 2)")
    group.add_argument("--max-import-bytes", type=int, default=300_000_000, metavar="N",
                       help="refuse uploads over N bytes, as Stream does over 300 MB "
                       "(default 300000000)")
    group.add_argument("--states", choices=("docs", "sdk", "novel"), default="docs",
                       help="state spelling: docs (uploaded, analyze_failed...), sdk (queued, "
                       "analyzing_failed...), novel (names no client knows)")


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("rate limits and latency")
    group.add_argument("--rate-limit", type=int, default=1000,
                       help="requests per endpoint per window (default 1000)")
    group.add_argument("--rate-window-seconds", type=int, default=60,
                       help="window length; windows start on whole multiples (default 60)")
    group.add_argument("--endpoint-limit", action="append", default=[], metavar="NAME=N",
                       help="per-endpoint limit, e.g. GetImport=300 (repeatable)")
    group.add_argument("--plain-429", action="store_true",
                       help="answer 429 in plain text, as Stream's edge does")
    group.add_argument("--latency-ms", type=float, default=0.0,
                       help="delay every API answer by this much")


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("faults")
    group.add_argument("--fault-rate", type=float, default=0.0,
                       help="share of requests given a fault, 0 to 1 (default 0)")
    group.add_argument("--fault-kinds", default="500,503,slow,drop,upload",
                       help="faults to draw from (default 500,503,slow,drop,upload)")
    group.add_argument("--slow-seconds", type=float, default=8.0,
                       help="how late a slow answer is (default 8)")
    group.add_argument("--seed", type=int, help="seed for the faults (default: random, logged)")


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig the arguments describe; ValueError when they do not make sense."""
    from streamdrop.emulator import config as cfg

    secret = args.api_secret
    if args.api_secret_file is not None:
        secret = args.api_secret_file.read_text(encoding="utf-8").strip()
    extra: dict[str, Any] = {}
    if args.roles is not None:
        extra["roles"] = cfg.parse_roles(args.roles)
    if args.channel_types is not None:
        extra["channel_types"] = cfg.parse_channel_types(args.channel_types)
    return cfg.EmulatorConfig(
        host=args.host, port=args.port, api_key=args.api_key,
        api_secret=secret or cfg.DEFAULT_API_SECRET, app_id=args.app_id,
        rate_limit=args.rate_limit, rate_window_seconds=args.rate_window_seconds,
        endpoint_limits=dict(cfg.parse_endpoint_limit(t) for t in args.endpoint_limit),
        plain_429=args.plain_429, step_seconds=args.step_seconds, latency_ms=args.latency_ms,
        fault_rate=args.fault_rate, fault_kinds=tuple(args.fault_kinds.split(",")),
        slow_seconds=args.slow_seconds, seed=args.seed, states=args.states,
        data_dir=args.data_dir, public_url=args.public_url,
        max_upload_bytes=args.max_import_bytes, **extra,
    )


def _configure_logging() -> None:
    """structlog to stderr: readable on a terminal, JSON lines otherwise; stdout stays quiet."""
    import logging

    import structlog

    renderer: Any = (structlog.dev.ConsoleRenderer() if sys.stderr.isatty()
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")


def _banner(config: EmulatorConfig, url: str, default_secret: bool) -> str:
    # The secret is shown only when it is the public demo default.
    secret = config.api_secret if default_secret else "(the one you gave)"
    return (f"streamdrop emulator on {url}\n"
            f"  STREAM_CHAT_URL={url}\n  STREAM_KEY={config.api_key}\n  STREAM_SECRET={secret}\n")


def run(args: argparse.Namespace) -> int:
    from streamdrop.emulator import config as cfg

    try:
        config = build_config(args)
    except (ValueError, OSError) as exc:
        print(f"streamdrop emulator: {exc}", file=sys.stderr)
        return 2
    _configure_logging()
    import structlog

    from streamdrop.emulator.app import create_app
    from streamdrop.emulator.server import bind, is_loopback_host, serve

    if not is_loopback_host(config.host):
        structlog.get_logger("streamdrop.emulator").warning(
            "binding a non-loopback address: the emulator is for local use", host=config.host)
    try:
        sock = bind(config.host, config.port)
    except OSError as exc:
        print(f"streamdrop emulator: cannot listen on {config.host}:{config.port}: {exc}",
              file=sys.stderr)
        return 1
    shown = f"[{config.host}]" if ":" in config.host else config.host
    url = config.public_url or f"http://{shown}:{sock.getsockname()[1]}"
    sys.stderr.write(_banner(config, url, config.api_secret == cfg.DEFAULT_API_SECRET))
    with _sigterm_as_stop():
        serve(create_app(config), sock)
    return 0


class _Stopped(Exception):
    """SIGTERM arrived: uvicorn has shut down gracefully (or had not started yet)."""


@contextlib.contextmanager
def _sigterm_as_stop() -> Iterator[None]:
    # uvicorn shuts down on SIGTERM and then raises the signal again; left at its
    # default, that kills the process (exit -15). A stop that was asked for exits 0.
    def stop(signum: int, frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except _Stopped:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
