"""Tests for the controller manager: registry, startup lines, stopping."""

import asyncio
import logging

import pytest

from kybernetes.client.config import Config
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import CONTROLLERS, DEFAULT_CONTROLLERS, run_controllers
from tests.controllers.fakeapi import CONFIGMAPS, FakeAPI, owner_ref


def test_the_default_set_is_registered() -> None:
    assert DEFAULT_CONTROLLERS == {"garbagecollector", "namespace", "nodelifecycle"} <= CONTROLLERS.keys()


async def test_unknown_controllers_are_refused(api: FakeAPI) -> None:
    with pytest.raises(ValueError, match="unknown controllers: nope"):
        await run_controllers(Client(Config("https://fake"), transport=api), controllers=["nope"])


async def test_controllers_start_work_and_stop_on_the_event(api: FakeAPI, caplog: pytest.LogCaptureFixture) -> None:
    # The fake's watches never deliver, so the initial list is all the collector sees: a
    # dependent whose owner is already gone.
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "gone-uid"}
    api.add(CONFIGMAPS, "dep", "n", owners=[ghost])
    alive = api.add(CONFIGMAPS, "alive", "n")
    api.add(CONFIGMAPS, "kept", "n", owners=[owner_ref(alive)])
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="kybernetes.controllers.manager")
    task = asyncio.create_task(run_controllers(Client(Config("https://fake"), transport=api),
                                               controllers=["garbagecollector", "namespace"], stop=stop))
    for _ in range(200):
        if api.names(CONFIGMAPS) == ["alive", "kept"]:
            break
        await asyncio.sleep(0.01)
    assert api.names(CONFIGMAPS) == ["alive", "kept"]
    stop.set()
    await asyncio.wait_for(task, 2)
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Started controller")]
    assert started == ["Started controller garbagecollector", "Started controller namespace"]
