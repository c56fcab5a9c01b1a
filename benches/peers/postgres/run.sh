#!/usr/bin/env bash
# The PostgreSQL peer: `benches/peers/postgres/run.sh [N]` (default 200000).
#
# Installs PostgreSQL from the distribution's packages if it is missing,
# starts a throwaway cluster on a unix socket in a temp dir (no TCP),
# creates the append-only, hash-chained ledger of schema.sql, and ingests
# the same events as `auditctl append` (workload-events: the generator of
# `auditctl demo`), durably (synchronous_commit on, fsync on):
#   - one event per commit: PostgreSQL autocommit vs `auditctl append
#     --fsync always` (each record synced before the next is read). Both
#     are bound by the disk's sync latency, so this uses the first
#     ONE_PER_COMMIT events (default min(N, 50000)) and says so;
#   - BATCH events per commit (default 64): transactions of 64 rows vs
#     `auditctl append --fsync always --batch 64`;
# then verifies: the SQL chain check of verify.sql vs `auditctl verify`
# with the public key (which also checks canonical bytes, Merkle roots of
# signed checkpoints and their signatures). Prints both rates, the ratios
# and the targets of the performance issue, and stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=benches/peers/postgres
n=${1:-200000}
batch=${BATCH:-64}
one=${ONE_PER_COMMIT:-$((n < 50000 ? n : 50000))}

ms() { echo $(($(date +%s%N) / 1000000)); }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }'; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pgbin" ]; then
    echo "installing PostgreSQL from the distribution's packages"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
command -v python3 >/dev/null || { echo "python3 is needed to write the SQL" >&2; exit 2; }

echo "building auditctl and workload-events (release)"
cargo build --quiet --release -p audit-cli -p ron-audit-benches --bin auditctl --bin workload-events
auditctl=$PWD/target/release/auditctl

work=$(mktemp -d "${TMPDIR:-/tmp}/ron-audit-pg.XXXXXX")
chmod 755 "$work"
pgdir=$work/pg
mkdir "$pgdir"
# PostgreSQL refuses to run as root: as root, its files belong to `postgres`.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$pgdir"
stop() {
    as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap stop EXIT

target/release/workload-events "$n" >"$work/events.jsonl"
head -n "$one" "$work/events.jsonl" >"$work/events-one.jsonl"
python3 $here/to_sql.py 1 <"$work/events-one.jsonl" >"$work/one.sql"
python3 $here/to_sql.py "$batch" <"$work/events.jsonl" >"$work/batch.sql"
chmod 644 "$work"/*.sql

echo "starting a throwaway PostgreSQL ($("$pgbin/postgres" --version)) on a unix socket in $pgdir"
as_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres -E UTF8 >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w start \
    -o "-k $pgdir -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_wal_size=4GB" >/dev/null
psql() { as_pg "$pgbin/psql" -X -q -h "$pgdir" -U postgres -v ON_ERROR_STOP=1 "$@"; }
for db in one batch; do
    psql -d postgres -c "CREATE DATABASE $db" >/dev/null
    psql -d "$db" -f $here/schema.sql >/dev/null
done
# The triggers refuse what an append-only ledger must refuse.
psql -d one -c "INSERT INTO ledger (stream, body) VALUES ('probe', '{}')" >/dev/null
for stmt in "UPDATE ledger SET body = 'x'" "DELETE FROM ledger" "TRUNCATE ledger"; do
    if psql -d one -c "$stmt" >/dev/null 2>&1; then echo "the ledger accepted: $stmt" >&2; exit 1; fi
done
as_pg "$pgbin/psql" -X -q -h "$pgdir" -U postgres -d postgres -c "DROP DATABASE one" >/dev/null
psql -d postgres -c "CREATE DATABASE one" >/dev/null
psql -d one -f $here/schema.sql >/dev/null

echo "ingest, one event per commit ($one events)"
t=$(ms); psql -d one -f "$work/one.sql"; pg_one_ms=$(($(ms) - t))
t=$(ms); "$auditctl" append --wal "$work/wal-one" --writer svc-bench@1 --fsync always <"$work/events-one.jsonl" >/dev/null
ra_one_ms=$(($(ms) - t))

echo "ingest, $batch events per commit ($n events)"
t=$(ms); psql -d batch -f "$work/batch.sql"; pg_batch_ms=$(($(ms) - t))
t=$(ms); "$auditctl" append --wal "$work/wal" --writer svc-bench@1 --fsync always --batch "$batch" <"$work/events.jsonl" >/dev/null
ra_batch_ms=$(($(ms) - t))

echo "verify ($n events)"
t=$(ms); pg_check=$(psql -d batch -A -t -F ' ' -f $here/verify.sql); pg_verify_ms=$(($(ms) - t))
read -r pg_rows pg_bad <<<"$pg_check"
[ "$pg_rows" -eq "$n" ] && [ "$pg_bad" -eq 0 ] || { echo "the SQL verify found $pg_bad bad of $pg_rows rows" >&2; exit 1; }
"$auditctl" keygen --out "$work/key.pem" --pub "$work/key.pub.pem" >/dev/null
"$auditctl" checkpoint --wal "$work/wal" --key "$work/key.pem" >/dev/null
t=$(ms); "$auditctl" verify "$work/wal" --trust "$work/key.pub.pem" >/dev/null; ra_verify_ms=$(($(ms) - t))

row() { # name, ours/s, theirs/s, target
    awk -v name="$1" -v a="$2" -v b="$3" -v t="$4" 'BEGIN {
        r = a / b; printf "| %s | %d/s | %d/s | %.2f | >= %s | %s |\n", name, a, b, r, t, (r >= t ? "pass" : "MISS") }'
}
echo
echo "| measure | ron-audit | PostgreSQL | ratio | target | result |"
echo "|---|---:|---:|---:|---:|---|"
row "durable ingest, 1 per commit ($one events)" "$(rate "$one" $ra_one_ms)" "$(rate "$one" $pg_one_ms)" 2
row "durable ingest, $batch per commit ($n events)" "$(rate "$n" $ra_batch_ms)" "$(rate "$n" $pg_batch_ms)" 5
row "verify, all cores ($n events)" "$(rate "$n" $ra_verify_ms)" "$(rate "$n" $pg_verify_ms)" 1.5
echo
echo "times (ms): pg one $pg_one_ms, ours one $ra_one_ms; pg batch $pg_batch_ms, ours batch $ra_batch_ms; pg verify $pg_verify_ms, ours verify $ra_verify_ms"
