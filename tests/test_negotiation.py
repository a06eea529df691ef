"""PEP 691 content negotiation."""

from __future__ import annotations

import pytest

from pypapo.negotiation import choose_format

CASES = [
    (None, "html"),
    ("", "html"),
    ("text/html", "html"),
    ("*/*", "html"),
    ("application/vnd.pypi.simple.v1+json", "json"),
    ("application/vnd.pypi.simple.latest+json", "json"),
    ("application/vnd.pypi.simple.v1+html", "html"),
    # pip's header
    (
        "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
        "text/html; q=0.01",
        "json",
    ),
    # uv's header
    (
        "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
        "text/html;q=0.01",
        "json",
    ),
    ("application/vnd.pypi.simple.v1+json;q=0.1, text/html", "html"),
    ("application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.5", "html"),
    ("application/vnd.pypi.simple.v1+json;q=oops", "html"),
    ("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.5", "json"),
    ("application/*", "json"),
    ("image/png", "html"),
    ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", "json"),
]


@pytest.mark.parametrize(("accept", "expected"), CASES)
def test_choose_format(accept: str | None, expected: str) -> None:
    assert choose_format(accept) == expected
