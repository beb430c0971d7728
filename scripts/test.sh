#!/usr/bin/env bash
# The test suite: installs the package with its dev extras (and Debian's redis-server for the integration
# tests, when missing and apt-get is at hand), then runs pytest. Extra arguments go to pytest.
# SCRM_TEST_DATABASE_URL=mysql+pymysql://... runs the same suite against MySQL/MariaDB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -m pip install -q -e ".[dev]" 2>&1 | grep -v -e "Running pip as the 'root' user" -e "^WARNING: Location" || true
if ! command -v redis-server >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
fi
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
