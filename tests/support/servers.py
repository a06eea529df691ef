"""Either server over an index folder: ``pypapo serve`` or Debian's nginx with the project's
config, for tests that must pass through both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from tests.support.pypapo_server import PypapoServer
from tests.support.tools import require_tool

SERVERS = ["pypapo", "nginx"]


class Server(Protocol):
    @property
    def url(self) -> str: ...

    def requested(self, suffix: str) -> list[str]: ...


@contextmanager
def serving(kind: str, root: Path, tmp: Path) -> Iterator[Server]:
    """``kind`` ("pypapo" or "nginx") serving ``root``, stopped on exit."""
    if kind == "pypapo":
        with PypapoServer(root, tmp / "serve.log") as served:
            yield served
        return
    require_tool("nginx")
    from tests.support.nginx_server import start_nginx  # noqa: PLC0415 (only when nginx is there)

    nginx = start_nginx(root, tmp)
    try:
        yield nginx
    finally:
        nginx.stop()
