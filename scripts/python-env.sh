# Sourced by demo.sh and test.sh (from the checkout's root): picks the Python to install into and run with,
# and installs the checkout into it. A stock Debian/Ubuntu python3 refuses `pip install` outside a virtual
# environment (PEP 668), so unless you chose one the scripts make their own in .venv/.
#
#   scrm_python [--allow-current]   sets PY: $PYTHON if set; else the python3 of the active virtual
#                                   environment; else (--allow-current) python3 itself when it accepts
#                                   installs (not "externally managed"); else .venv/, created on first use.
#   scrm_install SPEC               pip install -e SPEC into PY; on failure shows pip's own output.

scrm_fail() {  # message, [log file to show]
  echo "error: $1" >&2
  if [[ -n "${2:-}" && -s "$2" ]]; then
    echo "---- $2 (last 40 lines)" >&2
    tail -n 40 "$2" >&2
  fi
  exit 1
}

scrm_python() {
  if [[ -n "${PYTHON:-}" ]]; then
    PY="$PYTHON"
    return
  fi
  command -v python3 >/dev/null || scrm_fail "python3 is not installed (the service needs Python 3.11+)"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    scrm_fail "python3 is $(python3 -V 2>&1); the service needs 3.11+ (set PYTHON=/path/to/python3.11)"
  if python3 -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
    PY=python3  # already in a virtual environment
    return
  fi
  if [[ "${1:-}" == --allow-current ]] &&
    python3 -c 'import sys, sysconfig, pathlib; sys.exit(pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists())'; then
    PY=python3
    return
  fi
  if [[ ! -x .venv/bin/python ]]; then
    echo "== creating a virtual environment in .venv"
    local log=.venv-create.log
    python3 -m venv .venv >"$log" 2>&1 || {
      rm -rf .venv
      scrm_fail "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" "$log"
    }
    rm -f "$log"
  fi
  PY="$PWD/.venv/bin/python"
  export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"  # subprocesses (gunicorn, rq, tests) too
}

scrm_install() {
  local log
  log="$(mktemp /tmp/scrm-pip.XXXXXX)"
  echo "== installing $1 into $("$PY" -c 'import sys; print(sys.prefix)')"
  if ! "$PY" -m pip install --disable-pip-version-check -q -e "$1" >"$log" 2>&1; then
    scrm_fail "pip install -e $1 failed" "$log"
  fi
  rm -f "$log"
}
