#!/usr/bin/env bash
# usage: examples/cluster/run.sh [--keep]   (a 3-node Tally cluster on this machine)
#
# Starts one throwaway PostgreSQL 15 and three Tally nodes over it (cluster
# mode, lease TTL 3 s), prints their ports and the cluster as node 0 sees it,
# then demonstrates a failure under load: charges with idempotency keys run
# against nodes 0 and 1 while node 2 is killed with SIGKILL; the output shows
# per-second outcomes, how long node 2's shards were unavailable, that the
# balance equals the ledger (nothing acknowledged lost, nothing applied
# twice), and node 2 rejoining. With --keep the cluster stays up afterwards
# until Ctrl-C. Everything lives in a temporary directory removed on exit.
#
# TALLY_BINARY names the binary (default build/tally; built by scripts/setup
# when missing). TALLY_LEASE_TTL_MS overrides the 3 s lease.
set -euo pipefail

case "${1:-}" in
  -h|--help) sed -n '2p' "$0" | sed 's/^# //'; exit 0 ;;
  --keep|"") ;;
  *) sed -n '2p' "$0" | sed 's/^# //' >&2; exit 2 ;;
esac
keep=${1:-}

cd "$(dirname "$0")/../.."
root_dir=$(pwd)
binary=${TALLY_BINARY:-$root_dir/build/tally}
[[ -x "$binary" ]] || bash scripts/setup
lease_ttl_ms=${TALLY_LEASE_TTL_MS:-3000}

work=$(mktemp -d "${TMPDIR:-/tmp}/tally-cluster.XXXXXX")
chmod 755 "$work"
pg_bin=/usr/lib/postgresql/15/bin
pg_dir="$work/pg"
pids=()

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- Postgres
mkdir -p "$pg_dir"
[[ $(id -u) -ne 0 ]] || chown postgres: "$pg_dir"
chmod 700 "$pg_dir"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$work/initdb.log"
pg_port=$(free_port)
cat >>"$pg_dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir'
port = $pg_port
max_connections = 100
CONF
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 start >/dev/null
db="postgresql://postgres@127.0.0.1:$pg_port/postgres"
echo "cluster: PostgreSQL 15 at $db"

# ---------------------------------------------------------------- nodes
export TALLY_DB=$db
export TALLY_JWT_SECRET
TALLY_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export TALLY_ADMIN_TOKEN
TALLY_ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
"$binary" migrate >/dev/null

http_ports=() internal_ports=()
start_node() {
  local index=$1
  TALLY_CLUSTER=1 TALLY_NODE_ID="node-$index" TALLY_HTTP_HOST=127.0.0.1 \
    TALLY_HTTP_PORT="${http_ports[$index]}" TALLY_INTERNAL_PORT="${internal_ports[$index]}" \
    TALLY_LEASE_TTL_MS="$lease_ttl_ms" TALLY_ACCESS_LOG=false \
    "$binary" serve >>"$work/node-$index.log" 2>&1 &
  pids[$index]=$!
  disown "$!"   # its SIGKILL below is part of the demo, not news from bash
}
for index in 0 1 2; do
  http_ports[$index]=$(free_port)
  internal_ports[$index]=$(free_port)
  start_node "$index"
done

export CLUSTER_PORTS="${http_ports[*]}"
# settle.py: waits until all three nodes are alive and the shard counts have
# not changed for 2 s (a joining node takes its shards a few per renewal),
# then prints the cluster as node 0 sees it.
cat >"$work/settle.py" <<'PY'
import json, os, sys, time, urllib.request
ports = os.environ["CLUSTER_PORTS"].split()
token = os.environ["TALLY_ADMIN_TOKEN"]
deadline, last, since = time.monotonic() + 90, None, time.monotonic()
while True:
    try:
        request = urllib.request.Request("http://127.0.0.1:%s/v1/admin/cluster" % ports[0],
                                         headers={"Authorization": "Bearer " + token})
        view = json.load(urllib.request.urlopen(request, timeout=2))
        alive = [n for n in view["nodes"] if n["status"] == "alive"]
        shape = sorted((n["id"], n["shards"]) for n in alive)
        if shape != last:
            last, since = shape, time.monotonic()
        elif len(alive) == 3 and sum(n for _, n in shape) == 256 and time.monotonic() - since >= 2:
            break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("cluster: the nodes did not settle within 90 s")
    time.sleep(0.3)
for node in sorted(view["nodes"], key=lambda n: n["id"]):
    print("  %-8s %-6s %3d shards  %s" % (node["id"], node["status"], node["shards"], node["address"]))
PY
echo "cluster: three nodes, one Postgres"
for index in 0 1 2; do echo "  node-$index  http://127.0.0.1:${http_ports[$index]}"; done
python3 "$work/settle.py"

# ---------------------------------------------------------------- kill under load
# A user whose shard node-2 serves (protocols/cluster.cpp: FNV-1a over the
# id's 16 bytes, mod 256), so the kill hits it.
shard_of() {
  python3 -c 'import sys, uuid
h = 2166136261
for b in uuid.UUID(sys.argv[1]).bytes:
    h = ((h ^ b) * 16777619) & 0xFFFFFFFF
print(h % 256)' "$1"
}
for attempt in $(seq 1 60); do
  user_id=$("$binary" create-user --email "cluster-demo-$attempt@example.test")
  owner=$(psql "$db" -X -A -t -q -c "SELECT owner_node FROM shard_leases WHERE shard = $(shard_of "$user_id")")
  [[ "$owner" == node-2 ]] && break
done
echo "cluster: user $user_id lives on shard $(shard_of "$user_id"), served by $owner"
user_token=$("$binary" mint-token --user "$user_id")
export USER_ID=$user_id USER_TOKEN=$user_token VICTIM_PID=${pids[2]}
python3 - <<'PY'
import json, os, signal, threading, time, urllib.error, urllib.request, uuid
ports = os.environ["CLUSTER_PORTS"].split()
admin = os.environ["TALLY_ADMIN_TOKEN"]
user, token = os.environ["USER_ID"], os.environ["USER_TOKEN"]

def call(port, path, body, bearer, key):
    request = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + bearer, "Idempotency-Key": key,
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None

status, _ = call(ports[0], "/v1/admin/users/%s/credits" % user, {"amount": 1_000_000, "reason": "demo"},
                 admin, "demo-grant")
assert status == 200, status
acknowledged, per_second, lock = [], {}, threading.Lock()
start, stop = time.monotonic(), threading.Event()

def worker(n):
    i = 0
    while not stop.is_set():
        i += 1
        key, attempt = "demo-%d-%d" % (n, i), 0
        while not stop.is_set():          # retry one key until it settles
            status, body = call(ports[(n + attempt) % 2], "/v1/me/charges", {"amount": 1}, token, key)
            attempt += 1
            second = int(time.monotonic() - start)
            with lock:
                per_second.setdefault(second, {}).setdefault(status, 0)
                per_second[second][status] += 1
            if status == 201:
                with lock:
                    acknowledged.append(body["id"])
                break
            time.sleep(0.05)

threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(8)]
for t in threads:
    t.start()
time.sleep(2)
os.kill(int(os.environ["VICTIM_PID"]), signal.SIGKILL)
print("cluster: SIGKILL node-2 at t=2 s, load continues on node-0 and node-1")
time.sleep(8)
stop.set()
for t in threads:
    t.join()
for second in sorted(per_second):
    print("  t=%2d s  %s" % (second, "  ".join("%s: %d" % ("201" if s == 201 else (s or "conn err"), c)
                                               for s, c in sorted(per_second[second].items()))))
print("cluster: %d charges acknowledged" % len(acknowledged))
with open(os.environ.get("ACK_FILE", "/dev/null"), "w") as out:
    out.write("\n".join(acknowledged))
PY

echo "cluster: the store's view (every acknowledged charge once; balance = grant - charges):"
psql "$db" -X -A -t -q -c "
  SELECT 'charges in the ledger: ' || count(*) || ', distinct: ' || count(DISTINCT reference)
    FROM ledger_entries WHERE user_id = '$user_id' AND type = 'charge';" \
  -c "SELECT 'available: ' || available || ', 1000000 - charges: ' ||
        (1000000 - (SELECT coalesce(sum(amount), 0) FROM ledger_entries
                     WHERE user_id = '$user_id' AND type = 'charge'))
        FROM users WHERE id = '$user_id';"

echo "cluster: restarting node-2; it rejoins and takes its share back"
start_node 2
python3 "$work/settle.py"

if [[ "$keep" == --keep ]]; then
  echo "cluster: running (logs in $work); Ctrl-C stops it"
  wait
fi
