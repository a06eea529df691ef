"""Deterministic benchmark corpora: N projects x V versions of small, valid wheels and sdists.

Files go flat into ``<root>/packages/`` (the layout every peer accepts), with their modification
time set to a fixed, per-file upload time so that pypapo's ``upload-time`` and the peers' lists
agree. ``<root>/list.jsonl`` is the same files in dumb-pypi's ``--package-list-json`` format
(one JSON object per line: filename, hash, requires_python, upload_timestamp, core_metadata).
A corpus that already exists with the same parameters is reused.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import random
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes

BASE_TIME = 1_700_000_000
"""Upload time of the first file (2023-11-14); each further file is one second later."""
KINDS: tuple[str, ...] = ("wheel", "sdist")
_SHAPES = ("Acme.Widget_{i}", "acme-Tool.{i}x", "Zeta_Lib-{i}", "Data.Frame-Ext_{i}")


_SPREAD_SHAPES = ("{s}.Widget_{i}", "{S}-Tool.{i}x", "{s}_Lib-{i}", "{S}.Frame-Ext_{i}")


def project_name(i: int, names: str = "shapes") -> str:
    """A mixed-case project name with dots, dashes and underscores (each one unique). With
    ``names="spread"`` its first characters follow the name-prefix frequencies the sharded
    build's ranges are weighted by (``pypapo.shards``), as a real index's names would: the
    four shapes alone share four initials, which no name range can split."""
    if names == "spread":
        leaf = _spread_leaf(i).rstrip("-")
        shape = _SPREAD_SHAPES[i % len(_SPREAD_SHAPES)]
        return shape.format(s=leaf, S=leaf.capitalize(), i=f"{i:06d}")
    return _SHAPES[i % len(_SHAPES)].format(i=f"{i:06d}")


def _spread_leaf(i: int) -> str:
    from pypapo import shards  # noqa: PLC0415 (only spread corpora need the table)

    table = shards.leaves()
    [leaf] = random.Random(i).choices([k for k, _ in table], weights=[w for _, w in table])
    return leaf


def version(v: int) -> str:
    return f"1.{v}.0"


def sample(i: int, v: int, names: str = "shapes") -> SampleProject:
    return SampleProject(
        name=project_name(i, names),
        version=version(v),
        requires_python=">=3.8",
        summary=f"Benchmark project {i} version {v}",
        requires_dist=("packaging>=24",),
    )


@dataclass(frozen=True)
class Spec:
    """What a corpus holds; stored beside it so an identical one is reused."""

    projects: int
    versions: int
    kinds: tuple[str, ...] = KINDS
    names: str = "shapes"
    """``shapes`` (four initials) or ``spread`` (initials as a real index has them)."""

    @property
    def files(self) -> int:
        return self.projects * self.versions * len(self.kinds)


@dataclass(frozen=True)
class Corpus:
    root: Path
    spec: Spec

    @property
    def packages(self) -> Path:
        return self.root / "packages"

    @property
    def list_path(self) -> Path:
        """dumb-pypi's ``--package-list-json`` input for exactly these files."""
        return self.root / "list.jsonl"

    def lines(self) -> list[str]:
        return self.list_path.read_text().splitlines()


def _file_index(spec: Spec, i: int, v: int, k: int) -> int:
    return (i * spec.versions + v) * len(spec.kinds) + k


def _write_project(args: tuple[Path, Spec, int]) -> list[str]:
    """Write all files of project ``i``; return their list lines (runs in a worker process)."""
    packages, spec, i = args
    lines = []
    for v in range(spec.versions):
        project = sample(i, v, spec.names)
        for k, kind in enumerate(spec.kinds):
            when = BASE_TIME + _file_index(spec, i, v, k)
            lines.append(json.dumps(write_one(packages, project, kind, when)))
    return lines


def write_one(packages: Path, project: SampleProject, kind: str, when: int) -> dict[str, object]:
    """Write one distribution with mtime ``when``; its dumb-pypi list entry."""
    if kind == "wheel":
        name, data = f"{project.stem}-py3-none-any.whl", wheel_bytes(project)
    else:
        name, data = f"{project.stem}.tar.gz", sdist_bytes(project)
    path = packages / name
    path.write_bytes(data)
    os.utime(path, (when, when))
    entry: dict[str, object] = {
        "filename": name,
        "hash": "sha256=" + hashlib.sha256(data).hexdigest(),
        "requires_python": project.requires_python,
        "upload_timestamp": when,
    }
    # both kinds serve PEP 658 metadata (the sample sdists are Metadata-Version 2.3, static)
    entry["core_metadata"] = "sha256=" + hashlib.sha256(project.metadata()).hexdigest()
    return entry


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def generate(root: Path, spec: Spec, *, workers: int | None = None) -> Corpus:
    """Write (or reuse) the corpus ``spec`` under ``root``."""
    corpus = Corpus(root, spec)
    marker = root / "corpus.json"
    if marker.exists() and json.loads(marker.read_text()) == _spec_json(spec):
        # a kept corpus is reused only when whole (a run interrupted while deleting leaves less)
        dists = sum(e.name.endswith((".whl", ".tar.gz")) for e in os.scandir(corpus.packages))
        if dists == spec.files:
            return corpus
        shutil.rmtree(corpus.packages)
    corpus.packages.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    jobs = [(corpus.packages, spec, i) for i in range(spec.projects)]
    lines: list[str] = []
    if spec.projects < 50:
        for job in jobs:
            lines += _write_project(job)
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            for chunk in pool.map(_write_project, jobs, chunksize=25):
                lines += chunk
    corpus.list_path.write_text("".join(line + "\n" for line in lines))
    marker.write_text(json.dumps(_spec_json(spec)))
    return corpus


def _spec_json(spec: Spec) -> dict[str, object]:
    body = asdict(spec)
    body["kinds"] = list(spec.kinds)
    return body


def add_upload(packages: Path, i: int, v: int) -> tuple[str, str]:
    """Write one new wheel (version ``v`` of project ``i``) into ``packages``.

    Returns its object path (relative to the folder holding ``packages/``) and its dumb-pypi
    list line.
    """
    entry = write_one(packages, sample(i, v), "wheel", BASE_TIME + 10**8 + v)
    return f"{packages.name}/{entry['filename']}", json.dumps(entry)


def write_big_wheel(directory: Path, size: int, name: str = "Big.Wheel_Bench") -> Path:
    """A valid wheel of about ``size`` bytes: one stored, incompressible member first, then the
    ``.dist-info`` files and the central directory at the end, as real wheels are laid out."""
    project = SampleProject(name, "1.0.0", summary="A very large wheel")
    dist_info = f"{project.stem}.dist-info"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{project.stem}-py3-none-any.whl"
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, the same for every run
    blocks = [hashlib.sha256(bytes([n])).digest() + block[32:] for n in range(16)]
    record: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        data_name = f"{project.module}/blob.bin"
        sha = hashlib.sha256()
        written = 0
        info = zipfile.ZipInfo(data_name, (1980, 1, 1, 0, 0, 0))
        with zf.open(info, "w", force_zip64=True) as out:
            n = 0
            while written < size:
                chunk = blocks[n % len(blocks)][: size - written]
                out.write(chunk)
                sha.update(chunk)
                written += len(chunk)
                n += 1
        record.append(f"{data_name},sha256={_b64(sha.digest())},{written}")
        small = {
            f"{project.module}/__init__.py": project.source(),
            f"{dist_info}/METADATA": project.metadata(),
            f"{dist_info}/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n\n"
            ),
        }
        for arcname, data in small.items():
            zf.writestr(zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0)), data)
            record.append(f"{arcname},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        zf.writestr(
            zipfile.ZipInfo(f"{dist_info}/RECORD", (1980, 1, 1, 0, 0, 0)),
            "\n".join(record) + "\n",
        )
    return path


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def copy_cold(source: Path, target: Path) -> None:
    """A cold copy (no index files): hard links on the same file system, else full copies
    keeping mtimes (a file's mtime is its upload time)."""
    try:
        link_copy(source, target)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        shutil.rmtree(target)
        shutil.copytree(source, target)


def link_copy(source: Path, target: Path, names: Sequence[str] | None = None) -> None:
    """A cold copy of a folder of distributions made of hard links (no index files)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names if names is not None else sorted(p.name for p in source.iterdir()):
        (target / name).hardlink_to(source / name)
