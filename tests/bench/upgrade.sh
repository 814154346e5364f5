#!/usr/bin/env bash
# Upgrade figures: how long a client polling the API goes without an answer while
# `nexusctl upgrade` moves a running instance to a new release, and how long `nexusctl
# rollback` (on request) and the automatic rollback of a failed upgrade take.
#
# The instance runs under `nexusctl up` with release binaries; its database gets BENCH_USERS
# users (through `nexusctl users add`, so with their audit records) and BENCH_FILL_MIB MiB of
# ballast rows (a table of its own, so the snapshot an upgrade takes has that much to copy).
# The new release is the same build signed as 0.2.0 (an upgrade's cost does not depend on what
# changed in the code; migrations would add their own time). A Python client polls
# GET /api/apps every 10 ms over fresh connections and reports the longest time without a 200.
# Each cycle is upgrade 0.1.0 → 0.2.0, then rollback → 0.1.0; BENCH_CYCLES of them.
# With a nexusd-broken binary (target/debug or BENCH_BROKEN), one more upgrade whose migration
# fails shows the automatic rollback's time.
#
# Prints a Markdown results block on stdout; progress goes to stderr.
# Knobs: BENCH_USERS=200 BENCH_FILL_MIB=0 BENCH_CYCLES=5 BENCH_BIN BENCH_BROKEN.
set -euo pipefail
export LC_ALL=C

TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/nexus/target}
BIN=${BENCH_BIN:-$TARGET/release}
BROKEN=${BENCH_BROKEN:-$TARGET/debug/nexusd-broken}
USERS=${BENCH_USERS:-200}
FILL=${BENCH_FILL_MIB:-0}
CYCLES=${BENCH_CYCLES:-5}
CMDLINE="$( (env | grep -E '^BENCH_[A-Z_]+=' || true) | sort | tr '\n' ' ')bash $0${*:+ $*}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'upgrade.sh: %s\n' "$*" >&2; exit 1; }

[ -x "$BIN/nexusctl" ] && [ -x "$BIN/nexusd" ] ||
  die "no release binaries in $BIN: run cargo build --release --bins"
command -v sqlite3 >/dev/null || die "sqlite3 is missing (Debian: apt-get install sqlite3)"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^NEXUS' || true)

TMP=$(mktemp -d /tmp/nexus-bench-upgrade.XXXXXX)
STATE=$TMP/state
UP_PID=
cleanup() {
  [ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
ctl() { "$BIN/nexusctl" --state-dir "$STATE" "$@"; }

say "release bundle 0.2.0 from $BIN"
"$BIN/nexusctl" release keygen --out "$TMP/key" >/dev/null
"$BIN/nexusctl" release build --key "$TMP/key" --release-version 0.2.0 \
  --nexusd "$BIN/nexusd" --nexusctl "$BIN/nexusctl" --out "$TMP/good.nexus" >&2
BUNDLE_MIB=$(du -m "$TMP/good.nexus" | cut -f1)
if [ -x "$BROKEN" ]; then
  "$BIN/nexusctl" release build --key "$TMP/key" --release-version 0.3.0 \
    --nexusd "$BROKEN" --nexusctl "$BIN/nexusctl" --out "$TMP/broken.nexus" >&2
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ctl init --listen "127.0.0.1:$PORT" >/dev/null
ctl release trust "$TMP/key.pub" >/dev/null
say "adding $USERS users and $FILL MiB of ballast"
for i in $(seq 1 "$USERS"); do
  ctl users add --email "user$i@bench.example" >/dev/null
done
if [ "$FILL" -gt 0 ]; then
  sqlite3 "$STATE/nexus.db" "CREATE TABLE bench_ballast (b BLOB);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((FILL * 16)))
    INSERT INTO bench_ballast SELECT randomblob(65536) FROM n;"
fi
DB_MIB=$(du -m "$STATE/nexus.db" | cut -f1)

NEXUS_LOG_LEVEL=warn "$BIN/nexusctl" --state-dir "$STATE" up >"$TMP/up.log" 2>&1 &
UP_PID=$!
for _ in $(seq 1 300); do grep -q "NEXUS is ready" "$TMP/up.log" && break; sleep 0.1; done
grep -q "NEXUS is ready" "$TMP/up.log" || { cat "$TMP/up.log" >&2; die "NEXUS did not start"; }

# Runs "$@" while a client polls the API; prints "<seconds the command took> <longest gap>".
polled() {
  python3 - "$PORT" "$TMP/poll.stop" >"$TMP/poll.out" <<'PY' &
import http.client, sys, time, os
port, stop = int(sys.argv[1]), sys.argv[2]
longest, down = 0.0, None
while not os.path.exists(stop):
    ok = False
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/api/apps")
        ok = c.getresponse().status == 200
        c.close()
    except OSError:
        pass
    now = time.monotonic()
    if not ok and down is None:
        down = now
    elif ok and down is not None:
        longest = max(longest, now - down)
        down = None
    time.sleep(0.01)
print(f"{longest:.3f}")
PY
  local poller=$! t0 t1
  rm -f "$TMP/poll.stop"
  sleep 0.3
  t0=$(date +%s.%N)
  "$@" >"$TMP/cmd.out" 2>&1 || true
  t1=$(date +%s.%N)
  sleep 0.3
  touch "$TMP/poll.stop"
  wait "$poller"
  echo "$(awk "BEGIN { print $t1 - $t0 }") $(cat "$TMP/poll.out")"
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
max() { sort -n | tail -1 | awk '{printf "%.2f", $1}'; }

: >"$TMP/up.txt"; : >"$TMP/back.txt"
for c in $(seq 1 "$CYCLES"); do
  say "cycle $c/$CYCLES: upgrade"
  read -r took gap < <(polled ctl upgrade --bundle "$TMP/good.nexus")
  grep -q "upgraded from" "$TMP/cmd.out" || { cat "$TMP/cmd.out" >&2; die "the upgrade failed"; }
  echo "$took $gap" >>"$TMP/up.txt"
  say "cycle $c/$CYCLES: rollback"
  read -r took gap < <(polled ctl rollback)
  grep -q "rolled back from" "$TMP/cmd.out" || { cat "$TMP/cmd.out" >&2; die "the rollback failed"; }
  echo "$took $gap" >>"$TMP/back.txt"
done

AUTO="not measured (no nexusd-broken: cargo build --workspace --bins)"
if [ -f "$TMP/broken.nexus" ]; then
  say "an upgrade whose migration fails"
  read -r took gap < <(polled env UPGRADE_FIXTURE_FAULT=migration "$BIN/nexusctl" --state-dir "$STATE" upgrade --bundle "$TMP/broken.nexus")
  grep -q "NEXUS is back on 0.1.0" "$TMP/cmd.out" || { cat "$TMP/cmd.out" >&2; die "no automatic rollback"; }
  AUTO="$(printf '%.2f' "$took") s in all, API unanswered for at most $(printf '%.2f' "$gap") s"
fi
ctl status >/dev/null || die "the instance is not healthy at the end"

cat <<EOF2
### Upgrade run $(date -u '+%Y-%m-%d %H:%M') UTC

\`$CMDLINE\` — $(nproc) cores, $(uname -r); database $DB_MIB MiB ($USERS users$( [ "$FILL" -gt 0 ] && echo ", $FILL MiB ballast")); bundle $BUNDLE_MIB MiB; $CYCLES cycles.

| | median | worst |
|---|---:|---:|
| \`nexusctl upgrade\` 0.1.0 → 0.2.0, whole command (verify, install, snapshot, migrate, restart, health gate) | $(cut -d' ' -f1 "$TMP/up.txt" | median) s | $(cut -d' ' -f1 "$TMP/up.txt" | max) s |
| API unanswered during the upgrade (goal < 3 s) | $(cut -d' ' -f2 "$TMP/up.txt" | median) s | $(cut -d' ' -f2 "$TMP/up.txt" | max) s |
| \`nexusctl rollback\` 0.2.0 → 0.1.0, whole command | $(cut -d' ' -f1 "$TMP/back.txt" | median) s | $(cut -d' ' -f1 "$TMP/back.txt" | max) s |
| API unanswered during the rollback | $(cut -d' ' -f2 "$TMP/back.txt" | median) s | $(cut -d' ' -f2 "$TMP/back.txt" | max) s |

Automatic rollback of an upgrade whose migration fails: $AUTO.
EOF2
