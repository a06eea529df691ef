"""Bench adapter: build pypapo's pages from a metadata list, like ``dumb-pypi`` does.

pypapo itself indexes the files it finds (``pypapo build``); it has no list input. For the
"full build from a metadata list" row this adapter feeds the *same* dumb-pypi JSON-lines list
through pypapo's own model and renderer (``FileRecord``, ``ProjectState``, ``render.*``) and
writes what a real build writes per project — ``index.html``, ``index.json`` and the state
file — plus the two root pages, each atomically (temporary file, then ``os.replace``). Only
file sizes and generations, which the list lacks, come from one ``stat`` per file.

Run: ``python -m bench.from_list LIST ROOT [--workers N]`` (files under ``ROOT/packages/``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from pypapo import render
from pypapo.layout import page_path, parse_dist_filename, state_path
from pypapo.model import FileRecord, ProjectState, format_upload_time

Group = tuple[str, list[FileRecord]]


def project_key(filename: str) -> NormalizedName:
    """The project a distribution file name belongs to, split the way ``packaging`` splits it
    (the first dash of a wheel name, the last dash of an sdist stem), without parsing versions."""
    if filename.endswith(".whl"):
        return canonicalize_name(filename.partition("-")[0])
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
    return canonicalize_name(stem.rpartition("-")[0])


def _share(key: str, workers: int) -> int:
    return zlib.crc32(key.encode()) % workers


def records_from_list(
    entries: Iterable[dict[str, Any]], root: Path, prefix: str = "packages/"
) -> list[Group]:
    """Per project, the records the list describes, in project order."""
    groups: dict[str, list[FileRecord]] = {}
    for entry in entries:
        path = prefix + entry["filename"]
        dist = parse_dist_filename(path)
        st = (root / path).stat()
        metadata = entry.get("core_metadata")
        record = FileRecord(
            path=path,
            filename=dist.filename,
            version=str(dist.version),
            size=st.st_size,
            sha256=entry["hash"].removeprefix("sha256="),
            upload_time=format_upload_time(
                datetime.fromtimestamp(entry["upload_timestamp"], tz=UTC)
            ),
            generation=f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}",
            requires_python=entry.get("requires_python"),
            metadata_sha256=metadata.removeprefix("sha256=") if metadata else None,
        )
        groups.setdefault(dist.project, []).append(record)
    return sorted(groups.items())


def _write(root: Path, path: str, data: bytes) -> None:
    target = root / path
    tmp = target.with_name(f".pypapo-tmp-{target.name}-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(target)


def write_projects(root: Path, groups: Iterable[Group]) -> int:
    """Render and write the pages and state of these projects; the number of files written."""
    written = 0
    for name, records in groups:
        state = ProjectState.of(name, records)
        (root / page_path(name, "html")).parent.mkdir(parents=True, exist_ok=True)
        _write(root, state_path(name), state.to_json())
        _write(root, page_path(name, "html"), render.project_html(state))
        _write(root, page_path(name, "json"), render.project_json(state))
        written += 3
    return written


def _build_share(
    entries: Sequence[dict[str, Any]], keys: Sequence[str], root: Path, w: int, n: int
) -> int:
    mine = [e for e, k in zip(entries, keys, strict=True) if _share(k, n) == w]
    return write_projects(root, records_from_list(mine, root))


def build_from_list(lines: Iterable[str], root: Path, *, workers: int = 2) -> int:
    """Write every project's pages and state, then the root pages; the number of files written.

    Projects are shared between ``workers`` forked processes by a hash of their name, so each
    parses, renders and writes its own share (nothing is pickled); the parent takes share 0.
    """
    entries = [json.loads(line) for line in lines]
    keys = [project_key(e["filename"]) for e in entries]
    names = set(keys)
    workers = max(1, min(workers, len(names)))
    (root / "simple").mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    children = [
        ctx.Process(target=_build_share, args=(entries, keys, root, w, workers))
        for w in range(1, workers)
    ]
    for child in children:
        child.start()
    _build_share(entries, keys, root, 0, workers)
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"a writer process failed with exit code {child.exitcode}")
    _write(root, "simple/index.html", render.root_html(names))
    _write(root, "simple/index.json", render.root_json(names))
    return 3 * len(names) + 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", type=Path, help="dumb-pypi --package-list-json file")
    parser.add_argument("root", type=Path, help="folder holding packages/; pages go to simple/")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    written = build_from_list(args.list.read_text().splitlines(), args.root, workers=args.workers)
    print(f"wrote {written} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
