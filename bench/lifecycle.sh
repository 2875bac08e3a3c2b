#!/usr/bin/env bash
# bench/lifecycle.sh — detached containers: start of N `run -d` (hull vs podman), `ps -a` over
# many records, the resident size of hull's monitor next to podman's conmon, and with a health
# check every second.
#
#   bench/lifecycle.sh [-n STARTS] [-p RECORDS] [-l LINES] [-r REPS] [-L] [-c SECONDS]
#                      [-f tmpfs|ext4]
#                      [-i IMAGE] [-b HULL_BINARY]
#
#   -n STARTS   detached containers started per tool (default 100)
#   -p RECORDS  container records `hull ps -a` lists (default 1000)
#   -l LINES    lines the log throughput part prints per container (default 3000000; 0 skips it)
#   -r REPS     rounds of the log throughput part (default 7): each round runs every workload
#               once per tool, the tools taking turns per workload, which goes first alternating
#   -L          only the log throughput part (no starts, no ps)
#   -c SECONDS  how long the health-check part's checks run before its measurement (default 60;
#               0 skips it; with -L it is skipped): bench/health.sh on this file system
#   -f FS       where every store lives: "tmpfs" (default; a tmpfs this script mounts) or "ext4"
#               (a journaled ext4 on a loop device backed by a sparse file in /var/tmp)
#   -i IMAGE    image (default 127.0.0.1:5000/busybox:latest; plain-HTTP registry)
#   -b PATH     hull binary (default: `cargo build --release -p hull`, once, then
#               target/release/hull)
#
# Starts: one start = `run -d IMAGE sleep 600` until the CLI returns (the container runs):
#   hull     hull --root R run -d --network none IMAGE sleep 600
#   podman   podman run -d --network none --ulimit nofile=… --ulimit nproc=… IMAGE sleep 600
#            (storage on the benchmark file system, cgroupfs manager, no events; the ulimits and
#            the mount namespace without /sys/fs/cgroup/unified are explained in bench/run.sh)
# The two tools alternate (start i of hull, then of podman; the next round podman first), so
# the load of this shared machine falls on both. Wall time is bash's $EPOCHREALTIME around each
# command. All 2×N containers run at once at the end; their monitors' (hull `__monitor`, podman's
# conmon) VmRSS and Pss (from /proc/PID/smaps_rollup) are read then, before the cleanup.
# ps: RECORDS records made with `hull create IMAGE true` (status Created; `ps` reads Created and
# Exited records alike, one container.json each), then `hull ps -a` timed 15 times.
# Logs (bench_logs): per tool, a container prints LINES lines of 2 bytes ("y"), another LINES/3
# lines of 100 bytes, into hull's json-file or podman's k8s-file (--log-driver k8s-file, conmon's
# own format). Two measures of each run: the span from the first entry's timestamp (both loggers
# stamp each read with the time it returned: the first read of output) to the log file's mtime
# (its last write), free of the start and stop of the container and of `podman wait`'s polling
# interval; and the wall
# time from `run -d` until it is gone (`wait`) and every line is in its log, less that of the
# same tool's run printing nothing in the same round. Per workload, the two tools' runs follow
# each other; ratios are of the medians over the rounds, with the range of the per-round ratios.
# Then `logs > /dev/null` is timed. With perf installed, more rounds measure the loggers' CPU
# time (log_cpu). The monitor's and conmon's RSS is sampled every 20 ms in a separate run.
set -euo pipefail
export LC_ALL=C

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
PY=/usr/bin/python3
# shellcheck source=bench/lib.sh
. "$REPO_ROOT/bench/lib.sh"

die() {
    echo "lifecycle.sh: $*" >&2
    exit 1
}

if [[ ${1:-} == __internal ]]; then # a command inside the podman mount namespace
    shift
    eval "$*"
    exit 0
fi

# ---------------------------------------------------------------- options
STARTS=100
RECORDS=1000
FS=tmpfs
IMAGE=127.0.0.1:5000/busybox:latest
HULL=""
LINES=3000000
LOG_REPS=7
LOGS_ONLY=0
CHECK_SECS=60
while getopts "n:p:l:r:Lc:f:i:b:h" opt; do
    case $opt in
    n) STARTS=$OPTARG ;;
    l) LINES=$OPTARG ;;
    r) LOG_REPS=$OPTARG ;;
    L) LOGS_ONLY=1 ;;
    c) CHECK_SECS=$OPTARG ;;
    p) RECORDS=$OPTARG ;;
    f) FS=$OPTARG ;;
    i) IMAGE=$OPTARG ;;
    b) HULL=$OPTARG ;;
    h) sed -n '2,22p' "$SELF"; exit 0 ;;
    *) exit 2 ;;
    esac
done
check_count "$STARTS" -n
check_count "$RECORDS" -p
check_count "$LOG_REPS" -r
[[ $LINES =~ ^[0-9]+$ ]] || die "-l wants a number"
[[ $CHECK_SECS =~ ^[0-9]+$ ]] || die "-c wants a number of seconds"
check_fs
[[ $(id -u) == 0 ]] || die "run as root (mounts, loop devices, cgroups)"
for t in podman conmon unshare nsenter findmnt; do
    command -v "$t" >/dev/null || die "missing $t (apt-get install -y podman)"
done
case ${IMAGE%%/*} in 127.* | localhost:*) ;; *) die "only loopback registries: $IMAGE" ;; esac
if [[ -z $HULL ]]; then
    (cd "$REPO_ROOT" && cargo build --release -q -p hull) || die "cargo build --release failed"
    HULL=$REPO_ROOT/target/release/hull
fi
[[ -x $HULL ]] || die "no hull binary at $HULL"

# ---------------------------------------------------------------- scratch filesystem
WORK=$(mktemp -d /tmp/hull-lifebench.XXXXXX)
MOUNTED=0
NS=""
cleanup() {
    local rc=$?
    set +e
    if ((MOUNTED)); then
        for id in $("$HULL" --root "$WORK/hull" ps -aq --no-trunc 2>/dev/null); do
            "$HULL" --root "$WORK/hull" rm -f "$id" >/dev/null 2>&1
        done
        [[ -n $NS ]] && nsenter --mount="$NS" bash -c "$PODMAN rm -f -a -t 0" >/dev/null 2>&1
    fi
    unmount_scratch
    # podman's cgroupfs manager leaves its shared parent (and conmon's) behind when empty
    rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_scratch 4g 8G hull-lifebench
mkdir -p "$WORK/results" "$WORK/tmp"
export TMPDIR=$WORK/tmp
PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver overlay --events-backend none --cgroup-manager cgroupfs"
H=("$HULL" --root "$WORK/hull")

echo "== hull lifecycle benchmark: $IMAGE, $STARTS detached starts per tool, ps over $RECORDS records"
echo "filesystem: $FS_DESC at $WORK"
echo "machine:    $(nproc) cores, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "hull:       $HULL ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "peers:      $(podman --version); $(conmon --version | head -1)"

# ---------------------------------------------------------------- setup (unmeasured)
"${H[@]}" pull -q "$IMAGE" >/dev/null || die "hull pull $IMAGE failed"
NS=$WORK/podman-mntns
touch "$NS"
unshare --mount="$NS" --propagation private umount /sys/fs/cgroup/unified ||
    die "cannot make the podman mount namespace"
in_ns() { nsenter --mount="$NS" "$SELF" __internal "$@"; }
in_ns "$PODMAN pull -q --tls-verify=false '$IMAGE' >/dev/null" || die "podman pull failed"

HULL_START="'$HULL' --root '$WORK/hull' run -d --network none '$IMAGE' sleep 600"
PODMAN_START="$PODMAN run -d --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 '$IMAGE' sleep 600"

start_hull() { eval "$HULL_START" </dev/null >"$WORK/results/hull.log" 2>&1; }
start_podman() { in_ns "$PODMAN_START" </dev/null >"$WORK/results/podman.log" 2>&1; }

# Starts one container with TOOL and appends the wall time (µs) to results/TOOL.us.
time_start() {
    local tool=$1 t0 t1
    t0=$EPOCHREALTIME
    "start_$tool" || { cat "$WORK/results/$tool.log" >&2; die "$tool run -d failed"; }
    t1=$EPOCHREALTIME
    echo $((${t1/./} - ${t0/./})) >>"$WORK/results/$tool.us"
}

if ((LOGS_ONLY == 0)); then # starts, monitor RSS and ps (one block, not indented)
for tool in hull podman; do # warm-up: one unmeasured start each, removed again
    "start_$tool" || { cat "$WORK/results/$tool.log" >&2; die "$tool run -d failed"; }
done
"${H[@]}" rm -f "$(tail -1 "$WORK/results/hull.log")" >/dev/null
in_ns "$PODMAN rm -f -t 0 $(tail -1 "$WORK/results/podman.log") >/dev/null"

# ---------------------------------------------------------------- starts
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < STARTS; i++)); do
    if ((i % 2 == 0)); then time_start hull; time_start podman; else time_start podman; time_start hull; fi
    ((i % 10 == 9)) && echo "  $((i + 1))/$STARTS started each"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- monitor RSS
# VmRSS and Pss (KiB) of every process whose command line matches, one "rss pss" line each.
memory_of() {
    local pattern=$1 pid
    for pid in $(pgrep -f -- "$pattern"); do
        [[ $(tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null) == *"$WORK"* ]] || continue
        echo "$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status) $(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)"
    done
}
memory_of "__monitor" >"$WORK/results/hull.mem"
memory_of "^/usr/bin/conmon|^conmon" >"$WORK/results/podman.mem"
echo "monitors:   $(wc -l <"$WORK/results/hull.mem") hull, $(wc -l <"$WORK/results/podman.mem") conmon"

# ---------------------------------------------------------------- cleanup of the starts
t0=$EPOCHREALTIME
"${H[@]}" rm -f $("${H[@]}" ps -aq --no-trunc) >/dev/null
t1=$EPOCHREALTIME
echo $((${t1/./} - ${t0/./})) >"$WORK/results/hull.rm"
t0=$EPOCHREALTIME
in_ns "$PODMAN rm -f -a -t 0 >/dev/null"
t1=$EPOCHREALTIME
echo $((${t1/./} - ${t0/./})) >"$WORK/results/podman.rm"

# ---------------------------------------------------------------- ps -a over many records
echo "creating $RECORDS records with hull create …"
for ((i = 0; i < RECORDS; i++)); do
    "${H[@]}" create "$IMAGE" true >/dev/null || die "hull create failed"
done
[[ $("${H[@]}" ps -aq | wc -l) == "$RECORDS" ]] || die "ps -a does not list $RECORDS records"
for ((i = 0; i < 15; i++)); do
    t0=$EPOCHREALTIME
    "${H[@]}" ps -a >/dev/null
    t1=$EPOCHREALTIME
    echo $((${t1/./} - ${t0/./})) >>"$WORK/results/ps.us"
done

# ---------------------------------------------------------------- report
echo
$PY - "$WORK/results" "$STARTS" "$RECORDS" <<'EOF'
import statistics, sys
res, n, records = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def us(name):
    return [int(l) for l in open(f"{res}/{name}") if l.strip()]
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]
st = {}
print(f"{'start (run -d)':<16}{'total s':>9}{'p50 ms':>9}{'p99 ms':>9}{'min ms':>9}{'max ms':>9}{'rm -f all s':>13}")
for t in ("hull", "podman"):
    v = us(f"{t}.us")
    st[t] = (sum(v) / 1e6, pct(v, 50) / 1e3, pct(v, 99) / 1e3)
    rm = us(f"{t}.rm")[0] / 1e6
    print(f"{t:<16}{sum(v) / 1e6:>9.2f}{pct(v, 50) / 1e3:>9.1f}{pct(v, 99) / 1e3:>9.1f}"
          f"{min(v) / 1e3:>9.1f}{max(v) / 1e3:>9.1f}{rm:>13.2f}")
h, p = st["hull"], st["podman"]
print(f"ratios hull/podman: total {h[0] / p[0]:.3f} ({p[0] / h[0]:.1f}x faster), "
      f"p50 {h[1] / p[1]:.3f}, p99 {h[2] / p[2]:.3f}")
print()
mem = {}
for t, label in (("hull", "hull monitor"), ("podman", "conmon")):
    rows = [tuple(map(int, l.split())) for l in open(f"{res}/{t}.mem") if l.strip()]
    if not rows:
        print(f"{label}: none found")
        continue
    rss = statistics.median(r[0] for r in rows)
    pss = statistics.median(r[1] for r in rows)
    mem[t] = (rss, pss)
    print(f"{label:<14} n={len(rows):<4} VmRSS median {rss / 1024:.2f} MiB (max {max(r[0] for r in rows) / 1024:.2f}), "
          f"Pss median {pss / 1024:.2f} MiB")
if len(mem) == 2:
    print(f"ratios hull/conmon: VmRSS {mem['hull'][0] / mem['podman'][0]:.2f}, "
          f"Pss {mem['hull'][1] / mem['podman'][1]:.2f}")
print()
v = us("ps.us")
print(f"hull ps -a over {records} records: median {statistics.median(v) / 1e3:.1f} ms, "
      f"min {min(v) / 1e3:.1f}, max {max(v) / 1e3:.1f} (15 runs); "
      f"target < 100 ms: {'MET' if statistics.median(v) < 100e3 else 'NOT MET'}")
EOF
fi

# ---------------------------------------------------------------- log throughput
# The resident size of every monitor (hull `__monitor`) and conmon under $WORK, sampled every
# 20 ms until results/sampling is removed: "pid µs-since-epoch VmRSS VmHWM" (KiB) lines in
# results/TOOL.rss.
sample_rss() {
    local pid tool
    while [[ -e $WORK/results/sampling ]]; do
        for pid in $(pgrep -f -- "__monitor|^/usr/bin/conmon|^conmon"); do
            [[ $(tr '\0' ' ' 2>/dev/null </proc/"$pid"/cmdline) == *"$WORK"* ]] || continue
            tool=hull
            [[ $(cat /proc/"$pid"/comm 2>/dev/null) == conmon ]] && tool=podman
            awk -v p="$pid" -v t="${EPOCHREALTIME/./}" '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2}
                END {if (r) print p, t, r, h}' /proc/"$pid"/status 2>/dev/null >>"$WORK/results/$tool.rss"
        done
        sleep 0.02
    done
}

# log_run TOOL NAME COUNT WIDTH [PAUSE]: a container printing COUNT lines of WIDTH bytes (the newline
# included), timed until it is gone and all COUNT lines are in its log; appends "NAME µs
# log_bytes first_time end" (the first entry's timestamp, "-" without entries, and the log's
# mtime in seconds since the epoch) to results/TOOL.logrun and prints the container's ID. The container writes 1 MB of such lines
# to a file, then `cat`s it COUNT/lines-per-MB times (busybox's `yes | head` alone runs at
# about the rate of the loggers, so it would time itself); with COUNT 0 it only writes the
# file, which the report subtracts. With PAUSE it sleeps PAUSE seconds before and after (for
# the resident size while idle, printing, and after).
log_run() {
    local tool=$1 name=$2 count=$3 width=$4 pause=${5:-0} word id log t0 t1 per first end
    word=$(printf "%$((width - 1))s" "" | tr ' ' y)
    per=$((1000000 / width))
    local cmd="yes $word | head -n $per >/f; i=0; while [ \$i -lt $((count / per)) ]; do cat /f; i=\$((i + 1)); done"
    ((pause == 0)) || cmd="sleep $pause; $cmd; sleep $pause"
    t0=$EPOCHREALTIME
    if [[ $tool == hull ]]; then
        id=$("${H[@]}" run -d --network none "$IMAGE" sh -c "$cmd") || die "hull run -d failed"
        "${H[@]}" wait "$id" >/dev/null
        log=$WORK/hull/containers/$id/$id-json.log
    else
        id=$(in_ns "$PODMAN run -d --network none --log-driver k8s-file --ulimit nofile=20000:20000 \
            --ulimit nproc=32768:32768 '$IMAGE' sh -c '$cmd'") || die "podman run -d failed"
        in_ns "$PODMAN wait $id >/dev/null"
        log=$(in_ns "$PODMAN inspect --format '{{.HostConfig.LogConfig.Path}}' $id")
    fi
    t1=$EPOCHREALTIME
    # Every line in the log: checked once, then polled (the time is that of the check that
    # found them all).
    until (($(wc -l <"$log") >= count)); do
        t1=$EPOCHREALTIME
        ((${t1/./} - ${t0/./} < 120000000)) || die "$tool: $count lines not in $log after 120 s"
        sleep 0.01
    done
    first=$(head -n 1 "$log" | entry_time "$tool")
    end=$(stat -c %.9Y "$log")
    echo "$name $((${t1/./} - ${t0/./})) $(stat -c %s "$log") ${first:--} $end" >>"$WORK/results/$tool.logrun"
    echo "$id"
}

# entry_time TOOL: the timestamp of the log entry on stdin (json-file's "time", k8s-file's
# first field).
entry_time() {
    if [[ $1 == hull ]]; then
        sed -n 's/.*"time":"\([^"]*\)"}$/\1/p'
    else
        cut -d' ' -f1
    fi
}

# log_cpu TOOL NAME COUNT WIDTH: log_run's run again, under `perf record -a -e task-clock -c
# 100000` (one sample per 100 µs a CPU spends in a task); appends "NAME ms" to results/TOOL.logcpu:
# the CPU time of the logger (conmon; for hull, its process with the most samples, the
# monitor), which the load of this shared machine does not stretch as it does wall time.
log_cpu() {
    local tool=$1 name=$2 count=$3 width=$4 comm=conmon perf_pid id
    [[ $tool == hull ]] && comm=$(basename "$HULL" | cut -c1-15)
    perf record -q -a -e task-clock -c 100000 -o "$WORK/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5 # perf opens its events
    id=$(log_run "$tool" "$name-cpu" "$count" "$width")
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    perf report -i "$WORK/perf.data" --sort pid,comm -n --stdio -g none 2>/dev/null |
        awk -v c="$comm" -v n="$name" '$4 == c && !found {print n, $2 / 10; found = 1}' \
            >>"$WORK/results/$tool.logcpu"
    log_rm "$tool" "$id"
}

# log_read TOOL NAME ID: `logs ID > /dev/null` timed; appends "NAME µs" to results/TOOL.logread.
log_read() {
    local tool=$1 name=$2 id=$3 t0 t1
    t0=$EPOCHREALTIME
    if [[ $tool == hull ]]; then
        "${H[@]}" logs "$id" >/dev/null 2>&1 || die "hull logs failed"
    else
        in_ns "$PODMAN logs $id >/dev/null 2>&1" || die "podman logs failed"
    fi
    t1=$EPOCHREALTIME
    echo "$name $((${t1/./} - ${t0/./}))" >>"$WORK/results/$tool.logread"
}

# log_rm TOOL ID: removes the container.
log_rm() {
    if [[ $1 == hull ]]; then
        "${H[@]}" rm -f "$2" >/dev/null
    else
        in_ns "$PODMAN rm -f $2 >/dev/null"
    fi
}

# bench_logs: the log throughput part (see the header), hull and podman side by side.
bench_logs() {
    local long=$((LINES / 3 / 10000 * 10000)) short=$((LINES / 500000 * 500000)) tool id spec n count width sampler
    echo
    ((short > 0 && long > 0)) || die "-l wants at least 1500000 lines"
    echo "== log throughput: $short lines of 2 bytes, $long lines of 100 bytes, $LOG_REPS runs each per tool"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    local rep first second
    for ((rep = 0; rep < LOG_REPS; rep++)); do
        first=hull second=podman
        ((rep % 2)) && first=podman second=hull
        for spec in empty:0:2 short:$short:2 long:$long:100; do
            IFS=: read -r n count width <<<"$spec"
            for tool in $first $second; do
                id=$(log_run "$tool" "$n" "$count" "$width")
                [[ $n == empty ]] || log_read "$tool" "$n" "$id"
                log_rm "$tool" "$id"
            done
        done
    done
    if command -v perf >/dev/null; then # the loggers' CPU time, in rounds of their own
        for ((rep = 0; rep < LOG_REPS; rep++)); do
            first=hull second=podman
            ((rep % 2)) && first=podman second=hull
            for spec in short:$short:2 long:$long:100; do
                IFS=: read -r n count width <<<"$spec"
                for tool in $first $second; do log_cpu "$tool" "$n" "$count" "$width"; done
            done
        done
    else
        echo "skipped: the loggers' CPU time (no perf: apt-get install -y linux-perf)"
    fi
    # Resident size: idle 1 s, 3 times the long workload, idle 1 s, sampled throughout.
    touch "$WORK/results/sampling"
    sample_rss &
    sampler=$!
    for tool in hull podman; do
        log_rm "$tool" "$(log_run "$tool" rss $((long * 3)) 100 1)"
    done
    rm -f "$WORK/results/sampling"
    wait "$sampler"
    echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
    $PY - "$WORK/results" "$short" "$long" <<'EOF'
import re, statistics, sys
from datetime import datetime, timezone
res, lines, long = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def epoch_ns(stamp):
    """RFC 3339 with up to 9 digits of fraction (json-file's Z, conmon's +HH:MM) → ns."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", stamp)
    if not m:
        return None
    tz = "+00:00" if m[3] == "Z" else m[3]
    secs = datetime.fromisoformat(m[1] + tz).astimezone(timezone.utc).timestamp()
    return int(secs) * 10**9 + int((m[2] or "0").ljust(9, "0"))
def runs(name):
    """Per run name, the rounds in order: (wall µs, log bytes, timestamp span µs or None)."""
    out = {}
    for l in open(f"{res}/{name}"):
        f = l.split()
        if not f:
            continue
        a, b = epoch_ns(f[3]) if f[3] != "-" else None, float(f[4]) * 1e9
        span = (b - a) / 1e3 if a is not None else None
        out.setdefault(f[0], []).append((int(f[1]), int(f[2]), span))
    return out
def reads(name):
    out = {}
    for l in open(f"{res}/{name}"):
        if l.strip():
            out.setdefault(l.split()[0], []).append(float(l.split()[1]))
    return out
med = statistics.median
raw = {"short": lines * 2, "long": long * 100}
count = {"short": lines, "long": long}
run = {t: runs(f"{t}.logrun") for t in ("hull", "podman")}
read = {t: reads(f"{t}.logread") for t in ("hull", "podman")}
# Per tool and workload, per round: the timestamp span and the wall time less the round's empty run.
span, net = {}, {}
for t in ("hull", "podman"):
    empty = [r[0] for r in run[t]["empty"]]
    for w in ("short", "long"):
        span[t, w] = [max(r[2], 1) / 1e6 for r in run[t][w]]
        net[t, w] = [max(r[0] - e, 1) / 1e6 for r, e in zip(run[t][w], empty)]
rounds = len(run["hull"]["empty"])
print(f"{rounds} rounds; medians, [min–max] over the rounds")
print(f"{'':<8}{'workload':<10}{'span s':>18}{'output MB/s':>13}{'lines/s':>10}{'wall−empty s':>20}"
      f"{'log MB':>8}{'logs s':>8}{'log MB/s':>10}")
rng = lambda v: f"[{min(v):.2f}–{max(v):.2f}]"
for t in ("hull", "podman"):
    for w in ("short", "long"):
        sp, nt = span[t, w], net[t, w]
        size = med(r[1] for r in run[t][w])
        rd = med(read[t][w]) / 1e6
        print(f"{t:<8}{w:<10}{med(sp):>6.3f} {rng(sp):>11}{raw[w] / med(sp) / 1e6:>13.0f}"
              f"{count[w] / med(sp) / 1e6:>9.1f}M{med(nt):>7.3f} {rng(nt):>12}"
              f"{size / 1e6:>8.1f}{rd:>8.2f}{size / rd / 1e6:>10.0f}")
    e = [r[0] / 1e6 for r in run[t]["empty"]]
    print(f"{t:<8}{'empty':<10}wall {med(e):.2f} s {rng(e)} (run -d + wait printing nothing: subtracted per round)")
for w in ("short", "long"):
    for label, m in (("span", span), ("wall−empty", net)):
        h, p = m["hull", w], m["podman", w]
        per = [b / a for a, b in zip(h, p)]
        print(f"ratio {w:<5} {label:<10}: hull ingests at {med(p) / med(h):.2f}x conmon's rate "
              f"(ratio of medians; per-round ratios {min(per):.2f}–{max(per):.2f}, median {med(per):.2f})")
    try:
        cpu = {t: reads(f"{t}.logcpu").get(w, []) for t in ("hull", "podman")}
    except FileNotFoundError:
        cpu = {}
    if cpu and cpu["hull"] and cpu["podman"]:
        h, p = cpu["hull"], cpu["podman"]
        per = [b / a for a, b in zip(h, p)]
        print(f"ratio {w:<5} CPU time  : hull's monitor {med(h):.0f} ms [{min(h):.0f}–{max(h):.0f}], "
              f"conmon {med(p):.0f} ms [{min(p):.0f}–{max(p):.0f}]: {med(p) / med(h):.2f}x less CPU "
              f"(per-round ratios {min(per):.2f}–{max(per):.2f})")
    rh, rp = med(read["hull"][w]), med(read["podman"][w])
    print(f"ratio {w:<5} logs      : hull logs reads {rp / rh:.2f}x as fast as podman logs")
# Resident size in the rss run: idle from 0.4 s to 0.9 s after the monitor was first seen (its
# setup peaks higher before, see "Monitor footprint"), the max while printing, and after the
# output: 0.8 s to 0.3 s before the monitor was last seen, in the trailing sleep (its teardown
# after the container's exit faults teardown code in, and is left out).
for t, label in (("hull", "hull monitor"), ("podman", "conmon")):
    try:
        rows_ = [tuple(map(int, l.split())) for l in open(f"{res}/{t}.rss") if l.strip()]
    except FileNotFoundError:
        rows_ = []
    if not rows_:
        print(f"{label}: not sampled")
        continue
    start, end = min(r[1] for r in rows_), max(r[1] for r in rows_)
    idle = [r[2] for r in rows_ if 400_000 <= r[1] - start < 900_000]
    busy = [r[2] for r in rows_ if r[1] - start >= 400_000 and end - r[1] >= 300_000]
    after = [r[2] for r in rows_ if 300_000 <= end - r[1] < 800_000]
    mib = lambda v: f"{statistics.median(v) / 1024:.2f}" if v else "-"
    print(f"{label:<14} VmRSS MiB: idle {mib(idle)}, max while printing {max(busy, default=0) / 1024:.2f}, "
          f"after {mib(after)} ({len(rows_)} samples, {len({r[0] for r in rows_})} processes)")
EOF
}

((LINES == 0)) || bench_logs

# ---------------------------------------------------------------- monitor RSS with health checks
# Ten monitors with a check every second next to ten without, on this file system (see
# bench/health.sh; it removes what it made).
if ((LOGS_ONLY == 0 && CHECK_SECS > 0)); then
    echo
    "$REPO_ROOT/bench/health.sh" -n 10 -w "$CHECK_SECS" -d "$WORK" -i "$IMAGE" -b "$HULL" ||
        die "bench/health.sh failed"
fi
