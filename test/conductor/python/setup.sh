#!/usr/bin/env bash
# Installs Conductor's Python SDK (conductor-python, pinned, from PyPI) in a
# virtualenv outside the checkout; idempotent. Prints the venv's python.
# Used by .ci/run and, when it was not run, by test/conductor/sdk-python.test.ts.
set -euo pipefail
VERSION=2.0.0
VENV="${BATON_CONDUCTOR_PYTHON_VENV:-$HOME/.cache/baton/conductor-python-$VERSION}"
if ! "$VENV/bin/python" -c "import conductor.client.automator.task_handler" >/dev/null 2>&1; then
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! python3 -m venv "$VENV" >&2; then
    rm -rf "$VENV"
    # Debian ships venv apart from python3.
    (apt-get update -qq && apt-get install -y -qq python3-venv) >&2
    python3 -m venv "$VENV" >&2
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "conductor-python==$VERSION" >&2
fi
echo "$VENV/bin/python"
