#!/usr/bin/env bash
# bench/health.sh — the resident size of hull's monitor while it runs a health check every
# second, next to monitors without one (issue 13: within 2 MiB).
#
#   bench/health.sh [-n CONTAINERS] [-w SECONDS] [-d DIR] [-i IMAGE] [-b HULL_BINARY]
#
#   -n CONTAINERS  detached containers per group (default 10)
#   -w SECONDS     how long the checks run before the measurement (default 60)
#   -d DIR         where the temporary store is made (default /tmp; bench/lifecycle.sh passes
#                  its tmpfs or ext4)
#   -i IMAGE       image (default 127.0.0.1:5000/busybox:latest; plain-HTTP registry)
#   -b PATH        hull binary (default: `cargo build --release -p hull`, then
#                  target/release/hull)
#
# Two groups of `hull run -d --network none IMAGE sleep 600`, one plain and one with
# `--health-cmd 'test -d /' --health-interval 1s`, all running at once. VmRSS (/proc/PID/status)
# and Pss (/proc/PID/smaps_rollup) of every `__monitor` are read after 5 s and after SECONDS; the
# script also checks that every health check ran (status healthy, the last result at most 3 s
# old). The store is a temporary directory under DIR; everything is removed at the end.
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
die() {
    echo "health.sh: $*" >&2
    exit 1
}

N=10
WAIT=60
IMAGE=127.0.0.1:5000/busybox:latest
HULL=""
BASE=/tmp
while getopts "n:w:d:i:b:h" opt; do
    case $opt in
    n) N=$OPTARG ;;
    w) WAIT=$OPTARG ;;
    d) BASE=$OPTARG ;;
    i) IMAGE=$OPTARG ;;
    b) HULL=$OPTARG ;;
    h) sed -n '2,19p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "-n: a positive number, not $N"
[[ $WAIT =~ ^[1-9][0-9]*$ ]] || die "-w: a positive number of seconds, not $WAIT"
[[ $(id -u) == 0 ]] || die "run as root"
case ${IMAGE%%/*} in 127.* | localhost:*) ;; *) die "only loopback registries: $IMAGE" ;; esac
if [[ -z $HULL ]]; then
    (cd "$REPO_ROOT" && cargo build --release -q -p hull) || die "cargo build --release failed"
    HULL=$REPO_ROOT/target/release/hull
fi
[[ -x $HULL ]] || die "no hull binary at $HULL"

[[ -d $BASE ]] || die "-d: no directory $BASE"
WORK=$(mktemp -d "$BASE/hull-healthbench.XXXXXX")
H=("$HULL" --root "$WORK/hull")
cleanup() {
    local rc=$?
    set +e
    for id in $("${H[@]}" ps -aq --no-trunc 2>/dev/null); do
        "${H[@]}" rm -f "$id" >/dev/null 2>&1
    done
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== hull monitor RSS with health checks: $N containers per group, checks every 1s for ${WAIT}s"
echo "machine: $(nproc) cores, kernel $(uname -r); hull: $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
"${H[@]}" pull -q "$IMAGE" >/dev/null || die "hull pull $IMAGE failed"
for ((i = 0; i < N; i++)); do
    "${H[@]}" run -d --name "plain$i" --network none "$IMAGE" sleep 600 >/dev/null
    "${H[@]}" run -d --name "hc$i" --network none --health-cmd 'test -d /' \
        --health-interval 1s "$IMAGE" sleep 600 >/dev/null
done

# "group rss pss" (KiB) for every monitor; the group is the container's name without digits.
measure() {
    local pid id name
    for pid in $(pgrep -f -- "--root $WORK/hull __monitor"); do
        id=$(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{print $NF}')
        name=$("${H[@]}" inspect -f '{{.Name}}' "$id" 2>/dev/null) || continue
        echo "${name//[0-9\/]/} $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status") $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")"
    done
}

summary() { # LABEL FILE
    python3 - "$1" "$2" <<'EOF'
import statistics, sys
label, path = sys.argv[1], sys.argv[2]
rows = {}
for line in open(path):
    g, rss, pss = line.split()
    rows.setdefault(g, []).append((int(rss), int(pss)))
for g in ("plain", "hc"):
    r = rows.get(g, [])
    if not r:
        sys.exit(f"no {g} monitors measured")
    name = "with health check" if g == "hc" else "without"
    print(f"{label:<6} {name:<18} n={len(r):<3} VmRSS median {statistics.median(x[0] for x in r) / 1024:.2f} MiB "
          f"(max {max(x[0] for x in r) / 1024:.2f}), Pss median {statistics.median(x[1] for x in r) / 1024:.2f} MiB")
EOF
}

sleep 5
measure >"$WORK/early"
summary "at 5s" "$WORK/early"
sleep "$((WAIT > 5 ? WAIT - 5 : 1))"
measure >"$WORK/late"
summary "at ${WAIT}s" "$WORK/late"

# Every check ran: healthy, and the last result is recent.
now=$(date +%s)
for ((i = 0; i < N; i++)); do
    st=$("${H[@]}" inspect -f '{{json .State.Health}}' "hc$i")
    python3 - "$st" "$now" <<'EOF' || die "hc$i: its health checks did not keep running: $st"
import json, sys, datetime
h = json.loads(sys.argv[1]); now = int(sys.argv[2])
end = h["Log"][-1]["End"][:19]
t = datetime.datetime.strptime(end, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
sys.exit(0 if h["Status"] == "healthy" and now - t <= 3 else 1)
EOF
done
echo "every health check ran (healthy, last result at most 3 s old)"
