#!/usr/bin/env bash
# podman with hull as its OCI runtime (`podman --runtime <hull-runtime>`), on a private store
# (temp --root/--runroot, cgroupfs manager, file events logger) and the local fixture registry:
#   run --rm echo ok                   output and exit code
#   run -d, stop, rm                   a detached container
#   run -it through a pty              (script(1) from util-linux gives podman a terminal)
#   exec                               only when `hull-runtime exec` exists (else SKIP)
#   the same container under crun      mounts, capabilities, seccomp, cgroup, limits: equal
# Needs root, podman (apt) and `scripts/fixtures start`. Removes its store and containers.
#   tests/e2e/podman.sh [path/to/hull]     (default: target/debug/hull)
set -euo pipefail
cd "$(dirname "$0")/../.."
HULL=$(realpath "${1:-target/debug/hull}")
IMAGE=127.0.0.1:5000/busybox:latest
pass=0 fail=0 skip=0

command -v podman >/dev/null || { echo "podman.sh: podman is not installed" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "podman.sh: needs root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hull-podman.XXXXXX)
mkdir -p "$tmp/bin"
ln -s "$HULL" "$tmp/bin/hull-runtime"
RUNTIME=$tmp/bin/hull-runtime
p() {
  podman --root "$tmp/root" --runroot "$tmp/runroot" --runtime "$RUNTIME" \
    --cgroup-manager cgroupfs --events-backend file --storage-driver vfs "$@"
}
cleanup() {
  set +e
  p rm -af -t 0 >/dev/null 2>&1
  p system reset -f >/dev/null 2>&1
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$tmp"
  # podman's cgroupfs manager leaves its shared parent (and conmon's) behind when empty.
  rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
}
trap cleanup EXIT

# podman raises RLIMIT_NOFILE and RLIMIT_NPROC to 1048576 unless told; this host's hard limit is lower and root
# lacks CAP_SYS_RESOURCE, so any runtime (crun too) fails that setrlimit.
RUNFLAGS="--network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096"

check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok: $1"; pass=$((pass + 1))
  else
    echo "FAIL: $1: expected [$2], got [$3]"; fail=$((fail + 1))
  fi
}

p pull -q --tls-verify=false "$IMAGE" >/dev/null

out=$(p run --rm $RUNFLAGS "$IMAGE" echo ok 2>&1) || true
check "podman run --rm echo ok" "ok" "$out"
set +e
p run --rm $RUNFLAGS "$IMAGE" sh -c 'exit 5' >/dev/null 2>&1
code=$?
set -e
check "podman run exit code" "5" "$code"

p run -d --name hull-detached $RUNFLAGS "$IMAGE" \
  sh -c 'echo started; trap "exit 0" TERM; while true; do sleep 0.1; done' >/dev/null
for _ in $(seq 100); do p logs hull-detached 2>/dev/null | grep -q started && break; sleep 0.1; done
check "run -d logs" "started" "$(p logs hull-detached 2>&1 | head -n1)"
check "run -d running" "running" "$(p inspect -f '{{.State.Status}}' hull-detached)"
if "$RUNTIME" exec --help 2>&1 | grep -q -- --process; then
  check "podman exec" "exec-ok" "$(p exec hull-detached echo exec-ok 2>&1)"
else
  echo "SKIP: podman exec (hull-runtime exec does not exist yet)"; skip=$((skip + 1))
fi
p stop -t 5 hull-detached >/dev/null
check "stop" "exited" "$(p inspect -f '{{.State.Status}}' hull-detached)"
p rm hull-detached >/dev/null
check "rm" "" "$(p ps -aq)"

# -it: podman needs a terminal of its own; script(1) provides one and records it. Its stdin
# stays open for a while: an immediate EOF makes podman tear the session down, racing the output.
out=$(sleep 5 | script -qec "podman --root $tmp/root --runroot $tmp/runroot --runtime $RUNTIME \
  --cgroup-manager cgroupfs --events-backend file --storage-driver vfs \
  run --rm -it $RUNFLAGS $IMAGE sh -c 'test -t 0 && echo tty-yes'" /dev/null 2>&1) || true
check "run -it has a tty" "tty-yes" "$(printf '%s' "$out" | tr -d '\r' | grep tty | tail -n1)"

# The same containers under crun, podman's default runtime: what the program sees of its
# mounts, capabilities, seccomp, no_new_privs, cgroup and limits must match, on v1 and v2 alike.
# (Host-specific values that differ per container, such as ids and addresses, are left out.)
# hull bind-mounts the six default device nodes from the host (which also works in a user
# namespace; crates/runtime/src/devices.rs) where crun mknods them, so they are not compared.
view='cut -d" " -f5 /proc/self/mountinfo | grep -vxE "/dev/(null|zero|full|random|urandom|tty)" |
  sort | tr "\n" " "; echo
grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t " " "
cat /proc/self/cgroup
for f in memory.max pids.max cpu.max memory/memory.limit_in_bytes pids/pids.max \
         cpu/cpu.cfs_quota_us; do
  [ -r /sys/fs/cgroup/$f ] && echo "$f=$(cat /sys/fs/cgroup/$f)"
done; id'
LIMITS="--memory 64m --pids-limit 50 --cpus 0.5"
if command -v crun >/dev/null; then
  hull_view=$(p run --rm $RUNFLAGS $LIMITS "$IMAGE" sh -c "$view" 2>&1) || true
  crun_view=$(podman --root "$tmp/root" --runroot "$tmp/runroot" --runtime "$(command -v crun)" \
    --cgroup-manager cgroupfs --events-backend file --storage-driver vfs \
    run --rm $RUNFLAGS $LIMITS "$IMAGE" sh -c "$view" 2>&1) || true
  # Each container's cgroup path holds its own ID.
  hull_view=$(printf '%s' "$hull_view" | sed -E 's/[0-9a-f]{64}/ID/g')
  crun_view=$(printf '%s' "$crun_view" | sed -E 's/[0-9a-f]{64}/ID/g')
  if [ "${crun_view#Error:}" != "$crun_view" ]; then
    # crun refuses some hosts outright (a hybrid cgroup layout with controllers on v1).
    echo "SKIP: the comparison with crun (crun cannot run here: ${crun_view%%$'\n'*})"
    skip=$((skip + 1))
  else
    check "the container's view under hull-runtime is crun's" "$crun_view" "$hull_view"
  fi
  check "the limits are in that view" "yes" \
    "$(printf '%s' "$hull_view" | grep -qE '(pids.max|pids/pids.max)=50' && echo yes)"
else
  echo "SKIP: the comparison with crun (crun is not installed)"; skip=$((skip + 1))
fi

echo "podman: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
