#!/usr/bin/env bash
# bench/network.sh — what bridge networking costs: start latency and TCP throughput.
#
#   bench/network.sh [-n RUNS] [-t SECONDS] [-i IMAGE] [-b HULL_BINARY]
#
#   -n RUNS     measured runs per variant (default 20)
#   -t SECONDS  iperf3 duration per throughput measurement (default 5)
#   -i IMAGE    image to run (default 127.0.0.1:5000/busybox:latest; plain-HTTP registry)
#   -b PATH     hull binary (default target/release/hull)
#
# Needs: root, iperf3 (apt-get install -y iperf3), python3; podman is optional.
#
# 1. Latency of one container running `true`, from start to removal, interleaved:
#      hull-none      hull run --rm --network none IMAGE true
#      hull-bridge    hull run --rm IMAGE true              (the default bridge network)
#      hull-publish   hull run --rm -p PORT:80 IMAGE true   (bridge plus one port map)
#      podman-none    podman --runtime runc run --rm --network none IMAGE true
#      podman-bridge  podman --runtime runc run --rm --network bridge IMAGE true   (netavark)
#    (podman with explicit nofile/nproc ulimits and runc: see PODMAN_LIMITS below)
#    The hull store is private (a temp dir) with its own default subnet (10.239.0.0/24, via
#    HULL_DEFAULT_SUBNET) and bridge (hull0-<store tag>), so the host's hull0 is never touched.
#    With no other container on the network, every bridge run creates the bridge and its NAT
#    rules and removes them at exit (hull removes what nothing uses); a second pass keeps one
#    idle container on the network so that the bridge stays (the steady state of a busy host).
#    podman's variants are skipped (and say so) when podman cannot run them here.
#
# 2. TCP throughput, iperf3 -c from the host for -t seconds, to:
#      loopback    an iperf3 server on the host, 127.0.0.1
#      published   an iperf3 server in a hull container, through 127.0.0.1:PORT (-p PORT:5201:
#                  DNAT in nft's output chain, route_localnet, the veth and the bridge)
#      container   the same server at the container's own address (no DNAT)
#    The busybox image has no libc, so the container runs the host's dynamic iperf3 through
#    the host's dynamic loader: /usr/bin/iperf3 and /usr/lib/x86_64-linux-gnu are bind-mounted
#    read-only and the command is `ld-linux-x86-64.so.2 --library-path … /iperf3 -s`.
set -euo pipefail
export LC_ALL=C

RUNS=20
SECS=5
IMAGE=127.0.0.1:5000/busybox:latest
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HULL="$REPO_ROOT/target/release/hull"
LIBDIR=/usr/lib/x86_64-linux-gnu

while getopts "n:t:i:b:" o; do
    case $o in
    n) RUNS=$OPTARG ;;
    t) SECS=$OPTARG ;;
    i) IMAGE=$OPTARG ;;
    b) HULL=$OPTARG ;;
    *) exit 2 ;;
    esac
done

die() {
    echo "network.sh: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || die "run as root"
[ -x "$HULL" ] || die "$HULL not built"
command -v iperf3 >/dev/null || die "iperf3 missing: scripts/deps --bench"

# Every store (hull's and podman's) lives on a tmpfs of its own, so the host's disk (here an
# ext4 without a journal) does not colour the latency.
WORK=$(mktemp -d /var/tmp/hull-netbench.XXXXXX)
mount -t tmpfs -o size=4g hull-netbench "$WORK" || die "mount a tmpfs on $WORK"
STORE=$WORK/store
export HULL_DEFAULT_SUBNET=10.239.0.0/24
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    "$HULL" --root "$STORE" ps -aq 2>/dev/null | xargs -r "$HULL" --root "$STORE" rm -f >/dev/null 2>&1 || true
    "$HULL" --root "$STORE" network sweep >/dev/null 2>&1 || true
    podman --root "$WORK/podman" --runroot "$WORK/podman-run" rm -af >/dev/null 2>&1 || true
    umount -R "$WORK" 2>/dev/null || umount -l "$WORK" 2>/dev/null || true
    rmdir "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

hull() { "$HULL" --root "$STORE" "$@"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

hull pull "$IMAGE" >/dev/null

PUBPORT=$(free_port)
# podman asks for RLIMIT_NOFILE 1048576, which root cannot get here (see bench/run.sh), and crun
# refuses this hybrid cgroup host; runc with explicit limits runs.
PODMAN_LIMITS="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
podman() { command podman --root "$WORK/podman" --runroot "$WORK/podman-run" "$@"; }
declare -A CMD=(
    [hull-none]="hull run --rm --network none $IMAGE true"
    [hull-bridge]="hull run --rm $IMAGE true"
    [hull-publish]="hull run --rm -p $PUBPORT:80 $IMAGE true"
    [podman-none]="podman --runtime runc run --rm --network none $PODMAN_LIMITS $IMAGE true"
    [podman-bridge]="podman --runtime runc run --rm --network bridge $PODMAN_LIMITS $IMAGE true"
)
VARIANTS=(hull-none hull-bridge hull-publish)
if command -v podman >/dev/null; then
    podman pull -q --tls-verify=false "$IMAGE" >/dev/null 2>&1 || true
    for v in podman-none podman-bridge; do
        if out=$(eval "${CMD[$v]}" 2>&1); then
            VARIANTS+=("$v")
        else
            echo "# $v skipped: $(echo "$out" | tail -1)"
        fi
    done
else
    echo "# podman not installed: podman variants skipped"
fi

# One timed run; microseconds appended to $WORK/<variant>.<pass>.us.
time_once() {
    local v=$1 pass=$2 t0 t1
    t0=$EPOCHREALTIME
    eval "${CMD[$v]}" >/dev/null 2>&1 || die "$v failed: ${CMD[$v]}"
    t1=$EPOCHREALTIME
    echo $(((${t1/./} - ${t0/./}))) >>"$WORK/$v.$pass.us"
}

summary() {
    python3 - "$@" <<'EOF'
import statistics, sys
for path in sys.argv[1:]:
    xs = sorted(int(l) / 1000 for l in open(path))
    name = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
    p90 = xs[min(len(xs) - 1, int(len(xs) * 0.9))]
    print(f"{name:24} n={len(xs):3}  median {statistics.median(xs):7.1f} ms  "
          f"mean {statistics.mean(xs):7.1f} ms  p90 {p90:7.1f} ms")
EOF
}

latency_pass() {
    local pass=$1 r i n=${#VARIANTS[@]}
    for v in "${VARIANTS[@]}"; do time_once "$v" warmup; done
    for ((r = 0; r < RUNS; r++)); do
        for ((i = 0; i < n; i++)); do
            time_once "${VARIANTS[$(((r + i) % n))]}" "$pass"
        done
    done
}

echo "# latency: $RUNS runs per variant, interleaved; hull binary $HULL"
echo "## pass 1: nothing else on the network (the bridge comes and goes with each run)"
latency_pass alone
summary "$WORK"/*.alone.us
echo "## pass 2: one idle container keeps the bridge up"
hull run -d --name keeper "$IMAGE" sleep 100000 >/dev/null
latency_pass busy
summary "$WORK"/*.busy.us
hull rm -f keeper >/dev/null

echo "# throughput: iperf3 -c for ${SECS}s, host to server"
gbits() {
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f Gbit/s" % (d["end"]["sum_received"]["bits_per_second"]/1e9))'
}
LPORT=$(free_port)
iperf3 -s -p "$LPORT" >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
echo "loopback   127.0.0.1:$LPORT          $(iperf3 -c 127.0.0.1 -p "$LPORT" -t "$SECS" -J | gbits)"

CPORT=$(free_port)
hull run -d --name iperf -p "$CPORT:5201" \
    -v /usr/bin/iperf3:/iperf3:ro -v "$LIBDIR:$LIBDIR:ro" "$IMAGE" \
    "$LIBDIR/ld-linux-x86-64.so.2" --library-path "$LIBDIR" /iperf3 -s >/dev/null
CIP=$(hull inspect -f '{{.NetworkSettings.IPAddress}}' iperf)
for _ in $(seq 50); do # until the server listens (iperf3 -t takes whole seconds only)
    timeout 1 bash -c "</dev/tcp/$CIP/5201" 2>/dev/null && break
    sleep 0.2
done
echo "published  127.0.0.1:$CPORT->5201   $(iperf3 -c 127.0.0.1 -p "$CPORT" -t "$SECS" -J | gbits)"
echo "container  $CIP:5201        $(iperf3 -c "$CIP" -p 5201 -t "$SECS" -J | gbits)"
hull rm -f iperf >/dev/null
