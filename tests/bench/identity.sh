#!/usr/bin/env bash
# Identity figures, measured side by side in one run (about 1½ minutes):
#
#   1. token cost: signing, first verification and repeated verification of an API token
#      (the `token_cost` example, release build);
#   2. authenticated reads: `GET /api/whoami` with a personal access token (verified in the
#      daemon, no database) and with a session cookie (one session, user and organization
#      read per request), against nginx serving a static file of the same size, with the
#      same wrk command, alternating, BENCH_ROUNDS rounds each (median reported);
#   3. logins per second at the configured argon2id cost (BENCH_LOGINS logins, 2 at a time).
#
# Uses the release binaries in ${CARGO_TARGET_DIR:-~/.cache/nexus/target}/release (`./dev
# bench` builds them and runs this after run.sh). Needs wrk, nginx, curl. Loopback only.
# Prints a Markdown results block on stdout; progress goes to stderr.
#
# Knobs: BENCH_ROUNDS=3 BENCH_DURATION=10s BENCH_WARMUP=3s BENCH_THREADS=2
# BENCH_CONNECTIONS=64 BENCH_LOGINS=40 BENCH_PORT=18580.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/nexus/target}
BIN=$TARGET/release
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
LOGINS=${BENCH_LOGINS:-40}
BASE_PORT=${BENCH_PORT:-18580}
CMDLINE="$( (env | grep -E '^BENCH_[A-Z_]+=' || true) | sort | tr '\n' ' ')bash $0${*:+ $*}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'identity.sh: %s\n' "$*" >&2; exit 1; }

[ -x "$BIN/nexusctl" ] && [ -x "$BIN/nexusd" ] ||
  die "no release binaries in $BIN: run ./dev bench (or cargo build --release --bins)"
for t in wrk curl; do command -v "$t" >/dev/null || die "missing $t (Debian: apt-get install wrk nginx-light curl)"; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "missing nginx (Debian: apt-get install nginx-light)"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^NEXUS' || true)

TMP=$(mktemp -d /tmp/nexus-bench-id.XXXXXX)
UP_PID="" NGINX_PID="" WRK_PID=""
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  [ -n "$WRK_PID" ] && kill -TERM "$WRK_PID" 2>/dev/null || true
  if [ -n "$UP_PID" ]; then
    kill -TERM "$UP_PID" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$UP_PID" 2>/dev/null || true
  fi
  if [ -n "$NGINX_PID" ]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  local p=$1
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------
# 1. Token cost
# ---------------------------------------------------------------------------------------
say "token cost (cargo run --release --example token_cost)"
COST=$(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo run -q --release -p nexus-identity --example token_cost) ||
  die "the token_cost example failed"
json() { sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" <<<"$COST"; }
SIGN_NS=$(json sign_ns) FIRST_NS=$(json first_verify_ns) REPEAT_NS=$(json repeat_verify_ns) TOKEN_BYTES=$(json token_bytes)
us() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1000 }'; }
printf '    sign %s µs, first verify %s µs, repeat verify %s µs\n' "$(us "$SIGN_NS")" "$(us "$FIRST_NS")" "$(us "$REPEAT_NS")" >&2

# ---------------------------------------------------------------------------------------
# An instance, an owner with a chosen password, a session and a token
# ---------------------------------------------------------------------------------------
NPORT=$(free_port "$BASE_PORT")
BASE=http://127.0.0.1:$NPORT
STATE=$TMP/state
say "provisioning and starting NEXUS on 127.0.0.1:$NPORT"
"$BIN/nexusctl" init --json --state-dir "$STATE" --listen "127.0.0.1:$NPORT" >"$TMP/init.json" 2>"$TMP/init.log" ||
  { cat "$TMP/init.log" >&2; die "nexusctl init failed"; }
SETUP=$(sed -n 's/.*"setup_link": *"[^"]*#token=\([^"]*\)".*/\1/p' "$TMP/init.json")
EMAIL=$(sed -n 's/.*"admin_email": *"\([^"]*\)".*/\1/p' "$TMP/init.json")
[ -n "$SETUP" ] && [ -n "$EMAIL" ] || { cat "$TMP/init.json" >&2; die "no setup link in nexusctl init --json"; }
"$BIN/nexusctl" up --state-dir "$STATE" >"$TMP/up.log" 2>&1 &
UP_PID=$!
for ((i = 0; i < 300; i++)); do grep -q "NEXUS is ready at" "$TMP/up.log" && break; sleep 0.1; done
grep -q "NEXUS is ready at" "$TMP/up.log" || { cat "$TMP/up.log" >&2; die "nexusctl up did not become ready"; }

PASSWORD="benchmark passphrase $$"
post() { curl -fsS -b "$TMP/jar" -c "$TMP/jar" -H 'Content-Type: application/json' -d "$2" "$BASE$1"; }
post /api/setup "{\"token\":\"$SETUP\",\"new_password\":\"$PASSWORD\"}" >/dev/null ||
  die "setting the administrator up through the link failed"
TOKEN=$(post /api/tokens '{"name":"benchmark","scopes":["profile"],"expires_in_days":1}' |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || die "no token created"
COOKIE=$(awk '$6 == "nexus_session" { print $6 "=" $7 }' "$TMP/jar")
[ -n "$COOKIE" ] || die "no session cookie"
curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/api/whoami" >"$TMP/whoami.json" || die "whoami with the token failed"
curl -fsS -H "Cookie: $COOKIE" "$BASE/api/whoami" >/dev/null || die "whoami with the session failed"

# nginx serving a file of the same size as the token answer.
GPORT=$(free_port $((NPORT + 1)))
NG=$TMP/nginx
mkdir -p "$NG/html/api" "$NG/tmp" "$NG/logs"
cp "$TMP/whoami.json" "$NG/html/api/whoami"
cat >"$NG/nginx.conf" <<EOF
worker_processes auto;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { }
http {
    access_log off;
    client_body_temp_path $NG/tmp/body; proxy_temp_path $NG/tmp/proxy; fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi; scgi_temp_path $NG/tmp/scgi;
    server {
        listen 127.0.0.1:$GPORT;
        root $NG/html;
        location /api/ { default_type application/json; }
    }
}
EOF
chmod a+rx "$TMP" && chmod -R a+rX "$NG"
"$NGINX" -c "$NG/nginx.conf" -p "$NG" -g 'daemon off;' 2>>"$NG/logs/error.log" &
NGINX_PID=$!
GURL=http://127.0.0.1:$GPORT/api/whoami
for ((i = 0; i < 50; i++)); do curl -fsS -o /dev/null "$GURL" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$GURL" || { cat "$NG/logs/error.log" >&2; die "nginx did not start"; }
BODY_BYTES=$(wc -c <"$TMP/whoami.json")

# ---------------------------------------------------------------------------------------
# 2. Authenticated reads
# ---------------------------------------------------------------------------------------
in_bg() { local rc=0; "$@" & WRK_PID=$!; wait "$WRK_PID" || rc=$?; WRK_PID=""; return "$rc"; }
WRK=(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
parse_wrk() {
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
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
TOKEN_H="Authorization: Bearer $TOKEN"
COOKIE_H="Cookie: $COOKIE"
say "warm-up ($WARMUP each)"
for h in "$TOKEN_H" "$COOKIE_H"; do
  in_bg wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "$h" "$BASE/api/whoami" >/dev/null 2>&1 || die "wrk failed"
done
in_bg wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$GURL" >/dev/null 2>&1 || die "wrk failed"
declare -a T_RPS T_P99 T_ERR S_RPS S_P99 S_ERR G_RPS G_P99 G_ERR
for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r/$ROUNDS"
  in_bg "${WRK[@]}" -H "$TOKEN_H" "$BASE/api/whoami" >"$TMP/t$r" 2>&1 || { cat "$TMP/t$r" >&2; die "wrk failed"; }
  read -r "T_RPS[r]" "T_P99[r]" "T_ERR[r]" < <(parse_wrk "$TMP/t$r")
  in_bg "${WRK[@]}" -H "$COOKIE_H" "$BASE/api/whoami" >"$TMP/s$r" 2>&1 || { cat "$TMP/s$r" >&2; die "wrk failed"; }
  read -r "S_RPS[r]" "S_P99[r]" "S_ERR[r]" < <(parse_wrk "$TMP/s$r")
  in_bg "${WRK[@]}" "$GURL" >"$TMP/g$r" 2>&1 || { cat "$TMP/g$r" >&2; die "wrk failed"; }
  read -r "G_RPS[r]" "G_P99[r]" "G_ERR[r]" < <(parse_wrk "$TMP/g$r")
  printf '    token %s req/s, session %s req/s, nginx %s req/s\n' "${T_RPS[r]}" "${S_RPS[r]}" "${G_RPS[r]}" >&2
done
T_M=$(median "${T_RPS[@]}") S_M=$(median "${S_RPS[@]}") G_M=$(median "${G_RPS[@]}")
T_P=$(median "${T_P99[@]}") S_P=$(median "${S_P99[@]}") G_P=$(median "${G_P99[@]}")

# ---------------------------------------------------------------------------------------
# 3. Logins per second
# ---------------------------------------------------------------------------------------
say "$LOGINS logins, 2 at a time"
login_once() {
  curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/api/session"
}
export -f login_once
export EMAIL PASSWORD BASE
t0=${EPOCHREALTIME/./}
seq "$LOGINS" | xargs -P 2 -I{} bash -c login_once || die "a login failed"
LOGIN_US=$((${EPOCHREALTIME/./} - t0))
LOGINS_PER_S=$(awk -v n="$LOGINS" -v us="$LOGIN_US" 'BEGIN { printf "%.1f", n / (us / 1e6) }')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

verdict() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN { ok = (op == "<") ? v < g : v >= g; print ok ? "met" : "**missed**" }'; }
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
cat <<EOF

## Identity benchmark results

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit \`$COMMIT\`; $(nproc) CPUs, $CPU
- Load average (1/5/15 min): $LOAD_START at the start, $LOAD_END at the end
- Command: \`$CMDLINE\` (release binaries from \`$BIN\`)
- wrk: \`${WRK[*]} [-H HEADER] URL\` after a $WARMUP warm-up each; $ROUNDS alternating rounds, medians
- nginx: static file with the same $BODY_BYTES bytes as the token answer

| Measure | Result | Goal | |
|---|---|---|---|
| Token verification, repeated (per request) | **$(us "$REPEAT_NS") µs** | < 20 µs | $(verdict "$(us "$REPEAT_NS")" 20 '<') |
| Token verification, first time (Ed25519 signature) | $(us "$FIRST_NS") µs | – | |
| Token signing | $(us "$SIGN_NS") µs ($TOKEN_BYTES-byte token) | – | |
| \`GET /api/whoami\` with a token | **$(printf %.0f "$T_M") req/s**, p99 $T_P ms | ≥ 30,000 req/s | $(verdict "$T_M" 30000 '>=') |
| \`GET /api/whoami\` with a session cookie | $(printf %.0f "$S_M") req/s, p99 $S_P ms | – | |
| nginx, same bytes, static | $(printf %.0f "$G_M") req/s, p99 $G_P ms | – | |
| Logins (argon2id m=19 MiB, t=2, p=1), 2 at a time | **$LOGINS_PER_S logins/s** | – | |

All rounds (req/s): token ${T_RPS[*]}; session ${S_RPS[*]}; nginx ${G_RPS[*]}. Errors: token ${T_ERR[*]}; session ${S_ERR[*]}; nginx ${G_ERR[*]}.
EOF
