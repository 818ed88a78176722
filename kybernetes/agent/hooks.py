"""hooks: container lifecycle handlers (postStart, preStop): exec, httpGet and sleep, as upstream's HandlerRunner.

A runner returns None on success or the message upstream records in FailedPostStartHook and
FailedPreStopHook events. The simulated runner succeeds without running or connecting anything:
a simulated pod's IP is not on this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any, Protocol

import aiohttp

from kybernetes.agent.runtime.protocol import Runtime, RuntimeFailure
from kybernetes.agent.runtime.types import ContainerId
from kybernetes.aio.clock import Clock, RealClock

Obj = dict[str, Any]


def format_pod(pod: Obj) -> str:
    """Upstream's format.Pod: `name_namespace(uid)`."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


class HookRunner(Protocol):
    """HookRunner runs one lifecycle handler of a container."""

    async def run(self, pod: Obj, container: Obj, container_id: ContainerId, handler: Obj, *, pod_ip: str) -> str | None:
        ...


def resolve_port(port: Any, container: Obj) -> int:
    """A number, a numeric string or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    text = str(port or "")
    if not text:
        return 80
    if text.isdigit():
        return int(text)
    for spec in container.get("ports") or []:
        if isinstance(spec, dict) and spec.get("name") == text:
            return int(spec.get("containerPort", 0))
    raise ValueError(f"couldn't find port: {text} in {container.get('name')}")


def http_url(handler: Obj, container: Obj, pod_ip: str) -> str:
    get = handler.get("httpGet") or {}
    host = str(get.get("host") or pod_ip)
    if not host:
        raise ValueError("failed to find networking container: the pod has no IP")
    port = resolve_port(get.get("port"), container)
    scheme = str(get.get("scheme") or "HTTP").lower()
    path = str(get.get("path") or "")
    if not path.startswith("/"):
        path = "/" + path
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"{scheme}://{host}:{port}{path}"


class RuntimeHookRunner:
    """RuntimeHookRunner execs in the container through the runtime and sends HTTP requests to the pod."""

    def __init__(self, runtime: Runtime, *, clock: Clock | None = None, http_timeout: float = 10.0) -> None:
        self._runtime = runtime
        self._clock: Clock = clock or RealClock()
        self._http_timeout = http_timeout

    async def run(self, pod: Obj, container: Obj, container_id: ContainerId, handler: Obj, *, pod_ip: str) -> str | None:
        name = container.get("name", "")
        if "exec" in handler:
            command = [str(c) for c in (handler["exec"] or {}).get("command") or []]
            output: list[bytes] = []

            async def collect(data: bytes) -> None:
                output.append(data)

            text = ""
            try:
                code = await self._runtime.exec(container_id, command, stdout=collect, stderr=collect)
                text = b"".join(output).decode("utf-8", "replace")
                error = "" if code == 0 else f"command '{' '.join(command)}' exited with {code}: {text}"
            except RuntimeFailure as err:
                error = str(err)
            if not error:
                return None
            return (f"Exec lifecycle hook ([{' '.join(command)}]) for Container \"{name}\" in Pod \"{format_pod(pod)}\" "
                    f"failed - error: {error}, message: \"{text}\"")
        if "httpGet" in handler:
            path = (handler["httpGet"] or {}).get("path", "")
            try:
                url = http_url(handler, container, pod_ip)
                headers = {str(h.get("name")): str(h.get("value", "")) for h in (handler["httpGet"] or {}).get("httpHeaders") or []
                           if isinstance(h, dict)}
                timeout = aiohttp.ClientTimeout(total=self._http_timeout)
                async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
                    # Upstream only fails a hook that got no answer; any status code counts as done.
                    async with session.get(url, headers=headers, ssl=False, allow_redirects=False) as response:
                        await response.read()
                return None
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as err:
                return f"HTTP lifecycle hook ({path}) for Container \"{name}\" in Pod \"{format_pod(pod)}\" failed - error: {err}"
        if "sleep" in handler:
            await self._clock.sleep(float((handler["sleep"] or {}).get("seconds", 0)))
            return None
        return f"Cannot run handler: invalid handler: {handler}"


class SimulatedHookRunner:
    """SimulatedHookRunner: every exec and httpGet succeeds at once; sleep still waits on the clock."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or RealClock()
        self.ran: list[tuple[str, str]] = []
        """(container name, handler kind) of every hook run, for tests."""

    async def run(self, pod: Obj, container: Obj, container_id: ContainerId, handler: Obj, *, pod_ip: str) -> str | None:
        kind = next((k for k in ("exec", "httpGet", "sleep") if k in handler), "")
        self.ran.append((str(container.get("name", "")), kind))
        if kind == "sleep":
            await self._clock.sleep(float((handler["sleep"] or {}).get("seconds", 0)))
        return None
