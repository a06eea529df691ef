"""The bad-input corpus on the GCS emulator: uploaded to a bucket, each object's event POSTed to
the real Cloud Function (functions-framework running ``function/main.py``), then a full
``build`` of the bucket. Every case: the function logs one ERROR naming the object and the
reason (or indexes it, or drops it as pypapo's own path), the build reports the same, the
healthy projects keep their pages, and every page parses and carries no injected markup.

The corpus is uploaded and processed once per module; each kind is then its own test.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pypapo.build import build
from pypapo.errors import InputError
from pypapo.storage import FILE_CACHE_CONTROL
from pypapo.storage.emulator import EmulatorGCSStorage
from tests.support import badcorpus
from tests.support.badcorpus import BASELINE_PROJECTS, KINDS, SLOW_KINDS, Case
from tests.support.function_server import FunctionServer
from tests.support.gcs_emulator import Emulator
from tests.support.page_checks import (
    REPAIRED_BY_BUILD,
    all_page_problems,
    index_pages,
    project_pages,
)

pytestmark = pytest.mark.e2e
PREFIX = "idx"
RESERVED = {"upload_into_simple", "upload_into_browse"}
GCS_KINDS = [k for k in KINDS if k not in SLOW_KINDS]  # 2,000 events are the local test's job


@dataclass
class Outcome:
    cases: dict[str, Case]
    statuses: dict[str, int]
    log: list[dict[str, Any]]
    reference: dict[str, bytes]
    after_events: dict[str, bytes]
    after_build: dict[str, bytes]
    build_errors: list[InputError]


def _upload(bucket: Any, path: str, data: bytes) -> str:
    blob = bucket.blob(f"{PREFIX}/{path}")
    blob.cache_control = FILE_CACHE_CONTROL
    blob.upload_from_string(data, content_type="application/octet-stream")
    return f"{PREFIX}/{path}"


def _yank_marker(path: str) -> bool:
    return path.endswith(".yanked")


@pytest.fixture(scope="module")
def outcome(gcs_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    bucket = gcs_emulator.new_bucket("bad")
    storage = EmulatorGCSStorage(bucket, PREFIX)
    log_path = tmp_path_factory.mktemp("fn") / "function.log"
    with FunctionServer(gcs_emulator.url, bucket.name, log_path, PREFIX) as function:
        for path, data in badcorpus.baseline():
            assert function.post_event("finalized", _upload(bucket, path, data)) == 200
        reference = project_pages(index_pages(storage), BASELINE_PROJECTS)

        cases = {kind: KINDS[kind]() for kind in GCS_KINDS}
        names: dict[str, str] = {}
        for kind, case in cases.items():
            for path, data in case.extra:
                if _yank_marker(path):  # on GCS a yank is object metadata, set before the event
                    continue
                _upload(bucket, path, data)
            names[kind] = _upload(bucket, case.path, case.data)
            for path, data in case.extra:
                if _yank_marker(path):
                    storage.set_metadata(
                        path.removesuffix(".yanked"), "pypapo-yanked", data.decode().strip()
                    )
        with ThreadPoolExecutor(2) as pool:
            statuses = dict(
                zip(
                    names,
                    pool.map(
                        lambda n: function.post_event("finalized", n, "structured"), names.values()
                    ),
                    strict=True,
                )
            )
        after_events = index_pages(storage)
        log = function.log_lines()
    report = build(storage)
    yield Outcome(
        cases, statuses, log, reference, after_events, index_pages(storage), report.errors
    )
    for blob in bucket.client.list_blobs(bucket):
        blob.delete()
    bucket.delete()


def _lines_for(outcome: Outcome, path: str) -> list[dict[str, Any]]:
    """The function's log lines about one object (``object`` is ``gs://bucket/idx/path``)."""
    return [
        line for line in outcome.log if str(line.get("object", "")).endswith(f"/{PREFIX}/{path}")
    ]


@pytest.mark.parametrize("kind", GCS_KINDS)
def test_function_then_build(kind: str, outcome: Outcome) -> None:
    case = outcome.cases[kind]
    assert outcome.statuses[kind] == 200  # bad input is acknowledged, never retried forever
    lines = _lines_for(outcome, case.path)
    errors = [line for line in lines if line["severity"] == "ERROR"]
    outcomes = {line.get("outcome") for line in lines if line["severity"] == "INFO"}
    if kind in RESERVED or kind in REPAIRED_BY_BUILD:
        # the loop guard cannot tell a user's object under simple/ from the function's own
        assert errors == []
        assert any(line.get("outcome") == "own-write" for line in lines), lines
    elif case.expected is None:
        assert errors == []
        assert outcomes <= {"refreshed", "ignored"} and outcomes, lines
    else:
        assert len(errors) == 1, lines
        [error] = errors
        assert error["message"].startswith(f"skipped {case.path}: ")
        assert case.expected in error["reason"]
        assert error["outcome"] == "bad-input"

    built = [e for e in outcome.build_errors if e.path == case.path]
    if case.expected is None:
        assert built == []
    else:
        assert len(built) == 1, [str(e) for e in outcome.build_errors]
        assert case.expected in built[0].reason
        assert str(built[0]) == f"{case.path}: {built[0].reason}"


def test_pages_after_events(outcome: Outcome) -> None:
    forged = {badcorpus.forged_project_page().path}
    healthy = {k: v for k, v in outcome.after_events.items() if k not in forged}
    assert all_page_problems(healthy) == []
    baseline = project_pages(outcome.after_events, BASELINE_PROJECTS)
    assert {k: v for k, v in baseline.items() if k not in forged} == {
        k: v for k, v in outcome.reference.items() if k not in forged
    }
    # (the forged page may stay until the next refresh of its project or the next build)


def test_pages_after_build(outcome: Outcome) -> None:
    assert all_page_problems(outcome.after_build) == []
    assert project_pages(outcome.after_build, BASELINE_PROJECTS) == outcome.reference
    # the incremental result of the events equals the build for every page it may write
    forged = {badcorpus.forged_project_page().path}
    assert {k: v for k, v in outcome.after_events.items() if k not in forged} == {
        k: v for k, v in outcome.after_build.items() if k not in forged
    }


def test_overlong_name_is_reported_on_gcs(outcome: Outcome) -> None:
    """The one kind no local file system can hold."""
    case = outcome.cases["overlong_file_name"]
    assert any(e.path == case.path and "longer than" in e.reason for e in outcome.build_errors)


def test_page_checks_see_the_bucket(outcome: Outcome, tmp_path: Path) -> None:
    """Sanity: the pages compared above exist (a broken listing would compare empty sets)."""
    assert len(outcome.after_build) >= 2 * len(BASELINE_PROJECTS) + 2
    assert "browse/xsssum/index.html" in outcome.after_build
