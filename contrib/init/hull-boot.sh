#!/bin/sh
# `hull system boot` for hosts without systemd: call it once the network is up, from
# /etc/rc.local (`/usr/local/lib/hull/hull-boot.sh start`), an OpenRC `local.d` script
# (/etc/local.d/hull-boot.start), or a SysV init script. HULL (the binary) and HULL_ROOT (the
# store; unset means /var/lib/hull) may be set in the environment.
# Prints one line per container started or failed; exits non-zero when any failed.
set -u

HULL=${HULL:-/usr/local/bin/hull}

case "${1:-start}" in
start)
	if [ ! -x "$HULL" ]; then
		echo "hull-boot: $HULL is not an executable" >&2
		exit 1
	fi
	# The monitors it starts must not belong to the caller's terminal or session.
	exec "$HULL" system boot </dev/null
	;;
stop | status)
	# Nothing to stop: each container runs under its own monitor, and shutdown ends them.
	exit 0
	;;
*)
	echo "usage: $0 start" >&2
	exit 2
	;;
esac
