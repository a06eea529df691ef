#!/usr/bin/env bash
# Regenerate function/requirements.txt from pyproject.toml: pypapo's core dependencies plus its
# `function` extra, every package pinned with the sha256 of each of its files, resolved for the
# function's runtime (python312 on Linux x86_64). The Cloud Function and the build's repair step
# install it with --require-hashes; tests/test_dependencies.py fails when it no longer matches
# pyproject.toml. Run after changing either dependency list, and to take upstream fixes.
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --extra function --generate-hashes \
  --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
  --custom-compile-command "bash scripts/lock-function.sh" \
  --quiet --output-file function/requirements.txt
