#!/usr/bin/env bash
# Soak: `scripts/soak.sh MINUTES [RATE]` (not in CI).
#
# Runs the example host (`audit-host --soak`) for MINUTES at RATE audited
# requests a second (default 5000): it appends through the queued front end
# into a WAL with 4 MiB segments (so it rotates), signs checkpoints on
# cadence, and prints one line a minute with its records, rate, resident
# memory and open file descriptors. After each line this script verifies
# the live WAL as an auditor would (`auditctl verify --trust`), and at the
# end the host verifies its closed WAL itself.
#
# Fails on any verification failure, on resident memory that grows by more
# than 25% + 16 MiB from minute 2 to the end, or on open file descriptors
# that grow by more than 4 (a leak of segment handles or maps).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: scripts/soak.sh MINUTES [RATE]}
rate=${2:-5000}

cargo build --quiet --release -p ron-audit-example-host -p audit-cli
host=target/release/audit-host
auditctl=target/release/auditctl
dir=$(mktemp -d "${TMPDIR:-/tmp}/ron-audit-soak.XXXXXX")
trap 'rm -rf "$dir"' EXIT
log="$dir/host.log"

echo "soak: $minutes min at $rate requests/s in $dir"
"$host" "$dir" --soak "$minutes" "$rate" >"$log" 2>&1 &
pid=$!

fail=0
seen=0
rss2='' fds2=''
rss_last='' fds_last=''
while :; do
    lines=$(grep -c '^soak minute' "$log" || true)
    while [ "$seen" -lt "$lines" ]; do
        seen=$((seen + 1))
        line=$(grep '^soak minute' "$log" | sed -n "${seen}p")
        rss=$(sed -E 's/.*rss ([0-9]+) KiB.*/\1/' <<<"$line")
        fds=$(sed -E 's/.*fds ([0-9]+).*/\1/' <<<"$line")
        t0=$(date +%s%N)
        if out=$("$auditctl" verify "$dir/wal" --trust "$dir/key.pub.pem" --json 2>&1); then
            verdict="verify ok"
        else
            verdict="VERIFY FAILED: $out"
            fail=1
        fi
        records=$(grep -o '"records":[0-9]*' <<<"$out" | head -1 | cut -d: -f2 || true)
        ms=$((($(date +%s%N) - t0) / 1000000))
        echo "$line | $verdict (${records:-?} records, ${ms} ms)"
        if [ "$seen" -eq 2 ]; then rss2=$rss fds2=$fds; fi
        rss_last=$rss fds_last=$fds
    done
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 5
done
if wait "$pid"; then
    echo "host: $(grep -E '^(served|verified)' "$log" | tr '\n' ' ')"
else
    echo "host failed:"; cat "$log"; fail=1
fi
if [ -n "$rss2" ]; then
    limit=$((rss2 + rss2 / 4 + 16384))
    if [ "$rss_last" -gt "$limit" ]; then
        echo "FAIL: resident memory grew from $rss2 KiB (minute 2) to $rss_last KiB"; fail=1
    fi
    if [ "$fds_last" -gt $((fds2 + 4)) ]; then
        echo "FAIL: open file descriptors grew from $fds2 (minute 2) to $fds_last"; fail=1
    fi
    echo "memory: $rss2 KiB at minute 2, $rss_last KiB at the end; fds: $fds2 -> $fds_last"
fi
du -sh "$dir/wal" | sed 's/^/wal size: /'
if [ "$fail" -ne 0 ]; then echo "soak: FAIL"; exit 1; fi
echo "soak: pass"
