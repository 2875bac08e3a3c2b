"""/networks/…: create, list, inspect, remove, connect, disconnect and prune, checked against
`hull network` on the same store. Only networks these tests create are touched (other sessions
share the host), and each is removed after its test."""

import json

import docker
import pytest
from docker.types import IPAMConfig, IPAMPool

from conftest import raw


def hull_network(hull, name):
    return json.loads(hull.out("network", "inspect", name))[0]


def drop(hull, *names):
    for n in names:
        hull.run("network", "rm", n, check=False)


def test_create_inspect_list_remove(api, client, hull):
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet="10.213.77.0/24", gateway="10.213.77.1")])
    try:
        net = client.networks.create("api-net-a", driver="bridge", ipam=ipam,
                                     labels={"tier": "front"}, check_duplicate=True)
        doc = hull_network(hull, "api-net-a")
        assert net.id == doc["Id"] and len(net.id) == 64
        assert doc["IPAM"]["Config"] == [{"Subnet": "10.213.77.0/24", "Gateway": "10.213.77.1"}]
        assert doc["Labels"] == {"tier": "front"}
        assert api.inspect_network("api-net-a") == doc
        assert api.inspect_network(net.id[:12])["Name"] == "api-net-a"
        names = [n["Name"] for n in api.networks()]
        assert {"api-net-a", "bridge", "host", "none"} <= set(names)
        assert [n["Name"] for n in api.networks(names=["api-net-a"])] == ["api-net-a"]
        assert [n["Id"] for n in api.networks(filters={"label": "tier=front"})] == [net.id]
        builtin = {n["Name"] for n in api.networks(filters={"type": "builtin"})}
        assert builtin == {"bridge", "host", "none"}
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create("api-net-a")
        assert e.value.status_code == 409
        assert e.value.explanation == "network with name api-net-a already exists"
        net.remove()
        assert "api-net-a" not in hull.out("network", "ls").split()
    finally:
        drop(hull, "api-net-a")


def test_errors_are_dockers(api, client, service):
    with pytest.raises(docker.errors.NotFound) as e:
        api.inspect_network("no-such-net")
    assert e.value.explanation == "network no-such-net not found"
    with pytest.raises(docker.errors.NotFound):
        api.remove_network("no-such-net")
    for name in ("host", "none", "bridge"):
        with pytest.raises(docker.errors.APIError) as e:
            api.remove_network(name)
        assert e.value.status_code == 403
        assert "pre-defined network" in e.value.explanation
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create(name)
        assert e.value.status_code == 403
    with pytest.raises(docker.errors.APIError) as e:
        client.networks.create("api-net-bad", ipam=IPAMConfig(
            pool_configs=[IPAMPool(subnet="10.213.78.0/33")]))
    assert e.value.status_code == 400 and "Subnet" in e.value.explanation
    with pytest.raises(docker.errors.APIError) as e:
        client.networks.create("api-net-bad", internal=True)
    assert e.value.status_code == 400 and "Internal" in e.value.explanation
    with pytest.raises(docker.errors.APIError) as e:
        api.networks(filters={"colour": "red"})
    assert e.value.status_code == 400
    status, _, body = raw(service, "POST", "/v1.41/networks/create", body=b"{}",
                          headers={"Content-Type": "application/json"})
    assert status == 400 and b"Name" in body


def test_connect_disconnect_and_in_use(api, client, hull, busybox):
    net = client.networks.create("api-net-c")
    cid = None
    try:
        cid = hull.out("run", "-d", "--name", "api-net-ctr", busybox, "sleep", "60")
        api.connect_container_to_network(cid, "api-net-c", aliases=["web-alias"],
                                         ipv4_address="")
        doc = api.inspect_network("api-net-c")
        assert list(doc["Containers"]) == [cid]
        assert hull_network(hull, "api-net-c")["Containers"] == doc["Containers"]
        with pytest.raises(docker.errors.APIError) as e:
            net.remove()
        assert e.value.status_code == 403
        assert e.value.explanation == (
            f"error while removing network: network api-net-c id {net.id} has active endpoints")
        with pytest.raises(docker.errors.APIError) as e:
            api.connect_container_to_network(cid, "api-net-c")
        assert e.value.status_code == 409
        with pytest.raises(docker.errors.NotFound) as e:
            api.connect_container_to_network("no-such-ctr", "api-net-c")
        assert e.value.explanation == "No such container: no-such-ctr"
        api.disconnect_container_from_network(cid, "api-net-c")
        assert api.inspect_network("api-net-c")["Containers"] == {}
        net.remove()
    finally:
        if cid:
            hull.run("rm", "-f", cid, check=False)
        drop(hull, "api-net-c")


def test_prune_takes_label_filters(api, client, hull):
    try:
        client.networks.create("api-net-p1", labels={"prune": "me"})
        client.networks.create("api-net-p2", labels={"prune": "not-me"})
        out = api.prune_networks(filters={"label": "prune=me"})
        assert out["NetworksDeleted"] == ["api-net-p1"]
        names = hull.out("network", "ls").split()
        assert "api-net-p1" not in names and "api-net-p2" in names
        with pytest.raises(docker.errors.APIError) as e:
            api.prune_networks(filters={"colour": "red"})
        assert e.value.status_code == 400
    finally:
        drop(hull, "api-net-p1", "api-net-p2")
