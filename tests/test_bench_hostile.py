"""The bench's hostile-input section at a tiny size: its inputs are what they claim to be,
its outcomes are checked, and its table prints (the full sizes run in ``bench/run.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import hostile
from bench.report import HostileRow, Results, Samples

from pypapo.sample import SampleProject, wheel_bytes


def test_quick_inputs_are_refused_or_accepted_as_labelled(tmp_path: Path) -> None:
    """One run of the real measure (a child process per input) on the quick sizes, but for
    the slowest to write: refused for the expected reason, or accepted."""
    items = [i for i in hostile.inputs(quick=True) if i.key not in {"summary", "crowded"}]
    rows = hostile.measure(tmp_path, items, runs=1, log=lambda _: None)
    assert [r.key for r in rows] == [i.key for i in items]
    for item, row in zip(items, rows, strict=True):
        assert row.outcome.startswith("accepted" if item.expect is None else "refused: ")
        assert max(row.rss.values) > 10  # MB: a real process was measured
    written = json.loads((tmp_path / "hostile" / "members" / ".paths.json").read_text())
    assert written["label"] == items[1].label  # reused by a second run with the same sizes


def test_an_unexpected_outcome_fails_the_bench(tmp_path: Path) -> None:
    def good(root: Path) -> list[str]:
        project = SampleProject("fine", "1.0")
        (root / "packages" / f"{project.stem}-py3-none-any.whl").write_bytes(wheel_bytes(project))
        return [f"packages/{project.stem}-py3-none-any.whl"]

    wrong = hostile.Input("fine", "a good wheel", "never said", good)
    with pytest.raises(RuntimeError, match="expected 'never said' for each file"):
        hostile.measure(tmp_path, [wrong], runs=1, log=lambda _: None)


def test_section_table() -> None:
    results = Results(machine={"cpu": "test"}, date="today", command="python bench/run.py")
    assert results.hostile_table() == ""
    results.hostile = [
        HostileRow("a", "input a", "accepted", Samples((0.1, 0.2), "s"), Samples((60.0,), "MB")),
        HostileRow("b", "input b", "refused: x", Samples((11.0,), "s"), Samples((60.0,), "MB")),
    ]
    table = results.hostile_table()
    assert table.count("\n| ") == 2
    assert "| input a | accepted | 0.10 / 0.15 s | 60.0 MB | <= 10 s, <= 150 MB | met |" in table
    assert table.rstrip().endswith("**missed** |")
    assert json.loads(results.to_json())["hostile"][1]["outcome"] == "refused: x"
