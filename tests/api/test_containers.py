"""The container lifecycle through the API, as an SDK user drives it: create (with Docker's
Config/HostConfig/NetworkingConfig), start, stop, restart, kill, pause, unpause, wait, remove,
rename, update and prune, each checked through the command line on the same store; and Docker's
status codes for bad requests."""

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import docker
import pytest

from conftest import raw, wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def state(hull, name):
    return hull.inspect(name)["State"]


def post_json(service, path, doc):
    return raw(service, "POST", path, body=json.dumps(doc),
               headers={"Content-Type": "application/json"})


def test_run_detached_translates_every_option(client, api, hull, busybox, cleanup, tmp_path):
    cleanup.append("life-opts")
    port = free_port()
    c = client.containers.run(
        busybox, ["sh", "-c", "echo hi > /www/index.html; httpd -f -p 80 -h /www"],
        detach=True, name="life-opts", environment={"A": "1", "B": "two words"},
        labels={"tier": "life"}, ports={"80/tcp": ("127.0.0.1", port), "90/udp": None},
        volumes={str(tmp_path): {"bind": "/data", "mode": "ro"}},
        tmpfs={"/www": "size=1m"}, working_dir="/tmp", hostname="h-one", user="0:0",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2}, mem_limit="64m",
        nano_cpus=500_000_000, pids_limit=64, cap_drop=["MKNOD"], cap_add=["NET_ADMIN"],
        security_opt=["no-new-privileges"], dns=["10.0.0.53"], extra_hosts={"db": "10.0.0.2"},
        log_config={"Type": "json-file", "Config": {"max-size": "1m"}}, init=True,
        stop_signal="SIGINT",
        healthcheck={"test": ["CMD", "true"], "interval": 2_000_000_000, "retries": 2},
        ulimits=[docker.types.Ulimit(name="nofile", soft=512, hard=1024)])
    c.reload()
    assert c.status == "running"
    doc = hull.inspect("life-opts")
    assert doc == api.inspect_container(c.id)
    cfg, host = doc["Config"], doc["HostConfig"]
    assert {"A=1", "B=two words"} <= set(cfg["Env"])
    assert cfg["Labels"]["tier"] == "life"
    assert (cfg["WorkingDir"], cfg["Hostname"], cfg["User"]) == ("/tmp", "h-one", "0:0")
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"]["Interval"] == 2_000_000_000
    assert "90/udp" in cfg["ExposedPorts"]
    assert host["Binds"] == [f"{tmp_path}:/data:ro"]
    assert "/www" in host["Tmpfs"]
    assert host["PortBindings"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (64 << 20, 500_000_000, 64)
    assert host["CapDrop"] == ["CAP_MKNOD"] and host["CapAdd"] == ["CAP_NET_ADMIN"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Dns"] == ["10.0.0.53"] and host["ExtraHosts"] == ["db:10.0.0.2"]
    assert host["LogConfig"]["Config"]["max-size"] == str(1 << 20)
    assert host["Init"] is True
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 512, "Hard": 1024}]
    names = hull.out("ps", "--filter", "label=tier=life", "--format", "{{.Names}} {{.State}}")
    assert names == "life-opts running"
    # The published port answers: the container really runs with these settings.
    body = None
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    assert body == b"hi\n"


def test_env_binds_and_exit_codes_reach_the_container(client, busybox, cleanup, tmp_path):
    cleanup.append("life-bind")
    c = client.containers.run(busybox, ["sh", "-c", 'echo "$GREETING" > /out/said; exit 3'],
                              detach=True, name="life-bind", environment=["GREETING=hello"],
                              volumes=[f"{tmp_path}:/out"])
    assert c.wait(timeout=60) == {"StatusCode": 3, "Error": None}
    assert (tmp_path / "said").read_text() == "hello\n"


def test_start_stop_restart_kill_pause(client, api, hull, service, busybox, cleanup):
    cleanup.append("life-cycle")
    script = 'trap "exit 7" TERM; while true; do sleep 0.1; done'
    c = client.containers.create(busybox, ["sh", "-c", script], name="life-cycle")
    assert state(hull, "life-cycle")["Status"] == "created"
    # Killing or stopping what does not run: 409 and 304, as Docker.
    with pytest.raises(docker.errors.APIError) as e:
        c.kill()
    assert e.value.status_code == 409 and "is not running" in e.value.explanation
    assert raw(service, "POST", "/containers/life-cycle/stop")[0] == 304
    assert raw(service, "POST", "/containers/life-cycle/start")[0] == 204
    assert state(hull, "life-cycle")["Running"]
    assert raw(service, "POST", "/containers/life-cycle/start")[0] == 304
    c.pause()
    assert state(hull, "life-cycle")["Paused"]
    assert hull.out("ps", "--filter", "name=life-cycle", "--format", "{{.State}}") == "paused"
    with pytest.raises(docker.errors.APIError) as e:
        c.pause()
    assert e.value.status_code == 409
    c.unpause()
    assert not state(hull, "life-cycle")["Paused"]
    c.stop(timeout=5)
    s = state(hull, "life-cycle")
    assert (s["Status"], s["ExitCode"]) == ("exited", 7)
    c.restart(timeout=5)
    assert state(hull, "life-cycle")["Running"]
    c.kill(signal="SIGTERM")
    assert c.wait(timeout=30)["StatusCode"] == 7
    c.start()
    c.kill()
    assert c.wait(timeout=30)["StatusCode"] == 137
    with pytest.raises(docker.errors.APIError) as e:
        api.kill("life-cycle", signal="SIGNOPE")
    assert e.value.status_code in (400, 409)


def test_wait_conditions(client, api, hull, busybox, cleanup):
    cleanup.append("life-wait")
    c = client.containers.create(busybox, ["sh", "-c", "sleep 0.5; exit 5"], name="life-wait")
    # not-running on a container that does not run answers at once.
    assert api.wait("life-wait", timeout=10)["StatusCode"] == 0
    got = {}
    waiter = threading.Thread(
        target=lambda: got.update(api.wait("life-wait", timeout=60, condition="next-exit")))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive(), "next-exit returned before the container ran"
    c.start()
    waiter.join(60)
    assert got == {"StatusCode": 5, "Error": None}
    # removed: blocks until somebody removes it.
    got.clear()
    waiter = threading.Thread(
        target=lambda: got.update(api.wait("life-wait", timeout=60, condition="removed")))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive(), "removed returned while the container exists"
    hull.out("rm", "life-wait")
    waiter.join(60)
    assert got == {"StatusCode": 5, "Error": None}
    with pytest.raises(docker.errors.APIError) as e:
        api.wait("no-such-ctr", timeout=10)
    assert e.value.status_code == 404


def test_auto_remove_is_gone_after_wait_removed(client, api, hull, busybox):
    c = client.containers.run(busybox, ["sh", "-c", "sleep 0.3; exit 4"], detach=True,
                              name="life-rm", auto_remove=True)
    assert api.inspect_container(c.id)["HostConfig"]["AutoRemove"] is True
    # The exit is recorded before the container is torn down and removed: the wait sees it.
    assert api.wait(c.id, timeout=60, condition="removed") == {"StatusCode": 4, "Error": None}
    assert "life-rm" not in hull.out("ps", "-a", "--format", "{{.Names}}").split()


def test_remove_refuses_a_running_container_and_v_takes_anonymous_volumes(
        client, api, hull, busybox, cleanup):
    cleanup.append("life-remove")
    cid = api.create_container(busybox, ["sleep", "300"], name="life-remove",
                               volumes=["/scratch"])["Id"]
    vol = [m["Name"] for m in hull.inspect(cid)["Mounts"] if m["Destination"] == "/scratch"]
    assert len(vol) == 1 and vol[0] in hull.out("volume", "ls", "-q").split()
    api.start(cid)
    with pytest.raises(docker.errors.APIError) as e:
        api.remove_container(cid)
    assert e.value.status_code == 409
    assert e.value.explanation == (
        f"You cannot remove a running container {cid}. Stop the container before attempting "
        "removal or force remove")
    assert state(hull, cid)["Running"]
    api.remove_container(cid, force=True, v=True)
    assert cid not in hull.out("ps", "-aq", "--no-trunc").split()
    assert vol[0] not in hull.out("volume", "ls", "-q").split()
    with pytest.raises(docker.errors.NotFound):
        api.remove_container(cid)


def test_rename_and_update(client, api, hull, busybox, cleanup):
    cleanup.extend(["life-old", "life-new", "life-taken"])
    c = client.containers.create(busybox, ["sleep", "300"], name="life-old")
    client.containers.create(busybox, ["true"], name="life-taken")
    c.rename("life-new")
    assert hull.inspect(c.id)["Name"] == "/life-new"
    with pytest.raises(docker.errors.APIError) as e:
        c.rename("life-taken")
    assert e.value.status_code == 409 and "already in use" in e.value.explanation
    c.start()
    assert c.update(mem_limit="32m", memswap_limit=-1, cpu_shares=256,
                    restart_policy={"Name": "always"}) == {"Warnings": []}
    host = hull.inspect("life-new")["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["CpuShares"]) == (32 << 20, -1, 256)
    assert host["RestartPolicy"]["Name"] == "always"
    with pytest.raises(docker.errors.APIError) as e:
        c.update(mem_limit="1k")
    assert e.value.status_code == 400 and "Memory" in e.value.explanation


def test_prune_takes_label_and_until(client, api, hull, busybox, cleanup):
    cleanup.extend(["life-p1", "life-p2", "life-p3"])
    for name, label in (("life-p1", "yes"), ("life-p2", "no")):
        client.containers.create(busybox, ["true"], name=name, labels={"prune": label})
    running = client.containers.run(busybox, ["sleep", "300"], detach=True, name="life-p3",
                                    labels={"prune": "yes"})
    assert client.containers.prune(filters={"label": "prune=yes", "until": "1h"}) == {
        "ContainersDeleted": None, "SpaceReclaimed": 0}
    got = client.containers.prune(filters={"label": "prune=yes"})
    assert len(got["ContainersDeleted"]) == 1
    names = hull.out("ps", "-a", "--format", "{{.Names}}").split()
    assert "life-p1" not in names and {"life-p2", "life-p3"} <= set(names)
    assert running.id not in got["ContainersDeleted"]
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.prune(filters={"until": "whenever"})
    assert e.value.status_code == 400


def test_create_errors_are_dockers(service, client, api, hull, busybox, cleanup):
    cleanup.append("life-err")
    before = hull.out("ps", "-aq")
    status, _, body = raw(service, "POST", "/containers/create", body="{not json",
                          headers={"Content-Type": "application/json"})
    assert status == 400 and b"invalid JSON" in body
    status, _, body = post_json(service, "/containers/create",
                                {"Image": busybox, "HostConfig": {"Memory": "lots"}})
    assert status == 400 and "HostConfig.Memory" in json.loads(body)["message"]
    status, _, body = post_json(service, "/containers/create", {
        "Image": busybox, "HostConfig": {"PortBindings": {"eighty/tcp": [{"HostPort": "1"}]}}})
    assert status == 400
    assert json.loads(body)["message"].startswith("invalid port specification")
    status, _, body = post_json(service, "/containers/create",
                                {"Image": busybox, "WorkingDir": "relative"})
    assert status == 400 and "WorkingDir" in json.loads(body)["message"]
    with pytest.raises(docker.errors.ImageNotFound) as e:
        api.create_container("127.0.0.1:5000/no-such-image:1", "true")
    assert e.value.explanation == "No such image: 127.0.0.1:5000/no-such-image:1"
    assert hull.out("ps", "-aq") == before, "a refused create left something behind"
    # Unknown fields are ignored, as Docker ignores them.
    status, _, body = post_json(service, "/containers/create?name=life-err",
                                {"Image": busybox, "Cmd": ["true"], "NoSuchField": {"x": 1}})
    assert status == 201
    doc = json.loads(body)
    assert doc["Warnings"] == [] and doc["Id"] == hull.inspect("life-err")["Id"]
    volumes = hull.out("volume", "ls", "-q")
    with pytest.raises(docker.errors.APIError) as e:
        api.create_container(busybox, "true", name="life-err", volumes=["/anon"])
    assert e.value.status_code == 409 and "already in use" in e.value.explanation
    assert hull.out("volume", "ls", "-q") == volumes, "a refused create made a volume"


def test_a_command_that_cannot_run_fails_the_start(client, api, hull, busybox, cleanup):
    cleanup.append("life-nocmd")
    c = client.containers.create(busybox, ["/no/such/binary"], name="life-nocmd")
    with pytest.raises(docker.errors.APIError) as e:
        c.start()
    assert e.value.status_code == 400 and "/no/such/binary" in e.value.explanation
    assert not state(hull, "life-nocmd")["Running"]


def test_the_docker_cli_creates_starts_and_waits(service, hull, busybox, cleanup):
    if not shutil.which("docker"):
        pytest.skip("the docker CLI is not installed")
    cleanup.append("life-cli")
    env = dict(os.environ, DOCKER_HOST=service.url, DOCKER_CONFIG=str(service.root) + "-dcfg")
    run = lambda *a: subprocess.run(["docker", *a], env=env, capture_output=True, text=True,
                                    timeout=120)
    p = run("create", "--name", "life-cli", "-e", "X=1", busybox, "sh", "-c", "exit $X")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == hull.inspect("life-cli")["Id"]
    p = run("start", "life-cli")
    assert p.returncode == 0, p.stderr
    p = run("wait", "life-cli")
    assert (p.returncode, p.stdout.strip()) == (0, "1"), p.stderr
    p = run("rm", "life-cli")
    assert p.returncode == 0, p.stderr
    assert "life-cli" not in hull.out("ps", "-a", "--format", "{{.Names}}").split()


def test_the_docker_cli_manages_a_detached_container(service, hull, busybox, cleanup):
    if not shutil.which("docker"):
        pytest.skip("the docker CLI is not installed")
    cleanup.extend(["life-cli-d", "life-cli-e"])
    env = dict(os.environ, DOCKER_HOST=service.url, DOCKER_CONFIG=str(service.root) + "-dcfg")

    def docker_ok(*a):
        p = subprocess.run(["docker", *a], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"docker {' '.join(a)}: {p.stderr}"
        return p.stdout.strip()

    cid = docker_ok("run", "-d", "--name", "life-cli-d", "--restart", "on-failure:3",
                    "-m", "48m", "-l", "via=docker", busybox, "sleep", "300")
    doc = hull.inspect("life-cli-d")
    assert doc["Id"] == cid and doc["State"]["Running"]
    assert doc["HostConfig"]["Memory"] == 48 << 20
    assert doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"] == 3
    docker_ok("pause", "life-cli-d")
    assert hull.inspect(cid)["State"]["Paused"]
    docker_ok("unpause", "life-cli-d")
    docker_ok("rename", "life-cli-d", "life-cli-e")
    docker_ok("update", "--memory", "64m", "life-cli-e")
    assert hull.inspect(cid)["HostConfig"]["Memory"] == 64 << 20
    docker_ok("restart", "-t", "1", "life-cli-e")
    assert hull.inspect(cid)["State"]["Running"]
    docker_ok("stop", "-t", "1", "life-cli-e")
    assert hull.inspect(cid)["State"]["ExitCode"] == 137
    docker_ok("container", "prune", "-f", "--filter", "label=via=docker")
    assert cid not in hull.out("ps", "-aq", "--no-trunc").split()


def children(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids.extend(f.read().split())
    return kids


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().split("\0")
    except FileNotFoundError:
        return []


def test_monitors_of_exited_containers_are_reaped(service, client, busybox, cleanup):
    cleanup.append("life-reap")
    c = client.containers.run(busybox, ["sleep", "300"], detach=True, name="life-reap")
    monitor = [k for k in children(service.proc.pid)
               if "__monitor" in cmdline(k) and c.id in cmdline(k)]
    assert len(monitor) == 1, "the service did not start the container's monitor itself"
    c.kill()
    assert c.wait(timeout=60)["StatusCode"] == 137
    # Not left a zombie: gone from the service's children within the reaper's period.
    wait_for(lambda: monitor[0] not in children(service.proc.pid), secs=10,
             what="the monitor to be reaped")


def test_concurrent_clients_lose_and_duplicate_nothing(service, hull, busybox):
    n = 50
    names = [f"life-many-{i}" for i in range(n)]
    ids, errors = {}, []

    def one(name):
        c = docker.DockerClient(base_url=service.url, version="1.41", timeout=120)
        try:
            ctr = c.containers.run(busybox, ["sh", "-c", "sleep 0.2; exit 6"], detach=True,
                                   name=name, labels={"many": "yes"})
            ids[name] = ctr.id
            assert ctr.wait(timeout=60)["StatusCode"] == 6
            ctr.remove()
        except Exception as e:  # noqa: BLE001 - reported below with its name
            errors.append(f"{name}: {e!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    try:
        assert errors == []
        assert len(set(ids.values())) == n
        assert hull.out("ps", "-a", "--filter", "label=many=yes", "-q") == ""
    finally:
        left = hull.out("ps", "-aq", "--filter", "label=many=yes").split()
        if left:
            hull.run("rm", "-f", *left, check=False)


def test_changes_are_dockers_kinds(client, hull, busybox, cleanup):
    cleanup.append("changed")
    c = client.containers.run(busybox, ["sh", "-c", "touch /tmp/new; rm /bin/ls"],
                              name="changed", detach=True)
    c.wait()
    assert c.diff() == [{"Path": "/bin", "Kind": 0}, {"Path": "/bin/ls", "Kind": 2},
                        {"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/new", "Kind": 1}]
    assert hull.out("diff", "changed") == "C /bin\nD /bin/ls\nC /tmp\nA /tmp/new"
    with pytest.raises(docker.errors.NotFound):
        client.api.diff("no-such-ctr")
