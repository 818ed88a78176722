"""Tests for Informer and SharedInformerFactory: list, watch, re-watch, re-list on 410, handlers."""

import asyncio
from typing import AsyncIterator, Callable

import orjson
import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.client.config import Config
from kybernetes.client.informer import Informer, SharedInformerFactory
from kybernetes.client.rest import CONFIGMAPS, PODS, Client, Request, Response


def cm(name: str, rv: str, **meta: object) -> dict:
    return {"metadata": {"name": name, "namespace": "n", "resourceVersion": rv, "uid": f"uid-{name}", **meta}}


def listing(rv: str, *items: dict) -> Response:
    return Response(200, orjson.dumps({"kind": "ConfigMapList", "metadata": {"resourceVersion": rv}, "items": list(items)}))


def events(*lines: dict, hang: bool = False) -> Response:
    async def stream() -> AsyncIterator[bytes]:
        for line in lines:
            yield orjson.dumps(line) + b"\n"
        if hang:
            await asyncio.Event().wait()

    return Response(200, stream())


GONE = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}}


class Script:
    """Script answers list and watch requests from two queues and records them."""

    def __init__(self, lists: list[Response], watches: list[Response]) -> None:
        self.lists, self.watches = lists, watches
        self.requests: list[Request] = []
        self.exhausted = asyncio.Event()

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        queue = self.watches if request.query.get("watch") == "true" else self.lists
        if not queue:
            self.exhausted.set()
            await asyncio.Event().wait()
        return queue.pop(0)


class Recorded:
    def __init__(self, informer: Informer) -> None:
        self.seen: list[tuple[str, str, str]] = []
        informer.add_handlers(
            on_add=lambda o: self.seen.append(("add", o["metadata"]["name"], o["metadata"]["resourceVersion"])),
            on_update=lambda old, new: self.seen.append(("update", new["metadata"]["name"], new["metadata"]["resourceVersion"])),
            on_delete=lambda o: self.seen.append(("delete", o["metadata"]["name"], o["metadata"]["resourceVersion"])),
        )


async def run_until(script: Script, informer: Informer, done: Callable[[], bool] | None = None) -> None:
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(script.exhausted.wait(), 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_list_then_watch_then_relist_on_gone() -> None:
    script = Script(
        lists=[listing("5", cm("a", "1"), cm("b", "2")), listing("8", cm("a", "6"), cm("c", "7"))],
        watches=[events({"type": "MODIFIED", "object": cm("a", "6")}, GONE)],
    )
    informer = Informer(Client(Config("https://x"), transport=script), CONFIGMAPS, clock=FakeClock())
    recorded = Recorded(informer)
    await run_until(script, informer)

    assert recorded.seen == [("add", "a", "1"), ("add", "b", "2"), ("update", "a", "6"), ("add", "c", "7"),
                             ("delete", "b", "2")]
    assert sorted(informer.store.keys()) == ["n/a", "n/c"]
    assert informer.has_synced
    first_list, first_watch, relist, second_watch = (r.query for r in script.requests)
    assert first_list["resourceVersion"] == "0"
    assert first_watch["resourceVersion"] == "5" and first_watch["allowWatchBookmarks"] == "true"
    assert 300 <= int(first_watch["timeoutSeconds"]) <= 600
    assert "resourceVersion" not in relist and relist["limit"] == "500"  # a consistent read after 410
    assert second_watch["resourceVersion"] == "8"


async def test_a_watch_that_ends_normally_resumes_from_the_last_version_without_listing() -> None:
    script = Script(
        lists=[listing("5")],
        watches=[events({"type": "ADDED", "object": cm("a", "6")}, {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}),
                 events({"type": "DELETED", "object": cm("a", "10")})],
    )
    informer = Informer(Client(Config("https://x"), transport=script), CONFIGMAPS, clock=FakeClock())
    recorded = Recorded(informer)
    await run_until(script, informer)
    assert recorded.seen == [("add", "a", "6"), ("delete", "a", "10")]
    assert [r.query.get("watch") for r in script.requests] == [None, "true", "true", "true"]
    assert script.requests[2].query["resourceVersion"] == "9"
    assert informer.store.resource_version == "10"


async def test_failures_back_off_on_the_clock() -> None:
    clock = FakeClock()
    script = Script(lists=[Response(503, b"down"), Response(503, b"down"), listing("1")], watches=[])
    informer = Informer(Client(Config("https://x"), transport=script), CONFIGMAPS, clock=clock)
    task = asyncio.create_task(informer.run())
    await asyncio.sleep(0.01)
    assert len(script.requests) == 1 and len(clock.pending()) == 1
    first = clock.pending()[0]
    clock.step(first)
    await asyncio.sleep(0.01)
    assert len(script.requests) == 2
    assert clock.pending()[0] > first  # exponential
    clock.step(clock.pending()[0])
    await asyncio.wait_for(informer.wait_synced(), 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_late_handlers_see_existing_objects_as_adds() -> None:
    informer = Informer(Client(Config("https://x"), transport=Script([], [])), CONFIGMAPS)
    informer.replace([cm("a", "1")], "1")
    recorded = Recorded(informer)
    assert recorded.seen == [("add", "a", "1")]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    informer = Informer(Client(Config("https://x"), transport=Script([], [])), CONFIGMAPS)
    informer.add_handlers(on_add=lambda o: 1 / 0)
    recorded = Recorded(informer)
    informer.replace([cm("a", "1")], "1")
    assert recorded.seen == [("add", "a", "1")]


async def test_the_factory_shares_one_informer_per_resource_and_starts_late_ones() -> None:
    started: list[str] = []

    async def transport(request: Request) -> Response:
        started.append(request.path)
        if request.query.get("watch"):
            return events(hang=True)
        return listing("1")

    factory = SharedInformerFactory(Client(Config("https://x"), transport=transport), clock=FakeClock())
    assert factory.informer(CONFIGMAPS) is factory.informer(CONFIGMAPS)
    task = asyncio.create_task(factory.run())
    await asyncio.wait_for(factory.wait_synced(), 1)
    pods = factory.informer(PODS)
    await asyncio.wait_for(pods.wait_synced(), 1)
    assert factory.has_synced()
    assert "/api/v1/pods" in started and "/api/v1/configmaps" in started
    factory.remove(PODS)
    assert factory.get(PODS) is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
