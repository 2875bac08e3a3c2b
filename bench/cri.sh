#!/usr/bin/env bash
# bench/cri.sh — hull-runtime under Kubernetes' runtime path: containerd 1.6's CRI plugin with
# the runtime handlers hull, runc and crun (all through the runc v2 shim, `BinaryName`), in turn
# in one run against one private containerd.
#
#   bench/cri.sh [-n STARTS] [-c CHURN] [-f tmpfs|ext4] [-b HULL_BINARY]
#
#   -n STARTS   measured pod starts per handler (default 30)
#   -c CHURN    pods created and removed in a row per handler (default 50)
#   -f FS       where containerd's root, state and the pod logs live: "tmpfs" (default; a tmpfs
#               this script mounts) or "ext4" (a journaled ext4 on a loop device backed by a
#               sparse file in /var/tmp)
#   -b PATH     hull binary (default: `cargo build --release -p hull`, then target/release/hull)
#
# Pod start: RunPodSandbox, CreateContainer (busybox `sleep 3600` from the fixture registry),
# StartContainer, then ContainerStatus until RUNNING, timed by the driver (tests/examples/
# cri-bench.rs, a CRI client over containerd's socket); the pod is stopped and removed after,
# unmeasured. Rounds interleave the handlers, one handler later each round; one unmeasured pod
# per handler first. Churn: CHURN pod starts as above, each with its stop and removal, in a row,
# one handler after the other; the total wall time. Ratios are against runc (lower is faster).
# Needs root, containerd, the CNI plugins and `scripts/fixtures start`.
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"

die() {
    echo "cri.sh: $*" >&2
    exit 1
}

STARTS=30
CHURN=50
FS=tmpfs
HULL=""
while getopts "n:c:f:b:h" opt; do
    case $opt in
    n) STARTS=$OPTARG ;;
    c) CHURN=$OPTARG ;;
    f) FS=$OPTARG ;;
    b) HULL=$OPTARG ;;
    h) sed -n '2,22p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$STARTS" -n
check_count "$CHURN" -c
check_fs
[[ $(id -u) == 0 ]] || die "run as root (containerd, mounts, cgroups)"
for t in containerd ctr containerd-shim-runc-v2 runc crun findmnt; do
    command -v "$t" >/dev/null || die "missing $t (scripts/deps)"
done
[[ -x /usr/lib/cni/bridge ]] || die "missing /usr/lib/cni/bridge (apt-get install containernetworking-plugins)"
eval "$("$REPO_ROOT/scripts/fixtures" env)"
curl -fsS -o /dev/null "http://$HULL_TEST_REGISTRY/v2/" ||
    die "the fixture registry $HULL_TEST_REGISTRY does not answer (scripts/fixtures start)"
if [[ -z $HULL ]]; then
    (cd "$REPO_ROOT" && cargo build --release -q -p hull) || die "cargo build --release failed"
    HULL=$REPO_ROOT/target/release/hull
fi
[[ -x $HULL ]] || die "no hull binary at $HULL"
# The driver runs from another directory: a relative path would name nothing there.
HULL=$(realpath "$HULL")
# The driver: its CRI client's speed is not what is measured (containerd's, the shim's and the
# runtime's is), and its dependencies are optimized in the dev profile too.
(cd "$REPO_ROOT" && cargo build -q -p hull-tests --example cri-bench) || die "building cri-bench failed"
DRIVER=$REPO_ROOT/target/debug/examples/cri-bench

WORK=$(mktemp -d /tmp/hull-cribench.XXXXXX)
OUT=$(mktemp /tmp/hull-cribench-out.XXXXXX)
cleanup() {
    unmount_scratch
    rm -f "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_scratch 2g 8G hull-cribench

echo "file system: $FS_DESC"
echo "hull: $HULL ($("$HULL" --version 2>/dev/null | head -n1))"
echo "runc: $(runc --version | head -n1); crun: $(crun --version | head -n1); $(containerd --version)"
echo "pod starts: $STARTS per handler (interleaved); churn: $CHURN pods per handler"
# On a hybrid host (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) crun refuses
# every container ("cgroups in hybrid mode not supported"), so the driver, and with it
# containerd, its shims and all three runtimes, runs in a private mount namespace without that
# mount: plain cgroup v1 for everyone, as in bench/run.sh. The namespace and its mounts go when
# the driver's last process does.
if mountpoint -q /sys/fs/cgroup/unified; then
    echo "cgroups:    hybrid host: containerd and the runtimes run in a mount namespace without /sys/fs/cgroup/unified (crun refuses hybrid)"
    # shellcheck disable=SC2016  # expanded by the inner shell
    HULL_CRI_TMPDIR=$WORK unshare --mount --propagation private sh -c \
        'umount /sys/fs/cgroup/unified && exec "$@"' sh "$DRIVER" "$HULL" "$STARTS" "$CHURN" hull runc crun >"$OUT"
else
    HULL_CRI_TMPDIR=$WORK "$DRIVER" "$HULL" "$STARTS" "$CHURN" hull runc crun >"$OUT"
fi

/usr/bin/python3 - "$OUT" <<'PY'
import statistics, sys
start, churn = {}, {}
for line in open(sys.argv[1]):
    kind, handler, value = line.split()
    (start if kind == "start" else churn).setdefault(handler, []).append(float(value))
base_s = statistics.median(start["runc"])
base_c = churn["runc"][0]
print(f"{'handler':8} {'start median ms':>16} {'p90 ms':>8} {'vs runc':>8}   {'churn s':>8} {'vs runc':>8}")
for h in ("hull", "runc", "crun"):
    s = sorted(start[h])
    med, p90 = statistics.median(s), s[int(0.9 * (len(s) - 1))]
    c = churn[h][0]
    print(f"{h:8} {med:16.1f} {p90:8.1f} {med / base_s:7.2f}x   {c:8.2f} {c / base_c:7.2f}x")
PY
