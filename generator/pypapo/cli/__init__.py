"""The ``pypapo`` command: one module per command, each with ``register(subparsers)`` and the
function it sets as ``func``. Commands import the library inside those functions, so one
command's dependencies (an extra, a heavy module) never slow or break another.

``main`` catches ``PypapoError`` once: one line ``pypapo: error: WHAT: REASON`` and the error's
exit code. An ``OSError`` is the environment's (a full disk, a folder that cannot be read),
also one line. Only a bug in pypapo shows a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pypapo import __version__
from pypapo.cli import build, check, mirror, serve, status, upload, wait, yank
from pypapo.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SKIPPED, EXIT_USAGE
from pypapo.errors import PypapoError, UsageError, describe_error

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SKIPPED",
    "EXIT_USAGE",
    "UsageError",
    "main",
]

COMMANDS = (build, yank, serve, upload, check, mirror, wait, status)
DESCRIPTION = "A static Python package index in a folder or a Cloud Storage bucket."
EPILOG = (
    "exit codes: 0 ok, 1 something skipped or failed, 2 usage error, 130 interrupted. "
    "Each skipped file is printed with its reason; 'pypapo COMMAND --help' describes a command."
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pypapo", description=DESCRIPTION, epilog=EPILOG)
    top.add_argument("--version", action="version", version=f"pypapo {__version__}")
    top.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return top


_parser = parser  # the name tests and examples used


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except PypapoError as e:
        return _error(describe_error(e), e.exit_code)
    except OSError as e:  # the environment failed (a full disk, a refused permission): one line
        return _error(describe_error(e), EXIT_FAILED)
    except KeyboardInterrupt:
        # every write is atomic and every step repeatable: the next run picks up from here
        print("pypapo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(line: str, code: int) -> int:
    print(f"pypapo: error: {line}", file=sys.stderr)
    return code
