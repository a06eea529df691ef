"""The Simple API page parsers read back what the renderers write: ``parse(render(s)) == s`` for
project and root pages, JSON and HTML, over generated states. A state here holds what a page
can say: records without a storage generation or summary (neither is on a page), every record
served, and a status whose ``since`` is empty (nor is that)."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from packaging.utils import NormalizedName, canonicalize_name

from pypapo import render
from pypapo.model import FileRecord, ProjectState
from pypapo.pages import (
    PageError,
    parse_project_html,
    parse_project_json,
    parse_root_html,
    parse_root_json,
)
from pypapo.status import Status

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4}){0,2}", fullmatch=True).map(
    canonicalize_name
)
VERSIONS = st.builds(
    "{}.{}{}".format,
    st.integers(0, 30),
    st.integers(0, 9),
    st.sampled_from(["", "rc1", ".post2", ".dev3", "a1"]),
)
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")) | st.sampled_from("<>&\"'"),
    max_size=12,
)
SHA = st.text("0123456789abcdef", min_size=64, max_size=64)
FOLDERS = st.sampled_from(["pkgs", "a b/c", "ünï", "x%y", "libs/deep"])
TIMES = st.sampled_from(["", "2024-01-02T03:04:05.000006Z", "2026-12-31T23:59:59.999999Z"])


@st.composite
def records(draw: st.DrawFn, name: NormalizedName) -> FileRecord:
    version = draw(VERSIONS)
    stem = f"{name.replace('-', '_')}-{version}"
    filename = draw(st.sampled_from([f"{stem}-py3-none-any.whl", f"{stem}.tar.gz"]))
    return FileRecord(
        path=f"{draw(FOLDERS)}/{filename}",
        filename=filename,
        version=version,
        size=draw(st.integers(0, 1 << 40)),
        sha256=draw(SHA),
        upload_time=draw(TIMES),
        generation="",
        requires_python=draw(st.none() | st.sampled_from([">=3.8", "<4,>=3.10", "!=3.0.*"])),
        yanked=draw(st.none() | TEXT),
        metadata_sha256=draw(st.none() | SHA),
    )


@st.composite
def states(draw: st.DrawFn) -> ProjectState:
    name = draw(NAMES)
    files = draw(st.lists(records(name), max_size=6, unique_by=lambda r: r.filename.lower()))
    status = draw(
        st.none()
        | st.builds(
            Status,
            st.sampled_from(["archived", "quarantined", "deprecated"]),
            st.none() | TEXT,
            st.just(""),
        )
    )
    state = ProjectState.of(name, files, status)
    assume(state.served() == list(state.records))  # only what a page shows can come back
    return state


# no deadline: CI machines are shared and slow; the examples count, not their speed
ROUND_TRIP = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


@ROUND_TRIP
@given(states())
def test_project_json_round_trips(state: ProjectState) -> None:
    page = parse_project_json(render.project_json(state), state.name)
    assert page.bad_links == []
    assert page.state() == state


@ROUND_TRIP
@given(states())
def test_project_html_round_trips(state: ProjectState) -> None:
    page = parse_project_html(render.project_html(state), state.name)
    assert page.bad_links == []
    assert page.state() == state


@given(st.sets(NAMES, max_size=8))
def test_root_pages_round_trip(names: set[str]) -> None:
    assert parse_root_json(render.root_json(names)) == names
    assert parse_root_html(render.root_html(names)) == names


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[]", "not a root page"),
        (b'{"projects": 5}', "not a root page"),
        (b'{"projects": [5]}', "not a root page"),
        (b"\xff", "not UTF-8"),
        (b"{", "not JSON"),
    ],
)
def test_a_bad_root_page_is_a_page_error(data: bytes, reason: str) -> None:
    with pytest.raises(PageError, match=reason):
        parse_root_json(data)


def test_an_html_page_of_another_index_is_read() -> None:
    """PEP 503 as other indexes write it: no data-size, other attribute order, entities,
    a hash other than sha256 (not mirrored: only sha256 is verified)."""
    sha = "a" * 64
    html = (
        "<!DOCTYPE html><html><body><h1>Links for Foo.Bar</h1>"
        f'<a data-requires-python="&gt;=3.8" href="../../f/foo_bar-1.0.tar.gz#sha256={sha}">'
        "foo_bar-1.0.tar.gz</a>"
        '<a href="../../f/foo_bar-2.0.tar.gz#md5=00">foo_bar-2.0.tar.gz</a>'
        "</body></html>"
    ).encode()
    page = parse_project_html(html, canonicalize_name("foo-bar"))
    [file] = page.files
    assert (file.record.path, file.record.requires_python, file.record.size) == (
        "f/foo_bar-1.0.tar.gz",
        ">=3.8",
        0,
    )
    [bad] = page.bad_links
    assert "sha256" in bad.reason


def test_names_of_any_alphabet_survive() -> None:
    names = {canonicalize_name(n) for n in string.ascii_lowercase}
    assert parse_root_html(render.root_html(names)) == names
