"""The benchmark's pure parts at a tiny size, so ``bench/`` cannot rot (no peers, no servers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.corpus import Spec, add_upload, generate, project_name, write_big_wheel
from bench.from_list import build_from_list, project_key
from bench.report import Results, Samples, bounded, fraction, info, speedup
from bench.servers import nginx_config

from pypapo.build import build
from pypapo.layout import parse_dist_filename
from pypapo.refresh import refresh
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage


def test_project_names_mix_case_dots_dashes_and_underscores() -> None:
    names = [project_name(i) for i in range(4)]
    joined = "".join(names)
    assert {".", "-", "_"} <= set(joined)
    assert any(c.isupper() for c in joined)
    assert len(set(names)) == 4


def test_corpus_is_valid_and_indexes_without_errors(tmp_path: Path) -> None:
    corpus = generate(tmp_path / "c", Spec(projects=3, versions=2))
    files = sorted(p.name for p in corpus.packages.iterdir())
    assert len(files) == 12
    assert len(corpus.lines()) == 12
    report = build(LocalStorage(corpus.root))
    assert not report.errors
    assert report.files == 12
    assert len(report.projects) == 3
    # reused, not rewritten, when asked again for the same corpus
    before = corpus.list_path.stat().st_mtime_ns
    generate(tmp_path / "c", Spec(projects=3, versions=2))
    assert corpus.list_path.stat().st_mtime_ns == before


def test_list_adapter_writes_the_pages_a_real_build_writes(tmp_path: Path) -> None:
    corpus = generate(tmp_path / "c", Spec(projects=5, versions=2))
    for line in corpus.lines():
        filename = json.loads(line)["filename"]
        assert project_key(filename) == parse_dist_filename(filename).project
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "packages").symlink_to(corpus.packages)
    written = build_from_list(corpus.lines(), adapter, workers=2)
    assert written == 5 * 3 + 2
    assert not build(LocalStorage(corpus.root)).errors
    real = sorted((corpus.root / "simple").rglob("index.*"))
    assert len(real) == 5 * 2 + 2
    for page in real:
        relative = page.relative_to(corpus.root)
        assert (adapter / relative).read_bytes() == page.read_bytes(), relative


def test_counting_storage_counts_a_refresh(tmp_path: Path) -> None:
    corpus = generate(tmp_path / "c", Spec(projects=2, versions=2))
    assert not build(LocalStorage(corpus.root)).errors
    path, line = add_upload(corpus.packages, 1, 50)
    assert json.loads(line)["filename"] in path
    counting = CountingStorage(LocalStorage(corpus.root))
    report = refresh(counting, [path])
    assert not report.errors
    size = (corpus.root / path).stat().st_size
    assert counting.calls["stream"] == 1
    assert counting.calls["put"] >= 3  # state, sidecar, pages
    assert counting.bytes_read >= size
    assert counting.bytes_written > 0
    assert counting.total == sum(counting.calls.values())
    counting.reset()
    assert counting.total == 0


def test_big_wheel_is_a_valid_wheel(tmp_path: Path) -> None:
    wheel = write_big_wheel(tmp_path / "big" / "packages", 3 << 20)
    assert wheel.stat().st_size > 3 << 20
    report = refresh(LocalStorage(tmp_path / "big"), [f"packages/{wheel.name}"])
    assert not report.errors
    assert report.files == 1


def test_table_has_every_row_and_is_saved(tmp_path: Path) -> None:
    s = Samples((1.0, 2.0, 3.0), "s")
    fast = Samples((0.1, 0.2), "s")
    rows = [
        speedup("list build", "full build", fast, "dumb-pypi", s, need=2),
        speedup("wheels cold", "cold build", s, "simple503", fast, need=2),
        fraction("upload/dumb", "one upload", Samples((0.001,), "s"), "dumb-pypi", s, bound=0.01),
        bounded("growth", "growth", Samples((1.1,), "x"), limit=1.5, target="<= 1.5x"),
        bounded("gcs requests", "requests", Samples((7.0, 8.0), "requests"), limit=8, target="8"),
        bounded("rss", "peak RSS", Samples((90.0,), "MB"), limit=80, target="<= 80 MB"),
        speedup("serving", "/s", Samples((2e4,), "req/s"), "p", Samples((1e2,), "req/s"), need=20),
        info("upload ops", "ops", Samples((8.0,), "ops"), note="counted"),
    ]
    results = Results(machine={"cpu": "test"}, date="today", command="python bench/run.py")
    results.rows = rows
    results.growth = [(2000, 0.002, 2.0), (20000, 0.0021, 20.0)]
    table = results.table()
    assert table.count("\n| ") == len(rows)
    assert "13.3x" in table  # median 2.0 / median 0.15
    assert table.count("**missed**") == 2  # the slow cold build and the RSS
    assert "- ops: counted" in table
    data, plot = results.write(tmp_path / "results")
    body = json.loads(data.read_text())
    assert [r["key"] for r in body["rows"]] == [r.key for r in rows]
    assert plot.read_text().startswith("<svg")


@pytest.mark.parametrize("marker", ["PYPAPO_LISTEN", "PYPAPO_ROOT", "PYPAPO_ACCESS_LOG"])
def test_nginx_config_replaces_each_marked_line(tmp_path: Path, marker: str) -> None:
    text = nginx_config("127.0.0.1:9", tmp_path, "off")
    line = next(x for x in text.splitlines() if x.rstrip().endswith(f"# {marker}"))
    assert any(value in line for value in ("127.0.0.1:9", str(tmp_path), "off"))
