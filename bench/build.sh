#!/usr/bin/env bash
# bench/build.sh — build benchmark: hull build vs. buildah bud and Docker's classic builder.
#
#   bench/build.sh [-n RUNS] [-f tmpfs|ext4] [-b HULL_BINARY] [-D]
#
#   -n RUNS   measured runs per tool and workload (default 3)
#   -f FS     where every store lives: "tmpfs" (default) or "ext4" (a journaled ext4 on a loop
#             device backed by a sparse file in /var/tmp)
#   -b PATH   hull binary (default target/release/hull; build it with `cargo build --release`)
#   -D        leave Debian's dockerd out even when it is installed
#
# The tools:
#   hull      hull build (one image per step, content-addressed step cache)
#   buildah   buildah bud --layers (so that it caches per step as well), chroot isolation, the
#             storage driver podman's probe picks on this file system (overlay, else vfs)
#   dockerd   DOCKER_BUILDKIT=0 docker build against a dockerd started for the run with its own
#             data root on the scratch file system (no iptables, no bridge), stopped at the end
# Every RUN uses the host's network (--network host for all three): dockerd runs without a
# bridge, and the apt step must reach Debian's mirror.
#
# Three workloads:
# 1. cold:   tests/fixtures/build/real (gcc from Debian's mirror in a bookworm stage, a static
#            C program, a busybox final stage) with the base images pulled but no build cache:
#            hull's and buildah's stores are restored from a copy made after the pulls, dockerd's
#            built images are removed. Includes apt's downloads from the mirror (the same for
#            all; interleaved rounds spread the mirror's variance over the tools).
# 2. change: the same build after one change to hello.c (a new comment line each run), cache
#            warm: only the steps after `COPY hello.c` may run. Each tool's last log is shown
#            with the steps that came from the cache.
# 3. noop:   a 15-instruction Dockerfile on busybox (COPY, RUN and config steps), built once
#            (unmeasured), then rebuilt unchanged. Target (issue 16): hull ≤ 50 ms.
# Targets (issue 16): cold ≤ 0.7× buildah's time; the change reruns only the steps after its
# COPY; the no-op rebuild ≤ 50 ms. Needs root (mount, loop devices, stores) and
# scripts/fixtures start (busybox and apps/redis:7 on 127.0.0.1:5000).
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
PY=/usr/bin/python3
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"

die() {
    echo "build.sh: $*" >&2
    exit 1
}

RUNS=3
FS=tmpfs
HULL="$REPO_ROOT/target/release/hull"
USE_DOCKERD=1
while getopts "n:f:b:Dh" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    f) FS=$OPTARG ;;
    b) HULL=$OPTARG ;;
    D) USE_DOCKERD=0 ;;
    h) sed -n '2,33p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$RUNS" -n
check_fs
[[ $(id -u) == 0 ]] || die "run as root (mount, loop devices, stores)"
[[ -x $HULL ]] || die "no hull binary at $HULL; run: cargo build --release"
HULL=$(realpath "$HULL")
for t in buildah podman curl findmnt; do
    command -v "$t" >/dev/null || die "missing $t (scripts/deps installs it)"
done
TOOLS=(hull buildah)
if ((USE_DOCKERD)) && command -v dockerd >/dev/null && command -v docker >/dev/null; then
    TOOLS+=(dockerd)
fi
REG=${HULL_TEST_REGISTRY:-127.0.0.1:5000}
curl -sf -o /dev/null "http://$REG/v2/apps/redis/manifests/7" ||
    die "the fixture registry $REG lacks apps/redis:7: run scripts/fixtures start"

# ---------------------------------------------------------------- scratch filesystem
WORK=$(mktemp -d /tmp/hull-bench-build.XXXXXX)
MOUNTED=0
DOCKERD_PID=""
cleanup() {
    local rc=$?
    set +e
    if [[ -n $DOCKERD_PID ]]; then
        kill "$DOCKERD_PID" 2>/dev/null
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    if ((MOUNTED)); then
        [[ -d $WORK/buildah ]] && $BUILDAH rm -a >/dev/null 2>&1
        reset_dir "$WORK/buildah" 2>/dev/null
        reset_dir "$WORK/docker" 2>/dev/null
    fi
    unmount_scratch
    exit $rc
}
BUILDAH=true
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_scratch 12g 24G hull-bench-build -O ^metadata_csum
mkdir -p "$WORK/tmp" "$WORK/results"
export TMPDIR=$WORK/tmp

# The contexts: the real build, and the 15-instruction one.
mkdir -p "$WORK/real" "$WORK/noop/src"
sed "s#@REGISTRY@#$REG#g" "$REPO_ROOT/tests/fixtures/build/real/Dockerfile" >"$WORK/real/Dockerfile"
cp "$REPO_ROOT/tests/fixtures/build/real/hello.c" "$WORK/real/hello.c"
for i in 1 2 3 4 5; do echo "file $i" >"$WORK/noop/src/f$i.txt"; done
cat >"$WORK/noop/Dockerfile" <<EOF
FROM $REG/busybox:latest
ARG VERSION=1.0
ENV APP_HOME=/app APP_VERSION=\$VERSION
LABEL org.example.name=noop org.example.version=\$VERSION
WORKDIR \$APP_HOME
COPY src/ ./src/
RUN cat src/*.txt > all.txt
COPY src/f1.txt /etc/noop.conf
RUN mkdir -p /var/lib/noop && chown 1000:1000 /var/lib/noop
ENV PATH=/app/bin:\$PATH
EXPOSE 8080
VOLUME /var/lib/noop
USER 1000
HEALTHCHECK --interval=30s CMD ["true"]
CMD ["cat", "/app/all.txt"]
EOF
[[ $(grep -c '^[A-Z]' "$WORK/noop/Dockerfile") == 15 ]] || die "the no-op Dockerfile is not 15 instructions"

echo "== hull build benchmark: $RUNS runs per tool and workload"
echo "filesystem: $FS_DESC at $WORK"
echo "machine:    $(nproc) cores, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "hull:       $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"

pick_podman_driver "$REG/busybox:latest"
BUILDAH="buildah --root $WORK/buildah/root --runroot $WORK/buildah/run --storage-driver $PODMAN_DRIVER"
H="$HULL --root $WORK/hull"
D() { DOCKER_HOST=unix://$WORK/docker.sock DOCKER_CONFIG=$WORK/docker-config DOCKER_BUILDKIT=0 docker "$@"; }

if [[ " ${TOOLS[*]} " == *" dockerd "* ]]; then
    dockerd --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" --pidfile "$WORK/docker.pid" \
        -H "unix://$WORK/docker.sock" --iptables=false --ip-masq=false --bridge=none \
        >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 300); do D version >/dev/null 2>&1 && break; sleep 0.1; done
    D version >/dev/null 2>&1 || die "dockerd never answered (log: $WORK/dockerd.log)"
fi
echo "peers:      $(buildah --version) ($PODMAN_DRIVER)${DOCKERD_PID:+, dockerd $(D version -f '{{.Server.Version}}') (classic builder)}"

# ---------------------------------------------------------------- setup (unmeasured)
echo "setup:      pulling the base images (unmeasured)"
for img in busybox:latest apps/redis:7; do
    $H pull -q "$REG/$img" >/dev/null
    $BUILDAH pull -q --tls-verify=false "$REG/$img" >/dev/null
    if [[ -n $DOCKERD_PID ]]; then D pull -q "$REG/$img" >/dev/null; fi
done
cp -a "$WORK/hull" "$WORK/hull.pristine"
cp -a "$WORK/buildah" "$WORK/buildah.pristine"

build_cmd() { # TOOL CONTEXT TAG
    case $1 in
    hull) echo "$H build --network host -t $3 $2" ;;
    buildah) echo "$BUILDAH bud --layers --isolation chroot --network host --tls-verify=false -t $3 $2" ;;
    dockerd) echo "D build --network host -t $3 $2" ;;
    esac
}

forget_builds() { # TOOL: back to the base images only
    case $1 in
    hull) rm -rf "$WORK/hull" && cp -a "$WORK/hull.pristine" "$WORK/hull" ;;
    buildah) reset_dir "$WORK/buildah" && cp -a "$WORK/buildah.pristine" "$WORK/buildah" ;;
    dockerd)
        D rmi -f bench/real bench/noop >/dev/null 2>&1 || true
        D image prune -f >/dev/null
        D builder prune -af >/dev/null 2>&1 || true
        ;;
    esac
    if [[ $FS == ext4 ]]; then sync; fi
}

timed() { # LABEL TOOL COMMAND: appends milliseconds to results/LABEL-TOOL.ms, log in .log
    local t0 t1
    t0=$(date +%s%N)
    bash -c "$(declare -f D); $3" >"$WORK/results/$1-$2.log" 2>&1 ||
        { tail -20 "$WORK/results/$1-$2.log"; die "$2: $1 build failed"; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >>"$WORK/results/$1-$2.ms"
}
export WORK

CHANGE=0
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < RUNS; r++)); do
    printf 'round %d/%d:' $((r + 1)) "$RUNS"
    for ((k = 0; k < ${#TOOLS[@]}; k++)); do
        tool=${TOOLS[(r + k) % ${#TOOLS[@]}]}
        forget_builds "$tool"
        cp "$REPO_ROOT/tests/fixtures/build/real/hello.c" "$WORK/real/hello.c"
        timed cold "$tool" "$(build_cmd "$tool" "$WORK/real" bench/real)"
        CHANGE=$((CHANGE + 1))
        echo "/* change $CHANGE */" >>"$WORK/real/hello.c"
        timed change "$tool" "$(build_cmd "$tool" "$WORK/real" bench/real)"
        bash -c "$(declare -f D); $(build_cmd "$tool" "$WORK/noop" bench/noop)" \
            >"$WORK/results/noop-first-$tool.log" 2>&1 ||
            { tail -20 "$WORK/results/noop-first-$tool.log"; die "$tool: the first noop build failed"; }
        timed noop "$tool" "$(build_cmd "$tool" "$WORK/noop" bench/noop)"
        printf ' %s=%s/%s/%sms' "$tool" "$(tail -1 "$WORK/results/cold-$tool.ms")" \
            "$(tail -1 "$WORK/results/change-$tool.ms")" "$(tail -1 "$WORK/results/noop-$tool.ms")"
    done
    echo
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(round lines: cold/change/noop milliseconds per tool)"

# The steps of the last change build, and whether each came from the cache.
echo
for tool in "${TOOLS[@]}"; do
    echo "change build, $tool: steps run (R) or from the cache (C)"
    awk '
        /^(Step|STEP) [0-9]+\/[0-9]+ ?:/ { if (s != "") print (c ? "  C " : "  R ") s; s = $0; c = 0; next }
        /Using cache/ { c = 1 }
        END { if (s != "") print (c ? "  C " : "  R ") s }
    ' "$WORK/results/change-$tool.log"
done
OUT=$($H run --rm bench/real)
echo "the built program says: $OUT"

echo
$PY - "$WORK/results" "$FS" "${TOOLS[@]}" <<'EOF'
import statistics, sys
results, fs, tools = sys.argv[1], sys.argv[2], sys.argv[3:]
med = {}
print(f"{'workload':<10}" + "".join(f"{t:>24}" for t in tools))
for w in ("cold", "change", "noop"):
    row = f"{w:<10}"
    for t in tools:
        ms = [int(l) for l in open(f"{results}/{w}-{t}.ms") if l.strip()]
        med[(w, t)] = statistics.median(ms)
        row += f"{med[(w, t)]:>10.0f} ms [{min(ms)}–{max(ms)}]".rjust(24)
    print(row)
print(f"filesystem: {fs}; medians [min–max]")
for w in ("cold", "change", "noop"):
    parts = [f"hull/{t} {med[(w, 'hull')] / med[(w, t)]:.2f}x" for t in tools if t != "hull"]
    print(f"ratio {w:<7} " + ", ".join(parts))
c = med[("cold", "hull")] / med[("cold", "buildah")]
n = med[("noop", "hull")]
print(f"target 1: cold build at most 0.7x buildah's time: {c:.2f}x {'MET' if c <= 0.7 else 'NOT MET'}")
import re
steps, cached = [], []
for line in open(f"{results}/change-hull.log"):
    m = re.match(r"(?:Step|STEP) \d+/\d+ ?: ?(.*)", line)
    if m:
        steps.append(m.group(1)); cached.append(False)
    elif "Using cache" in line and steps:
        cached[-1] = True
copy = next(i for i, s in enumerate(steps) if s.startswith("COPY hello.c"))
# Every step before the COPY from the cache, the COPY and the RUN after it run again; later
# steps may hit the cache when what they start from comes out the same (an identical binary).
before = all(cached[i] for i in range(copy) if not steps[i].startswith("FROM"))
ok = before and not cached[copy] and not cached[copy + 1]
print(f"target 2: the change reruns only the steps after its COPY (hull): {'MET' if ok else 'NOT MET'}")
print(f"target 3: no-op rebuild of 15 instructions at most 50 ms: {n:.0f} ms {'MET' if n <= 50 else 'NOT MET'}")
EOF
