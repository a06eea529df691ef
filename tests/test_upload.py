"""``pypapo upload``: validation first, create-only, then an index that lists the file."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pypapo.build import build
from pypapo.cli import main
from pypapo.errors import InvalidMetadataError, MetadataMismatchError
from pypapo.sample import SampleProject, write_wheel
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.local import LocalStorage
from pypapo.upload import DestinationError, upload, validate


def _wheel(tmp_path: Path, name: str = "good", version: str = "1.0", **kw: Any) -> Path:
    return write_wheel(tmp_path / "dist", SampleProject(name, version, **kw))


def test_upload_to_folder_refreshes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = _wheel(tmp_path)
    index = tmp_path / "index"
    assert main(["upload", str(index), str(wheel)]) == 0
    assert "uploaded" in capsys.readouterr().out
    page = json.loads((index / "simple" / "good" / "index.json").read_bytes())
    assert page["files"][0]["url"] == "../../packages/good-1.0-py3-none-any.whl"


def test_no_refresh_uploads_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whether pages follow an upload is the caller's flag, not a guess from the storage's
    class: ``--no-refresh`` leaves the index to whatever refreshes it (the Cloud Function)."""
    wheel = _wheel(tmp_path)
    index = tmp_path / "index"
    assert main(["upload", str(index), str(wheel), "--no-refresh"]) == 0
    assert (index / "packages" / wheel.name).read_bytes() == wheel.read_bytes()
    assert not (index / "simple").exists()
    assert "pypapo refresh" in capsys.readouterr().out


def test_upload_goes_through_the_storage_protocol(tmp_path: Path) -> None:
    """Any storage uploads (here a counting wrapper around a folder): one ``upload_file``."""
    counting = CountingStorage(LocalStorage(tmp_path / "index"))
    [result] = upload(counting, [_wheel(tmp_path)])
    assert result.status == "uploaded"
    assert counting.calls["upload_file"] == 1
    [again] = upload(counting, [_wheel(tmp_path / "b", summary="x")])
    assert again.status == "exists"


def test_upload_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = _wheel(tmp_path)
    index = tmp_path / "index"
    assert main(["upload", str(index), str(wheel)]) == 0
    original = (index / "packages" / wheel.name).read_bytes()
    other = _wheel(tmp_path / "b", summary="different bytes")
    assert main(["upload", str(index), str(other)]) == 1
    assert "not overwritten (use --force)" in capsys.readouterr().err
    assert (index / "packages" / wheel.name).read_bytes() == original
    assert main(["upload", str(index), str(other), "--force"]) == 0
    assert (index / "packages" / wheel.name).read_bytes() == other.read_bytes()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bad-1.0-py3-none-any.whl", b"not a zip", "not a zip archive"),
        ("bad.whl", b"", "invalid wheel filename"),
        ("notes.txt", b"hello", "not a .whl, .tar.gz or .zip distribution"),
    ],
)
def test_invalid_files_are_not_uploaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, reason: str
) -> None:
    bad = tmp_path / name
    bad.write_bytes(data)
    good = _wheel(tmp_path)
    index = tmp_path / "index"
    assert main(["upload", str(index), str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"invalid {bad}: " in err and reason in err
    assert not (index / "packages" / name).exists()
    assert (index / "packages" / good.name).exists()


def test_mismatched_metadata_is_rejected(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, "claims")
    renamed = wheel.with_name("other-1.0-py3-none-any.whl")
    wheel.rename(renamed)
    with pytest.raises(MetadataMismatchError) as caught:
        validate(renamed)
    assert caught.value.path == str(renamed)
    assert "does not match file name project" in caught.value.reason


@pytest.mark.e2e
def test_upload_to_bucket_is_create_only(gcs_bucket: Any, tmp_path: Path) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    wheel = _wheel(tmp_path)
    [first] = upload(storage, [wheel])
    assert first.status == "uploaded"
    [second] = upload(storage, [_wheel(tmp_path / "b", summary="x")])
    assert second.status == "exists"
    blob = gcs_bucket.get_blob("idx/packages/good-1.0-py3-none-any.whl")
    assert blob.download_as_bytes() == wheel.read_bytes()
    assert blob.cache_control == "public, max-age=31536000, immutable"
    [forced] = upload(storage, [_wheel(tmp_path / "b", summary="x")], force=True)
    assert forced.status == "uploaded"


BROKEN_RST = "Title\n=====\n\n.. image:: x.png\n   :bogus-option: 1\n\n`unclosed link <http://x\n"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ((), "long description does not render as reStructuredText"),
        ((("Description-Content-Type", "text/x-rst"),), "does not render as reStructuredText"),
        ((("Description-Content-Type", "text/html"),), "is not text/x-rst, text/markdown"),
    ],
)
def test_long_description_must_render(
    tmp_path: Path, headers: tuple[tuple[str, str], ...], reason: str
) -> None:
    pytest.importorskip("readme_renderer")
    project = SampleProject("docs", "1.0", extra_headers=headers)
    wheel = write_wheel(tmp_path / "dist", project)
    # replace the sample body with broken reStructuredText, keeping the wheel valid
    import zipfile  # noqa: PLC0415

    from pypapo.sample import _zip  # noqa: PLC0415

    with zipfile.ZipFile(wheel) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = f"{project.stem}.dist-info/METADATA"
    members[meta] = members[meta].split(b"\n\n", 1)[0] + b"\n\n" + BROKEN_RST.encode()
    wheel.write_bytes(_zip(members))
    with pytest.raises(InvalidMetadataError) as caught:
        validate(wheel)
    assert caught.value.path == str(wheel)
    assert reason in caught.value.reason
    index = tmp_path / "index"
    assert main(["upload", str(index), str(wheel)]) == 1
    assert not (index / "packages" / wheel.name).exists()


@pytest.mark.parametrize("content_type", ["text/markdown", "text/plain", "text/x-rst"])
def test_good_long_descriptions_pass(tmp_path: Path, content_type: str) -> None:
    wheel = _wheel(tmp_path, extra_headers=(("Description-Content-Type", content_type),))
    validate(wheel)


def test_upload_corpus_rejects_every_bad_kind(tmp_path: Path) -> None:
    """The same checks as the index: every bad corpus file is refused before upload."""
    from tests.support.badcorpus import KINDS  # noqa: PLC0415

    index = tmp_path / "index"
    for kind, make in KINDS.items():
        case = make()
        name = case.path.rsplit("/", 1)[-1]
        if case.expected is None or not case.local or case.path.startswith(("simple/", "browse/")):
            continue
        if kind == "duplicate_file_name":
            continue  # a valid file; the duplicate is a property of the bucket
        local = tmp_path / kind / name
        local.parent.mkdir(parents=True)
        local.write_bytes(case.data)
        [result] = upload(LocalStorage(index), [local])
        assert result.status == "invalid", kind
        assert case.expected in result.reason, (kind, result.reason)
    assert not (index / "packages").exists()


def test_a_second_spelling_of_an_indexed_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The index would serve only one of them: the upload says which one it already serves."""
    wheel = _wheel(tmp_path)
    index = tmp_path / "index"
    assert main(["upload", str(index), str(wheel)]) == 0
    twin = tmp_path / "twin" / "Good-1.0.0-py3-none-any.whl"
    twin.parent.mkdir()
    twin.write_bytes(wheel.read_bytes())
    assert main(["upload", str(index), str(twin)]) == 1
    err = capsys.readouterr().err
    assert f"duplicate {twin}: the index already serves this file as " in err
    assert err.rstrip().endswith("/packages/good-1.0-py3-none-any.whl; not uploaded")
    assert not (index / "packages" / twin.name).exists()
    # the same name into another folder is the same file too; the same path may be forced
    assert main(["upload", str(index), str(wheel), "--to", "elsewhere"]) == 1
    assert main(["upload", str(index), str(wheel), "--force"]) == 0


def test_a_bucket_upload_checks_the_indexed_state(gcs_bucket: Any, tmp_path: Path) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    wheel = _wheel(tmp_path)
    assert [r.status for r in upload(storage, [wheel])] == ["uploaded"]
    build(storage)  # what the Cloud Function does after the upload
    twin = tmp_path / "twin" / "GOOD-1.0-py3-none-any.whl"
    twin.parent.mkdir()
    twin.write_bytes(wheel.read_bytes())
    [result] = upload(storage, [twin])
    assert (result.status, result.reason) == ("duplicate", "packages/good-1.0-py3-none-any.whl")
    assert gcs_bucket.get_blob("idx/packages/GOOD-1.0-py3-none-any.whl") is None


# -- the destination folder ------------------------------------------------------------------


def _everything(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize(
    ("to", "reason"),
    [
        ("../x", "'..' segment"),
        ("a/../../x", "'..' segment"),
        ("..", "'..' segment"),
        ("/abs", "starts with '/'"),
        ("/", "starts with '/'"),
        ("a//b", "empty segment"),
        ("./a", "'.' segment"),
        ("a\x00b", "unsafe character U+0000"),
        ("a\nb", "unsafe character U+000A"),
        ("pkgs\x7f", "unsafe character U+007F"),
        ("a\\b", "backslash"),
        (".hidden", "a hidden folder (starting with '.') is never served"),
        ("a/.git", "a hidden folder (starting with '.') is never served"),
        ("simple", "simple/ and browse/ hold pypapo's own pages"),
        ("browse/x", "simple/ and browse/ hold pypapo's own pages"),
    ],
)
def test_a_destination_outside_the_target_is_refused_before_any_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], to: str, reason: str
) -> None:
    wheel = _wheel(tmp_path)
    before = _everything(tmp_path)
    assert main(["upload", str(tmp_path / "index"), str(wheel), "--to", to]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pypapo: error: --to {to!r}: ")
    assert reason in err
    assert err.count("\n") == 1
    assert _everything(tmp_path) == before
    # a bucket is refused the same way, before the storage is even opened
    assert main(["upload", "gs://no-such-bucket/idx", str(wheel), "--to", to]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize(("to", "path"), [("pkgs/", "pkgs/"), ("a/b", "a/b/"), ("", "")])
def test_a_destination_inside_the_target_is_taken(tmp_path: Path, to: str, path: str) -> None:
    wheel = _wheel(tmp_path)
    [result] = upload(LocalStorage(tmp_path / "index"), [wheel], to=to)
    assert (result.status, result.path) == ("uploaded", path + wheel.name)


def test_the_library_refuses_a_bad_destination_too(gcs_bucket: Any, tmp_path: Path) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    with pytest.raises(DestinationError, match=r"'\.\.' segment"):
        upload(storage, [_wheel(tmp_path)], to="../x")
    assert list(gcs_bucket.list_blobs()) == []


def test_a_failed_copy_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _wheel(tmp_path)
    index = tmp_path / "index"

    def full_disk(name: str, total: int) -> Callable[[int], None]:
        def show(done: int) -> None:  # called after each chunk is written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return show

    with pytest.raises(OSError, match="No space left on device") as caught:
        upload(LocalStorage(index), [wheel], progress=full_disk)
    assert caught.value.filename == str(index / "packages" / wheel.name)
    assert [p.name for p in index.rglob("*") if p.is_file()] == []
