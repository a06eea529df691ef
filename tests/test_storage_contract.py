"""One contract, every backend: the local folder and GCS (on a real emulator, with and without
a prefix) must behave the same for everything the core relies on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pypapo.storage import ABSENT, YANK_KEY, ObjectChangedError, Storage, StorageError
from pypapo.storage.gcs import GCSStorage
from pypapo.storage.local import LocalStorage


@pytest.fixture(params=["local", "gcs", "gcs-prefix"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path)
        return
    bucket = request.getfixturevalue("gcs_bucket")
    yield GCSStorage(bucket, "team/index" if request.param == "gcs-prefix" else "")


def test_put_get_tokens_and_cas(storage: Storage) -> None:
    assert storage.get("simple/a/x.json") is None
    token = storage.put("simple/a/x.json", b"one", content_type="application/json", if_token=ABSENT)
    assert token is not None
    blob = storage.get("simple/a/x.json")
    assert blob is not None
    assert (blob.data, blob.token) == (b"one", token)
    assert (
        storage.put("simple/a/x.json", b"two", content_type="text/plain", if_token=ABSENT) is None
    )
    newer = storage.put("simple/a/x.json", b"two", content_type="text/plain", if_token=token)
    assert newer is not None and newer != token
    assert (
        storage.put("simple/a/x.json", b"three", content_type="text/plain", if_token=token) is None
    )
    assert storage.get("simple/a/x.json").data == b"two"  # type: ignore[union-attr]
    assert storage.delete("simple/a/x.json", if_token=token) is False
    assert storage.delete("simple/a/x.json", if_token=newer) is True
    assert storage.delete("simple/a/x.json") is False


def test_stat_list_and_metadata(storage: Storage) -> None:
    storage.put("pkgs/a b/ü-1.0.tar.gz", b"x" * 10, content_type="application/gzip")
    storage.put("pkgs/b.whl", b"y", content_type="application/zip")
    storage.put("simple/index.html", b"z", content_type="text/html")
    info = storage.stat("pkgs/a b/ü-1.0.tar.gz")
    assert info is not None
    assert info.size == 10
    assert info.created.tzinfo is not None
    assert info.metadata.get(YANK_KEY) is None
    assert storage.stat("pkgs/missing.whl") is None
    assert sorted(i.path for i in storage.list("pkgs/")) == ["pkgs/a b/ü-1.0.tar.gz", "pkgs/b.whl"]
    assert {i.path for i in storage.list()} >= {"pkgs/b.whl", "simple/index.html"}
    storage.set_metadata("pkgs/b.whl", YANK_KEY, "bad <release>")
    yanked = storage.stat("pkgs/b.whl")
    assert yanked is not None
    assert yanked.metadata[YANK_KEY] == "bad <release>"
    storage.set_metadata("pkgs/b.whl", YANK_KEY, None)
    assert YANK_KEY not in storage.stat("pkgs/b.whl").metadata  # type: ignore[union-attr]
    with pytest.raises(StorageError):
        storage.set_metadata("pkgs/missing.whl", YANK_KEY, "x")


def test_overwrite_changes_generation_and_pinned_reads_notice(storage: Storage) -> None:
    storage.put("f.whl", b"0123456789", content_type="application/zip")
    first = storage.stat("f.whl")
    assert first is not None
    assert storage.read_range("f.whl", 2, 5, first.generation) == b"234"
    chunks: list[bytes] = []
    storage.stream("f.whl", first.generation, chunks.append)
    assert b"".join(chunks) == b"0123456789"
    storage.put("f.whl", b"abcdefghij", content_type="application/zip")
    second = storage.stat("f.whl")
    assert second is not None and second.generation != first.generation
    with pytest.raises(ObjectChangedError):
        storage.read_range("f.whl", 0, 3, first.generation)
    with pytest.raises(ObjectChangedError):
        storage.stream("f.whl", first.generation, chunks.append)


def test_stream_is_chunked_and_complete(storage: Storage) -> None:
    data = bytes(range(256)) * (12 * 4096)  # 12 MiB
    storage.put("big.whl", data, content_type="application/zip")
    info = storage.stat("big.whl")
    assert info is not None
    chunks: list[int] = []
    received = bytearray()

    def sink(chunk: bytes) -> None:
        chunks.append(len(chunk))
        received.extend(chunk)

    storage.stream("big.whl", info.generation, sink)
    assert bytes(received) == data
    assert len(chunks) > 1
    assert max(chunks) <= 8 << 20


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../b", ""])
def test_paths_must_stay_inside(storage: Storage, path: str) -> None:
    with pytest.raises(StorageError):
        storage.put(path, b"", content_type="text/plain")


def test_concurrent_cas_increments_lose_nothing(storage: Storage) -> None:
    storage.put("counter", b"0", content_type="text/plain")
    failures = 0
    lock = threading.Lock()

    def increment() -> None:
        nonlocal failures
        while True:
            blob = storage.get("counter")
            assert blob is not None
            if storage.put(
                "counter",
                str(int(blob.data) + 1).encode(),
                content_type="text/plain",
                if_token=blob.token,
            ):
                return
            with lock:
                failures += 1

    def worker() -> None:
        for _ in range(10):
            increment()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert storage.get("counter").data == b"80"  # type: ignore[union-attr]


def test_gcs_pages_carry_content_type_and_cache_control(gcs_bucket: Any) -> None:
    storage = GCSStorage(gcs_bucket, "idx")
    storage.put("simple/index.html", b"<html>", content_type="text/html; charset=utf-8")
    blob = gcs_bucket.get_blob("idx/simple/index.html")
    assert blob.content_type == "text/html; charset=utf-8"
    assert blob.cache_control == "public, max-age=10"
