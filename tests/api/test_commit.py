"""POST /commit: a container's changes as a new image through the Docker SDK, checked against
what `hull` sees on the same store."""

import json

import docker
import pytest

from conftest import raw, wait_for


def test_commit_through_the_sdk(api, client, hull, cleanup, busybox):
    cleanup.append("api-commit")
    c = client.containers.run(busybox, ["sh", "-c", "echo api > /made; rm /bin/vi; sleep 300"],
                              name="api-commit", detach=True)
    wait_for(lambda: c.exec_run(["test", "-e", "/made"]).exit_code == 0, what="the change")
    try:
        image = c.commit(repository="hull-api/committed", tag="v1", message="via api",
                         author="sdk", changes=["ENV FROM=api", "CMD [\"cat\", \"/made\"]"],
                         conf={"Labels": {"from-body": "yes"}})
        assert image.id.startswith("sha256:")
        doc = json.loads(hull.out("image", "inspect", "hull-api/committed:v1"))[0]
        assert doc["Id"] == image.id
        assert doc["Comment"] == "via api" and doc["Author"] == "sdk"
        assert "FROM=api" in doc["Config"]["Env"]
        assert doc["Config"]["Cmd"] == ["cat", "/made"]
        assert doc["Config"]["Labels"]["from-body"] == "yes"
        c.reload()
        assert c.status == "running", "unpaused after the commit"
        out = client.containers.run("hull-api/committed:v1", remove=True)
        assert out == b"api\n"
        gone = client.containers.run("hull-api/committed:v1", ["sh", "-c", "test -e /bin/vi || echo gone"],
                                     remove=True)
        assert gone == b"gone\n"
        rows = api.history("hull-api/committed:v1")
        assert rows[0]["Id"] == image.id and rows[0]["Comment"] == "via api"
    finally:
        try:
            client.images.remove("hull-api/committed:v1", force=True)
        except docker.errors.NotFound:
            pass


def test_commit_errors_are_docker_shaped(service, client, cleanup, busybox):
    status, _, body = raw(service, "POST", "/v1.41/commit?container=no-such-ctr")
    assert status == 404, body
    assert json.loads(body)["message"] == "No such container: no-such-ctr"
    status, _, body = raw(service, "POST", "/v1.41/commit")
    assert status == 400, body
    cleanup.append("api-commit-bad")
    client.containers.create(busybox, ["true"], name="api-commit-bad")
    status, _, body = raw(service, "POST", "/v1.41/commit?container=api-commit-bad&changes=RUN+make")
    assert status == 400, body
    assert "unknown instruction RUN" in json.loads(body)["message"]
