"""What a create through the API sets, seen from inside the running container: entrypoint and
command lists, the stop signal, a read-only root, volumes from another container, a health
check in nanoseconds, and an endpoint on a user network with its alias and address."""

import json
import time

import docker
import pytest

from conftest import raw, wait_for


def create(service, name, doc):
    status, _, body = raw(service, "POST", f"/containers/create?name={name}",
                          body=json.dumps(doc), headers={"Content-Type": "application/json"})
    assert status == 201, body
    return json.loads(body)["Id"]


def test_entrypoint_lists_and_the_stop_signal(service, api, hull, busybox, cleanup):
    cleanup.append("mk-entry")
    script = 'trap "exit 11" USR1; while true; do sleep 0.1; done'
    cid = create(service, "mk-entry", {
        "Image": busybox, "Entrypoint": ["sh", "-c"], "Cmd": [script],
        "StopSignal": "SIGUSR1", "StopTimeout": 30})
    cfg = hull.inspect(cid)["Config"]
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (["sh", "-c"], [script])
    api.start(cid)
    started = time.time()
    api.stop(cid)
    assert hull.inspect(cid)["State"]["ExitCode"] == 11
    assert time.time() - started < 20, "stop waited for its timeout: the signal was not USR1"


def test_an_empty_entrypoint_keeps_the_images_cmd(service, hull, busybox, cleanup):
    cleanup.extend(["mk-noentry", "mk-noentry2"])
    image_cmd = hull.out("image", "inspect", "--format", "{{json .Config.Cmd}}", busybox)
    cid = create(service, "mk-noentry", {"Image": busybox, "Entrypoint": []})
    cfg = hull.inspect(cid)["Config"]
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (None, json.loads(image_cmd))
    cid = create(service, "mk-noentry2", {"Image": busybox, "Entrypoint": [""], "Cmd": ["ls"]})
    cfg = hull.inspect(cid)["Config"]
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (None, ["ls"])


def test_a_read_only_root_refuses_writes_and_tmpfs_takes_them(service, api, busybox, cleanup):
    cleanup.append("mk-ro")
    cid = create(service, "mk-ro", {
        "Image": busybox, "Cmd": ["sh", "-c", "touch /tmp/ok && ! touch /nope"],
        "HostConfig": {"ReadonlyRootfs": True, "Tmpfs": {"/tmp": ""}}})
    api.start(cid)
    assert api.wait(cid, timeout=60)["StatusCode"] == 0


def test_volumes_from_shares_another_containers_volume(service, api, hull, busybox, cleanup):
    cleanup.extend(["mk-vol-a", "mk-vol-b"])
    a = create(service, "mk-vol-a", {"Image": busybox, "Cmd": ["sh", "-c", "echo 42 > /shared/x"],
                                     "Volumes": {"/shared": {}}})
    api.start(a)
    assert api.wait(a, timeout=60)["StatusCode"] == 0
    b = create(service, "mk-vol-b", {"Image": busybox, "Cmd": ["sh", "-c", "test $(cat /shared/x) = 42"],
                                     "HostConfig": {"VolumesFrom": ["mk-vol-a:ro"]}})
    api.start(b)
    assert api.wait(b, timeout=60)["StatusCode"] == 0
    mounts = {m["Destination"]: m for m in hull.inspect(b)["Mounts"]}
    assert mounts["/shared"]["RW"] is False
    with pytest.raises(docker.errors.NotFound):
        api.create_container(busybox, "true", host_config=api.create_host_config(
            volumes_from=["no-such-ctr"]))


def test_a_healthcheck_in_nanoseconds_runs(service, api, hull, busybox, cleanup):
    cleanup.append("mk-health")
    cid = create(service, "mk-health", {
        "Image": busybox, "Cmd": ["sleep", "300"],
        "Healthcheck": {"Test": ["CMD-SHELL", "test -e /etc/passwd"],
                        "Interval": 200_000_000, "Timeout": 2_000_000_000, "Retries": 1}})
    api.start(cid)
    wait_for(lambda: hull.inspect(cid)["State"].get("Health", {}).get("Status") == "healthy",
             what="the health check to pass")
    assert api.inspect_container(cid)["Config"]["Healthcheck"]["Interval"] == 200_000_000


def test_an_endpoint_on_a_user_network_with_alias_and_address(service, api, hull, busybox,
                                                               cleanup):
    cleanup.append("mk-net")
    hull.out("network", "create", "--subnet", "10.231.7.0/24", "mk-net-1")
    try:
        cid = create(service, "mk-net", {
            "Image": busybox, "Cmd": ["sleep", "300"],
            "HostConfig": {"NetworkMode": "mk-net-1"},
            "NetworkingConfig": {"EndpointsConfig": {"mk-net-1": {
                "Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.231.7.9"}}}}})
        api.start(cid)
        ep = hull.inspect(cid)["NetworkSettings"]["Networks"]["mk-net-1"]
        assert ep["IPAddress"] == "10.231.7.9"
        assert "db" in ep["Aliases"]
        status, _, body = raw(service, "POST", "/containers/create", body=json.dumps({
            "Image": busybox, "HostConfig": {"NetworkMode": "mk-net-1"},
            "NetworkingConfig": {"EndpointsConfig": {"other": {}}}}),
            headers={"Content-Type": "application/json"})
        assert status == 400 and b"EndpointsConfig.other" in body
    finally:
        api.remove_container("mk-net", force=True)
        hull.run("network", "rm", "mk-net-1", check=False)
