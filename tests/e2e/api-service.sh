# tests/e2e/api-service.sh — sourced by docker-cli.sh and compose.sh: a `hull system service` on
# a store of the script's own under a temp dir, the clients pointed at it, and the checks.
# The caller sets HULL and NAME (its name, for the temp dir), and defines before_cleanup (what
# its client must undo first; may be empty). Sets tmp, ROOT, DOCKER_HOST, DOCKER_CONFIG and h().
# shellcheck shell=bash disable=SC2034  # pass/fail/skip and ROOT are the callers'
pass=0 fail=0 skip=0
tmp=$(mktemp -d "/var/tmp/hull-$NAME.XXXXXX")
ROOT=$tmp/root
export DOCKER_HOST=unix://$tmp/api.sock DOCKER_CONFIG=$tmp/docker-config
h() { "$HULL" --root "$ROOT" "$@"; }
"$HULL" --root "$ROOT" system service --time 0 "$DOCKER_HOST" 2>"$tmp/service.log" &
service=$!
cleanup() {
  set +e
  before_cleanup
  ids=$(h ps -aq 2>/dev/null)
  [ -n "$ids" ] && h rm -fv $ids >/dev/null 2>&1
  h network prune -f >/dev/null 2>&1
  h volume prune -af >/dev/null 2>&1
  kill "$service" 2>/dev/null; wait "$service" 2>/dev/null
  grep -o " $ROOT[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$tmp/api.sock" ] && break; sleep 0.05; done

check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok: $1"; pass=$((pass + 1))
  else
    echo "FAIL: $1: expected [$2], got [$3]"; fail=$((fail + 1))
  fi
}
contains() { # NAME NEEDLE HAYSTACK
  case "$3" in
    *"$2"*) echo "ok: $1"; pass=$((pass + 1)) ;;
    *) echo "FAIL: $1: [$2] not in [$3]"; fail=$((fail + 1)) ;;
  esac
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
