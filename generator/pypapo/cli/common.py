"""What the commands share: exit codes, target checks, summaries and progress lines."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pypapo.errors import UsageError
from pypapo.report import Report

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE = 0, 1, 2
EXIT_FAILED = EXIT_SKIPPED  # one code for "not everything was done", whatever stopped it
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
TARGET_HELP = "a folder or gs://bucket[/prefix]"


PUBLIC_URL_HELP = (
    "the URL the root of TARGET is served at (default: $PYPAPO_PUBLIC_URL), e.g. "
    "https://pypi.example.com/: pages link PEP 740 provenance documents by a full URL, "
    "so without it they do not link them"
)


def public_url(given: str | None) -> str | None:
    """The ``--public-url`` given, else ``$PYPAPO_PUBLIC_URL``; checked before any work."""
    from pypapo.render import public_url_problem

    url = given if given is not None else os.environ.get("PYPAPO_PUBLIC_URL") or None
    problem = None if url is None else public_url_problem(url)
    if problem is not None:
        raise UsageError(problem)
    return url


def existing_target(target: str) -> str:
    """``target`` when it is a bucket or an existing folder; a usage error otherwise, before
    any work: a typo must not look like an empty index."""
    if target.startswith("gs://"):
        return target
    path = Path(target)
    if not path.exists():
        raise UsageError(f"{target}: no such folder")
    if not path.is_dir():
        raise UsageError(f"{target}: not a folder")
    return target


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def skipped(report: Report) -> list[tuple[str, str]]:
    """Every file the command did not index, with its reason: bad input, and files of a
    distribution format the index does not serve (``.tgz``, ``.egg``...), which the library
    ignores like any other file that is no distribution."""
    from pypapo.layout import unserved_distribution_reason

    found = [(error.path, error.reason) for error in report.errors]
    for path in report.ignored:
        reason = unserved_distribution_reason(path)
        if reason is not None:
            found.append((path, reason))
    return found


def summary(report: Report, what: str) -> str:
    line = f"{what}: {plural(len(report.projects), 'project')}, {plural(report.files, 'file')}"
    if skipped(report):
        line += f", {len(skipped(report))} skipped"
    return line + f" ({plural(report.writes, 'object')} written)"


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (controls, bidi and other format
    characters, lone surrogates) escaped: object names and reasons quoting them are input."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode()
        for c in text
    )


def print_errors(report: Report) -> int:
    """Print what was skipped; the exit code that says whether anything was."""
    found = skipped(report)
    for path, reason in found:
        print(f"skipped {printable(path)}: {printable(reason)}", file=sys.stderr)
    return EXIT_SKIPPED if found else EXIT_OK


class Progress:
    """Progress on stderr for long builds: at most one line a second, only on a terminal."""

    def __init__(self) -> None:
        self._last = 0.0
        self._enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._enabled and (now - self._last >= 1 or done == total):
            self._last = now
            end = "\n" if done == total else ""
            print(f"\rindexed {done}/{total} projects", end=end, file=sys.stderr, flush=True)


def cpus() -> int:
    """The CPUs this process may run on (its affinity, as a container's cpuset sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1
