"""podstate: the runtime's view of one pod (its sandboxes and containers) and the questions asked of it.

This is upstream's `kubecontainer.PodStatus` with its helpers (`FindContainerStatusByName`,
`ShouldContainerBeRestarted`, `findNextInitContainerToRun`); it knows API objects only as the
read-only spec it is asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.agent.runtime.types import ContainerState, ContainerStatus, SandboxState, SandboxStatus

Obj = dict[str, Any]

# Labels and annotations the agent puts on runtime objects, upstream's names where upstream has one.
POD_UID_LABEL = "io.kubernetes.pod.uid"
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
CONTAINER_TYPE_LABEL = "kybernetes.io/container-type"
"""`init` on init containers (the simulated runtime lets them finish), `regular` otherwise."""
CONTAINER_HASH_ANNOTATION = "io.kubernetes.container.hash"
IMAGE_REF_ANNOTATION = "kybernetes.io/image-ref"
"""The image's digest reference (a container status's imageID); CRI runtimes report it themselves."""


@dataclass(frozen=True, slots=True)
class RuntimePodStatus:
    """RuntimePodStatus is everything the runtime knows of one pod; sandboxes and containers newest first."""

    uid: str
    sandboxes: tuple[SandboxStatus, ...] = ()
    containers: tuple[ContainerStatus, ...] = ()

    @classmethod
    def of(cls, uid: str, sandboxes: list[SandboxStatus], containers: list[ContainerStatus]) -> RuntimePodStatus:
        """Build the status of pod `uid` from listings of any scope, keeping only what belongs to it."""
        mine = sorted((s for s in sandboxes if s.uid == uid), key=lambda s: s.created_at, reverse=True)
        ids = {s.id for s in mine}
        ctrs = sorted((c for c in containers if c.sandbox_id in ids), key=lambda c: (c.created_at, c.attempt), reverse=True)
        return cls(uid, tuple(mine), tuple(ctrs))

    @property
    def sandbox(self) -> SandboxStatus | None:
        """The newest sandbox, if any."""
        return self.sandboxes[0] if self.sandboxes else None

    @property
    def ips(self) -> tuple[str, ...]:
        """The pod's IPs: those of the newest sandbox, while it is ready (upstream's rule)."""
        sandbox = self.sandbox
        if sandbox is None or sandbox.state is not SandboxState.READY or not sandbox.ip:
            return ()
        return (sandbox.ip,)

    def find(self, name: str) -> ContainerStatus | None:
        """The newest container of that name."""
        for container in self.containers:
            if container.name == name:
                return container
        return None

    def all_named(self, name: str) -> list[ContainerStatus]:
        """Every container of that name, newest first."""
        return [c for c in self.containers if c.name == name]

    def running(self) -> list[ContainerStatus]:
        return [c for c in self.containers if c.state is ContainerState.RUNNING]


def containers_of(spec: Obj, key: str = "containers") -> list[Obj]:
    value = spec.get(key)
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def should_container_be_restarted(container: Obj, pod: Obj, status: RuntimePodStatus) -> bool:
    """Upstream's ShouldContainerBeRestarted: start a container never run, or one whose policy wants it back."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    latest = status.find(str(container.get("name")))
    if latest is None:
        return True
    if latest.state is ContainerState.RUNNING:
        return False
    if latest.state in (ContainerState.UNKNOWN, ContainerState.CREATED):
        return True
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if policy == "Never":
        return False
    if policy == "OnFailure" and latest.exit_code == 0:
        return False
    return True


def is_init_container_failed(status: ContainerStatus) -> bool:
    """An init container failed if it was OOM-killed, exited non-zero or is in an unknown state."""
    if status.reason == "OOMKilled":
        return True
    if status.state is ContainerState.EXITED and status.exit_code not in (0, None):
        return True
    return status.state is ContainerState.UNKNOWN


def next_init_container(pod: Obj, status: RuntimePodStatus) -> tuple[ContainerStatus | None, Obj | None, bool]:
    """Upstream's findNextInitContainerToRun: (status of a failed one, the one to run next, all done)."""
    spec = pod.get("spec") or {}
    inits = containers_of(spec, "initContainers")
    if not inits:
        return None, None, True
    # A running regular container means initialization finished once, even if its records are gone.
    for container in containers_of(spec):
        found = status.find(str(container.get("name")))
        if found is not None and found.state is ContainerState.RUNNING:
            return None, None, True
    for container in reversed(inits):
        found = status.find(str(container.get("name")))
        if found is not None and is_init_container_failed(found):
            return found, container, False
    for i in range(len(inits) - 1, -1, -1):
        found = status.find(str(inits[i].get("name")))
        if found is None:
            continue
        if found.state is ContainerState.RUNNING:
            return None, None, False
        if found.state is ContainerState.EXITED:
            if i == len(inits) - 1:
                return None, None, True
            return None, inits[i + 1], False
    return None, inits[0], False


def has_any_regular_container_created(pod: Obj, status: RuntimePodStatus) -> bool:
    """True once any regular container of the pod has a runtime record in a state past created."""
    for container in containers_of(pod.get("spec") or {}):
        found = status.find(str(container.get("name")))
        if found is not None and found.state is not ContainerState.CREATED:
            return True
    return False
