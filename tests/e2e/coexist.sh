#!/usr/bin/env bash
# hull beside a real dockerd (Debian's docker.io) and a real podman, in both orders, and under a
# hardened nftables ruleset (issue 10, section 4). Every phase checks a hull container's egress,
# DNS and a published port reached from another network namespace:
#   hull first, then dockerd    dockerd starts as at boot (ip_forward=0 first), so it sets the
#                               FORWARD policy to DROP while hull's container runs
#   dockerd first, then hull    hull's accepts go into DOCKER-USER and leave with hull's bridge;
#                               Docker's own container keeps egress and its published port;
#                               stopping dockerd leaves hull's networking intact
#   hull first, then podman     podman's default network (podman0, 10.88.0.0/16) beside hull's;
#                               a hull store still on 10.88.0.0/16 moves, saying so in one line;
#                               a user network inside 10.88/16 fails naming podman0
#   podman first, then hull
#   inet filter forward policy drop (a table of the test's own)
# "Outside" is a network namespace reached through a veth with TEST-NET-2 addresses, serving
# HTTP (busybox httpd) and DNS (a few lines of python); no traffic leaves the machine.
# Needs root, docker.io, podman, busybox, curl, python3 and `scripts/fixtures start`. It undoes what it
# and the peers did, even when it fails: containers, dockerd and its containerd (by PID),
# docker0, podman0, the DOCKER*/NETAVARK* chains and rules, the FORWARD policy, ip_forward,
# the namespace and its veth, and iptables-nft tables that were not there before.
#   tests/e2e/coexist.sh [path/to/hull]     (default: target/debug/hull)
set -uo pipefail
cd "$(dirname "$0")/../.."
HULL=$(realpath "${1:-target/debug/hull}")
IMAGE=${HULL_TEST_REGISTRY:-127.0.0.1:5000}/busybox:latest
ARCHIVE=${HULL_TEST_DOCKER_ARCHIVE:-/var/tmp/hull-fixtures/archives/busybox-docker.tar}
pass=0 fail=0 skip=0

[ "$(id -u)" -eq 0 ] || { echo "coexist.sh: needs root" >&2; exit 1; }
for tool in dockerd podman runc busybox curl python3 iptables nft; do
  command -v "$tool" >/dev/null || { echo "coexist.sh: $tool is not installed" >&2; exit 1; }
done
DOCKER=/usr/bin/docker # docker.io's own client, of the daemon's version

tmp=$(mktemp -d /tmp/hull-coexist.XXXXXX)
NS=hcx-world-$$
HOST_IP=198.51.100.1 WORLD_IP=198.51.100.2 NAME_IP=198.51.100.77
WORLD_NAME=world.coexist.test
fwd0=$(cat /proc/sys/net/ipv4/ip_forward)
policy0=$(iptables -w -S FORWARD | awk '$1 == "-P" { print $3 }')
tables0=$(nft list tables)
# Host paths the peers create whatever their roots: dockerd's cgroup parents, its containerd's
# shim socket dir and plugin dir, netavark's IPAM database, podman's blob cache. Removed after
# if not there before, deepest first.
peer_dirs() {
  ls -d /sys/fs/cgroup/*/docker /run/containerd/s /run/containerd /run/docker/plugins \
    /run/docker /run/containers/networks /run/containers /var/lib/containers/cache \
    /var/lib/containers 2>/dev/null | sort -r
}
dirs0=$(peer_dirs)
dockerd_pid="" world_pids=()

ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}
contains() { # NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) ok "$1" ;; *) bad "$1: [$2] not in [$3]" ;; esac
}
retry() { # TRIES CMD...: the command's output once it succeeds, else the last output
  local n=$1 out; shift
  for _ in $(seq "$n"); do
    out=$("$@" 2>&1) && { printf '%s' "$out"; return 0; }
    sleep 0.5
  done
  printf '%s' "$out"; return 1
}

# hull on a store of its own; HULL_DEFAULT_SUBNET unset: the real default pools.
h() { env -u HULL_DEFAULT_SUBNET HULL_ROOT="$tmp/hull" "$HULL" "$@"; }
# podman's containers run under runc: podman prefers crun when it is installed, and crun
# refuses a hybrid cgroup host like CI's (what is checked here is the network, not the runtime).
p() {
  podman --root "$tmp/podman/root" --runroot "$tmp/podman/run" --runtime "$(command -v runc)" \
    --network-config-dir "$tmp/podman/net" --cgroup-manager cgroupfs \
    --events-backend file --storage-driver vfs "$@"
}
d() { "$DOCKER" -H "unix://$tmp/docker/sock" "$@"; }
# podman and docker raise RLIMIT_NOFILE above this host's hard limit unless told.
LIMITS="--ulimit nofile=1024:1024 --ulimit nproc=4096:4096"

# --- the outside world ---------------------------------------------------------------------
world_up() {
  ip netns add "$NS"
  ip link add hcxw0 type veth peer name eth0 netns "$NS"
  ip addr add "$HOST_IP/24" dev hcxw0 && ip link set hcxw0 up
  ip -n "$NS" addr add "$WORLD_IP/24" dev eth0
  ip -n "$NS" addr add "$NAME_IP/24" dev eth0
  ip -n "$NS" link set eth0 up && ip -n "$NS" link set lo up
  ip -n "$NS" route add default via "$HOST_IP"
  mkdir -p "$tmp/www" && echo world-ok >"$tmp/www/ok.txt"
  ip netns exec "$NS" busybox httpd -f -p 8080 -h "$tmp/www" &
  world_pids+=($!)
  ip netns exec "$NS" python3 - "$WORLD_IP" "$NAME_IP" <<'EOF' &
# Answers every A query with argv[2], every other type with no records.
import socket, struct, sys
answer = socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(512)
    i = 12
    while q[i]:
        i += q[i] + 1
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + answer if qtype == 1 else b""
    head = q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1 if rr else 0, 0, 0)
    s.sendto(head + question + rr, peer)
EOF
  world_pids+=($!)
}

# --- cleanup -------------------------------------------------------------------------------
# Deletes, in the given table, every rule of a built-in chain that mentions PATTERN, then the
# chains whose names match it.
drop_iptables() { # TABLE PATTERN
  local t=$1 pat=$2 line
  iptables -w -t "$t" -S 2>/dev/null | grep -E "^-A [A-Z]+ .*($pat)" | while read -r line; do
    eval "iptables -w -t $t -D ${line#-A }" 2>/dev/null
  done
  for c in $(iptables -w -t "$t" -S 2>/dev/null | awk -v p="$pat" '$1 == "-N" && $2 ~ p { print $2 }'); do
    iptables -w -t "$t" -F "$c" 2>/dev/null
  done
  for c in $(iptables -w -t "$t" -S 2>/dev/null | awk -v p="$pat" '$1 == "-N" && $2 ~ p { print $2 }'); do
    iptables -w -t "$t" -X "$c" 2>/dev/null
  done
}
stop_dockerd() {
  [ -n "$dockerd_pid" ] || return 0
  d rm -f $(d ps -aq 2>/dev/null) >/dev/null 2>&1
  kill -TERM "$dockerd_pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$dockerd_pid" 2>/dev/null
  wait "$dockerd_pid" 2>/dev/null
  dockerd_pid=""
}
docker_leftovers() {
  for t in filter nat; do drop_iptables "$t" 'DOCKER|docker0'; done
  iptables -w -P FORWARD "$policy0"
  ip link del docker0 2>/dev/null
  return 0
}
podman_leftovers() {
  p rm -af -t 0 >/dev/null 2>&1
  for t in filter nat; do drop_iptables "$t" 'NETAVARK|podman0|10\.88\.0\.0/16'; done
  ip link del podman0 2>/dev/null
  return 0
}
cleanup() {
  set +e
  h rm -f $(h ps -aq 2>/dev/null) >/dev/null 2>&1
  HULL_ROOT="$tmp/hull-moved" "$HULL" rm -f $(HULL_ROOT="$tmp/hull-moved" "$HULL" ps -aq 2>/dev/null) >/dev/null 2>&1
  h network rm clash >/dev/null 2>&1
  h network sweep >/dev/null 2>&1
  if [ -z "${skip_docker-x}" ]; then stop_dockerd; docker_leftovers; fi
  if [ -z "${skip_podman-x}" ]; then podman_leftovers; p system reset -f >/dev/null 2>&1; fi
  nft delete table inet hcx_hardened 2>/dev/null
  for pid in "${world_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  ip link del hcxw0 2>/dev/null
  echo "$fwd0" >/proc/sys/net/ipv4/ip_forward
  # iptables-nft tables the peers created, once they hold nothing.
  for t in filter nat; do
    grep -qx "table ip $t" <<<"$tables0" && continue
    nft -j list table ip "$t" 2>/dev/null | grep -q '"rule"' || nft delete table ip "$t" 2>/dev/null
  done
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$tmp"
  rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
  for dir in $(peer_dirs); do
    grep -qx "$dir" <<<"$dirs0" && continue
    case $dir in
      /run/containers/networks) rm -f "$dir/ipam.db" ;; # netavark's, of this run's containers
      /var/lib/containers/cache) rm -f "$dir/blob-info-cache-v1.boltdb" ;;
    esac
    rmdir "$dir" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_dockerd() { # as at boot: forwarding off, so dockerd sets the FORWARD policy to DROP
  echo 0 >/proc/sys/net/ipv4/ip_forward
  mkdir -p "$tmp/docker"
  dockerd --data-root "$tmp/docker/data" --exec-root "$tmp/docker/exec" \
    --pidfile "$tmp/docker/pid" -H "unix://$tmp/docker/sock" --storage-driver vfs \
    --insecure-registry 127.0.0.1:5000 --default-ulimit nofile=1024:1024 \
    --log-level error >"$tmp/docker/log" 2>&1 &
  dockerd_pid=$!
  if ! retry 120 d version >/dev/null; then
    bad "dockerd starts: $(tail -n 3 "$tmp/docker/log")"; return 1
  fi
  d load -q -i "$ARCHIVE" >/dev/null
}

# --- the checks ----------------------------------------------------------------------------
WEB='mkdir -p /w && echo $0 >/w/index.html && exec httpd -f -p 80 -h /w'
# GET http://HOST:8080/ok.txt from inside a container, body only (busybox wget segfaults on
# this kernel; nc does not).
GET='printf "GET /ok.txt HTTP/1.0\r\n\r\n" | nc -w 5 "$0" 8080 | tail -n1'
hull_egress() { # PHASE [hull flags]
  local phase=$1; shift
  check "$phase: hull egress" world-ok "$(h run --rm "$@" "$IMAGE" sh -c "$GET" "$WORLD_IP" 2>&1)"
  contains "$phase: hull DNS" "Address: $NAME_IP" \
    "$(h run --rm --dns "$WORLD_IP" "$@" "$IMAGE" nslookup "$WORLD_NAME" 2>&1)"
  check "$phase: hull egress by name" world-ok \
    "$(h run --rm --dns "$WORLD_IP" "$@" "$IMAGE" sh -c "$GET" "$WORLD_NAME" 2>&1)"
}
published() { # NAME PORT EXPECTED: a published port, reached from the outside namespace
  check "$1" "$3" "$(retry 20 ip netns exec "$NS" curl -sS -m 2 "http://$HOST_IP:$2/")"
}
hull_web() { # NAME PORT: a detached hull web server
  h run -d --name "$1" -p "$2:80" "$IMAGE" sh -c "$WEB" "$1" >/dev/null
}
docker_works() { # PHASE PORT
  d run -d --name dweb -p "$2:80" busybox:archive sh -c "$WEB" docker-web >/dev/null
  published "$1: Docker's published port from another netns" "$2" docker-web
  check "$1: Docker's container egress" world-ok \
    "$(d run --rm --dns "$WORLD_IP" busybox:archive sh -c "$GET" "$WORLD_NAME" 2>&1)"
  d rm -f dweb >/dev/null
}
hull_rules_in() { # CHAIN: how many hull-tagged rules iptables' filter CHAIN holds
  iptables -w -S "$1" 2>/dev/null | grep -c -- '--comment "hull '
}

# The cleanup removes docker0, podman0 and the DOCKER*/NETAVARK* chains: with a Docker or
# podman of the host's own already there, their phases are skipped instead.
skip_docker="" skip_podman=""
if [ -e /sys/class/net/docker0 ] || pgrep -x dockerd >/dev/null ||
  iptables -w -S | grep -q DOCKER; then
  skip_docker="the host runs its own Docker (docker0, dockerd or DOCKER chains)"
fi
if [ -e /sys/class/net/podman0 ] || iptables -w -t nat -S | grep -q NETAVARK; then
  skip_podman="the host has podman's network up already (podman0 or NETAVARK chains)"
fi
skipped() { echo "SKIP: $1 ($2)"; skip=$((skip + 1)); }

world_up
h pull -q "$IMAGE" >/dev/null 2>&1 || h pull "$IMAGE" >/dev/null
p pull -q --tls-verify=false "$IMAGE" >/dev/null

subnet=$(h network inspect bridge | grep -o '"Subnet": *"[^"]*"' | cut -d'"' -f4)
case "$subnet" in
  172.1[6-9].* | 172.2[0-9].* | 172.3[01].* | 192.168.* | 10.88.* | 10.89.*)
    bad "default subnet $subnet is another engine's" ;;
  *) ok "default subnet $subnet is neither Docker's nor podman's" ;;
esac

docker_phases() {
  # 1. hull first, then dockerd.
  phase="hull, then docker"
  hull_web hweb1 18081
  published "$phase: hull's published port before dockerd" 18081 hweb1
  start_dockerd && {
    check "$phase: dockerd set the FORWARD policy" "DROP" \
      "$(iptables -w -S FORWARD | awk '$1 == "-P" { print $3 }')"
    published "$phase: hull's running container's port under DROP" 18081 hweb1
    check "$phase: hull's running container's egress under DROP" world-ok \
      "$(h exec hweb1 sh -c "$GET" "$WORLD_IP" 2>&1)"
    hull_egress "$phase"
    docker_works "$phase" 18082
  }
  h rm -f hweb1 >/dev/null
  check "$phase: hull's accepts leave FORWARD with its bridge" 0 "$(hull_rules_in FORWARD)"
  stop_dockerd

  # 2. dockerd first (on a host cleaned of the first phase's chains), then hull.
  phase="docker, then hull"
  docker_leftovers
  start_dockerd && {
    hull_web hweb2 18083
    check "$phase: hull's accepts are in DOCKER-USER" 4 "$(hull_rules_in DOCKER-USER)"
    published "$phase: hull's published port from another netns" 18083 hweb2
    hull_egress "$phase"
    docker_works "$phase" 18084
    stop_dockerd
    check "$phase: FORWARD still drops after dockerd stopped" "DROP" \
      "$(iptables -w -S FORWARD | awk '$1 == "-P" { print $3 }')"
    published "$phase: hull's published port after dockerd stopped" 18083 hweb2
    hull_egress "$phase, dockerd stopped"
    h rm -f hweb2 >/dev/null
    check "$phase: hull's accepts leave DOCKER-USER with its bridge" 0 "$(hull_rules_in DOCKER-USER)"
  }
  docker_leftovers
}
if [ -z "$skip_docker" ]; then docker_phases; else skipped "the dockerd phases" "$skip_docker"; fi

podman_phases() {
  # 3. hull first, then podman.
  phase="hull, then podman"
  hull_web hweb3 18085
  published "$phase: hull's published port before podman" 18085 hweb3
  # A store that took 10.88.0.0/16 (what hull's default was) while it was free, and a user
  # network inside it.
  moved() { env HULL_DEFAULT_SUBNET=10.88.0.0/16 HULL_ROOT="$tmp/hull-moved" "$HULL" "$@"; }
  moved pull -q "$IMAGE" >/dev/null
  check "$phase: a store on 10.88.0.0/16 before podman" world-ok \
    "$(moved run --rm "$IMAGE" sh -c "$GET" "$WORLD_IP" 2>&1)"
  h network create --subnet 10.88.200.0/24 clash >/dev/null
  p run -d --name pweb $LIMITS -p 18086:80 "$IMAGE" sh -c "$WEB" podman-web >/dev/null
  contains "$phase: podman's default network is podman0 on 10.88.0.1/16" "10.88.0.1/16" \
    "$(ip -4 -o addr show podman0 2>&1)"
  published "$phase: podman's published port" 18086 podman-web
  published "$phase: hull's running container's port beside podman" 18085 hweb3
  hull_egress "$phase"
  out=$(moved run --rm "$IMAGE" sh -c "$GET" "$WORLD_IP" 2>&1)
  contains "$phase: the store on 10.88.0.0/16 says it moved" \
    "network bridge: subnet 10.88.0.0/16 is now also routed via podman0; moved it to" "$out"
  contains "$phase: the moved store has egress" world-ok "$out"
  out=$(h run --rm --network clash "$IMAGE" true 2>&1)
  contains "$phase: a user network inside podman's subnet is refused" \
    "network clash: subnet 10.88.200.0/24 is now also routed via podman0; remove one of them" "$out"
  h network rm clash >/dev/null
  h rm -f hweb3 >/dev/null

  # 4. podman first (pweb still runs), then hull.
  phase="podman, then hull"
  hull_web hweb4 18087
  published "$phase: hull's published port" 18087 hweb4
  hull_egress "$phase"
  check "$phase: podman's container egress" world-ok \
    "$(p exec pweb sh -c "$GET" "$WORLD_IP" 2>&1)"
  published "$phase: podman's published port" 18086 podman-web
  h rm -f hweb4 >/dev/null
  podman_leftovers
}
if [ -z "$skip_podman" ]; then podman_phases; else skipped "the podman phases" "$skip_podman"; fi

# 5. A hardened host: an inet forward chain that drops by policy (a table of the test's own).
phase="inet filter policy drop"
nft -f - <<'EOF'
table inet hcx_hardened {
  chain forward { type filter hook forward priority 0; policy drop; }
}
EOF
hull_web hweb5 18088
contains "$phase: hull's accepts are in the foreign chain" 'comment "hull ' \
  "$(nft list chain inet hcx_hardened forward)"
published "$phase: hull's published port" 18088 hweb5
hull_egress "$phase"
h rm -f hweb5 >/dev/null
out=$(nft list chain inet hcx_hardened forward)
case "$out" in
  *'comment "hull '*) bad "$phase: hull's accepts stayed after its bridge went: $out" ;;
  *) ok "$phase: hull's accepts left with its bridge" ;;
esac
nft delete table inet hcx_hardened

echo "coexist: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
