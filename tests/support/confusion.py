"""A dependency-confusion world for replaying the examples: a private index, a fake "public"
index offering higher versions of every private name, a consuming repository, and an
environment in which each client's own default index (PyPI) is that fake public index.

Every name the private index holds, with the version each side serves::

    name             private  public   depends on
    app              1.0      99.0     corp-lib, corp-secret, pubdep
    corp-lib         1.0      99.0
    corp-secret      1.0      99.0
    my-private-lib   1.0      99.0     app            (the name examples/environment.yml installs)
    pubdep           1.0      1.0 1.1                 (public, mirrored into the private index)
    pytest           1.0      1.0                     (a stand-in: `python -m pytest` exits 0)

The public 99.0 wheels keep the private dependencies, so one confused name drags its
dependencies along and the installed versions show every name that was confused. A client
that reads exactly one index installs ``PRIVATE`` (``pubdep`` 1.0 included); a client that
splits names between the indexes installs the private names from the private index and may
take ``pubdep`` 1.1 from the public one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import socket
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

PRIVATE_NAMES = ("app", "corp-lib", "corp-secret", "my-private-lib")
PRIVATE = {"app": "1.0", "corp-lib": "1.0", "corp-secret": "1.0", "my-private-lib": "1.0"}
CONFUSED = "99.0"

_DEPENDS = {
    "app": ["corp-lib>=1.0", "corp-secret>=1.0", "pubdep"],
    "my-private-lib": ["app"],
}

# `python -m pytest -q` and `pytest -q` in the examples run this stand-in (the real pytest
# is a public package that cannot be fetched here); it reports and succeeds
_PYTEST_STANDIN = {
    "pytest/__init__.py": b"def main():\n    print('stand-in pytest: ok')\n    return 0\n",
    "pytest/__main__.py": b"from pytest import main\n\nraise SystemExit(main())\n",
}


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def write_wheel(
    directory: Path,
    name: str,
    version: str,
    requires: list[str] | None = None,
    *,
    files: dict[str, bytes] | None = None,
    entry_points: str = "",
) -> Path:
    """An installable pure-Python wheel; its module records its name and version."""
    module = canonicalize_name(name).replace("-", "_")
    stem = f"{module}-{version}"
    dist_info = f"{stem}.dist-info"
    metadata = ["Metadata-Version: 2.3", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires or []]
    members = dict(files or {f"{module}/__init__.py": f"VERSION = {version!r}\n".encode()})
    members[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n\n").encode()
    members[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"
    )
    if entry_points:
        members[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = [_record_line(k, v) for k, v in members.items()] + [f"{dist_info}/RECORD,,"]
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in members.items():
            zf.writestr(zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0)), data)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}-py3-none-any.whl"
    path.write_bytes(buf.getvalue())
    return path


def _pytest_standin(directory: Path) -> None:
    write_wheel(
        directory,
        "pytest",
        "1.0",
        files=_PYTEST_STANDIN,
        entry_points="[console_scripts]\npytest = pytest:main\n",
    )


def write_private(root: Path) -> None:
    """The private index's distributions (a bucket: uploads under ``packages/``)."""
    for name, version in PRIVATE.items():
        write_wheel(root / "packages", name, version, _DEPENDS.get(name))
    write_wheel(root / "packages", "pubdep", "1.0")
    _pytest_standin(root / "packages")


def write_public(root: Path) -> None:
    """The fake public index: every private name at 99.0, and the public packages."""
    for name in PRIVATE_NAMES:
        write_wheel(root / "packages", name, CONFUSED, _DEPENDS.get(name))
    write_wheel(root / "packages", "pubdep", "1.0")
    write_wheel(root / "packages", "pubdep", "1.1")
    _pytest_standin(root / "packages")


# The consuming repository (Cloud Build's /workspace): a project installed with `-e .` whose own
# private dependency (my-private-lib) is not in requirements.txt, the case a partial mirror of
# requirements.txt used to miss. Its backend is in-tree and needs nothing from any index.
_BACKEND = '''\
"""A PEP 517/660 backend with no build requirements, for the consumer project."""
import base64, hashlib, os, zipfile

NAME, VERSION = "consumer", "0.1.0"
REQUIRES = ["my-private-lib"]
STEM = NAME + "-" + VERSION


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def _wheel(directory, members):
    meta = "Metadata-Version: 2.3\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)
    meta += "".join("Requires-Dist: %s\\n" % r for r in REQUIRES)
    members[STEM + ".dist-info/METADATA"] = meta.encode()
    members[STEM + ".dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: consumer\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    lines = []
    for arc, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(arc + ",sha256=" + digest + "," + str(len(data)))
    lines.append(STEM + ".dist-info/RECORD,,")
    members[STEM + ".dist-info/RECORD"] = ("\\n".join(lines) + "\\n").encode()
    filename = STEM + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w") as zf:
        for arc, data in members.items():
            zf.writestr(arc, data)
    return filename


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("consumer/__init__.py", "rb") as f:
        return _wheel(wheel_directory, {"consumer/__init__.py": f.read()})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {"consumer.pth": (os.getcwd() + "\\n").encode()})
'''

_CONSUMER_PYPROJECT = """\
[build-system]
requires = []
build-backend = "consumer_backend"
backend-path = ["."]

[project]
name = "consumer"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["my-private-lib"]

[tool.poetry.group.dev.dependencies]
pytest = "*"
"""


def write_consumer(workspace: Path, poetry_source: str) -> None:
    """The consuming repository; ``poetry_source`` is the TOML the example says it holds."""
    (workspace / "consumer").mkdir(parents=True)
    (workspace / "consumer" / "__init__.py").write_text("")
    (workspace / "consumer_backend.py").write_text(_BACKEND)
    (workspace / "pyproject.toml").write_text(_CONSUMER_PYPROJECT + "\n" + poetry_source)
    (workspace / "requirements.txt").write_text("app\n")


@dataclass
class Clients:
    """Where the installers are, and the interpreter project environments are made from."""

    python: str
    uv: str
    poetry: str
    pdm: str

    def bin_dir(self, where: Path) -> Path:
        """A folder holding ``python``, ``uv``, ``poetry`` and ``pdm``, for a script's PATH."""
        where.mkdir(parents=True, exist_ok=True)
        for name in ("python", "uv", "poetry", "pdm"):
            link = where / name
            if not link.exists():
                link.symlink_to(getattr(self, name))
        return where


def base_python() -> str:
    """A real interpreter (not this venv's): the one a fresh machine's ``python`` would be."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)))


class Blackhole:
    """A loopback port bound but never listening: a proxy every connection to it is refused
    at once, so a client that tries any host but the loopback (pypi.org) fails loudly."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def close(self) -> None:
        self._socket.close()


def client_env(home: Path, public_url: str, proxy: str, bin_dir: Path) -> dict[str, str]:
    """A clean environment (nothing inherited but the locale) where each client's default
    index is the fake public index, at the layer a machine's default sits at, below anything
    a command line, a project file or a user's config says:

    - pip: a global ``pip.conf`` (``XDG_CONFIG_DIRS``) with ``index-url`` = the public index;
    - uv: the user's ``uv.toml`` with the public index as ``default = true``;
    - pdm: ``PDM_PYPI_URL`` (a project source named ``pypi`` replaces it);
    - poetry: its PyPI is a JSON API at pypi.org and cannot be moved; every host but the
      loopback goes to a proxy that refuses, so a poetry that asks PyPI fails.
    """
    config = home / ".config"
    (home / "xdg" / "pip").mkdir(parents=True, exist_ok=True)
    (home / "xdg" / "pip" / "pip.conf").write_text(f"[global]\nindex-url = {public_url}\n")
    (config / "uv").mkdir(parents=True, exist_ok=True)
    (config / "uv" / "uv.toml").write_text(f'[[index]]\nurl = "{public_url}"\ndefault = true\n')
    env = {k: v for k, v in os.environ.items() if k in {"LANG", "LC_ALL", "TZ", "TMPDIR"}}
    env.update(
        {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(config),
            "XDG_CONFIG_DIRS": str(home / "xdg"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "PDM_PYPI_URL": public_url,
            "PDM_CHECK_UPDATE": "false",
            "PDM_IGNORE_SAVED_PYTHON": "1",
            "PDM_NON_INTERACTIVE": "1",
            "PDM_HOME": str(home / "pdm-home"),
            "POETRY_CACHE_DIR": str(home / "poetry-cache"),
            "POETRY_CONFIG_DIR": str(home / "poetry-config"),
            "POETRY_NO_INTERACTION": "1",
            "HTTP_PROXY": proxy,
            "HTTPS_PROXY": proxy,
            "ALL_PROXY": proxy,
            "http_proxy": proxy,
            "https_proxy": proxy,
            "all_proxy": proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


INSTALLED = (
    "import importlib.metadata as m\n"
    "for d in m.distributions(): print(d.metadata['Name'], d.version)\n"
)


def installed(versions_output: str) -> dict[str, str]:
    """``name version`` lines as canonical name -> version."""
    pairs = (line.split(" ", 1) for line in versions_output.splitlines() if " " in line)
    return {canonicalize_name(name): version for name, version in pairs}


def private_view(versions: dict[str, str]) -> dict[str, str]:
    """The installed versions of the private names."""
    return {name: versions[name] for name in PRIVATE_NAMES if name in versions}


_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def fenced_blocks(markdown: str, heading: str) -> list[tuple[str, str]]:
    """The fenced code blocks (language, text) of the ``## heading`` section."""
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    section = markdown[start : end if end != -1 else len(markdown)]
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(section)]
