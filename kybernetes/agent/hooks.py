"""hooks: container lifecycle handlers (postStart, preStop): exec, httpGet and sleep, as upstream's HandlerRunner.

A runner returns None on success or the message upstream logs for a failed hook (and reports
as a postStart-failed container's waiting message); the events themselves only say
`PostStartHook failed` / `PreStopHook failed`, as upstream keeps hook output out of events. The
exec and HTTP actions are the probes' (`prober.probes`), as upstream's hooks reuse pkg/probe.
Unlike a probe, an HTTP hook succeeds with any status code: only a request that got no answer
fails. The simulated runner succeeds without running or connecting anything: a simulated pod's
IP is not on this machine.
"""

from __future__ import annotations

from typing import Any, Protocol

from kybernetes.agent.events import format_pod
from kybernetes.agent.prober.probes import (
    LIFECYCLE_USER_AGENT,
    ActionError,
    exec_in_container,
    go_quote,
    http_get,
    http_url,
    request_headers,
)
from kybernetes.agent.runtime.protocol import Runtime, RuntimeFailure
from kybernetes.agent.runtime.types import ContainerId
from kybernetes.aio.clock import Clock, RealClock

Obj = dict[str, Any]


class HookRunner(Protocol):
    """HookRunner runs one lifecycle handler of a container."""

    async def run(self, pod: Obj, container: Obj, container_id: ContainerId, handler: Obj, *, pod_ip: str) -> str | None:
        ...


class RuntimeHookRunner:
    """RuntimeHookRunner execs in the container through the runtime and sends HTTP requests to the pod."""

    def __init__(self, runtime: Runtime, *, clock: Clock | None = None, http_timeout: float = 10.0) -> None:
        self._runtime = runtime
        self._clock: Clock = clock or RealClock()
        self._http_timeout = http_timeout

    async def run(self, pod: Obj, container: Obj, container_id: ContainerId, handler: Obj, *, pod_ip: str) -> str | None:
        name = go_quote(str(container.get("name", "")))
        if isinstance(handler.get("exec"), dict):
            command = [str(c) for c in handler["exec"].get("command") or []]
            output = ""
            try:
                # Upstream gives hooks no timeout of their own; preStop is bounded by the grace period.
                done = await exec_in_container(self._runtime, container_id, command, timeout=None)
                output = done.output.decode("utf-8", "replace")
                if done.exit_code == 0:
                    return None
                error = (f"command '{' '.join(command)}' exited with {done.exit_code}: "
                         f"{done.stderr.decode('utf-8', 'replace')}")
            except RuntimeFailure as err:
                error = str(err)
            return (f"Exec lifecycle hook ([{' '.join(command)}]) for Container {name} in Pod {go_quote(format_pod(pod))} "
                    f"failed - error: {error}, message: {go_quote(output)}")
        if isinstance(handler.get("httpGet"), dict):
            action = handler["httpGet"]
            try:
                url = http_url(action, container, pod_ip)
                await http_get(url, request_headers(action, LIFECYCLE_USER_AGENT), timeout=self._http_timeout,
                               follow_redirects=False)
                return None
            except (ActionError, ValueError) as err:
                return (f"HTTP lifecycle hook ({action.get('path', '')}) for Container {name} in Pod "
                        f"{go_quote(format_pod(pod))} failed - error: {err}")
        if isinstance(handler.get("sleep"), dict):
            await self._clock.sleep(float(handler["sleep"].get("seconds", 0)))
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
