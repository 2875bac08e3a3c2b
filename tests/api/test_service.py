"""`hull system service` itself: the idle exit, the socket (mode, a live one kept, a stale one
replaced), TCP with its warning, systemd socket activation, SIGTERM, and bad URIs. Each test runs
its own service on the session's store (so two services share one store, as they may)."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import HULL, UnixHTTPConnection, raw, wait_for_socket


class Sock:
    def __init__(self, path):
        self.sock = path


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="hull-svc.", dir="/var/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(service, *args):
    return subprocess.Popen([HULL, "--root", service.root, "system", "service", *args],
                            stderr=subprocess.PIPE, text=True)


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait(10)


def exited_within(p, secs):
    try:
        p.wait(secs)
        return True
    except subprocess.TimeoutExpired:
        return False


def test_idle_service_exits_but_not_while_a_connection_is_open(service, tmp):
    path = f"{tmp}/s.sock"
    p = start(service, "--time", "1", f"unix://{path}")
    try:
        wait_for_socket(path, p)
        c = UnixHTTPConnection(path)
        c.connect()
        # Open for three idle periods: the service must stay.
        assert not exited_within(p, 3), "the service exited while a connection was open"
        c.request("GET", "/_ping")
        assert c.getresponse().read() == b"OK"
        c.close()
        assert exited_within(p, 10), "the idle service did not exit"
        assert p.returncode == 0
        assert not os.path.exists(path), "the service left its socket file"
    finally:
        stop(p)


def test_time_zero_never_exits(service, tmp):
    path = f"{tmp}/s.sock"
    p = start(service, "--time", "0", f"unix://{path}")
    try:
        wait_for_socket(path, p)
        assert not exited_within(p, 3)
        assert raw(Sock(path), "GET", "/_ping")[2] == b"OK"
    finally:
        stop(p)


def test_socket_is_0660_a_live_one_is_kept_and_sigterm_removes_it(service, tmp):
    path = f"{tmp}/s.sock"
    first = start(service, "--time", "0", f"unix://{path}")
    try:
        wait_for_socket(path, first)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        second = start(service, "--time", "0", f"unix://{path}")
        assert exited_within(second, 10)
        err = second.stderr.read()
        assert second.returncode != 0
        assert "another service is listening there" in err
        assert len(err.strip().splitlines()) == 1, err
        assert raw(Sock(path), "GET", "/_ping")[2] == b"OK"
        first.send_signal(signal.SIGTERM)
        assert exited_within(first, 10)
        assert not os.path.exists(path)
    finally:
        stop(first)


def test_a_stale_socket_file_is_replaced(service, tmp):
    path = f"{tmp}/s.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays, nobody listens: what a killed service leaves
    p = start(service, "--time", "0", f"unix://{path}")
    try:
        wait_for_socket(path, p)
        assert raw(Sock(path), "GET", "/_ping")[2] == b"OK"
    finally:
        stop(p)


def test_tcp_serves_with_a_warning(service):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = start(service, "--time", "0", f"tcp://127.0.0.1:{port}")
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert time.time() < deadline, "the service never listened on TCP"
                time.sleep(0.05)
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v1.41/version")
        r = c.getresponse()
        assert r.status == 200 and b'"ApiVersion":"1.41"' in r.read()
        p.send_signal(signal.SIGTERM)
        assert exited_within(p, 10)
        assert "WARNING" in p.stderr.read()
    finally:
        stop(p)


def test_bad_uris_are_one_line_errors(service):
    for uri, why in [("http://x", "neither unix:///PATH nor tcp://HOST:PORT"),
                     ("tcp://256.0.0.1:1", "256.0.0.1")]:
        p = subprocess.run([HULL, "--root", service.root, "system", "service", uri],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0] and uri in lines[0], p.stderr


def test_socket_activation(service, tmp):
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        pytest.skip("socket activation: systemd-socket-activate is not installed")
    path = f"{tmp}/activated.sock"
    p = subprocess.Popen([tool, "-l", path, HULL, "--root", service.root, "system", "service",
                          "--time", "1"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not os.path.exists(path):
            assert time.time() < deadline and p.poll() is None, "no socket from systemd"
            time.sleep(0.02)
        status, headers, body = raw(Sock(path), "GET", "/_ping")
        assert (status, body) == (200, b"OK")
        assert headers["api-version"] == "1.41"
        # Idle, it exits; the socket is systemd's, so it stays.
        assert exited_within(p, 10)
        assert os.path.exists(path)
    finally:
        stop(p)
