#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
# Installs: Debian's nginx (when root and missing), a venv in .venv with pypapo, its test tools
# and the clients the end-to-end tests drive. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the end-to-end tests drive: nginx (serving) and chromium (browse pages).
missing=()
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || missing+=(nginx)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing: ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" >&2
    fi
fi
export PATH="$PATH:/usr/sbin"

# This machine's pip configuration may name local mirrors that do not exist; keep the log readable.
pipq() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
pipq .venv/bin/python -m pip install -q --upgrade pip
# one extra holds everything the suite, its type checks and the benchmark import
pipq .venv/bin/python -m pip install -q -e '.[test]'
# poetry and pdm live in their own venv so their dependencies never meet the project's
if [ ! -x .venv-clients/bin/pdm ] || [ ! -x .venv-clients/bin/poetry ]; then
    "$PY" -m venv .venv-clients
    pipq .venv-clients/bin/python -m pip install -q poetry pdm "hishel[httpx2]>=1.4,<2"
fi
export PYPAPO_CLIENTS_BIN="$PWD/.venv-clients/bin"
if [ -d bench ] && compgen -G "bench/*.py" >/dev/null; then MYPY_EXTRA=bench; else MYPY_EXTRA=; fi
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
# shellcheck disable=SC2086
.venv/bin/mypy generator/pypapo function tests $MYPY_EXTRA
echo "== pytest"
.venv/bin/python -m coverage run --source=generator/pypapo,function -m pytest "$@"
.venv/bin/python -m coverage report --skip-empty | tail -n 1
