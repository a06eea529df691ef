"""Object paths: which are distributions, which are pypapo's own, what a file name says."""

from __future__ import annotations

import pytest
from packaging.version import Version

from pypapo.errors import InvalidFilenameError
from pypapo.layout import (
    check_object_name,
    is_own_write,
    looks_like_distribution,
    parse_dist_filename,
)

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


WHEEL = "evil-1.0-py3-none-any.whl"
UNSAFE_NAMES = [
    (f"x/../{WHEEL}", "'..' segment"),
    (f"../{WHEEL}", "'..' segment"),
    (f"./{WHEEL}", "'.' segment"),
    (f"pkgs/./{WHEEL}", "'.' segment"),
    (f"/{WHEEL}", "starts with '/'"),
    (f"//{WHEEL}", "starts with '/'"),
    (f"packages//{WHEEL}", "empty segment"),
    (f"simple/../{WHEEL}", "'..' segment"),
    (f"nul\x00/{WHEEL}", "unsafe character U+0000"),
    (f"line\n/{WHEEL}", "unsafe character U+000A"),
    (f"cr\r/{WHEEL}", "unsafe character U+000D"),
    (f"esc\x1b[31m/{WHEEL}", "unsafe character U+001B"),
    (f"del\x7f/{WHEEL}", "unsafe character U+007F"),
    (f"c1\x85/{WHEEL}", "unsafe character U+0085"),
    (f"bidi\u202e/{WHEEL}", "unsafe character U+202E"),
    (f"sep\u2028/{WHEEL}", "unsafe character U+2028"),
    (f"lone\ud800/{WHEEL}", "unsafe character U+D800"),
    (f"win\\..\\{WHEEL}", "backslash"),
    (f"a\\b/{WHEEL}", "backslash"),
    ("d/" * 600 + WHEEL, "longer than 1024 bytes"),
    ("é" * 600 + "/" + WHEEL, "longer than 1024 bytes"),
    ("x" * 10_000_000 + "/" + WHEEL, "longer than 1024 bytes"),
]


@pytest.mark.parametrize(("path", "reason"), UNSAFE_NAMES, ids=lambda v: repr(v)[:40])
def test_unsafe_object_names_are_bad_file_names(path: str, reason: str) -> None:
    """An object name is input: any shape a storage or a file system could read as another
    place is a bad file name, whatever its file name says."""
    with pytest.raises(InvalidFilenameError) as caught:
        check_object_name(path)
    assert caught.value.path == path
    assert reason in caught.value.reason
    with pytest.raises(InvalidFilenameError) as parsed:
        parse_dist_filename(path)
    assert parsed.value.path == path
    assert reason in parsed.value.reason
    # never mistaken for pypapo's own write, which the function drops without a word
    assert not is_own_write(path)
    assert looks_like_distribution(path)


@pytest.mark.parametrize(
    "path",
    [
        f"simple/../{WHEEL}",
        f"simple//x/{WHEEL}",
        f"browse/\n/{WHEEL}",
        f"/simple/x/{WHEEL}",
        f"x/../{WHEEL}.metadata/../{WHEEL}",
        f"x/.pypapo-tmp-/../{WHEEL}",
        f"pkgs/\x00.pypapo-tmp-{WHEEL}",
    ],
    ids=repr,
)
def test_unsafe_names_are_never_own_writes(path: str) -> None:
    """pypapo writes only safe names, so an unsafe one in its namespace is someone else's."""
    assert not is_own_write(path)
    assert looks_like_distribution(path)
    with pytest.raises(InvalidFilenameError):
        parse_dist_filename(path)


@pytest.mark.parametrize(
    "path",
    [
        WHEEL,
        f"team a/ü 文件/{WHEEL}",
        f'up/"><script>alert(1)</script>/{WHEEL}',
        f"a.b/..c/c../...{'/x' * 3}/{WHEEL}",
        f"emoji \U0001f600/{WHEEL}",
        "d/" * 400 + WHEEL,
    ],
    ids=lambda v: repr(v)[:40],
)
def test_odd_but_safe_names_pass(path: str) -> None:
    check_object_name(path)
    assert parse_dist_filename(path).project == "evil"
