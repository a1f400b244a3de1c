#!/usr/bin/env bash
# Starts a throw-away node (first run, embedded defaults) and runs
# schemathesis against its OpenAPI document, authenticated once as the admin
# and once as shelter staff: no 5xx, and every documented response matches
# its schema. Usage: .ci/api-fuzz.sh [BINARY] [MAX_EXAMPLES]
set -euo pipefail
bin=${1:-target/debug/handover}
examples=${2:-10}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HANDOVER_LOG=info "$bin" --data-dir "$work/data" serve --bind "127.0.0.1:$port" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 150); do grep -q "listening on" "$work/out" && break; sleep 0.2; done
grep -q "listening on" "$work/out" || { cat "$work/err"; exit 1; }
base="http://127.0.0.1:$port"
# The first run names the 0600 file holding the admin's one-time password.
password=$(cat "$(sed -n 's/^    \(.*\)$/\1/p' "$work/out" | head -1)")
# Log in with a one-time password, setting a new one (required).
login() {
  curl -fsS -X POST "$base/api/v1/session" -H 'content-type: application/json' \
    -d "{\"name\":\"$1\",\"password\":\"$2\",\"new_password\":\"$3\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
admin=$(login admin "$password" fuzz-admin-passphrase)
curl -fsS -X POST "$base/api/v1/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"name":"fuzz-staff","role":"shelter_staff","scope":"institution:fuzz-home","password":"fuzz-staff-one-time"}' >/dev/null
staff=$(login fuzz-staff fuzz-staff-one-time fuzz-staff-passphrase)
for token in "$admin" "$staff"; do
  schemathesis run "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$examples" --wait-for-schema 10 --no-color
done
if grep -E 'status=5[0-9][0-9]' "$work/err"; then
  echo "the server answered 5xx" >&2
  exit 1
fi
echo "api fuzz: no 5xx, responses match the schema"
