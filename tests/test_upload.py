"""``pypapo upload``: validation first, create-only, then an index that lists the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pypapo.cli import main
from pypapo.errors import MetadataMismatchError
from pypapo.sample import SampleProject, write_wheel
from pypapo.storage.gcs import GCSStorage
from pypapo.upload import upload, validate


def _wheel(tmp_path: Path, name: str = "good", version: str = "1.0", **kw: Any) -> Path:
    return write_wheel(tmp_path / "dist", SampleProject(name, version, **kw))


def test_upload_to_folder_refreshes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = _wheel(tmp_path)
    index = tmp_path / "index"
    assert main(["upload", str(index), str(wheel)]) == 0
    assert "uploaded" in capsys.readouterr().out
    page = json.loads((index / "simple" / "good" / "index.json").read_bytes())
    assert page["files"][0]["url"] == "../../packages/good-1.0-py3-none-any.whl"


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
    storage = GCSStorage(gcs_bucket, "idx")
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
