"""GET /events: the store's events journal as the SDK reads it. Events made by the command line
on the same store come through the API with Docker's fields, in order; filters and the
since/until window apply; a follower sees what happens after it started, and a client that goes
away leaves no reader behind."""

import json
import os
import threading
import time
from urllib.parse import urlencode

import pytest

from conftest import raw


def journal_fds(service):
    """How many of the service's descriptors are open on the events journal."""
    fd_dir = f"/proc/{service.proc.pid}/fd"
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            if "/events/events.log" in os.readlink(f"{fd_dir}/{fd}"):
                n += 1
        except OSError:
            pass
    return n


def test_a_containers_life_made_by_the_cli(client, hull, busybox, cleanup):
    cleanup.append("api-ev")
    t0 = time.time()
    cid = hull.out("create", "--name", "api-ev", "--label", "tier=api", busybox, "sleep", "60")
    hull.out("start", "api-ev")
    hull.out("stop", "-t", "1", "api-ev")
    hull.out("rm", "api-ev")
    evs = list(client.events(since=t0, until=time.time(), decode=True,
                             filters={"container": "api-ev"}))
    actions = [e["Action"] for e in evs]
    assert actions[0] == "create" and actions[-1] == "destroy", actions
    for a, b in [("create", "start"), ("start", "die"), ("die", "stop"), ("stop", "destroy")]:
        assert actions.index(a) < actions.index(b), actions
    for e in evs:
        assert e["Type"] == "container" and e["scope"] == "local"
        assert e["Actor"]["ID"] == e["id"] == cid
        assert e["status"] == e["Action"]
        assert e["from"] == busybox
        attrs = e["Actor"]["Attributes"]
        assert (attrs["name"], attrs["image"], attrs["tier"]) == ("api-ev", busybox, "api")
        assert e["time"] == e["timeNano"] // 10**9
    die = evs[actions.index("die")]
    assert die["Actor"]["Attributes"]["exitCode"] in ("137", "143")


def test_filters_and_the_window(client, hull):
    t0 = time.time()
    hull.out("volume", "create", "api-ev-a")
    hull.out("volume", "rm", "api-ev-a")
    time.sleep(0.05)
    t1 = time.time()
    hull.out("volume", "create", "api-ev-b")
    hull.out("volume", "rm", "api-ev-b")
    t2 = time.time()

    def ids(**kw):
        return [(e["Action"], e["Actor"]["ID"]) for e in client.events(decode=True, **kw)]

    assert ids(since=t0, until=t2, filters={"type": "volume"}) == [
        ("create", "api-ev-a"), ("destroy", "api-ev-a"),
        ("create", "api-ev-b"), ("destroy", "api-ev-b")]
    assert ids(since=t1, until=t2, filters={"type": "volume"}) == [
        ("create", "api-ev-b"), ("destroy", "api-ev-b")]
    assert ids(since=t0, until=t1, filters={"volume": "api-ev-a", "event": "destroy"}) == [
        ("destroy", "api-ev-a")]
    assert ids(since=t0, until=t2, filters={"type": ["network", "image"]}) == []
    assert ids(since=t0, until=t2, filters={"container": "api-ev-a"}) == []


def test_a_follower_receives_what_happens_after_it_started(client, hull, service):
    stream = client.events(decode=True, filters={"type": "volume", "volume": "api-ev-follow"})
    got = []
    reader = threading.Thread(target=lambda: got.append(next(stream)), daemon=True)
    reader.start()
    hull.out("volume", "create", "api-ev-follow")
    reader.join(20)
    try:
        assert got and got[0]["Action"] == "create", got
        assert got[0]["Actor"]["ID"] == "api-ev-follow"
        assert "status" not in got[0], "no legacy fields for volumes"
        assert journal_fds(service) > 0, "the follower reads the journal"
        # Its last event, read before the client goes: nothing is sent after the close.
        hull.out("volume", "rm", "api-ev-follow")
        assert next(stream)["Action"] == "destroy"
    finally:
        stream.close()
        hull.run("volume", "rm", "api-ev-follow", check=False)
    # The client went away while nothing happens: the service's reader notices anyway and
    # closes the journal.
    deadline = time.time() + 10
    while journal_fds(service) and time.time() < deadline:
        time.sleep(0.1)
    assert journal_fds(service) == 0


def test_until_ends_the_stream(service, hull):
    hull.out("volume", "create", "api-ev-until")
    hull.out("volume", "rm", "api-ev-until")
    started = time.time()
    until = started + 1.5
    query = urlencode({"since": f"{started - 60:.6f}", "until": f"{until:.6f}",
                       "filters": json.dumps({"volume": ["api-ev-until"]})})
    status, headers, body = raw(service, "GET", f"/v1.41/events?{query}")
    assert status == 200 and headers["content-type"] == "application/json"
    assert headers.get("transfer-encoding") == "chunked"
    assert 1.0 <= time.time() - started < 10, "followed until `until`, then ended"
    lines = [json.loads(l) for l in body.decode().splitlines()]
    assert [e["Action"] for e in lines] == ["create", "destroy"]


@pytest.mark.parametrize("query, says", [
    ({"filters": '{"colour":["red"]}'}, "invalid filter 'colour'"),
    ({"since": "yesterday"}, 'since: "yesterday"'),
    ({"until": "soon"}, 'until: "soon"'),
    ({"since": "20", "until": "10"}, "cannot be after"),
    ({"filters": "notjson"}, "invalid filter"),
])
def test_bad_input_is_400_naming_it(service, query, says):
    status, _, body = raw(service, "GET", f"/v1.41/events?{urlencode(query)}")
    assert status == 400, body
    assert says in json.loads(body)["message"]
