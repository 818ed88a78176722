"""Builders shared by the agent's tests: pods, runtime records, and a recorder that keeps events in memory."""

from __future__ import annotations

import itertools
from typing import Any

from kybernetes.agent.podstate import IMAGE_REF_ANNOTATION, RuntimePodStatus
from kybernetes.agent.runtime.types import (
    ContainerId,
    ContainerState,
    ContainerStatus,
    SandboxId,
    SandboxState,
    SandboxStatus,
)

Obj = dict[str, Any]
NS = 1_000_000_000
T0 = 1_700_000_000 * NS
_ids = itertools.count(1)


def pod(*containers: str, inits: tuple[str, ...] = (), restart: str = "Always", uid: str = "uid-1",
        annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": uid, "annotations": annotations or {}},
        "spec": {
            "nodeName": "n1", "restartPolicy": restart,
            "containers": [{"name": c, "image": "busybox", "imagePullPolicy": "IfNotPresent"} for c in containers or ("app",)],
            **({"initContainers": [{"name": c, "image": "busybox", "imagePullPolicy": "IfNotPresent"} for c in inits]} if inits else {}),
            **spec,
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }


def sandbox(uid: str = "uid-1", *, ready: bool = True, ip: str = "10.42.0.5", created: int = T0) -> SandboxStatus:
    return SandboxStatus(id=SandboxId(f"sb{next(_ids)}"), uid=uid, name="p", namespace="ns",
                         state=SandboxState.READY if ready else SandboxState.NOT_READY, created_at=created,
                         ip=ip if ready else "")


def running(name: str, sb: SandboxStatus, *, attempt: int = 0, started: int = T0 + NS) -> ContainerStatus:
    return ContainerStatus(id=ContainerId(f"c{next(_ids)}"), sandbox_id=sb.id, name=name, state=ContainerState.RUNNING,
                           attempt=attempt, image="docker.io/library/busybox:latest", created_at=started - 1,
                           started_at=started, annotations={IMAGE_REF_ANNOTATION: "docker.io/library/busybox@sha256:ab"})


def exited(name: str, sb: SandboxStatus, code: int, *, attempt: int = 0, started: int = T0 + NS,
           finished: int = T0 + 2 * NS, reason: str = "") -> ContainerStatus:
    return ContainerStatus(id=ContainerId(f"c{next(_ids)}"), sandbox_id=sb.id, name=name, state=ContainerState.EXITED,
                           attempt=attempt, image="docker.io/library/busybox:latest", created_at=started - 1,
                           started_at=started, finished_at=finished, exit_code=code,
                           reason=reason or ("Completed" if code == 0 else "Error"),
                           annotations={IMAGE_REF_ANNOTATION: "docker.io/library/busybox@sha256:ab"})


def runtime(*items: SandboxStatus | ContainerStatus, uid: str = "uid-1") -> RuntimePodStatus:
    sandboxes = [i for i in items if isinstance(i, SandboxStatus)]
    containers = [i for i in items if isinstance(i, ContainerStatus)]
    return RuntimePodStatus.of(uid, sandboxes, containers)


class MemoryRecorder:
    """MemoryRecorder stands in for the EventRecorder: it keeps (type, reason, message, fieldPath)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "", host: str = "") -> None:
        self.events.append((type_, reason, message, field_path))

    def record(self, ref: Obj, type_: str, reason: str, message: str, *, host: str = "") -> None:
        self.events.append((type_, reason, message, ref.get("fieldPath", "")))

    def reasons(self) -> list[str]:
        return [e[1] for e in self.events]
