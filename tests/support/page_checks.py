"""What a built index serves, as bytes, and the checks every page must pass: well-formed
HTML, valid JSON, nothing unescaped. Shared by the bad-input, fault and function tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from html.parser import HTMLParser

from pypi_simple import IndexPage, ProjectPage

from pypapo.layout import BROWSE_PREFIX, INDEX_PREFIX
from pypapo.storage import Storage

# kinds that put bytes where pypapo writes: a refresh ignores them (the Cloud Function cannot
# tell them from its own writes), a build repairs them
REPAIRED_BY_BUILD = {"forged_project_page", "forged_sidecar", "orphan_sidecar"}


def index_pages(storage: Storage) -> dict[str, bytes]:
    """Every page pypapo serves (machine and browse), by object path."""
    pages: dict[str, bytes] = {}
    for info in storage.list():
        if info.path.startswith((INDEX_PREFIX, BROWSE_PREFIX)) and info.path.endswith(
            ("/index.html", "/index.json")
        ):
            blob = storage.get(info.path)
            if blob is not None:
                pages[info.path] = blob.data
    return pages


class _Markup(HTMLParser):
    """Collects what would run in a browser: script/iframe/object tags, on* handlers and
    non-relative links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "img", "svg", "base", "meta"} and not (
            tag == "meta" and {k for k, _ in attrs} <= {"name", "content", "charset"}
        ):
            self.problems.append(f"<{tag}> element")
        for key, value in attrs:
            if key.startswith("on"):
                self.problems.append(f"{key}= handler on <{tag}>")
            if (
                key in {"href", "src", "action"}
                and value is not None
                and (":" in value.split("/")[0] or value.startswith("//"))
            ):
                self.problems.append(f"non-relative {key}={value!r} on <{tag}>")


def page_problems(path: str, data: bytes) -> list[str]:
    """Why a served page is invalid or unsafe (empty: fine). Parses it as pip's library does."""
    problems: list[str] = []
    project = path.split("/")[1] if path.count("/") == 2 else None
    try:
        if path.endswith(".json"):
            body = json.loads(data)
            if path.startswith(INDEX_PREFIX) and project is not None:
                page = ProjectPage.from_json_data(body)
                problems += [
                    f"absolute url {p.url!r}" for p in page.packages if ":" in p.url.split("/")[0]
                ]
            else:
                IndexPage.from_json_data(body)
            return problems
        text = data.decode("utf-8")
        if path.startswith(INDEX_PREFIX):
            if project is not None:
                ProjectPage.from_html(project, data)
            else:
                IndexPage.from_html(data)
        if not text.startswith("<!DOCTYPE html>") or not text.rstrip().endswith("</html>"):
            problems.append("not a whole HTML document")
        checker = _Markup()
        checker.feed(text)
        checker.close()
        problems += checker.problems
    except Exception as e:  # noqa: BLE001 (any parse failure is the finding)
        problems.append(f"does not parse: {type(e).__name__}: {e}")
    return [f"{path}: {p}" for p in problems]


def all_page_problems(pages: dict[str, bytes]) -> list[str]:
    return [
        problem for path, data in sorted(pages.items()) for problem in page_problems(path, data)
    ]


def project_pages(pages: dict[str, bytes], projects: Iterable[str]) -> dict[str, bytes]:
    wanted = tuple(f"{prefix}{p}/" for p in projects for prefix in (INDEX_PREFIX, BROWSE_PREFIX))
    return {k: v for k, v in pages.items() if k.startswith(wanted)}
