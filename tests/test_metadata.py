"""Core metadata parsing, cross-checks with the file name, and the PEP 658 sidecar decision."""

from __future__ import annotations

import time
import warnings
from email import policy
from email.parser import Parser

import pkginfo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.errors import InvalidMetadataError, MetadataMismatchError
from pypapo.layout import parse_dist_filename
from pypapo.metadata import (
    MAX_METADATA_BYTES,
    MAX_NAME,
    MAX_REQUIRES_PYTHON,
    MAX_SUMMARY,
    MAX_VERSION,
    METADATA_VERSIONS,
    check_matches_filename,
    parse_core_metadata,
    serves_sidecar,
)


def _meta(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n\nlong description\n").encode()


def test_parses_fields() -> None:
    meta = parse_core_metadata(
        "p",
        _meta(
            "Metadata-Version: 2.4",
            "Name: Foo.Bar",
            "Version: 1.0.post1",
            "Summary: a   summary\t folded ",
            "Requires-Python: >=3.9, <4",
            "Dynamic: Requires-Dist",
        ),
    )
    assert meta.name == "Foo.Bar"
    assert str(meta.version) == "1.0.post1"
    assert meta.requires_python == ">=3.9, <4"
    assert meta.summary == "a summary folded"
    assert meta.dynamic == ("requires-dist",)


BAD = [
    (b"\xff\xfe garbage", "metadata is not UTF-8"),
    (_meta("Metadata-Version: 2.1", "Version: 1.0"), "metadata has no Name"),
    (_meta("Metadata-Version: 2.1", "Name: foo"), "metadata has no Version"),
    (_meta("Metadata-Version: 2.1", "Name: foo", "Version: one"), "invalid Version 'one'"),
    (
        _meta("Metadata-Version: 2.1", "Name: foo", "Version: 1", "Requires-Python: >=3.x"),
        "invalid Requires-Python '>=3.x'",
    ),
    (
        _meta("Metadata-Version: 2.1", "Name: foo", "Version: 1", "Requires-Python: <script>"),
        "invalid Requires-Python '<script>'",
    ),
    (b"Name: foo\n" + b"X" * MAX_METADATA_BYTES, f"over {MAX_METADATA_BYTES}"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_bad_metadata(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        parse_core_metadata("pkgs/foo-1.whl", raw)
    assert str(caught.value).startswith("pkgs/foo-1.whl: ")
    assert message in str(caught.value)


def _with(*headers: str, metadata_version: str = "2.1") -> bytes:
    return _meta(f"Metadata-Version: {metadata_version}", "Name: foo", "Version: 1.0", *headers)


# What PyPI's upload refuses, and the bounds on what reaches the state and the pages. Hostile
# sizes are megabytes: the length check must come before any parsing of the value.
REFUSED_AS_PYPI = [
    (
        _with("Summary: " + "s" * (MAX_SUMMARY + 1)),
        f"Summary is 513 characters, over {MAX_SUMMARY}",
    ),
    (_with("Summary: " + "s" * 4_000_000), "Summary is 4000000 characters"),
    (_with("Summary: two\n  lines"), "Summary must be a single line"),
    (_with("summary: two\r\n\tlines"), "Summary must be a single line"),
    (
        _with("Requires-Python: " + ",".join([">=3.8"] * 400_000)),
        f"Requires-Python is 2399999 characters, over {MAX_REQUIRES_PYTHON}",
    ),
    (_meta("Metadata-Version: 2.1", "Name: " + "n" * 4_000_000, "Version: 1"), "Name is 4000000"),
    (
        _meta("Metadata-Version: 2.1", "Name: foo", "Version: 1" + ".0" * 2_000_000),
        f"Version is 4000001 characters, over {MAX_VERSION}",
    ),
    (_with(metadata_version="3.0"), "Metadata-Version '3.0' is not a released"),
    (_with(metadata_version="2.9"), "Metadata-Version '2.9' is not a released"),
    (_with(metadata_version="2.10"), "Metadata-Version '2.10' is not a released"),
    (_with(metadata_version="1.3"), "Metadata-Version '1.3' is not a released"),
]


@pytest.mark.parametrize(("raw", "message"), REFUSED_AS_PYPI, ids=[m for _, m in REFUSED_AS_PYPI])
def test_refused_as_pypi_refuses_them_and_fast(raw: bytes, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(InvalidMetadataError) as caught:
        parse_core_metadata("pkgs/foo-1.whl", raw)
    assert time.perf_counter() - start < 1.0  # a 2.4 MB Requires-Python took 3.5 s to parse
    assert message in caught.value.reason
    assert len(caught.value.reason) < 200  # the value itself never goes into the message


def test_longest_accepted_values() -> None:
    raw = _meta(
        "Metadata-Version: 2.1",
        "Name: " + "n" * MAX_NAME,
        "Version: 1" + ".0" * ((MAX_VERSION - 1) // 2),
        "Summary: " + "s" * MAX_SUMMARY,
        "Requires-Python: " + ",".join([">=3.8"] * ((MAX_REQUIRES_PYTHON + 1) // 6)),
    )
    meta = parse_core_metadata("p", raw)
    assert len(meta.summary) == MAX_SUMMARY
    assert meta.requires_python is not None
    assert len(meta.requires_python) <= MAX_REQUIRES_PYTHON


@pytest.mark.parametrize("metadata_version", METADATA_VERSIONS)
def test_every_released_metadata_version_is_accepted(metadata_version: str) -> None:
    meta = parse_core_metadata("p", _with(metadata_version=metadata_version))
    assert meta.metadata_version == metadata_version


def test_released_metadata_versions_cover_pypi_and_packaging() -> None:
    """Everything PyPI accepts today, and 2.0, which bdist_wheel wrote before 0.31 (PyPI
    stopped accepting new uploads of it in 2024; it still serves thousands)."""
    pypi = {"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"}
    assert pypi | {"2.0"} <= set(METADATA_VERSIONS)
    assert all(Version(v) <= Version("2.6") for v in METADATA_VERSIONS)


@pytest.mark.parametrize(
    ("filename", "name", "version", "message"),
    [
        (
            "foo-1.0.tar.gz",
            "bar",
            "1.0",
            "metadata Name 'bar' does not match file name project 'foo'",
        ),
        (
            "foo-1.0.tar.gz",
            "foo",
            "1.1",
            "metadata Version '1.1' does not match file name version '1.0'",
        ),
    ],
)
def test_mismatch_with_file_name(filename: str, name: str, version: str, message: str) -> None:
    meta = parse_core_metadata(
        filename, _meta("Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}")
    )
    with pytest.raises(MetadataMismatchError, match=message):
        check_matches_filename(filename, meta, parse_dist_filename(filename))


@pytest.mark.parametrize(
    ("filename", "name", "version"),
    [
        ("foo_bar-1.0.tar.gz", "FOO.Bar", "1.0.0"),
        ("foo-1.0.tar.gz", "Foo", "1"),
        ("a-1.0.zip", "A", "1.0"),
    ],
)
def test_equivalent_spellings_match(filename: str, name: str, version: str) -> None:
    meta = parse_core_metadata(
        filename, _meta("Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}")
    )
    dist = parse_dist_filename(filename)
    check_matches_filename(filename, meta, dist)  # raises on mismatch
    assert (canonicalize_name(meta.name), meta.version) == (dist.project, dist.version)


@pytest.mark.parametrize(
    ("filename", "metadata_version", "dynamic", "expected"),
    [
        ("foo-1.0-py3-none-any.whl", "2.1", [], True),
        ("foo-1.0-py3-none-any.whl", "2.2", ["Requires-Dist"], True),
        ("foo-1.0.tar.gz", "2.1", [], False),
        ("foo-1.0.tar.gz", "2.2", [], True),
        ("foo-1.0.tar.gz", "2.4", ["Summary"], True),
        ("foo-1.0.tar.gz", "2.2", ["Requires-Dist"], False),
        ("foo-1.0.zip", "2.3", ["requires-python"], False),
    ],
)
def test_sidecar_decision(
    filename: str, metadata_version: str, dynamic: list[str], expected: bool
) -> None:
    lines = [f"Metadata-Version: {metadata_version}", "Name: foo", "Version: 1.0"]
    lines += [f"Dynamic: {d}" for d in dynamic]
    meta = parse_core_metadata(filename, _meta(*lines))
    assert serves_sidecar(meta, parse_dist_filename(filename)) is expected


_HEADER_LINES = st.sampled_from(
    [
        "Metadata-Version: 1.0",
        "Metadata-Version: 2.1",
        "Metadata-Version: 2.2",
        "Metadata-Version: 2.4",
        "Metadata-Version: 9.9",
        "Name: Foo.Bar",
        "Name: other",
        "Version: 1.0",
        "Version: 2.0rc1",
        "Summary: one   line",
        "Summary: folded\n  over two",
        "Summary: UNKNOWN",
        "Requires-Python: >=3.9",
        "Requires-Python: >=3.8,\n  <4",
        "Dynamic: Requires-Dist",
        "Dynamic: version",
        "Requires-Dist: attrs",
        "Description: old style\n        |continued",
        "Classifier: Programming Language :: Python",
        "not a header line",
    ]
)


@given(
    headers=st.lists(_HEADER_LINES, max_size=10),
    body=st.sampled_from(["", "\n", "\nlong description\n\nwith: a colon\n", "\r\nbody"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
@settings(max_examples=300, deadline=None)
def test_fields_agree_with_plain_pkginfo(headers: list[str], body: str, newline: str) -> None:
    """Only the header block is parsed; the answer is what pkginfo makes of the whole file."""
    raw = (newline.join(headers) + newline + body).encode()
    plain = pkginfo.Distribution()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain.parse(raw)
    try:
        meta = parse_core_metadata("p", raw)
    except InvalidMetadataError:
        assert not plain.name or not plain.version or _invalid(plain) or _refused_by_pypi(raw)
        return
    assert not _refused_by_pypi(raw)
    assert (meta.name, str(meta.version)) == (plain.name, str(Version(plain.version or "")))
    assert meta.metadata_version == (plain.metadata_version or "1.0")
    assert meta.requires_python == ((plain.requires_python or "").strip() or None)
    assert meta.summary == " ".join((plain.summary or "").split())
    assert meta.dynamic == tuple(d.strip().lower() for d in plain.dynamic or ())


def _refused_by_pypi(raw: bytes) -> bool:
    """An unreleased Metadata-Version, or a Summary folded over lines, as the e-mail parser
    (PyPI's, through packaging.metadata) sees the headers."""
    message = Parser(policy=policy.compat32).parsestr(raw.decode())
    summary = message.get("Summary")
    folded = summary is not None and "\n" in summary
    return folded or message.get("Metadata-Version") not in METADATA_VERSIONS


def _invalid(plain: pkginfo.Distribution) -> bool:
    try:
        Version(plain.version or "")
        SpecifierSet(plain.requires_python or "")
    except (InvalidVersion, InvalidSpecifier):
        return True
    return False
