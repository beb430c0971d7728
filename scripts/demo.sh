#!/usr/bin/env bash
# The embedded default in one command: install (into .venv/ unless a virtual environment is active or
# PYTHON names an interpreter), migrate a SQLite DB, start the fake WeCom and the service (jobs inline, no
# Redis), send an encrypted add_external_contact callback through it, and show the customer that
# appeared. Keeps serving until Ctrl-C; `--check` exits after showing the customer. A step that fails
# says why, with the end of its log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
PORT="${PORT:-5000}"
FAKE_PORT="${FAKE_PORT:-8900}"
LOGS="$(mktemp -d /tmp/scrm-demo.XXXXXX)"

scrm_python
scrm_install .

export DATABASE_URL="${DATABASE_URL:-sqlite:///$PWD/scrm-demo.db}"
unset REDIS_URL
export WECOM_CORP_ID=wwdemo0000000001 WECOM_TOKEN=DemoToken2026 WECOM_SECRET=demo-app-secret WECOM_AGENT_ID=1000002
export WECOM_AES_KEY=DemoEncodingAESKey0123456789abcdefghijklmno
export WECOM_API_BASE="http://127.0.0.1:$FAKE_PORT/cgi-bin/"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_http() {  # url, what, log of the process that should answer it
  for _ in $(seq 1 100); do
    "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || scrm_fail "$2 exited before answering at $1" "$3"
    sleep 0.2
  done
  scrm_fail "$2 did not answer at $1 within 20 s" "$3"
}

echo "== starting the fake WeCom on :$FAKE_PORT (its default seed: the demo corp)"
"$PY" -m wecom.fake --port "$FAKE_PORT" >"$LOGS/fake.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$FAKE_PORT/fake/health" "the fake WeCom" "$LOGS/fake.log"

echo "== migrating $DATABASE_URL"
"$PY" -m flask --app app db upgrade
echo "== starting the service on :$PORT"
"$PY" -m flask --app app run --port "$PORT" >"$LOGS/service.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$PORT/healthz" "the service" "$LOGS/service.log"

token="$("$PY" -m flask --app app token create --role super_admin --name "demo-$(date +%s)" | tail -n 1)"
echo "== WeCom says: customer wmDemoCustomer0001 added staff member zhangsan (encrypted callback)"
"$PY" -m flask --app app send-sample change_external_contact/add_external_contact \
  --base-url "http://127.0.0.1:$PORT" --set ExternalUserID=wmDemoCustomer0001 --set UserID=zhangsan
echo "== GET /api/v1/customers"
"$PY" - "http://127.0.0.1:$PORT/api/v1/customers" "$token" <<'PYEOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": f"Bearer {sys.argv[2]}"})
print(json.dumps(json.load(urllib.request.urlopen(req)), ensure_ascii=False, indent=2))
PYEOF
if [[ "${1:-}" == "--check" ]]; then exit 0; fi
cat <<TXT
== running. Try:
   curl -H 'Authorization: Bearer $token' http://127.0.0.1:$PORT/api/v1/events
   $PY -m flask --app app send-sample --list
   curl http://127.0.0.1:$FAKE_PORT/fake/calls      (what the service sent to "WeCom")
   Logs: $LOGS/service.log, $LOGS/fake.log
   Ctrl-C stops the service and the fake WeCom.
TXT
wait
