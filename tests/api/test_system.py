"""/_ping, /version, /info, API version checks, and Docker's errors for what hull does not
serve."""

import json

from conftest import raw


def test_ping_answers_ok_with_the_version_headers(service):
    status, headers, body = raw(service, "GET", "/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["api-version"] == "1.41"
    assert headers["ostype"] == "linux"
    assert headers["docker-experimental"] == "false"
    status, headers, body = raw(service, "HEAD", "/_ping")
    assert (status, body) == (200, b"")
    assert headers["api-version"] == "1.41"


def test_version_lets_clients_negotiate(api):
    v = api.version()
    assert v["ApiVersion"] == "1.41"
    assert v["MinAPIVersion"] == "1.24"
    assert v["Os"] == "linux"
    assert v["Components"][0]["Name"] == "Engine"


def test_info_counts_what_the_cli_sees(api, hull, busybox, cleanup):
    cleanup.append("info-counted")
    hull.out("create", "--name", "info-counted", busybox, "true")
    info = api.info()
    assert info["Containers"] == len(hull.out("ps", "-aq").split())
    assert info["ContainersStopped"] >= 1
    assert info["Images"] >= 1
    assert info["OSType"] == "linux"


def test_versioned_and_unversioned_paths_are_the_same(service):
    assert raw(service, "GET", "/v1.24/version")[0] == 200
    assert raw(service, "GET", "/v1.41/_ping")[2] == b"OK"
    status, _, body = raw(service, "GET", "/v1.99/version")
    assert status == 400
    assert "too new" in json.loads(body)["message"]
    status, _, body = raw(service, "GET", "/v1.12/version")
    assert status == 400
    assert "too old" in json.loads(body)["message"]


def test_unknown_paths_and_swarm_answer_as_docker_does(service):
    status, headers, body = raw(service, "GET", "/v1.41/nothing/here")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert "message" in json.loads(body)
    status, _, body = raw(service, "GET", "/v1.41/swarm")
    assert status == 503
    assert "not a swarm manager" in json.loads(body)["message"]


def test_oversized_headers_are_refused(service):
    status, _, _ = raw(service, "GET", "/_ping", headers={"X-Big": "a" * (128 << 10)})
    assert status == 431
    # The service is still there for the next client.
    assert raw(service, "GET", "/_ping")[2] == b"OK"
