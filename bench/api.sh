#!/usr/bin/env bash
# bench/api.sh — the Docker Engine API: hull's `system service` vs. dockerd 20.10 and podman's
# service, all driven by the same docker CLI (Debian's, /usr/bin/docker) through their sockets.
#
#   bench/api.sh [-n RUNS] [-f tmpfs|ext4] [-c CONTAINERS] [-l LOG_MB] [-p PULL_IMAGE] [-b HULL]
#
#   -n RUNS        measured runs per engine for run and ps (default 10; logs and pull use a third)
#   -f FS          where every store lives: "tmpfs" (default) or "ext4" (journaled, on a loop device)
#   -c CONTAINERS  containers that `docker ps -a` lists (default 100)
#   -l LOG_MB      size of the log `docker logs` reads (default 50)
#   -p IMAGE       image of the cold pulls (default 127.0.0.1:5000/apps/nginx:1.22 when the
#                  application fixtures were pushed, else 127.0.0.1:5000/busybox:latest)
#   -b PATH        hull binary (default target/release/hull; `cargo build --release`)
#
# Measured, interleaved (round r runs every engine once, starting one engine later each round):
#   run     docker run --rm --network none IMAGE true
#   ps      docker ps -a, with CONTAINERS created containers in each store
#   logs    docker logs CTR > /dev/null, CTR having written LOG_MB MB of 100-byte lines
#   pull    docker pull of an image absent from the store (and its layers), and `hull pull`
#           of the same on hull's store: the API must pull as fast as the CLI
# And, for hull only:
#   activation  the first request to a socket-activated service (systemd-socket-activate starts
#               hull at the connection) minus a request to a running one: what activation adds
#   rss         the idle service's VmRSS: fresh, and idle again after all the rounds above
# Targets (issue 14): run ≤ 0.3× dockerd's time; activation adds ≤ 30 ms; idle RSS ≤ 10 MiB;
# pull through the API as fast as `hull pull`.
#
# dockerd runs with its own data and exec roots on the benchmark file system, no iptables, no
# bridge (every container is --network none); podman's service with runc (crun refuses this
# host's hybrid cgroups) and the cgroupfs manager. All three get the same --ulimit flags: podman
# otherwise asks for RLIMIT_NOFILE 1048576, which root cannot get here.
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"
DOCKER=/usr/bin/docker
ENGINES=(hull dockerd podman)
ULIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

die() {
    echo "api.sh: $*" >&2
    exit 1
}

RUNS=10 FS=tmpfs CONTAINERS=100 LOG_MB=50 PULL_IMAGE="" HULL="$REPO_ROOT/target/release/hull"
while getopts "n:f:c:l:p:b:h" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    f) FS=$OPTARG ;;
    c) CONTAINERS=$OPTARG ;;
    l) LOG_MB=$OPTARG ;;
    p) PULL_IMAGE=$OPTARG ;;
    b) HULL=$OPTARG ;;
    h) sed -n '2,14p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$RUNS" -n
check_count "$CONTAINERS" -c
check_count "$LOG_MB" -l
check_fs
[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $HULL ]] || die "no hull binary at $HULL; run: cargo build --release"
for t in "$DOCKER" dockerd podman runc systemd-socket-activate curl python3; do
    command -v "$t" >/dev/null || die "missing $t"
done
IMAGE=${HULL_TEST_REGISTRY:-127.0.0.1:5000}/busybox:latest
if [[ -z $PULL_IMAGE ]]; then
    PULL_IMAGE=$IMAGE
    [[ -e ${HULL_FIXTURES_DIR:-/var/tmp/hull-fixtures}/apps/pushed.nginx ]] &&
        PULL_IMAGE=${HULL_TEST_REGISTRY:-127.0.0.1:5000}/apps/nginx:1.22
fi

WORK=$(mktemp -d /tmp/hull-apibench.XXXXXX)
MOUNTED=0 DOCKERD_PID="" PODMAN_PID="" HULL_PID=""
cleanup() {
    local rc=$?
    set +e
    if [[ -n $HULL_PID ]]; then
        ids=$("$HULL" --root "$WORK/hull" ps -aq)
        [[ -n $ids ]] && "$HULL" --root "$WORK/hull" rm -f $ids >/dev/null
        kill "$HULL_PID"; wait "$HULL_PID"
    fi
    if [[ -n $DOCKERD_PID ]]; then
        ids=$(d dockerd ps -aq 2>/dev/null)
        [[ -n $ids ]] && d dockerd rm -f $ids >/dev/null 2>&1
    fi
    for pid in $DOCKERD_PID $PODMAN_PID; do
        kill "$pid"; wait "$pid"
    done
    podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" rm -af -t 0 >/dev/null 2>&1
    unmount_scratch
    for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent; do
        [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_scratch 6g 12G hull-apibench
mkdir -p "$WORK/results" "$WORK/tmp"
export TMPDIR=$WORK/tmp

sock_of() { echo "$WORK/$1.sock"; }
d() { # ENGINE ARGS…: the docker CLI against ENGINE's socket
    local e=$1
    shift
    DOCKER_HOST=unix://$(sock_of "$e") DOCKER_CONFIG=$WORK/docker-config "$DOCKER" "$@"
}
wait_sock() { # ENGINE
    for _ in $(seq 300); do d "$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
    die "$1's API never answered on $(sock_of "$1")"
}

# ---------------------------------------------------------------- the three services
"$HULL" --root "$WORK/hull" system service --time 0 "unix://$(sock_of hull)" 2>"$WORK/hull.log" &
HULL_PID=$!
dockerd --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" --pidfile "$WORK/docker.pid" \
    -H "unix://$(sock_of dockerd)" --iptables=false --ip-masq=false --bridge=none \
    >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
cat >"$WORK/registries.conf" <<EOF
[[registry]]
location = "${IMAGE%%/*}"
insecure = true
EOF
CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf \
podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --runtime runc \
    --cgroup-manager cgroupfs --events-backend none --storage-driver overlay \
    system service --time 0 "unix://$(sock_of podman)" >"$WORK/podman.log" 2>&1 &
PODMAN_PID=$!
for e in hull dockerd; do wait_sock "$e"; done
# podman is a peer, not a requirement: a podman that does not come up is left out, saying why.
if ! (for _ in $(seq 300); do d podman version >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1); then
    echo "podman: left out (its service never answered; see $WORK/podman.log)"
    ENGINES=(hull dockerd)
fi

echo "== API benchmark: the docker CLI ($("$DOCKER" version -f '{{.Client.Version}}' 2>/dev/null)) through each engine's socket"
echo "filesystem: $FS_DESC at $WORK"
echo "machine:    $(nproc) cores, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "hull:       $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "peers:      dockerd $(d dockerd version -f '{{.Server.Version}}'), podman $(d podman version -f '{{.Server.Version}}' 2>/dev/null || echo '(not up)') (runc)"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
RSS_FRESH=$(rss_kib "$HULL_PID")

for e in "${ENGINES[@]}"; do
    if ! d "$e" pull -q "$IMAGE" >"$WORK/results/pull.err" 2>&1; then
        [[ $e == podman ]] || { cat "$WORK/results/pull.err" >&2; die "$e: pull $IMAGE failed"; }
        echo "podman: left out (pull failed: $(tail -1 "$WORK/results/pull.err"))"
        ENGINES=(hull dockerd)
    fi
done

# ---------------------------------------------------------------- timing
t_once() { # LABEL ENGINE ARGS…: times `docker ARGS` against ENGINE, appends µs to LABEL-ENGINE.us
    local label=$1 e=$2 t0 t1
    shift 2
    t0=$EPOCHREALTIME
    d "$e" "$@" >/dev/null 2>"$WORK/results/err" || { cat "$WORK/results/err" >&2; die "$e: docker $* failed"; }
    t1=$EPOCHREALTIME
    echo $((${t1/./} - ${t0/./})) >>"$WORK/results/$label-$e.us"
}
rounds() { # LABEL N ARGS…: N interleaved rounds of every engine
    local label=$1 n=$2 r i
    shift 2
    for ((r = 0; r < n; r++)); do
        for ((i = 0; i < ${#ENGINES[@]}; i++)); do
            t_once "$label" "${ENGINES[$(((r + i) % ${#ENGINES[@]}))]}" "$@"
        done
    done
}

echo "-- run: docker run --rm --network none $IMAGE true, $RUNS rounds"
for e in "${ENGINES[@]}"; do d "$e" run --rm --network none "${ULIMITS[@]}" "$IMAGE" true >/dev/null; done
rounds run "$RUNS" run --rm --network none "${ULIMITS[@]}" "$IMAGE" true

echo "-- ps: docker ps -a over $CONTAINERS containers, $RUNS rounds"
for e in "${ENGINES[@]}"; do
    for ((i = 0; i < CONTAINERS; i++)); do
        d "$e" create --network none "${ULIMITS[@]}" "$IMAGE" true >/dev/null
    done
done
rounds ps "$RUNS" ps -a

LOG_ROUNDS=$(((RUNS + 2) / 3))
echo "-- logs: docker logs of $LOG_MB MB (100-byte lines), $LOG_ROUNDS rounds"
line=$(printf '%099d' 0)
for e in "${ENGINES[@]}"; do
    d "$e" run -d --name biglog --network none "${ULIMITS[@]}" "$IMAGE" \
        sh -c "yes $line | head -c $((LOG_MB << 20))" >/dev/null
    d "$e" wait biglog >/dev/null
done
rounds logs "$LOG_ROUNDS" logs biglog

echo "-- pull: cold docker pull $PULL_IMAGE (and hull pull), $LOG_ROUNDS rounds"
ENGINES_PULL=("${ENGINES[@]}" hull-cli)
for ((r = 0; r < LOG_ROUNDS; r++)); do
    for e in "${ENGINES_PULL[@]}"; do
        case $e in
        hull-cli)
            "$HULL" --root "$WORK/hull" rmi "$PULL_IMAGE" >/dev/null 2>&1 || true
            t0=$EPOCHREALTIME
            "$HULL" --root "$WORK/hull" pull -q "$PULL_IMAGE" >/dev/null || die "hull pull failed"
            t1=$EPOCHREALTIME
            echo $((${t1/./} - ${t0/./})) >>"$WORK/results/pull-hull-cli.us"
            ;;
        *)
            d "$e" rmi -f "$PULL_IMAGE" >/dev/null 2>&1 || true
            t_once pull "$e" pull -q "$PULL_IMAGE"
            ;;
        esac
    done
done

RSS_IDLE=$(rss_kib "$HULL_PID")

echo "-- activation: first request to a socket-activated hull, $RUNS rounds"
for ((r = 0; r < RUNS; r++)); do
    asock=$WORK/activated.sock
    systemd-socket-activate -l "$asock" "$HULL" --root "$WORK/hull" system service --time 1 \
        2>>"$WORK/activation.log" &
    apid=$!
    for _ in $(seq 100); do [[ -S $asock ]] && break; sleep 0.02; done
    t0=$EPOCHREALTIME
    curl -fs --unix-socket "$asock" http://hull/_ping >/dev/null || die "activated ping failed"
    t1=$EPOCHREALTIME
    curl -fs --unix-socket "$asock" http://hull/_ping >/dev/null
    t2=$EPOCHREALTIME
    echo "$((${t1/./} - ${t0/./})) $((${t2/./} - ${t1/./}))" >>"$WORK/results/activation.us"
    wait "$apid" || true
    rm -f "$asock"
done

# ---------------------------------------------------------------- report
python3 - "$WORK/results" "$RSS_FRESH" "$RSS_IDLE" <<'PY'
import statistics, sys
from pathlib import Path
res, fresh, idle = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
med = statistics.median
def load(name):
    p = res / f"{name}.us"
    return [int(x) / 1000 for x in p.read_text().split()] if p.exists() else []
def row(label, engines):
    vals = {e: load(f"{label}-{e}") for e in engines}
    vals = {e: v for e, v in vals.items() if v}
    for e, v in vals.items():
        print(f"{label:<5} {e:<9} median {med(v):8.1f} ms  [{min(v):.1f}–{max(v):.1f}] n={len(v)}")
    return {e: med(v) for e, v in vals.items()}
def vs(m):
    return f", hull/podman {m['hull'] / m['podman']:.2f}" if "podman" in m else ", podman left out"
run = row("run", ["hull", "dockerd", "podman"])
print(f"ratio run  hull/dockerd {run['hull'] / run['dockerd']:.2f} (target ≤ 0.30: "
      f"{'MET' if run['hull'] / run['dockerd'] <= 0.3 else 'NOT MET'}){vs(run)}")
ps = row("ps", ["hull", "dockerd", "podman"])
print(f"ratio ps   hull/dockerd {ps['hull'] / ps['dockerd']:.2f}{vs(ps)}")
logs = row("logs", ["hull", "dockerd", "podman"])
print(f"ratio logs hull/dockerd {logs['hull'] / logs['dockerd']:.2f}{vs(logs)}")
pull = row("pull", ["hull", "hull-cli", "dockerd", "podman"])
print(f"ratio pull API/CLI {pull['hull'] / pull['hull-cli']:.2f} (target ≤ 1, within noise), "
      f"hull/dockerd {pull['hull'] / pull['dockerd']:.2f}{vs(pull)}")
act = [tuple(int(x) / 1000 for x in l.split()) for l in (res / "activation.us").read_text().splitlines()]
added = [a - b for a, b in act]
print(f"activation: first request {med(a for a, _ in act):.1f} ms, warm {med(b for _, b in act):.1f} ms, "
      f"added median {med(added):.1f} ms [{min(added):.1f}–{max(added):.1f}] "
      f"(target ≤ 30 ms: {'MET' if med(added) <= 30 else 'NOT MET'})")
print(f"rss: idle service {fresh / 1024:.2f} MiB fresh, {idle / 1024:.2f} MiB idle after the rounds "
      f"(target ≤ 10 MiB: {'MET' if max(fresh, idle) <= 10 * 1024 else 'NOT MET'})")
PY
