"""A container's streams through the API: logs, attach, exec, top, stats, archive and export,
as the Docker SDK for Python uses them. Containers are made with the command line on the
service's store (`hull run -d`)."""

import json
import os
import socket
import struct
import time

import docker
import pytest

from conftest import UnixHTTPConnection, raw


def demux(data):
    """A multiplexed body as [(stream, bytes)], checking every header."""
    frames = []
    while data:
        assert len(data) >= 8, f"a torn frame header: {data!r}"
        stream, zeros, size = data[0], data[1:4], struct.unpack(">I", data[4:8])[0]
        assert stream in (1, 2) and zeros == b"\0\0\0", data[:8]
        frames.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return frames


def run_d(hull, cleanup, name, *args):
    cleanup.append(name)
    return hull.out("run", "-d", "--name", name, *args)


def wait_exited(hull, name):
    hull.out("wait", name)


def fds_of(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


# ---- logs


def test_logs_split_the_streams_tail_and_timestamps(client, service, hull, busybox, cleanup):
    run_d(hull, cleanup, "logs-split", busybox, "sh", "-c",
          "echo out1; echo err1 >&2; sleep 0.3; echo out2")
    wait_exited(hull, "logs-split")
    c = client.containers.get("logs-split")
    assert c.logs(stdout=True, stderr=False) == b"out1\nout2\n"
    assert c.logs(stdout=False, stderr=True) == b"err1\n"
    assert c.logs(tail=1) == b"out2\n"
    assert c.logs(tail=0) == b""
    lines = c.logs(timestamps=True, stderr=False).decode().splitlines()
    assert [l.split(" ", 1)[1] for l in lines] == ["out1", "out2"]
    assert all(l[:4].isdigit() and "T" in l.split(" ")[0] for l in lines), lines
    assert c.logs(since=int(time.time()) + 3600) == b""
    assert c.logs(until=1) == b""
    status, headers, body = raw(service, "GET",
                                "/v1.41/containers/logs-split/logs?stdout=1&stderr=1")
    assert status == 200
    assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    frames = demux(body)
    assert b"".join(p for s, p in frames if s == 1) == b"out1\nout2\n"
    assert b"".join(p for s, p in frames if s == 2) == b"err1\n"


def test_logs_of_a_tty_container_are_raw(client, service, hull, busybox, cleanup):
    run_d(hull, cleanup, "logs-tty", "-t", busybox, "echo", "tty-line")
    wait_exited(hull, "logs-tty")
    status, headers, body = raw(service, "GET", "/containers/logs-tty/logs?stdout=1")
    assert status == 200
    assert headers["content-type"] == "application/vnd.docker.raw-stream"
    assert body == b"tty-line\r\n"
    assert client.containers.get("logs-tty").logs() == b"tty-line\r\n"


def test_logs_follow_ends_when_the_container_stops(client, hull, busybox, cleanup):
    run_d(hull, cleanup, "logs-follow", busybox, "sh", "-c",
          "for i in 1 2 3; do echo line$i; sleep 0.3; done")
    c = client.containers.get("logs-follow")
    began = time.time()
    got = b"".join(c.logs(stream=True, follow=True))
    assert got == b"line1\nline2\nline3\n"
    assert time.time() - began < 30
    assert hull.inspect("logs-follow")["State"]["Status"] == "exited"


def test_a_client_gone_mid_follow_leaves_no_open_log(service, hull, busybox, cleanup):
    cid = run_d(hull, cleanup, "logs-gone", busybox, "sh", "-c",
                "echo tick; exec sleep 1000")
    log = hull.inspect(cid)["LogPath"]
    conn = UnixHTTPConnection(service.sock)
    conn.request("GET", "/containers/logs-gone/logs?stdout=1&follow=1")
    r = conn.getresponse()
    assert r.status == 200
    assert r.read1(64)
    assert log in fds_of(service.proc.pid)
    conn.close()
    deadline = time.time() + 5
    while log in fds_of(service.proc.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert log not in fds_of(service.proc.pid), "the follow outlived its client"


def test_many_follows_do_not_starve_other_requests(service, sleeper):
    conns = []
    try:
        for _ in range(70):
            c = UnixHTTPConnection(service.sock)
            c.request("GET", f"/containers/{sleeper}/logs?stdout=1&follow=1")
            assert c.getresponse().status == 200
            conns.append(c)
        began = time.time()
        status, _, body = raw(service, "GET", f"/containers/{sleeper}/json")
        assert status == 200 and json.loads(body)["Name"] == f"/{sleeper}"
        assert time.time() - began < 5
    finally:
        for c in conns:
            c.close()


def test_logs_bad_requests(service, hull, busybox, cleanup):
    status, _, body = raw(service, "GET", "/containers/no-such-ctr/logs?stdout=1")
    assert (status, json.loads(body)["message"]) == (404, "No such container: no-such-ctr")
    run_d(hull, cleanup, "logs-bad", busybox, "true")
    status, _, body = raw(service, "GET", "/containers/logs-bad/logs")
    assert status == 400 and "choose at least one stream" in json.loads(body)["message"]
    status, _, body = raw(service, "GET", "/containers/logs-bad/logs?stdout=1&tail=many")
    assert status == 400 and "tail" in json.loads(body)["message"]
    status, _, body = raw(service, "GET", "/containers/logs-bad/logs?stdout=1&since=soon")
    assert status == 400 and "since" in json.loads(body)["message"]


# ---- exec


def read_all(sock):
    """Everything until the service closes the hijacked connection."""
    s = sock._sock if hasattr(sock, "_sock") else sock
    s.settimeout(60)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.fixture
def sleeper(hull, busybox, cleanup):
    name = f"sleeper-{os.getpid()}-{time.monotonic_ns()}"
    run_d(hull, cleanup, name, busybox, "sleep", "1000")
    return name


def test_exec_splits_the_streams_and_records_the_exit_code(api, sleeper):
    e = api.exec_create(sleeper, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert api.exec_inspect(e["Id"])["Running"] is False
    assert api.exec_inspect(e["Id"])["ExitCode"] is None
    assert api.exec_start(e["Id"], demux=True) == (b"out\n", b"err\n")
    doc = api.exec_inspect(e["Id"])
    assert (doc["Running"], doc["ExitCode"]) == (False, 3)
    assert doc["ProcessConfig"]["entrypoint"] == "sh"
    assert doc["ProcessConfig"]["arguments"] == ["-c", "echo out; echo err >&2; exit 3"]
    assert doc["ContainerID"] == api.inspect_container(sleeper)["Id"]
    with pytest.raises(docker.errors.APIError) as err:
        api.exec_start(e["Id"])
    assert err.value.status_code == 409


def test_exec_with_a_tty_env_user_and_workdir(api, sleeper):
    # HULL_BIN is in the service's environment (the test's): a bare name takes nothing from it.
    e = api.exec_create(sleeper, ["sh", "-c", "tty; echo $A; id -u; pwd; echo ${HULL_BIN:-unset}"],
                        tty=True, environment=["A=from-api", "HULL_BIN"], user="65534",
                        workdir="/tmp")
    out = api.exec_start(e["Id"], tty=True)
    lines = out.decode().split("\r\n")
    assert lines[0].startswith("/dev/pts/"), out
    assert lines[1:5] == ["from-api", "65534", "/tmp", "unset"], out
    assert api.exec_inspect(e["Id"])["ExitCode"] == 0


def test_a_detached_exec_runs_on_and_its_exit_code_is_kept(api, sleeper):
    e = api.exec_create(sleeper, ["sh", "-c", "sleep 1; exit 7"])
    api.exec_start(e["Id"], detach=True)
    deadline = time.time() + 10
    doc = api.exec_inspect(e["Id"])
    while doc["Pid"] == 0 and time.time() < deadline:
        time.sleep(0.05)
        doc = api.exec_inspect(e["Id"])
    assert doc["Running"] is True
    assert os.path.exists(f"/proc/{doc['Pid']}")
    while doc["Running"] and time.time() < deadline:
        time.sleep(0.1)
        doc = api.exec_inspect(e["Id"])
    assert (doc["Running"], doc["ExitCode"]) == (False, 7)


def test_exec_stdin_through_the_socket_ends_at_the_half_close(api, sleeper):
    e = api.exec_create(sleeper, ["sh", "-c", "cat; echo done >&2"], stdin=True)
    sock = api.exec_start(e["Id"], socket=True)
    s = sock._sock
    s.sendall(b"hello\nworld\n")
    s.shutdown(socket.SHUT_WR)
    frames = demux(read_all(sock))
    assert b"".join(p for k, p in frames if k == 1) == b"hello\nworld\n"
    assert b"".join(p for k, p in frames if k == 2) == b"done\n"
    assert api.exec_inspect(e["Id"])["ExitCode"] == 0


def test_exec_resize_sizes_its_tty(api, service, sleeper):
    e = api.exec_create(sleeper, ["sh", "-c", "sleep 1; stty size"], tty=True)
    sock = api.exec_start(e["Id"], tty=True, socket=True)
    deadline = time.time() + 10
    while api.exec_inspect(e["Id"])["Pid"] == 0 and time.time() < deadline:
        time.sleep(0.02)
    api.exec_resize(e["Id"], height=33, width=99)
    assert read_all(sock).strip() == b"33 99"
    # Docker 1.42's ConsoleSize: the size from the first instruction.
    body = json.dumps({"Cmd": ["stty", "size"], "Tty": True, "AttachStdout": True,
                       "ConsoleSize": [21, 77]}).encode()
    status, _, created = raw(service, "POST", f"/containers/{sleeper}/exec", body=body,
                             headers={"Content-Type": "application/json"})
    assert status == 201
    assert api.exec_start(json.loads(created)["Id"], tty=True).strip() == b"21 77"


def test_exec_start_without_upgrade_streams_the_output(api, service, sleeper):
    e = api.exec_create(sleeper, ["sh", "-c", "echo plain-out; echo plain-err >&2"])
    status, headers, body = raw(service, "POST", f"/exec/{e['Id']}/start", body=b"{}",
                                headers={"Content-Type": "application/json"})
    assert status == 200
    assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert sorted(demux(body)) == [(1, b"plain-out\n"), (2, b"plain-err\n")]
    assert api.exec_inspect(e["Id"])["ExitCode"] == 0


def test_exec_errors(api, service, hull, busybox, cleanup, sleeper):
    run_d(hull, cleanup, "exec-stopped", busybox, "true")
    wait_exited(hull, "exec-stopped")
    with pytest.raises(docker.errors.APIError) as err:
        api.exec_create("exec-stopped", ["true"])
    assert err.value.status_code == 409 and "is not running" in err.value.explanation
    with pytest.raises(docker.errors.NotFound) as err:
        api.exec_create("no-such-ctr", ["true"])
    assert err.value.explanation == "No such container: no-such-ctr"
    with pytest.raises(docker.errors.NotFound) as err:
        api.exec_inspect("0" * 64)
    assert err.value.explanation == f"No such exec instance: {'0' * 64}"
    status, _, body = raw(service, "POST", f"/containers/{sleeper}/exec",
                          body=b'{"Cmd": []}', headers={"Content-Type": "application/json"})
    assert (status, json.loads(body)["message"]) == (400, "No exec command specified")
    status, _, body = raw(service, "POST", f"/containers/{sleeper}/exec",
                          body=b'{"Cmd": ["true"], "Env": ["=x"]}',
                          headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["message"].startswith("Env: "), body
    status, _, body = raw(service, "POST", f"/containers/{sleeper}/exec",
                          body=b'{"Cmd": "true"}', headers={"Content-Type": "application/json"})
    assert status == 400 and "Cmd" in json.loads(body)["message"], body
    e = api.exec_create(sleeper, ["no-such-command"])
    _, err_out = api.exec_start(e["Id"], demux=True)
    assert b"no-such-command" in err_out
    assert api.exec_inspect(e["Id"])["ExitCode"] == 127


# ---- attach


def read_until(sock, needle, secs=20):
    s = sock._sock if hasattr(sock, "_sock") else sock
    s.settimeout(secs)
    data = b""
    while needle not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _poll(sock, secs=0.5):
    import select
    return bool(select.select([sock._sock], [], [], secs)[0])


def test_attach_stdin_and_the_half_close_ends_the_containers_stdin(api, hull, busybox, cleanup):
    run_d(hull, cleanup, "attach-in", "-i", busybox, "sh", "-c",
          "while read l; do echo got:$l; done; echo bye >&2")
    sock = api.attach_socket("attach-in", params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                  "stream": 1})
    sock._sock.sendall(b"a\nb\n")
    sock._sock.shutdown(socket.SHUT_WR)
    frames = demux(read_all(sock))
    assert b"".join(p for k, p in frames if k == 1) == b"got:a\ngot:b\n"
    assert b"".join(p for k, p in frames if k == 2) == b"bye\n"
    hull.out("wait", "attach-in")
    assert hull.inspect("attach-in")["State"]["ExitCode"] == 0


def test_attach_stream_with_logs_gets_old_and_new_output(client, hull, busybox, cleanup):
    run_d(hull, cleanup, "attach-logs", busybox, "sh", "-c", "echo one; sleep 2; echo two")
    # "one" in the log before the attach (one written between the replay and the attach
    # would be missed, as with Docker).
    deadline = time.time() + 10
    while hull.out("logs", "attach-logs") != "one" and time.time() < deadline:
        time.sleep(0.05)
    c = client.containers.get("attach-logs")
    got = b"".join(c.attach(stdout=True, stderr=True, stream=True, logs=True))
    assert got == b"one\ntwo\n"


def test_attach_to_a_tty_container_is_raw_and_resize_reaches_it(api, hull, busybox, cleanup):
    run_d(hull, cleanup, "attach-tty", "-it", busybox, "sh")
    api.resize("attach-tty", height=40, width=120)
    sock = api.attach_socket("attach-tty", params={"stdin": 1, "stdout": 1, "stream": 1})
    # Input before the shell's line editor is up may be flushed: wait for a prompt first.
    prompt = b""
    for _ in range(40):
        sock._sock.sendall(b"\n")
        while _poll(sock):
            chunk = sock._sock.recv(65536)
            prompt += chunk
            if not chunk or b"# " in prompt:
                break
        if b"# " in prompt:
            break
    assert b"# " in prompt, prompt
    sock._sock.sendall(b"echo hi-$((1+1)); stty size\n")
    got = read_until(sock, b"40 120")
    assert b"hi-2\r\n" in got and b"40 120" in got, got
    sock._sock.sendall(b"exit\n")
    read_all(sock)
    hull.out("wait", "attach-tty")


def test_attach_before_start_sees_the_run(api, hull, busybox, cleanup):
    import threading
    for name, cmd in (("attach-early", "sleep 0.5; echo late"), ("attach-quick", "echo quick")):
        cleanup.append(name)
        hull.out("create", "--name", name, busybox, "sh", "-c", cmd)
        got = {}

        def attach():
            sock = api.attach_socket(name, params={"stdout": 1, "stream": 1})
            got["data"] = read_all(sock)

        t = threading.Thread(target=attach)
        t.start()
        time.sleep(0.3)
        hull.out("start", name)
        t.join(30)
        assert not t.is_alive(), f"{name}: the attach outlived the run"
        word = cmd.split()[-1].encode()
        assert [p for _, p in demux(got["data"])] == [word + b"\n"], got


def test_an_attach_before_an_api_start_misses_nothing(api, hull, busybox, cleanup):
    import threading
    for i in range(3):
        name = f"attach-first-{i}"
        cleanup.append(name)
        hull.out("create", "--name", name, busybox, "sh", "-c", "echo first; sleep 0.5; echo last")
        got = {}

        def attach():
            sock = api.attach_socket(name, params={"stdout": 1, "stream": 1})
            got["data"] = read_all(sock)

        t = threading.Thread(target=attach)
        t.start()
        time.sleep(0.3)
        api.start(name)
        t.join(30)
        assert not t.is_alive(), f"{name}: the attach outlived the run"
        assert b"".join(p for _, p in demux(got["data"])) == b"first\nlast\n", got


def test_attach_without_upgrade_and_errors(service, hull, busybox, cleanup):
    run_d(hull, cleanup, "attach-plain", busybox, "sh", "-c", "echo plain; echo oops >&2")
    hull.out("wait", "attach-plain")
    status, headers, body = raw(service, "POST",
                                "/containers/attach-plain/attach?logs=1&stdout=1&stderr=1")
    assert status == 200
    assert sorted(demux(body)) == [(1, b"plain\n"), (2, b"oops\n")]
    status, _, body = raw(service, "POST", "/containers/nope/attach?stream=1")
    assert (status, json.loads(body)["message"]) == (404, "No such container: nope")
    status, _, body = raw(service, "POST", "/containers/attach-plain/resize?h=x&w=3")
    assert status == 400 and "h" in json.loads(body)["message"]
    status, _, body = raw(service, "POST", "/containers/attach-plain/resize?h=3&w=3")
    assert status == 409 and "is not running" in json.loads(body)["message"]


def test_clients_gone_from_attach_and_exec_leave_nothing_behind(service, sleeper):
    # A client of its own, closed before counting: the SDK keeps connections alive.
    c = docker.APIClient(base_url=service.url, version="1.41")
    pid = service.proc.pid
    before = len(fds_of(pid))
    att = c.attach_socket(sleeper, params={"stdin": 1, "stdout": 1, "stream": 1})
    e = c.exec_create(sleeper, ["sleep", "1000"], stdin=True)
    ex = c.exec_start(e["Id"], socket=True)
    deadline = time.time() + 10
    while c.exec_inspect(e["Id"])["Pid"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert len(fds_of(pid)) > before
    for s in (att, ex):
        s._sock.shutdown(socket.SHUT_RDWR)
        s._sock.close()
        s.close()
    # The exec's process runs on, as Docker's does; once it ends nothing of either is left.
    os.kill(c.exec_inspect(e["Id"])["Pid"], 9)
    c.close()
    while time.time() < deadline and len(fds_of(pid)) > before:
        time.sleep(0.05)
    assert len(fds_of(pid)) <= before, f"{before}: {' '.join(fds_of(pid))}"
    status, _, body = raw(service, "GET", f"/exec/{e['Id']}/json")
    assert (status, json.loads(body)["Running"], json.loads(body)["ExitCode"]) == (200, False, 137)


# ---- archive and export


def tar_of(files):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o640
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def members(chunks):
    import io
    import tarfile
    data = b"".join(chunks)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name: (t.extractfile(m).read() if m.isfile() else None) for m in t}


def test_put_and_get_archive_round_trip(client, hull, sleeper):
    c = client.containers.get(sleeper)
    assert c.put_archive("/tmp", tar_of({"up/hello.txt": b"hello from the api\n"}))
    assert hull.out("exec", sleeper, "cat", "/tmp/up/hello.txt") == "hello from the api"
    bits, stat = c.get_archive("/tmp/up/hello.txt")
    assert members(bits) == {"hello.txt": b"hello from the api\n"}
    assert (stat["name"], stat["size"], stat["mode"]) == ("hello.txt", 19, 0o640)
    bits, stat = c.get_archive("/tmp/up")
    assert stat["mode"] & (1 << 31), "a directory's mode has Go's ModeDir"
    assert members(bits)["up/hello.txt"] == b"hello from the api\n"
    with pytest.raises(docker.errors.NotFound) as e:
        c.get_archive("/no/such/path")
    assert e.value.explanation == f"Could not find the file /no/such/path in container {c.id}"
    with pytest.raises(docker.errors.APIError) as e:
        c.put_archive("/tmp/up/hello.txt", tar_of({"x": b""}))
    assert e.value.status_code == 400
    assert "not a directory" in e.value.explanation


def test_archive_paths_stay_inside_the_container(service, hull, sleeper):
    import base64
    import urllib.parse
    q = urllib.parse.quote("../../etc/passwd")
    status, headers, body = raw(service, "GET", f"/containers/{sleeper}/archive?path={q}")
    assert status == 200
    inside = hull.run("exec", sleeper, "cat", "/etc/passwd").stdout.encode()
    assert members([body]) == {"passwd": inside}
    assert inside != open("/etc/passwd", "rb").read()
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "passwd"
    name = f"hull-api-escape-{os.getpid()}"
    status, _, _ = raw(service, "PUT", f"/containers/{sleeper}/archive?path=../../../tmp",
                       body=tar_of({name: b"x"}), headers={"Content-Type": "application/x-tar"})
    assert status == 200
    assert not os.path.exists(f"/tmp/{name}")
    assert hull.out("exec", sleeper, "cat", f"/tmp/{name}") == "x"
    status, headers, _ = raw(service, "HEAD", f"/containers/{sleeper}/archive?path=/etc")
    assert status == 200
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "etc" and stat["mode"] & (1 << 31)
    status, _, _ = raw(service, "HEAD", f"/containers/{sleeper}/archive?path=/nope")
    assert status == 404
    status, _, body = raw(service, "GET", f"/containers/{sleeper}/archive")
    assert status == 400 and "path" in json.loads(body)["message"]


def test_export_is_the_root_file_system(client, hull, busybox, cleanup):
    run_d(hull, cleanup, "exported", busybox, "sh", "-c", "echo mark > /marker")
    hull.out("wait", "exported")
    names = members(client.containers.get("exported").export())
    assert names.get("marker") == b"mark\n", sorted(names)[:20]
    assert "bin/busybox" in names


# ---- top and stats


def test_top_lists_the_containers_processes(client, service, hull, busybox, cleanup, sleeper):
    c = client.containers.get(sleeper)
    doc = c.top()
    assert doc["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [p[7] for p in doc["Processes"]] == ["sleep 1000"]
    doc = c.top(ps_args="-o pid,args")
    assert doc["Titles"] == ["PID", "COMMAND"]
    assert [p[1] for p in doc["Processes"]] == ["sleep 1000"]
    assert int(doc["Processes"][0][0]) == hull.inspect(sleeper)["State"]["Pid"]
    run_d(hull, cleanup, "top-stopped", busybox, "true")
    hull.out("wait", "top-stopped")
    status, _, body = raw(service, "GET", "/containers/top-stopped/top")
    assert status == 409 and "is not running" in json.loads(body)["message"]


def test_stats_one_document_and_a_stream(client, sleeper):
    c = client.containers.get(sleeper)
    doc = c.stats(stream=False)
    assert doc["name"] == f"/{sleeper}" and doc["id"] == c.id
    assert doc["cpu_stats"]["online_cpus"] >= 1
    assert doc["cpu_stats"]["system_cpu_usage"] > doc["precpu_stats"]["system_cpu_usage"] > 0
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert doc["memory_stats"]["usage"] > 0 and doc["memory_stats"]["limit"] > 0
    assert doc["pids_stats"]["current"] == 1
    assert "eth0" in doc["networks"]
    one = c.stats(stream=False, one_shot=True)
    assert one["precpu_stats"]["system_cpu_usage"] == 0
    assert one["read"] != "0001-01-01T00:00:00Z" and one["preread"] == "0001-01-01T00:00:00Z"
    stream = c.stats(stream=True, decode=True)
    first = next(stream)
    assert first["id"] == c.id and first["pids_stats"]["current"] == 1
    stream.close()


# ---- the docker CLI


def test_the_docker_cli_logs_exec_and_cp(service, hull, busybox, cleanup, tmp_path):
    import shutil
    import subprocess
    docker_bin = shutil.which("docker")
    if docker_bin is None:
        pytest.skip("skipped: the docker CLI (not installed; scripts/deps installs docker.io)")
    env = dict(os.environ, DOCKER_HOST=service.url, DOCKER_CONFIG=str(tmp_path / "cfg"))

    def docker_cli(*args, input=None):
        return subprocess.run([docker_bin, *args], capture_output=True, env=env, input=input,
                              timeout=60)

    run_d(hull, cleanup, "cli-streams", busybox, "sh", "-c",
          "echo to-out; echo to-err >&2; exec sleep 1000")
    deadline = time.time() + 10
    while b"to-err" not in docker_cli("logs", "cli-streams").stderr and time.time() < deadline:
        time.sleep(0.1)
    p = docker_cli("logs", "cli-streams")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"to-out\n", b"to-err\n")
    p = docker_cli("exec", "cli-streams", "sh", "-c", "echo in-exec; exit 5")
    assert (p.returncode, p.stdout) == (5, b"in-exec\n")
    p = docker_cli("exec", "-i", "cli-streams", "cat", input=b"through stdin\n")
    assert (p.returncode, p.stdout) == (0, b"through stdin\n")
    (tmp_path / "up.txt").write_text("up the cli\n")
    p = docker_cli("cp", str(tmp_path / "up.txt"), "cli-streams:/tmp/")
    assert p.returncode == 0, p.stderr
    assert hull.out("exec", "cli-streams", "cat", "/tmp/up.txt") == "up the cli"
    p = docker_cli("cp", "cli-streams:/etc/passwd", str(tmp_path / "passwd"))
    assert p.returncode == 0, p.stderr
    inside = hull.run("exec", "cli-streams", "cat", "/etc/passwd").stdout
    assert (tmp_path / "passwd").read_text() == inside
    p = docker_cli("cp", "cli-streams:/etc", str(tmp_path / "etc"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "etc" / "passwd").read_text() == inside
    p = docker_cli("cp", "cli-streams:/no/such", str(tmp_path / "x"))
    assert p.returncode != 0 and b"Could not find the file /no/such" in p.stderr
