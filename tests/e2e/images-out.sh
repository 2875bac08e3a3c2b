#!/usr/bin/env bash
# Images out of hull, checked with real tools: what `hull push` puts in a registry is what
# skopeo and podman (from apt) see, and what `hull commit` makes runs under podman.
#   push of a pulled image          the registry's manifest digest is the source's (skopeo)
#   commit (rm of an image file,    podman pulls the pushed commit and runs it: the new file is
#   a new file, -c CMD/ENV)         there, the removed one is hidden (the whiteout), CMD and ENV
#   push to all three fixtures      plain, basic auth (after `hull login`), TLS with the CA
#   pull back into a fresh store    the same image ID, and the same file tree as podman's
#   a wrong password                one line naming the registry, non-zero, nothing pushed
# podman runs under runc where it is installed (crun refuses hybrid cgroup hosts).
# Needs root, podman and skopeo (apt; scripts/deps, scripts/fixtures) and `scripts/fixtures start`.
# Pushes under e2e-out/<pid>-… and deletes every manifest it pushed, even when a check fails.
#   tests/e2e/images-out.sh [path/to/hull]     (default: target/debug/hull)
set -euo pipefail
cd "$(dirname "$0")/../.."
HULL=$(realpath "${1:-target/debug/hull}")
eval "$(scripts/fixtures env)"
PLAIN=$HULL_TEST_REGISTRY AUTH=$HULL_TEST_AUTH_REGISTRY TLS=$HULL_TEST_TLS_REGISTRY
SRC=$PLAIN/busybox:latest
NS=e2e-out/$$-$(date +%s)
pass=0 fail=0 skip=0

for t in podman skopeo curl jq; do
  command -v "$t" >/dev/null || { echo "images-out.sh: $t is not installed" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "images-out.sh: needs root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hull-images-out.XXXXXX)
export DOCKER_CONFIG=$tmp/docker-config # hull login writes here, never to the user's config
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json" # podman reads it too
h() { "$HULL" --root "$tmp/hull" "$@"; }
h2() { "$HULL" --root "$tmp/hull2" "$@"; }
# runc: crun refuses hosts with a hybrid cgroup layout (like the test machine's).
RUNTIME=()
command -v runc >/dev/null && RUNTIME=(--runtime runc)
p() {
  podman --root "$tmp/podman" --runroot "$tmp/podman-run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file "${RUNTIME[@]}" "$@"
}
PODMAN_RUN=(--network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
pushed=() # "registry repo digest" of every manifest pushed

curl_reg() { # REGISTRY ARGS…: curl with the registry's scheme, CA and credentials
  local reg=$1
  shift
  case $reg in
  "$AUTH") curl -sf -u "$HULL_TEST_AUTH_USER:$HULL_TEST_AUTH_PASS" "$@" ;;
  "$TLS") curl -sf --cacert "$HULL_TEST_TLS_CA" "$@" ;;
  *) curl -sf "$@" ;;
  esac
}
scheme() { if [ "$1" = "$TLS" ]; then echo https; else echo http; fi; }

manifest_digest() { # REGISTRY REPO TAG: the digest the registry serves, or nothing
  curl_reg "$1" -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "$(scheme "$1")://$1/v2/$2/manifests/$3" 2>/dev/null |
    tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

cleanup() {
  set +e
  local entry reg repo dg
  for entry in "${pushed[@]}"; do
    read -r reg repo dg <<<"$entry"
    curl_reg "$reg" -X DELETE -o /dev/null "$(scheme "$reg")://$reg/v2/$repo/manifests/$dg"
  done
  h rm -f e2e-src >/dev/null 2>&1
  p rm -af -t 0 >/dev/null 2>&1
  p system reset -f >/dev/null 2>&1
  grep -o " ${tmp}[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$tmp"
  rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
}
trap cleanup EXIT

check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok: $1"; pass=$((pass + 1))
  else
    echo "FAIL: $1: expected [$2], got [$3]"; fail=$((fail + 1))
  fi
}

# push REGISTRY REPO:TAG LOCAL: tags LOCAL, pushes it, records the manifest for cleanup, and
# prints the digest the push reported ("TAG: digest: sha256:… size: N").
push() {
  local reg=$1 ref=$2 out dg
  h tag "$3" "$reg/$ref"
  out=$(h push "$reg/$ref" 2>&1) || { echo "$out" >&2; return 1; }
  dg=$(printf '%s\n' "$out" | sed -n 's/.*: digest: \(sha256:[0-9a-f]*\) size: .*/\1/p' | tail -1)
  pushed+=("$reg ${ref%:*} $dg")
  echo "$dg"
}

# --- a pulled image goes back byte for byte
h pull -q "$SRC" >/dev/null
src_digest=$(manifest_digest "$PLAIN" busybox latest)
dg=$(push "$PLAIN" "$NS/pulled:latest" "$SRC") || dg=failed
check "push of a pulled image reports the source's digest" "$src_digest" "$dg"
check "the registry serves it under that digest" "$src_digest" "$(manifest_digest "$PLAIN" "$NS/pulled" latest)"
check "skopeo sees the same digest" "$src_digest" \
  "$(skopeo inspect --tls-verify=false "docker://$PLAIN/$NS/pulled:latest" 2>&1 | jq -r .Digest)"

# --- commit: a new file, a removed image file, a symlink out of the rootfs, -c changes
h run --name e2e-src --network none "$SRC" sh -c \
  'echo from-hull > /new.txt && rm /etc/group && ln -s /etc/shadow /escape && mkdir -p /data/d && echo x > /data/d/f' >/dev/null
commit_id=$(h commit -m "e2e commit" -c 'CMD ["cat", "/new.txt"]' -c 'ENV E2E=yes' e2e-src e2e/committed:latest)
check "commit prints the image ID" "yes" "$(case $commit_id in sha256:*) echo yes ;; *) echo "$commit_id" ;; esac)"
check "history shows the commit's comment" "yes" \
  "$(h history --no-trunc e2e/committed:latest | sed -n 2p | grep -q 'e2e commit' && echo yes || echo no)"

cdg=$(push "$PLAIN" "$NS/committed:latest" e2e/committed:latest) || cdg=failed
check "skopeo sees the committed image's digest" "$cdg" \
  "$(skopeo inspect --tls-verify=false "docker://$PLAIN/$NS/committed:latest" 2>&1 | jq -r .Digest)"
check "skopeo sees the committed ENV" "yes" \
  "$(skopeo inspect --tls-verify=false "docker://$PLAIN/$NS/committed:latest" 2>&1 | jq -r '.Env[]' | grep -qx E2E=yes && echo yes || echo no)"

h2 pull -q "$PLAIN/$NS/committed:latest" >/dev/null
if p pull -q --tls-verify=false "$PLAIN/$NS/committed:latest" >/dev/null 2>"$tmp/podman-pull.err"; then
  check "podman runs the committed image's CMD" "from-hull" \
    "$(p run --rm "${PODMAN_RUN[@]}" "$PLAIN/$NS/committed:latest" 2>&1)"
  check "podman sees the whiteout: /etc/group is gone" "gone" \
    "$(p run --rm "${PODMAN_RUN[@]}" "$PLAIN/$NS/committed:latest" sh -c '[ -e /etc/group ] && echo there || echo gone' 2>&1)"
  check "podman sees the symlink as a symlink" "/etc/shadow" \
    "$(p run --rm "${PODMAN_RUN[@]}" "$PLAIN/$NS/committed:latest" readlink /escape 2>&1)"
  # shellcheck disable=SC2016  # $E2E is the container's
  check "podman sees the committed ENV" "yes" \
    "$(p run --rm "${PODMAN_RUN[@]}" "$PLAIN/$NS/committed:latest" sh -c 'echo $E2E' 2>&1)"
  # The same tree under both engines (the runtime's own files at /etc/hosts etc. and the pseudo
  # file systems aside).
  tree='find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run \) -prune -o -print | grep -v -x -e /etc/hosts -e /etc/hostname -e /etc/resolv.conf -e /etc/mtab | sort | md5sum'
  podman_tree=$(p run --rm "${PODMAN_RUN[@]}" "$PLAIN/$NS/committed:latest" sh -c "$tree" 2>&1) || true
  hull_tree=$(h2 run --rm --network none "$PLAIN/$NS/committed:latest" sh -c "$tree" 2>&1) || true
  case $podman_tree in
  [0-9a-f]*" -") check "hull and podman see the same file tree" "$podman_tree" "$hull_tree" ;;
  *) echo "FAIL: podman could not list the tree: $podman_tree"; fail=$((fail + 1)) ;;
  esac
else
  echo "FAIL: podman cannot pull the pushed commit: $(tail -1 "$tmp/podman-pull.err")"; fail=$((fail + 1))
fi
check "a fresh store pulls back the same image ID" "$(h image inspect --format '{{.Id}}' e2e/committed:latest)" \
  "$(h2 image inspect --format '{{.Id}}' "$PLAIN/$NS/committed:latest" 2>&1)"

# --- the other two fixture registries
printf '%s\n' "$HULL_TEST_AUTH_PASS" | h login -u "$HULL_TEST_AUTH_USER" --password-stdin "$AUTH" >/dev/null
adg=$(push "$AUTH" "$NS/committed:latest" e2e/committed:latest) || adg=failed
check "push with basic auth: the registry has it" "$adg" "$(manifest_digest "$AUTH" "$NS/committed" latest)"
certs=$tmp/certs.d/$TLS
mkdir -p "$certs" && cp "$HULL_TEST_TLS_CA" "$certs/ca.crt"
h tag e2e/committed:latest "$TLS/$NS/committed:latest"
tls_out=$(h push --cert-dir "$tmp/certs.d" "$TLS/$NS/committed:latest" 2>&1) || true
tdg=$(printf '%s\n' "$tls_out" | sed -n 's/.*: digest: \(sha256:[0-9a-f]*\) size: .*/\1/p' | tail -1)
[ -n "$tdg" ] && pushed+=("$TLS $NS/committed $tdg")
check "push over TLS with the fixture CA: the registry has it" "${tdg:-none}" "$(manifest_digest "$TLS" "$NS/committed" latest)"

# --- a wrong password
h logout "$AUTH" >/dev/null
printf 'wrong\n' | h login -u "$HULL_TEST_AUTH_USER" --password-stdin "$AUTH" >/dev/null 2>&1 &&
  echo "note: the registry accepted a wrong password at login"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$AUTH" "$(printf '%s:wrong' "$HULL_TEST_AUTH_USER" | base64)" >"$DOCKER_CONFIG/config.json"
h tag e2e/committed:latest "$AUTH/$NS/denied:latest"
set +e
err=$(h push "$AUTH/$NS/denied:latest" 2>&1 >/dev/null)
code=$?
set -e
check "a wrong password fails" "nonzero" "$([ "$code" -ne 0 ] && echo nonzero || echo zero)"
check "with one line naming the registry" "1 yes" \
  "$(printf '%s\n' "$err" | grep -c .) $(printf '%s' "$err" | grep -q "$AUTH" && echo yes || echo no)"
check "and nothing was pushed" "" "$(manifest_digest "$AUTH" "$NS/denied" latest)"

echo "images-out: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
