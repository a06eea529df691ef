"""PEP 691 content negotiation: pick the JSON or HTML page from an ``Accept`` header. Pure.

The rule is the one NGINX can implement exactly with one regular expression (``nginx.conf``'s
``map $http_accept``), so that ``pypapo serve`` and the deployed index always answer alike:

- the header is split at every comma into elements; an element's media range is the text before
  its first ``;``, without surrounding spaces and tabs, compared ASCII-case-insensitively;
- an element *asks for JSON* when its media range is ``application/vnd.pypi.simple.v1+json`` or
  ``application/vnd.pypi.simple.latest+json`` and none of its parameters is a zero ``q``
  (``q=0``, ``q=0.``, ``q=0.000``; spaces and tabs around the name, ``=`` and value allowed);
- the answer is JSON when any element asks for JSON, HTML otherwise.

q-values other than zero are not compared: a listed JSON type wins over ``text/html`` whatever
their weights, and wildcards (``*/*``, ``application/*``) never select JSON. pip, uv, poetry and
pdm all list the JSON type first with the highest weight, so they get what they prefer.
"""

from __future__ import annotations

import re
from typing import Literal

Format = Literal["json", "html"]

JSON_MEDIA_TYPES = frozenset(
    {"application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json"}
)
_OWS = " \t"
_ZERO = re.compile(r"0(?:\.0*)?")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _is_zero_q(param: str) -> bool:
    name, equals, value = param.partition("=")
    if not equals or name.strip(_OWS).translate(_ASCII_LOWER) != "q":
        return False
    return _ZERO.fullmatch(value.strip(_OWS)) is not None


def _asks_for_json(element: str) -> bool:
    media, *params = element.split(";")
    # ASCII-only lowering, as PCRE's caseless match does: no Unicode folding into ASCII
    if media.strip(_OWS).translate(_ASCII_LOWER) not in JSON_MEDIA_TYPES:
        return False
    return not any(_is_zero_q(param) for param in params)


def choose_format(accept: str | None) -> Format:
    """``json`` when any element of ``accept`` asks for a PEP 691 JSON type, else ``html``."""
    elements = (accept or "").split(",")
    return "json" if any(_asks_for_json(element) for element in elements) else "html"
