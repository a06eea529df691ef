"""``pypapo upload TARGET FILE...``: validate, then upload create-only through the storage
protocol. Refreshing the pages afterwards is the caller's choice (the CLI's ``--refresh``: on for
a folder, off for a bucket, whose Cloud Function refreshes).

Validation runs the same parser the index uses (file name, archive, metadata, name/version
cross-check), so a file that uploads is a file that gets indexed. The destination folder
(``--to``) is checked before anything is written, for a folder and a bucket alike.
"""

from __future__ import annotations

import email.message
import importlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkginfo

from pypapo.archive import read_core_metadata
from pypapo.distribution import parse_distribution
from pypapo.errors import BadDistributionError, InvalidMetadataError
from pypapo.layout import (
    BROWSE_PREFIX,
    INDEX_PREFIX,
    is_own_write,
    looks_like_distribution,
    object_name_problem,
    parse_dist_filename,
)
from pypapo.model import ProjectState
from pypapo.state import load_state
from pypapo.storage import Storage
from pypapo.storage.local import LocalStorage


class DestinationError(ValueError):
    """``--to`` names no folder inside the target that the index serves from."""

    def __init__(self, to: str, reason: str) -> None:
        super().__init__(f"--to {to!r}: {reason}")
        self.to = to
        self.reason = reason


def destination(to: str) -> str:
    """The object path prefix ``to`` names: ``""`` for the top of the target, else
    ``"folder/"``. It must be a safe object path (``layout.object_name_problem``: no ``..``, no
    leading ``/``, no empty segment, no control character), and a folder the index serves."""
    folder = to.removesuffix("/") or to  # "pkgs/" is how folders are often written; "/" is not
    if not folder:
        return ""
    problem = object_name_problem(folder)
    if problem is not None:
        raise DestinationError(to, f"not a folder inside the target ({problem})")
    if any(segment.startswith(".") for segment in folder.split("/")):
        raise DestinationError(to, "a hidden folder (starting with '.') is never served")
    if is_own_write(f"{folder}/x.whl"):
        raise DestinationError(to, f"{INDEX_PREFIX} and {BROWSE_PREFIX} hold pypapo's own pages")
    return folder + "/"


@dataclass(frozen=True)
class UploadResult:
    local: Path
    path: str
    status: str  # "uploaded", "exists", "duplicate" (reason: the twin's path), "invalid",
    # "archived" (the project's PEP 792 status refuses uploads; reason: the status)
    reason: str = ""


def validate(local: Path) -> None:
    """Raise ``BadDistributionError`` (naming the file) when the index would reject it."""
    if not looks_like_distribution(local.name):
        raise BadDistributionError(str(local), "not a .whl, .tar.gz or .zip distribution")
    folder = LocalStorage(local.parent)
    info = folder.stat(local.name)
    if info is None:
        raise BadDistributionError(str(local), "no such file")
    try:
        parse_distribution(folder, info)
        with local.open("rb") as handle:
            raw = read_core_metadata(info.path, parse_dist_filename(local.name), handle)
        check_description(info.path, raw)
    except BadDistributionError as e:
        raise type(e)(str(local), e.reason) from e


def _renderer(name: str) -> Any:
    """``readme_renderer.<name>``, or None when readme-renderer is not installed."""
    try:
        return importlib.import_module(f"readme_renderer.{name}")
    except ImportError:
        return None


def check_description(path: str, raw: bytes) -> None:
    """Like ``twine check``: the long description must render for its content type
    (reStructuredText when none is given). Skipped without readme-renderer."""
    dist = pkginfo.Distribution()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dist.parse(raw)
    message = email.message.Message()
    message["Content-Type"] = dist.description_content_type or "text/x-rst"
    content_type = message.get_content_type()
    body = dist.description or ""
    if content_type in {"text/plain", "text/markdown"}:
        return  # plain text always renders; Markdown renders whatever it is given
    if content_type != "text/x-rst":
        raise InvalidMetadataError(
            path,
            f"Description-Content-Type {content_type!r} is not text/x-rst, text/markdown "
            "or text/plain",
        )
    rst = _renderer("rst")
    if rst is None:
        return
    stream = io.StringIO()
    if rst.render(body, stream=stream) is None:
        first = (stream.getvalue().strip().splitlines() or ["unknown error"])[0]
        raise InvalidMetadataError(
            path, f"long description does not render as reStructuredText ({first})"
        )


Progress = Callable[[str, int], Callable[[int], None]]
"""Given a file's name and size, what hears the bytes copied so far (the CLI's progress line)."""


def _quiet(_name: str, _total: int) -> Callable[[int], None]:
    return lambda _done: None


def upload_one(
    storage: Storage, local: Path, path: str, *, force: bool, progress: Progress = _quiet
) -> bool:
    """Upload one file; False when it already exists and ``force`` is off."""
    show = progress(local.name, local.stat().st_size)
    return storage.upload_file(local, path, create_only=not force, progress=show) is not None


def upload(
    storage: Storage,
    files: list[Path],
    *,
    to: str = "packages",
    force: bool = False,
    progress: Progress = _quiet,
) -> list[UploadResult]:
    folder = destination(to)  # before anything is written
    results = []
    for local in files:
        path = folder + local.name
        try:
            validate(local)
        except BadDistributionError as e:
            results.append(UploadResult(local, path, "invalid", e.reason))
            continue
        state = indexed_state(storage, path)
        twin = state.same_file_as(path)
        if twin is not None:
            results.append(UploadResult(local, path, "duplicate", twin.path))
            continue
        refusal = status_refusal(state)
        if refusal is not None:
            results.append(UploadResult(local, path, "archived", refusal))
            continue
        uploaded = upload_one(storage, local, path, force=force, progress=progress)
        results.append(UploadResult(local, path, "uploaded" if uploaded else "exists"))
    return results


def indexed_state(storage: Storage, path: str) -> ProjectState:
    """The state of ``path``'s project, which knows the indexed object that is the same
    distribution file under another path (``Foo-1.0.tar.gz`` for ``foo-1.0.0.tar.gz``, or the
    same name in another folder: the index would serve only one) and the project's status.
    One small GET."""
    # an unreadable state reads as empty here: it is build's to report, and blocks no upload
    return load_state(storage, parse_dist_filename(path).project, repair=True).state


def status_refusal(state: ProjectState) -> str | None:
    """Why the project takes no uploads (PEP 792: archived or quarantined), or ``None``."""
    status = state.status
    if status is None or status.status not in {"archived", "quarantined"}:
        return None
    return status.status + (f": {status.reason}" if status.reason else "")
