#!/usr/bin/env bash
# bench/run.sh — container start latency: `hull run` vs. crun, runc, podman and an unshare floor.
#
#   bench/run.sh [-n RUNS] [-f tmpfs|ext4] [-i IMAGE] [-b HULL_BINARY]
#
#   -n RUNS   measured runs per tool (default 20)
#   -f FS     where every store, bundle and state dir lives: "tmpfs" (default; a tmpfs this script
#             mounts) or "ext4" (a journaled ext4 on a loop device backed by a sparse file in /var/tmp)
#   -i IMAGE  image to run (default 127.0.0.1:5000/busybox:latest; plain-HTTP registry)
#   -b PATH   hull binary (default target/release/hull; build it with `cargo build --release`)
#
# One run = one container running `true` from start to removal:
#   hull     hull --root R run --rm --network none IMAGE true
#   crun     crun run -b B ID      (the same OCI bundle for crun and runc; a foreground run
#   runc     runc run -b B ID       deletes the container, state and cgroup, when it exits)
#   hullrt   hull-runtime run -b B ID   (hull as a runc-compatible runtime, the same bundle; its
#            foreground run deletes too)
#   podman   podman run --rm --network none --ulimit nofile=… --ulimit nproc=… IMAGE true
#   podman-hull  the same with --runtime hull-runtime (outside the crun namespace: hull handles
#            the hybrid cgroup layout)
#            (storage on the benchmark file system; the ulimits are explained below)
#   ctr-hull ctr run --rm --runc-binary hull-runtime IMAGE ID true   (containerd's runc shim
#            driving hull; containerd is started by this script with its root and state on the
#            benchmark file system, CRI disabled, as tests/e2e/containerd.sh does)
#   ctr-runc the same with --runc-binary runc
#   floor    unshare --fork --pid --mount --uts --ipc --net true
# The bundle is hull's own: config.json is the one `hull run --network none IMAGE true` writes
# (Docker's mounts, capabilities, masked paths, device cgroup rules and seccomp profile; pid,
# mount, uts, ipc and network namespaces), with ociVersion lowered to 1.0.2 for crun 1.8, the
# /etc/{hosts,hostname,resolv.conf} binds pointed at copies in the bundle and its own
# cgroupsPath per runtime; rootfs is a copy of the image's tree made via `hull image mount`.
#
# crun and podman (which runs crun) run inside a private mount namespace in which
# /sys/fs/cgroup/unified is unmounted: this host is cgroup v1 "hybrid" with the hugetlb
# controller on the v2 mount, and crun refuses any container there ("cgroups in hybrid mode
# not supported, drop all controllers from cgroupv2", even with --cgroup-manager=disabled).
# Without that mount crun sees plain v1 and uses the cgroupfs manager like everybody else.
# The namespace is entered outside the timed interval.
#
# Runs are interleaved (round r runs every tool once, starting one tool later each round).
# Wall time is taken in-process with bash's $EPOCHREALTIME (microseconds) around the commands
# themselves; a separate unmeasured pass under /usr/bin/time gives each tool's peak RSS.
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
PY=/usr/bin/python3
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"
TOOLS=(hull hullrt crun runc podman podman-hull ctr-hull ctr-runc floor)

die() {
    echo "run.sh: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- what each tool runs
# The state the commands need comes in BENCH_* variables (the timing entry point is a fresh
# bash, possibly inside the crun mount namespace).
command_for() {
    local w=$BENCH_WORK
    case $1 in
    hull) echo "'$BENCH_HULL' --root '$w/hull' run --rm --network none '$BENCH_IMAGE' true" ;;
    hullrt) echo "'$BENCH_HULLRT' --root '$w/hullrt-state' run -b '$w/bundle-hullrt' bench-hullrt" ;;
    crun | runc)
        # A foreground `run` deletes the container itself when it exits (state and cgroup), as
        # the check after the measurements confirms; a `delete` afterwards would fail.
        echo "$1 --root '$w/$1-state' run -b '$w/bundle-$1' bench-$1"
        ;;
    # podman 4.3 asks for RLIMIT_NOFILE 1048576 (and ignores --ulimit host as root), which root
    # cannot get here (no CAP_SYS_RESOURCE, hard limit 20000); podman lowers its own NPROC to
    # 32768 at startup. So both are given explicitly; hull and the bundle set no rlimits.
    podman)
        echo "$BENCH_PODMAN run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 '$BENCH_IMAGE' true"
        ;;
    podman-hull)
        echo "$BENCH_PODMAN --runtime '$BENCH_HULLRT' run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 '$BENCH_IMAGE' true"
        ;;
    # A fresh container id per run (--rm removes container and snapshot when the task exits).
    ctr-hull | ctr-runc)
        local bin=$BENCH_HULLRT
        [[ $1 == ctr-runc ]] && bin=$(command -v runc)
        echo "ctr -a '$w/containerd/sock' -n $BENCH_CTR_NS run --rm --runc-binary '$bin' '$BENCH_IMAGE' $1-\${EPOCHREALTIME/./} true"
        ;;
    floor) echo "unshare --fork --pid --mount --uts --ipc --net true" ;;
    *) die "unknown tool $1" ;;
    esac
}

# Runs one tool once and appends its wall time in microseconds to results/TOOL.us.
time_once() {
    local tool=$1 cmd t0 t1
    cmd=$(command_for "$tool")
    t0=$EPOCHREALTIME
    if ! eval "$cmd" </dev/null >"$BENCH_WORK/results/$tool.log" 2>&1; then
        cat "$BENCH_WORK/results/$tool.log" >&2
        die "$tool failed"
    fi
    t1=$EPOCHREALTIME
    echo $((${t1/./} - ${t0/./})) >>"$BENCH_WORK/results/$tool.us"
}

# One run under /usr/bin/time; appends the peak RSS (KiB, largest single process) to TOOL.rss.
rss_once() {
    local tool=$1
    /usr/bin/time -f '%M' -o "$BENCH_WORK/results/$tool.rss1" \
        bash -c "$(command_for "$tool")" </dev/null >"$BENCH_WORK/results/$tool.log" 2>&1 ||
        { cat "$BENCH_WORK/results/$tool.log" >&2; die "$tool failed"; }
    tail -1 "$BENCH_WORK/results/$tool.rss1" >>"$BENCH_WORK/results/$tool.rss"
}

if [[ ${1:-} == __internal ]]; then
    case $2 in
    time) time_once "$3" ;;
    rss) rss_once "$3" ;;
    sh) shift 2; eval "$*" ;;
    *) die "unknown internal mode $2" ;;
    esac
    exit 0
fi

# ---------------------------------------------------------------- options
RUNS=20
FS=tmpfs
IMAGE=127.0.0.1:5000/busybox:latest
HULL="$REPO_ROOT/target/release/hull"
while getopts "n:f:i:b:h" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    f) FS=$OPTARG ;;
    i) IMAGE=$OPTARG ;;
    b) HULL=$OPTARG ;;
    h) sed -n '2,10p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$RUNS" -n
check_fs
[[ $(id -u) == 0 ]] || die "run as root (mount, loop devices, cgroups, runtimes)"
[[ -x $HULL ]] || die "no hull binary at $HULL; run: cargo build --release"
for t in crun runc podman containerd ctr unshare nsenter jq findmnt /usr/bin/time; do
    command -v "$t" >/dev/null || die "missing $t"
done
case ${IMAGE%%/*} in 127.* | localhost:*) ;; *) die "only loopback registries: $IMAGE" ;; esac

# ---------------------------------------------------------------- scratch filesystem
WORK=$(mktemp -d /tmp/hull-runbench.XXXXXX)
MOUNTED=0
CONTAINERD_PID=""
CGROUP_PARENT=hull-bench-$$
# containerd's namespace for the ctr rows; its tasks' cgroups go below a parent of this name
CTR_NS=hull-bench-ctr-$$
cleanup() {
    local rc=$?
    set +e
    if [[ -n $CONTAINERD_PID ]]; then
        kill "$CONTAINERD_PID"
        wait "$CONTAINERD_PID"
    fi
    if ((MOUNTED)); then
        for t in crun runc; do
            "$t" --root "$WORK/$t-state" delete -f "bench-$t" >/dev/null 2>&1
        done
        "$WORK/bin/hull-runtime" --root "$WORK/hullrt-state" delete -f bench-hullrt >/dev/null 2>&1
    fi
    # anything still mounted below WORK (the namespace file, podman's overlays), deepest
    # first, then WORK itself
    unmount_scratch
    # the benchmark's cgroups (crun/runc leave the parent behind), leaves first
    find /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/*/"$CTR_NS" -depth -type d \
        -exec rmdir {} + 2>/dev/null
    # podman's cgroupfs manager leaves its shared parent (and conmon's) behind when empty
    rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_scratch 2g 4G hull-runbench
mkdir -p "$WORK/results" "$WORK/tmp"
export TMPDIR=$WORK/tmp

PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver overlay --events-backend none --cgroup-manager cgroupfs"
mkdir -p "$WORK/bin"
ln -s "$(realpath "$HULL")" "$WORK/bin/hull-runtime"
export BENCH_WORK=$WORK BENCH_HULL=$HULL BENCH_IMAGE=$IMAGE BENCH_PODMAN=$PODMAN
export BENCH_HULLRT=$WORK/bin/hull-runtime
export BENCH_CTR_NS=$CTR_NS

echo "== hull run benchmark: $IMAGE, \`true\`, $RUNS runs per tool"
echo "filesystem: $FS_DESC at $WORK"
echo "machine:    $(nproc) cores, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "hull:       $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "peers:      $(crun --version | head -1); $(runc --version | head -1); $(podman --version); $(unshare --version)"

# ---------------------------------------------------------------- stores and bundle (unmeasured)
"$HULL" --root "$WORK/hull" pull -q "$IMAGE" >/dev/null || die "hull pull $IMAGE failed"

# hull's own OCI config for this run, captured from a kept container
"$HULL" --root "$WORK/hull" run --name bench-spec --network none "$IMAGE" true ||
    die "hull run failed"
cdir=$(dirname "$(grep -l '"bench-spec"' "$WORK"/hull/containers/*/container.json)")
mkdir -p "$WORK/etc"
cp "$cdir/bundle/config.json" "$WORK/hull-config.json"
cp "$cdir"/{hosts,hostname,resolv.conf} "$WORK/etc/"
"$HULL" --root "$WORK/hull" rm bench-spec >/dev/null

mnt=$("$HULL" --root "$WORK/hull" image mount "$IMAGE")
cp -a "$mnt" "$WORK/rootfs"
"$HULL" --root "$WORK/hull" image unmount "$IMAGE" >/dev/null
for t in hullrt crun runc; do
    mkdir -p "$WORK/bundle-$t" "$WORK/$t-state"
    jq --arg root "$WORK/rootfs" --arg etc "$WORK/etc" --arg cg "/$CGROUP_PARENT/$t" '
        .ociVersion = "1.0.2"
        | .root.path = $root
        | (.mounts[] | select(.type == "bind") | .source) |= ($etc + "/" + (split("/") | last))
        | .linux.cgroupsPath = $cg' "$WORK/hull-config.json" >"$WORK/bundle-$t/config.json"
done
echo "bundle:     hull's config.json ($(jq '.linux.seccomp.syscalls | length' "$WORK/hull-config.json") seccomp rule groups, namespaces $(jq -r '[.linux.namespaces[].type] | join(",")' "$WORK/hull-config.json")), rootfs copied to $WORK/rootfs"

# the mount namespace for crun and podman: /sys/fs/cgroup/unified unmounted
NS=$WORK/crun-mntns
touch "$NS"
unshare --mount="$NS" --propagation private umount /sys/fs/cgroup/unified ||
    die "cannot make the crun mount namespace"
in_ns() { nsenter --mount="$NS" "$@"; }
echo "crun ns:    crun and podman run in a mount namespace without /sys/fs/cgroup/unified (hybrid cgroups)"

in_ns "$SELF" __internal sh "$PODMAN pull -q --tls-verify=false '$IMAGE' >/dev/null" ||
    die "podman pull failed"
echo "podman:     $(in_ns "$SELF" __internal sh "$PODMAN info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}'" | head -1 | tr '\n' ' ')(storage driver overlay)"

# containerd for the ctr rows: private root, state and socket on the benchmark file system.
mkdir -p "$WORK/containerd"
cat >"$WORK/containerd/config.toml" <<EOF
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/containerd/sock"
[ttrpc]
  address = "$WORK/containerd/sock.ttrpc"
EOF
containerd --config "$WORK/containerd/config.toml" >"$WORK/containerd/log" 2>&1 &
CONTAINERD_PID=$!
for _ in $(seq 100); do
    ctr -a "$WORK/containerd/sock" version >/dev/null 2>&1 && break
    sleep 0.1
done
ctr -a "$WORK/containerd/sock" -n "$CTR_NS" images pull --plain-http "$IMAGE" >/dev/null ||
    die "ctr pull $IMAGE failed"
echo "containerd: $(containerd --version | cut -d' ' -f3) with its runc shim (io.containerd.runc.v2), overlayfs snapshotter"

entry() { # how the timing loop reaches a tool
    case $1 in
    crun | podman) in_ns "$SELF" __internal "$2" "$1" ;;
    *) "$SELF" __internal "$2" "$1" ;;
    esac
}

# ---------------------------------------------------------------- measure
for tool in "${TOOLS[@]}"; do # warm-up: one unmeasured run each, which also checks it works
    entry "$tool" time
    rm -f "$WORK/results/$tool.us"
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < RUNS; r++)); do
    printf 'round %d/%d:' $((r + 1)) "$RUNS"
    for ((k = 0; k < ${#TOOLS[@]}; k++)); do
        tool=${TOOLS[(r + k) % ${#TOOLS[@]}]}
        entry "$tool" time
        printf ' %s=%sms' "$tool" "$(($(tail -1 "$WORK/results/$tool.us") / 1000))"
    done
    echo
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
for t in hullrt crun runc; do # a foreground run must have removed the container, or we did less work
    [[ -z $(ls -A "$WORK/$t-state") ]] || die "$t left state behind: $(ls -A "$WORK/$t-state")"
    [[ ! -e /sys/fs/cgroup/memory/$CGROUP_PARENT/$t ]] || die "$t left its cgroup behind"
done
for c in "$WORK"/hull/containers/*/; do [[ -e $c ]] && die "hull left a container behind: $c"; done
left=$(ctr -a "$WORK/containerd/sock" -n "$CTR_NS" containers ls -q)
[[ -z $left ]] || die "ctr run --rm left containers behind: $left"
for ((r = 0; r < 3; r++)); do
    for tool in "${TOOLS[@]}"; do entry "$tool" rss; done
done

# ---------------------------------------------------------------- report
echo
$PY - "$WORK/results" "${TOOLS[@]}" <<'EOF'
import statistics, sys
results, tools = sys.argv[1], sys.argv[2:]
st = {}
for t in tools:
    us = [int(l) for l in open(f"{results}/{t}.us") if l.strip()]
    rss = max(int(l) for l in open(f"{results}/{t}.rss") if l.strip())
    st[t] = (statistics.median(us) / 1000, min(us) / 1000, max(us) / 1000, rss)
hull = st["hull"][0]
print(f"{'tool':<12}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'peak RSS':>11}{'hull/tool':>11}")
for t in tools:
    med, lo, hi, rss = st[t]
    print(f"{t:<12}{med:>10.1f}{lo:>9.1f}{hi:>9.1f}{rss / 1024:>9.1f}Mi{hull / med:>11.2f}")
print("(peak RSS = largest single process of the run, from 3 extra runs under /usr/bin/time)")
print()
r = {t: hull / st[t][0] for t in tools}
print(f"hull/crun {r['crun']:.2f}  hull/runc {r['runc']:.2f}  hull/podman {r['podman']:.3f}  "
      f"hull/floor {r['floor']:.2f};  hull peak RSS {st['hull'][3] / 1024:.1f} MiB")
print(f"hull-runtime/crun {st['hullrt'][0] / st['crun'][0]:.2f}  "
      f"podman+hull/podman+crun {st['podman-hull'][0] / st['podman'][0]:.2f}  "
      f"ctr+hull/ctr+runc {st['ctr-hull'][0] / st['ctr-runc'][0]:.2f}")
print(f"target: within 1.5x of crun:      {r['crun']:.2f}x  {'MET' if r['crun'] <= 1.5 else 'NOT MET'}")
print(f"target: faster than runc:         {r['runc']:.2f}x  {'MET' if r['runc'] < 1 else 'NOT MET'}")
print(f"target: >=10x faster than podman: {1 / r['podman']:.1f}x  "
      f"{'MET' if r['podman'] <= 0.1 else 'NOT MET'}")
EOF
