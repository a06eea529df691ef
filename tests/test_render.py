"""Rendering is pure and exact: golden pages, parsed back with a real client-side parser."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pypi_simple import IndexPage, ProjectPage

from pypapo import render
from pypapo.model import FileRecord, ProjectState

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PYPAPO_UPDATE_GOLDEN") == "1"

STATE = ProjectState.of(
    "Foo.Bar",
    [
        FileRecord(
            path="pkgs/foo_bar-1.0-py3-none-any.whl",
            filename="foo_bar-1.0-py3-none-any.whl",
            version="1.0",
            size=1234,
            sha256="a" * 64,
            upload_time="2026-01-02T03:04:05.123456Z",
            generation="1",
            requires_python=">=3.8,<4",
            metadata_sha256="b" * 64,
            summary="<script>alert(1)</script>",
        ),
        FileRecord(
            path="team a/ü/foo_bar-1.10.tar.gz",
            filename="foo_bar-1.10.tar.gz",
            version="1.10",
            size=99,
            sha256="c" * 64,
            upload_time="2026-01-03T00:00:00.000000Z",
            generation="2",
            yanked='broken "build" <b>',
        ),
        FileRecord(
            path="foo_bar-1.9.zip",
            filename="foo_bar-1.9.zip",
            version="1.9",
            size=7,
            sha256="d" * 64,
            upload_time="2026-01-01T00:00:00.000000Z",
            generation="3",
            yanked="",
        ),
    ],
)


def _golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{name} differs from its golden file"


@pytest.mark.parametrize(
    ("name", "render_page"),
    [
        ("project.html", lambda: render.project_html(STATE)),
        ("project.json", lambda: render.project_json(STATE)),
        ("root.html", lambda: render.root_html(["foo-bar", "a"])),
        ("root.json", lambda: render.root_json(["foo-bar", "a"])),
    ],
)
def test_golden_pages(name: str, render_page: object) -> None:
    _golden(name, render_page())  # type: ignore[operator]


def test_html_parses_with_pypi_simple() -> None:
    page = ProjectPage.from_html(
        "foo-bar", render.project_html(STATE).decode(), base_url="https://idx/simple/foo-bar/"
    )
    assert page.repository_version == "1.1"
    wheel, sdist, sdist_zip = page.packages
    assert wheel.url == "https://idx/pkgs/foo_bar-1.0-py3-none-any.whl"
    assert wheel.digests == {"sha256": "a" * 64}
    assert wheel.requires_python == ">=3.8,<4"
    assert wheel.has_metadata is True
    assert wheel.metadata_digests == {"sha256": "b" * 64}
    assert wheel.is_yanked is False
    assert sdist.url == "https://idx/team%20a/%C3%BC/foo_bar-1.10.tar.gz"
    assert sdist.is_yanked is True
    assert sdist.yanked_reason == 'broken "build" <b>'
    assert sdist.has_metadata is None
    assert sdist_zip.is_yanked is True
    assert sdist_zip.yanked_reason in ("", None)


def test_html_escapes_attribute_values() -> None:
    html = render.project_html(STATE).decode()
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in html
    assert 'data-yanked="broken &#34;build&#34; &lt;b&gt;"' in html
    assert "<b>" not in html


def test_json_parses_with_pypi_simple() -> None:
    data = json.loads(render.project_json(STATE))
    page = ProjectPage.from_json_data(data, base_url="https://idx/simple/foo-bar/")
    assert page.project == "foo-bar"
    wheel, sdist, sdist_zip = page.packages
    assert wheel.size == 1234
    assert wheel.upload_time is not None
    assert wheel.upload_time.isoformat() == "2026-01-02T03:04:05.123456+00:00"
    assert wheel.metadata_digests == {"sha256": "b" * 64}
    assert sdist.yanked_reason == 'broken "build" <b>'
    assert sdist_zip.is_yanked is True
    assert page.versions == ["1.0", "1.9", "1.10"]  # packaging order, not string order
    for entry in data["files"]:
        assert "hashes" in entry
        assert entry["core-metadata"] == entry["dist-info-metadata"]


def test_root_pages_parse() -> None:
    html = IndexPage.from_html(render.root_html(["b", "a"]))
    assert html.projects == ["a", "b"]
    assert html.repository_version == "1.1"
    assert 'href="a/"' in render.root_html(["a"]).decode()
    data = IndexPage.from_json_data(json.loads(render.root_json(["b", "a"])))
    assert data.projects == ["a", "b"]


def test_state_round_trips_through_json() -> None:
    assert ProjectState.from_json(STATE.to_json()) == STATE
    assert STATE.to_json() == ProjectState.from_json(STATE.to_json()).to_json()
