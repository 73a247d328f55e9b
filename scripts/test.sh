#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the suite needs, then runs pytest, ruff and mypy.
# Servers (SeaweedFS for storage, the Scale endpoint stand-in) are started by the test fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."

# scale-sensor-fusion-io (a compatibility oracle in the tests) loads libturbojpeg at import.
if ! ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so'; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libturbojpeg0 >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,compat,las,bench]'

.venv/bin/python -m pytest "$@"
.venv/bin/python -m ruff check sfs_kit tests scripts
.venv/bin/python -m mypy
