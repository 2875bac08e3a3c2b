"""The API tier: hull's Docker Engine API (`hull system service`) driven by the Docker SDK for
Python, the client most tools are written against. One service per test session, on a store of
its own under a temp dir; `hull` runs CLI commands on that same store, to check that what the API
does is what the command line sees. Needs root, `cargo build -p hull` and `scripts/fixtures start`.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
HULL = os.environ.get("HULL_BIN", str(REPO / "target/debug/hull"))
REGISTRY = os.environ.get("HULL_TEST_REGISTRY", "127.0.0.1:5000")
BUSYBOX = f"{REGISTRY}/busybox:latest"


class Hull:
    """The command line on the service's store."""

    def __init__(self, root):
        self.root = root

    def run(self, *args, check=True, input=None):
        p = subprocess.run([HULL, "--root", self.root, *args], capture_output=True, text=True,
                           input=input, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: exit {p.returncode}: {p.stderr}")
        return p

    def out(self, *args):
        return self.run(*args).stdout.strip()

    def inspect(self, name):
        return json.loads(self.out("inspect", name))[0]


def wait_for_socket(path, proc, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hull system service exited {proc.returncode}: "
                                 f"{proc.stderr.read().decode(errors='replace')}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"hull system service never listened on {path}")


def wait_for(pred, secs=30, what="condition"):
    """Polls `pred` until it holds, failing after `secs`."""
    deadline = time.time() + secs
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def clean_store(h):
    """Removes every container, volume and network the tests made on the store."""
    ids = h.run("ps", "-aq", check=False).stdout.split()
    if ids:
        h.run("rm", "-fv", *ids, check=False)
    h.run("volume", "prune", "-af", check=False)
    h.run("network", "prune", "-f", check=False)


class Service:
    def __init__(self, root, sock, proc):
        self.root, self.sock, self.proc = root, sock, proc
        self.url = f"unix://{sock}"


@pytest.fixture(scope="session")
def service():
    if os.geteuid() != 0:
        pytest.skip("the API tier runs containers: it needs root")
    tmp = tempfile.mkdtemp(prefix="hull-api.", dir="/var/tmp")
    root, sock = f"{tmp}/root", f"{tmp}/api.sock"
    try:
        proc = subprocess.Popen([HULL, "--root", root, "system", "service", "--time", "0",
                                 f"unix://{sock}"], stderr=subprocess.PIPE)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        wait_for_socket(sock, proc)
        yield Service(root, sock, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        clean_store(Hull(root))
        subprocess.run(["umount", "-R", "-l", root], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def client(service):
    c = docker.DockerClient(base_url=service.url, version="1.41", timeout=120)
    yield c
    c.close()


@pytest.fixture(scope="session")
def api(client):
    """The SDK's low-level client, for the parameters and streams the high-level one hides."""
    return client.api


@pytest.fixture(scope="session")
def hull(service):
    return Hull(service.root)


@pytest.fixture(scope="session")
def busybox(client):
    """The fixture registry's busybox, pulled once through the API (`POST /images/create`)."""
    client.images.pull(BUSYBOX.rsplit(":", 1)[0], tag="latest")
    return BUSYBOX


@pytest.fixture
def cleanup(client):
    """Containers a test names here are removed (forced, with volumes) after it, pass or fail."""
    names = []
    yield names
    for n in names:
        try:
            client.api.remove_container(n, force=True, v=True)
        except docker.errors.NotFound:
            pass


class UnixHTTPConnection(__import__("http.client").client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def raw(service, method, path, body=None, headers=None):
    """One raw request: (status, headers as a dict, body bytes)."""
    c = UnixHTTPConnection(service.sock)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()
