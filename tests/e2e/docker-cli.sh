#!/usr/bin/env bash
# The docker CLI (Debian's docker.io client, /usr/bin/docker) driving hull's API: DOCKER_HOST
# points at a `hull system service` on a store of this script's own. It covers pull, images,
# run --rm, run -d -p, logs -f, exec -it under a pty (script(1)), ps, inspect, cp both ways,
# commit, history and push, build (the classic builder, DOCKER_BUILDKIT=0), stop, rm, network
# create and connect, volume create, events and system df, checking results through the docker
# CLI and, where it matters, through hull's own CLI on the same store.
# Needs root, docker.io, curl, util-linux and `scripts/fixtures start`. Removes what it made.
#   tests/e2e/docker-cli.sh [path/to/hull]     (default: target/debug/hull)
set -uo pipefail
cd "$(dirname "$0")/../.."
HULL=$(realpath "${1:-target/debug/hull}")
IMAGE=${HULL_TEST_REGISTRY:-127.0.0.1:5000}/busybox:latest
DOCKER=/usr/bin/docker

[ "$(id -u)" -eq 0 ] || { echo "docker-cli.sh: needs root" >&2; exit 1; }
[ -x "$DOCKER" ] || { echo "docker-cli.sh: $DOCKER (docker.io) is not installed" >&2; exit 1; }

NAME=docker-cli
d() { timeout 120 "$DOCKER" "$@"; }
before_cleanup() { h network rm hull-cli-net >/dev/null 2>&1; }
# shellcheck source=tests/e2e/api-service.sh
. tests/e2e/api-service.sh

since=$(date +%s)
check "docker version talks to hull" "hull" "$(d version -f '{{.Server.Platform.Name}}' 2>&1)"
d pull -q "$IMAGE" >/dev/null 2>&1
check "docker pull" "$IMAGE" "$(d images --format '{{.Repository}}:{{.Tag}}' 2>&1 | grep -x "$IMAGE")"
check "hull sees the pulled image" "$IMAGE" "$(h images --format '{{.Repository}}:{{.Tag}}' | grep -x "$IMAGE")"
check "docker run --rm" "hello" "$(d run --rm "$IMAGE" echo hello 2>&1)"
d run --rm "$IMAGE" sh -c 'exit 3' >/dev/null 2>&1
check "docker run --rm exit code" "3" "$?"
check "--rm removed it" "" "$(h ps -aq)"

port=$(free_port)
d run -d --name web -p "127.0.0.1:$port:80" "$IMAGE" \
  sh -c 'echo served > /www; echo started; exec httpd -f -p 80 -h /' >/dev/null 2>&1
check "run -d shows in hull ps" "web" "$(h ps --format '{{.Names}}')"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/www" >/dev/null && break; sleep 0.1; done
check "run -d -p serves" "served" "$(curl -fs "http://127.0.0.1:$port/www")"
check "docker ps" "web" "$(d ps --format '{{.Names}}')"
check "docker inspect" "running" "$(d inspect -f '{{.State.Status}}' web)"
check "same ID in hull" "$(h inspect -f '{{.Id}}' web)" "$(d inspect -f '{{.Id}}' web)"
check "docker logs" "started" "$(d logs web 2>&1)"
d run -d --name ticker "$IMAGE" sh -c 'for i in 1 2 3; do echo tick$i; sleep 0.3; done' >/dev/null
check "docker logs -f ends with the container" "tick1 tick2 tick3" "$(d logs -f ticker 2>&1 | tr '\n' ' ' | sed 's/ $//')"
out=$(sleep 5 | script -qec "$DOCKER exec -it web sh -c 'tty >/dev/null && echo tty-yes'" /dev/null 2>&1)
check "docker exec -it has a tty" "tty-yes" "$(printf '%s' "$out" | tr -d '\r' | grep tty | tail -n1)"
check "docker exec exit code" "7" "$(d exec web sh -c 'exit 7'; echo $?)"

echo from-host > "$tmp/in.txt"
d cp "$tmp/in.txt" web:/tmp/in.txt
check "docker cp into" "from-host" "$(h exec web cat /tmp/in.txt)"
d cp web:/www "$tmp/out.txt"
check "docker cp out of" "served" "$(cat "$tmp/out.txt" 2>&1)"

d network create hull-cli-net >/dev/null 2>&1
check "docker network create" "hull-cli-net" "$(h network ls | awk 'NR > 1 {print $2}' | grep -x hull-cli-net)"
d network connect hull-cli-net web
contains "docker network connect" "hull-cli-net" "$(d inspect -f '{{json .NetworkSettings.Networks}}' web)"
d volume create hull-cli-vol >/dev/null 2>&1
check "docker volume create" "hull-cli-vol" "$(h volume ls -q | grep -x hull-cli-vol)"
contains "docker system df" "Images" "$(d system df 2>&1)"

d exec web sh -c 'echo committed > /committed.txt'
d commit -m "from the docker CLI" -c 'CMD ["cat", "/committed.txt"]' web hull-cli/committed:v1 >/dev/null 2>&1
check "docker commit: the new image runs its CMD" "committed" "$(d run --rm hull-cli/committed:v1 2>&1)"
check "docker commit: hull sees it" "hull-cli/committed:v1" \
  "$(h images --format '{{.Repository}}:{{.Tag}}' | grep -x hull-cli/committed:v1)"
contains "docker history: the commit's comment" "from the docker CLI" "$(d history hull-cli/committed:v1 2>&1)"
pushed_ref=${IMAGE%%/*}/e2e-out/docker-cli-$$:v1
d tag hull-cli/committed:v1 "$pushed_ref"
push_out=$(d push "$pushed_ref" 2>&1)
push_digest=$(printf '%s\n' "$push_out" | sed -n 's/.*: digest: \(sha256:[0-9a-f]*\) size: .*/\1/p')
registry_digest=$(curl -fsI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://${pushed_ref%%/*}/v2/e2e-out/docker-cli-$$/manifests/v1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
check "docker push: the registry has what it reported" "${push_digest:-none}" "$registry_digest"
[ -n "$registry_digest" ] &&
  curl -fs -X DELETE "http://${pushed_ref%%/*}/v2/e2e-out/docker-cli-$$/manifests/$registry_digest" >/dev/null
d rmi "$pushed_ref" hull-cli/committed:v1 >/dev/null

# docker build through /build (the classic builder: DOCKER_BUILDKIT=0).
mkdir -p "$tmp/bctx"
printf 'FROM %s\nARG MSG=none\nCOPY note.txt /note.txt\nRUN echo "run says $MSG" && echo "$MSG" >> /note.txt\nCMD ["cat", "/note.txt"]\n' \
  "$IMAGE" >"$tmp/bctx/Dockerfile"
echo note >"$tmp/bctx/note.txt"
build_out=$(DOCKER_BUILDKIT=0 d build -t hull-cli/built:v1 --build-arg MSG=cli "$tmp/bctx" 2>&1)
check "docker build exit code" "0" "$?"
contains "docker build streams the RUN's output" "run says cli" "$build_out"
contains "docker build tags the image" "Successfully tagged hull-cli/built:v1" "$build_out"
check "docker build: the image runs its CMD" "note cli" "$(d run --rm hull-cli/built:v1 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check "docker build: hull sees it" "hull-cli/built:v1" \
  "$(h images --format '{{.Repository}}:{{.Tag}}' | grep -x hull-cli/built:v1)"
check "docker build -q: the cached image's ID" "$(h images -q --no-trunc hull-cli/built:v1)" \
  "$(DOCKER_BUILDKIT=0 d build -q --build-arg MSG=cli "$tmp/bctx" 2>&1)"
printf 'FROM %s\nRUN echo failing; exit 4\n' "$IMAGE" >"$tmp/bctx/Dockerfile.bad"
bad_out=$(DOCKER_BUILDKIT=0 d build -f "$tmp/bctx/Dockerfile.bad" "$tmp/bctx" 2>&1)
check "docker build: a failing RUN's exit code" "4" "$?"
contains "docker build: a failing RUN's error" "(Dockerfile:2): exit code 4" "$bad_out"
check "docker build leaves no container" "web ticker" "$(h ps -a --format '{{.Names}}' | sort -r | tr '\n' ' ' | sed 's/ $//')"
d rmi hull-cli/built:v1 >/dev/null

d stop -t 1 web >/dev/null
check "docker stop" "exited" "$(h inspect -f '{{.State.Status}}' web)"
d rm web ticker >/dev/null
check "docker rm" "" "$(h ps -aq)"
events=$(d events --since "$since" --until "$(($(date +%s) + 1))" --filter container=web --format '{{.Action}}' 2>&1 | tr '\n' ' ')
contains "docker events: create … destroy" "create start" "$events"
contains "docker events: destroy" "destroy" "$events"
d volume rm hull-cli-vol >/dev/null

echo "docker-cli: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
