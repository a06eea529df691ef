"""cloudbuild.yaml: the Cloud Build schema (SchemaStore's, vendored in check-jsonschema), its
substitutions, step graph and shell scripts, and the deployment it performs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import K8S, REPO
from tests.support.cloudbuild_schema import check_schema

CONFIG = REPO / "cloudbuild.yaml"
BUILT_IN = {"PROJECT_ID", "BUILD_ID", "PROJECT_NUMBER", "LOCATION"}  # set for every build
EVENT_TYPES = {"finalized", "deleted", "metadataUpdated"}


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return config


def _steps() -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in _config()["steps"]}


def _resolve(text: str) -> str:
    """Substitute the defaults as Cloud Build would, then un-escape $$ for the shell."""
    config = _config()
    values = {name: str(value) for name, value in config["substitutions"].items()}
    values |= {"PROJECT_ID": "my-project", "BUILD_ID": "b-1", "LOCATION": "europe-west1"}

    def one(match: re.Match[str]) -> str:
        return values[match.group(1) or match.group(2)]

    pattern = re.compile(r"(?<!\$)\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))")
    for _ in range(3):  # substitutions may name other substitutions (dynamicSubstitutions)
        text = pattern.sub(one, text)
    return text.replace("$$", "$")


# --- schema ------------------------------------------------------------------------------------


def test_validates_against_the_cloud_build_schema() -> None:
    result = check_schema(CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_config(tmp_path: Path) -> None:
    broken = _config()
    broken["steps"][0]["nmae"] = broken["steps"][0].pop("name")
    path = tmp_path / "cloudbuild.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert check_schema(path).returncode != 0


# --- substitutions -----------------------------------------------------------------------------


def test_substitutions_have_defaults_and_are_all_used() -> None:
    config = _config()
    defined = set(config["substitutions"])
    assert {"_REGION", "_BUCKET", "_CLUSTER", "_REPOSITORY"} <= defined
    assert all(re.fullmatch(r"_[A-Z][A-Z0-9_]*", name) for name in defined)
    assert all(str(v) for v in config["substitutions"].values())
    body = yaml.safe_dump({k: v for k, v in config.items() if k != "substitutions"})
    used = set(re.findall(r"(?<!\$)\$\{?(_?[A-Z][A-Z0-9_]*)", body.replace("$$", "")))
    assert defined <= used, defined - used
    assert used <= defined | BUILT_IN, used - defined - BUILT_IN  # e.g. no $SHORT_SHA


def test_substitutions_referring_to_others_need_dynamic_substitutions() -> None:
    config = _config()
    if any("$" in str(v) for v in config["substitutions"].values()):
        assert config["options"]["dynamicSubstitutions"] is True
    assert "my-project-pypapo" in _resolve("${_BUCKET}")


# --- steps -------------------------------------------------------------------------------------


def test_step_graph_is_well_formed() -> None:
    steps = _config()["steps"]
    ids = [step["id"] for step in steps]
    assert len(ids) == len(set(ids))
    for position, step in enumerate(steps):
        for dependency in step.get("waitFor", []):
            # "-" = start at once; otherwise only earlier steps, so there can be no cycle
            assert dependency == "-" or dependency in ids[:position], (step["id"], dependency)


def test_image_is_built_from_the_nginx_dockerfile_and_pushed_to_artifact_registry() -> None:
    steps = _steps()
    build = steps["image"]["args"]
    assert build[:3] == ["build", "-f", "nginx/Dockerfile"]
    assert (REPO / build[2]).is_file()
    image = build[build.index("-t") + 1]
    assert image.startswith("${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/")
    assert steps["push"]["args"] == ["push", image]
    assert _config()["images"] == [image]


def test_function_is_deployed_gen2_python312_from_function_dir() -> None:
    args = _steps()["function"]["args"]
    assert args[:3] == ["functions", "deploy", "${_FUNCTION}"]
    for flag in (
        "--gen2",
        "--runtime=python312",
        "--source=function",
        "--entry-point=on_storage_event",
        "--retry",
        "--set-env-vars=PYPAPO_BUCKET=${_BUCKET}",
        "--trigger-event-filters=bucket=${_BUCKET}",
        "--no-allow-unauthenticated",
    ):
        assert flag in args, flag
    assert "def on_storage_event(" in (REPO / "function" / "main.py").read_text()


def test_one_trigger_per_event_type() -> None:
    steps = _steps()
    function_types = [
        a.rsplit(".", 1)[1]
        for a in steps["function"]["args"]
        if a.startswith("--trigger-event-filters=type=google.cloud.storage.object.v1.")
    ]
    script = steps["triggers"]["args"][-1]
    [loop] = re.findall(r"for kind in ([A-Za-z ]+); do", script)
    trigger_types = loop.split()
    assert "--event-filters=type=google.cloud.storage.object.v1.$$kind" in script
    assert "--event-filters=bucket=${_BUCKET}" in script
    assert "--destination-run-service=${_FUNCTION}" in script
    everything = function_types + trigger_types
    assert sorted(everything) == sorted(EVENT_TYPES), everything  # each exactly once


def test_index_is_repaired_after_the_triggers_exist() -> None:
    step = _steps()["repair-index"]
    command = step["args"][-1]
    assert re.search(r"pip install\b.*--require-hashes.* -r function/requirements.txt", command)
    assert "PYTHONPATH=generator python -m pypapo.cli build gs://${_BUCKET}" in command
    assert {"function", "triggers"} <= set(step["waitFor"])


def test_the_build_rolls_out_its_image_and_applies_no_manifest() -> None:
    step = _steps()["deploy-k8s"]
    script = step["args"][-1]
    assert "gcloud container clusters get-credentials ${_CLUSTER}" in script
    assert "kubectl apply" not in script  # manifests are an operator's job (docs/deploy.md)
    assert "kubectl -n pypapo set image deployment/pypapo" in script
    assert "kubectl -n pypapo rollout status deployment/pypapo" in script
    assert {"push", "repair-index"} <= set(step["waitFor"])
    # `set image nginx=...` names the Deployment's one container
    deployment = yaml.safe_load((K8S / "base" / "deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "nginx"


SCRIPTS = [
    (step["id"], step["args"][-1])
    for step in _config()["steps"]
    if step.get("entrypoint") == "bash"
]


@pytest.mark.parametrize(("step_id", "script"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_bash_scripts_parse_after_substitution(step_id: str, script: str) -> None:
    assert step_id
    result = subprocess.run(
        ["bash", "-n", "-c", _resolve(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
