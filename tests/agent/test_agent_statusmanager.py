"""The status manager: coalesced merge patches over the agent's own fields, then deletion with a UID precondition."""

from __future__ import annotations

import asyncio
import json

import orjson

from kybernetes.agent.statusmanager import StatusManager, status_patch
from kybernetes.client.config import Config
from kybernetes.client.rest import Client, Request, Response
from tests.agent.agentkit import pod


def test_the_patch_carries_changes_and_clears_fields_the_agent_owns() -> None:
    sent = {"phase": "Running", "podIP": "10.0.0.1", "reason": "Evicted", "nominatedNodeName": "n2"}
    new = {"phase": "Succeeded", "podIP": "10.0.0.1"}
    assert status_patch(new, sent) == {"phase": "Succeeded", "reason": None}


async def test_statuses_are_coalesced_written_by_uid_and_finished_pods_deleted() -> None:
    requests: list[Request] = []

    async def server(request: Request) -> Response:
        requests.append(request)
        return Response(200, b"{}")

    client = Client(Config(server="http://test"), transport=server)
    manager = StatusManager(client, writers=1)
    p = pod("app")
    for phase in ("Pending", "Running"):
        manager.set_pod_status(p, {"phase": phase, "conditions": [], "containerStatuses": []})
    task = asyncio.create_task(manager.run())
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(requests) == 1, "two statuses before the write: one patch"
    body = orjson.loads(requests[0].body)
    assert requests[0].method == "PATCH" and requests[0].path == "/api/v1/namespaces/ns/pods/p/status"
    assert body["metadata"] == {"uid": "uid-1"} and body["status"]["phase"] == "Running"
    assert body["status"]["startTime"]
    manager.set_pod_status(p, {"phase": "Running", "conditions": [], "containerStatuses": []})
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(requests) == 1, "an unchanged status is not written again"
    deleting = json.loads(json.dumps(p))
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    manager.observe(deleting)
    manager.reclaimed(deleting)
    for _ in range(20):
        await asyncio.sleep(0)
    delete = requests[-1]
    assert delete.method == "DELETE"
    assert orjson.loads(delete.body)["gracePeriodSeconds"] == 0
    assert orjson.loads(delete.body)["preconditions"] == {"uid": "uid-1"}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
