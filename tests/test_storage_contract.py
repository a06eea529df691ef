"""One contract, every backend: the local folder and GCS (on a real emulator, with and without
a prefix) must behave the same for everything the core relies on. Then what only GCS has: the
requests each call makes, headers, pagination, retries."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from google.cloud.storage.retry import DEFAULT_RETRY

from pypapo.check import DryRun
from pypapo.storage import (
    ABSENT,
    FILE_CACHE_CONTROL,
    PAGE_CACHE_CONTROL,
    YANK_KEY,
    Blob,
    ObjectChangedError,
    Storage,
    StorageError,
)
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import GCSStorage
from pypapo.storage.local import LocalStorage
from tests.support.gcs_emulator import PREFIX, Emulator

MIB = 1 << 20
STALE = "1"  # a generation no object has


@pytest.fixture(params=["local", "gcs", "gcs-prefix"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "index")
    if request.param == "gcs":
        gcs: GCSStorage = request.getfixturevalue("gcs_storage")
        return gcs
    prefixed: GCSStorage = request.getfixturevalue("gcs_prefixed_storage")
    # decoys beside the prefix: a leak through the prefix would show them
    for name in ("pkgs/b.whl", PREFIX + "-old/pkgs/b.whl", "team/pkgs/b.whl"):
        prefixed.bucket.blob(name).upload_from_string(b"decoy")
    return prefixed


# -- uploads from disk ------------------------------------------------------------------------


def test_upload_file_is_create_only_unless_told(storage: Storage, tmp_path: Path) -> None:
    local = tmp_path / "x-1.0.tar.gz"
    local.write_bytes(b"sdist")
    heard: list[int] = []
    path = "pkgs/x-1.0.tar.gz"
    token = storage.upload_file(local, path, create_only=True, progress=heard.append)
    blob = storage.get(path)
    assert blob is not None and token is not None
    assert (blob.data, blob.token) == (b"sdist", token)
    assert heard[-1] == 5
    local.write_bytes(b"other")
    assert storage.upload_file(local, path, create_only=True) is None
    assert storage.get(path) == blob
    newer = storage.upload_file(local, path, create_only=False)
    assert newer is not None and newer != token
    assert storage.get(path) == Blob(b"other", newer)
    # no temporary file is left beside it, whichever way the upload went
    assert [i.path for i in storage.list("pkgs/")] == [path]


def test_upload_file_streams_more_than_a_chunk(storage: Storage, tmp_path: Path) -> None:
    local = tmp_path / "big-1.0-py3-none-any.whl"
    data = os.urandom(9 * MIB)
    local.write_bytes(data)
    heard: list[int] = []
    assert storage.upload_file(local, "big-1.0-py3-none-any.whl", create_only=True,
                               progress=heard.append)  # fmt: skip
    assert heard == sorted(set(heard)) and heard[-1] == len(data)
    info = storage.stat("big-1.0-py3-none-any.whl")
    assert info is not None and info.size == len(data)


@pytest.mark.parametrize("wrapper", [CountingStorage, DryRun])
def test_wrappers_upload_through_the_protocol(
    wrapper: Callable[[Storage], Storage], tmp_path: Path
) -> None:
    inner = LocalStorage(tmp_path / "index")
    outer = wrapper(inner)
    assert isinstance(outer, Storage)
    local = tmp_path / "x-1.0.tar.gz"
    local.write_bytes(b"sdist")
    assert outer.upload_file(local, "x-1.0.tar.gz", create_only=True) is not None
    assert outer.upload_file(local, "x-1.0.tar.gz", create_only=True) is None
    blob = outer.get("x-1.0.tar.gz")
    assert blob is not None and blob.data == b"sdist"
    # a dry run writes nothing through; a counting storage writes and counts
    assert (inner.get("x-1.0.tar.gz") is None) == (wrapper is DryRun)


# -- tokens and compare-and-swap -------------------------------------------------------------


def test_put_get_tokens_and_cas(storage: Storage) -> None:
    assert storage.get("simple/a/x.json") is None
    token = storage.put("simple/a/x.json", b"one", content_type="application/json", if_token=ABSENT)
    assert token is not None
    blob = storage.get("simple/a/x.json")
    assert blob is not None
    assert (blob.data, blob.token) == (b"one", token)
    # create-only on an existing object
    assert (
        storage.put("simple/a/x.json", b"two", content_type="text/plain", if_token=ABSENT) is None
    )
    newer = storage.put("simple/a/x.json", b"two", content_type="text/plain", if_token=token)
    assert newer is not None and newer != token
    # a stale token
    assert (
        storage.put("simple/a/x.json", b"three", content_type="text/plain", if_token=token) is None
    )
    blob = storage.get("simple/a/x.json")
    assert blob is not None
    assert (blob.data, blob.token) == (b"two", newer)


def test_delete_with_and_without_tokens(storage: Storage) -> None:
    old = storage.put("s/.state.json", b"1", content_type="application/json")
    new = storage.put("s/.state.json", b"2", content_type="application/json")
    assert old is not None and new is not None
    assert storage.delete("s/.state.json", if_token=old) is False
    assert storage.delete("s/.state.json", if_token=ABSENT) is False
    assert storage.get("s/.state.json") is not None
    assert storage.delete("s/.state.json", if_token=new) is True
    assert storage.get("s/.state.json") is None
    assert storage.delete("s/.state.json", if_token=new) is False
    assert storage.delete("s/.state.json", if_token=ABSENT) is False
    assert storage.delete("s/.state.json") is False
    # gone, so create-only works again; an unconditional delete takes whatever is there
    assert storage.put("s/.state.json", b"3", content_type="text/plain", if_token=ABSENT)
    assert storage.delete("s/.state.json") is True
    assert storage.stat("s/.state.json") is None


def test_a_foreign_token_matches_nothing(storage: Storage) -> None:
    storage.put("x.json", b"1", content_type="application/json")
    for token in ("not-a-token", "e3b0c44298fc1c149afbf4c8996fb924", "-1"):
        assert storage.put("x.json", b"2", content_type="text/plain", if_token=token) is None
        assert storage.delete("x.json", if_token=token) is False
    assert storage.get("x.json").data == b"1"  # type: ignore[union-attr]


def test_concurrent_cas_increments_lose_nothing(storage: Storage) -> None:
    threads, each = 16, 6
    storage.put("counter", b"0", content_type="text/plain")
    conflicts = Counter[str]()
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(each):
                while True:
                    blob = storage.get("counter")
                    assert blob is not None
                    new = str(int(blob.data) + 1).encode()
                    if storage.put("counter", new, content_type="text/plain", if_token=blob.token):
                        break
                    conflicts["lost race"] += 1
        except BaseException as e:  # noqa: BLE001  (reported by the main thread)
            errors.append(e)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert storage.get("counter").data == str(threads * each).encode()  # type: ignore[union-attr]


# -- stat, list, metadata --------------------------------------------------------------------


def test_stat_and_list(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    storage.put("pkgs/a b/ü-1.0.tar.gz", b"x" * 10, content_type="application/gzip")
    storage.put("pkgs/b.whl", b"y", content_type="application/zip")
    storage.put("pkgsx/c.whl", b"", content_type="application/zip")
    storage.put("simple/index.html", b"z", content_type="text/html")
    info = storage.stat("pkgs/a b/ü-1.0.tar.gz")
    assert info is not None
    assert (info.path, info.size, info.metadata) == ("pkgs/a b/ü-1.0.tar.gz", 10, {})
    assert info.created.utcoffset() == timedelta(0)
    assert before < info.created < datetime.now(UTC) + timedelta(minutes=5)
    assert storage.stat("pkgsx/c.whl").size == 0  # type: ignore[union-attr]
    assert storage.stat("pkgs/missing.whl") is None
    assert storage.stat("pkgs") is None  # a "directory" is no object

    def paths(prefix: str) -> list[str]:
        return sorted(i.path for i in storage.list(prefix))

    assert paths("pkgs/") == ["pkgs/a b/ü-1.0.tar.gz", "pkgs/b.whl"]
    assert paths("pkgs") == ["pkgs/a b/ü-1.0.tar.gz", "pkgs/b.whl", "pkgsx/c.whl"]
    assert paths("pkgs/a") == ["pkgs/a b/ü-1.0.tar.gz"]
    assert paths("nothing/") == []
    assert paths("") == [
        "pkgs/a b/ü-1.0.tar.gz",
        "pkgs/b.whl",
        "pkgsx/c.whl",
        "simple/index.html",
    ]
    # list reports exactly what stat does (GCS: the trimmed list fields are enough)
    for listed in storage.list():
        assert listed == storage.stat(listed.path)


def test_overwrite_changes_generation(storage: Storage) -> None:
    storage.put("f.whl", b"0123456789", content_type="application/zip")
    first = storage.stat("f.whl")
    storage.put("f.whl", b"abcdefghijk", content_type="application/zip")
    second = storage.stat("f.whl")
    assert first is not None and second is not None
    assert second.generation != first.generation
    assert second.size == 11


def test_yank_and_unyank_through_metadata(storage: Storage) -> None:
    storage.put("pkgs/b.whl", b"wheel", content_type="application/zip")
    before = storage.stat("pkgs/b.whl")
    assert before is not None
    storage.set_metadata("pkgs/b.whl", YANK_KEY, "bad <release> ü")
    yanked = storage.stat("pkgs/b.whl")
    assert yanked is not None
    assert yanked.metadata == {YANK_KEY: "bad <release> ü"}
    # metadata is no content: the generation reads are pinned to stays, and so do the bytes
    assert (yanked.generation, yanked.size) == (before.generation, before.size)
    storage.set_metadata("pkgs/b.whl", YANK_KEY, "")
    assert storage.stat("pkgs/b.whl").metadata == {YANK_KEY: ""}  # type: ignore[union-attr]
    storage.set_metadata("pkgs/b.whl", YANK_KEY, None)
    unyanked = storage.stat("pkgs/b.whl")
    assert unyanked is not None
    assert unyanked.metadata == {}
    assert unyanked.generation == before.generation
    storage.set_metadata("pkgs/b.whl", YANK_KEY, None)  # removing twice is fine
    assert storage.stat("pkgs/b.whl").metadata == {}  # type: ignore[union-attr]
    assert storage.get("pkgs/b.whl").data == b"wheel"  # type: ignore[union-attr]
    with pytest.raises(StorageError):
        storage.set_metadata("pkgs/missing.whl", YANK_KEY, "x")


# -- pinned reads ----------------------------------------------------------------------------


def test_read_range_is_pinned_to_a_generation(storage: Storage) -> None:
    storage.put("f.whl", b"0123456789", content_type="application/zip")
    first = storage.stat("f.whl")
    assert first is not None
    gen = first.generation
    assert storage.read_range("f.whl", 2, 5, gen) == b"234"
    assert storage.read_range("f.whl", 0, 10, gen) == b"0123456789"
    assert storage.read_range("f.whl", 7, 20, gen) == b"789"  # clipped at the end
    assert storage.read_range("f.whl", 10, 20, gen) == b""  # past the end
    assert storage.read_range("f.whl", 4, 4, gen) == b""
    storage.put("f.whl", b"abcdefghij", content_type="application/zip")
    with pytest.raises(ObjectChangedError) as e:
        storage.read_range("f.whl", 0, 3, gen)
    assert (e.value.path, e.value.generation) == ("f.whl", gen)
    second = storage.stat("f.whl")
    assert second is not None
    assert storage.read_range("f.whl", 0, 3, second.generation) == b"abc"
    storage.delete("f.whl")
    with pytest.raises(ObjectChangedError):
        storage.read_range("f.whl", 0, 3, second.generation)


def test_stream_is_pinned_to_a_generation(storage: Storage) -> None:
    storage.put("f.whl", b"0123456789", content_type="application/zip")
    first = storage.stat("f.whl")
    assert first is not None
    chunks: list[bytes] = []
    storage.stream("f.whl", first.generation, chunks.append)
    assert b"".join(chunks) == b"0123456789"
    storage.put("f.whl", b"abcdefghij", content_type="application/zip")
    with pytest.raises(ObjectChangedError):  # the sink may have seen bytes: they are discarded
        storage.stream("f.whl", first.generation, chunks.append)
    storage.delete("f.whl")
    with pytest.raises(ObjectChangedError):
        storage.stream("f.whl", first.generation, chunks.append)


def test_stream_is_chunked_and_complete(storage: Storage) -> None:
    data = bytes(range(256)) * (12 * MIB // 256)
    storage.put("big.whl", data, content_type="application/zip")
    info = storage.stat("big.whl")
    assert info is not None
    assert info.size == len(data)
    sizes: list[int] = []
    received = bytearray()

    def sink(chunk: bytes) -> None:
        sizes.append(len(chunk))
        received.extend(chunk)

    storage.stream("big.whl", info.generation, sink)
    assert bytes(received) == data
    assert len(sizes) > 1
    assert max(sizes) <= 8 * MIB


# -- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../b", "a/..", ""])
def test_paths_must_stay_inside(storage: Storage, path: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: storage.put(path, b"", content_type="text/plain"),
        lambda: storage.get(path),
        lambda: storage.stat(path),
        lambda: storage.delete(path),
        lambda: storage.set_metadata(path, YANK_KEY, "x"),
        lambda: storage.read_range(path, 0, 1, "1"),
        lambda: storage.stream(path, "1", lambda _: None),
    ]
    for call in calls:
        with pytest.raises(StorageError):
            call()


def test_paths_are_normalised_like_posix_paths(storage: Storage) -> None:
    storage.put("dir//./x.json", b"1", content_type="application/json")
    assert storage.get("dir/x.json").data == b"1"  # type: ignore[union-attr]
    assert [i.path for i in storage.list("dir/")] == ["dir/x.json"]


# -- GCS only: what goes over the wire -------------------------------------------------------


Failure = Callable[[str, str, dict[str, Any]], requests.Response]


class Wire:
    """Counts the HTTP requests of one client and can make chosen ones fail."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[tuple[str, str]] = []
        self.failures: list[tuple[str, Failure]] = []
        session = client._http  # the client's requests session, shared by JSON and media calls
        self._real = session.request

        def request(method: str, url: str, **kwargs: Any) -> requests.Response:
            self.requests.append((method, url))
            for i, (needle, fail) in enumerate(self.failures):
                if needle in f"{method} {url}":
                    del self.failures[i]
                    return fail(method, url, kwargs)
            response: requests.Response = self._real(method, url, **kwargs)
            return response

        monkeypatch.setattr(session, "request", request)

    def count(self, call: Callable[[], object]) -> int:
        self.requests.clear()
        call()
        return len(self.requests)

    def fail_once(self, needle: str, status: int = 503) -> None:
        """The next request containing ``needle`` gets ``status`` without reaching the server."""

        def fail(method: str, url: str, _: dict[str, Any]) -> requests.Response:
            response = requests.Response()
            response.status_code = status
            response.headers["Content-Type"] = "application/json"
            response._content = f'{{"error": {{"code": {status}, "message": "injected"}}}}'.encode()
            response.url = url
            response.request = requests.Request(method, url).prepare()
            return response

        self.failures.append((needle, fail))

    def drop_once(self, needle: str) -> None:
        """The next request containing ``needle`` fails to connect."""

        def drop(method: str, url: str, _: dict[str, Any]) -> requests.Response:
            raise requests.ConnectionError(f"injected: {method} {url}")

        self.failures.append((needle, drop))

    def cut_once(self, needle: str, after: int) -> None:
        """The next response containing ``needle`` breaks off after ``after`` body bytes."""

        def cut(method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
            response: requests.Response = self._real(method, url, **kwargs)
            stream = response.raw.stream

            def broken(*args: Any, **kw: Any) -> Iterator[bytes]:
                sent = 0
                for chunk in stream(*args, **kw):
                    yield chunk
                    sent += len(chunk)
                    if sent >= after:
                        raise urllib3.exceptions.ProtocolError("injected: connection cut")

            response.raw.stream = broken
            return response

        self.failures.append((needle, cut))


FAST_RETRY = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(10)


@pytest.fixture
def wire(gcs_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> Wire:
    return Wire(gcs_bucket.client, monkeypatch)


@pytest.fixture
def fast(gcs_bucket: Any) -> GCSStorage:
    return EmulatorGCSStorage(gcs_bucket, "idx", retry=FAST_RETRY)


def test_gcs_pages_carry_content_type_and_cache_control(gcs_bucket: Any) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    storage.put("simple/index.html", b"<html>", content_type="text/html; charset=utf-8")
    storage.put(
        "pkgs/a.whl.metadata", b"M", content_type="text/plain", cache_control=FILE_CACHE_CONTROL
    )
    storage.set_metadata("simple/index.html", YANK_KEY, "x")  # keeps the headers
    page = gcs_bucket.get_blob("idx/simple/index.html")
    assert (page.content_type, page.cache_control) == (
        "text/html; charset=utf-8",
        PAGE_CACHE_CONTROL,
    )
    sidecar = gcs_bucket.get_blob("idx/pkgs/a.whl.metadata")
    assert (sidecar.content_type, sidecar.cache_control) == ("text/plain", FILE_CACHE_CONTROL)


def test_gcs_token_is_the_generation(gcs_storage: GCSStorage) -> None:
    token = gcs_storage.put("a.json", b"{}", content_type="application/json")
    info = gcs_storage.stat("a.json")
    blob = gcs_storage.get("a.json")
    assert info is not None and blob is not None
    assert token == info.generation == blob.token
    assert gcs_storage.bucket.get_blob("a.json").generation == int(blob.token)


def test_gcs_prefix_and_url(gcs_emulator: Emulator, gcs_prefixed_storage: GCSStorage) -> None:
    bucket = gcs_prefixed_storage.bucket
    assert gcs_prefixed_storage.describe() == f"gs://{bucket.name}/{PREFIX}"
    gcs_prefixed_storage.put("pkgs/x.whl", b"x", content_type="application/zip")
    assert bucket.get_blob(f"{PREFIX}/pkgs/x.whl") is not None
    bucket.blob(f"{PREFIX}/folder/").upload_from_string(b"")  # a console "folder"
    bucket.blob(f"{PREFIX}/odd//name").upload_from_string(b"")
    # a folder placeholder is no object; an odd name is listed as it is, for the build to
    # report it (tests/test_hostile_names.py)
    assert sorted(i.path for i in gcs_prefixed_storage.list()) == ["odd//name", "pkgs/x.whl"]
    same = GCSStorage.from_url(f"gs://{bucket.name}/{PREFIX}/", gcs_emulator.client())
    assert (same.prefix, same.get("pkgs/x.whl").data) == (PREFIX + "/", b"x")  # type: ignore[union-attr]
    assert GCSStorage.from_url(f"gs://{bucket.name}", gcs_emulator.client()).prefix == ""
    for bad in ("s3://b/x", "gs://", "gs:///x"):
        with pytest.raises(StorageError):
            GCSStorage.from_url(bad, gcs_emulator.client())


def test_gcs_request_counts(gcs_bucket: Any, wire: Wire) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    put = storage.put
    assert wire.count(lambda: put("a.json", b"1", content_type="text/plain")) == 1
    token = storage.get("a.json").token  # type: ignore[union-attr]
    assert wire.count(lambda: put("a.json", b"2", content_type="text/plain", if_token=STALE)) == 1
    assert wire.count(lambda: put("a.json", b"2", content_type="text/plain", if_token=token)) == 1
    assert wire.count(lambda: storage.get("a.json")) == 1
    assert wire.count(lambda: storage.get("missing.json")) == 1
    assert wire.count(lambda: storage.stat("a.json")) == 1
    assert wire.count(lambda: storage.stat("missing.json")) == 1
    info = storage.stat("a.json")
    assert info is not None
    assert wire.count(lambda: storage.read_range("a.json", 0, 1, info.generation)) == 1
    assert wire.count(lambda: storage.read_range("a.json", 1, 1, info.generation)) == 0
    assert wire.count(lambda: storage.stream("a.json", info.generation, lambda _: None)) == 1
    assert wire.count(lambda: storage.set_metadata("a.json", YANK_KEY, "r")) == 1
    # GCS removes a key patched to null in that one request; fake-gcs-server keeps it as "",
    # which the answer shows, and costs one full metadata update more
    assert wire.count(lambda: storage.set_metadata("a.json", YANK_KEY, None)) <= 2
    assert wire.count(lambda: storage.set_metadata("a.json", YANK_KEY, None)) <= 2
    assert wire.count(lambda: storage.delete("a.json", if_token=STALE)) == 1  # read, no delete
    assert wire.count(lambda: storage.delete("a.json", if_token=ABSENT)) == 0
    token = storage.get("a.json").token  # type: ignore[union-attr]
    assert wire.count(lambda: storage.delete("a.json", if_token=token)) == 2
    assert wire.count(lambda: storage.delete("a.json")) == 1
    for i in range(5):
        put(f"p/{i}", b"", content_type="text/plain")
    assert wire.count(lambda: list(storage.list("p/"))) == 1
    paged = EmulatorGCSStorage(gcs_bucket, "idx", page_size=2)
    assert wire.count(lambda: list(paged.list("p/"))) == 3
    assert sorted(i.path for i in paged.list("p/")) == [f"p/{i}" for i in range(5)]


def test_gcs_list_asks_only_for_the_fields_it_needs(gcs_bucket: Any, wire: Wire) -> None:
    storage = EmulatorGCSStorage(gcs_bucket)
    storage.put("a", b"", content_type="text/plain")
    assert wire.count(lambda: list(storage.list())) == 1
    ((method, url),) = wire.requests
    assert method == "GET"
    fields = "name,size,generation,timeCreated,metadata,md5Hash,crc32c"
    assert "fields=items%28" + fields.replace(",", "%2C") + "%29" in url


@pytest.mark.parametrize("inject", ["503", "429", "connection"])
def test_gcs_transient_errors_are_retried(fast: GCSStorage, wire: Wire, inject: str) -> None:
    def once(needle: str) -> None:
        if inject == "connection":
            wire.drop_once(needle)
        else:
            wire.fail_once(needle, int(inject))

    once("POST ")
    token = fast.put("a.json", b"1", content_type="text/plain", if_token=ABSENT)
    assert token is not None
    once("POST ")
    token = fast.put("a.json", b"2", content_type="text/plain", if_token=token)
    assert token is not None
    once("POST ")
    assert fast.put("b.json", b"1", content_type="text/plain") is not None
    once("GET ")
    assert fast.get("a.json").data == b"2"  # type: ignore[union-attr]
    once("GET ")
    info = fast.stat("a.json")
    assert info is not None
    once("GET ")
    assert fast.read_range("a.json", 0, 1, info.generation) == b"2"
    once("GET ")
    chunks: list[bytes] = []
    fast.stream("a.json", info.generation, chunks.append)
    assert chunks == [b"2"]
    once("GET ")
    assert [i.path for i in fast.list()] == ["a.json", "b.json"]
    once("PATCH ")
    fast.set_metadata("a.json", YANK_KEY, "r")
    once("DELETE ")
    assert fast.delete("a.json", if_token=token) is True
    once("DELETE ")
    assert fast.delete("b.json") is True
    assert wire.failures == []


def test_gcs_a_cut_stream_resumes_without_repeating_bytes(fast: GCSStorage, wire: Wire) -> None:
    data = bytes(range(256)) * (3 * MIB // 256)
    fast.put("big.whl", data, content_type="application/zip")
    info = fast.stat("big.whl")
    assert info is not None
    wire.cut_once("alt=media", after=MIB)
    received = bytearray()
    wire.requests.clear()
    fast.stream("big.whl", info.generation, received.extend)
    assert bytes(received) == data
    assert len(wire.requests) == 2  # the resumption asks for the rest of the same generation


@pytest.mark.parametrize("status", [412, 409])
def test_gcs_precondition_answers(fast: GCSStorage, wire: Wire, status: int) -> None:
    """What GCS answers when another writer wins between our requests (412; fake-gcs-server
    has been seen to answer 409), which the emulator cannot be made to race into on demand."""
    token = fast.put("a.json", b"1", content_type="text/plain")
    assert token is not None
    wire.fail_once("POST ", status)
    assert fast.put("a.json", b"2", content_type="text/plain", if_token=token) is None
    wire.fail_once("DELETE ", status)  # the generation read first still matched
    assert fast.delete("a.json", if_token=token) is False
    wire.fail_once("alt=media", status)
    with pytest.raises(ObjectChangedError):
        fast.read_range("a.json", 0, 1, token)
    wire.fail_once("alt=media", status)
    with pytest.raises(ObjectChangedError):
        fast.stream("a.json", token, lambda _: None)
    assert fast.get("a.json").data == b"1"  # type: ignore[union-attr]
    # without a precondition there is nothing to mismatch: the answer is a failure
    wire.fail_once("POST ", status)
    with pytest.raises(StorageError, match="cannot write"):
        fast.put("a.json", b"2", content_type="text/plain")
    wire.fail_once("DELETE ", status)
    with pytest.raises(StorageError, match="cannot delete"):
        fast.delete("a.json")
    assert wire.failures == []


@pytest.mark.parametrize("status", [400, 403])
def test_gcs_other_errors_are_not_retried(fast: GCSStorage, wire: Wire, status: int) -> None:
    fast.put("a.json", b"1", content_type="text/plain")
    wire.fail_once("GET ", status)
    wire.requests.clear()
    with pytest.raises(StorageError, match=r"cannot read .*gs://.*/idx/a\.json"):
        fast.get("a.json")
    assert len(wire.requests) == 1
    wire.fail_once("POST ", status)
    with pytest.raises(StorageError, match="cannot write"):
        fast.put("a.json", b"2", content_type="text/plain")


def test_gcs_retries_give_up_with_a_storage_error(gcs_bucket: Any, wire: Wire) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, retry=FAST_RETRY.with_timeout(0.3))
    for _ in range(200):
        wire.fail_once("GET ")
    with pytest.raises(StorageError, match="cannot stat"):
        storage.stat("a.json")
    wire.failures.clear()


def test_gcs_upload_file(gcs_bucket: Any, tmp_path: Path) -> None:
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    small = tmp_path / "small-1.0.tar.gz"
    small.write_bytes(b"sdist")
    token = storage.upload_file(small, "pkgs/small-1.0.tar.gz", create_only=True)
    assert token == storage.stat("pkgs/small-1.0.tar.gz").generation  # type: ignore[union-attr]
    blob = gcs_bucket.get_blob("idx/pkgs/small-1.0.tar.gz")
    assert (blob.content_type, blob.cache_control) == (
        "application/octet-stream",
        FILE_CACHE_CONTROL,
    )
    small.write_bytes(b"other")
    assert storage.upload_file(small, "pkgs/small-1.0.tar.gz", create_only=True) is None
    assert storage.get("pkgs/small-1.0.tar.gz").data == b"sdist"  # type: ignore[union-attr]
    assert storage.upload_file(small, "pkgs/small-1.0.tar.gz", create_only=False) is not None
    assert storage.get("pkgs/small-1.0.tar.gz").data == b"other"  # type: ignore[union-attr]
    big = tmp_path / "big-1.0-py3-none-any.whl"
    data = bytes(range(256)) * (9 * MIB // 256)  # above 8 MiB: a resumable upload
    big.write_bytes(data)
    assert storage.upload_file(big, "pkgs/big-1.0-py3-none-any.whl", create_only=True)
    assert _read_back(storage, "pkgs/big-1.0-py3-none-any.whl") == data
    # GCS refuses a second create-only resumable upload too; fake-gcs-server ignores
    # preconditions on resumable uploads, so that part cannot be checked here


def test_gcs_upload_reports_progress_per_chunk(gcs_bucket: Any, tmp_path: Path) -> None:
    storage = EmulatorGCSStorage(gcs_bucket)
    big = tmp_path / "big-1.0-py3-none-any.whl"
    data = os.urandom(20 * MIB)  # three 8 MiB chunks of a resumable upload
    big.write_bytes(data)
    heard: list[int] = []
    assert storage.upload_file(
        big, "big-1.0-py3-none-any.whl", create_only=True, progress=heard.append
    )
    assert heard == sorted(set(heard))  # each figure once, growing
    assert heard[-1] == len(data)
    assert len({n for n in heard if 0 < n < len(data)}) >= 2  # progress before the end
    assert _read_back(storage, "big-1.0-py3-none-any.whl") == data


def _read_back(storage: Storage, path: str) -> bytes:
    received = bytearray()
    info = storage.stat(path)
    assert info is not None
    storage.stream(info.path, info.generation, received.extend)
    return bytes(received)


def test_gcs_small_upload_reports_once(gcs_bucket: Any, tmp_path: Path) -> None:
    small = tmp_path / "small-1.0.tar.gz"
    small.write_bytes(b"sdist")
    heard: list[int] = []
    assert EmulatorGCSStorage(gcs_bucket).upload_file(
        small, "small-1.0.tar.gz", create_only=True, progress=heard.append
    )
    assert heard == [5]


def test_local_listing_skips_unreadable_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder the process may not read (a root-owned lost+found) is skipped, as os.walk
    skips it, instead of failing every build."""
    storage = LocalStorage(tmp_path)
    storage.put("pkgs/a.whl", b"a", content_type="application/zip")
    storage.put("lost+found/b.whl", b"b", content_type="application/zip")
    real_scandir = os.scandir

    def scandir(path: str) -> Any:
        if Path(path).name == "lost+found":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert [i.path for i in storage.list()] == ["pkgs/a.whl"]
