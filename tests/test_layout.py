"""Object paths: which are distributions, which are pypapo's own, what a file name says."""

from __future__ import annotations

import pytest
from packaging.version import Version

from pypapo.errors import InvalidFilenameError
from pypapo.layout import is_own_write, looks_like_distribution, parse_dist_filename

NAMES = [
    ("foo-1.0-py3-none-any.whl", "foo", "1.0", "wheel"),
    ("pkgs/Foo_Bar-2.0rc1-1-cp311-cp311-manylinux_2_17_x86_64.whl", "foo-bar", "2.0rc1", "wheel"),
    ("a b/zope.interface-5.0.tar.gz", "zope-interface", "5.0", "sdist"),
    ("deep/x/y/foo_bar-1.0.post1.zip", "foo-bar", "1.0.post1", "sdist"),
    ("ü/foo-1!2.0.tar.gz", "foo", "1!2.0", "sdist"),
]


@pytest.mark.parametrize(("path", "project", "version", "kind"), NAMES)
def test_parse_dist_filename(path: str, project: str, version: str, kind: str) -> None:
    dist = parse_dist_filename(path)
    assert (dist.project, dist.version, dist.kind) == (project, Version(version), kind)
    assert dist.filename == path.rsplit("/", 1)[-1]


BAD_NAMES = [
    ("foo.whl", "invalid wheel filename (wrong number of parts)"),
    ("foo-1.0-py3-none.whl", "invalid wheel filename (wrong number of parts)"),
    ("foo-notaversion-py3-none-any.whl", "invalid wheel filename (invalid version)"),
    ("foo.tar.gz", "invalid sdist filename"),
    ("foo-bar.tar.gz", "invalid sdist filename (invalid version)"),
    ("foo-1.0.tar.bz2", "not a .whl, .tar.gz or .zip distribution"),
    ("x" * 250 + "-1.0.tar.gz", "file name longer than 246 bytes"),
]


@pytest.mark.parametrize(("path", "message"), BAD_NAMES)
def test_bad_file_names_name_the_file_and_reason(path: str, message: str) -> None:
    with pytest.raises(InvalidFilenameError) as caught:
        parse_dist_filename("up/" + path)
    assert caught.value.path == "up/" + path
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"up/{path}: ")


@pytest.mark.parametrize(
    ("path", "own", "dist"),
    [
        ("simple/index.html", True, False),
        ("simple/foo/foo-1.0-py3-none-any.whl", True, False),
        ("browse/foo/index.html", True, False),
        ("foo-1.0-py3-none-any.whl.metadata", True, False),
        ("foo-1.0-py3-none-any.whl.yanked", True, False),
        ("pkgs/.pypapo-tmp-index.html-1-2", True, False),
        ("foo-1.0-py3-none-any.whl", False, True),
        ("foo-1.0.tar.gz", False, True),
        ("foo-1.0.zip", False, True),
        ("README.md", False, False),
        ("foo-1.0.egg", False, False),
    ],
)
def test_own_writes_and_distributions(path: str, own: bool, dist: bool) -> None:
    assert is_own_write(path) is own
    assert looks_like_distribution(path) is dist
