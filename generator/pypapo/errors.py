"""pypapo's exceptions, in two families typed by what went wrong.

``PypapoError``: something stopped a command (a storage request, a lost race, a bad argument,
a mirror source). The CLI catches it once and ends with one line and its ``exit_code``.

``InputError``: one bad object (a distribution, a state, a file in a reserved folder). Never
fatal: it is collected into a report, printed or logged, and the rest goes on. Each keeps the
offending object path; messages read "<path>: <reason>" so a log line alone tells which upload
to fix and why.
"""

from __future__ import annotations

import os

EXIT_FAILED = 1
EXIT_USAGE = 2


class PypapoError(Exception):
    """An error that ends a command (not a bug in pypapo): reported as one line."""

    exit_code = EXIT_FAILED


class UsageError(PypapoError):
    """An argument the command cannot act on; found before any work is done."""

    exit_code = EXIT_USAGE


class MissingExtraError(PypapoError):
    """A command needs an optional dependency that is not installed: names the extra."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs pypapo's {extra!r} extra: pip install 'pypapo[{extra}]'")
        self.what = what
        self.extra = extra

    def __reduce__(self) -> tuple[type[MissingExtraError], tuple[str, str]]:
        return type(self), (self.what, self.extra)


class InputError(Exception):
    """One object that cannot be indexed as it is: reported and skipped, never fatal."""

    kind = "input problem"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # pickled by full builds that index projects in worker processes
        return type(self), (self.path, self.reason)


class BadDistributionError(InputError):
    """A distribution that cannot be indexed."""

    kind = "bad distribution"


class InvalidFilenameError(BadDistributionError):
    kind = "invalid filename"


class InvalidArchiveError(BadDistributionError):
    kind = "invalid archive"


class MissingMetadataError(BadDistributionError):
    kind = "missing metadata"


class InvalidMetadataError(BadDistributionError):
    kind = "invalid metadata"


class MetadataMismatchError(BadDistributionError):
    kind = "metadata mismatch"


class TooLargeError(BadDistributionError):
    kind = "too large"


class UnsupportedWheelError(BadDistributionError):
    """A wheel pip would refuse to install: its ``.dist-info`` or ``WHEEL`` file is wrong."""

    kind = "unsupported wheel"


class DuplicateFileError(BadDistributionError):
    kind = "duplicate file"


class CorruptStateError(InputError):
    """A project's state object cannot be read (hand-edited, or written by someone else)."""

    kind = "corrupt state"


class ReservedPathError(InputError):
    """A distribution put among pypapo's own pages (``simple/``, ``browse/``): never indexed."""

    kind = "reserved path"


class ConflictError(PypapoError):
    """A compare-and-swap kept losing to concurrent writers past the retry budget."""

    def __init__(self, what: str, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} conflicting attempts: {what}")
        self.what = what
        self.attempts = attempts

    def __reduce__(self) -> tuple[type[ConflictError], tuple[str, int]]:
        return type(self), (self.what, self.attempts)


class ProjectStatusError(BadDistributionError):
    """A status object (``status/<project>.json``) pypapo cannot read: the project is held as
    quarantined until it is fixed, since the safe reading of "unknown" is "do not serve"."""

    kind = "invalid project status"


class RefusedByStatusError(BadDistributionError):
    """A file uploaded after its project was archived or quarantined (PEP 792): not served."""

    kind = "archived project"


class BadAttestationError(InputError):
    """A publisher's PEP 740 attestation (``<file>.publish.attestation``) the index does not
    publish: unreadable, about another file, or not checkable here. The distribution itself is
    still served, without provenance."""

    kind = "bad attestation"


def describe_error(e: BaseException) -> str:
    """One line for an error that stopped a command or a refresh. An ``OSError``: the file it
    names (the destination, for a rename or link), then the system's reason."""
    if not isinstance(e, OSError):
        return str(e)
    what = e.filename2 if e.filename2 is not None else e.filename
    reason = e.strerror or str(e)
    if what is None:
        return reason
    return f"{os.fsdecode(what) if isinstance(what, str | bytes) else what}: {reason}"
