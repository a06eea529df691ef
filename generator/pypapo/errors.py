"""One exception class per kind of bad distribution; each keeps the offending object path.

Messages read "<path>: <reason>" so a log line alone tells which upload to fix and why.
"""

from __future__ import annotations


class BadDistributionError(Exception):
    """A distribution that cannot be indexed. Never fatal to a build: it is reported and skipped."""

    kind = "bad distribution"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[BadDistributionError], tuple[str, str]]:
        # pickled by full builds that index projects in worker processes
        return type(self), (self.path, self.reason)


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


class CorruptStateError(BadDistributionError):
    """A project's state object cannot be read (hand-edited, or written by someone else)."""

    kind = "corrupt state"


class ConflictError(Exception):
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
