"""Validate a Cloud Build config against the Cloud Build JSON schema that check-jsonschema
vendors from SchemaStore (offline)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.tools import require_tool


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("check-jsonschema"), "--builtin-schema", "vendor.cloudbuild", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
