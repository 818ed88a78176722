"""Resources: a pod's requests as upstream's scheduler computes them, and a node's allocatable, as integers.

CPU is counted in millicores and everything else in whole units, each rounded up as
Quantity.MilliValue()/Value() do. A pod's request is the sum over its containers, raised to the
largest init container (sidecars, `restartPolicy: Always`, add up instead), plus its overhead
(component-helpers' resource.PodRequests).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from kybernetes.api.quantity import QuantityError, parse_quantity

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

DEFAULT_MILLI_CPU_REQUEST = 100
"""CPU assumed for a container without a CPU request when scoring (0.1 core)."""
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""Memory assumed for a container without a memory request when scoring (200 MiB)."""


def is_scalar(name: str) -> bool:
    """Tell whether `name` is counted as a scalar resource: extended (`example.com/gpu`), hugepages or prefixed native."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith("requests.")


@functools.lru_cache(maxsize=4096)
def amount(name: str, text: str) -> int:
    """Return a quantity in the scheduler's integer unit for `name` (millicores for cpu), rounded up."""
    try:
        value = parse_quantity(text)
    except (QuantityError, ValueError):
        return 0
    if name == CPU:
        value *= 1000
    return int(math.ceil(value))


@dataclass(slots=True)
class Resource:
    """Resource is an amount of every resource the scheduler counts."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalars: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Mapping[str, Any]) -> Resource:
        return cls.from_amounts({name: amount(name, str(value)) for name, value in resources.items()})

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, int]) -> Resource:
        result = cls()
        for name, value in amounts.items():
            if name == CPU:
                result.milli_cpu = value
            elif name == MEMORY:
                result.memory = value
            elif name == EPHEMERAL_STORAGE:
                result.ephemeral_storage = value
            elif name == PODS:
                result.allowed_pods = value
            elif is_scalar(name):
                result.scalars[name] = value
        return result

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        for name, value in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + value

    def sub(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        for name, value in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) - value

    @property
    def empty(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalars)


def _requests(container: Any, defaults: Mapping[str, int]) -> dict[str, int]:
    requests = (((container or {}).get("resources") or {}).get("requests")) or {}
    result = {name: amount(name, str(value)) for name, value in requests.items()}
    for name, value in defaults.items():
        # Only a missing request takes the default; an explicit zero stays zero.
        result.setdefault(name, value)
    return result


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _max(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = max(into.get(name, 0), value)


def request_amounts(spec: Mapping[str, Any], defaults: Mapping[str, int] = {}) -> dict[str, int]:
    """Return the pod's effective requests by resource name (upstream's resource.PodRequests)."""
    total: dict[str, int] = {}
    for container in spec.get("containers") or []:
        _add(total, _requests(container, defaults))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in spec.get("initContainers") or []:
        wanted = _requests(container, defaults)
        if (container or {}).get("restartPolicy") == "Always":
            # A sidecar keeps running next to the app containers and the later init containers.
            _add(total, wanted)
            _add(sidecars, wanted)
            wanted = dict(sidecars)
        else:
            wanted = dict(wanted)
            _add(wanted, sidecars)
        _max(init_peak, wanted)
    _max(total, init_peak)
    overhead = spec.get("overhead") or {}
    _add(total, {name: amount(name, str(value)) for name, value in overhead.items()})
    return total


def pod_requests(spec: Mapping[str, Any]) -> Resource:
    """Return what the pod asks its node for, used by the fit check."""
    return Resource.from_amounts(request_amounts(spec))


_NON_ZERO_DEFAULTS = {CPU: DEFAULT_MILLI_CPU_REQUEST, MEMORY: DEFAULT_MEMORY_REQUEST}


def pod_non_zero_requests(spec: Mapping[str, Any]) -> Resource:
    """Return the requests used for scoring: a missing cpu/memory request counts as 100m/200Mi."""
    amounts = request_amounts(spec, _NON_ZERO_DEFAULTS)
    return Resource(milli_cpu=amounts.get(CPU, 0), memory=amounts.get(MEMORY, 0))
