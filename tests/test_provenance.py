"""PEP 740 provenance: a publisher's ``<file>.publish.attestation`` is checked against the file
the index serves and published as ``<file>.provenance``, linked from both pages.

Bad or mismatched attestations are reported and never keep the distribution from being served.
Every page is read back with ``pypi-simple``; every provenance document with
``pypi_attestations.Provenance``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pypi_attestations import Provenance
from pypi_simple import ProjectPage

from pypapo import cli
from pypapo.attestation import MAX_ATTESTATION, parse_attestation
from pypapo.build import build
from pypapo.errors import BadAttestationError
from pypapo.layout import attestation_path, is_own_write, provenance_path
from pypapo.model import ProjectState
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import Storage
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.local import LocalStorage
from tests.support.attestations import (
    GITHUB_ISSUER,
    SERVICE_ACCOUNT,
    attest_file,
    attestation,
    statement,
)
from tests.support.index import snapshot, wipe_index
from tests.support.tools import add_wheel

URL = "https://pypi.example.com/"
WHEEL = "pkgs/foo-1.0-py3-none-any.whl"
PAGE_URL = URL + "simple/foo/"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    add_wheel(tmp_path, "foo", "1.0")
    add_wheel(tmp_path, "foo", "1.1")
    return tmp_path


def _pages(storage: LocalStorage) -> tuple[ProjectPage, ProjectPage]:
    html, data = storage.get("simple/foo/index.html"), storage.get("simple/foo/index.json")
    assert html is not None
    assert data is not None
    return (
        ProjectPage.from_html("foo", html.data.decode(), PAGE_URL),
        ProjectPage.from_json_data(json.loads(data.data), PAGE_URL),
    )


def _provenance_urls(storage: LocalStorage) -> list[dict[str, str | None]]:
    return [{p.filename: p.provenance_url for p in page.packages} for page in _pages(storage)]


def _fetch(storage: LocalStorage, url: str) -> Provenance:
    """What a client gets at the URL the page gives (the object under the public URL)."""
    assert url.startswith(URL)
    blob = storage.get(url.removeprefix(URL))
    assert blob is not None
    return Provenance.model_validate_json(blob.data)


def test_a_build_publishes_the_provenance_of_an_attested_file(root: Path) -> None:
    attest_file(root / WHEEL)
    storage = LocalStorage(root)
    report = build(storage, public_url=URL)
    assert report.errors == []
    expected = URL + WHEEL + ".provenance"
    for urls in _provenance_urls(storage):
        assert urls == {"foo-1.0-py3-none-any.whl": expected, "foo-1.1-py3-none-any.whl": None}
    provenance = _fetch(storage, expected)
    (bundle,) = provenance.attestation_bundles
    assert bundle.publisher.kind == "Google"
    assert bundle.publisher.email == SERVICE_ACCOUNT
    (attested,) = bundle.attestations
    digest = hashlib.sha256((root / WHEEL).read_bytes()).hexdigest()
    assert attested.statement["subject"] == [
        {"name": "foo-1.0-py3-none-any.whl", "digest": {"sha256": digest}}
    ]
    data = json.loads((root / "simple/foo/index.json").read_bytes())
    assert data["meta"]["api-version"] == "1.3"
    assert "provenance" not in data["files"][1]  # PEP 740: absent when there is none
    assert is_own_write(provenance_path(WHEEL))
    assert not is_own_write(attestation_path(WHEEL))


def test_projects_without_attestations_keep_every_byte(root: Path) -> None:
    storage = LocalStorage(root)
    build(storage)
    before = snapshot(storage)
    wipe_index(storage)
    build(storage, public_url=URL)
    assert snapshot(storage) == before
    assert json.loads(before["simple/foo/index.json"])["meta"]["api-version"] == "1.1"


def test_no_public_url_no_link_but_the_document(root: Path) -> None:
    """Without the URL the index is served at, no fully qualified URL can be written (PEP
    740): the document is published at its conventional place, the pages do not link it."""
    attest_file(root / WHEEL)
    storage = LocalStorage(root)
    assert build(storage).errors == []
    assert _provenance_urls(storage)[0]["foo-1.0-py3-none-any.whl"] is None
    assert storage.get(provenance_path(WHEEL)) is not None


@pytest.mark.parametrize("attestation_first", [False, True])
def test_refresh_by_events_equals_a_scratch_build(root: Path, attestation_first: bool) -> None:
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    wheel = add_wheel(root, "foo", "2.0")
    path = "pkgs/" + wheel.name
    attest_file(wheel)
    events = [attestation_path(path), path]
    if not attestation_first:
        events.reverse()
    for event in events:
        refresh(storage, [event], public_url=URL)
    incremental = snapshot(storage)
    assert provenance_path(path) in incremental
    wipe_index(storage)
    build(storage, public_url=URL)
    assert snapshot(storage) == incremental


def test_deleting_the_attestation_or_the_file_removes_the_provenance(root: Path) -> None:
    attest_file(root / WHEEL)
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    plain = root / "pkgs/foo-1.1-py3-none-any.whl"
    attest_file(plain)
    refresh(storage, [attestation_path("pkgs/" + plain.name)], public_url=URL)
    assert storage.get(provenance_path("pkgs/" + plain.name)) is not None
    # the attestation goes: the file stays, without provenance
    (root / attestation_path("pkgs/" + plain.name)).unlink()
    assert refresh(storage, [attestation_path("pkgs/" + plain.name)], public_url=URL).errors == []
    assert storage.get(provenance_path("pkgs/" + plain.name)) is None
    assert _provenance_urls(storage)[1]["foo-1.1-py3-none-any.whl"] is None
    # the file goes (its attestation stays behind): link and document go
    (root / WHEEL).unlink()
    refresh(storage, [WHEEL], public_url=URL)
    assert storage.get(provenance_path(WHEEL)) is None
    assert "foo-1.0-py3-none-any.whl" not in _provenance_urls(storage)[1]
    incremental = snapshot(storage)
    wipe_index(storage)
    build(storage, public_url=URL)
    assert snapshot(storage) == incremental


def _write(root: Path, data: bytes) -> None:
    (root / attestation_path(WHEEL)).write_bytes(data)


def _good(root: Path) -> dict[str, object]:
    digest = hashlib.sha256((root / WHEEL).read_bytes()).hexdigest()
    return attestation("foo-1.0-py3-none-any.whl", digest)


BAD: list[tuple[str, str]] = [
    ("not-json", "not a PEP 740 attestation object: invalid JSON"),
    ("wrong-schema", "not a PEP 740 attestation object: envelope: field required"),
    ("other-name", "its statement is about 'foo-2.0-py3-none-any.whl', not this file"),
    ("other-digest", "its statement's sha256 " + "0" * 64 + " is not the file's"),
    ("two-subjects", "its statement must name exactly one file (it names 2)"),
    ("bad-predicate", "unknown predicate type 'https://example.com/other'"),
    ("unknown-issuer", "signed by 'https://issuer.example.com', no trusted publisher kind"),
    ("oversized", f"over {MAX_ATTESTATION} bytes"),
]


def _bad(root: Path, case: str) -> bytes:  # noqa: PLR0911 (one branch per case)
    good = _good(root)
    digest = hashlib.sha256((root / WHEEL).read_bytes()).hexdigest()
    name = "foo-1.0-py3-none-any.whl"
    if case == "not-json":
        return b"{not json"
    if case == "wrong-schema":
        del good["envelope"]
        return json.dumps(good).encode()
    if case == "other-name":
        return json.dumps(attestation("foo-2.0-py3-none-any.whl", digest)).encode()
    if case == "other-digest":
        return json.dumps(attestation(name, "0" * 64)).encode()
    if case == "two-subjects":
        body = json.loads(statement(name, digest))
        body["subject"] *= 2
        return json.dumps(attestation(name, digest, body=json.dumps(body).encode())).encode()
    if case == "bad-predicate":
        body = statement(name, digest, "https://example.com/other")
        return json.dumps(attestation(name, digest, body=body)).encode()
    if case == "unknown-issuer":
        return json.dumps(attestation(name, digest, issuer="https://issuer.example.com")).encode()
    assert case == "oversized"
    return json.dumps({**good, "padding": "x" * MAX_ATTESTATION}).encode()


@pytest.mark.parametrize(("case", "reason"), BAD, ids=[c for c, _ in BAD])
def test_a_bad_attestation_is_reported_and_the_file_still_served(
    root: Path, case: str, reason: str
) -> None:
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    before = snapshot(storage)
    _write(root, _bad(root, case))
    for report in (
        refresh(storage, [attestation_path(WHEEL)], public_url=URL),
        build(storage, public_url=URL),
    ):
        (error,) = report.errors
        assert isinstance(error, BadAttestationError)
        assert error.path == attestation_path(WHEEL)
        assert reason in error.reason, error.reason
    # every page and sidecar as before; the state may keep an attestation of other bytes
    # (its file may yet be replaced by those), which gives no provenance
    after = snapshot(storage)
    assert {p: b for p, b in after.items() if not p.endswith(".state.json")} == {
        p: b for p, b in before.items() if not p.endswith(".state.json")
    }


def test_an_attestation_without_its_file_is_reported(root: Path) -> None:
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    orphan = "pkgs/foo-3.0-py3-none-any.whl"
    (root / attestation_path(orphan)).write_text(
        json.dumps(attestation("foo-3.0-py3-none-any.whl", "1" * 64))
    )
    for report in (
        refresh(storage, [attestation_path(orphan)], public_url=URL),
        build(storage, public_url=URL),
    ):
        (error,) = report.errors
        assert isinstance(error, BadAttestationError)
        assert "no distribution is indexed at 'pkgs/foo-3.0-py3-none-any.whl'" in error.reason
    assert storage.get(provenance_path(orphan)) is None


def test_a_file_replaced_by_other_bytes_loses_its_provenance(root: Path) -> None:
    attest_file(root / WHEEL)
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    (root / WHEEL).unlink()
    add_wheel(root, "foo", "1.0", summary="other bytes")
    (error,) = refresh(storage, [WHEEL], public_url=URL).errors
    assert isinstance(error, BadAttestationError)
    assert "is not the file's" in error.reason
    assert storage.get(provenance_path(WHEEL)) is None
    assert _provenance_urls(storage)[0]["foo-1.0-py3-none-any.whl"] is None


def test_a_github_publisher_comes_from_the_certificate(root: Path) -> None:
    digest = hashlib.sha256((root / WHEEL).read_bytes()).hexdigest()
    uri = "https://github.com/acme/foo/.github/workflows/release.yml@refs/tags/v1.0"
    data = attestation(
        "foo-1.0-py3-none-any.whl", digest, email=None, uri=uri, issuer=GITHUB_ISSUER
    )
    parsed = parse_attestation(attestation_path(WHEEL), "1", json.dumps(data).encode())
    assert json.loads(parsed.publisher) == {
        "kind": "GitHub",
        "repository": "acme/foo",
        "workflow": "release.yml",
    }


def test_without_the_extra_an_attestation_is_reported(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attest_file(root / WHEEL)
    monkeypatch.setitem(sys.modules, "pypi_attestations", None)  # as if not installed
    storage = LocalStorage(root)
    (error,) = build(storage, public_url=URL).errors
    assert isinstance(error, BadAttestationError)
    assert "pip install 'pypapo[attestations]'" in error.reason
    assert storage.get(provenance_path(WHEEL)) is None
    assert _provenance_urls(storage)[0] == {
        "foo-1.0-py3-none-any.whl": None,
        "foo-1.1-py3-none-any.whl": None,
    }


def _cost(storage: LocalStorage, paths: list[str]) -> Counter[str]:
    counting = CountingStorage(storage)
    assert refresh(counting, paths, public_url=URL).errors == []
    return counting.calls


def test_request_counts(root: Path) -> None:
    """An upload into a project costs the same with attestations as without; the
    attestation's own event costs one read more than a page refresh (the attestation)."""
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    plain = _cost(storage, ["pkgs/" + add_wheel(root, "foo", "2.0").name])
    attest_file(root / WHEEL)
    event = _cost(storage, [attestation_path(WHEEL)])
    with_attestations = _cost(storage, ["pkgs/" + add_wheel(root, "foo", "3.0").name])
    assert with_attestations == plain
    # as an upload: state GET and PUT, the object read (a folder has no event description,
    # so a stat, then one ranged read where an upload streams), the marker's three requests,
    # the document where an upload writes its sidecar, the two pages (the browse page does not
    # change), the state's token again
    expected = plain + Counter(read_range=1)
    expected.subtract(Counter(stream=1, put=1))
    assert event == +expected


def _upload(storage: Storage, path: str, data: bytes) -> None:
    storage.put(path, data, content_type="application/octet-stream")


def test_build_and_refresh_on_gcs(gcs_bucket: Any) -> None:
    """On the emulator: an attestation event with its description (as the function has it)
    costs one read of the attestation, no stat; deleting it removes the document; a scratch
    build writes the same bytes."""
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    first, second = (wheel_bytes(SampleProject("foo", v)) for v in ("1.0", "1.1"))
    _upload(storage, WHEEL, first)
    _upload(storage, "pkgs/foo-1.1-py3-none-any.whl", second)
    build(storage, public_url=URL)
    path = attestation_path(WHEEL)
    _upload(storage, path, json.dumps(_good_for(first)).encode())
    hint = storage.stat(path)  # what the finalized event carries
    assert hint is not None
    counting = CountingStorage(storage)
    assert refresh(counting, [path], hints={path: hint}, public_url=URL).errors == []
    # state GET, the attestation's one ranged read, state PUT, marker GET and DELETE, the
    # document, index.html, index.json (the browse page is unchanged), marker PUT, state GET
    assert counting.calls["read_range"] == 1
    assert counting.calls["stat"] == 0
    assert counting.total == 10, counting.calls
    blob = gcs_bucket.get_blob("idx/" + provenance_path(WHEEL))
    assert blob.content_type == "application/json"
    Provenance.model_validate_json(blob.download_as_bytes())
    incremental = snapshot(storage)
    wipe_index(storage)
    assert build(storage, public_url=URL).errors == []
    assert snapshot(storage) == incremental
    # a warm build reads no attestation again
    counting.reset()
    build(counting, public_url=URL)
    assert counting.calls["read_range"] == 0
    storage.delete(path)
    assert refresh(storage, [path], public_url=URL).errors == []
    assert storage.get(provenance_path(WHEEL)) is None


def _good_for(data: bytes) -> dict[str, object]:
    return attestation("foo-1.0-py3-none-any.whl", hashlib.sha256(data).hexdigest())


def test_check_and_the_cli_take_the_public_url(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    attest_file(root / WHEEL)
    assert cli.main(["build", str(root), "--public-url", URL]) == 0
    assert cli.main(["check", str(root), "--public-url", URL]) == 0
    monkeypatch.setenv("PYPAPO_PUBLIC_URL", URL)
    assert cli.main(["check", str(root)]) == 0
    assert "matches its files" in capsys.readouterr().out
    # another URL: the pages would change
    assert cli.main(["check", str(root), "--public-url", "https://other.example/"]) != 0
    assert "outdated page: simple/foo/index.json" in capsys.readouterr().out
    assert cli.main(["build", str(root), "--public-url", "ftp://x/"]) == 2
    assert "not an absolute http(s) URL" in capsys.readouterr().err


def test_a_state_with_attestations_reads_back_and_a_forged_one_does_not(root: Path) -> None:
    attest_file(root / WHEEL)
    storage = LocalStorage(root)
    build(storage, public_url=URL)
    data = (root / "simple/foo/.state.json").read_bytes()
    state = ProjectState.from_json(data)
    (entry,) = state.attestations
    assert entry.distribution == WHEEL
    assert state.to_json() == data
    body = json.loads(data)
    body["attestations"][0]["path"] = "pkgs/bar-1.0-py3-none-any.whl.publish.attestation"
    with pytest.raises(ValueError, match="is a file of project 'bar'"):
        ProjectState.from_json(json.dumps(body).encode())
    body = json.loads(data)
    body["attestations"][0]["attestation"] = {"version": 2}
    with pytest.raises(ValueError, match=r"attestations\[0\].attestation: not an attestation"):
        ProjectState.from_json(json.dumps(body).encode())
