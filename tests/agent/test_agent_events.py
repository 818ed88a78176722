"""The agent's event recorder: upstream's event shape, repeats aggregated into a count."""

from __future__ import annotations

import asyncio

import orjson

from kybernetes.agent.events import EventRecorder, container_field_path, node_reference
from kybernetes.client.config import Config
from kybernetes.client.rest import Client, Request, Response
from tests.agent.agentkit import pod


async def test_events_are_written_once_then_counted() -> None:
    requests: list[Request] = []

    async def server(request: Request) -> Response:
        requests.append(request)
        return Response(201, request.body or b"{}")

    recorder = EventRecorder(Client(Config(server="http://test"), transport=server), workers=2)
    task = asyncio.create_task(recorder.run())
    p = pod("app")
    for _ in range(3):
        recorder.event(p, "Warning", "BackOff", "Back-off restarting failed container app in pod p_ns(uid-1)",
                       field_path=container_field_path(p, "app"), host="n1")
    recorder.record(node_reference("n1"), "Normal", "NodeReady", "Node n1 status is now: NodeReady", host="n1")
    await recorder.flush()
    for _ in range(20):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    creates = [r for r in requests if r.method == "POST"]
    patches = [orjson.loads(r.body) for r in requests if r.method == "PATCH"]
    assert len(creates) == 2
    first = orjson.loads(creates[0].body)
    assert first["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "namespace": "ns", "name": "p", "uid": "uid-1",
                                       "fieldPath": "spec.containers{app}"}
    assert first["source"] == {"component": "kubelet", "host": "n1"} and first["count"] == 1
    assert first["metadata"]["name"].startswith("p.") and first["type"] == "Warning"
    assert [p["count"] for p in patches] == [2, 3]
    node_event = orjson.loads(creates[1].body)
    assert node_event["metadata"]["namespace"] == "default" and node_event["involvedObject"]["kind"] == "Node"
