"""POST /build (Docker's classic builder) and /build/prune through the Docker SDK, checked against
what `hull` sees on the same store."""

import base64
import bz2
import io
import json
import lzma
import os
import tarfile
import time

import docker
import pytest

from conftest import UnixHTTPConnection, raw, wait_for


def context_tar(files, gzip=False):
    """A context tar of `files` ({path: text}), as a file object."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gzip else "w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def said(logs):
    """The build's `stream` text, joined."""
    return "".join(chunk.get("stream", "") for chunk in logs)


def no_build_containers(hull):
    names = hull.out("ps", "-a", "--format", "{{.Names}}").split()
    return [n for n in names if n.startswith("hull-build-")] == []


def remove_images(client, *names):
    for n in names:
        try:
            client.images.remove(n, force=True)
        except docker.errors.NotFound:
            pass


def test_a_gzip_context_builds_a_tagged_runnable_image(client, hull, busybox):
    dockerfile = (f"FROM {busybox}\nARG WHO=nobody\nCOPY greeting.txt /greeting.txt\n"
                  "RUN echo \"built for $WHO\" && echo \"for $WHO\" >> /greeting.txt\n"
                  "CMD [\"cat\", \"/greeting.txt\"]\n")
    tar = context_tar({"Dockerfile": dockerfile, "greeting.txt": "hello\n"}, gzip=True)
    try:
        image, logs = client.images.build(fileobj=tar, custom_context=True, encoding="gzip",
                                          tag="hull-api/built:1", buildargs={"WHO": "sdk"},
                                          rm=True)
        logs = list(logs)
        text = said(logs)
        assert "Step 1/5 : FROM" in text, text
        assert "Step 4/5 : RUN echo" in text, text
        assert "built for sdk\n" in text, "the RUN's output is streamed"
        assert "Successfully tagged hull-api/built:1" in text, text
        aux = [c["aux"]["ID"] for c in logs if "aux" in c]
        assert aux == [image.id], logs
        assert "hull-api/built:1" in image.tags
        assert hull.out("images", "-q", "--no-trunc", "hull-api/built:1") == image.id
        assert hull.out("run", "--rm", "hull-api/built:1") == "hello\nfor sdk"
        out = client.containers.run("hull-api/built:1", remove=True)
        assert out == b"hello\nfor sdk\n"
        assert no_build_containers(hull)
    finally:
        remove_images(client, "hull-api/built:1")


def test_a_directory_context_with_labels_dockerfile_and_target(client, hull, busybox, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Build.file").write_text(
        f"FROM {busybox} AS base\nRUN echo base > /stage\n"
        f"FROM {busybox}\nRUN echo final > /stage\n")
    (tmp_path / "skipped.txt").write_text("no\n")
    (tmp_path / ".dockerignore").write_text("skipped.txt\n")
    try:
        image, _ = client.images.build(path=str(tmp_path), dockerfile="sub/Build.file",
                                       target="base", tag="hull-api/staged",
                                       labels={"built.by": "sdk"}, nocache=True)
        doc = json.loads(hull.out("image", "inspect", "hull-api/staged"))[0]
        assert doc["Id"] == image.id
        assert doc["Config"]["Labels"]["built.by"] == "sdk"
        assert hull.out("run", "--rm", "hull-api/staged", "cat", "/stage") == "base"
    finally:
        remove_images(client, "hull-api/staged")


def test_a_failing_run_raises_build_error_and_leaves_no_container(api, client, hull, busybox):
    tar = context_tar({"Dockerfile": f"FROM {busybox}\nRUN echo before; exit 3\n"})
    with pytest.raises(docker.errors.BuildError) as e:
        client.images.build(fileobj=tar, custom_context=True, tag="hull-api/broken")
    assert "RUN echo before; exit 3 (Dockerfile:2): exit code 3" in str(e.value), e.value
    assert "before\n" in said(e.value.build_log)
    assert no_build_containers(hull)
    assert hull.out("images", "-q", "hull-api/broken") == ""
    # The docker CLI exits with the code Docker's builder puts in errorDetail.
    tar.seek(0)
    lines = list(api.build(fileobj=tar, custom_context=True, decode=True))
    assert lines[-1]["errorDetail"]["code"] == 3, lines[-1]


def test_a_dockerfile_error_is_the_streams_last_line(api):
    tar = context_tar({"Dockerfile": "FROM busybox\nFROBNICATE now\n"})
    lines = list(api.build(fileobj=tar, custom_context=True, decode=True))
    assert "Dockerfile:2" in lines[-1]["error"], lines
    tar = context_tar({"Other": "FROM busybox\n"})
    lines = list(api.build(fileobj=tar, custom_context=True, decode=True))
    assert "Cannot locate specified Dockerfile: Dockerfile" in lines[-1]["error"], lines


def test_quiet_says_only_the_id(api, client, busybox):
    tar = context_tar({"Dockerfile": f"FROM {busybox}\nRUN echo not shown\n"})
    lines = list(api.build(fileobj=tar, custom_context=True, quiet=True, nocache=True,
                           decode=True))
    streams = [c["stream"] for c in lines if "stream" in c]
    assert len(streams) == 1 and streams[0].startswith("sha256:"), lines
    client.images.remove(streams[0].strip())


def test_bad_contexts_and_parameters_are_400s(service):
    plain = context_tar({"Dockerfile": "FROM busybox\n"}).getvalue()
    for body, kind in [(bz2.compress(plain), "bzip2"), (lzma.compress(plain), "xz")]:
        status, _, reply = raw(service, "POST", "/v1.41/build", body=body,
                               headers={"Content-Type": "application/x-tar"})
        assert status == 400, reply
        assert kind in json.loads(reply)["message"]
    for query, field in [("buildargs=nope", "buildargs"), ("t=Bad%20Tag", "t:"),
                         ("platform=linux/s390x", "platform"), ("networkmode=x", "networkmode")]:
        # Refused before the body is read (the connection then closes): none is sent.
        status, _, reply = raw(service, "POST", f"/build?{query}")
        assert status == 400, (query, reply)
        assert field in json.loads(reply)["message"], reply


def test_build_prune_forgets_the_step_cache(api, client, busybox):
    tar = context_tar({"Dockerfile": f"FROM {busybox}\nRUN echo cached > /c\n"})
    image, _ = client.images.build(fileobj=tar, custom_context=True, tag="hull-api/cached")
    try:
        tar.seek(0)
        again = said(api.build(fileobj=tar, custom_context=True, decode=True))
        assert "Using cache" in again, again
        records = api.df()["BuildCache"]
        steps = {r["ID"] for r in records if r["Type"] == "regular"}
        assert steps and all(r["Size"] > 0 and not r["InUse"] for r in records), records
        pruned = api.prune_builds()
        assert pruned["SpaceReclaimed"] > 0 and steps <= set(pruned["CachesDeleted"]), pruned
        assert api.df()["BuildCache"] == [], "prune leaves no record no build uses"
        tar.seek(0)
        after = said(api.build(fileobj=tar, custom_context=True, decode=True))
        assert "Using cache" not in after and "Running in" in after, after
        # As Docker's classic builder streams it: the RUN's container goes before its image.
        assert after.index("Running in") < after.index("Removing intermediate container"), after
    finally:
        remove_images(client, "hull-api/cached")


def test_a_client_that_goes_away_stops_the_build_and_its_run(service, hull, busybox):
    tar = context_tar({"Dockerfile": f"FROM {busybox}\nRUN echo running; sleep 300\n"})
    c = UnixHTTPConnection(service.sock)
    try:
        c.request("POST", "/v1.41/build?t=hull-api/abandoned", body=tar.getvalue(),
                  headers={"Content-Type": "application/x-tar"})
        r = c.getresponse()
        assert r.status == 200
        seen = b""
        while b"running\\n" not in seen:
            line = r.fp.readline()
            assert line, f"the stream ended early: {seen!r}"
            seen += line
    finally:
        c.close()
    wait_for(lambda: no_build_containers(hull), secs=60, what="the RUN container to go")
    assert hull.out("images", "-q", "hull-api/abandoned") == ""


def test_a_base_image_behind_a_login_is_pulled_with_x_registry_config(service, client):
    registry = os.environ.get("HULL_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
    user = os.environ.get("HULL_TEST_AUTH_USER", "hulltest")
    password = os.environ.get("HULL_TEST_AUTH_PASS", "hullpass")
    base = f"{registry}/busybox:latest"
    remove_images(client, base)
    body = context_tar({"Dockerfile": f"FROM {base}\nENV FROM_AUTH=1\n"}).getvalue()

    def build(headers):
        status, _, reply = raw(service, "POST", "/v1.41/build", body=body,
                               headers={"Content-Type": "application/x-tar", **headers})
        assert status == 200, reply
        return [json.loads(line) for line in reply.splitlines() if line.strip()]

    try:
        refused = build({})
        assert "error" in refused[-1] and base in refused[-1]["error"], refused
        logins = {registry: {"username": user, "password": password}}
        header = base64.urlsafe_b64encode(json.dumps(logins).encode()).decode()
        lines = build({"X-Registry-Config": header})
        assert "aux" in lines[-1], lines
        client.images.remove(lines[-1]["aux"]["ID"])
    finally:
        remove_images(client, base)


def test_pull_pulls_a_base_the_store_has(client, busybox):
    tar = context_tar({"Dockerfile": f"FROM {busybox}\nENV PULLED=1\n"})
    pulled = lambda since: [e for e in client.events(since=since, until=time.time() + 1,
                                                    decode=True, filters={"type": "image"})
                            if e["Action"] == "pull"]
    t0 = time.time()
    image, _ = client.images.build(fileobj=tar, custom_context=True)
    assert pulled(t0) == [], "the store has the base: no pull without pull=1"
    t1 = time.time()
    tar.seek(0)
    _, logs = client.images.build(fileobj=tar, custom_context=True, pull=True)
    assert [e["Actor"]["ID"] for e in pulled(t1)] == [busybox]
    statuses = [c["status"] for c in logs if "status" in c]
    assert statuses[-1] == f"Status: Image is up to date for {busybox}", statuses
    client.images.remove(image.id)
