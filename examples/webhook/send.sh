#!/bin/sh
# Signs a payment event exactly as the provider (Stripe) does and posts it to
# Tally's webhook endpoint:
#
#   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
#
# usage: examples/webhook/send.sh USER_ID CREDITS [EVENT_ID] [OBJECT_ID]
#        examples/webhook/send.sh --file EVENT.json
#
# environment:
#   TALLY_WEBHOOK_SECRET  the signing secret the service runs with (required)
#   TALLY_URL             the service (default http://127.0.0.1:8080)
#   EVENT_TYPE            the built event's type (default checkout.session.completed)
#   SIGN_AT               the timestamp to sign with (default: now), to try the time window
#
# Prints the response status line and body. The secret reaches openssl on
# its command line (visible to `ps` on this machine): a tool for trying the
# endpoint, not for production traffic.
set -eu

: "${TALLY_WEBHOOK_SECRET:?set TALLY_WEBHOOK_SECRET to the service's webhook secret}"
url="${TALLY_URL:-http://127.0.0.1:8080}/v1/webhooks/payments"
body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT

if [ "${1:-}" = "--file" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --file EVENT.json" >&2; exit 2; }
  cat "$2" > "$body_file"
else
  [ $# -ge 2 ] && [ $# -le 4 ] || {
    echo "usage: $0 USER_ID CREDITS [EVENT_ID] [OBJECT_ID]  |  $0 --file EVENT.json" >&2
    exit 2
  }
  random_id() { openssl rand -hex 12; }
  event_id="${3:-evt_$(random_id)}"
  object_id="${4:-cs_$(random_id)}"
  printf '{"id":"%s","type":"%s","data":{"object":{"id":"%s","metadata":{"user_id":"%s","credits":"%s"}}}}' \
    "$event_id" "${EVENT_TYPE:-checkout.session.completed}" "$object_id" "$1" "$2" > "$body_file"
fi

# The signed payload is "<t>." followed by the body's exact bytes.
t="${SIGN_AT:-$(date +%s)}"
signature=$( { printf '%s.' "$t"; cat "$body_file"; } \
  | openssl dgst -sha256 -hmac "$TALLY_WEBHOOK_SECRET" -r | cut -d ' ' -f 1)

curl -sS -w '\nHTTP %{http_code}\n' -X POST "$url" \
  -H 'Content-Type: application/json' \
  -H "Stripe-Signature: t=$t,v1=$signature" \
  --data-binary "@$body_file"
