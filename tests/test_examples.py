"""The example Cloud Build configs: they validate against the Cloud Build schema (the one
tests/deploy uses, vendored in check-jsonschema), use only substitutions Cloud Build accepts,
every pypapo command they run parses with pypapo's own command line, and the publisher's
script, run as the build would run it against a folder, uploads and waits."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from pypapo.cli import _parser
from pypapo.sample import SampleProject, write_sdist, write_wheel
from tests.support.cloudbuild_schema import check_schema
from tests.support.tools import require_tool

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIGS = sorted(EXAMPLES.glob("cloudbuild-*.yaml"))
BUILTINS = {"PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "COMMIT_SHA", "SHORT_SHA",
            "REVISION_ID", "REPO_NAME", "REPO_FULL_NAME", "BRANCH_NAME", "TAG_NAME", "REF_NAME",
            "TRIGGER_NAME", "TRIGGER_BUILD_CONFIG_PATH", "SERVICE_ACCOUNT_EMAIL",
            "SERVICE_ACCOUNT"}  # fmt: skip
# $$ is a literal $; otherwise $NAME or ${NAME} is a substitution
SUBSTITUTION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _load(config: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(config.read_text())
    return data


def _substitute(text: str, values: dict[str, str]) -> str:
    """What Cloud Build makes of a string: substitutions replaced, $$ turned into $."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return values[m.group(1) or m.group(2)]

    return SUBSTITUTION.sub(one, text)


def test_there_are_two_examples() -> None:
    assert [c.name for c in CONFIGS] == ["cloudbuild-consumer.yaml", "cloudbuild-publisher.yaml"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_validates_against_cloud_build_schema(config: Path) -> None:
    result = check_schema(config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_example(tmp_path: Path) -> None:
    data = _load(CONFIGS[0])
    data["steps"][0]["args"] = "not a list"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    assert check_schema(broken).returncode != 0


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_only_known_substitutions(config: Path) -> None:
    """Cloud Build rejects a build using an undeclared user substitution, and reads a shell
    variable written $name as a substitution: scripts must write $$name."""
    data = _load(config)
    declared = set(data.get("substitutions", {}))
    used = set()
    for step in data["steps"]:
        for arg in step.get("args", []):
            for m in SUBSTITUTION.finditer(str(arg)):
                if m.group(0) != "$$":
                    used.add(m.group(1) or m.group(2))
    assert used - declared - BUILTINS == set()
    assert declared <= used, "every declared substitution is used"


def _pypapo_commands(config: Path) -> list[list[str]]:
    data = _load(config)
    values = {k: f"value{k.lower()}" for k in data.get("substitutions", {})}
    commands = []
    for step in data["steps"]:
        for arg in step.get("args", []):
            for raw in _substitute(str(arg), values).splitlines():
                line = raw.strip()
                if line.startswith("pypapo "):
                    commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize(
    ("config", "expected"),
    [("cloudbuild-consumer.yaml", ["mirror"]), ("cloudbuild-publisher.yaml", ["upload", "wait"])],
)
def test_pypapo_commands_parse(config: str, expected: list[str]) -> None:
    commands = _pypapo_commands(EXAMPLES / config)
    assert [c[0] for c in commands] == expected
    for argv in commands:
        args = _parser().parse_args(argv)
        assert args.target if args.command != "mirror" else args.source


def test_publisher_script_uploads_and_waits(tmp_path: Path) -> None:
    """The upload-and-wait script from `pypapo upload` on, as bash runs it in the build, with
    the bucket replaced by a folder (whose upload refreshes the index at once)."""
    bash = require_tool("bash")
    data = _load(EXAMPLES / "cloudbuild-publisher.yaml")
    (step,) = [s for s in data["steps"] if s["id"] == "upload-and-wait"]
    index = tmp_path / "index"
    script = _substitute(step["args"][-1], {"_BUCKET": "BUCKET", "_PYPAPO_WHEEL": "unused"})
    script = script.replace("gs://BUCKET", str(index))
    body = script[script.index("pypapo upload") :]
    project = SampleProject("My.Lib", "1.2.0")
    write_wheel(tmp_path / "dist", project)
    write_sdist(tmp_path / "dist", project)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [bash, "-c", "set -euo pipefail\n" + body],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "my-lib 1.2.0 is on the index" in result.stdout
    assert (index / "packages" / "my_lib-1.2.0.tar.gz").is_file()
    # run again: the version exists, the create-only upload refuses and the build fails
    again = subprocess.run(
        [bash, "-c", "set -euo pipefail\n" + body],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert again.returncode == 1
    assert "not overwritten" in again.stderr


def test_conda_environment_uses_the_index() -> None:
    env = yaml.safe_load((EXAMPLES / "environment.yml").read_text())
    assert "pip" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip[0] == "--index-url http://127.0.0.1:3333/simple/"
    assert [str(Requirement(line)) for line in pip[1:]] == pip[1:]  # the rest: requirements
