"""Object names are input. A name a storage or a file system could read as another place
(``x/../evil.whl``, ``/evil.whl``, ``a//evil.whl``, control characters, backslashes, ...) is
reported as a bad file name, never handed to the storage, and never stops a build, a check or
a refresh: everything else is indexed as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pypapo.build import build
from pypapo.cli import main
from pypapo.cli.common import printable
from pypapo.errors import InvalidFilenameError
from pypapo.layout import ROOT_HTML, ROOT_JSON
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import Blob, Storage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import GCSStorage
from pypapo.storage.local import LocalStorage
from tests.support.gcs_emulator import Emulator

# directory names a folder (and a bucket) can hold, each unsafe in its own way
FOLDER_UNSAFE_DIRS = [
    "line\nbreak",
    "carriage\rreturn",
    "del\x7f",
    "esc\x1b[31mred",
    "back\\slash",
    "bidi\u202eoverride",
    "tab\there",
]
# names only a bucket (or a forged event) can hold
BUCKET_ONLY_UNSAFE = [
    "x/../{wheel}",
    "simple/../{wheel}",
    "nul\x00/{wheel}",
    "win\\..\\{wheel}",
]
# names GCSStorage.list drops today because they normalise to another name
HIDDEN_BY_LISTING = ["/{wheel}", "packages//{wheel}", "./{wheel}", "pkgs/./{wheel}"]


def _wheel(project: str) -> tuple[str, bytes]:
    sample = SampleProject(project, "1.0")
    return f"{sample.stem}-py3-none-any.whl", wheel_bytes(sample)


def _unsafe(templates: list[str], stem: str) -> dict[str, bytes]:
    """One valid wheel of its own project under each unsafe name."""
    objects = {}
    for i, template in enumerate(templates):
        filename, data = _wheel(f"{stem}{i}")
        objects[template.format(wheel=filename)] = data
    return objects


def _served(pages: Callable[[str], bytes | None]) -> set[str]:
    root = pages(ROOT_JSON)
    assert root is not None
    assert pages(ROOT_HTML) is not None
    return {p["name"] for p in json.loads(root)["projects"]}


# -- a local folder ------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "index"
    good, data = _wheel("good")
    (root / "pkgs").mkdir(parents=True)
    (root / "pkgs" / good).write_bytes(data)
    bad = {f"{d}/{name}": wheel for (d, (name, wheel)) in _folder_objects()}
    for path, wheel in bad.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(wheel)
    return root, bad


def _folder_objects() -> Iterator[tuple[str, tuple[str, bytes]]]:
    for i, directory in enumerate(FOLDER_UNSAFE_DIRS):
        yield directory, _wheel(f"bad{i}")


def _read(root: Path) -> Callable[[str], bytes | None]:
    return lambda path: (root / path).read_bytes() if (root / path).exists() else None


def test_build_reports_unsafe_names_and_indexes_the_rest(
    folder: tuple[Path, dict[str, bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, bad = folder
    assert main(["build", str(root)]) == 1
    err = capsys.readouterr().err
    for path in bad:
        shown = printable(path)  # as a terminal gets it: control characters escaped
        assert f"skipped {shown}: unsafe " in err or f"skipped {shown}: backslash" in err, path
    assert _served(_read(root)) == {"good"}


@pytest.mark.parametrize("fix", [False, True])
def test_check_reports_unsafe_names_as_bad_files(
    folder: tuple[Path, dict[str, bytes]], fix: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    root, bad = folder
    main(["build", str(root)])
    capsys.readouterr()
    assert main(["check", str(root), *(["--fix"] if fix else [])]) == 1
    out = capsys.readouterr().out
    for path in bad:
        assert f"bad file: {printable(path)}: " in out
    assert f"problems: 0 drift, {len(bad)} bad files" in out
    assert _served(_read(root)) == {"good"}


class _Recording:
    """A storage that remembers every path it was handed."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.paths: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.paths += [a for a in args if isinstance(a, str)]
            return method(*args, **kwargs)

        return call


def test_refresh_never_hands_an_unsafe_name_to_the_storage(tmp_path: Path) -> None:
    good, data = _wheel("good")
    (tmp_path / good).write_bytes(data)
    unsafe = [
        t.format(wheel=good)
        for t in [
            *BUCKET_ONLY_UNSAFE,
            *HIDDEN_BY_LISTING,
            *(d + "/{wheel}" for d in FOLDER_UNSAFE_DIRS),
        ]
    ]
    storage = _Recording(LocalStorage(tmp_path))
    report = refresh(storage, [*unsafe, good])
    assert sorted(e.path for e in report.errors) == sorted(unsafe)
    assert all(isinstance(e, InvalidFilenameError) for e in report.errors)
    assert not set(storage.paths) & set(unsafe)
    assert report.projects == {"good"}


# -- a bucket ------------------------------------------------------------------------------


@pytest.fixture
def bucket_target(
    gcs_emulator: Emulator, gcs_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, GCSStorage]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    good, data = _wheel("good")
    gcs_bucket.blob(f"pkgs/{good}").upload_from_string(data)
    return f"gs://{gcs_bucket.name}", EmulatorGCSStorage(gcs_bucket)


def _upload_all(storage: GCSStorage, objects: dict[str, bytes]) -> None:
    for name, data in objects.items():
        storage.bucket.blob(name).upload_from_string(data)


def _pages(storage: GCSStorage) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        blob: Blob | None = storage.get(path)
        return None if blob is None else blob.data

    return read


@pytest.mark.e2e
def test_bucket_build_and_check_report_unsafe_names(
    bucket_target: tuple[str, GCSStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    target, storage = bucket_target
    bad = {
        **_unsafe(BUCKET_ONLY_UNSAFE, "only"),
        **{f"{d}/{n}": w for d, (n, w) in _folder_objects()},
    }
    _upload_all(storage, bad)
    assert main(["build", target]) == 1
    err = capsys.readouterr().err
    for path in bad:
        assert f"skipped {printable(path)}: " in err, path
    assert _served(_pages(storage)) == {"good"}
    for fix in ([], ["--fix"]):
        assert main(["check", target, *fix]) == 1
        out = capsys.readouterr().out
        assert all(f"bad file: {printable(path)}: " in out for path in bad)
        assert f"problems: 0 drift, {len(bad)} bad files" in out
    listed = {info.path for info in storage.list()}
    assert not [p for p in listed if p.endswith(".metadata") and p[: -len(".metadata")] in bad]


@pytest.mark.e2e
def test_bucket_build_reports_names_the_listing_hides(
    bucket_target: tuple[str, GCSStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    target, storage = bucket_target
    bad = _unsafe(HIDDEN_BY_LISTING, "hidden")
    _upload_all(storage, bad)
    assert main(["build", target]) == 1
    err = capsys.readouterr().err
    assert all(f"skipped {printable(path)}: " in err for path in bad)


@pytest.mark.e2e
def test_bucket_build_survives_a_sidecar_beside_an_unsafe_name(
    bucket_target: tuple[str, GCSStorage],
) -> None:
    _, storage = bucket_target
    good, _ = _wheel("good")
    _upload_all(storage, {f"x/../{good}.metadata": b"Metadata-Version: 2.1\n"})
    report = build(storage)
    assert report.projects == {"good"}
