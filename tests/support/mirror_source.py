"""A source index for mirror tests: a corpus with extras, cycles and markers, built."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pypapo import render
from pypapo.build import build
from pypapo.pages import parse_root_json, records_of_page
from pypapo.storage.local import LocalStorage
from tests.support.installs import make_corpus
from tests.support.tools import add_sdist, add_wheel

PROJECTS = {"app", "lib-core", "py-limits", "yankee", "only-sdist", "extra-dep", "withextra",
            "unused", "cyc-a", "cyc-b", "old-py", "dyn"}  # fmt: skip


def make_source(root: Path) -> None:
    make_corpus(root)
    add_wheel(root, "extra-dep", "1.0")
    add_wheel(root, "withextra", "1.0", requires_dist=['extra-dep; extra == "fast"'])
    add_wheel(root, "unused", "3.0")
    add_wheel(root, "cyc-a", "1.0", requires_dist=["cyc-b[x]"])
    add_wheel(root, "cyc-b", "1.0", requires_dist=['cyc-a; extra == "x"'])
    add_wheel(root, "old-py", "1.0", requires_dist=['unused; python_version < "3.12"'])
    add_sdist(root, "dyn", "1.0", metadata_version="2.2", dynamic=["Requires-Dist"])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    make_source(root)
    assert build(LocalStorage(root)).errors == []
    return root


def check_links(dest: Path) -> set[str]:
    """Every page of the copy is complete: each listed file and advertised sidecar is there with
    the sha256 the page gives, and the HTML page links exactly what the JSON page lists. Returns
    the projects whose pages are there."""
    projects: set[str] = set()
    for page in (dest / "simple").glob("*/index.json"):
        name, files = records_of_page(page.read_bytes())
        html = (page.parent / "index.html").read_text()
        for f in files:
            data = (dest / f.record.path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.record.sha256, f.record.path
            assert f'href="{render.file_url(f.record)}#sha256={f.record.sha256}"' in html
            if f.record.metadata_sha256 is not None:
                sidecar = (dest / (f.record.path + ".metadata")).read_bytes()
                assert hashlib.sha256(sidecar).hexdigest() == f.record.metadata_sha256
        assert html.count("<a href=") == len(files)
        projects.add(name)
    listed = parse_root_json((dest / "simple" / "index.json").read_bytes())
    assert listed == projects
    return projects
