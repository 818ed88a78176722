"""EventRecorder: core/v1 Events as client-go's recorder writes them, repeats aggregated by PATCH, never blocking."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, Callable

import orjson
import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.client import errors
from kybernetes.client.config import Config
from kybernetes.client.events import EventRecorder, RecorderSettings, event_key, object_reference
from kybernetes.client.rest import Client, Request, Response

Obj = dict[str, Any]

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "uid": "u-2", "resourceVersion": "7"}}
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def status(code: int, reason: str) -> Response:
    return Response(code, orjson.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                                        "message": reason, "code": code}))


class Server:
    """Server plays the API server for events: stores created events, applies patches, fails on demand."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Obj]] = []
        self.events: dict[str, Obj] = {}
        self.fail: list[Callable[[Request], Response | None]] = []

    async def __call__(self, request: Request) -> Response:
        body = orjson.loads(request.body) if request.body else {}
        self.requests.append((request.method, request.path, body))
        while self.fail:
            answer = self.fail.pop(0)(request)
            if answer is not None:
                return answer
        name = request.path.rsplit("/", 1)[-1]
        if request.method == "POST":
            self.events[body["metadata"]["name"]] = body
            return Response(201, orjson.dumps(body))
        if name not in self.events:
            return status(404, "NotFound")
        self.events[name].update(body)
        return Response(200, orjson.dumps(self.events[name]))


def unreachable(request: Request) -> Response:
    raise errors.TransportError(f"{request.method} {request.path}: connection refused")


async def recorded(server: Server, *events: tuple[Obj, str, str, str], clock: FakeClock | None = None,
                   settings: RecorderSettings = RecorderSettings()) -> EventRecorder:
    client = Client(Config(server="https://127.0.0.1:1"), transport=server)
    recorder = EventRecorder(client, "default-scheduler", clock=clock or FakeClock(START), settings=settings)
    for obj, type_, reason, message in events:
        recorder.event(obj, type_, reason, message)  # type: ignore[arg-type]
    task = asyncio.create_task(recorder.run())
    try:
        await asyncio.wait_for(recorder.flush(), 2)
    finally:
        task.cancel()
    return recorder


async def test_an_event_is_created_as_client_go_makes_it() -> None:
    server = Server()
    await recorded(server, (POD, "Normal", "Scheduled", "Successfully assigned shop/web to node1"))
    [(method, path, body)] = server.requests
    assert (method, path) == ("POST", "/api/v1/namespaces/shop/events")
    assert body["metadata"] == {"name": f"web.{int(START.timestamp() * 1e9):x}", "namespace": "shop"}
    assert body["involvedObject"] == {"kind": "Pod", "namespace": "shop", "name": "web", "uid": "u-1",
                                      "apiVersion": "v1", "resourceVersion": "42"}
    assert body["source"] == {"component": "default-scheduler"}
    assert (body["reportingComponent"], body["reportingInstance"]) == ("default-scheduler", "")
    assert (body["type"], body["reason"], body["message"], body["count"]) == (
        "Normal", "Scheduled", "Successfully assigned shop/web to node1", 1)
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2024-01-01T00:00:00Z"


async def test_events_about_cluster_scoped_objects_go_to_default() -> None:
    server = Server()
    await recorded(server, (NODE, "Warning", "NodeNotReady", "Node node1 status is now: NodeNotReady"))
    assert server.requests[0][1] == "/api/v1/namespaces/default/events"
    assert "namespace" not in server.requests[0][2]["involvedObject"]


async def test_repeats_patch_count_and_last_timestamp_of_the_first_event() -> None:
    server = Server()
    clock = FakeClock(START)
    same = (POD, "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")
    await recorded(server, same, same, (POD, "Warning", "FailedScheduling", "something else"), same, clock=clock)
    methods = [m for m, _, _ in server.requests]
    assert methods == ["POST", "PATCH", "POST", "PATCH"]
    first = server.requests[0][2]["metadata"]["name"]
    assert server.requests[1][1] == f"/api/v1/namespaces/shop/events/{first}"
    assert server.requests[3][2]["count"] == 3
    assert set(server.requests[1][2]) == {"count", "lastTimestamp", "message"}
    assert server.events[first]["count"] == 3


async def test_a_deleted_event_is_created_again_with_its_history() -> None:
    server = Server()
    same = (POD, "Warning", "FailedScheduling", "nope")
    recorder = await recorded(server, same)
    name = server.requests[0][2]["metadata"]["name"]
    del server.events[name]
    recorder.event(*same)  # type: ignore[arg-type]
    task = asyncio.create_task(recorder.run())
    await asyncio.wait_for(recorder.flush(), 2)
    task.cancel()
    assert [m for m, _, _ in server.requests] == ["POST", "PATCH", "POST"]
    again = server.requests[2][2]
    assert again["metadata"]["name"] == name and again["count"] == 2


async def test_transport_errors_are_retried_and_rejections_are_not() -> None:
    server = Server()
    clock = FakeClock(START)
    server.fail = [unreachable]
    client = Client(Config(server="https://127.0.0.1:1"), transport=server)
    recorder = EventRecorder(client, "kubelet", "node1", clock=clock, settings=RecorderSettings(retry_delay=10))
    recorder.event(POD, "Normal", "Pulled", "ok")
    task = asyncio.create_task(recorder.run())
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(server.requests) == 1
    clock.step(10)
    await asyncio.wait_for(recorder.flush(), 2)
    assert [m for m, _, _ in server.requests] == ["POST", "POST"]
    assert server.requests[1][2]["source"] == {"component": "kubelet", "host": "node1"}
    server.fail = [lambda r: status(422, "Invalid")]
    recorder.event(POD, "Normal", "Pulled", "again")
    await asyncio.wait_for(recorder.flush(), 2)
    task.cancel()
    assert len(server.requests) == 3


def test_recording_never_blocks_and_drops_when_the_queue_is_full() -> None:
    recorder = EventRecorder(Client(Config(server="https://127.0.0.1:1"), transport=Server()), "x",
                             settings=RecorderSettings(queue_size=2))
    for i in range(5):
        recorder.event(POD, "Normal", "R", str(i))
    assert len(recorder._queue) == 2
    recorder.event(POD, "Info", "R", "bad type")  # type: ignore[arg-type]
    assert len(recorder._queue) == 2


def test_names_stay_unique_within_one_instant() -> None:
    recorder = EventRecorder(Client(Config(server="https://127.0.0.1:1"), transport=Server()), "x", clock=FakeClock(START))
    recorder.event(POD, "Normal", "A", "1")
    recorder.event(POD, "Normal", "B", "2")
    names = [p.event["metadata"]["name"] for p in recorder._queue]
    assert len(set(names)) == 2


@pytest.mark.parametrize("field", ["reason", "message", "type"])
def test_the_aggregation_key_tells_events_apart(field: str) -> None:
    base = {"source": {"component": "c"}, "involvedObject": object_reference(POD), "type": "Normal", "reason": "R",
            "message": "m"}
    other = {**base, field: "different"}
    assert event_key(base) != event_key(other)
    assert object_reference(POD, "spec.containers{c}")["fieldPath"] == "spec.containers{c}"
