"""PEP 691 content negotiation: the rule of pypapo.negotiation, as the parity table states it."""

from __future__ import annotations

import pytest

from pypapo.negotiation import choose_format
from tests.support.http_parity import ACCEPT_CASES


def test_the_table_is_large_enough_and_covers_both_formats() -> None:
    assert len(ACCEPT_CASES) >= 25
    assert {expected for _, _, expected in ACCEPT_CASES} == {"json", "html"}
    assert len({why for why, _, _ in ACCEPT_CASES}) == len(ACCEPT_CASES)


@pytest.mark.parametrize(
    ("accept", "expected"), [c[1:] for c in ACCEPT_CASES], ids=[c[0] for c in ACCEPT_CASES]
)
def test_choose_format(accept: str | None, expected: str) -> None:
    assert choose_format(accept) == expected
