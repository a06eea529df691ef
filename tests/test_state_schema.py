"""Project states are input: a ``.state.json`` anyone with write access to the bucket can edit.
``ProjectState.from_json`` accepts only what pypapo writes; anything else, however well-formed
as JSON, is a ``ValueError``, so a refresh reports a ``CorruptStateError`` (and acknowledges the
event) and ``pypapo build`` rebuilds the project to the bytes of a scratch build.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pypapo.build import build
from pypapo.errors import CorruptStateError
from pypapo.layout import state_path
from pypapo.model import MAX_STATE_BYTES, ProjectState
from pypapo.refresh import refresh
from pypapo.storage.local import LocalStorage
from tests.support.index import snapshot
from tests.support.tools import add_sdist, add_wheel

Body = dict[str, Any]
SHA = "ab" * 32


def _record(**changes: Any) -> Callable[[Body], Body]:
    def change(body: Body) -> Body:
        body["records"][0].update(changes)
        return body

    return change


def _drop(key: str) -> Callable[[Body], Body]:
    def change(body: Body) -> Body:
        del body["records"][0][key]
        return body

    return change


def _top(**changes: Any) -> Callable[[Body], Body]:
    def change(body: Body) -> Body:
        body.update(changes)
        return body

    return change


def _json(change: Callable[[Body], Body]) -> Callable[[Body], bytes]:
    return lambda body: json.dumps(change(body)).encode()


def _raw(data: bytes) -> Callable[[Body], bytes]:
    return lambda _body: data


def _twice(body: Body) -> Body:
    body["records"].append(dict(body["records"][0]))
    return body


def _huge(body: Body) -> bytes:
    text = json.dumps(body)
    return (text[:-1] + " " * MAX_STATE_BYTES + "}").encode()


def _nested(depth: int) -> bytes:
    return b'{"format":1,"name":"proj","records":' + b"[" * depth + b"]" * depth + b"}"


BAD_STATES: dict[str, Callable[[Body], bytes]] = {
    "version not PEP 440": _json(_record(version="not a version")),
    "version a number": _json(_record(version=1.0)),
    "version of another file": _json(_record(version="9.9")),
    "path a number": _json(_record(path=42)),
    "path with '..'": _json(_record(path="x/../proj-1.0-py3-none-any.whl")),
    "path with a leading '/'": _json(_record(path="/proj-1.0-py3-none-any.whl")),
    "path with a newline": _json(_record(path="a\nb/proj-1.0-py3-none-any.whl")),
    "path of another project": _json(_record(path="pkgs/other-1.0-py3-none-any.whl")),
    "path not a distribution": _json(_record(path="pkgs/README.md")),
    "path a sidecar": _json(_record(path="pkgs/proj-1.0-py3-none-any.whl.metadata")),
    "path inside simple/": _json(_record(path="simple/proj/proj-1.0-py3-none-any.whl")),
    "file name unparsable": _json(_record(path="pkgs/proj.whl", filename="proj.whl")),
    "file name not the path's": _json(_record(filename="proj-2.0-py3-none-any.whl")),
    "size a string": _json(_record(size="1234")),
    "size negative": _json(_record(size=-1)),
    "size a bool": _json(_record(size=True)),
    "size a float": _json(_record(size=12.0)),
    "size huge": _json(_record(size=1 << 70)),
    "size NaN": _json(_record(size=float("nan"))),
    "size of 5,000 digits": lambda body: (
        json.dumps(_record(size=987654321)(body)).replace("987654321", "9" * 5000).encode()
    ),
    "sha256 short": _json(_record(sha256="abc")),
    "sha256 not hex": _json(_record(sha256="z" * 64)),
    "sha256 a number": _json(_record(sha256=1234)),
    "metadata_sha256 not hex": _json(_record(metadata_sha256="nope")),
    "upload_time garbage": _json(_record(upload_time="yesterday")),
    "upload_time year 99999": _json(_record(upload_time="99999-01-01T00:00:00.000000Z")),
    "upload_time without zone": _json(_record(upload_time="2026-01-01T00:00:00.000000")),
    "upload_time a number": _json(_record(upload_time=1700000000)),
    "generation a number": _json(_record(generation=5)),
    "generation empty": _json(_record(generation="")),
    "generation with a newline": _json(_record(generation="1\n2")),
    "yanked a bool": _json(_record(yanked=True)),
    "yanked a number": _json(_record(yanked=1)),
    "yanked a list": _json(_record(yanked=["broken"])),
    "requires_python a number": _json(_record(requires_python=3.8)),
    "requires_python invalid": _json(_record(requires_python=">=banana")),
    "summary a dict": _json(_record(summary={"a": 1})),
    "summary huge": _json(_record(summary="s" * (5 << 20))),
    "summary past PyPI's limit": _json(_record(summary="s" * 513)),
    "requires_python huge": _json(_record(requires_python=">=3" + ",!=3.1" * 200_000)),
    "yanked huge": _json(_record(yanked="y" * (1 << 20))),
    "missing key": _json(_drop("sha256")),
    "extra key": _json(_record(evil="<script>")),
    "extra top-level key": _json(_top(extra=1)),
    "records a dict": _json(_top(records={})),
    "records null": _json(_top(records=None)),
    "record a list": _json(_top(records=[[1, 2]])),
    "record null": _json(_top(records=[None])),
    "same path twice": _json(_twice),
    "name a number": _json(_top(name=5)),
    "name not normalized": _json(_top(name="Proj")),
    "name invalid": _json(_top(name="-proj-")),
    "format a bool": _json(_top(format=True)),
    "format a string": _json(_top(format="1")),
    "format missing": _json(lambda b: {k: v for k, v in b.items() if k != "format"}),
    "state a list": _raw(b"[]"),
    "state a string": _raw(b'"state"'),
    "state null": _raw(b"null"),
    "state a number": _raw(b"1"),
    "not JSON": _raw(b"{"),
    "not UTF-8": _raw(b'{"format":1,"name":"pr\xffoj","records":[]}'),
    "nested 100,000 deep": _raw(_nested(100_000)),
    "larger than the bound": _huge,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    add_wheel(root, "proj", "1.0")
    add_sdist(root, "proj", "1.0")
    add_wheel(root, "proj", "1.1", requires_python=">=3.9", summary="the project")
    add_wheel(root, "other", "1.0")
    return root


@pytest.fixture
def index(template: Path, tmp_path: Path) -> tuple[LocalStorage, dict[str, bytes], Body]:
    """A fresh copy of the files, built from scratch: its snapshot and proj's state."""
    root = tmp_path / "index"
    shutil.copytree(template, root)
    storage = LocalStorage(root)
    build(storage, workers=1)
    body = json.loads((root / state_path("proj")).read_bytes())
    return storage, snapshot(storage), body


def test_pypapo_reads_what_it_writes(index: tuple[LocalStorage, dict[str, bytes], Body]) -> None:
    storage, _, _ = index
    blob = storage.get(state_path("proj"))
    assert blob is not None
    state = ProjectState.from_json(blob.data)
    assert state.to_json() == blob.data
    assert len(state.records) == 3
    assert any(r.requires_python == ">=3.9" for r in state.records)


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_an_ill_typed_state_is_rejected(
    case: str, index: tuple[LocalStorage, dict[str, bytes], Body]
) -> None:
    _, _, body = index
    with pytest.raises(ValueError, match=r"\S") as caught:
        ProjectState.from_json(BAD_STATES[case](copy.deepcopy(body)))
    assert len(str(caught.value)) < 500  # a message, not the input echoed back


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_refresh_reports_it_and_build_rebuilds(
    case: str, index: tuple[LocalStorage, dict[str, bytes], Body]
) -> None:
    storage, scratch, body = index
    (Path(storage.root) / state_path("proj")).write_bytes(BAD_STATES[case](copy.deepcopy(body)))
    report = refresh(storage, ["pkgs/proj-1.1-py3-none-any.whl", "pkgs/other-1.0-py3-none-any.whl"])
    [error] = report.errors
    assert isinstance(error, CorruptStateError)
    assert error.path == state_path("proj")
    assert str(error).startswith(f"{state_path('proj')}: unreadable project state (")
    assert report.projects == {"other"}  # the other project still gets its refresh
    build(storage, workers=1)
    assert snapshot(storage) == scratch
