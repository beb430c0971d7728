#!/usr/bin/env bash
# The test suite: installs the package with its dev extras (into .venv/ unless a virtual environment is
# active or PYTHON names an interpreter; under CI, into python3 itself when it accepts installs), and
# Debian's redis-server for the integration tests when missing and apt-get is at hand, then runs pytest.
# Extra arguments go to pytest. SCRM_TEST_DATABASE_URL=mysql+pymysql://... runs the same suite against
# MySQL/MariaDB. Tests run in parallel (pytest-xdist): one worker per core, at most 4, or SCRM_TEST_WORKERS
# (0: in this process, serially); each worker has its own database, fake WeCom, Redis and ports.
# --dist loadgroup hands tests out one by one except those marked xdist_group (a module's shared
# server or build), which stay together on one worker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
if [[ -n "${CI:-}" ]]; then scrm_python --allow-current; else scrm_python; fi
scrm_install ".[dev]"
if ! command -v redis-server >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
fi
workers=${SCRM_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
((workers <= 4)) || workers=4
exec "$PY" -m pytest -q -p no:cacheprovider -n "$workers" --dist loadgroup "$@"
