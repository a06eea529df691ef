"""The Cloud Function, for real: functions-framework serving function/main.py, CloudEvents
POSTed over HTTP as Eventarc would, a GCS emulator behind it, and pip installing the result
through NGINX."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pypapo.refresh import build
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, YANK_KEY
from pypapo.storage.gcs import GCSStorage
from tests.function_server import FunctionServer
from tests.gcs_emulator import Emulator
from tests.test_refresh_invariant import snapshot, wipe_index

pytestmark = pytest.mark.e2e
PREFIX = "index"


@pytest.fixture
def bucket(gcs_emulator: Emulator) -> Any:
    return gcs_emulator.client().create_bucket(f"fn-{uuid.uuid4().hex[:16]}")


@pytest.fixture
def function(gcs_emulator: Emulator, bucket: Any, tmp_path: Path) -> Iterator[FunctionServer]:
    with FunctionServer(gcs_emulator.url, bucket.name, tmp_path / "function.log", PREFIX) as server:
        yield server


def _upload(bucket: Any, path: str, data: bytes) -> str:
    """What `gsutil cp` does: the object appears whole, with a long cache lifetime."""
    blob = bucket.blob(f"{PREFIX}/{path}")
    blob.cache_control = FILE_CACHE_CONTROL
    blob.upload_from_string(data, content_type="application/octet-stream")
    return f"{PREFIX}/{path}"


def _wheel(name: str, version: str, **kw: Any) -> tuple[str, bytes]:
    project = SampleProject(name, version, **kw)
    return f"pkgs/{project.stem}-py3-none-any.whl", wheel_bytes(project)


def test_events_build_the_index_like_a_full_build(
    function: FunctionServer, bucket: Any, tmp_path: Path
) -> None:
    storage = GCSStorage(bucket, PREFIX)
    # each event carries the object's resource as it was when the change happened, as
    # Eventarc's do, so late deliveries describe generations that are gone by then
    events: list[tuple[str, str, dict[str, Any]]] = []

    def happened(kind: str, name: str, resource: dict[str, Any] | None = None) -> None:
        events.append((kind, name, resource or function.object_resource(name)))

    for name, version in [
        ("app", "1.0"),
        ("Lib.Core", "1.0"),
        ("Lib.Core", "2.0"),
        ("other", "0.1"),
    ]:
        path, data = _wheel(name, version, requires_dist=["lib-core"] if name == "app" else [])
        happened("finalized", _upload(bucket, path, data))
    sdist = SampleProject("app", "1.0")
    happened("finalized", _upload(bucket, f"pkgs/{sdist.stem}.tar.gz", sdist_bytes(sdist)))
    # an overwrite fires a delete of the old generation and a finalize of the new one
    path, data = _wheel("other", "0.1", summary="overwritten")
    old = function.object_resource(f"{PREFIX}/{path}")
    happened("finalized", _upload(bucket, path, data))
    happened("deleted", f"{PREFIX}/{path}", old)
    # a yank fires metadataUpdated
    storage.set_metadata("pkgs/lib_core-2.0-py3-none-any.whl", YANK_KEY, "broken")
    happened("metadataUpdated", f"{PREFIX}/pkgs/lib_core-2.0-py3-none-any.whl")
    assert old["generation"] != events[-3][2]["generation"]

    deliveries = [(event, mode) for event in events for mode in ("binary", "structured")]
    random.Random(7).shuffle(deliveries)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(lambda d: function.post_event(d[0][0], d[0][1], d[1], d[0][2]), deliveries)
        )
    assert statuses == [200] * len(deliveries)
    # the function's own writes come back as events too: each is dropped before any storage call
    own = [i.path for i in storage.list("simple/")] + ["pkgs/app-1.0-py3-none-any.whl.metadata"]
    assert all(function.post_event("finalized", f"{PREFIX}/{p}") == 200 for p in own)
    outcomes = [line.get("outcome") for line in function.log_lines()]
    assert outcomes.count("own-write") == len(own)

    incremental = snapshot(storage)
    wipe_index(storage)
    build(storage)
    assert snapshot(storage) == incremental

    _pip_install_through_nginx(bucket, tmp_path)


def _pip_install_through_nginx(bucket: Any, tmp_path: Path) -> None:
    from tests.nginx_server import NginxServer  # noqa: PLC0415
    from tests.test_e2e_install import _install, _installed, _venv  # noqa: PLC0415

    root = tmp_path / "copy"
    for blob in bucket.client.list_blobs(bucket, prefix=PREFIX + "/"):
        target = root / blob.name[len(PREFIX) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
    import venv  # noqa: PLC0415

    template = tmp_path / "venv-template"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(template)
    with NginxServer(root, tmp_path / "nginx") as nginx:
        for client in ("pip", "uv"):
            python = _venv(template, tmp_path / f"venv-{client}")
            _install(client, python, nginx.url, ["app"], tmp_path)
            assert _installed(python, "app", tmp_path) == "1.0"
            assert _installed(python, "lib-core", tmp_path) == "1.0"  # 2.0 is yanked


def test_bad_upload_is_logged_and_acknowledged(function: FunctionServer, bucket: Any) -> None:
    good_path, good = _wheel("good", "1.0")
    good_name = _upload(bucket, good_path, good)
    bad_name = _upload(bucket, "pkgs/good-2.0-py3-none-any.whl", b"this is not a zip")
    assert function.post_event("finalized", good_name) == 200
    assert function.post_event("finalized", bad_name) == 200  # no retry storm for bad input
    [error] = [line for line in function.log_lines() if line["severity"] == "ERROR"]
    assert error["object"] == f"gs://{bucket.name}/{bad_name}"
    assert "not a zip archive" in error["message"]
    assert error["outcome"] == "bad-input"
    page = bucket.get_blob(f"{PREFIX}/simple/good/index.json").download_as_bytes()
    assert b"good-1.0-py3-none-any.whl" in page
    assert b"good-2.0" not in page


def test_unrelated_events_are_ignored(function: FunctionServer, bucket: Any) -> None:
    assert function.post_event("finalized", "elsewhere/x-1.0.tar.gz") == 200
    assert function.post_event("finalized", f"{PREFIX}/README.md") == 200
    outcomes = [line["outcome"] for line in function.log_lines() if "outcome" in line]
    assert outcomes == ["ignored", "ignored"]
    assert list(bucket.client.list_blobs(bucket)) == []


def test_storage_trouble_fails_the_invocation(bucket: Any, tmp_path: Path) -> None:
    """Transient trouble raises, so Eventarc redelivers: here the storage is unreachable."""
    dead = FunctionServer("http://127.0.0.1:9", bucket.name, tmp_path / "dead.log", PREFIX)
    with dead:
        status = dead.post_event(
            "finalized",
            f"{PREFIX}/pkgs/x-1.0-py3-none-any.whl",
            data={"bucket": bucket.name, "name": f"{PREFIX}/pkgs/x-1.0-py3-none-any.whl"},
        )
    assert status == 500
