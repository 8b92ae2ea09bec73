#!/usr/bin/env bash
# usage: URL=http://127.0.0.1:8080 ADMIN=<admin token> examples/curl/walkthrough.sh
#
# The README's walkthrough as a script, against a Tally in dev mode (the
# magic-link token comes back in the response). Every step checks the status
# it expects and stops with a message otherwise; the tests run it against a
# real server (tests/integration/test_walkthrough.py), so it cannot drift from
# what the service does. Needs curl and python3 (to read JSON).
set -euo pipefail

: "${URL:?set URL, e.g. http://127.0.0.1:8080}"
: "${ADMIN:?set ADMIN to the admin token of the service (TALLY_ADMIN_TOKEN)}"
EMAIL="${EMAIL:-walkthrough-$(date +%s)-$RANDOM@example.com}"

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# call <expected status> <method> <path> [curl args...]: prints the body.
call() {
  local expected=$1 method=$2 path=$3
  shift 3
  local status
  status=$(curl -sS -o "$body" -w '%{http_code}' -X "$method" "$URL$path" "$@")
  if [[ "$status" != "$expected" ]]; then
    echo "walkthrough: $method $path answered $status, expected $expected:" >&2
    cat "$body" >&2
    echo >&2
    exit 1
  fi
  cat "$body"
}

# field <json> <python expression over `d`>: one value out of a JSON text.
field() {
  python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

step() { printf '\n== %s\n' "$*"; }

json=(-H 'Content-Type: application/json')

step "log in by magic link (dev mode returns the token as debug_token)"
sent=$(call 202 POST /v1/auth/magic-link "${json[@]}" -d "{\"email\": \"$EMAIL\"}")
echo "$sent"
link_token=$(field "$sent" 'd["debug_token"]')
pair=$(call 200 POST /v1/auth/magic-link/verify "${json[@]}" -d "{\"token\": \"$link_token\"}")
TOKEN=$(field "$pair" 'd["access_token"]')
USER_ID=$(field "$pair" 'd["user"]["id"]')
auth=(-H "Authorization: Bearer $TOKEN")
echo "user $USER_ID"

step "grant 100 credits as admin (idempotent: the same key again changes nothing)"
for _ in 1 2; do
  call 200 POST "/v1/admin/users/$USER_ID/credits" -H "Authorization: Bearer $ADMIN" "${json[@]}" \
    -H "Idempotency-Key: welcome-$USER_ID" -d '{"amount": 100, "reason": "welcome"}'
  echo
done

step "charge 5 credits, then replay the very same request: charged once"
call 201 POST /v1/me/charges "${auth[@]}" "${json[@]}" -H 'Idempotency-Key: charge-1' \
  -d '{"amount": 5, "description": "first charge"}'
echo
replayed=$(curl -sS -i -X POST "$URL/v1/me/charges" "${auth[@]}" "${json[@]}" \
  -H 'Idempotency-Key: charge-1' -d '{"amount": 5, "description": "first charge"}')
grep -qi '^Idempotent-Replayed: true' <<<"$replayed" || { echo "walkthrough: no replay" >&2; exit 1; }
echo "replayed: Idempotent-Replayed: true"
balance=$(call 200 GET /v1/me/balance "${auth[@]}")
echo "$balance"
[[ $(field "$balance" 'd["available"]') == 95 ]] || { echo "walkthrough: expected 95 available" >&2; exit 1; }

step "models, then a generation: its price is reserved until it completes"
call 200 GET /v1/models
echo
job=$(call 202 POST /v1/generations "${auth[@]}" "${json[@]}" -H "Idempotency-Key: job-1" \
  -d '{"model_id": "doc-writer", "prompt": "a short report on lighthouses", "params": {"target_pages": 3}}')
echo "$job"
JOB_ID=$(field "$job" 'd["id"]')
call 200 GET "/v1/generations/$JOB_ID" "${auth[@]}"
echo

step "cancel it: the reservation is released (or 409 INVALID_STATE if it already finished)"
status=$(curl -sS -o "$body" -w '%{http_code}' -X POST "$URL/v1/generations/$JOB_ID/cancel" "${auth[@]}")
cat "$body"
echo
[[ "$status" == 200 || "$status" == 409 ]] || { echo "walkthrough: cancel answered $status" >&2; exit 1; }
call 200 GET "/v1/generations?status=active" "${auth[@]}"
echo
call 200 GET "/v1/me/ledger?limit=10" "${auth[@]}"
echo

step "a workspace with a module on its own subdomain (a 14-day trial)"
tenant=$(call 201 POST /v1/tenants "${auth[@]}" "${json[@]}" -d '{"name": "Walkthrough Inc."}')
echo "$tenant"
TENANT_ID=$(field "$tenant" 'd["id"]')
SUBDOMAIN="walk-$(date +%s)-$RANDOM"
call 200 GET "/v1/subdomains/$SUBDOMAIN" "${auth[@]}"
echo
call 200 POST "/v1/tenants/$TENANT_ID/modules/activate" "${auth[@]}" "${json[@]}" \
  -d "{\"module\": \"shop\", \"subdomain\": \"$SUBDOMAIN\"}"
echo
call 200 GET "/v1/auth/me" "${auth[@]}"
echo

step "ops"
call 200 GET /healthz
echo
call 200 GET /readyz
echo

printf '\nwalkthrough: every step answered as documented\n'
