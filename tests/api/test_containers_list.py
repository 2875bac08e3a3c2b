"""GET /containers/json and /containers/{id}/json: the same containers, names, IDs, labels
and inspect documents as the command line."""

import docker
import pytest


def test_inspect_is_the_cli_document(client, hull, busybox, cleanup):
    cleanup.append("same-doc")
    cid = hull.out("create", "--name", "same-doc", "--label", "a=b", busybox, "true")
    through_api = client.api.inspect_container("same-doc")
    assert through_api == hull.inspect(cid)
    assert through_api["Config"]["Labels"] == {"a": "b"}


def test_list_shows_created_containers_only_with_all(client, hull, busybox, cleanup):
    cleanup.append("listed")
    cid = hull.out("create", "--name", "listed", "--label", "tier=api", busybox, "true")
    assert cid not in [c["Id"] for c in client.api.containers()]
    rows = client.api.containers(all=True, filters={"label": "tier=api"})
    assert [r["Id"] for r in rows] == [cid]
    row = rows[0]
    assert row["Names"] == ["/listed"]
    assert row["Image"] == busybox
    assert row["State"] == "created"
    assert row["Status"] == "Created"
    assert row["Labels"] == {"tier": "api"}
    assert client.api.containers(all=True, filters={"name": "no-such-name"}) == []


def test_a_missing_container_is_docker_404(client):
    with pytest.raises(docker.errors.NotFound) as e:
        client.api.inspect_container("no-such-ctr")
    assert e.value.explanation == "No such container: no-such-ctr"


def test_a_bad_filter_is_400(client):
    with pytest.raises(docker.errors.APIError) as e:
        client.api.containers(all=True, filters={"status": "sleeping"})
    assert e.value.status_code == 400
    assert "status=sleeping" in e.value.explanation
