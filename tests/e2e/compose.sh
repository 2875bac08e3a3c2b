#!/usr/bin/env bash
# docker-compose (Debian 12's, 1.29) driving hull's API: tests/e2e/compose/docker-compose.yml
# (nginx published, postgres with a named volume and a health check, a user network,
# `depends_on: condition: service_healthy`, environment, a service with `build:`). Runs up -d
# --build (the docker CLI's classic builder, DOCKER_BUILDKIT=0, as compose's native build runs
# it), build through docker-py (COMPOSE_DOCKER_CLI_BUILD=0), ps, logs, exec, restart and
# down -v --rmi local, and checks through hull's own CLI that the host is clean after: no
# container, built image, volume, network, bridge or mount left.
# Needs root, docker-compose, curl, the application images (scripts/fixtures-apps) and
# `scripts/fixtures start`.
#   tests/e2e/compose.sh [path/to/hull]     (default: target/debug/hull)
set -uo pipefail
cd "$(dirname "$0")/../.."
HULL=$(realpath "${1:-target/debug/hull}")
export REGISTRY=${HULL_TEST_REGISTRY:-127.0.0.1:5000}

[ "$(id -u)" -eq 0 ] || { echo "compose.sh: needs root" >&2; exit 1; }
command -v docker-compose >/dev/null || { echo "compose.sh: docker-compose is not installed" >&2; exit 1; }

NAME=compose
dc() { timeout 300 docker-compose -p hullcompose -f tests/e2e/compose/docker-compose.yml "$@"; }
before_cleanup() { dc down -v --rmi local -t 1 >/dev/null 2>&1; }
# shellcheck source=tests/e2e/api-service.sh
. tests/e2e/api-service.sh
export WEB_PORT DOCKER_BUILDKIT=0
WEB_PORT=$(free_port)

if ! dc pull -q >"$tmp/pull.log" 2>&1; then
  echo "FAIL: docker-compose pull: $(tail -n 3 "$tmp/pull.log" | tr '\n' ' ')"; fail=$((fail + 1))
fi
dc up -d --build >"$tmp/up.log" 2>&1
check "up -d --build" "0" "$?"
contains "up --build: the build's steps" "Successfully tagged hullcompose_greeter:latest" "$(cat "$tmp/up.log")"
check "the built service runs its RUN's result" "built: from compose" \
  "$(dc exec -T greeter cat /built.txt 2>&1 | tr -d '\r')"
COMPOSE_DOCKER_CLI_BUILD=0 dc build --no-cache greeter >"$tmp/build.log" 2>&1
check "build through docker-py" "0" "$?"
contains "build through docker-py: the RUN ran again" "Running in" "$(cat "$tmp/build.log")"
check "db is healthy before web starts" "healthy" "$(h inspect -f '{{.State.Health.Status}}' hullcompose_db_1 2>&1)"
check "ps: the three services up" "3" "$(dc ps --services --filter status=running 2>/dev/null | wc -l | tr -d ' ')"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$WEB_PORT/" >/dev/null && break; sleep 0.1; done
check "web answers through its published port" "0" "$(curl -fs -o /dev/null "http://127.0.0.1:$WEB_PORT/"; echo $?)"
check "web's environment" "web" "$(dc exec -T web sh -c 'echo $APP_TIER' 2>&1 | tr -d '\r')"
check "web reaches db by its service name" "0" \
  "$(dc exec -T web sh -c 'getent hosts db >/dev/null'; echo $?)"
dc exec -T db psql -U postgres -qAtc "create table t(v text); insert into t values ('kept')" >/dev/null 2>&1
check "logs: postgres is ready" "yes" \
  "$(dc logs db 2>&1 | grep -q 'database system is ready to accept connections' && echo yes)"
dc restart -t 5 db >/dev/null 2>&1
for _ in $(seq 300); do [ "$(h inspect -f '{{.State.Health.Status}}' hullcompose_db_1 2>/dev/null)" = healthy ] && break; sleep 0.1; done
check "restart: the row survives in the named volume" "kept" \
  "$(dc exec -T db psql -U postgres -qAtc 'select v from t' 2>&1 | tr -d '\r')"
dc down -v --rmi local -t 5 >"$tmp/down.log" 2>&1
check "down -v --rmi local" "0" "$?"
check "no built image left" "" "$(h images --format '{{.Repository}}' | grep hullcompose)"
check "no container left" "" "$(h ps -aq)"
check "no volume left" "" "$(h volume ls -q)"
check "no compose network left" "" "$(h network ls | awk 'NR > 1 {print $2}' | grep hullcompose)"
check "no mount left" "" "$(grep -c " $ROOT" /proc/self/mountinfo | grep -v '^0$')"

echo "compose: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
