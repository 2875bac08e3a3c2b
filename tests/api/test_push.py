"""POST /images/{name}/push: Docker's progress lines, the registry's digest equal to the pulled
source's, X-Registry-Auth credentials, and no tag left by a refused push. Every pushed manifest
is deleted again through the registry API."""

import base64
import hashlib
import os
import urllib.request

import docker
import pytest

from conftest import BUSYBOX, REGISTRY

AUTH_REGISTRY = os.environ.get("HULL_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
AUTH = {"username": os.environ.get("HULL_TEST_AUTH_USER", "hulltest"),
        "password": os.environ.get("HULL_TEST_AUTH_PASS", "hullpass")}
ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


def registry_request(registry, path, method="GET", auth=None):
    req = urllib.request.Request(f"http://{registry}{path}", method=method,
                                 headers={"Accept": ACCEPT})
    if auth:
        pair = f"{auth['username']}:{auth['password']}".encode()
        req.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def manifest_digest(registry, repo, tag, auth=None):
    status, body = registry_request(registry, f"/v2/{repo}/manifests/{tag}", auth=auth)
    return "sha256:" + hashlib.sha256(body).hexdigest() if status == 200 else None


@pytest.fixture
def pushed():
    """(registry, repo, tag, auth) a test pushed; their manifests are deleted afterwards."""
    made = []
    yield made
    for registry, repo, tag, auth in made:
        digest = manifest_digest(registry, repo, tag, auth)
        if digest:
            registry_request(registry, f"/v2/{repo}/manifests/{digest}", "DELETE", auth)


def test_push_streams_dockers_lines_and_keeps_the_source_digest(api, client, busybox, pushed):
    repo = f"hull-push-api/{os.getpid()}-a"
    target = f"{REGISTRY}/{repo}"
    client.images.get(BUSYBOX).tag(target, tag="v1")
    pushed.append((REGISTRY, repo, "v1", None))
    lines = list(api.push(target, tag="v1", stream=True, decode=True))
    assert lines[0] == {"status": f"The push refers to repository [{target}]"}
    assert all("error" not in line for line in lines), lines
    layer_states = {line["status"] for line in lines if "id" in line}
    assert "Preparing" in layer_states
    assert "Mounted from busybox" in layer_states, layer_states
    source = manifest_digest(REGISTRY, "busybox", "latest")
    aux = lines[-1]["aux"]
    assert aux["Tag"] == "v1" and aux["Digest"] == source, lines[-1]
    assert lines[-2]["status"] == f"v1: digest: {source} size: {aux['Size']}"
    assert manifest_digest(REGISTRY, repo, "v1") == source
    again = list(api.push(target, tag="v1", stream=True, decode=True))
    assert "Layer already exists" in {line.get("status") for line in again}


def test_push_takes_x_registry_auth_and_a_refusal_leaves_no_tag(api, client, busybox, pushed):
    repo = f"hull-push-api/{os.getpid()}-b"
    target = f"{AUTH_REGISTRY}/{repo}"
    client.images.get(BUSYBOX).tag(target, tag="v1")
    pushed.append((AUTH_REGISTRY, repo, "v1", AUTH))
    bad = dict(AUTH, password="wrong")
    lines = list(api.push(target, tag="v1", auth_config=bad, stream=True, decode=True))
    assert "unauthorized" in lines[-1]["error"], lines[-1]
    assert manifest_digest(AUTH_REGISTRY, repo, "v1", AUTH) is None
    lines = list(api.push(target, tag="v1", auth_config=AUTH, stream=True, decode=True))
    assert "error" not in lines[-1], lines[-1]
    assert manifest_digest(AUTH_REGISTRY, repo, "v1", AUTH) == lines[-1]["aux"]["Digest"]


def test_push_of_a_missing_image_is_404(api):
    with pytest.raises(docker.errors.NotFound):
        for _ in api.push(f"{REGISTRY}/hull-push-api/none", tag="v1", stream=True):
            pass
