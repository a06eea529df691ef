"""The example Cloud Build configs validate against the Cloud Build schema, and every pypapo
command they run parses with pypapo's own command line."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from pypapo.cli import _parser
from tests.conftest import require_tool

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIGS = sorted(EXAMPLES.glob("cloudbuild-*.yaml"))


def test_there_are_two_examples() -> None:
    assert [c.name for c in CONFIGS] == ["cloudbuild-consumer.yaml", "cloudbuild-publisher.yaml"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_validates_against_cloud_build_schema(config: Path) -> None:
    result = subprocess.run(
        [require_tool("check-jsonschema"), "--builtin-schema", "vendor.cloudbuild", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _pypapo_commands(config: Path) -> list[list[str]]:
    data = yaml.safe_load(config.read_text())
    values = {k: f"value{k.lower()}" for k in data.get("substitutions", {})}
    commands = []
    for step in data["steps"]:
        for arg in step.get("args", []):
            for raw in str(arg).splitlines():
                line = re.sub(r"\$\{(_[A-Z_]+)\}", lambda m: values[m.group(1)], raw.strip())
                if line.startswith("pypapo "):
                    commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_pypapo_commands_parse(config: Path) -> None:
    commands = _pypapo_commands(config)
    assert commands, "the example runs pypapo"
    for argv in commands:
        args = _parser().parse_args(argv)
        assert args.command in {"mirror", "upload", "wait"}


def test_publisher_uploads_then_waits() -> None:
    commands = [c[0] for c in _pypapo_commands(EXAMPLES / "cloudbuild-publisher.yaml")]
    assert commands == ["upload", "wait"]


def test_conda_environment_uses_the_index() -> None:
    env = yaml.safe_load((EXAMPLES / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip[0] == "--index-url http://127.0.0.1:3333/simple/"
