#!/usr/bin/env bash
# bench/push.sh — push benchmark: hull vs. podman push, skopeo copy, and curl floors.
#
#   bench/push.sh [-n RUNS] [-f tmpfs|ext4] [-b HULL_BINARY] [-p PORT]
#
#   -n RUNS   measured runs per tool (default 3)
#   -f FS     where every store and the target registry live: "tmpfs" (default) or "ext4" (a
#             journaled ext4 on a loop device backed by a sparse file in /var/tmp)
#   -b PATH   hull binary (default target/release/hull; build it with `cargo build --release`)
#   -p PORT   loopback port of the benchmark's own registry (default 5090)
#
# Two workloads, each pushed to an EMPTY registry: the script runs its own docker-registry (the
# fixture registries' binary) on 127.0.0.1:PORT with its storage on the scratch file system, and
# stops it, wipes its storage and starts it again before every run (unmeasured), so nothing is
# ever already there and no cross-repository mount can help anyone.
#
# 1. "large": the fixture image 127.0.0.1:5000/large:latest (~180 MB of random data, 7 layers),
#    pulled beforehand (unmeasured) by each tool that keeps a store.
#      hull          hull push (the pulled blobs, byte for byte)
#      podman        podman push (podman keeps layers unpacked: it compresses them again)
#      skopeo        skopeo copy from the fixture registry (registry to registry, streamed)
#      floor-large   curl: every blob of hull's store in parallel (POST, then PUT ?digest=),
#                    then the manifest; no checks
# 2. "big": a committed layer of 200 MiB (binaries from the host's /usr, cut at 200 MiB) on
#    busybox, made with `run` + `commit` by hull and by podman (unmeasured).
#      hull-big      hull push (compresses the new layer: gzip, chunks in parallel)
#      hull-big-zstd hull push --compression-format zstd
#      podman-big    podman push
#      floor-big     the layer's tar | pigz -c | curl -X PATCH into an upload, the parallel floor
#                    that verifies nothing and never finishes the upload
#    hull's store is restored from a copy before each hull run (unmeasured): hull keeps a layer
#    it compressed for a push, so a second push would have nothing left to compress.
#
# In the last round each push is checked: the registry serves the pushed manifest, every blob
# it names, and for hull's "large" the manifest digest equals the fixture registry's. Needs root
# (mount, loop devices, podman storage, hull run).
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
PY=/usr/bin/python3
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"

die() {
    echo "push.sh: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- the target registry
REG_PID=""
start_registry() {
    local i
    mkdir -p "$WORK/reg/data"
    cat >"$WORK/reg/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/reg/data
  delete:
    enabled: true
http:
  addr: $TARGET
EOF
    docker-registry serve "$WORK/reg/config.yml" >>"$WORK/reg/log" 2>&1 &
    REG_PID=$!
    for ((i = 0; i < 100; i++)); do
        curl -sf -o /dev/null "http://$TARGET/v2/" && return 0
        kill -0 "$REG_PID" 2>/dev/null || die "the target registry exited (log: $WORK/reg/log)"
        sleep 0.1
    done
    die "the target registry did not answer on $TARGET"
}

stop_registry() {
    [[ -n $REG_PID ]] || return 0
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    REG_PID=""
}

empty_registry() {
    stop_registry
    rm -rf "$WORK/reg/data"
    start_registry
}

# ---------------------------------------------------------------- floors
# POSTs a new upload to the target and prints its absolute Location.
new_upload() { # REPO
    local loc
    loc=$(curl -sf -X POST -D - -o /dev/null "http://$TARGET/v2/$1/blobs/uploads/" |
        tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [[ -n $loc ]] || die "no upload location from $TARGET"
    case $loc in /*) loc="http://$TARGET$loc" ;; esac
    echo "$loc"
}

sep_for() { case $1 in *\?*) echo '&' ;; *) echo '?' ;; esac; }

floor_large() {
    local dg loc
    for dg in $(jq -r '.config.digest, .layers[].digest' "$WORK/large-manifest.json"); do
        (
            loc=$(new_upload floor-large)
            curl -sf -X PUT -H 'Content-Type: application/octet-stream' \
                --data-binary "@$WORK/hull/blobs/sha256/${dg#sha256:}" \
                "$loc$(sep_for "$loc")digest=$dg" -o /dev/null
        ) &
    done
    wait_all
    curl -sf -X PUT -H "Content-Type: $(jq -r .mediaType "$WORK/large-manifest.json")" \
        --data-binary "@$WORK/large-manifest.json" "http://$TARGET/v2/floor-large/manifests/latest" -o /dev/null
}

floor_big() {
    local loc
    loc=$(new_upload floor-big)
    pigz -c <"$WORK/big.tar" | curl -sf -X PATCH -H 'Content-Type: application/octet-stream' \
        -T - "$loc" -o /dev/null
}

# The timing loop runs the floors through this script, with WORK and TARGET in BENCH_* variables.
if [[ ${1:-} == __internal ]]; then
    WORK=$BENCH_WORK
    TARGET=$BENCH_TARGET
    case ${2:-} in
    floor-large) floor_large ;;
    floor-big) floor_big ;;
    *) die "no internal step ${2:-}" ;;
    esac
    exit 0
fi

# ---------------------------------------------------------------- options
RUNS=3
FS=tmpfs
HULL="$REPO_ROOT/target/release/hull"
PORT=5090
while getopts "n:f:b:p:h" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    f) FS=$OPTARG ;;
    b) HULL=$OPTARG ;;
    p) PORT=$OPTARG ;;
    h) sed -n '2,37p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$RUNS" -n
check_fs
[[ $PORT =~ ^[0-9]+$ ]] || die "-p wants a port number"
[[ $(id -u) == 0 ]] || die "run as root (mount, loop devices, podman storage, hull run)"
[[ -x $HULL ]] || die "no hull binary at $HULL; run: cargo build --release"
HULL=$(realpath "$HULL")
for t in skopeo podman docker-registry curl jq pigz gzip zstd tar findmnt /usr/bin/time; do
    command -v "$t" >/dev/null || die "missing $t (scripts/deps installs it)"
done
SOURCE=${HULL_TEST_REGISTRY:-127.0.0.1:5000}
TARGET=127.0.0.1:$PORT
curl -sf -o /dev/null "http://$SOURCE/v2/" || die "the fixture registry $SOURCE does not answer: run scripts/fixtures start"
! curl -s -o /dev/null "http://$TARGET/v2/" || die "something already listens on $TARGET: pick another port with -p"

# ---------------------------------------------------------------- scratch filesystem
WORK=$(mktemp -d /tmp/hull-bench-push.XXXXXX)
MOUNTED=0
cleanup() {
    local rc=$?
    set +e
    stop_registry
    if ((MOUNTED)); then
        [[ -d $WORK/podman ]] && $PODMAN rm -af >/dev/null 2>&1
        reset_dir "$WORK/podman" 2>/dev/null
        [[ -d $WORK/hull ]] && "$HULL" --root "$WORK/hull" rm -f big-src >/dev/null 2>&1
        # podman's cgroupfs manager leaves its shared parent (and conmon's) behind when empty.
        rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
    fi
    unmount_scratch
    exit $rc
}
PODMAN=true
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_scratch 10g 16G hull-bench-push -O ^metadata_csum
mkdir -p "$WORK/tmp" "$WORK/results"
export TMPDIR=$WORK/tmp

echo "== hull push benchmark: $RUNS runs per tool, each into an empty registry on $TARGET"
echo "filesystem: $FS_DESC at $WORK"
echo "machine:    $(nproc) cores, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "hull:       $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "peers:      $(skopeo --version); $(podman --version); pigz $(pigz --version 2>&1 | cut -d' ' -f2); $(curl --version | head -1 | cut -d' ' -f1-2)"

# ---------------------------------------------------------------- podman storage driver
pick_podman_driver "$SOURCE/busybox:latest"
# runc: crun refuses hosts with a hybrid cgroup layout (this one); the ulimits: podman raises
# nofile and nproc past this host's hard limits unless told, and root may not.
PODMAN_RUNTIME=""
if command -v runc >/dev/null; then PODMAN_RUNTIME="--runtime runc"; fi
PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver $PODMAN_DRIVER --events-backend none --cgroup-manager cgroupfs $PODMAN_RUNTIME"

# ---------------------------------------------------------------- setup (unmeasured)
# The big layer: binaries from the host's /usr, concatenated and cut at 200 MiB (compressible
# about as real binaries are), written inside the container so that it lands in its writable
# layer.
MAKE_BIG='cat /hostusr/bin/* /hostusr/lib/x86_64-linux-gnu/*.so* /hostusr/libexec/*/* 2>/dev/null | head -c 209715200 > /big && ls -l /big'
echo "setup:      pulling, running and committing (unmeasured)"
H="$HULL --root $WORK/hull"
$H pull -q "$SOURCE/large:latest" >/dev/null
$H pull -q "$SOURCE/busybox:latest" >/dev/null
$H run --name big-src --network none -v /usr:/hostusr:ro "$SOURCE/busybox:latest" sh -c "$MAKE_BIG" >/dev/null
$H commit big-src bench/big:latest >/dev/null
$H rm big-src >/dev/null
BIG_DIFF=$($H image inspect --format '{{json .RootFS.Layers}}' bench/big:latest | jq -r '.[-1]')
cp "$WORK/hull/blobs/sha256/${BIG_DIFF#sha256:}" "$WORK/big.tar"
[[ $(stat -c %s "$WORK/big.tar") -gt 209715200 ]] || die "the committed layer is smaller than 200 MiB"
cp -a "$WORK/hull" "$WORK/hull.pristine"
curl -sf -H "Accept: application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json" \
    -D "$WORK/large-headers" -o "$WORK/large-manifest.json" "http://$SOURCE/v2/large/manifests/latest"
LARGE_DIGEST=$(tr -d '\r' <"$WORK/large-headers" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
$PODMAN pull -q --tls-verify=false "$SOURCE/large:latest" >/dev/null
$PODMAN pull -q --tls-verify=false "$SOURCE/busybox:latest" >/dev/null
$PODMAN run --name big-src --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 -v /usr:/hostusr:ro "$SOURCE/busybox:latest" sh -c "$MAKE_BIG" >/dev/null
$PODMAN commit -q big-src localhost/bench/big:latest >/dev/null
$PODMAN rm big-src >/dev/null
echo "large:      $(jq '.layers | length' "$WORK/large-manifest.json") layers, $(jq '[.layers[].size] | add' "$WORK/large-manifest.json") bytes compressed, $LARGE_DIGEST"
pigz -c <"$WORK/big.tar" | wc -c >"$WORK/results/floor-big.size"
echo "big:        a $(stat -c %s "$WORK/big.tar")-byte layer tar on busybox ($(cat "$WORK/results/floor-big.size") bytes as pigz -6 makes it); podman storage driver $PODMAN_DRIVER"

# ---------------------------------------------------------------- measure
TOOLS=(hull podman skopeo floor-large hull-big hull-big-zstd podman-big floor-big)

command_for() {
    case $1 in
    hull) echo "$H push -q $TARGET/hull/large:latest" ;;
    podman) echo "$PODMAN push -q --tls-verify=false $SOURCE/large:latest docker://$TARGET/podman/large:latest" ;;
    skopeo) echo "skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://$SOURCE/large:latest docker://$TARGET/skopeo/large:latest" ;;
    hull-big) echo "$H push -q $TARGET/hull/big:latest" ;;
    hull-big-zstd) echo "$H push -q --compression-format zstd $TARGET/hull/big-zstd:latest" ;;
    podman-big) echo "$PODMAN push -q --tls-verify=false localhost/bench/big:latest docker://$TARGET/podman/big:latest" ;;
    floor-large | floor-big) echo "'$SELF' __internal $1" ;;
    esac
}

prepare() { # TOOL: an empty registry, and hull's store as it was after the setup
    empty_registry
    case $1 in
    hull*)
        rm -rf "$WORK/hull"
        cp -a "$WORK/hull.pristine" "$WORK/hull"
        case $1 in
        hull) $H tag "$SOURCE/large:latest" "$TARGET/hull/large:latest" ;;
        hull-big) $H tag bench/big:latest "$TARGET/hull/big:latest" ;;
        hull-big-zstd) $H tag bench/big:latest "$TARGET/hull/big-zstd:latest" ;;
        esac
        ;;
    esac
    if [[ $FS == ext4 ]]; then sync; fi
}

# The registry serves the manifest of REPO:latest and every blob it names.
check_pushed() { # TOOL REPO
    local m dg
    m=$(curl -sf -H "Accept: application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json" \
        "http://$TARGET/v2/$2/manifests/latest") || die "$1: the registry has no manifest $2:latest"
    for dg in $(jq -r '.config.digest, .layers[].digest' <<<"$m"); do
        curl -sfI -o /dev/null "http://$TARGET/v2/$2/blobs/$dg" || die "$1: the registry lacks blob $dg of $2"
    done
}

verify() { # TOOL
    case $1 in
    hull)
        check_pushed hull hull/large
        local got
        got=$(curl -sfI -H "Accept: $(jq -r .mediaType "$WORK/large-manifest.json")" \
            "http://$TARGET/v2/hull/large/manifests/latest" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
        [[ $got == "$LARGE_DIGEST" ]] || die "hull pushed large as $got, not byte for byte ($LARGE_DIGEST)"
        ;;
    podman) check_pushed podman podman/large ;;
    skopeo) check_pushed skopeo skopeo/large ;;
    floor-large) check_pushed floor-large floor-large ;;
    hull-big | hull-big-zstd)
        local repo=hull/big m dg want
        [[ $1 == hull-big-zstd ]] && repo=hull/big-zstd
        check_pushed "$1" "$repo"
        m=$(curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json" \
            "http://$TARGET/v2/$repo/manifests/latest")
        dg=$(jq -r '.layers[-1].digest' <<<"$m")
        jq -r '.layers[-1].size' <<<"$m" >"$WORK/results/$1.size"
        want=$(sha256sum <"$WORK/big.tar" | cut -d' ' -f1)
        local unz=(gzip -dc)
        [[ $1 == hull-big-zstd ]] && unz=(zstd -dc)
        [[ $(curl -sf "http://$TARGET/v2/$repo/blobs/$dg" | "${unz[@]}" | sha256sum | cut -d' ' -f1) == "$want" ]] ||
            die "$1: the pushed layer does not decompress to the committed tar"
        ;;
    podman-big) check_pushed podman-big podman/big ;;
    floor-big) ;;
    esac
}

run_once() { # TOOL -> appends "wall user sys maxrss_kb" to results/TOOL.times
    local tool=$1
    prepare "$tool"
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/results/$tool.time1" \
        bash -c "$(command_for "$tool")" >"$WORK/results/$tool.log" 2>&1 ||
        { cat "$WORK/results/$tool.log"; die "$tool failed"; }
    tail -1 "$WORK/results/$tool.time1" >>"$WORK/results/$tool.times"
}

export BENCH_WORK=$WORK BENCH_TARGET=$TARGET
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < RUNS; r++)); do
    printf 'round %d/%d:' $((r + 1)) "$RUNS"
    for ((k = 0; k < ${#TOOLS[@]}; k++)); do
        tool=${TOOLS[(r + k) % ${#TOOLS[@]}]}
        run_once "$tool"
        printf ' %s=%ss' "$tool" "$(cut -d' ' -f1 <"$WORK/results/$tool.time1")"
        if ((r == RUNS - 1)); then verify "$tool"; fi
    done
    echo
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checks:     every push of the last round is in the registry; hull's large push kept the digest $LARGE_DIGEST; hull's big layers decompress to the committed tar"

echo
$PY - "$WORK/results" "$FS" "$PODMAN_DRIVER" "${TOOLS[@]}" <<'EOF'
import statistics, sys
results, fs, driver, tools = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
stats = {}
for t in tools:
    rows = [list(map(float, l.split())) for l in open(f"{results}/{t}.times") if l.strip()]
    wall = [r[0] for r in rows]
    cpu = [r[1] + r[2] for r in rows]
    stats[t] = (statistics.median(wall), min(wall), max(wall), statistics.median(cpu), max(r[3] for r in rows))
label = {"podman": f"podman ({driver})", "podman-big": f"podman-big ({driver})"}
print(f"{'tool':<22}{'median s':>9}{'min s':>8}{'max s':>8}{'cpu s':>8}{'peak RSS':>10}")
for t in tools:
    med, lo, hi, cpu, rss = stats[t]
    print(f"{label.get(t, t):<22}{med:>9.2f}{lo:>8.2f}{hi:>8.2f}{cpu:>8.2f}{rss / 1024:>8.1f}Mi")
print("(cpu s = median user+sys CPU seconds of all processes; peak RSS = largest single process)")
print()
r1 = stats["hull"][0] / stats["podman"][0]
r2 = stats["hull-big"][0] / stats["floor-big"][0]
print(f"filesystem: {fs}")
print(f"large: hull/podman {r1:.2f}x, hull/skopeo {stats['hull'][0] / stats['skopeo'][0]:.2f}x, "
      f"hull/floor-large {stats['hull'][0] / stats['floor-large'][0]:.2f}x")
print(f"big:   hull/floor-big {r2:.2f}x, hull-zstd/floor-big {stats['hull-big-zstd'][0] / stats['floor-big'][0]:.2f}x, "
      f"hull/podman {stats['hull-big'][0] / stats['podman-big'][0]:.2f}x")
size = {t: int(open(f"{results}/{t}.size").read()) for t in ("hull-big", "hull-big-zstd", "floor-big")}
print(f"big layer compressed: hull gzip {size['hull-big']} bytes "
      f"({size['hull-big'] / size['floor-big']:.3f}x pigz's {size['floor-big']}), zstd {size['hull-big-zstd']}")
print(f"target 1: push of the pulled large image at most 0.5x podman's time: {r1:.2f}x {'MET' if r1 <= 0.5 else 'NOT MET'}")
print(f"target 2: compress and push the 200 MiB layer within 1.3x pigz|curl: {r2:.2f}x {'MET' if r2 <= 1.3 else 'NOT MET'}")
EOF
