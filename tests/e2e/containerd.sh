#!/usr/bin/env bash
# containerd with hull as its runc: starts a private containerd (temp root/state dirs, its own
# socket, CRI disabled), pulls busybox from the local fixture registry and runs tasks through
# the runc shim with `--runc-binary <hull-runtime>`:
#   ctr run --rm … echo ok            the output comes back
#   ctr run -d + task kill + task rm  a detached task, its log, and its exit
#   ctr task exec                     only when `hull-runtime exec --help` shows runc's
#                                     exec grammar (--process), else SKIP
# Needs root, containerd (apt) and `scripts/fixtures start`. Cleans up what it started (by PID).
#   tests/e2e/containerd.sh [path/to/hull]     (default: target/debug/hull)
set -euo pipefail
cd "$(dirname "$0")/../.."
HULL=$(realpath "${1:-target/debug/hull}")
IMAGE=127.0.0.1:5000/busybox:latest
pass=0 fail=0 skip=0

command -v containerd >/dev/null || { echo "containerd.sh: containerd is not installed" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "containerd.sh: needs root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hull-containerd.XXXXXX)
sock=$tmp/containerd.sock
ns=hull-e2e
cd_pid=
cleanup() {
  set +e
  if [ -S "$sock" ]; then
    for t in $(ctr -a "$sock" -n $ns tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n $ns tasks kill -s KILL "$t" >/dev/null 2>&1
      sleep 0.2
      ctr -a "$sock" -n $ns tasks rm -f "$t" >/dev/null 2>&1
    done
    for c in $(ctr -a "$sock" -n $ns containers ls -q 2>/dev/null); do
      ctr -a "$sock" -n $ns containers rm "$c" >/dev/null 2>&1
    done
  fi
  if [ -n "$cd_pid" ]; then
    kill "$cd_pid" 2>/dev/null
    wait "$cd_pid" 2>/dev/null
  fi
  # Mounts below our temp root (snapshots, shm of the shim) go before the directory.
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  if [ -n "${KEEP_LOG:-}" ]; then cp "$tmp/containerd.log" "$KEEP_LOG"; fi
  rm -rf "$tmp"
  # containerd puts a namespace's tasks below a cgroup named after it and leaves that parent.
  find /sys/fs/cgroup/*/"$ns" -depth -type d -exec rmdir {} + 2>/dev/null
}
trap cleanup EXIT

mkdir -p "$tmp/bin"
ln -s "$HULL" "$tmp/bin/hull-runtime"
# The shim runs hull-runtime through this wrapper, which records each call's exit status: the
# shim's own report of a dead shim's cleanup (`failed to remove runc container … exit status
# 255`) also shows up with runc itself, while the runtime had exited 0 — the status is lost
# in the shim (its child reaper), so the runtime's real statuses are checked here instead.
cat > "$tmp/bin/hull-runtime-logged" <<EOF
#!/bin/sh
"$tmp/bin/hull-runtime" "\$@"
rc=\$?
echo "\$rc \$*" >> "$tmp/runtime-calls.log"
exit \$rc
EOF
chmod +x "$tmp/bin/hull-runtime-logged"
RUNTIME=$tmp/bin/hull-runtime-logged

cat > "$tmp/config.toml" <<EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$sock.debug"
EOF
containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
cd_pid=$!
for _ in $(seq 100); do
  ctr -a "$sock" version >/dev/null 2>&1 && break
  sleep 0.1
done
ctr() { command ctr -a "$sock" -n $ns "$@"; }

check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok: $1"; pass=$((pass + 1))
  else
    echo "FAIL: $1: expected [$2], got [$3]"; fail=$((fail + 1))
  fi
}

ctr images pull --plain-http "$IMAGE" >/dev/null

# 1. foreground, --rm: the output and the exit code come back through the shim.
out=$(ctr run --rm --runc-binary "$RUNTIME" "$IMAGE" hull-echo echo ok 2>&1) || true
check "ctr run --rm echo ok" "ok" "$out"
set +e
ctr run --rm --runc-binary "$RUNTIME" "$IMAGE" hull-exit sh -c 'exit 3' >/dev/null 2>&1
code=$?
set -e
check "ctr run --rm exit code" "3" "$code"

# 2. detached with a log file, then kill and rm.
ctr run -d --log-uri "file://$tmp/detached.log" --runc-binary "$RUNTIME" "$IMAGE" hull-detached \
  sh -c 'echo started; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done' >/dev/null
for _ in $(seq 100); do grep -q started "$tmp/detached.log" 2>/dev/null && break; sleep 0.1; done
check "detached task logs" "started" "$(head -n1 "$tmp/detached.log" 2>/dev/null)"
status=$(ctr tasks ls | awk '$1 == "hull-detached" { print $3 }')
check "detached task running" "RUNNING" "$status"

# 3. exec, once hull-runtime has it.
if "$RUNTIME" exec --help 2>&1 | grep -q -- --process; then
  out=$(ctr tasks exec --exec-id e1 hull-detached echo exec-ok 2>&1) || true
  check "ctr task exec" "exec-ok" "$out"
else
  echo "SKIP: ctr task exec (hull-runtime exec does not exist yet)"; skip=$((skip + 1))
fi

ctr tasks kill -s TERM hull-detached
for _ in $(seq 100); do
  [ "$(ctr tasks ls | awk '$1 == "hull-detached" { print $3 }')" = STOPPED ] && break
  sleep 0.1
done
check "task kill TERM stops it" "STOPPED" "$(ctr tasks ls | awk '$1 == "hull-detached" { print $3 }')"
check "trap ran" "bye" "$(tail -n1 "$tmp/detached.log")"
ctr tasks rm hull-detached >/dev/null
ctr containers rm hull-detached
check "task removed" "" "$(ctr tasks ls -q)"

# 4. the systemd cgroup driver (kubeadm's SystemdCgroup = true), where systemd runs on cgroup v2:
# the task's cgroup is a scope in the given slice while it runs, and gone after rm.
if [ -d /run/systemd/system ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  scope=hulle2e-hull-sd.scope
  out=$(ctr run --rm --runc-binary "$RUNTIME" --runc-systemd-cgroup \
    --cgroup "hulle2e.slice:hulle2e:hull-sd" "$IMAGE" hull-sd echo sd-ok 2>&1) || true
  check "systemd cgroup: ctr run --rm" "sd-ok" "$out"
  check "systemd cgroup: the scope is gone after --rm" "" \
    "$(systemctl list-units --all --plain --no-legend "$scope" 2>/dev/null)"
  ctr run -d --runc-binary "$RUNTIME" --runc-systemd-cgroup --cgroup "hulle2e.slice:hulle2e:hull-sd2" \
    "$IMAGE" hull-sd2 sleep 1000 >/dev/null
  check "systemd cgroup: detached task's scope" "active yes" \
    "$(systemctl show -p ActiveState --value hulle2e-hull-sd2.scope) $(systemctl show -p Delegate --value hulle2e-hull-sd2.scope)"
  ctr tasks kill -s KILL hull-sd2
  for _ in $(seq 100); do
    [ "$(ctr tasks ls | awk '$1 == "hull-sd2" { print $3 }')" = STOPPED ] && break
    sleep 0.1
  done
  ctr tasks rm hull-sd2 >/dev/null
  ctr containers rm hull-sd2
  check "systemd cgroup: no scope after task rm" "" \
    "$(systemctl list-units --all --plain --no-legend hulle2e-hull-sd2.scope 2>/dev/null)"
  systemctl stop hulle2e.slice 2>/dev/null || true
else
  echo "SKIP: systemd cgroup driver (no systemd on cgroup v2 here)"; skip=$((skip + 1))
fi

# Every delete containerd's shim asked for (incl. --force on an already-deleted container
# when it cleans up after the shim) must succeed; print the shim's cleanup warnings anyway.
failed_deletes=$(awk '$1 != 0 && / delete /' "$tmp/runtime-calls.log" 2>/dev/null)
check "every hull-runtime delete exited 0" "" "$failed_deletes"
check "hull-runtime was called" "yes" "$([ -s "$tmp/runtime-calls.log" ] && echo yes)"
shim_warnings=$(grep -c 'failed to remove runc container' "$tmp/containerd.log" || true)
[ "$shim_warnings" -eq 0 ] ||
  echo "note: $shim_warnings shim-side 'failed to remove runc container' warnings (the runtime exited 0)"

if [ "$fail" -ne 0 ]; then
  echo "--- containerd log (tail)"; tail -n 30 "$tmp/containerd.log"
  echo "--- hull-runtime calls"; cat "$tmp/runtime-calls.log"
fi
echo "containerd: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
