"""kill -9 of the service at any moment loses no container and half-makes none, and the next
service answers: containers live in the store and under their own monitors, not in the
service."""

import json
import random
import signal
import subprocess
import threading

import docker
import pytest

from conftest import HULL, wait_for_socket


def state_of(hull, name):
    p = hull.run("inspect", "-f", "{{.State.Status}}", name, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_of_the_service_loses_nothing(service, hull, busybox, tmp_path, round_):
    sock = str(tmp_path / "k9.sock")
    proc = subprocess.Popen([HULL, "--root", service.root, "system", "service", "--time", "0",
                             f"unix://{sock}"], stderr=subprocess.DEVNULL)
    made, started, names = [], [], []
    stop = threading.Event()

    def churn():
        c = docker.APIClient(base_url=f"unix://{sock}", version="1.41", timeout=30)
        i = 0
        while not stop.is_set():
            name = f"k9-{round_}-{i}"
            i += 1
            names.append(name)
            try:
                c.create_container(busybox, ["sleep", "300"], name=name)
                made.append(name)
                c.start(name)
                started.append(name)
            except Exception:  # the service died under this request
                return

    try:
        wait_for_socket(sock, proc)
        t = threading.Thread(target=churn)
        t.start()
        # Let it make a few, then kill it somewhere in the middle of a request.
        threading.Event().wait(random.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop.set()
        t.join(60)
        assert made, "no container was made before the kill"

        # The next service answers, on the same socket path (the dead one's file is stale).
        proc = subprocess.Popen([HULL, "--root", service.root, "system", "service", "--time",
                                 "0", f"unix://{sock}"], stderr=subprocess.PIPE)
        wait_for_socket(sock, proc)
        c = docker.APIClient(base_url=f"unix://{sock}", version="1.41", timeout=30)
        assert c.ping()
        listed = {n.lstrip("/") for x in c.containers(all=True) for n in x["Names"]}
        for name in made:
            assert name in listed, f"{name} was created (201) and is gone"
        for name in started:
            assert state_of(hull, name) == "running", f"{name} started and is not running"
        # Whatever the kill interrupted is whole or absent: each listed one inspects cleanly.
        for name in (n for n in names if n in listed):
            doc = c.inspect_container(name)
            assert doc["State"]["Status"] in ("created", "running"), json.dumps(doc["State"])
        assert not any(s["State"] == "dead" for s in c.containers(all=True))
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        leftover = [n for n in names if state_of(hull, n) is not None]
        if leftover:
            hull.run("rm", "-f", *leftover, check=False)
