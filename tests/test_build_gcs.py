"""Full builds on a bucket (the emulator): a warm build is the listing plus one state read per
project, it still repairs what the listing shows damaged, and a build split into shards run in
parallel (Cloud Run Jobs tasks) writes the same bytes as one process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from google.auth.credentials import AnonymousCredentials

from pypapo import shards
from pypapo.build import Shard, build, shard_from_env
from pypapo.errors import UsageError
from pypapo.layout import ROOT_HTML, ROOT_JSON, is_own_write
from pypapo.report import Report
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, Part, Storage
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import new_client
from tests.support.fault_proxy import FaultProxy
from tests.support.gcs_emulator import Emulator

pytestmark = pytest.mark.e2e

PROJECTS = [f"proj-{i:02d}" for i in range(12)]


def _seed(storage: Storage) -> int:
    """Two wheels and an sdist per project, in two folders; the number of files."""
    files = 0
    for name in PROJECTS:
        for path, data in (
            (
                f"pkgs/{name.replace('-', '_')}-1.0-py3-none-any.whl",
                wheel_bytes(SampleProject(name, "1.0")),
            ),
            (
                f"pkgs/{name.replace('-', '_')}-1.1-py3-none-any.whl",
                wheel_bytes(SampleProject(name, "1.1")),
            ),
            (f"other/{name.replace('-', '_')}-1.1.tar.gz", sdist_bytes(SampleProject(name, "1.1"))),
        ):
            storage.put(
                path,
                data,
                content_type="application/octet-stream",
                cache_control=FILE_CACHE_CONTROL,
            )
            files += 1
    return files


def _objects(storage: Storage) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for info in storage.list():
        blob = storage.get(info.path)
        assert blob is not None
        out[info.path] = blob.data
    return out


def _clear_index(storage: Storage) -> None:
    """Everything a build writes goes: pages, states, markers, sidecars."""
    for info in list(storage.list()):
        if is_own_write(info.path) or info.path.endswith(".metadata"):
            storage.delete(info.path)


@pytest.fixture
def bucket_storage(gcs_emulator: Emulator) -> Iterator[EmulatorGCSStorage]:
    bucket = gcs_emulator.new_bucket("build")
    yield EmulatorGCSStorage(bucket)
    for blob in bucket.client.list_blobs(bucket):
        blob.delete()
    bucket.delete()


def test_a_warm_build_is_the_listing_and_one_state_read_per_project(
    bucket_storage: EmulatorGCSStorage,
) -> None:
    files = _seed(bucket_storage)
    build(bucket_storage, workers=8)
    counting = CountingStorage(bucket_storage)
    report = build(counting, workers=8)
    assert report.writes == 0
    # the listing, the root pages' own listing of simple/, the states; the root JSON page and
    # the two HTML pages the final settle compares with it (no lease taken: nothing to write)
    assert counting.calls == {"list": 2, "get": len(PROJECTS) + 3}
    assert counting.total / files <= 0.5  # at 3 files a project; 0.05 at 20 (bench)


def test_a_build_that_indexes_a_new_file_reads_none_of_the_projects_sidecars(
    bucket_storage: EmulatorGCSStorage,
) -> None:
    _seed(bucket_storage)
    build(bucket_storage, workers=8)
    path = "pkgs/proj_00-2.0-py3-none-any.whl"
    data = wheel_bytes(SampleProject("proj-00", "2.0"))
    bucket_storage.put(path, data, content_type="application/octet-stream")
    counting = CountingStorage(bucket_storage)
    build(counting, workers=8)
    # the marker vouches for the plan the old state implied: the sidecars it shares with the
    # new one are not read; the new file is streamed once (its sidecar comes from that read);
    # the project's lease is taken and released by writes alone: no GET more than a warm build
    assert counting.calls["get"] == len(PROJECTS) + 3
    assert counting.calls["stream"] + counting.calls["read_range"] >= 1
    assert "stat" not in counting.calls


def test_a_build_on_a_bucket_repairs_what_the_listing_shows_damaged(
    bucket_storage: EmulatorGCSStorage,
) -> None:
    _seed(bucket_storage)
    build(bucket_storage, workers=8)
    built = _objects(bucket_storage)
    time.sleep(0.01)  # the damage is written after the markers, as any later write is
    damage = {
        "simple/proj-01/index.html": b"torn",
        "browse/proj-02/index.html": b"torn",
        "pkgs/proj_03-1.0-py3-none-any.whl.metadata": b"wrong",
        ROOT_JSON: b'{"meta":{"api-version":"1.1"},"projects":[]}',
    }
    for path, data in damage.items():
        bucket_storage.put(path, data, content_type="text/plain")
    bucket_storage.delete("simple/proj-04/index.json")
    bucket_storage.delete("pkgs/proj_05-1.1-py3-none-any.whl.metadata")
    bucket_storage.delete(ROOT_HTML)
    report = build(bucket_storage, workers=8)
    assert report.writes > 0
    assert _objects(bucket_storage) == built


def _build_in_threads(storage: Storage, count: int) -> None:
    """``count`` shards at once, as parallel tasks run them."""
    threads = [
        threading.Thread(target=build, args=(storage,), kwargs={"shard": Shard(i, count)})
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.parametrize("count", [2, 5])
def test_shards_in_parallel_write_what_one_build_writes(
    bucket_storage: EmulatorGCSStorage, count: int
) -> None:
    _seed(bucket_storage)
    build(bucket_storage, workers=4)
    one = _objects(bucket_storage)
    _clear_index(bucket_storage)
    _build_in_threads(bucket_storage, count)
    assert _objects(bucket_storage) == one


def test_every_project_has_exactly_one_shard() -> None:
    for count in (1, 3, 64):
        owners = [sum(Shard(i, count).owns(p) for i in range(count)) for p in PROJECTS]
        assert owners == [1] * len(PROJECTS)
    # a name is owned by its normalized form's shard, whichever spelling names it
    assert all(Shard(i, 7).owns("Foo.Bar") == Shard(i, 7).owns("foo-bar") for i in range(7))


def test_the_task_environment_names_the_shard() -> None:
    env = {"CLOUD_RUN_TASK_INDEX": "3", "CLOUD_RUN_TASK_COUNT": "10"}
    assert shard_from_env(env) == Shard(3, 10)
    assert shard_from_env({}) == Shard(0, 1)
    for bad in (
        {"CLOUD_RUN_TASK_INDEX": "10", "CLOUD_RUN_TASK_COUNT": "10"},
        {"CLOUD_RUN_TASK_COUNT": "x"},
    ):
        with pytest.raises(UsageError):
            shard_from_env(bad)


def test_cloud_run_tasks_as_processes_write_what_one_build_writes(
    gcs_emulator: Emulator, bucket_storage: EmulatorGCSStorage, tmp_path: Path
) -> None:
    _seed(bucket_storage)
    wide = SampleProject("wide", "1.0")  # a project whose files are written many at once
    for n in range(24):
        tag = f"cp312-cp312-linux_{n}"
        path = f"pkgs/wide-1.0-{tag}.whl"
        bucket_storage.put(path, wheel_bytes(wide, tag), content_type="application/octet-stream")
    build(bucket_storage, workers=4)
    one = _objects(bucket_storage)
    _clear_index(bucket_storage)
    url = f"gs://{bucket_storage.bucket.name}"
    tasks: list[Any] = []
    for index in range(3):
        env = {
            **gcs_emulator.env,
            "PATH": "/usr/bin:/bin",
            "CLOUD_RUN_TASK_INDEX": str(index),
            "CLOUD_RUN_TASK_COUNT": "3",
        }
        cmd = [sys.executable, "-m", "pypapo.cli", "build", "--workers", "2", url]
        with (tmp_path / f"task{index}.log").open("wb") as log:  # the child keeps its copy
            tasks.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
    assert [task.wait(timeout=120) for task in tasks] == [0, 0, 0], [
        (tmp_path / f"task{i}.log").read_text() for i in range(3)
    ]
    assert _objects(bucket_storage) == one
    for index in range(3):  # a summary line, and no warning (a connection pool too small)
        assert "WARNING" not in (tmp_path / f"task{index}.log").read_text()


def test_a_listing_carries_each_objects_md5(bucket_storage: EmulatorGCSStorage) -> None:
    bucket_storage.put("a/page.html", b"hello", content_type="text/html")
    [listed] = bucket_storage.list("a/")
    assert listed.checksum == "md5:5d41402abc4b2a76b9719d911017c592"  # md5(b"hello")


SPREAD = ["alpha", "Beta_Two", "c", "django-x", "numpy", "py", "PyYAML", "requests", "zz-top"]
SPREAD += ["0ops", "odoo-addon-a", "s3fs", "a", "a-b"]
BAD = ["pkgs/-bad-1.0.tar.gz", "pkgs/zz_top-x.whl", "pkgs/a b-1.0.tar.gz", "q/Ñame-1.0.zip"]


def _seed_spread(storage: Storage) -> None:
    """Projects of many initials, in folders and at the top, and file names with no project."""
    for name in SPREAD:
        wheel = name.replace("-", "_")
        for path, data in (
            (f"pkgs/{wheel}-1.0-py3-none-any.whl", wheel_bytes(SampleProject(name, "1.0"))),
            (f"{name}-1.1.tar.gz", sdist_bytes(SampleProject(name, "1.1"))),
        ):
            storage.put(path, data, content_type="application/octet-stream")
    for path in BAD:
        storage.put(path, b"not a distribution", content_type="application/octet-stream")


def _shard_reports(storage: Storage, count: int) -> list[Report]:
    reports: list[Report] = [Report() for _ in range(count)]

    def run(index: int) -> None:
        reports[index] = build(storage, shard=Shard(index, count))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reports


def _error_paths(report: Report) -> list[str]:
    return sorted(str(getattr(e, "path", e)) for e in report.errors)


@pytest.mark.parametrize("count", [3, 7])
def test_shards_of_many_initials_write_what_one_build_writes_and_report_once(
    bucket_storage: EmulatorGCSStorage, count: int
) -> None:
    _seed_spread(bucket_storage)
    one = build(bucket_storage, workers=4)
    built = _objects(bucket_storage)
    _clear_index(bucket_storage)
    reports = _shard_reports(bucket_storage, count)
    assert _objects(bucket_storage) == built
    # each bad file name is reported by exactly one task
    assert sorted(p for r in reports for p in _error_paths(r)) == _error_paths(one)
    assert len(_error_paths(one)) >= len(BAD) - 1


@pytest.mark.parametrize("count", [3, 7])
def test_each_shard_lists_only_its_own_range(
    bucket_storage: EmulatorGCSStorage, count: int
) -> None:
    """What each task asks for, counted after the adapter's own filter: on GCS the matchGlob
    and offsets return that much; the emulator ignores matchGlob and returns more."""
    _seed_spread(bucket_storage)
    build(bucket_storage, workers=4)
    everything = [info.path for info in bucket_storage.list()]
    pages = [p for p in everything if p.startswith("simple/")]
    listed = []
    for index in range(count):
        counting = CountingStorage(bucket_storage)
        build(counting, shard=Shard(index, count))
        within = shards.selection(index, count)
        own = sum(any(part.matches(p) for part in within) for p in everything)
        own_pages = sum(
            any(part.matches(p) for part in shards.page_parts(index, count)) for p in pages
        )
        assert counting.listed == own + own_pages
        listed.append(counting.listed)
    # the tasks' listings split the bucket: together, one listing of it and of simple/
    assert sum(listed) == len(everything) + len(pages)


def test_the_emulator_honours_offsets_and_ignores_match_glob(
    bucket_storage: EmulatorGCSStorage,
) -> None:
    """What the tests of sharded listing can and cannot show on the emulator."""
    for path in ("a/x", "b/Foo-1.0.tar.gz", "b/zz-1.0.tar.gz", "c/y"):
        bucket_storage.put(path, b"", content_type="text/plain")
    client = bucket_storage.bucket.client
    ranged = client.list_blobs(bucket_storage.bucket, start_offset="b/", end_offset="c/")
    assert [b.name for b in ranged] == ["b/Foo-1.0.tar.gz", "b/zz-1.0.tar.gz"]
    globbed = client.list_blobs(bucket_storage.bucket, match_glob="**/[Ff]*")
    assert len([b.name for b in globbed]) == 4  # a GCS bucket would answer one
    within = (Part("b/", "c/", frozenset({"f"})),)
    assert [i.path for i in bucket_storage.list(within=within)] == ["b/Foo-1.0.tar.gz"]


def test_a_bucket_that_refuses_the_glob_still_lists_each_shard_its_objects(
    gcs_emulator: Emulator, bucket_storage: EmulatorGCSStorage
) -> None:
    """Whether GCS takes every glob a task sends is not verified here (the emulator ignores
    them): one it answers 400 costs the glob, not the build."""
    _seed_spread(bucket_storage)
    build(bucket_storage, workers=4)
    built = _objects(bucket_storage)
    _clear_index(bucket_storage)
    proxy = FaultProxy(gcs_emulator.url, rate=0.0, refuse=lambda path: "matchGlob=" in path)
    proxy.start()
    try:
        with mock.patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": proxy.url}):
            client = new_client(project="test", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        refused = EmulatorGCSStorage(client.bucket(bucket_storage.bucket.name))
        _shard_reports(refused, 3)
    finally:
        proxy.stop()
    assert proxy.injected["400"] > 0
    assert _objects(bucket_storage) == built
