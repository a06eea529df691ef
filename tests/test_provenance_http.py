"""PEP 740 provenance over HTTP: the shipped NGINX config serves the document a page links, as
JSON with the headers of the index's other answers; a client reading the pages with
``pypi-simple`` follows ``provenance_url`` to a valid ``pypi_attestations.Provenance``.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from pypi_attestations import Provenance
from pypi_simple import ProjectPage

from pypapo.build import build
from pypapo.storage.local import LocalStorage
from tests.support.attestations import SERVICE_ACCOUNT, attest_file
from tests.support.nginx_server import NginxServer
from tests.support.tools import add_wheel, require_tool

pytestmark = pytest.mark.e2e
JSON = "application/vnd.pypi.simple.v1+json"


def _get(url: str, accept: str | None = None) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read(), dict(answer.headers)


def test_nginx_serves_the_provenance_a_page_links(tmp_path: Path) -> None:
    require_tool("nginx")
    root = tmp_path / "root"
    attest_file(add_wheel(root, "foo", "1.0"))
    add_wheel(root, "foo", "1.1")
    with NginxServer(root, tmp_path / "nginx") as server:
        assert build(LocalStorage(root), public_url=server.url + "/").errors == []
        page_url = server.index_url + "foo/"
        data, _ = _get(page_url, JSON)
        html, _ = _get(page_url)
        pages = [
            ProjectPage.from_json_data(json.loads(data), page_url),
            ProjectPage.from_html("foo", html.decode(), page_url),
        ]
        for page in pages:
            urls = {p.filename: p.provenance_url for p in page.packages}
            assert urls["foo-1.1-py3-none-any.whl"] is None
            url = urls["foo-1.0-py3-none-any.whl"]
            assert url == server.url + "/pkgs/foo-1.0-py3-none-any.whl.provenance"
            body, headers = _get(url)
            assert headers["Content-Type"] == "application/json"
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert "Content-Disposition" not in headers
            provenance = Provenance.model_validate_json(body)
            (bundle,) = provenance.attestation_bundles
            assert bundle.publisher.kind == "Google"
            assert getattr(bundle.publisher, "email", None) == SERVICE_ACCOUNT
