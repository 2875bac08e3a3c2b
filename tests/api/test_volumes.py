"""/volumes/…: create, list, inspect, remove and prune, checked against `hull volume` on the
same store."""

import json

import docker
import pytest

from conftest import raw


def hull_volume(hull, name):
    return json.loads(hull.out("volume", "inspect", name))[0]


def drop(hull, *names):
    hull.run("volume", "rm", "-f", *names, check=False)


def test_create_inspect_list_remove(api, client, hull):
    try:
        v = client.volumes.create(name="api-vol", labels={"tier": "data"},
                                  driver_opts={"type": "tmpfs", "device": "tmpfs"})
        assert v.name == "api-vol"
        assert v.attrs == hull_volume(hull, "api-vol")
        assert v.attrs["Labels"] == {"tier": "data"}
        assert v.attrs["Options"] == {"type": "tmpfs", "device": "tmpfs"}
        assert client.volumes.get("api-vol").attrs == v.attrs
        listed = api.volumes(filters={"label": "tier=data"})
        assert [x["Name"] for x in listed["Volumes"]] == ["api-vol"]
        assert listed["Warnings"] == []
        assert api.volumes(filters={"name": "no-such-vol"})["Volumes"] == []
        # Creating it again answers with the volume there is.
        assert client.volumes.create(name="api-vol").attrs == v.attrs
        v.remove()
        assert "api-vol" not in hull.out("volume", "ls", "-q").split()
    finally:
        drop(hull, "api-vol")


def test_an_anonymous_volume_gets_a_name(client, hull):
    v = client.volumes.create()
    try:
        assert len(v.name) == 64
        assert hull_volume(hull, v.name)["Name"] == v.name
    finally:
        drop(hull, v.name)


def test_errors_are_dockers(api, client, hull, service, busybox):
    with pytest.raises(docker.errors.NotFound) as e:
        client.volumes.get("no-such-vol")
    assert e.value.explanation == "get no-such-vol: no such volume"
    with pytest.raises(docker.errors.APIError) as e:
        client.volumes.create(name="bad/name")
    assert e.value.status_code == 400 and "bad/name" in e.value.explanation
    with pytest.raises(docker.errors.APIError) as e:
        api.volumes(filters={"colour": "red"})
    assert e.value.status_code == 400
    status, _, body = raw(service, "POST", "/v1.41/volumes/create", body=b'{"Name": 7}',
                          headers={"Content-Type": "application/json"})
    assert status == 400 and b"invalid JSON body" in body
    # A forced remove of a missing volume succeeds, as Docker's (raw: the SDK drops `force`).
    assert raw(service, "DELETE", "/v1.41/volumes/no-such-vol?force=1")[0] == 204
    assert raw(service, "DELETE", "/v1.41/volumes/no-such-vol")[0] == 404
    try:
        client.volumes.create(name="api-vol-used")
        cid = hull.out("create", "-v", "api-vol-used:/data", busybox, "true")
        try:
            with pytest.raises(docker.errors.APIError) as e:
                api.remove_volume("api-vol-used")
            assert e.value.status_code == 409
            assert e.value.explanation == f"remove api-vol-used: volume is in use - [{cid}]"
            assert hull_volume(hull, "api-vol-used")["Name"] == "api-vol-used"
        finally:
            hull.run("rm", "-f", cid, check=False)
    finally:
        drop(hull, "api-vol-used")


def test_prune_takes_all_and_labels(api, client, hull):
    try:
        client.volumes.create(name="api-prune-a", labels={"keep": "no"})
        client.volumes.create(name="api-prune-b", labels={"keep": "yes"})
        unnamed = client.volumes.create(labels={"keep": "no"}).name
        # Without all, only anonymous volumes (made for a container) go; an unnamed volume
        # created on its own is not one, as in Docker.
        out = api.prune_volumes(filters={"label": "keep=no"})
        assert out["VolumesDeleted"] is None
        out = api.prune_volumes(filters={"all": True, "label": "keep=no"})
        assert sorted(out["VolumesDeleted"]) == sorted(["api-prune-a", unnamed])
        assert "SpaceReclaimed" in out
        names = hull.out("volume", "ls", "-q").split()
        assert "api-prune-b" in names and "api-prune-a" not in names
        out = api.prune_volumes(filters={"all": True, "label": "keep", "label!": "keep=yes"})
        assert "api-prune-b" not in (out["VolumesDeleted"] or [])
        with pytest.raises(docker.errors.APIError) as e:
            api.prune_volumes(filters={"dangling": True})
        assert e.value.status_code == 400
    finally:
        drop(hull, "api-prune-a", "api-prune-b")


def test_prune_without_all_takes_a_containers_anonymous_volume(api, hull, busybox):
    cid = hull.out("create", "-v", "/data", busybox, "true")
    anon = hull.inspect(cid)["Mounts"][0]["Name"]
    hull.out("rm", cid)
    try:
        assert anon in hull.out("volume", "ls", "-q").split()
        assert anon in api.prune_volumes()["VolumesDeleted"]
        assert anon not in hull.out("volume", "ls", "-q").split()
    finally:
        drop(hull, anon)
