"""Non-normalized project names: nginx/pypapo-names.conf is generated from pypapo.http_policy
(so NGINX and ``pypapo serve`` redirect alike), and the redirects converge on PEP 503's name."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pypapo import http_policy
from tests.support.nginx_server import CONFIG_DIR

PEP_508_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,40}[A-Za-z0-9])?"


def test_the_include_is_generated_from_http_policy() -> None:
    """Regenerate with: python -m pypapo.http_policy > nginx/pypapo-names.conf"""
    assert (CONFIG_DIR / "pypapo-names.conf").read_text() == http_policy.nginx_name_maps()


def test_nginx_conf_includes_it_at_http_level() -> None:
    text = re.sub(r"#.*", "", (CONFIG_DIR / "nginx.conf").read_text())
    http_block = text[text.index("http {") : text.index("server {")]
    assert re.search(r"(?m)^\s*include pypapo-names\.conf;", http_block)


def _fixes(name: str) -> int:
    """How many capitals and separator runs (other than a lone '-') PEP 503 changes."""
    return sum(c.isupper() for c in name) + len(
        [r for r in re.findall(r"[-_.]+", name) if r != "-"]
    )


@given(st.from_regex(PEP_508_NAME, fullmatch=True))
def test_redirects_converge_on_the_normalized_name(name: str) -> None:
    path, hops = f"/simple/{name}/", 0
    answer = http_policy.route(path)
    while answer.kind is http_policy.Kind.REDIRECT:
        assert answer.target.startswith("../")
        path, hops = f"/simple/{answer.target[3:]}", hops + 1
        answer = http_policy.route(path)
    assert answer.kind is http_policy.Kind.PAGE
    assert path == f"/simple/{canonicalize_name(name)}/"
    assert hops == math.ceil(_fixes(name) / http_policy.NORMALIZE_STEPS)


@given(st.from_regex(r"[A-Za-z0-9._+~!-]{1,20}", fullmatch=True))
def test_only_a_valid_name_is_redirected(name: str) -> None:
    answer = http_policy.route(f"/simple/{name}/")
    if answer.kind is http_policy.Kind.REDIRECT:
        assert re.fullmatch(PEP_508_NAME, name)
        assert name != canonicalize_name(name)
