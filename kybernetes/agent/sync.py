"""sync: reconcile one pod against the runtime, as upstream's computePodActions, SyncPod and KillPod.

`compute_pod_actions` is pure: from the pod, what the runtime holds and the probes' verdicts it
decides whether to (re)create the sandbox, which init container runs next, which containers start
and which are killed (a changed spec, a failed liveness or startup probe). `RuntimeManager`
carries the actions out: image pulls (imagePullPolicy, pull back-off), restarts with back-off
(CrashLoopBackOff), postStart and preStop hooks, and an event for every step with upstream's
reasons and messages.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from kybernetes.agent import events as ev
from kybernetes.agent.backoff import KeyedBackoff, go_duration
from kybernetes.agent.envvars import ConfigSource, EnvError, container_env
from kybernetes.agent.events import EventSink, container_field_path, format_pod
from kybernetes.agent.hooks import HookRunner
from kybernetes.agent.images import ImageInfo, ImagePullError, ImageService, InvalidImageName
from kybernetes.agent.podspec import DNSSettings, container_config, container_hash, sandbox_config
from kybernetes.agent.podstate import (
    CONTAINER_HASH_ANNOTATION,
    RuntimePodStatus,
    containers_of,
    is_init_container_failed,
    next_init_container,
    should_container_be_restarted,
)
from kybernetes.agent.runtime.protocol import Runtime, RuntimeFailure
from kybernetes.agent.runtime.types import ContainerId, ContainerState, ContainerStatus, SandboxId, SandboxState
from kybernetes.agent.status import StartFailure
from kybernetes.aio.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Container start failures: the waiting reasons upstream reports (kubecontainer and images errors).
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"
POST_START_HOOK_ERROR = "PostStartHookError"

MINIMUM_GRACE_PERIOD = 2.0
"""Seconds every container gets to stop, even after a preStop hook used up the grace period."""
DEFAULT_GRACE_PERIOD = 30.0


# ----- deciding ------------------------------------------------------------------------------------


class ContainerHealth(Protocol):
    """ContainerHealth tells whether a probe failed a running container (the prober's liveness and startup results)."""

    def failed_probe(self, container_id: ContainerId) -> str | None:
        """`liveness` or `startup` when that probe failed the container, else None."""
        ...


class NoHealthChecks:
    """NoHealthChecks: nothing probes the containers, so none is ever unhealthy."""

    def failed_probe(self, container_id: ContainerId) -> str | None:
        return None


NO_HEALTH_CHECKS = NoHealthChecks()


@dataclass(frozen=True, slots=True)
class ContainerToKill:
    """ContainerToKill is a running container to stop, with the Killing event's message."""

    status: ContainerStatus
    container: Obj | None
    message: str
    reason: str = ""
    """`liveness` or `startup` when a probe failed it: that probe's terminationGracePeriodSeconds applies."""


@dataclass
class PodActions:
    """PodActions is upstream's podActions: what SyncPod must do for one pod."""

    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: SandboxId | None = None
    """The existing sandbox, when one is there (to be replaced if `create_sandbox`)."""
    attempt: int = 0
    next_init: Obj | None = None
    start: list[Obj] = field(default_factory=list)
    kill: list[ContainerToKill] = field(default_factory=list)


def _restarts_on_failure(pod: Obj) -> bool:
    return ((pod.get("spec") or {}).get("restartPolicy") or "Always") != "Never"


def _succeeded(container: Obj, status: RuntimePodStatus) -> bool:
    found = status.find(str(container.get("name")))
    return found is not None and found.state is ContainerState.EXITED and found.exit_code == 0


def sandbox_changed(status: RuntimePodStatus) -> tuple[bool, int, SandboxId | None]:
    """Whether a new sandbox is needed: none yet, or the newest one is not ready (upstream's PodSandboxChanged)."""
    sandbox = status.sandbox
    if sandbox is None:
        return True, 0, None
    ready = [s for s in status.sandboxes if s.state is SandboxState.READY]
    if len(ready) > 1 or sandbox.state is not SandboxState.READY:
        return True, len(status.sandboxes), sandbox.id
    return False, len(status.sandboxes) - 1, sandbox.id


def compute_pod_actions(pod: Obj, status: RuntimePodStatus, health: ContainerHealth = NO_HEALTH_CHECKS) -> PodActions:
    """Upstream's computePodActions, for pods without sidecar init containers."""
    spec = pod.get("spec") or {}
    create, attempt, sandbox_id = sandbox_changed(status)
    actions = PodActions(kill_pod=create, create_sandbox=create, sandbox_id=sandbox_id, attempt=attempt)
    regular = containers_of(spec)
    inits = containers_of(spec, "initContainers")
    if create:
        if not _restarts_on_failure(pod) and attempt != 0 and status.containers:
            # Everything already ran under a policy that does not restart: no new sandbox, just clean up.
            actions.create_sandbox = False
            return actions
        to_start = [c for c in regular
                    if not (spec.get("restartPolicy") == "OnFailure" and _succeeded(c, status))]
        if not to_start and next_init_container(pod, status)[2]:
            actions.create_sandbox = False
            return actions
        if inits:
            actions.next_init = inits[0]
            return actions
        actions.start = to_start
        return actions

    failed, nxt, done = next_init_container(pod, status)
    if not done:
        if nxt is not None:
            if failed is not None and is_init_container_failed(failed) and not _restarts_on_failure(pod):
                actions.kill_pod = True
            else:
                if failed is not None and failed.state is ContainerState.UNKNOWN:
                    actions.kill.append(ContainerToKill(failed, nxt,
                                                        f'Init container is in "{failed.state.value}" state, try killing it before restart'))
                actions.next_init = nxt
        return actions

    keep = 0
    for container in regular:
        name = str(container.get("name"))
        found = status.find(name)
        if found is None or found.state is not ContainerState.RUNNING:
            if should_container_be_restarted(container, pod, status):
                actions.start.append(container)
                if found is not None and found.state is ContainerState.UNKNOWN:
                    actions.kill.append(ContainerToKill(found, container,
                                                        f'Container is in "{found.state.value}" state, try killing it before restart'))
            continue
        if found.annotations.get(CONTAINER_HASH_ANNOTATION, container_hash(container)) != container_hash(container):
            actions.kill.append(ContainerToKill(found, container, f"Container {name} definition changed, will be restarted"))
            actions.start.append(container)
            continue
        probe = health.failed_probe(found.id)
        if probe is None:
            keep += 1
            continue
        message = f"Container {name} failed {probe} probe"
        if _restarts_on_failure(pod):
            # The container runs again (the pod is not killed), and the Killing event says so.
            message += ", will be restarted"
            actions.start.append(container)
        actions.kill.append(ContainerToKill(found, container, message, reason=probe))
    if keep == 0 and not actions.start:
        actions.kill_pod = True
    return actions


# ----- doing ---------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    """SyncResult reports one SyncPod: containers that failed to start and when to look again."""

    failures: dict[str, StartFailure] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    """Containers started (or tried without failure): their old failure reasons are cleared."""
    error: str = ""
    """A pod-level failure (sandbox), empty if none."""
    backoff_remaining: float | None = None
    """Seconds until the soonest back-off of this pod runs out, if one holds a container back."""

    @property
    def failed(self) -> bool:
        return bool(self.error or self.failures)


@dataclass(frozen=True)
class NodeFacts:
    """NodeFacts are what container configs and env vars need to know about the node."""

    node_name: str
    host_ips: tuple[str, ...] = ()
    allocatable: Mapping[str, str] = field(default_factory=dict)
    memory_capacity: int = 0
    dns: DNSSettings = field(default_factory=DNSSettings)


def _pull_policy(container: Obj) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image", ""))
    tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
    return "IfNotPresent" if tagged and not image.endswith(":latest") else "Always"


class RuntimeManager:
    """RuntimeManager drives the runtime for pods: sync, kill, and the runtime's view of a pod."""

    def __init__(self, *, runtime: Runtime, runtime_name: str, images: ImageService, hooks: HookRunner,
                 recorder: EventSink, config_source: ConfigSource, clock: Clock, node: NodeFacts,
                 backoff_period: float = 10.0, max_backoff: float = 300.0,
                 health: ContainerHealth = NO_HEALTH_CHECKS) -> None:
        self.runtime = runtime
        self.runtime_name = runtime_name
        self.images = images
        self.hooks = hooks
        self.recorder = recorder
        self.config_source = config_source
        self.clock = clock
        self.node = node
        self.health = health
        self.crash_backoff = KeyedBackoff(clock, backoff_period, max_backoff)
        self.image_backoff = KeyedBackoff(clock, backoff_period, max_backoff)

    # -- the runtime's view ----------------------------------------------------------------------

    async def pod_status(self, uid: str) -> RuntimePodStatus:
        """What the runtime holds for pod `uid`: its sandboxes and their containers."""
        sandboxes = [s for s in await self.runtime.list_sandboxes() if s.uid == uid]
        containers: list[ContainerStatus] = []
        for sandbox in sandboxes:
            containers.extend(await self.runtime.list_containers(sandbox_id=sandbox.id))
        return RuntimePodStatus.of(uid, sandboxes, containers)

    def _event(self, pod: Obj, type_: str, reason: str, message: str, container: str = "") -> None:
        self.recorder.event(pod, type_, reason, message, host=self.node.node_name,
                            field_path=container_field_path(pod, container) if container else "")

    def _wall_to_monotonic(self, ns: int) -> float:
        """Map a runtime timestamp onto the clock's monotonic scale, for back-off arithmetic."""
        return self.clock.monotonic() - (self.clock.now().timestamp() - ns / 1e9)

    # -- SyncPod --------------------------------------------------------------------------------

    async def sync_pod(self, pod: Obj, status: RuntimePodStatus, pull_secrets: list[Obj]) -> SyncResult:
        """Make the runtime match the pod: one step of upstream's SyncPod."""
        result = SyncResult()
        actions = compute_pod_actions(pod, status, self.health)
        if actions.create_sandbox and actions.sandbox_id is not None:
            self._event(pod, ev.NORMAL, ev.SANDBOX_CHANGED, "Pod sandbox changed, it will be killed and re-created.")
        if actions.kill_pod:
            await self.kill_pod(pod, status, grace_override=None)
            if actions.create_sandbox:
                # A new sandbox starts the pod over: earlier init containers must run again.
                for container in containers_of(pod.get("spec") or {}, "initContainers"):
                    for old in status.all_named(str(container.get("name"))):
                        await self.runtime.remove_container(old.id)
        else:
            for victim in actions.kill:
                await self.kill_container(pod, victim.status, victim.container, message=victim.message,
                                          reason=victim.reason, grace_override=None,
                                          pod_ip=status.ips[0] if status.ips else "")
        if not actions.create_sandbox and actions.kill_pod:
            return result

        sandbox_id = actions.sandbox_id
        pod_ips = status.ips
        if actions.create_sandbox:
            try:
                sandbox_id = await self.runtime.run_pod_sandbox(sandbox_config(pod, self.node.dns))
                sandbox = await self.runtime.sandbox_status(sandbox_id)
                pod_ips = (sandbox.ip,) if sandbox.ip else ()
            except RuntimeFailure as err:
                message = f"Failed to create pod sandbox: {err}"
                self._event(pod, ev.WARNING, ev.FAILED_CREATE_POD_SANDBOX, message)
                result.error = message
                return result
            # Earlier runs still count: restart counts and back-offs carry over to the new sandbox.
            status = RuntimePodStatus(status.uid, (sandbox,) + status.sandboxes, status.containers)
        assert sandbox_id is not None

        if actions.next_init is not None:
            await self._start(pod, actions.next_init, sandbox_id, status, pod_ips, pull_secrets, result, init=True)
            return result
        for container in actions.start:
            await self._start(pod, container, sandbox_id, status, pod_ips, pull_secrets, result, init=False)
        return result

    async def _start(self, pod: Obj, container: Obj, sandbox_id: SandboxId, status: RuntimePodStatus,
                     pod_ips: tuple[str, ...], pull_secrets: list[Obj], result: SyncResult, *, init: bool) -> None:
        name = str(container.get("name"))
        # Upstream's doBackOff looks at the newest *exited* run, even when a newer one is running:
        # a container killed for failing its liveness probe again and again backs off too.
        latest = next((c for c in status.all_named(name) if c.state is ContainerState.EXITED), None)
        if latest is not None:
            key = self._backoff_key(pod, container)
            finished = self._wall_to_monotonic(latest.finished_at)
            if self.crash_backoff.in_backoff_since(key, finished):
                self._event(pod, ev.WARNING, ev.BACK_OFF_START_CONTAINER,
                            f"Back-off restarting failed container {name} in pod {format_pod(pod)}", name)
                message = (f"back-off {go_duration(self.crash_backoff.get(key))} restarting failed "
                           f"container={name} pod={format_pod(pod)}")
                result.failures[name] = StartFailure(CRASH_LOOP_BACK_OFF, message)
                self._note_backoff(result, self.crash_backoff.remaining(key, finished))
                return
            self.crash_backoff.next(key, finished)
        failure = await self.start_container(pod, container, sandbox_id, status, pod_ips, pull_secrets, init=init,
                                             result=result)
        if failure is None:
            result.started.add(name)
        else:
            result.failures[name] = failure

    @staticmethod
    def _note_backoff(result: SyncResult, remaining: float) -> None:
        if result.backoff_remaining is None or remaining < result.backoff_remaining:
            result.backoff_remaining = remaining

    @staticmethod
    def _backoff_key(pod: Obj, container: Obj) -> str:
        meta = pod.get("metadata") or {}
        return f"{meta.get('uid', '')}_{container.get('name')}_{container_hash(container)}"

    async def ensure_image(self, pod: Obj, container: Obj, pull_secrets: list[Obj],
                           result: SyncResult) -> ImageInfo | StartFailure:
        """Upstream's EnsureImageExists: honour imagePullPolicy and the pull back-off, with events."""
        name = str(container.get("name"))
        image = str(container.get("image", ""))
        try:
            self.images.normalize(image)
            present = await self.images.inspect(image)
        except InvalidImageName as err:
            message = f'Failed to apply default image tag "{image}": {err}'
            self._event(pod, ev.WARNING, ev.FAILED_TO_INSPECT_IMAGE, message, name)
            return StartFailure(INVALID_IMAGE_NAME, message)
        policy = _pull_policy(container)
        if policy == "Never" or (policy == "IfNotPresent" and present is not None):
            if present is not None:
                self._event(pod, ev.NORMAL, ev.PULLED_IMAGE, f'Container image "{image}" already present on machine', name)
                return present
            message = f'Container image "{image}" is not present with pull policy of Never'
            self._event(pod, ev.WARNING, ev.ERR_IMAGE_NEVER_PULL_POLICY, message, name)
            return StartFailure(ERR_IMAGE_NEVER_PULL, message)
        key = f"{(pod.get('metadata') or {}).get('uid', '')}_{image}"
        if self.image_backoff.in_backoff_since_update(key):
            message = f'Back-off pulling image "{image}"'
            self._event(pod, ev.NORMAL, ev.BACK_OFF_PULL_IMAGE, message, name)
            self._note_backoff(result, self.image_backoff.remaining_since_update(key))
            return StartFailure(IMAGE_PULL_BACK_OFF, message)
        self._event(pod, ev.NORMAL, ev.PULLING_IMAGE, f'Pulling image "{image}"', name)
        started = time.monotonic()
        try:
            info = await self.images.pull(image, dockerconfigjsons=pull_secrets)
        except ImagePullError as err:
            self._event(pod, ev.WARNING, ev.FAILED_TO_PULL_IMAGE, f'Failed to pull image "{image}": {err}', name)
            self.image_backoff.next(key, self.clock.monotonic())
            return StartFailure(ERR_IMAGE_PULL, str(err))
        took = go_duration(round(time.monotonic() - started, 9))
        self._event(pod, ev.NORMAL, ev.PULLED_IMAGE,
                    f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                    f"Image size: {info.size} bytes.", name)
        return info

    async def start_container(self, pod: Obj, container: Obj, sandbox_id: SandboxId, status: RuntimePodStatus,
                              pod_ips: tuple[str, ...], pull_secrets: list[Obj], *, init: bool,
                              result: SyncResult) -> StartFailure | None:
        """Upstream's startContainer: pull, create, start, postStart; None on success."""
        name = str(container.get("name"))
        image = await self.ensure_image(pod, container, pull_secrets, result)
        if isinstance(image, StartFailure):
            self._event(pod, ev.WARNING, ev.FAILED_TO_CREATE_CONTAINER, f"Error: {image.reason}", name)
            return image
        latest = status.find(name)
        attempt = latest.attempt + 1 if latest is not None else 0
        try:
            env = await container_env(pod, container, source=self.config_source, pod_ips=pod_ips,
                                      host_ips=self.node.host_ips, allocatable=self.node.allocatable)
        except EnvError as err:
            self._event(pod, ev.WARNING, ev.FAILED_TO_CREATE_CONTAINER, f"Error: {err}", name)
            return StartFailure(CREATE_CONTAINER_CONFIG_ERROR, str(err))
        config = container_config(pod, container, image=image, env=env, attempt=attempt,
                                  memory_capacity=self.node.memory_capacity, init=init)
        # Keep the newest exited run of this container (its lastState); older ones only cost space.
        for old in status.all_named(name)[1:]:
            if old.state is ContainerState.EXITED:
                await self.runtime.remove_container(old.id)
        try:
            container_id = await self.runtime.create_container(sandbox_id, config)
        except RuntimeFailure as err:
            self._event(pod, ev.WARNING, ev.FAILED_TO_CREATE_CONTAINER, f"Error: {err}", name)
            return StartFailure(CREATE_CONTAINER_ERROR, str(err))
        self._event(pod, ev.NORMAL, ev.CREATED_CONTAINER, f"Created container: {name}", name)
        try:
            await self.runtime.start_container(container_id)
        except RuntimeFailure as err:
            self._event(pod, ev.WARNING, ev.FAILED_TO_START_CONTAINER, f"Error: {err}", name)
            return StartFailure(RUN_CONTAINER_ERROR, str(err))
        self._event(pod, ev.NORMAL, ev.STARTED_CONTAINER, f"Started container {name}", name)
        post_start = ((container.get("lifecycle") or {}).get("postStart"))
        if post_start:
            message = await self.hooks.run(pod, container, container_id, post_start, pod_ip=pod_ips[0] if pod_ips else "")
            if message is not None:
                log.info("postStart hook of %s failed: %s", format_pod(pod), message)
                # Upstream keeps the hook's output out of the event (it may hold secrets); the
                # container's waiting state carries it instead.
                self._event(pod, ev.WARNING, ev.FAILED_POST_START_HOOK, "PostStartHook failed", name)
                started = await self.runtime.container_status(container_id)
                await self.kill_container(pod, started, container, message="FailedPostStartHook",
                                          grace_override=None, pod_ip=pod_ips[0] if pod_ips else "")
                return StartFailure(POST_START_HOOK_ERROR, message)
        return None

    # -- KillPod --------------------------------------------------------------------------------

    def grace_period(self, pod: Obj, container: Obj | None = None, reason: str = "") -> float:
        """Upstream's setTerminationGracePeriod: the deletion's, else a failed probe's own, else the pod's."""
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if meta.get("deletionGracePeriodSeconds") is not None:
            return float(meta["deletionGracePeriodSeconds"])
        if reason in ("liveness", "startup"):
            probe = (container or {}).get(f"{reason}Probe") or {}
            if isinstance(probe, dict) and probe.get("terminationGracePeriodSeconds") is not None:
                return float(probe["terminationGracePeriodSeconds"])
        if spec.get("terminationGracePeriodSeconds") is not None:
            return float(spec["terminationGracePeriodSeconds"])
        return DEFAULT_GRACE_PERIOD

    async def kill_container(self, pod: Obj, status: ContainerStatus, container: Obj | None, *, message: str = "",
                             reason: str = "", grace_override: float | None, pod_ip: str) -> None:
        """Upstream's killContainer: Killing event, preStop within the grace period, then stop."""
        name = status.name
        grace = self.grace_period(pod, container, reason)
        self._event(pod, ev.NORMAL, ev.KILLING_CONTAINER, message or f"Stopping container {name}", name)
        pre_stop = ((container or {}).get("lifecycle") or {}).get("preStop")
        if pre_stop and grace > 0 and status.state is ContainerState.RUNNING:
            started = self.clock.monotonic()
            try:
                async with asyncio.timeout(grace):
                    failed = await self.hooks.run(pod, container or {}, status.id, pre_stop, pod_ip=pod_ip)
                if failed is not None:
                    log.info("preStop hook of %s failed: %s", format_pod(pod), failed)
                    # As upstream: the hook's output stays out of the event, it may hold secrets.
                    self._event(pod, ev.WARNING, ev.FAILED_PRE_STOP_HOOK, "PreStopHook failed", name)
            except TimeoutError:
                # Upstream only logs this: the grace period is spent, the container is stopped now.
                log.info("preStop hook of container %s in %s did not finish within %s", name, format_pod(pod),
                         go_duration(grace))
            grace -= self.clock.monotonic() - started
        grace = max(grace, MINIMUM_GRACE_PERIOD)
        if grace_override is not None:
            grace = grace_override
        try:
            await self.runtime.stop_container(status.id, timeout=grace)
        except RuntimeFailure as err:
            log.warning("stopping container %s of %s failed: %s", name, format_pod(pod), err)
            raise

    async def kill_pod(self, pod: Obj, status: RuntimePodStatus, *, grace_override: float | None) -> None:
        """Stop every running container at once, then the sandboxes (upstream's killPodWithSyncResult)."""
        spec = pod.get("spec") or {}
        by_name = {str(c.get("name")): c for c in containers_of(spec) + containers_of(spec, "initContainers")}
        pod_ip = status.ips[0] if status.ips else ""
        running = [c for c in status.containers if c.state in (ContainerState.RUNNING, ContainerState.UNKNOWN)]
        if running:
            async with asyncio.TaskGroup() as group:
                for container in running:
                    group.create_task(self.kill_container(pod, container, by_name.get(container.name),
                                                          grace_override=grace_override, pod_ip=pod_ip))
        for sandbox in status.sandboxes:
            if sandbox.state is SandboxState.READY:
                await self.runtime.stop_pod_sandbox(sandbox.id)

    async def remove_pod(self, uid: str) -> None:
        """Remove what the runtime holds for a pod that is gone, and forget its back-offs."""
        for sandbox in (await self.pod_status(uid)).sandboxes:
            await self.runtime.remove_pod_sandbox(sandbox.id)
        self.crash_backoff.forget_prefix(f"{uid}_")
        self.image_backoff.forget_prefix(f"{uid}_")


def requeue_delay(result: SyncResult, backoff_period: float) -> float | None:
    """When to sync a pod again after a failed start: upstream's error requeue, cut short by a back-off's end."""
    if not result.failed:
        return None
    delay = backoff_period * (1 + 0.5 * random.random())
    if result.backoff_remaining is not None:
        delay = min(delay, result.backoff_remaining + 0.01)
    return delay

