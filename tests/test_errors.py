"""Errors cross process boundaries (a folder's build runs workers): they pickle whole."""

from __future__ import annotations

import pickle

import pytest

from pypapo import errors
from pypapo.storage import ObjectChangedError

BAD = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.InputError)
]


@pytest.mark.parametrize("cls", BAD, ids=lambda c: c.__name__)
def test_bad_distribution_errors_pickle(cls: type[errors.InputError]) -> None:
    error = cls("pkgs/ä b-1.0.tar.gz", "the reason")
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(back) is cls
    assert (back.path, back.reason, back.kind, str(back)) == (
        error.path,
        error.reason,
        error.kind,
        str(error),
    )


def test_other_errors_pickle() -> None:
    conflict = pickle.loads(pickle.dumps(errors.ConflictError("root pages", 40)))  # noqa: S301
    assert (conflict.what, conflict.attempts) == ("root pages", 40)
    assert "40 conflicting attempts: root pages" in str(conflict)
    changed = pickle.loads(pickle.dumps(ObjectChangedError("a.whl", "7")))  # noqa: S301
    assert (changed.path, changed.generation) == ("a.whl", "7")
    assert len(BAD) >= 9


def test_one_base_for_what_ends_a_command() -> None:
    from pypapo.cli import UsageError  # noqa: PLC0415 (the CLI's own error, re-exported)
    from pypapo.mirror import MirrorError  # noqa: PLC0415
    from pypapo.storage import MissingExtraError, StorageError  # noqa: PLC0415

    for cls in (StorageError, errors.ConflictError, UsageError, MirrorError, MissingExtraError):
        assert issubclass(cls, errors.PypapoError), cls
    assert not issubclass(MirrorError, StorageError)  # a bad requirement is no storage failure


def test_reported_input_problems_are_siblings() -> None:
    reported = [errors.BadDistributionError, errors.CorruptStateError, errors.ReservedPathError]
    for cls in reported:
        assert issubclass(cls, errors.InputError)
        assert not issubclass(cls, errors.PypapoError)  # reported and skipped, never fatal
        assert [other for other in reported if other is not cls and issubclass(cls, other)] == []
    assert not issubclass(errors.ReservedPathError, errors.InvalidFilenameError)
