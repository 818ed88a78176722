"""worker: probes one container with one probe each period; results count past the thresholds (upstream's worker.go).

A worker belongs to a (pod, container, probe type) and lives as long as the pod runs on the node,
across restarts of its container: it notices a new container by its ID, starts over from the
probe type's initial value, and waits out `initialDelaySeconds` from the container's start. It
reads the pod's status as the agent last generated it (container IDs, running state, `started`),
so startup probes gate the other two exactly as the status shows. A liveness or startup failure
puts the worker on hold until the container is replaced: probing a container being killed only
makes noise.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import logging
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kybernetes.agent import events as ev
from kybernetes.agent.events import container_field_path
from kybernetes.agent.prober.probes import Outcome, ProbeResult, probe_timeout
from kybernetes.agent.prober.results import Result, ResultsManager
from kybernetes.agent.runtime.types import ContainerId

if TYPE_CHECKING:
    from kybernetes.agent.prober.manager import ProberManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]

MAX_PROBE_RETRIES = 3
"""A probe that cannot be run (an error, not a failure) is tried this many times in a row (upstream)."""


class ProbeType(enum.Enum):
    """ProbeType names a probe as upstream's events do: `Liveness probe failed: …`."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container's field holding this probe: `livenessProbe`, …"""
        return f"{self.value.lower()}Probe"


INITIAL_RESULT = {ProbeType.LIVENESS: Result.SUCCESS, ProbeType.READINESS: Result.FAILURE,
                  ProbeType.STARTUP: Result.UNKNOWN}
"""What a new container is taken to be before its probe says otherwise (upstream's initialValue)."""


def _seconds(probe: Obj, key: str, default: int, minimum: int) -> int:
    value = probe.get(key)
    return max(minimum, int(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """ProbeSpec is a probe's timing with the API's defaults filled in."""

    initial_delay: int = 0
    period: int = 10
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Obj, kind: ProbeType) -> ProbeSpec:
        success = _seconds(probe, "successThreshold", 1, 1)
        return cls(
            initial_delay=_seconds(probe, "initialDelaySeconds", 0, 0),
            period=_seconds(probe, "periodSeconds", 10, 1),
            timeout=probe_timeout(probe),
            # Validation allows only 1 for liveness and startup probes; never wait for more.
            success_threshold=success if kind is ProbeType.READINESS else 1,
            failure_threshold=_seconds(probe, "failureThreshold", 3, 1),
        )


def _parse_time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _find_status(status: Obj, name: str) -> Obj | None:
    """The container's status with a container ID, among regular then init containers (upstream's order)."""
    for key in ("containerStatuses", "initContainerStatuses"):
        for item in status.get(key) or []:
            if isinstance(item, dict) and item.get("name") == name and item.get("containerID"):
                return item
    return None


def raw_container_id(container_id: str) -> str:
    """`runc://abc` → `abc`: results are keyed by the runtime's own ID."""
    return container_id.split("://", 1)[-1]


class Worker:
    """Worker runs the probe loop of one probe of one container."""

    def __init__(self, manager: ProberManager, kind: ProbeType, pod: Obj, container: Obj) -> None:
        self.manager = manager
        self.kind = kind
        self.pod = pod
        """The newest pod object (the manager refreshes it on every sync): a deletion must be seen."""
        self.container = container
        self.probe: Obj = container.get(kind.field) or {}
        self.spec = ProbeSpec.of(self.probe, kind)
        self.results: ResultsManager = manager.results(kind)
        self.initial = INITIAL_RESULT[kind]
        self.container_id = ""
        self.last_result: Result | None = None
        self.result_run = 0
        self.on_hold = False
        self.task: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[bool] | None = None
        self._triggered = False

    @property
    def uid(self) -> str:
        return str((self.pod.get("metadata") or {}).get("uid", ""))

    @property
    def name(self) -> str:
        return str(self.container.get("name", ""))

    # -- the loop ---------------------------------------------------------------------------

    def trigger(self) -> None:
        """Probe now instead of at the next period (upstream's manualTriggerCh: one pending trigger at most)."""
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(True)
        else:
            self._triggered = True

    async def _wait(self, seconds: float) -> bool:
        """Wait `seconds` on the manager's clock; True if a trigger cut the wait short."""
        if self._triggered:
            self._triggered = False
            return True
        wake: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._wake = wake

        def timeout() -> None:
            if not wake.done():
                wake.set_result(False)

        timer = self.manager.clock.call_later(seconds, timeout)
        try:
            return await wake
        finally:
            timer.cancel()
            self._wake = None

    async def run(self) -> None:
        """Probe until the pod is done with this probe; always clears this worker's results on the way out."""
        clock = self.manager.clock
        period = float(self.spec.period)
        try:
            if period > clock.monotonic() - self.manager.started_at:
                # Right after an agent (re)start every worker begins at once: spread them over a period.
                await clock.sleep(random.random() * period)
            next_tick = clock.monotonic() + period
            while await self.do_probe():
                now = clock.monotonic()
                if next_tick <= now:
                    # The probe outlasted its period: Go's ticker keeps one tick, so probe again at once.
                    next_tick += period * (math.floor((now - next_tick) / period) + 1)
                    continue
                if not await self._wait(next_tick - now):
                    next_tick += period
        finally:
            if self.container_id:
                self.results.remove(self.container_id)
            self.manager.worker_done(self)

    async def do_probe(self) -> bool:
        """Probe once and record the result; False when this worker has nothing left to do."""
        try:
            return await self._do_probe()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one broken probe must not stop the others, or the agent
            log.exception("%s probe of container %s in pod %s failed unexpectedly", self.kind.value, self.name, self.uid)
            return True

    async def _do_probe(self) -> bool:
        status = self.manager.pod_status(self.uid)
        if status is None:
            return True  # not synced yet, or already forgotten
        if status.get("phase") in ("Succeeded", "Failed"):
            return False
        found = _find_status(status, self.name)
        if found is None:
            return True  # not created yet: wait for more information
        container_id = raw_container_id(str(found["containerID"]))
        if container_id != self.container_id:
            if self.container_id:
                self.results.remove(self.container_id)
            self.container_id = container_id
            self.results.set(container_id, self.initial, self.uid)
            self.on_hold = False  # a new container: probe again
        if self.on_hold:
            return True
        state = found.get("state") or {}
        if "running" not in state:
            self.results.set(container_id, Result.FAILURE, self.uid)
            # A stopped container of a pod that never restarts will not come back.
            restart_policy = (self.pod.get("spec") or {}).get("restartPolicy") or "Always"
            return "terminated" not in state or restart_policy != "Never"
        if (self.pod.get("metadata") or {}).get("deletionTimestamp") and self.kind is not ProbeType.READINESS:
            # The pod is going away: a last success keeps its shutdown quiet.
            self.results.set(container_id, Result.SUCCESS, self.uid)
            return False
        started_at = _parse_time((state.get("running") or {}).get("startedAt"))
        if started_at is not None:
            elapsed = (self.manager.clock.now() - started_at).total_seconds()
            if int(elapsed) < self.spec.initial_delay:
                return True
        if found.get("started"):
            if self.kind is ProbeType.STARTUP:
                return True  # started once: nothing more to find out until the container is replaced
        elif self.kind is not ProbeType.STARTUP:
            return True  # the startup probe holds the others back

        result = await self._probe(str(status.get("podIP") or ""))
        if result is None:
            return True  # the probe could not run: throw the result away
        if result is self.last_result:
            self.result_run += 1
        else:
            self.last_result = result
            self.result_run = 1
        if ((result is Result.FAILURE and self.result_run < self.spec.failure_threshold)
                or (result is Result.SUCCESS and self.result_run < self.spec.success_threshold)):
            return True  # below the threshold: keep the current verdict
        self.results.set(container_id, result, self.uid)
        if self.kind is not ProbeType.READINESS and result is Result.FAILURE:
            # The container will be restarted: hold until a new container ID appears.
            self.on_hold = True
            self.result_run = 0
        return True

    # -- one probe ------------------------------------------------------------------------------

    def _event(self, reason: str, message: str) -> None:
        self.manager.recorder.event(self.pod, ev.WARNING, reason, message, host=self.manager.node_name,
                                    field_path=container_field_path(self.pod, self.name))

    async def _probe(self, pod_ip: str) -> Result | None:
        """Upstream's prober.probe: run with retries on errors, record Unhealthy or ProbeWarning, map to a result."""
        outcome = Outcome(ProbeResult.UNKNOWN)
        for _ in range(MAX_PROBE_RETRIES):
            outcome = await self.manager.prober.probe(self.probe, pod=self.pod, container=self.container,
                                                      container_id=ContainerId(self.container_id), pod_ip=pod_ip)
            if not outcome.error:
                break
        kind = self.kind.value
        if outcome.error:
            self._event(ev.CONTAINER_UNHEALTHY, f"{kind} probe errored: {outcome.error}")
            return None
        if outcome.result is ProbeResult.SUCCESS:
            return Result.SUCCESS
        if outcome.result is ProbeResult.WARNING:
            self._event(ev.CONTAINER_PROBE_WARNING, f"{kind} probe warning: {outcome.output}")
            return Result.SUCCESS
        if outcome.result is ProbeResult.FAILURE:
            log.debug("%s probe of %s in pod %s failed: %s", kind, self.name, self.uid, outcome.output)
            self._event(ev.CONTAINER_UNHEALTHY, f"{kind} probe failed: {outcome.output}")
        return Result.FAILURE
