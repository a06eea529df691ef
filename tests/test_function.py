"""The Cloud Function, for real: functions-framework serving function/main.py, CloudEvents
POSTed over HTTP as Eventarc would, a GCS emulator behind it, and pip installing the result
through NGINX."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pypapo.build import build
from pypapo.errors import ConflictError, CorruptStateError
from pypapo.report import Report
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.status import Status, status_document
from pypapo.storage import FILE_CACHE_CONTROL, YANK_KEY, ObjectChangedError, StorageError
from pypapo.storage.emulator import EmulatorGCSStorage
from tests.support.attestations import attestation
from tests.support.function_server import FunctionServer
from tests.support.gcs_emulator import Emulator
from tests.support.index import snapshot, wipe_index

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
    storage = EmulatorGCSStorage(bucket, PREFIX)
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
    from tests.support.installs import copy_venv, install, installed  # noqa: PLC0415
    from tests.support.nginx_server import NginxServer  # noqa: PLC0415

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
            python = copy_venv(template, tmp_path / f"venv-{client}")
            install(client, python, nginx.url, ["app"], tmp_path)
            assert installed(python, "app", tmp_path) == "1.0"
            assert installed(python, "lib-core", tmp_path) == "1.0"  # 2.0 is yanked


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


# -- the error policy, in process ----------------------------------------------------------


def _main_module() -> Any:
    """function/main.py as a module (it is deployed as a file, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "pypapo_function_main", Path(__file__).resolve().parent.parent / "function" / "main.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def main_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PYPAPO_BUCKET", "bkt")
    monkeypatch.setenv("PYPAPO_PREFIX", "")
    module = _main_module()
    monkeypatch.setattr(module, "storage_for", lambda bucket, prefix: object())
    return module


EVENT = {
    "id": "7",
    "type": "google.cloud.storage.object.v1.finalized",
    "source": "//storage.googleapis.com/projects/_/buckets/bkt",
    "subject": "objects/pkgs/x-1.0-py3-none-any.whl",
}


def _fail_with(error: BaseException) -> Any:
    def refresh(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    return refresh


def test_a_bug_is_logged_with_its_traceback_and_acknowledged(
    main_module: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(main_module, "refresh", _fail_with(KeyError("oops")))
    assert main_module.handle(EVENT, None) == "failed"
    [line] = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    assert line["severity"] == "ERROR"
    assert line["outcome"] == "failed"
    assert line["object"] == "gs://bkt/pkgs/x-1.0-py3-none-any.whl"
    assert "KeyError: 'oops'" in line["traceback"]
    assert "Traceback (most recent call last)" in line["traceback"]


def test_bad_input_raised_instead_of_reported_is_still_bad_input(
    main_module: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = CorruptStateError("simple/x/.state.json", "unreadable project state")
    monkeypatch.setattr(main_module, "refresh", _fail_with(error))
    assert main_module.handle(EVENT, None) == "bad-input"
    [line] = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    assert (line["severity"], line["kind"]) == ("ERROR", "corrupt state")


@pytest.mark.parametrize(
    "error",
    [
        StorageError("unreachable"),
        ObjectChangedError("p", "1"),
        ConflictError("state of project 'x'", 40),
        TimeoutError("slow"),
        ConnectionResetError("reset"),
    ],
    ids=repr,
)
def test_storage_trouble_raises_for_a_retry(
    main_module: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr(main_module, "refresh", _fail_with(error))
    with pytest.raises(type(error)):
        main_module.handle(EVENT, None)
    with pytest.raises(type(error)):  # also when it reaches the framework's error handler
        main_module.unreadable_request(error)


def test_unreadable_requests_are_acknowledged_other_http_errors_stand(main_module: Any) -> None:
    from werkzeug.exceptions import BadRequest, MethodNotAllowed  # noqa: PLC0415

    assert main_module.unreadable_request(BadRequest("no CloudEvent"))[1] == 200
    assert main_module.unreadable_request(TypeError("a list"))[1] == 200
    not_allowed = MethodNotAllowed()
    assert main_module.unreadable_request(not_allowed) is not_allowed


def test_log_fields_are_clipped(main_module: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = "x" * (1 << 20)
    main_module.log("ERROR", f"skipped {name}: too long", object=name)
    [line] = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    assert len(line["object"]) < 5000
    assert line["message"].endswith(": too long")


def test_a_status_object_is_picked_up_by_its_events(function: FunctionServer, bucket: Any) -> None:
    """An operator's status/<project>.json is no write of pypapo's own: its finalized and
    deleted events refresh the project (PEP 792), and lifting restores every object."""
    path, data = _wheel("held", "1.0")
    assert function.post_event("finalized", _upload(bucket, path, data)) == 200
    storage = EmulatorGCSStorage(bucket, PREFIX)
    before = snapshot(storage)
    document = status_document(Status("quarantined", "malware", "2022-01-01T00:00:00.000000Z"))
    status = _upload(bucket, "status/held.json", document)
    assert function.post_event("finalized", status) == 200
    page = json.loads(bucket.get_blob(f"{PREFIX}/simple/held/index.json").download_as_bytes())
    assert page["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert page["files"] == []
    assert bucket.get_blob(f"{PREFIX}/simple/.quarantine/{path}") is not None
    bucket.blob(status).delete()
    assert function.post_event("deleted", status) == 200
    assert snapshot(storage) == before


def test_attestations_give_provenance_and_bad_ones_are_acknowledged(
    gcs_emulator: Emulator, bucket: Any, tmp_path: Path
) -> None:
    """PEP 740: an attestation's event publishes the provenance its page links (by the
    public URL the function is configured with); a bad one is logged as bad input, answered
    2xx, and the file stays served without provenance."""
    url = "https://pypi.example.com/"
    with FunctionServer(
        gcs_emulator.url, bucket.name, tmp_path / "f.log", PREFIX, public_url=url
    ) as function:
        path, data = _wheel("signed", "1.0")
        assert function.post_event("finalized", _upload(bucket, path, data)) == 200
        good = attestation(path.rsplit("/", 1)[1], hashlib.sha256(data).hexdigest())
        name = _upload(bucket, path + ".publish.attestation", json.dumps(good).encode())
        assert function.post_event("finalized", name) == 200
        page = json.loads(bucket.get_blob(f"{PREFIX}/simple/signed/index.json").download_as_bytes())
        assert page["files"][0]["provenance"] == f"{url}{path}.provenance"
        assert bucket.get_blob(f"{PREFIX}/{path}.provenance") is not None
        other_path, other = _wheel("signed", "2.0")
        assert function.post_event("finalized", _upload(bucket, other_path, other)) == 200
        bad = _upload(bucket, other_path + ".publish.attestation", b"{not json")
        assert function.post_event("finalized", bad) == 200
        [error] = [line for line in function.log_lines() if line["severity"] == "ERROR"]
        assert error["outcome"] == "bad-input"
        assert error["kind"] == "bad attestation"
        assert "invalid JSON" in error["message"]
        page = json.loads(bucket.get_blob(f"{PREFIX}/simple/signed/index.json").download_as_bytes())
        assert [f.get("provenance") for f in page["files"]] == [f"{url}{path}.provenance", None]
        # deleting the file removes its document (the attestation left behind is reported)
        bucket.blob(f"{PREFIX}/{path}").delete()
        assert function.post_event("deleted", f"{PREFIX}/{path}") == 200
        assert bucket.get_blob(f"{PREFIX}/{path}.provenance") is None


@pytest.mark.slow
def test_a_release_of_120_wheels_delivered_32_at_once_is_answered_2xx_every_time(
    function: FunctionServer, bucket: Any
) -> None:
    """The hot release through the real server: 120 wheels of one version, their events 32 at
    a time. None answers non-2xx because the others succeeded (they hand over to one holder),
    and the pages equal a scratch build's."""
    project = SampleProject("hotpkg", "3.0")
    names = [
        _upload(bucket, f"pkgs/hotpkg-3.0-cp312-cp312-linux_{n}.whl", data)
        for n in range(120)
        for data in [wheel_bytes(project, f"cp312-cp312-linux_{n}")]
    ]
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda name: function.post_event("finalized", name), names))
    assert [s for s in statuses if not 200 <= s < 300] == []
    storage = EmulatorGCSStorage(bucket, PREFIX)
    after = snapshot(storage)
    assert len(json.loads(after["simple/hotpkg/index.json"])["files"]) == 120
    outcomes = [line.get("outcome") for line in function.log_lines() if "outcome" in line]
    assert "handed-off" in outcomes  # the burst was drained by lease holders, not raced
    wipe_index(storage)
    build(storage)
    assert after == snapshot(storage)


@pytest.mark.parametrize("url", ["pypi.example.com", "ftp://pypi.example.com/", "https://x/?a=1"])
def test_a_public_url_that_is_no_url_is_reported_and_links_nothing(
    main_module: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """A provenance link must be a full URL (a relative one makes pypi-simple reject the whole
    page): a misconfigured function says so on every event and links none, as a build
    without ``--public-url`` would, instead of publishing broken pages."""
    given: list[object] = []

    def refresh(*_args: Any, **kwargs: Any) -> Report:
        given.append(kwargs["public_url"])
        return Report()

    monkeypatch.setenv("PYPAPO_PUBLIC_URL", url)
    monkeypatch.setattr(main_module, "refresh", refresh)
    main_module.handle(EVENT, None)
    assert given == [None]
    lines = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    errors = [line for line in lines if line["severity"] == "ERROR"]
    assert len(errors) == 1
    assert "PYPAPO_PUBLIC_URL" in errors[0]["message"]
    assert url in errors[0]["message"]
