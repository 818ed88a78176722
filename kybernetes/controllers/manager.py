"""Manager: runs a set of controllers over one client and shared informers, in one TaskGroup.

The controllers reach the API server over HTTPS with their own kubeconfig, exactly as they would
from a separate process (upstream's kube-controller-manager), even when `kyb server` runs them
in-process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client.config import Config
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import Client
from kybernetes.controllers.garbagecollector import GarbageCollector
from kybernetes.controllers.namespace import NamespaceController
from kybernetes.controllers.nodelifecycle import NodeLifecycleController

log = logging.getLogger(__name__)


class Controller(Protocol):
    """Controller is one reconciler: it registers its informers when built and works in `run()`."""

    name: str

    async def run(self) -> None: ...


@dataclass(frozen=True)
class Context:
    """Context is what every controller is built from."""

    client: Client
    informers: SharedInformerFactory
    clock: Clock


CONTROLLERS: dict[str, Callable[[Context], Controller]] = {
    "garbagecollector": lambda ctx: GarbageCollector(ctx.client, ctx.informers, clock=ctx.clock),
    "namespace": lambda ctx: NamespaceController(ctx.client, ctx.informers, clock=ctx.clock),
    "nodelifecycle": lambda ctx: NodeLifecycleController(ctx.client, ctx.informers, clock=ctx.clock),
}
"""Every controller by name; `kyb server --disable-controllers` picks from these names."""

DEFAULT_CONTROLLERS: frozenset[str] = frozenset({"garbagecollector", "namespace", "nodelifecycle"})


class _Stopped(Exception):
    """_Stopped unwinds the TaskGroup when the stop event fires."""


async def run_controllers(client: Client, *, controllers: Iterable[str], stop: asyncio.Event | None = None,
                          clock: Clock | None = None) -> None:
    """Run the named controllers until `stop` is set or the task is cancelled; a crash stops them all."""
    names = list(dict.fromkeys(controllers))
    unknown = [n for n in names if n not in CONTROLLERS]
    if unknown:
        raise ValueError(f"unknown controllers: {', '.join(unknown)}; known: {', '.join(sorted(CONTROLLERS))}")
    clock = clock or RealClock()
    ctx = Context(client, SharedInformerFactory(client, clock=clock), clock)
    built = [CONTROLLERS[n](ctx) for n in names]  # build all first: they register their informers

    async def until_stopped(event: asyncio.Event) -> None:
        await event.wait()
        raise _Stopped

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(ctx.informers.run(), name="informers")
            for controller in built:
                group.create_task(controller.run(), name=f"controller {controller.name}")
                log.info("Started controller %s", controller.name)
            if stop is not None:
                group.create_task(until_stopped(stop), name="stop")
    except* _Stopped:
        log.info("Stopped controllers %s", ", ".join(names))


async def run(config: Config, *, enabled: Iterable[str] = DEFAULT_CONTROLLERS) -> None:
    """Connect with `config` and run the `enabled` controllers until cancelled (the entry point for `kyb server`)."""
    async with Client(config) as client:
        await run_controllers(client, controllers=sorted(enabled))
