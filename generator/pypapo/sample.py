"""Write small, valid, reproducible wheels and sdists: the demo package, test and bench corpora.

The sdists carry a tiny in-tree PEP 517 backend that needs nothing but the standard library, so
pip and uv can build them in an isolated environment without reaching any other index.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SampleProject:
    """What goes into one sample distribution's metadata and code."""

    name: str
    version: str
    requires_dist: Sequence[str] = ()
    requires_python: str | None = None
    summary: str = "A sample package"
    metadata_version: str = "2.3"
    dynamic: Sequence[str] = ()
    extra_headers: Sequence[tuple[str, str]] = field(default_factory=tuple)

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def stem(self) -> str:
        """The PEP 427/625 file name stem: normalized name with underscores, then version."""
        return f"{self.module}-{self.version}"

    def metadata(self) -> bytes:
        lines = [
            f"Metadata-Version: {self.metadata_version}",
            f"Name: {self.name}",
            f"Version: {self.version}",
            f"Summary: {self.summary}",
        ]
        lines += [f"Dynamic: {d}" for d in self.dynamic]
        if self.requires_python is not None:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Requires-Dist: {r}" for r in self.requires_dist]
        lines += [f"{k}: {v}" for k, v in self.extra_headers]
        return ("\n".join(lines) + "\n\n" + f"{self.name} {self.version}\n").encode()

    def source(self) -> bytes:
        return f'__version__ = "{self.version}"\nNAME = "{self.name}"\n'.encode()


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def wheel_bytes(project: SampleProject, tag: str = "py3-none-any") -> bytes:
    """A complete, installable pure-Python wheel for ``project``."""
    dist_info = f"{project.stem}.dist-info"
    members = {
        f"{project.module}/__init__.py": project.source(),
        f"{dist_info}/METADATA": project.metadata(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: pypapo.sample\nRoot-Is-Purelib: true\nTag: {tag}\n\n"
        ).encode(),
    }
    record_name = f"{dist_info}/RECORD"
    record = "\n".join([*(_record_line(k, v) for k, v in members.items()), f"{record_name},,"])
    members[record_name] = (record + "\n").encode()
    return _zip(members)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in members.items():
            info = zipfile.ZipInfo(arcname, _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


_BACKEND = '''\
"""A PEP 517 backend with no build requirements: builds the wheel this sdist describes."""
import base64, hashlib, os, zipfile
from email.parser import BytesParser

def _meta():
    with open("PKG-INFO", "rb") as f:
        raw = f.read()
    msg = BytesParser().parsebytes(raw)
    return raw, msg["Name"], msg["Version"]

def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_sdist(config_settings=None):
    return []

def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("this sample sdist only builds wheels")

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raw, name, version = _meta()
    module = name.lower().replace("-", "_").replace(".", "_")
    stem = module + "-" + version
    members = {}
    for base, _, files in os.walk(module):
        for fn in sorted(files):
            path = os.path.join(base, fn)
            with open(path, "rb") as f:
                members[path.replace(os.sep, "/")] = f.read()
    members[stem + ".dist-info/METADATA"] = raw
    members[stem + ".dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: sample\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n\\n")
    lines = []
    for arc, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(arc + ",sha256=" + digest + "," + str(len(data)))
    lines.append(stem + ".dist-info/RECORD,,")
    members[stem + ".dist-info/RECORD"] = ("\\n".join(lines) + "\\n").encode()
    filename = stem + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for arc, data in members.items():
            zf.writestr(arc, data)
    return filename
'''

_PYPROJECT = b"""\
[build-system]
requires = []
build-backend = "sample_backend"
backend-path = ["."]
"""


def sdist_bytes(project: SampleProject) -> bytes:
    """A ``.tar.gz`` sdist with PKG-INFO that pip and uv can build offline."""
    top = project.stem
    members = {
        f"{top}/PKG-INFO": project.metadata(),
        f"{top}/pyproject.toml": _PYPROJECT,
        f"{top}/sample_backend.py": _BACKEND.encode(),
        f"{top}/{project.module}/__init__.py": project.source(),
    }
    buf = io.BytesIO()
    # mtime=0 in the gzip header keeps the archive byte-for-byte reproducible
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf,
    ):
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_wheel(directory: Path, project: SampleProject, tag: str = "py3-none-any") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{project.stem}-{tag}.whl"
    path.write_bytes(wheel_bytes(project, tag))
    return path


def write_sdist(directory: Path, project: SampleProject) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{project.stem}.tar.gz"
    path.write_bytes(sdist_bytes(project))
    return path


DEMO = SampleProject(
    name="pypapo-hello",
    version="1.0.0",
    summary="Hello from your pypapo index",
    requires_python=">=3.8",
)


def write_demo(directory: Path) -> list[Path]:
    """The demo package ``pypapo serve --demo`` seeds an empty folder with."""
    return [write_wheel(directory, DEMO), write_sdist(directory, DEMO)]
