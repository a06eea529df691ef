"""The publisher build of examples/cloudbuild-publisher.yaml, end to end on the GCS emulator:
``pypapo upload`` (validated, create-only) -> CloudEvents to the real functions-framework server
running function/main.py -> ``pypapo wait`` -> ``pypapo mirror`` -> pip installs the new version
from the file:// copy, with no server serving the index."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pypapo.cli import main
from pypapo.sample import SampleProject, write_sdist, write_wheel
from tests.support.function_server import FunctionServer
from tests.support.gcs_emulator import Emulator
from tests.support.installs import copy_venv, install, installed

pytestmark = pytest.mark.e2e
PREFIX = "index"


@pytest.fixture
def emulated_bucket(
    gcs_emulator: Emulator, gcs_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Emulator, str]:
    """The emulator and a fresh bucket's name, with the CLI's GCS client pointed at it."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    return gcs_emulator, str(gcs_bucket.name)


def test_upload_event_wait_mirror_install(
    emulated_bucket: tuple[Emulator, str],
    tmp_path: Path,
    fresh_venv_factory: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gcs_emulator, bucket = emulated_bucket
    target = f"gs://{bucket}/{PREFIX}"
    dist = tmp_path / "dist"
    lib = write_wheel(dist / "lib", SampleProject("lib", "1.0"))
    tool = SampleProject("Tool", "2.0", requires_dist=["lib>=1"])
    built = [write_wheel(dist / "tool", tool), write_sdist(dist / "tool", tool)]
    bad = dist / "bad" / "tool-3.0-py3-none-any.whl"
    bad.parent.mkdir()
    bad.write_bytes(b"not a zip")

    with FunctionServer(gcs_emulator.url, bucket, tmp_path / "function.log", PREFIX) as function:
        assert main(["upload", target, str(lib), "--to", "dist"]) == 0
        assert function.post_event("finalized", f"{PREFIX}/dist/{lib.name}") == 200

        # nothing is listed before the function has run: wait times out, exit 1
        assert main(["upload", target, *map(str, built), "--to", "dist"]) == 0
        capsys.readouterr()
        assert main(["wait", target, "tool", "2.0", "--timeout", "0.3", "--interval", "0.1"]) == 1
        assert "timed out after 0.3s: tool 2.0 is not listed" in capsys.readouterr().err

        # create-only and validated: a second upload and a broken file are refused
        assert main(["upload", target, str(built[0]), str(bad), "--to", "dist"]) == 1
        err = capsys.readouterr().err
        assert f"exists {target}/dist/{built[0].name}: not overwritten" in err
        assert f"invalid {bad}" in err

        # the events arrive while wait polls (binary and structured, as Eventarc sends them)
        def deliver() -> None:
            time.sleep(0.5)
            wheel, sdist = (f"{PREFIX}/dist/{path.name}" for path in built)
            assert function.post_event("finalized", wheel, "binary") == 200
            assert function.post_event("finalized", sdist, "structured") == 200

        sender = threading.Thread(target=deliver)
        sender.start()
        started = time.monotonic()
        code = main(["wait", target, "Tool", "2.0", "--timeout", "60", "--interval", "0.1"])
        sender.join()
        assert code == 0
        assert time.monotonic() - started >= 0.5
        assert capsys.readouterr().out.endswith("tool 2.0 is on the index\n")
    assert not [line for line in function.log_lines() if line.get("severity") == "ERROR"]

    dest = tmp_path / "build-workspace" / "index"
    assert main(["mirror", target, str(dest), "tool"]) == 0
    assert sorted(p.name for p in dest.rglob("*.whl")) == [lib.name, built[0].name]
    assert (dest / "dist" / built[1].name).is_file()  # every file of the chosen version
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    install("pip", python, dest.resolve().as_uri(), ["tool"], tmp_path)
    assert installed(python, "tool", tmp_path) == "2.0"
    assert installed(python, "lib", tmp_path) == "1.0"
