"""The ``drawkit`` command: a door over the application layer (:mod:`drawkit.app`).

Each area registers its subcommands from its own module (``drawkit/cli/<area>.py``) with
a ``register(subparsers)`` function; a subcommand sets ``func(args) -> int``. Building the
parser imports only argparse and :mod:`drawkit.cli.options`; a command imports what it
runs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import import_module

from drawkit import __version__
from drawkit.errors import DrawkitError

AREAS = ("data", "draws", "report", "demo", "posthog", "emulator", "config")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every area's subcommands."""
    parser = argparse.ArgumentParser(
        prog="drawkit",
        description="Auditable, weighted promotional prize draws over PostHog data.",
    )
    parser.add_argument("--version", action="version", version=f"drawkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in AREAS:
        import_module(f"drawkit.cli.{area}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for a drawkit error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format=LOG_FORMAT, stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    from drawkit.redact import install_log_redaction, redact

    install_log_redaction()
    try:
        return int(args.func(args) or 0)
    except DrawkitError as exc:
        print(f"drawkit: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drawkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (| head): nothing more to say
        return 141
