"""Name ranges of a sharded build (``pypapo.shards``): every name has exactly one task, a
project's objects are all in its task's selection wherever they live, and the ``matchGlob``
the GCS adapter sends says what the selection says (against a model of GCS's documented glob
semantics: GCS itself is not reachable here, and the emulator ignores the glob)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from pypapo import shards
from pypapo.build import Shard
from pypapo.storage import Part, basename_key
from pypapo.storage.gcs import basename_glob
from pypapo.storage.local import LocalStorage

COUNTS = (1, 2, 3, 5, 7, 10, 16, 40, 64)

ODD_NAMES = [
    "a",
    "z",
    "0",
    "9",
    "1a",
    "a1",
    "py",
    "py-",
    "pyt",
    "py-t",
    "py_t",
    "Py.T",
    "PY__t",
    "p",
    "p-y",
    "a-b",
    "a--b",
    "A_B",
    "a.b",
    "ab",
    "od",
    "odoo",
    "Odoo-Addon-X",
    "zz",
    "zzzz",
    "numpy",
    "NumPy",
    "django",
    "s",
    "s3",
    "scipy",
    "x-",
    "q",
    "00",
    "0-0",
    "requests",
]


def _names(count: int, seed: int = 7) -> list[str]:
    """Random PEP 508 names: mixed case, digits first, separators inside, single characters."""
    rng = random.Random(seed)
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    names = list(ODD_NAMES)
    for _ in range(count):
        length = rng.choice((1, 1, 2, 3, 4, 8))
        chars = [rng.choice(alnum)]
        for _ in range(length - 1):
            chars.append(rng.choice(alnum + "-_." * 3) if chars[-1] not in "-_." else "x")
        names.append("".join(chars).rstrip("-_.") or "a")
    return names


def _spellings(name: str, rng: random.Random) -> list[str]:
    """File basenames of the project, as uploaders spell them."""
    wheel = re.sub(r"[-_.]+", "_", name)
    cased = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
    return [
        f"{wheel}-1.0-py3-none-any.whl",
        f"{cased}-2.0.tar.gz",
        f"{name.replace('-', '.')}-0.1.zip",
        f"{cased}-1.0.tar.gz.metadata",
        f"{wheel}-1.0-py3-none-any.whl.publish.attestation",
        f"{wheel}-1.0-py3-none-any.whl.provenance",
        f"{cased}-2.0.tar.gz.yanked",
    ]


def _owners(path: str, count: int) -> list[int]:
    return [
        i for i in range(count) if any(part.matches(path) for part in shards.selection(i, count))
    ]


@pytest.mark.parametrize("count", COUNTS)
def test_every_project_is_owned_by_exactly_one_shard(count: int) -> None:
    for name in _names(400):
        owners = [i for i in range(count) if Shard(i, count).owns(name)]
        assert len(owners) == 1, name
        # whichever spelling names it
        assert Shard(owners[0], count).owns(canonicalize_name(name))


@pytest.mark.parametrize("count", [2, 3, 10, 40, 64])
def test_every_object_of_a_project_is_listed_by_its_owner_alone(count: int) -> None:
    rng = random.Random(count)
    for name in _names(150, seed=count):
        owner = next(i for i in range(count) if Shard(i, count).owns(name))
        normal = canonicalize_name(name)
        paths = [f"{folder}{b}" for b in _spellings(name, rng) for folder in ("", "a/b/", "X/")]
        paths += [f"simple/.quarantine/pkgs/{b}" for b in _spellings(name, rng)]
        paths += [
            f"simple/{normal}/index.html",
            f"simple/{normal}/.state.json",
            f"simple/{normal}/.published",
            f"browse/{normal}/index.html",
            f"status/{normal}.json",
        ]
        for path in paths:
            assert _owners(path, count) == [owner], (name, path)


@pytest.mark.parametrize("count", [2, 5, 40])
def test_any_object_name_is_listed_by_exactly_one_shard(count: int) -> None:
    """Bad input included: whatever the name, exactly one task sees it (and reports it)."""
    rng = random.Random(count)
    alphabet = "aZ09-_./ .~+ñ{[*"
    odd = ["simple/index.json", "simple/.roots", "simple/.queue/x", "browse/index.html", "simple/"]
    odd += ["simple0", "browse0/x", "simple/.quarantine0", "-x-1.0.tar.gz", "ñame-1.0.tar.gz"]
    odd += ["status/", "a", "_", "x//y.whl", "simple/Foo/index.html", "pkgs/+x-1.0.zip"]
    for _ in range(3000):
        odd.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    for path in odd:
        assert len(_owners(path, count)) == 1, path


def test_one_shard_lists_everything() -> None:
    assert Shard(0, 1).selection() is None


# -- the matchGlob ------------------------------------------------------------------------


def _gcs_glob_regex(glob: str, *, class_matches_slash: bool) -> re.Pattern[str]:
    """GCS's documented matchGlob syntax as a regular expression: ``*`` any characters but
    ``/``, ``**`` any characters, ``?`` one character but ``/``, ``[abc]``, ``[a-c]``,
    ``[!abc]`` (whether a negated class matches ``/`` is not documented: both are tried),
    ``{a,b}`` alternatives."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.index("]", i + 2)
            body = glob[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:] + ("" if class_matches_slash else "/")
            out.append("[" + body + "]")
            i = end + 1
        elif c == "{":
            end = glob.index("}", i)
            out.append("(?:")
            for n, option in enumerate(glob[i + 1 : end].split(",")):
                regex = _gcs_glob_regex(option, class_matches_slash=class_matches_slash)
                out.append(("|" if n else "") + regex.pattern.removesuffix(r"\Z"))
            out.append(")")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _object_names(rng: random.Random) -> list[str]:
    heads = ["", "pkgs/", "a/b/c/", "Py/", "py/", "simple/.quarantine/x/", "0/"]
    tails = ["-1.0.tar.gz", "_x-1.0-py3-none-any.whl", "", ".json", "-"]
    names = []
    for name in [*_names(300, seed=3), "-a", "_a", ".a", "ñ", "+", "Ä", "a/", "A"]:
        for head in heads:
            names.append(head + name + rng.choice(tails))
    return names


@pytest.mark.parametrize("prefix", ["", "team/index/"])
@pytest.mark.parametrize("class_matches_slash", [False, True])
def test_the_glob_matches_the_basenames_a_part_selects(
    prefix: str, class_matches_slash: bool
) -> None:
    names = _object_names(random.Random(1))
    for count in (2, 3, 10, 40):
        for index in range(count):
            keys = shards.initials(index, count)
            glob = basename_glob(prefix, keys)
            assert glob is not None
            regex = _gcs_glob_regex(glob, class_matches_slash=class_matches_slash)
            part = Part(initials=keys)
            for name in names:
                assert bool(regex.match(prefix + name)) == part.matches(name), (glob, name)


def test_no_glob_where_the_prefix_would_need_escaping() -> None:
    assert basename_glob("a[1]/", frozenset({"a"})) is None
    assert basename_glob("", frozenset()) is None


def test_an_initial_has_a_dash_only_at_its_end() -> None:
    with pytest.raises(ValueError, match="not an initial"):
        Part(initials=frozenset({"a-b"}))
    assert basename_key("A_b") == "a-b"
    assert basename_key("x") == "x--"


# -- the weight table --------------------------------------------------------------------


def test_the_leaves_cover_every_key_once() -> None:
    leaves = [leaf for leaf, _ in shards.leaves()]
    keys = ["".join((a, b, c)) for a in "-0az" for b in "-0az" for c in "-9y"]
    for key in keys:
        assert sum(key.startswith(leaf) for leaf in leaves) == 1, key
    # never a boundary between the project "a" and the projects "a-…"
    assert not any("-" in leaf[:-1] for leaf in leaves)


@pytest.mark.parametrize("count", [2, 10, 40])
def test_the_ranges_share_the_weight_evenly(count: int) -> None:
    weights = [0] * count
    for leaf, weight in shards.leaves():
        weights[shards.owner(leaf.ljust(3, "-"), count)] += weight
    even = sum(weights) / count
    assert max(weights) <= 1.3 * even
    assert min(weights) >= 0.7 * even


# -- a folder's listing ------------------------------------------------------------------


def test_a_folder_lists_a_selection_as_it_filters_the_whole_listing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    rng = random.Random(5)
    paths: set[str] = set()
    for name in _names(60, seed=9):
        paths.update(f"pkgs/{b}" for b in _spellings(name, rng)[:3])
        paths.add(f"simple/{canonicalize_name(name)}/index.html")
        paths.add(f"{_spellings(name, rng)[1]}")
    for path in paths:
        storage.put(path, b"x", content_type="text/plain")
    everything = {i.path for i in storage.list()}
    for index in range(3):
        within = shards.selection(index, 3)
        listed = [i.path for i in storage.list(within=within)]
        assert len(listed) == len(set(listed))
        assert set(listed) == {p for p in everything if any(x.matches(p) for x in within)}
