#!/usr/bin/env bash
# bench/pull.sh — cold-pull benchmark: hull vs. skopeo+umoci, podman, and a curl+gzip+tar floor.
#
#   bench/pull.sh [-n RUNS] [-f tmpfs|ext4] [-i IMAGE] [-b HULL_BINARY]
#
#   -n RUNS   measured runs per tool (default 5)
#   -f FS     where every store lives: "tmpfs" (default; a tmpfs this script mounts) or
#             "ext4" (a journaled ext4 on a loop device backed by a sparse file in /var/tmp)
#   -i IMAGE  image to pull (default 127.0.0.1:5000/large:latest; plain-HTTP registry)
#   -b PATH   hull binary (default target/release/hull; build it with `cargo build --release`)
#
# Every run is cold: the tool's store is emptied before each run.  The
# registry's own files are warmed once before measuring (all blobs fetched with curl and thrown
# away), so every tool reads from the same warm registry.  Page cache cannot be dropped for a tmpfs
# target (the data *is* page cache); on ext4 the script runs `sync` before each run so one run's
# writeback does not land in the next run's time.  Needs root (mount, losetup, podman storage).
#
# Tools:
#   hull           hull --root R pull -q IMAGE
#   skopeo+umoci   skopeo copy docker://IMAGE oci:DIR:large && umoci unpack --image DIR:large B
#   podman         podman --root R --runroot RR --storage-driver overlay (vfs if overlay fails)
#   floor-par      curl every blob in parallel, then `gzip -dc | tar -x` every layer in parallel
#   floor-seq      per layer in manifest order: curl blob, then `gzip -dc | tar -x`
#   floor-pipe     per layer, all layers at once: curl | tee blob | gzip -dc | tar -x
#                  (the same work as hull minus digests and sync: an informative extra)
# The floors do no digest checking and no fsync; in ext4 mode a floor-par+sync row adds a syncfs.
#
# After each tool's last run, the produced tree is listed (path, type, size of regular files;
# layered stores are unioned across their layer directories; this image has no whiteouts) and
# compared across tools, so no tool can win by doing less.
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
PY=/usr/bin/python3
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"

# ---------------------------------------------------------------- internal entry points
# The timing loop calls back into this script to reset a store and for the multi-step floors; the state
# they need is passed in BENCH_* environment variables.

floor_layers() { # prints "digest" per layer of the manifest saved at warm-up
    jq -r '.layers[].digest' "$BENCH_WORK/manifest.json"
}

blob_url() { echo "http://$BENCH_REGISTRY/v2/$BENCH_REPO/blobs/$1"; }

floor_fetch_config() {
    curl -sf -o "$1/config" "$(blob_url "$(jq -r .config.digest "$BENCH_WORK/manifest.json")")"
}

internal() {
    local mode=$1 tool=$2 d=$BENCH_WORK/$2
    case $mode in
    prepare)
        reset_dir "$d"
        mkdir -p "$d"
        if [[ $BENCH_FS == ext4 ]]; then sync; fi
        ;;
    run)
        case $tool in
        floor-par | floor-par+sync)
            # manifest (as any puller must), then every blob in parallel, then every layer
            curl -sf -H "Accept: $BENCH_ACCEPT" -o "$d/manifest" \
                "http://$BENCH_REGISTRY/v2/$BENCH_REPO/manifests/$BENCH_TAG"
            floor_fetch_config "$d" &
            local i=0 dg
            for dg in $(floor_layers); do
                curl -sf -o "$d/blob$i" "$(blob_url "$dg")" &
                i=$((i + 1))
            done
            wait_all
            for ((j = 0; j < i; j++)); do
                mkdir "$d/L$j"
                (gzip -dc "$d/blob$j" | tar -x -C "$d/L$j") &
            done
            wait_all
            if [[ $tool == floor-par+sync ]]; then sync -f "$d"; fi
            ;;
        floor-seq)
            curl -sf -H "Accept: $BENCH_ACCEPT" -o "$d/manifest" \
                "http://$BENCH_REGISTRY/v2/$BENCH_REPO/manifests/$BENCH_TAG"
            floor_fetch_config "$d"
            local i=0 dg
            for dg in $(floor_layers); do
                curl -sf -o "$d/blob$i" "$(blob_url "$dg")"
                mkdir "$d/L$i"
                gzip -dc "$d/blob$i" | tar -x -C "$d/L$i"
                i=$((i + 1))
            done
            ;;
        floor-pipe)
            curl -sf -H "Accept: $BENCH_ACCEPT" -o "$d/manifest" \
                "http://$BENCH_REGISTRY/v2/$BENCH_REPO/manifests/$BENCH_TAG"
            floor_fetch_config "$d" &
            local i=0 dg
            for dg in $(floor_layers); do
                mkdir "$d/L$i"
                (curl -sf "$(blob_url "$dg")" | tee "$d/blob$i" | gzip -dc | tar -x -C "$d/L$i") &
                i=$((i + 1))
            done
            wait_all
            ;;
        *) die "no run step for $tool" ;;
        esac
        ;;
    *) die "unknown internal mode $mode" ;;
    esac
}

die() {
    echo "pull.sh: $*" >&2
    exit 1
}

if [[ ${1:-} == __internal ]]; then
    shift
    internal "$@"
    exit 0
fi

# ---------------------------------------------------------------- options
RUNS=5
FS=tmpfs
IMAGE=127.0.0.1:5000/large:latest
HULL="$REPO_ROOT/target/release/hull"
while getopts "n:f:i:b:h" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    f) FS=$OPTARG ;;
    i) IMAGE=$OPTARG ;;
    b) HULL=$OPTARG ;;
    h) sed -n '2,12p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$RUNS" -n
check_fs
[[ $(id -u) == 0 ]] || die "run as root (mount, loop devices, podman storage)"
[[ -x $HULL ]] || die "no hull binary at $HULL; run: cargo build --release"
for t in skopeo umoci podman curl jq gzip tar findmnt /usr/bin/time; do
    command -v "$t" >/dev/null || die "missing $t"
done

REGISTRY=${IMAGE%%/*}
rest=${IMAGE#*/}
REPO=${rest%%:*}
TAG=${rest##*:}
[[ $REPO != "$rest" ]] || TAG=latest
case $REGISTRY in 127.* | localhost:*) ;; *) die "only loopback registries: $REGISTRY" ;; esac

# ---------------------------------------------------------------- scratch filesystem
WORK=$(mktemp -d /tmp/hull-bench.XXXXXX)
MOUNTED=0
cleanup() {
    local rc=$?
    set +e
    if ((MOUNTED)); then
        reset_dir "$WORK/podman" 2>/dev/null
    fi
    # anything still mounted below WORK, deepest first, then WORK itself
    unmount_scratch
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_scratch 6g 8G hull-bench -O ^metadata_csum
if [[ $FS == tmpfs ]]; then FS_DESC+=" (no page cache to drop)"; fi
mkdir -p "$WORK/tmp" "$WORK/results"
export TMPDIR=$WORK/tmp # skopeo/podman put big temporary files under TMPDIR, not /var/tmp

export BENCH_WORK=$WORK BENCH_FS=$FS BENCH_REGISTRY=$REGISTRY BENCH_REPO=$REPO BENCH_TAG=$TAG
export BENCH_ACCEPT="application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json"

echo "== hull pull benchmark: $IMAGE, $RUNS cold runs per tool"
echo "filesystem: $FS_DESC at $WORK"
echo "machine:    $(nproc) cores, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "hull:       $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "peers:      $(skopeo --version); $(umoci --version); $(podman --version)"

# ---------------------------------------------------------------- warm the registry (unmeasured)
curl -sf -H "Accept: $BENCH_ACCEPT" -o "$WORK/manifest.json" \
    "http://$REGISTRY/v2/$REPO/manifests/$TAG" || die "cannot fetch the manifest of $IMAGE"
jq -e '.layers | length > 0' "$WORK/manifest.json" >/dev/null ||
    die "$IMAGE is not a single-platform manifest"
NLAYERS=$(jq '.layers | length' "$WORK/manifest.json")
COMPRESSED=$(jq '[.layers[].size] | add' "$WORK/manifest.json")
for dg in $(jq -r '.config.digest, .layers[].digest' "$WORK/manifest.json"); do
    curl -sf -o /dev/null "http://$REGISTRY/v2/$REPO/blobs/$dg" &
done
wait_all || die "warm-up fetch failed"
echo "image:      $NLAYERS layers, $COMPRESSED bytes compressed; registry warmed (all blobs read once)"

# ---------------------------------------------------------------- podman storage driver
pick_podman_driver "$REGISTRY/busybox:latest"
echo "podman:     storage driver $PODMAN_DRIVER"
PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver $PODMAN_DRIVER --events-backend none --cgroup-manager cgroupfs"

# ---------------------------------------------------------------- tree fingerprints
# One line per entry: path, type, and size for regular files.  Layered stores list every layer
# directory; `sort -u` then gives the merged tree (valid because the image has no whiteouts).
list_tree() {
    local d
    for d in "$@"; do
        (cd "$d" && find . -mindepth 1 \( -type f -printf '%P\tf\t%s\n' \) -o \( ! -type f -printf '%P\t%y\t-\n' \))
    done | sort -u
}

fingerprint() { # tool -> prints "entries sha256"
    local tool=$1 d=$WORK/$1 dirs=()
    case $tool in
    hull) dirs=("$d"/layers/*/diff) ;;
    skopeo+umoci) dirs=("$d/bundle/rootfs") ;;
    podman)
        if [[ $PODMAN_DRIVER == overlay ]]; then dirs=("$d"/root/overlay/*/diff); else dirs=("$d"/root/vfs/dir/*); fi
        ;;
    floor-*) dirs=("$d"/L*) ;;
    esac
    list_tree "${dirs[@]}" >"$WORK/results/$tool.tree"
    echo "$(wc -l <"$WORK/results/$tool.tree") $(sha256sum <"$WORK/results/$tool.tree" | cut -c1-16)"
}

# ---------------------------------------------------------------- measure
TOOLS=(hull skopeo+umoci podman floor-par floor-seq floor-pipe)
[[ $FS == ext4 ]] && TOOLS+=(floor-par+sync)

command_for() {
    local d=$WORK/$1
    case $1 in
    hull) echo "'$HULL' --root '$d' pull -q '$IMAGE' >/dev/null" ;;
    skopeo+umoci)
        echo "skopeo copy -q --src-tls-verify=false 'docker://$IMAGE' 'oci:$d/oci:large' && umoci unpack --image '$d/oci:large' '$d/bundle' >/dev/null"
        ;;
    podman) echo "$PODMAN pull -q --tls-verify=false '$IMAGE' >/dev/null" ;;
    floor-*) echo "'$SELF' __internal run $1" ;;
    esac
}

# Runs are interleaved (round r visits every tool, starting one tool later each round), so that
# background load on a shared machine spreads evenly over the tools instead of hitting one.
# /usr/bin/time gives wall time (10 ms resolution), user and system CPU seconds, and peak RSS (of
# the largest single process, not the sum of a pipeline).
run_once() { # tool -> appends "wall user sys maxrss_kb" to results/tool.times
    local tool=$1
    "$SELF" __internal prepare "$tool"
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/results/$tool.time1" \
        bash -c "$(command_for "$tool")" >"$WORK/results/$tool.log" 2>&1 ||
        { cat "$WORK/results/$tool.log"; die "$tool failed"; }
    tail -1 "$WORK/results/$tool.time1" >>"$WORK/results/$tool.times"
}

declare -A FP
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < RUNS; r++)); do
    printf 'round %d/%d:' $((r + 1)) "$RUNS"
    for ((k = 0; k < ${#TOOLS[@]}; k++)); do
        tool=${TOOLS[(r + k) % ${#TOOLS[@]}]}
        run_once "$tool"
        printf ' %s=%ss' "$tool" "$(cut -d' ' -f1 <"$WORK/results/$tool.time1")"
        if ((r == RUNS - 1)); then FP[$tool]=$(fingerprint "$tool"); fi
        reset_dir "$WORK/$tool" # keep RAM use flat
    done
    echo
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report
ref=${FP[hull]}
mismatch=0
for tool in "${TOOLS[@]}"; do
    echo "tree $tool: ${FP[$tool]% *} entries, fingerprint ${FP[$tool]#* }"
    if [[ ${FP[$tool]} != "$ref" ]]; then
        echo "!! $tool produced a different tree from hull"
        mismatch=1
    fi
done
((mismatch)) || echo "trees: all tools produced the same ${ref% *}-entry tree"

echo
$PY - "$WORK/results" "$FS" "$PODMAN_DRIVER" "${TOOLS[@]}" <<'EOF'
import statistics, sys
results, fs, driver, tools = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
stats = {}
for t in tools:
    rows = [list(map(float, l.split())) for l in open(f"{results}/{t}.times") if l.strip()]
    wall = [r[0] for r in rows]
    cpu = [r[1] + r[2] for r in rows]
    rss = max(r[3] for r in rows)
    stats[t] = (statistics.median(wall), min(wall), max(wall), statistics.median(cpu), rss)
hull = stats["hull"][0]
floor = stats["floor-par"][0]
label = {"podman": f"podman ({driver})"}
print(f"{'tool':<20}{'median s':>9}{'min s':>8}{'max s':>8}{'cpu s':>8}{'peak RSS':>10}"
      f"{'hull/tool':>11}")
for t in tools:
    med, lo, hi, cpu, rss = stats[t]
    print(f"{label.get(t, t):<20}{med:>9.2f}{lo:>8.2f}{hi:>8.2f}{cpu:>8.2f}{rss / 1024:>8.1f}Mi"
          f"{hull / med:>11.2f}")
print("(cpu s = median user+sys CPU seconds of all processes; peak RSS = largest single process)")
print()
peers = [t for t in tools if not t.startswith("floor") and t != "hull"]
beats = all(hull < stats[p][0] for p in peers)
print(f"filesystem: {fs}; hull peak RSS {stats['hull'][4] / 1024:.1f} MiB")
print(f"target 1: hull faster than every peer (median wall): {'MET' if beats else 'NOT MET'}")
print(f"target 2: hull within 1.3x of floor-par (median wall): {hull / floor:.2f}x "
      f"{'MET' if hull / floor <= 1.3 else 'NOT MET'}")
EOF
exit $mismatch
