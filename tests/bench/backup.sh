#!/usr/bin/env bash
# Backup figures, NEXUS vs restic vs borg, side by side in one run on the same data:
#
#   a provisioned NEXUS state directory whose blob store holds BENCH_SMALL small files
#   (1–64 KiB, half text, half random) and two large ones (BENCH_LARGE_MIB each: one random,
#   one log-like text); then a 5% change (5% of the small files rewritten, 5% of each large
#   file overwritten in place, 1% new files).
#
# For each tool, all encrypted and compressed (NEXUS: zstd 3 + age; restic 0.14: repository
# v2, compression auto; borg 1.2: repokey-blake2, zstd 3): first backup time, repository size,
# incremental backup time after the change, repository growth, restore time. restic and borg
# back up the state directory's files; NEXUS takes its online snapshot of the same instance
# (database copy + blobs + config). Page caches are warm for everybody (the data was just
# written); the order is NEXUS, restic, borg.
#
# Uses the release nexusctl/nexusd in ${CARGO_TARGET_DIR:-~/.cache/nexus/target}/release.
# Needs restic and borgbackup (Debian packages; installed with apt-get when run as root).
# Prints a Markdown results block on stdout; progress goes to stderr.
#
# Knobs: BENCH_SMALL=4000 BENCH_LARGE_MIB=256 BENCH_BIN (the directory with nexusctl/nexusd).
set -euo pipefail
export LC_ALL=C

TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/nexus/target}
BIN=${BENCH_BIN:-$TARGET/release}
SMALL=${BENCH_SMALL:-4000}
LARGE=${BENCH_LARGE_MIB:-256}
CMDLINE="$( (env | grep -E '^BENCH_[A-Z_]+=' || true) | sort | tr '\n' ' ')bash $0${*:+ $*}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'backup.sh: %s\n' "$*" >&2; exit 1; }

[ -x "$BIN/nexusctl" ] && [ -x "$BIN/nexusd" ] ||
  die "no release binaries in $BIN: run cargo build --release --bins"
if ! command -v restic >/dev/null || ! command -v borg >/dev/null; then
  [ "$(id -u)" = 0 ] || die "missing restic or borg (Debian: apt-get install restic borgbackup)"
  apt-get install -y -qq restic borgbackup >/dev/null
fi
while read -r v; do unset "$v"; done < <(compgen -e | grep '^NEXUS' || true)

TMP=$(mktemp -d /tmp/nexus-bench-backup.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
STATE=$TMP/state
PASS=$TMP/pass
echo "benchmark passphrase $(date +%s)" >"$PASS"
export RESTIC_PASSWORD_FILE=$PASS BORG_PASSPHRASE_FD= BORG_PASSCOMMAND="cat $PASS"
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
unset BORG_PASSPHRASE_FD

say "making the data set: $SMALL small files, 2 × $LARGE MiB"
"$BIN/nexusctl" init --state-dir "$STATE" >/dev/null
python3 - "$STATE/blobs/org/drive" "$SMALL" "$LARGE" <<'PY'
import os, random, sys
root, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))) for _ in range(5000)]
for i in range(small):
    d = os.path.join(root, f"folder{i % 50}")
    os.makedirs(d, exist_ok=True)
    n = rng.randint(1024, 64 * 1024)
    if i % 2:
        data = rng.randbytes(n)
    else:
        data = " ".join(rng.choice(words) for _ in range(n // 6)).encode()[:n]
    open(os.path.join(d, f"file{i}.dat"), "wb").write(data)
with open(os.path.join(root, "large-random.bin"), "wb") as f:
    for _ in range(large):
        f.write(rng.randbytes(1 << 20))
with open(os.path.join(root, "large-log.txt"), "wb") as f:
    line = 0
    for _ in range(large):
        chunk = []
        size = 0
        while size < (1 << 20):
            s = f"2026-11-24T06:{line % 60:02d}:{line % 59:02d}Z INFO request {line} path=/api/{rng.choice(words)} status=200 ms={rng.randint(1, 900)}\n"
            chunk.append(s); size += len(s); line += 1
        f.write("".join(chunk).encode())
PY

change() {
  python3 - "$STATE/blobs/org/drive" "$SMALL" "$LARGE" <<'PY'
import os, random, sys
root, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
for i in rng.sample(range(small), small // 20):
    p = os.path.join(root, f"folder{i % 50}", f"file{i}.dat")
    open(p, "wb").write(rng.randbytes(rng.randint(1024, 64 * 1024)))
for i in range(small // 100):
    open(os.path.join(root, f"folder{i % 50}", f"new{i}.dat"), "wb").write(rng.randbytes(8192))
for name in ("large-random.bin", "large-log.txt"):
    with open(os.path.join(root, name), "r+b") as f:
        n = large * (1 << 20) // 20
        f.seek(large * (1 << 20) // 3)
        f.write(rng.randbytes(n))
PY
}

data_bytes=$(du -sb "$STATE" | cut -f1)
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; die "failed: $*"; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
size() { du -sb "$1" | cut -f1; }
mib() { echo "scale=1; $1 / 1048576" | bc; }

# Every tool backs up the same instance, first as it is, then after the same change: the
# data set is copied so the change is applied once and seen by all three.
cp -a "$STATE" "$TMP/state0"

declare -A FIRST SIZE1 INCR SIZE2 RESTORE
run_tool() {
  local tool=$1
  rm -rf "$STATE" && cp -a "$TMP/state0" "$STATE"
  sync
  case $tool in
    nexus)
      "$BIN/nexusctl" backup init --repo "$TMP/repo-nexus" --passphrase-file "$PASS" >/dev/null
      FIRST[$tool]=$(secs "$BIN/nexusctl" --state-dir "$STATE" backup create --repo "$TMP/repo-nexus" --passphrase-file "$PASS" --quiet)
      SIZE1[$tool]=$(size "$TMP/repo-nexus")
      change; sync
      INCR[$tool]=$(secs "$BIN/nexusctl" --state-dir "$STATE" backup create --repo "$TMP/repo-nexus" --passphrase-file "$PASS" --quiet)
      SIZE2[$tool]=$(size "$TMP/repo-nexus")
      RESTORE[$tool]=$(secs "$BIN/nexusctl" --state-dir "$TMP/restore-nexus" restore --repo "$TMP/repo-nexus" --passphrase-file "$PASS" --quiet)
      cmp "$STATE/blobs/org/drive/large-log.txt" "$TMP/restore-nexus/blobs/org/drive/large-log.txt" || die "nexus restore differs"
      ;;
    restic)
      restic init --repository-version 2 -r "$TMP/repo-restic" >/dev/null 2>&1
      FIRST[$tool]=$(secs restic -r "$TMP/repo-restic" backup --quiet "$STATE")
      SIZE1[$tool]=$(size "$TMP/repo-restic")
      change; sync
      INCR[$tool]=$(secs restic -r "$TMP/repo-restic" backup --quiet "$STATE")
      SIZE2[$tool]=$(size "$TMP/repo-restic")
      RESTORE[$tool]=$(secs restic -r "$TMP/repo-restic" restore latest --target "$TMP/restore-restic")
      cmp "$STATE/blobs/org/drive/large-log.txt" "$TMP/restore-restic$STATE/blobs/org/drive/large-log.txt" || die "restic restore differs"
      ;;
    borg)
      borg init -e repokey-blake2 "$TMP/repo-borg" >/dev/null 2>&1
      FIRST[$tool]=$(secs borg create --compression zstd,3 "$TMP/repo-borg::one" "$STATE")
      SIZE1[$tool]=$(size "$TMP/repo-borg")
      change; sync
      INCR[$tool]=$(secs borg create --compression zstd,3 "$TMP/repo-borg::two" "$STATE")
      SIZE2[$tool]=$(size "$TMP/repo-borg")
      mkdir -p "$TMP/restore-borg"
      RESTORE[$tool]=$(cd "$TMP/restore-borg" && secs borg extract "$TMP/repo-borg::two")
      cmp "$STATE/blobs/org/drive/large-log.txt" "$TMP/restore-borg$STATE/blobs/org/drive/large-log.txt" || die "borg restore differs"
      ;;
  esac
}

for tool in nexus restic borg; do
  say "$tool"
  run_tool "$tool"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo "### Backup run $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "$(nproc) CPUs ($cpu), $(uname -r); nexusctl $("$BIN/nexusctl" --version | cut -d' ' -f2) from $BIN, $(restic version | cut -d' ' -f1-2), $(borg --version)."
echo "Data: $(mib "$data_bytes") MiB ($SMALL small files, 2 × $LARGE MiB); change: 5% of small files, 5% of each large file, 1% new files. Command: \`$CMDLINE\`"
echo
echo "| | first backup | repository | incremental (5% changed) | repository growth | restore |"
echo "|---|---|---|---|---|---|"
for tool in nexus restic borg; do
  printf '| %s | %.1f s | %s MiB | %.1f s | %s MiB | %.1f s |\n' "$tool" "${FIRST[$tool]}" "$(mib "${SIZE1[$tool]}")" \
    "${INCR[$tool]}" "$(mib $((SIZE2[$tool] - SIZE1[$tool])))" "${RESTORE[$tool]}"
done
