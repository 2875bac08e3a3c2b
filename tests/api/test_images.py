"""/images/…: pull (with its progress stream and registry credentials), list, inspect, history,
tag, remove, prune, save and load; and /system/df. Each checked against what `hull` sees on the
same store."""

import io
import json
import os
import socket
import tarfile
import time
from pathlib import Path

import docker
import pytest

from conftest import BUSYBOX, REGISTRY, raw

AUTH_REGISTRY = os.environ.get("HULL_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
AUTH = {"username": os.environ.get("HULL_TEST_AUTH_USER", "hulltest"),
        "password": os.environ.get("HULL_TEST_AUTH_PASS", "hullpass")}
LAYERS = f"{REGISTRY}/layers"  # three layers, the first one busybox's


def hull_image_id(hull, name):
    return json.loads(hull.out("image", "inspect", name))[0]["Id"]


def rmi(client, *names):
    for n in names:
        try:
            client.images.remove(n, force=True)
        except docker.errors.NotFound:
            pass


def test_pull_gives_the_image_the_cli_sees(client, hull, busybox):
    image = client.images.pull(f"{REGISTRY}/busybox", tag="latest")
    assert image.id == hull_image_id(hull, BUSYBOX)
    assert BUSYBOX in image.tags
    assert BUSYBOX in hull.out("images", "--format", "{{.Repository}}:{{.Tag}}").split()


def test_pull_streams_dockers_progress_lines(api, client, hull, busybox):
    rmi(client, f"{LAYERS}:latest")
    try:
        lines = list(api.pull(LAYERS, tag="latest", stream=True, decode=True))
        assert lines[0] == {"status": "Pulling from layers", "id": "latest"}
        by_status = {}
        for line in lines[1:-2]:
            assert len(line["id"]) == 12, line
            by_status.setdefault(line["status"], []).append(line)
        # busybox's layer is in the store already; the two others are fetched.
        assert len(by_status["Pulling fs layer"]) == 3
        assert len(by_status["Already exists"]) == 1
        assert len(by_status["Pull complete"]) == 2
        assert len(by_status["Download complete"]) == 2
        assert len(by_status["Extracting"]) == 2
        for d in by_status["Downloading"]:
            assert 0 < d["progressDetail"]["current"] <= d["progressDetail"]["total"]
        assert lines[-2]["status"].startswith("Digest: sha256:")
        assert lines[-1] == {"status": f"Status: Downloaded newer image for {LAYERS}:latest"}
        assert hull_image_id(hull, f"{LAYERS}:latest").startswith("sha256:")
        again = list(api.pull(LAYERS, tag="latest", stream=True, decode=True))
        assert again[-1] == {"status": f"Status: Image is up to date for {LAYERS}:latest"}
        assert {line["status"] for line in again[1:-2]} == {"Pulling fs layer", "Already exists"}
    finally:
        rmi(client, f"{LAYERS}:latest")


def test_pull_of_a_missing_image_is_404_before_streaming(client, service):
    with pytest.raises(docker.errors.NotFound) as e:
        client.images.pull(f"{REGISTRY}/no-such-repo", tag="latest")
    assert "not found" in e.value.explanation
    status, _, body = raw(service, "POST", "/v1.41/images/create?tag=latest")
    assert status == 400 and b"fromImage" in body
    status, _, body = raw(service, "POST", "/v1.41/images/create?fromImage=Bad%20Name")
    assert status == 400 and b"invalid reference format" in body


def test_pull_takes_a_platform(api, client, hull):
    image = f"{REGISTRY}/multiarch"
    with pytest.raises(docker.errors.NotFound) as e:
        api.pull(image, tag="latest", platform="linux/s390x")
    assert "linux/s390x" in e.value.explanation
    with pytest.raises(docker.errors.APIError) as e:
        api.pull(image, tag="latest", platform="not a platform")
    assert e.value.status_code == 400 and "platform" in e.value.explanation
    try:
        api.pull(image, tag="latest", platform="linux/arm64")
        assert json.loads(hull.out("image", "inspect", f"{image}:latest"))[0][
            "Architecture"] == "arm64"
    finally:
        rmi(client, f"{image}:latest")


def test_pull_from_an_auth_registry_takes_x_registry_auth(api, client, hull, service, busybox):
    image = f"{AUTH_REGISTRY}/busybox"
    rmi(client, f"{image}:latest")
    # Raw, so that no credentials the SDK finds in a config file are sent.
    status, _, body = raw(service, "POST", f"/v1.41/images/create?fromImage={image}&tag=latest")
    # Docker's daemon answers 500 here (a 401 would make the docker CLI prompt for a login).
    assert status == 500, body
    assert b"unauthorized: no basic auth credentials" in body
    assert hull.run("image", "inspect", f"{image}:latest", check=False).returncode != 0
    bad = dict(AUTH, password="wrong")
    with pytest.raises(docker.errors.APIError) as e:
        api.pull(image, tag="latest", auth_config=bad)
    assert "unauthorized" in e.value.explanation
    try:
        lines = list(api.pull(image, tag="latest", auth_config=AUTH, stream=True, decode=True))
        assert "error" not in lines[-1], lines[-1]
        assert lines[-1]["status"].startswith("Status: ")
        assert hull_image_id(hull, f"{image}:latest") == hull_image_id(hull, BUSYBOX)
    finally:
        rmi(client, f"{image}:latest")


def test_list_inspect_and_filters(api, client, hull, busybox):
    image = client.images.get(busybox)
    assert image.attrs == json.loads(hull.out("image", "inspect", busybox))[0]
    rows = api.images(filters={"reference": f"{REGISTRY}/busybox"})
    assert [r["Id"] for r in rows] == [image.id]
    row = rows[0]
    assert BUSYBOX in row["RepoTags"]
    assert row["Size"] == image.attrs["Size"] and row["Created"] > 0
    assert row["RepoDigests"][0].startswith(f"{REGISTRY}/busybox@sha256:")
    assert api.images(filters={"reference": "no-such/*"}) == []
    assert all(r["RepoTags"] == ["<none>:<none>"] for r in api.images(filters={"dangling": True}))
    assert api.images(filters={"label": "no-such-label"}) == []
    assert image.id not in [r["Id"] for r in api.images(filters={"before": busybox})]
    assert image.id not in [r["Id"] for r in api.images(filters={"since": busybox})]
    with pytest.raises(docker.errors.NotFound) as e:
        api.images(filters={"since": "no-such-image:1"})
    assert e.value.explanation == "No such image: no-such-image:1"
    with pytest.raises(docker.errors.APIError) as e:
        api.images(filters={"colour": "red"})
    assert e.value.status_code == 400 and "colour" in e.value.explanation


def test_a_missing_image_is_docker_404(api):
    with pytest.raises(docker.errors.NotFound) as e:
        api.inspect_image("no-such-image:1")
    assert e.value.explanation == "No such image: no-such-image:1"
    with pytest.raises(docker.errors.NotFound):
        api.remove_image("no-such-image:1")
    with pytest.raises(docker.errors.NotFound):
        api.history("no-such-image:1")


def test_tag_and_remove_a_tag(api, client, hull, busybox):
    image = client.images.get(busybox)
    assert image.tag("hull-api/tagged", "v1")
    try:
        assert client.images.get("hull-api/tagged:v1").id == image.id
        assert hull_image_id(hull, "hull-api/tagged:v1") == image.id
        rows = api.images(filters={"reference": "hull-api/*"})
        assert [r["Id"] for r in rows] == [image.id]
        assert "hull-api/tagged:v1" in rows[0]["RepoTags"]
        assert api.remove_image("hull-api/tagged:v1") == [{"Untagged": "hull-api/tagged:v1"}]
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("hull-api/tagged:v1")
        assert client.images.get(busybox).id == image.id  # only the tag went
    finally:
        rmi(client, "hull-api/tagged:v1")


def test_tag_needs_a_repo(service, busybox):
    status, _, body = raw(service, "POST", f"/v1.41/images/{busybox}/tag")
    assert status == 400 and b"repo" in body
    status, _, _ = raw(service, "POST", f"/v1.41/images/{busybox}/tag?repo=hull-api/t&tag=x")
    assert status == 201
    status, _, body = raw(service, "DELETE", "/v1.41/images/hull-api/t:x")
    assert status == 200 and json.loads(body) == [{"Untagged": "hull-api/t:x"}]


def test_remove_refuses_an_image_a_container_uses(api, client, hull, cleanup, busybox):
    client.images.pull(LAYERS, tag="latest")
    image_id = hull_image_id(hull, f"{LAYERS}:latest")
    cleanup.append("uses-layers")
    cid = hull.out("create", "--name", "uses-layers", f"{LAYERS}:latest", "true")
    try:
        with pytest.raises(docker.errors.APIError) as e:
            api.remove_image(f"{LAYERS}:latest")
        assert e.value.status_code == 409
        assert e.value.explanation == (
            f'conflict: unable to remove repository reference "{LAYERS}:latest" (must force) '
            f"- container {cid[:12]} is using its referenced image {image_id[7:19]}")
        with pytest.raises(docker.errors.APIError) as e:
            api.remove_image(image_id)
        assert e.value.status_code == 409
        assert e.value.explanation == (
            f"conflict: unable to delete {image_id[7:19]} (must be forced) - image is being "
            f"used by stopped container {cid[:12]}")
        assert hull_image_id(hull, f"{LAYERS}:latest") == image_id
        hull.out("rm", cid)
        events = api.remove_image(f"{LAYERS}:latest")
        assert events == [{"Untagged": f"{LAYERS}:latest"}, {"Deleted": image_id}]
        assert hull.run("image", "inspect", image_id, check=False).returncode != 0
    finally:
        rmi(client, f"{LAYERS}:latest")


def test_history_is_the_configs(api, client, busybox):
    image = client.images.get(busybox)
    rows = api.history(busybox)
    assert rows[0]["Id"] == image.id and BUSYBOX in rows[0]["Tags"]
    assert all(r["Id"] == "<missing>" for r in rows[1:])
    assert sum(r["Size"] for r in rows) == image.attrs["Size"]
    assert any(r["CreatedBy"] for r in rows)


def test_save_and_load_round_trip(api, client, hull, busybox):
    image = client.images.get(busybox)
    image.tag("hull-api/saved", "v1")
    try:
        data = b"".join(api.get_image("hull-api/saved:v1"))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["hull-api/saved:v1"]
        assert api.remove_image("hull-api/saved:v1") == [{"Untagged": "hull-api/saved:v1"}]
        loaded = client.images.load(data)
        assert [i.id for i in loaded] == [image.id]
        assert hull_image_id(hull, "hull-api/saved:v1") == image.id
        both = b"".join(api.get_image(busybox))
        assert len(both) > 1 << 20
    finally:
        rmi(client, "hull-api/saved:v1")


def test_save_of_a_missing_image_is_404_and_a_bad_load_is_400(service):
    status, _, body = raw(service, "GET", "/v1.41/images/get?names=no-such:1")
    assert status == 404 and json.loads(body)["message"] == "No such image: no-such:1"
    status, _, body = raw(service, "POST", "/v1.41/images/load", body=b"not a tar at all" * 64)
    assert status == 400, body


def test_prune_removes_dangling_images_only(api, client, hull, busybox):
    client.images.pull(LAYERS, tag="latest")
    dangling = hull_image_id(hull, f"{LAYERS}:latest")
    # Moving the only tag away leaves the image dangling.
    hull.out("tag", busybox, f"{LAYERS}:latest")
    try:
        rows = api.images(filters={"dangling": True})
        assert dangling in [r["Id"] for r in rows]
        assert api.prune_images(filters={"label": "no-such-label"})["ImagesDeleted"] is None
        out = api.prune_images(filters={"dangling": True})
        assert {"Deleted": dangling} in out["ImagesDeleted"]
        assert out["SpaceReclaimed"] > 0
        assert dangling not in hull.out("images", "-q", "--no-trunc").split()
        assert client.images.get(busybox)  # tagged images stay
        with pytest.raises(docker.errors.APIError) as e:
            api.prune_images(filters={"reference": "x"})
        assert e.value.status_code == 400
    finally:
        rmi(client, f"{LAYERS}:latest")


def test_system_df_counts_images_containers_and_volumes(api, client, hull, cleanup, busybox):
    cleanup.append("df-ctr")
    hull.out("volume", "create", "df-vol")
    try:
        cid = hull.out("create", "--name", "df-ctr", "-v", "df-vol:/data", busybox, "true")
        df = api.df()
        assert df["LayersSize"] > 0 and isinstance(df["BuildCache"], list)
        image = next(i for i in df["Images"] if i["Id"] == client.images.get(busybox).id)
        assert image["Containers"] >= 1 and BUSYBOX in image["RepoTags"]
        ctr = next(c for c in df["Containers"] if c["Id"] == cid)
        assert ctr["SizeRw"] >= 0 and ctr["SizeRootFs"] >= image["Size"]
        vol = next(v for v in df["Volumes"] if v["Name"] == "df-vol")
        assert vol["UsageData"]["RefCount"] == 1
    finally:
        hull.run("rm", "-fv", "df-ctr", check=False)
        hull.run("volume", "rm", "-f", "df-vol", check=False)


def pull_threads(service):
    tasks = Path(f"/proc/{service.proc.pid}/task")
    return [t for t in tasks.iterdir() if (t / "comm").read_text().strip() == "api-pull"]


def test_a_client_gone_mid_pull_leaves_a_whole_image_and_no_thread(service, hull, client):
    image = f"{REGISTRY}/many:latest"  # over a hundred layers: the pull takes a while
    rmi(client, image)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(service.sock)
    sock.sendall(f"POST /v1.41/images/create?fromImage={REGISTRY}/many&tag=latest HTTP/1.1\r\n"
                 "Host: x\r\nContent-Length: 0\r\n\r\n".encode())
    got = b""
    while b"Pulling fs layer" not in got:
        got += sock.recv(4096)
    assert got.startswith(b"HTTP/1.1 200")
    sock.close()
    try:
        # The pull carries on to its end: the image appears whole, and its thread ends.
        deadline = time.time() + 120
        while hull.run("image", "inspect", image, check=False).returncode != 0:
            assert time.time() < deadline, "the pull never completed"
            time.sleep(0.2)
        while pull_threads(service):
            assert time.time() < deadline, "the pull thread outlived its pull"
            time.sleep(0.1)
        layers = json.loads(hull.out("image", "inspect", image))[0]["RootFS"]["Layers"]
        assert len(layers) > 100
        assert client.api.pull(f"{REGISTRY}/many", tag="latest").strip().endswith(
            f'"status":"Status: Image is up to date for {image}"}}')
    finally:
        rmi(client, image)


def test_the_apis_image_changes_are_journaled(api, client, busybox):
    t0 = time.time()
    client.images.pull(f"{REGISTRY}/busybox", tag="latest")
    api.tag(busybox, "hull-api/ev", "v1")
    api.remove_image("hull-api/ev:v1")
    evs = list(client.events(since=t0, until=time.time() + 1, decode=True,
                             filters={"type": "image"}))
    seen = [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in evs]
    assert ("pull", BUSYBOX) in seen
    assert ("tag", "hull-api/ev:v1") in seen
    assert any(action == "untag" for action, _ in seen), seen
