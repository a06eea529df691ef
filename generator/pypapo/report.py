"""What a refresh or build did: projects, files, reported bad input, writes and conflicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from pypapo.errors import InputError


@dataclass
class Report:
    """Errors are collected, never raised: one bad file never stops the others."""

    projects: set[str] = field(default_factory=set)
    files: int = 0
    errors: list[InputError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    writes: int = 0
    conflicts: int = 0
    handed_off: set[str] = field(default_factory=set)
    """Projects whose lease was held by another refresh, which was handed the paths."""

    def merge(self, other: Report) -> None:
        self.projects |= other.projects
        self.files += other.files
        self.errors += other.errors
        self.ignored += other.ignored
        self.writes += other.writes
        self.conflicts += other.conflicts
        self.handed_off |= other.handed_off
