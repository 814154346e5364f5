#!/usr/bin/env bash
# NEXUS performance figures, measured side by side in one run (about 1½ minutes):
#
#   1. startup: time from launching `nexusctl up` to its "NEXUS is ready at" line, and the
#      time from SIGTERM to exit, over BENCH_STARTS runs (default 10);
#   2. idle memory: VmRSS of nexusctl plus every nexusd it supervises, ~3 s after ready;
#   3. throughput: `GET /api/apps` on NEXUS against nginx serving the very same bytes as a
#      static file, both measured with the same wrk command, alternating, BENCH_ROUNDS
#      rounds each (default 3); the median of the rounds is reported.
#
# Uses the release binaries in ${CARGO_TARGET_DIR:-~/.cache/nexus/target}/release (build
# them with `./dev bench`, which then runs this script). Needs wrk, nginx and curl; installs
# wrk and nginx-light with apt-get when missing and running as root. Only loopback is used.
# Prints a Markdown results block on stdout; progress goes to stderr.
#
# Knobs (environment): BENCH_STARTS=10 BENCH_ROUNDS=3 BENCH_DURATION=10s BENCH_WARMUP=3s
# BENCH_THREADS=2 BENCH_CONNECTIONS=64 BENCH_PORT=18480 (NEXUS; nginx uses the next free one).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${CARGO_TARGET_DIR:-$HOME/.cache/nexus/target}/release
STARTS=${BENCH_STARTS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
BASE_PORT=${BENCH_PORT:-18480}
CMDLINE="$( (env | grep -E '^BENCH_[A-Z_]+=' || true) | sort | tr '\n' ' ')bash $0${*:+ $*}"
for v in STARTS ROUNDS DURATION WARMUP THREADS CONNS BASE_PORT; do
  [[ $v = DURATION || $v = WARMUP ]] || [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be a number" >&2; exit 2; }
done

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Tools and binaries
# ---------------------------------------------------------------------------------------
[ -x "$BIN/nexusctl" ] && [ -x "$BIN/nexusd" ] ||
  die "no release binaries in $BIN: run ./dev bench (or cargo build --release --bins)"
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing tools: ${missing[*]} (Debian: apt-get install wrk nginx-light curl)"
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# The instance must see only what this script sets.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^NEXUS' || true)
[ -f "$ROOT/web/dist/index.html" ] && export NEXUS_WEB_DIR="$ROOT/web/dist"

# ---------------------------------------------------------------------------------------
# Clean-up: every process this script starts, and its temporary directory
# ---------------------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/nexus-bench.XXXXXX)
UP_PID=""      # the running `nexusctl up`
NGINX_PID=""   # nginx master (foreground mode)
WRK_PID=""
KIDS=()        # nexusd pids seen under UP_PID, killed too if nexusctl dies first

children_of() { # pids whose parent is $1 (read from /proc, no procps needed)
  local stat line pid f
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    pid=${stat#/proc/}; pid=${pid%/stat}
    read -r -a f <<<"${line##*) }" # after "pid (comm) ": state ppid …
    [ "${f[1]:-}" = "$1" ] && echo "$pid"
  done
  return 0
}
kids() { children_of "$1"; }

stop_up() { # SIGTERM nexusctl up and wait (bounded); prints nothing
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$WRK_PID" ] && kill -TERM "$WRK_PID" 2>/dev/null || true
  [ -n "$UP_PID" ] && stop_up "$UP_PID"
  local k
  for k in "${KIDS[@]}"; do kill -KILL "$k" 2>/dev/null || true; done
  if [ -n "$NGINX_PID" ]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    for ((k = 0; k < 50; k++)); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  exec 3<&- 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # first port >= $1 nobody listens on
  local p=$1
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; do
    p=$((p + 1))
  done
  echo "$p"
}

# Clock: ${EPOCHREALTIME/./} is microseconds since the epoch, read without forking.

ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

stats() { # "median min max" (ms) of microsecond values
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f %.1f %.1f\n", m / 1000, v[1] / 1000, v[NR] / 1000 }'
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Other work on the machine skews every figure (wrk and the servers already share the CPUs).
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v l="${LOAD_START%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }' &&
  say "warning: load average is $LOAD_START on $(nproc) CPUs; other work will skew the figures"

# ---------------------------------------------------------------------------------------
# Provision
# ---------------------------------------------------------------------------------------
NPORT=$(free_port "$BASE_PORT")
STATE=$TMP/state
URL=http://127.0.0.1:$NPORT/api/apps
say "provisioning $STATE (listen 127.0.0.1:$NPORT)"
"$BIN/nexusctl" init --state-dir "$STATE" --listen "127.0.0.1:$NPORT" >"$TMP/init.log" 2>&1 ||
  { cat "$TMP/init.log" >&2; die "nexusctl init failed"; }

# Starts `nexusctl up`, returns when it printed its ready line; sets UP_PID and READY_US
# (microseconds from launch to the line).
start_up() {
  rm -f "$TMP/fifo"
  mkfifo "$TMP/fifo"
  local t0 line
  t0=${EPOCHREALTIME/./}
  "$BIN/nexusctl" up --state-dir "$STATE" >"$TMP/fifo" 2>>"$TMP/up.log" &
  UP_PID=$!
  exec 3<"$TMP/fifo" # kept open until it exits: it still prints after the ready line
  READY_US=""
  while IFS= read -r -t 30 line <&3; do
    if [[ $line == *"NEXUS is ready at"* ]]; then
      READY_US=$((${EPOCHREALTIME/./} - t0))
      break
    fi
  done
  [ -n "$READY_US" ] || { tail -20 "$TMP/up.log" >&2; die "nexusctl up did not become ready within 30 s"; }
  local k
  for k in $(kids "$UP_PID"); do KIDS+=("$k"); done
}

# SIGTERMs it and waits; sets STOP_US.
stop_up_timed() {
  local t0 i
  t0=${EPOCHREALTIME/./}
  kill -TERM "$UP_PID"
  wait "$UP_PID" || true
  STOP_US=$((${EPOCHREALTIME/./} - t0))
  exec 3<&-
  UP_PID=""
  for i in "${KIDS[@]}"; do
    kill -0 "$i" 2>/dev/null && die "nexusd pid $i outlived nexusctl up"
  done
  KIDS=()
}

# ---------------------------------------------------------------------------------------
# 1. Startup and stop time
# ---------------------------------------------------------------------------------------
say "startup: $STARTS × nexusctl up → ready → SIGTERM"
READY=() STOPS=()
for ((i = 1; i <= STARTS; i++)); do
  start_up
  curl -fsS -o /dev/null "$URL" || die "GET /api/apps failed after ready"
  stop_up_timed
  READY+=("$READY_US") STOPS+=("$STOP_US")
  printf '    run %2d: ready %4s ms, stopped %4s ms\n' "$i" "$(ms "$READY_US")" "$(ms "$STOP_US")" >&2
done
read -r READY_MED READY_MIN READY_MAX < <(stats "${READY[@]}")
read -r STOP_MED STOP_MIN STOP_MAX < <(stats "${STOPS[@]}")

# ---------------------------------------------------------------------------------------
# 2. Idle memory
# ---------------------------------------------------------------------------------------
say "idle memory: up, one GET /api/apps, 3 s idle"
start_up
curl -fsS -o "$TMP/apps.json" "$URL" || die "GET /api/apps failed"
sleep 3
measure_rss() { # sets RSS_CTL RSS_D (KiB; RSS_D summed over every nexusd) ND (count)
  local k
  RSS_CTL=$(rss_kib "$UP_PID") RSS_D=0 ND=0
  for k in $(kids "$UP_PID"); do
    RSS_D=$((RSS_D + $(rss_kib "$k"))) ND=$((ND + 1))
  done
}
measure_rss
IDLE_CTL=$RSS_CTL IDLE_D=$RSS_D IDLE_N=$ND
((IDLE_N > 0)) || die "no nexusd child found under nexusctl pid $UP_PID"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------------------------------
# 3. Throughput: NEXUS /api/apps against nginx serving the same bytes
# ---------------------------------------------------------------------------------------
GPORT=$(free_port $((NPORT + 1)))
NG=$TMP/nginx
mkdir -p "$NG/html/api" "$NG/tmp" "$NG/logs"
cp "$TMP/apps.json" "$NG/html/api/apps"
temp_paths="client_body_temp_path $NG/tmp/body;"
nginx_v=$("$NGINX" -V 2>&1)
for m in proxy fastcgi uwsgi scgi; do
  [[ $nginx_v == *"--http-$m-temp-path"* && $nginx_v != *"--without-http_${m}_module"* ]] &&
    temp_paths+=" ${m}_temp_path $NG/tmp/$m;"
done
cat >"$NG/nginx.conf" <<EOF
worker_processes auto;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { }
http {
    access_log off;
    $temp_paths
    server {
        listen 127.0.0.1:$GPORT;
        root $NG/html;
        location /api/ { default_type application/json; }
    }
}
EOF
chmod a+rx "$TMP" && chmod -R a+rX "$NG" # nginx workers run as nobody when we are root
say "starting nginx on 127.0.0.1:$GPORT"
"$NGINX" -c "$NG/nginx.conf" -p "$NG" -g 'daemon off;' 2>>"$NG/logs/error.log" &
NGINX_PID=$!
GURL=http://127.0.0.1:$GPORT/api/apps
for ((i = 0; i < 50; i++)); do curl -fsS -o "$TMP/nginx.json" "$GURL" 2>/dev/null && break; sleep 0.1; done
cmp -s "$TMP/apps.json" "$TMP/nginx.json" || { cat "$NG/logs/error.log" >&2; die "nginx does not serve the same bytes"; }
BODY_BYTES=$(wc -c <"$TMP/apps.json")

WRK=(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
in_bg() { # runs "$@" in the background and waits, so that signals reach the trap at once
  local rc=0
  "$@" &
  WRK_PID=$!
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}
run_wrk() { # $1 url, $2 output file
  in_bg "${WRK[@]}" "$1" >"$2" 2>&1 || { cat "$2" >&2; die "wrk failed against $1"; }
}
parse_wrk() { # prints "req_per_s p99_ms errors"
  awk '
    function to_ms(v) {
      if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000;  if (v ~ /s$/)  return v * 1000
      return v
    }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = to_ms($2) }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %d\n", rps, p99, err }' "$1"
}

say "warm-up ($WARMUP each)"
WRK_W=(wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP")
in_bg "${WRK_W[@]}" "$URL" >/dev/null 2>&1 || die "wrk failed against $URL"
in_bg "${WRK_W[@]}" "$GURL" >/dev/null 2>&1 || die "wrk failed against $GURL"

declare -a N_RPS N_P99 N_ERR G_RPS G_P99 G_ERR
for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r/$ROUNDS: NEXUS ($DURATION)"
  run_wrk "$URL" "$TMP/wrk-nexus-$r.txt"
  read -r "N_RPS[r]" "N_P99[r]" "N_ERR[r]" < <(parse_wrk "$TMP/wrk-nexus-$r.txt")
  printf '    NEXUS  %8s req/s  p99 %6s ms  errors %s\n' "${N_RPS[r]}" "${N_P99[r]}" "${N_ERR[r]}" >&2
  say "round $r/$ROUNDS: nginx ($DURATION)"
  run_wrk "$GURL" "$TMP/wrk-nginx-$r.txt"
  read -r "G_RPS[r]" "G_P99[r]" "G_ERR[r]" < <(parse_wrk "$TMP/wrk-nginx-$r.txt")
  printf '    nginx  %8s req/s  p99 %6s ms  errors %s\n' "${G_RPS[r]}" "${G_P99[r]}" "${G_ERR[r]}" >&2
done
median() { # of the arguments
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}
N_RPS_M=$(median "${N_RPS[@]}") N_P99_M=$(median "${N_P99[@]}")
G_RPS_M=$(median "${G_RPS[@]}") G_P99_M=$(median "${G_P99[@]}")
RATIO=$(awk -v a="$N_RPS_M" -v b="$G_RPS_M" 'BEGIN { printf "%.2f", a / b }')

# Memory again after the load (allocator high-water mark, buffered metrics samples).
measure_rss
LOAD_CTL=$RSS_CTL LOAD_D=$RSS_D

say "stopping"
stop_up_timed
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
verdict() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN { ok = (op == "<") ? v < g : v >= g; print ok ? "met" : "**missed**" }'; }
IDLE_TOTAL=$((IDLE_CTL + IDLE_D))
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
# Binaries older than the last commit touching Rust code were not built from this commit.
RUST_CHANGED=$(git -C "$ROOT" log -1 --format=%ct -- '*.rs' '*Cargo.toml' Cargo.lock 2>/dev/null || echo 0)
if (( ${RUST_CHANGED:-0} > $(stat -c %Y "$BIN/nexusd") )); then
  DIRTY+=" — **the binaries are older than its last Rust change**; \`./dev bench\` rebuilds them"
fi
rounds_list() { local -n a=$1; local out="" i; for ((i = 1; i <= ROUNDS; i++)); do out+="${out:+, }${a[i]}"; done; echo "$out"; }

cat <<EOF

## NEXUS benchmark results

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: \`$COMMIT\`$DIRTY
- Machine: $(nproc) CPUs, $CPU, Linux $(uname -r), $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown OS}")
- Load average (1/5/15 min): $LOAD_START at the start, $LOAD_END at the end
- Command: \`$CMDLINE\` (release binaries from \`$BIN\`, nexusd built $(date -u -r "$BIN/nexusd" '+%Y-%m-%d %H:%M UTC'))
- wrk: \`${WRK[*]} URL\` after a $WARMUP warm-up each; $ROUNDS alternating rounds, the median of each reported (req/s and p99 taken separately)
- nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'): \`worker_processes auto\`, \`access_log off\`, default keep-alive, static file with the same $BODY_BYTES bytes as \`/api/apps\`

| Measure | Result | Goal | |
|---|---|---|---|
| Startup: \`nexusctl up\` → "NEXUS is ready" ($STARTS runs) | median **$READY_MED ms** (min $READY_MIN, max $READY_MAX) | < 1000 ms | $(verdict "$READY_MED" 1000 '<') |
| Stop: SIGTERM → \`nexusctl up\` exited ($STARTS runs) | median $STOP_MED ms (min $STOP_MIN, max $STOP_MAX) | – | |
| Idle RSS, nexusctl + $IDLE_N nexusd | **$(mib "$IDLE_TOTAL") MiB** | < 60 MiB | $(verdict "$IDLE_TOTAL" $((60 * 1024)) '<') |
| Idle RSS, nexusd alone | $(mib "$IDLE_D") MiB (nexusctl $(mib "$IDLE_CTL") MiB) | – | |
| RSS after the load, nexusctl + nexusd | $(mib $((LOAD_CTL + LOAD_D))) MiB (nexusd $(mib "$LOAD_D") MiB) | – | |
| \`GET /api/apps\`, NEXUS | **$(printf %.0f "$N_RPS_M") req/s**, p99 $N_P99_M ms | | |
| Same bytes, nginx static file | **$(printf %.0f "$G_RPS_M") req/s**, p99 $G_P99_M ms | | |
| NEXUS / nginx | **${RATIO}×** | ≥ 0.5× | $(verdict "$RATIO" 0.5 '>=') |

All rounds (req/s): NEXUS $(rounds_list N_RPS); nginx $(rounds_list G_RPS).
p99 (ms): NEXUS $(rounds_list N_P99); nginx $(rounds_list G_P99).
Errors (non-2xx + socket): NEXUS $(rounds_list N_ERR); nginx $(rounds_list G_ERR).
"RSS after the load" is taken right after the last wrk round, without a \`/metrics\` scrape in between.
EOF
